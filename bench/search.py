#!/usr/bin/env python
"""Event search latency on 100,000 bilingual events (prints figures, asserts nothing).

    .venv/bin/python bench/search.py            # fill once, then measure
    .venv/bin/python bench/search.py --refill   # drop the bench database and fill again
    .venv/bin/python bench/search.py --explain  # also print each query's plan

DATABASE_URL (default mysql://root@127.0.0.1:3306/ticketing_bench) names a
database of its own: it is created (utf8mb4) and migrated if missing. A sqlite:///
URL works too. Each search is timed as the list page does it: the first page
(`list(event_search(...)[:20])`, tags prefetched) plus the total `count()`.
Target: p95 under 100 ms for each kind: the text classes and the browse
combinations (every sort with every filter). Hits per query are printed too: 0
for a class means it finds nothing (recall 0).
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "mysql://root@127.0.0.1:3306/ticketing_bench"
EVENTS = 100_000
BATCH = 2_000
PUBLISHER = "bench-publisher"

# --- the synthetic catalogue -----------------------------------------------------
CATEGORIES = {  # (slug, zh, en): children
    ("shows", "演出", "Shows"): [
        ("concerts", "演唱会", "Concerts"), ("classical", "音乐会", "Classical music"), ("drama", "话剧", "Drama"),
        ("musicals", "音乐剧", "Musicals"), ("dance", "舞蹈", "Dance"), ("opera", "戏曲", "Chinese opera"),
        ("comedy", "脱口秀", "Stand-up comedy"), ("festivals", "音乐节", "Music festivals"),
    ],
    ("sports", "体育", "Sports"): [
        ("football", "足球", "Football"), ("basketball", "篮球", "Basketball"), ("tennis", "网球", "Tennis"),
        ("esports", "电竞", "Esports"),
    ],
    ("exhibitions", "展览", "Exhibitions"): [("art", "艺术展", "Art"), ("science", "科技展", "Science and tech")],
    ("family", "亲子", "Family"): [("kids-theatre", "儿童剧", "Children's theatre"), ("magic", "魔术", "Magic")],
}
CITIES = [
    ("北京", "Beijing"), ("上海", "Shanghai"), ("广州", "Guangzhou"), ("深圳", "Shenzhen"), ("成都", "Chengdu"),
    ("杭州", "Hangzhou"), ("南京", "Nanjing"), ("武汉", "Wuhan"), ("西安", "Xi'an"), ("重庆", "Chongqing"),
    ("天津", "Tianjin"), ("苏州", "Suzhou"), ("长沙", "Changsha"), ("厦门", "Xiamen"), ("青岛", "Qingdao"),
    ("郑州", "Zhengzhou"), ("沈阳", "Shenyang"), ("昆明", "Kunming"), ("大连", "Dalian"), ("合肥", "Hefei"),
]
VENUE_KINDS = [
    ("大剧院", "Grand Theatre"), ("体育馆", "Gymnasium"), ("奥体中心", "Olympic Sports Centre"),
    ("音乐厅", "Concert Hall"), ("艺术中心", "Arts Centre"), ("展览馆", "Exhibition Hall"), ("Livehouse", "Livehouse"),
]
FAMOUS_VENUES = {
    "北京": ["国家体育场（鸟巢）", "凯迪拉克中心", "国家大剧院", "首都剧场", "工人体育场"],
    "上海": ["梅赛德斯-奔驰文化中心", "上海大剧院", "上海体育场", "JZ Club", "上海交响乐团音乐厅"],
    "广州": ["广州大剧院", "天河体育中心"], "深圳": ["深圳湾体育中心", "深圳音乐厅"],
}
ARTISTS = [
    ("周杰伦", "Jay Chou"), ("邓紫棋", "G.E.M."), ("五月天", "Mayday"), ("林俊杰", "JJ Lin"), ("陈奕迅", "Eason Chan"),
    ("张学友", "Jacky Cheung"), ("薛之谦", "Joker Xue"), ("李荣浩", "Li Ronghao"), ("王菲", "Faye Wong"),
    ("蔡依林", "Jolin Tsai"), ("孙燕姿", "Stefanie Sun"), ("刘德华", "Andy Lau"), ("华晨宇", "Hua Chenyu"),
    ("毛不易", "Mao Buyi"), ("朴树", "Pu Shu"), ("李健", "Li Jian"), ("周深", "Zhou Shen"), ("张韶涵", "Angela Chang"),
    ("汪峰", "Wang Feng"), ("许嵩", "Vae Xu"), ("泰勒·斯威夫特", "Taylor Swift"), ("酷玩乐队", "Coldplay"),
    ("艾德·希兰", "Ed Sheeran"), ("火星哥", "Bruno Mars"), ("魔力红", "Maroon 5"), ("诺拉·琼斯", "Norah Jones"),
    ("肯尼·基", "Kenny G"), ("坂本龙一", "Ryuichi Sakamoto"), ("久石让", "Joe Hisaishi"), ("郎朗", "Lang Lang"),
]
TOURS = [("嘉年华", "Carnival"), ("地表最强", "The Invincible"), ("回到那一天", "Back to That Day"),
         ("无限", "Infinity"), ("时光", "Time"), ("星空", "Starry Sky"), ("摩天轮", "Ferris Wheel")]
WORKS = {
    "classical": [("贝多芬第九交响曲", "Beethoven Symphony No. 9"), ("柴可夫斯基小提琴协奏曲", "Tchaikovsky Violin Concerto"),
                  ("莫扎特安魂曲", "Mozart Requiem"), ("爵士之夜", "Jazz Night"), ("新年音乐会", "New Year Concert")],
    "drama": [("茶馆", "Teahouse"), ("雷雨", "Thunderstorm"), ("日出", "Sunrise"), ("哈姆雷特", "Hamlet"),
              ("恋爱的犀牛", "Rhinoceros in Love"), ("暗恋桃花源", "Secret Love in Peach Blossom Land")],
    "musicals": [("歌剧魅影", "The Phantom of the Opera"), ("猫", "Cats"), ("悲惨世界", "Les Misérables"),
                 ("汉密尔顿", "Hamilton"), ("芝加哥", "Chicago"), ("妈妈咪呀", "Mamma Mia!")],
    "dance": [("天鹅湖", "Swan Lake"), ("胡桃夹子", "The Nutcracker"), ("只此青绿", "The Journey of a Legendary Landscape")],
    "opera": [("霸王别姬", "Farewell My Concubine"), ("牡丹亭", "The Peony Pavilion"), ("贵妃醉酒", "The Drunken Concubine")],
    "comedy": [("笑果脱口秀", "Xiaoguo Stand-up"), ("开心麻花", "Mahua FunAge"), ("周末喜剧之夜", "Weekend Comedy Night")],
    "festivals": [("草莓音乐节", "Strawberry Music Festival"), ("迷笛音乐节", "Midi Music Festival"),
                  ("爵士音乐节", "Jazz Festival")],
    "football": [("中超联赛", "Chinese Super League"), ("足协杯", "FA Cup")],
    "basketball": [("CBA联赛", "CBA League"), ("全明星赛", "All-Star Game")],
    "tennis": [("网球公开赛", "Tennis Open"), ("网球大师赛", "Tennis Masters")],
    "esports": [("英雄联盟职业联赛", "LPL League of Legends"), ("王者荣耀总决赛", "Honor of Kings Finals")],
    "art": [("梵高沉浸式艺术展", "Van Gogh Immersive Experience"), ("莫奈与印象派", "Monet and the Impressionists"),
            ("敦煌艺术大展", "Dunhuang Art Exhibition")],
    "science": [("恐龙世界科技展", "Dinosaur World"), ("人工智能互动展", "AI Interactive Exhibition")],
    "kids-theatre": [("小猪佩奇舞台剧", "Peppa Pig Live"), ("海底小纵队", "Octonauts Live"), ("冰雪奇缘", "Frozen")],
    "magic": [("刘谦魔术秀", "Louis Liu Magic Show"), ("大型魔术幻术秀", "Grand Illusion Show")],
}
TEAMS = [("北京国安", "Beijing Guoan"), ("上海申花", "Shanghai Shenhua"), ("上海海港", "Shanghai Port"),
         ("山东泰山", "Shandong Taishan"), ("广州队", "Guangzhou FC"), ("成都蓉城", "Chengdu Rongcheng"),
         ("广东宏远", "Guangdong Southern Tigers"), ("辽宁本钢", "Liaoning Flying Leopards")]
TAGS = ["流行", "摇滚", "爵士", "古典", "亲子", "户外", "国风", "电子", "说唱", "民谣", "首演", "巡演", "限量", "周末", "夜场",
        "pop", "rock", "jazz", "live", "family"]
ZH_SENTENCES = [
    "本场演出时长约一百二十分钟，请提前三十分钟入场。", "演出票一经售出，不退不换，敬请谅解。", "一人一票，凭有效身份证件实名入场。",
    "场馆内禁止携带专业摄影设备及饮料。", "儿童需购票入场，一米二以下儿童谢绝入场。", "现场设有官方周边售卖区。",
    "地铁二号线直达，出站步行五分钟即到。", "本次巡演将带来全新编曲与舞台设计。", "经典曲目与全新作品交替呈现，带来一场视听盛宴。",
    "演出当天开放停车场，车位有限。", "主办方保留调整演出阵容的权利。", "观演过程中请勿站立，以免遮挡他人视线。",
    "特别嘉宾将在现场惊喜亮相。", "本场为中文演出，配有英文字幕。", "多次荣获国内外大奖的创作团队倾力打造。",
    "首轮开票即告售罄，加场门票限量发售。", "座位区分为内场、看台与包厢。", "演出结束后设有签售环节。",
]
EN_SENTENCES = [
    "Doors open one hour before the show.", "Tickets are non-refundable and bound to a real name.",
    "Professional cameras are not allowed inside the venue.", "The performance runs about two hours with one interval.",
    "A brand new stage production with live band.", "Children under 1.2 m are not admitted.",
    "English surtitles are provided for this performance.", "Merchandise is available at the venue on the day.",
    "Take Metro Line 2 and walk five minutes from the exit.", "Limited parking is available on site.",
]


def title_for(rng: random.Random, slug: str, city_zh: str, city_en: str, year: int) -> str:
    style = rng.random()  # about 55% Chinese, 20% English, 25% both
    if slug == "concerts":
        (a_zh, a_en), (t_zh, t_en) = rng.choice(ARTISTS), rng.choice(TOURS)
        if style < 0.55:
            return f"{a_zh}「{t_zh}」{year}世界巡回演唱会 {city_zh}站"
        if style < 0.75:
            return f"{a_en} {t_en} World Tour {year} – {city_en}"
        return f"{a_zh} {a_en}「{t_zh}」演唱会 {city_zh}站"
    if slug in ("football", "basketball"):
        (league_zh, league_en), (h_zh, h_en), (g_zh, g_en) = rng.choice(WORKS[slug]), *rng.sample(TEAMS, 2)
        if style < 0.75:
            return f"{year}{league_zh} {h_zh} vs {g_zh}"
        return f"{league_en} {year}: {h_en} vs {g_en}"
    w_zh, w_en = rng.choice(WORKS[slug])
    if style < 0.55:
        return f"{w_zh} {city_zh}站"
    if style < 0.75:
        return f"{w_en} – {city_en} {year}"
    return f"《{w_zh}》{w_en} {city_zh}"


def description_for(rng: random.Random, title: str) -> str:
    zh = rng.sample(ZH_SENTENCES, rng.randint(3, 6))
    en = rng.sample(EN_SENTENCES, rng.randint(1, 3))
    return f"<p><strong>{title}</strong></p><p>{''.join(zh)}</p><p>{' '.join(en)}</p>"


# --- setup ---------------------------------------------------------------------------
def prepare_database(url: str, *, refill: bool) -> None:
    """Create (or with refill, recreate) the bench database; point Django at it."""
    import environ

    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.mysql":
        from _services import create_mysql_database

        create_mysql_database(config, refill=refill)
    elif refill and Path(config["NAME"]).exists():
        Path(config["NAME"]).unlink()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def category_tree() -> dict[str, tuple["Category", list[str], list[int]]]:  # noqa: F821
    """slug → (category, its and its parent's zh/en names, their ids), created once."""
    from events.models import Category

    result = {}
    for (slug, zh, en), children in CATEGORIES.items():
        root = Category.objects.filter(slug=slug).first() or Category.objects.add_root(
            {"slug": slug, "name_zh": zh, "name_en": en})
        result[slug] = (root, [zh, en], [root.pk])
        for c_slug, c_zh, c_en in children:
            child = Category.objects.filter(slug=c_slug).first() or Category.objects.add_child(
                Category.objects.get(pk=root.pk), {"slug": c_slug, "name_zh": c_zh, "name_en": c_en})
            result[c_slug] = (child, [zh, en, c_zh, c_en], [root.pk, child.pk])
    return result


def fill(total: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Role, User
    from events.models import Event, EventStatus, Tag
    from events.search import index_text_from

    publisher, _ = User.objects.get_or_create(username=PUBLISHER, defaults={"role": Role.PUBLISHER,
                                                                             "email": "bench@example.com"})
    have = Event.objects.count()
    if have >= total:
        print(f"already filled: {have:,} events (--refill to start over)")
        return
    tree = category_tree()
    leaves = [slug for slug in tree if slug in WORKS or slug == "concerts"]
    weights = [6 if s == "concerts" else 2 if s in ("drama", "classical", "football", "festivals") else 1 for s in leaves]
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    Through = Event.tags.through
    rng = random.Random(20261123 + have)
    now = timezone.now()
    started = time.perf_counter()
    made = have
    while made < total:
        batch, batch_tags = [], []
        for _ in range(min(BATCH, total - made)):
            slug = rng.choices(leaves, weights)[0]
            category, category_names, category_ids = tree[slug]
            city_zh, city_en = rng.choice(CITIES[:6] * 3 + CITIES[6:])  # big cities host more
            venue = rng.choice(FAMOUS_VENUES.get(city_zh, []) + [f"{city_zh}{k_zh}" for k_zh, _ in VENUE_KINDS])
            start = now + timedelta(days=rng.uniform(-60, 180), minutes=rng.choice([0, 30]))
            end = start + (timedelta(days=rng.randint(7, 60)) if slug in ("art", "science")
                           else timedelta(hours=rng.choice([2, 2.5, 3])))
            title = title_for(rng, slug, city_zh, city_en, start.year)
            description = description_for(rng, title)
            event_tags = rng.sample(tags, rng.randint(0, 3))
            address = f"{city_zh}市{rng.choice(['朝阳区', '东城区', '浦东新区', '天河区', '南山区'])}{rng.randint(1, 300)}号"
            low = Decimal(rng.choice([80, 100, 180, 280, 380, 480, 680, 880]))
            priced = rng.random() > 0.05
            batch.append(Event(
                title=title, description=description, start_time=start, end_time=end, venue=venue, city=city_zh,
                address=address, category=category, publisher=publisher,
                status=rng.choices([EventStatus.APPROVED, EventStatus.PENDING, EventStatus.DRAFT,
                                    EventStatus.CANCELLED], [92, 3, 3, 2])[0],
                price_min=low if priced else None, price_max=low * rng.choice([1, 2, 3, 5]) if priced else None,
                tickets_left=rng.random() < 0.8,
                search_text=index_text_from(title=title, description=description, venue=venue, city=city_zh,
                                            address=address, category_names=category_names,
                                            tags=[t.name for t in event_tags], category_ids=category_ids,
                                            start_time=start),
            ))
            batch_tags.append(event_tags)
        with transaction.atomic():
            Event.objects.bulk_create(batch)
            Through.objects.bulk_create([Through(event_id=e.pk, tag_id=t.pk)
                                         for e, ts in zip(batch, batch_tags) for t in ts])
        made += len(batch)
        if made % 20_000 == 0 or made == total:
            print(f"  filled {made:,} events ({time.perf_counter() - started:.0f} s)", flush=True)


# --- the measurement --------------------------------------------------------------------
def queries() -> list[tuple[str, str, dict]]:
    """(kind, label, event_search kwargs): 10 Chinese, 10 English, 5 mixed, 5 filtered; then one kind per
    class of what buyers type (pinyin in full, initials, traditional characters, a word being typed,
    English word forms, one typo); then every sort of the list page with every filter, no query."""
    from django.utils import timezone

    from events.models import Category

    def cat(slug):
        return Category.objects.get(slug=slug)

    soon = timezone.localdate()
    chinese = ["周杰伦", "演唱会", "北京", "话剧", "周杰伦演唱会", "上海 爵士", "鸟巢", "京", "梵高沉浸式艺术展", "实名入场"]
    english = ["jazz", "Shanghai", "concert", "the show", "Jay Chou", "world tour", "G.E.M.", "Swan Lake",
               "phantom of the opera", "Beijing Guoan"]
    mixed = ["周杰伦 Shanghai", "jazz 北京", "Taylor Swift 演唱会", "上海 symphony", "Coldplay 2026"]
    out = [("chinese", q, {"query": q}) for q in chinese]
    out += [("english", q, {"query": q}) for q in english]
    out += [("mixed", q, {"query": q}) for q in mixed]
    out += [
        ("filtered", "演唱会 + category shows (subtree)", {"query": "演唱会", "category": cat("shows")}),
        ("filtered", "jazz + city 上海", {"query": "jazz", "city": "上海"}),
        ("filtered", "话剧 + next 30 days", {"query": "话剧", "date_from": soon, "date_to": soon + timedelta(days=30)}),
        ("filtered", "周杰伦 + price 300-800 + available", {"query": "周杰伦", "price_min": 300, "price_max": 800,
                                                           "available_only": True}),
        ("filtered", "北京 + sports + sort price", {"query": "北京", "category": cat("sports"), "sort": "price"}),
    ]
    classes = {
        "pinyin": ["zhoujielun", "dengziqi", "niaochao", "huaju", "zhou jie lun"],
        "initials": ["zjl", "dzq", "wyt", "lrh", "bjga"],
        "trad.": ["周杰倫", "演唱會", "話劇", "北京國安", "鳥巢"],
        "prefix": ["conc", "zhouj", "phant", "shangh", "tchaik"],
        "stems": ["concerts", "tours", "festivals", "symphonies", "nights"],
        "typo": ["consert", "shanghia", "symphonny", "tchaikovksy", "beethovan"],
    }
    out += [(kind, q, {"query": q}) for kind, words in classes.items() for q in words]
    # No text: B-tree indexes (events.models) decide. Every sort the page offers with every filter.
    filters = {
        "no filter": {}, "city 北京": {"city": "北京"}, "category concerts": {"category": cat("concerts")},
        "category shows (subtree)": {"category": cat("shows")},
        "next 7 days": {"date_from": soon, "date_to": soon + timedelta(days=7)},
        "price 100-500": {"price_min": 100, "price_max": 500}, "available": {"available_only": True},
        "上海 + concerts + available": {"city": "上海", "category": cat("concerts"), "available_only": True},
    }
    out += [("browse", f"{name}, sort {sort or 'default'}", {**kwargs, "sort": sort})
            for name, kwargs in filters.items() for sort in ("", "price", "-price", "newest")]
    return out


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def explain(kwargs: dict) -> None:
    """The plan of every statement one search runs (text search, page, prefetches, count)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.selectors import event_search

    with CaptureQueriesContext(connection) as ran:
        qs = event_search(**kwargs)
        list(qs[:20])
        qs.count()
    prefix = "EXPLAIN " if connection.vendor == "mysql" else "EXPLAIN QUERY PLAN "
    for query in ran.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute(prefix + query["sql"])  # captured SQL has its parameters inlined
            print(f"      {query['sql'][:70]}…")
            for row in cursor.fetchall():
                print(f"        {row}")


def measure(runs: int, show_plans: bool) -> None:
    from django.db import connection

    from events.models import Event, EventStatus
    from events.selectors import event_search

    if connection.vendor == "mysql":
        # Fresh statistics, as after a bulk load the server's own may be stale
        # (it then scans all of events_event_tags to prefetch 20 events' tags).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE TABLE events_event, events_event_tags, events_tag, events_category")
            cursor.fetchall()

    total = Event.objects.count()
    public = event_search().count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {total:,} events, "
          f"{Event.objects.filter(status=EventStatus.APPROVED).count():,} approved, {public:,} approved and not ended")
    print(f"{runs} timed runs per query after one warm-up; time = list(event_search(...)[:20]) + .count()")
    print("load average at start: %.2f %.2f %.2f (a shared server: other work skews the figures)\n" % os.getloadavg())
    by_kind: dict[str, list[float]] = {}
    print(f"{'kind':9} {'query':42} {'hits':>7} {'p50 ms':>8} {'max ms':>8}")
    for kind, label, kwargs in queries():

        def once():
            qs = event_search(**kwargs)
            page = list(qs[:20])
            return page, qs.count()

        _, hits = once()
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            once()
            samples.append((time.perf_counter() - t0) * 1000)
        by_kind.setdefault(kind, []).extend(samples)
        print(f"{kind:9} {label[:42]:42} {hits:7,} {statistics.median(samples):8.1f} {max(samples):8.1f}")
        if show_plans:
            explain(kwargs)
    print(f"\n{'kind':9} {'samples':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   target p95 < 100 ms per kind")
    worst = []
    for kind, samples in by_kind.items():
        p50, p95, p99 = percentiles(samples)
        worst.append((p95, kind))
        print(f"{kind:9} {len(samples):8} {p50:8.1f} {p95:8.1f} {p99:8.1f}   {'met' if p95 < 100 else 'MISSED'}")
    p95, kind = max(worst)
    print(f"\nslowest kind: {kind} (p95 {p95:.1f} ms): target {'met' if p95 < 100 else 'MISSED'}; "
          "load average at end: %.2f %.2f %.2f" % os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refill", action="store_true", help="drop the bench database and fill it again")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    prepare_database(url, refill=args.refill)
    fill(args.events)
    measure(args.runs, args.explain)


if __name__ == "__main__":
    main()
