"""Demo catalogue for `manage.py seed_demo`: a two-level bilingual category tree
and a few hundred realistic events across cities, all deterministic."""

import random
from datetime import datetime, time, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from events.models import Category, Event, EventStatus, EventTransition, SearchAlias, Tag
from events.posters import poster_jpeg
from events.search import reindex_events

CATEGORIES = [
    ("show", "演出", "Shows", [
        ("concert", "演唱会", "Concerts"), ("drama", "话剧", "Drama"), ("musical", "音乐剧", "Musicals"),
        ("classical", "音乐会", "Classical"), ("comedy", "脱口秀", "Stand-up comedy"), ("dance", "舞蹈", "Dance"),
        ("livehouse", "Livehouse", "Livehouse"),
    ]),
    ("sport", "体育", "Sports", [
        ("football", "足球", "Football"), ("basketball", "篮球", "Basketball"), ("tennis", "网球", "Tennis"),
        ("esports", "电竞", "Esports"), ("marathon", "马拉松", "Marathons"),
    ]),
    ("exhibition", "展览", "Exhibitions", [
        ("art", "艺术展", "Art"), ("tech-expo", "科技展", "Technology expos"), ("anime", "动漫展", "Anime & comics"),
    ]),
    ("conference", "会议", "Conferences", [
        ("tech-summit", "科技峰会", "Tech summits"), ("forum", "行业论坛", "Industry forums"), ("talk", "讲座", "Talks"),
    ]),
    ("family", "亲子", "Family", [("kids-theatre", "儿童剧", "Children's theatre"), ("family-fun", "亲子活动", "Family fun")]),
]

CITIES = {
    "北京": ["国家体育场（鸟巢）", "五棵松体育馆", "国家大剧院", "北京展览馆", "Blue Note Beijing"],
    "上海": ["梅赛德斯奔驰文化中心", "上海大剧院", "上海体育场", "上海新国际博览中心", "Blue Note Shanghai"],
    "广州": ["广州体育馆", "广州大剧院", "广交会展馆", "天河体育中心"],
    "深圳": ["深圳湾体育中心", "深圳音乐厅", "深圳会展中心"],
    "杭州": ["杭州奥体中心", "杭州大剧院", "国际博览中心"],
    "成都": ["凤凰山体育公园", "四川大剧院", "成都世纪城新国际会展中心"],
    "南京": ["南京奥体中心", "江苏大剧院"],
    "武汉": ["武汉体育中心", "琴台大剧院"],
    "西安": ["西安奥体中心", "陕西大剧院"],
    "重庆": ["重庆国际博览中心", "重庆大剧院"],
}

ARTISTS = ["周杰伦", "陈奕迅", "五月天", "林俊杰", "邓紫棋", "张学友", "王菲", "李荣浩", "薛之谦", "Taylor Swift",
           "Coldplay", "Norah Jones", "Ed Sheeran", "久石让", "郎朗"]
TITLES = {
    "concert": ["{artist} {year} 世界巡回演唱会 {city}站", "{artist} 「{word}」巡回演唱会 {city}", "{artist} Live in {city_en}"],
    "drama": ["话剧《{word}》{city}站", "经典话剧《茶馆》", "孟京辉戏剧《恋爱的犀牛》"],
    "musical": ["音乐剧《猫》中文版 {city}", "法语音乐剧《巴黎圣母院》", "Musical: Les Misérables {city_en}"],
    "classical": ["{artist} 钢琴独奏音乐会", "新年音乐会 {year}", "Vienna Philharmonic in {city_en}"],
    "comedy": ["笑果脱口秀 {city}专场", "Stand-up Comedy Night {city_en}", "开放麦之夜"],
    "dance": ["杨丽萍《云南映象》", "芭蕾舞剧《天鹅湖》", "Contemporary Dance Festival {city_en}"],
    "livehouse": ["新裤子乐队 Livehouse 巡演", "Jazz Night at {venue}", "独立音乐现场 {city}"],
    "football": ["中超联赛 {city}队 主场", "{year} 足协杯 半决赛", "Friendly match in {city_en}"],
    "basketball": ["CBA 常规赛 {city}主场", "{year} 全明星周末", "NBA China Games {city_en}"],
    "tennis": ["{year} 中国网球公开赛", "ATP Challenger {city_en}"],
    "esports": ["英雄联盟 LPL 春季赛 {city}", "王者荣耀 KPL 总决赛", "Esports Championship {city_en}"],
    "marathon": ["{year} {city}马拉松", "{city_en} Half Marathon"],
    "art": ["莫奈与印象派 特展", "敦煌艺术大展 {city}", "Contemporary Art Fair {city_en}"],
    "tech-expo": ["{year} 人工智能大会 博览会", "消费电子展 {city}", "Robotics Expo {city_en}"],
    "anime": ["{city} 动漫游戏展 {year}", "Comic Con {city_en}"],
    "tech-summit": ["{year} 开发者大会 {city}", "云计算峰会 {city}", "Python China {year}"],
    "forum": ["{year} 新消费品牌论坛", "文旅产业发展论坛 {city}"],
    "talk": ["科学讲座：宇宙的起源", "Talk: Design for Everyone", "城市读书会 {city}"],
    "kids-theatre": ["儿童剧《小王子》", "亲子音乐剧《冰雪奇缘》", "Kids Theatre: The Little Prince"],
    "family-fun": ["{city} 亲子嘉年华", "恐龙科普展 亲子专场"],
}
# Local start times and lengths by category: evening shows end by 22:30, day events run 09:00-17:30.
# Theatre sometimes plays twice a day (a 14:30 matinee and a 19:30 evening show), expos all day.
DAY = [(time(9), 510)]
SCHEDULES = {
    "concert": [(time(19, 30), 150), (time(19), 180)], "drama": [(time(19, 30), 150), (time(14, 30), 450)],
    "musical": [(time(19, 30), 150), (time(14, 30), 450)], "classical": [(time(19, 30), 120)],
    "comedy": [(time(20), 90)], "dance": [(time(19, 30), 120), (time(14, 30), 450)],
    "livehouse": [(time(20), 150)], "football": [(time(19, 35), 115)], "basketball": [(time(19, 30), 150)],
    "tennis": [(time(13), 300)], "esports": [(time(18), 240)], "marathon": [(time(7, 30), 300)],
    "art": DAY, "tech-expo": DAY, "anime": DAY, "tech-summit": DAY, "forum": DAY,
    "talk": [(time(19), 120), (time(14), 120)], "kids-theatre": [(time(10, 30), 90), (time(14, 30), 90)],
    "family-fun": [(time(9, 30), 450)],
}
WORDS = ["嘉年华", "摩天轮", "地表最强", "时光", "最好的我们", "夜空中最亮的星", "Jazz", "Spring"]
# What buyers also call the demo's artists (search aliases: each name finds the others' events).
ARTIST_ALIASES = [
    ["周杰伦", "Jay Chou", "周董"], ["陈奕迅", "Eason Chan"], ["五月天", "Mayday"], ["林俊杰", "JJ Lin"],
    ["邓紫棋", "G.E.M.", "GEM"], ["张学友", "Jacky Cheung"], ["王菲", "Faye Wong"], ["薛之谦", "Joker Xue"],
    ["Taylor Swift", "泰勒·斯威夫特", "霉霉"], ["Coldplay", "酷玩乐队"], ["Ed Sheeran", "黄老板"],
    ["久石让", "Joe Hisaishi"], ["郎朗", "Lang Lang"],
]
CITY_EN = {"北京": "Beijing", "上海": "Shanghai", "广州": "Guangzhou", "深圳": "Shenzhen", "杭州": "Hangzhou",
           "成都": "Chengdu", "南京": "Nanjing", "武汉": "Wuhan", "西安": "Xi'an", "重庆": "Chongqing"}
TAGS = {"concert": ["流行", "pop"], "classical": ["古典", "classical"], "livehouse": ["摇滚", "jazz"],
        "comedy": ["喜剧"], "esports": ["游戏", "esports"], "kids-theatre": ["亲子"], "family-fun": ["亲子"],
        "tech-summit": ["科技", "AI"], "art": ["艺术"]}


# Refund rules (events.refunds) by category: free until 7 days before, 20 % until 24 h, then none for concerts;
# 10 % until the start for football; no refunds for e-sports; free refunds until the start elsewhere.
REFUND_POLICIES = {
    "concert": {"refund_policy": "tiered", "refund_tiers": [[168, 0], [24, 20]]},
    "football": {"refund_policy": "tiered", "refund_tiers": [[0, 10]]},
    "esports": {"refund_policy": "none"},
}


def seed_categories() -> dict[str, Category]:
    """The category tree; existing nodes (by slug) are kept as they are."""
    by_slug = {c.slug: c for c in Category.objects.all()}
    for slug, zh, en, children in CATEGORIES:
        root = by_slug.get(slug) or Category.objects.add_root({"slug": slug, "name_zh": zh, "name_en": en})
        by_slug[slug] = root
        for child_slug, child_zh, child_en in children:
            if child_slug not in by_slug:
                root.refresh_from_db()
                by_slug[child_slug] = Category.objects.add_child(root, {"slug": child_slug, "name_zh": child_zh, "name_en": child_en})
    return by_slug


@transaction.atomic
def seed_events(*, publishers, admin, count: int = 300) -> int:
    """`count` events spread over the next six months (a few already past);
    most approved, some pending/draft/rejected for the demo publisher. Runs
    once: does nothing when events exist."""
    if Event.objects.exists():
        return 0
    rng = random.Random(20261123)
    categories = seed_categories()
    leaves = [c for c in categories.values() if c.slug in TITLES]
    tags = {}
    zone = timezone.get_default_timezone()  # the product's zone: events keep no zone of their own
    now = timezone.localtime(timezone.now(), zone).replace(minute=0, second=0, microsecond=0)
    events, statuses = [], []
    for i in range(count):
        category = rng.choice(leaves)
        city = rng.choice(list(CITIES))
        venue = rng.choice(CITIES[city])
        day = now.date() + timedelta(days=rng.randint(-10, 180))
        starts_at, minutes = rng.choice(SCHEDULES[category.slug])
        start = timezone.make_aware(datetime.combine(day, starts_at), zone)
        title = rng.choice(TITLES[category.slug]).format(
            artist=rng.choice(ARTISTS), year=start.year, city=city, city_en=CITY_EN[city], venue=venue,
            word=rng.choice(WORDS))
        price = rng.choice([80, 120, 180, 280, 380, 480, 680, 880, 1280])
        status = EventStatus.APPROVED if i >= 12 else rng.choice(
            [EventStatus.PENDING, EventStatus.DRAFT, EventStatus.REJECTED])
        events.append(Event(
            title=title, city=city, venue=venue, address=f"{city}市 {venue}", category=category,
            description=f"<p>{title}。{venue}，{city}。</p><p>Doors open 1 hour before the show. 请提前一小时入场。</p>",
            start_time=start, end_time=start + timedelta(minutes=minutes),
            publisher=publishers[0] if i < 40 else rng.choice(publishers), status=status,
            review_reason="请补充演出曲目单" if status == EventStatus.REJECTED else "",
            real_name_required=rng.random() < 0.2,
            # 大麦-style rules for the big shows, free refunds elsewhere (by category: the rng's draws stay as they were).
            **REFUND_POLICIES.get(category.slug, {}),
            price_min=price, price_max=price * rng.choice([1, 2, 3]), tickets_left=rng.random() < 0.85,
            submitted_at=None if status == EventStatus.DRAFT else now, reviewed_at=now if status in (
                EventStatus.APPROVED, EventStatus.REJECTED) else None,
        ))
        statuses.append(status)
    Event.objects.bulk_create(events, batch_size=200)
    events = list(Event.objects.order_by("pk"))
    links, transitions = [], []
    for event in events:
        for name in TAGS.get(event.category.slug, []):
            tag = tags.get(name) or Tag.objects.get_or_create(name=name)[0]
            tags[name] = tag
            links.append(Event.tags.through(event_id=event.pk, tag_id=tag.pk))
        transitions.append(EventTransition(event=event, from_status="", to_status=EventStatus.DRAFT,
                                           actor=event.publisher, note="created"))
        if event.status != EventStatus.DRAFT:
            transitions.append(EventTransition(event=event, from_status=EventStatus.DRAFT, to_status=EventStatus.PENDING,
                                               actor=event.publisher))
        if event.status in (EventStatus.APPROVED, EventStatus.REJECTED):
            transitions.append(EventTransition(event=event, from_status=EventStatus.PENDING, to_status=event.status,
                                               actor=admin, reason=event.review_reason))
    Event.tags.through.objects.bulk_create(links, batch_size=500)
    EventTransition.objects.bulk_create(transitions, batch_size=500)
    SearchAlias.objects.bulk_create([SearchAlias(names="\n".join(names), note="demo artist") for names in ARTIST_ALIASES])
    reindex_events(Event.objects.all())
    return len(events)


def seed_posters(events) -> int:
    """A poster of its own as the cover of each of `events` that has none, so a demo database
    seeded before posters gets them on the next run and a second run adds nothing. Returns how many."""
    count = 0
    for event in events.filter(cover="").select_related("category").order_by("pk").iterator(chunk_size=100):
        category = event.category
        jpeg = poster_jpeg(title=event.title, category_slug=category.slug, category_name=category.name_zh,
                           category_name_en=category.name_en, start_time=event.start_time, venue=event.venue,
                           city=event.city, seed=event.pk)
        event.cover.save(f"poster-{event.pk}.jpg", ContentFile(jpeg), save=False)
        event.save(update_fields=["cover"])
        count += 1
    return count
