"""Event search: Chinese and English words through the database's own full-text
index (InnoDB FULLTEXT on MariaDB, FTS5 on SQLite), filters, sorting, visibility.

InnoDB's full-text index only sees committed rows, so every test that searches
text runs with transaction=True (real commits, tables emptied afterwards).
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from events import search, selectors
from events.models import Event, EventStatus
from events.selectors import event_list_for_publisher, event_search, event_visible_to, review_queue
from tests.events.factories import ApprovedEventFactory, CategoryFactory, EventFactory
from tests.factories import UserFactory

full_text = pytest.mark.django_db(transaction=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")
INNODB_STOPWORDS = search.ENGLISH_STOPWORDS  # MariaDB's default full-text stopwords


def titles(queryset) -> set[str]:
    return {event.title for event in queryset}


def found(query: str = "", **filters) -> set[str]:
    return titles(event_search(query=query, **filters))


# --- the encoding (no database) ------------------------------------------------
class TestEncoding:
    def test_every_token_is_ascii_at_least_three_long_and_never_a_stopword(self):
        text = search.index_text_from(
            title="周杰伦 on the Bund — 京", description="<p>a I it of 2025 Café</p>", city="北京",
            category_names=["演出", "Shows"], tags=["G.E.M.", "爵士"], category_ids=[1, 123456],
            start_time=datetime(2026, 12, 31, 20, tzinfo=SHANGHAI),
        )
        tokens = text.split()
        assert {"yk1", search.category_key(123456), "ym202612", search.city_key("北京")} <= set(tokens)
        assert tokens
        for token in tokens:
            assert re.fullmatch(r"[a-z0-9]{3,84}", token), token
            assert token not in INNODB_STOPWORDS

    def test_a_chinese_run_is_searched_by_its_overlapping_pairs(self):
        assert search.query_tokens("周杰伦") == [search._cjk_token("周杰"), search._cjk_token("杰伦")]
        assert search.query_tokens("北京") == [search._cjk_token("北京")]
        assert search.query_tokens("京") == [search._cjk_token("京")]

    def test_english_words_are_case_and_width_insensitive(self):
        assert search.query_tokens("JAZZ") == search.query_tokens("jazz") == search.query_tokens("ｊａｚｚ")

    def test_description_html_is_reduced_to_its_words(self):
        tokens = search.index_text_from(title="x", description="<p>jazz</p><p>night&amp;day</p>").split()
        assert {"wzjazz", "wznight", "wzday"} <= set(tokens)
        assert "wzp" not in tokens and "wzjazznight" not in tokens

    def test_punctuation_only_gives_no_tokens(self):
        assert search.query_clauses(' *+-"()<>~@ 。，！') == []

    def test_stopwords_count_only_when_alone(self):
        assert search.query_tokens("the show") == ["wzshow"]
        assert search.query_tokens("on") == ["wzon"]
        assert search.query_tokens("the on") == ["wzthe", "wzon"]

    def test_long_chinese_runs_also_read_by_characters_only_when_relaxed(self):
        strict = search.query_clauses("周杰伦演唱会")
        relaxed = search.query_clauses("周杰伦演唱会", relaxed=True)
        assert len(strict[0]) == 1 and len(relaxed[0]) == 2
        assert relaxed[0][0] == strict[0][0]
        assert search.query_clauses("演唱会", relaxed=True) == search.query_clauses("演唱会")

    def test_a_very_long_query_is_capped(self):
        assert len(search.query_tokens("周杰伦演唱会" * 20)) <= search.MAX_QUERY_TOKENS
        assert len(search.query_tokens(" ".join(f"word{i}" for i in range(50)))) == search.MAX_QUERY_TOKENS

    def test_title_words_weigh_more_than_description_words(self):
        tokens = search.index_text_from(title="爵士", description="爵士").split()
        assert tokens.count(search._cjk_token("爵士")) == search.WEIGHT_TITLE > search.WEIGHT_TEXT


# --- matching --------------------------------------------------------------------
@pytest.fixture
def catalogue():
    shows = CategoryFactory(name_zh="演出", name_en="Shows")
    concerts = CategoryFactory(parent=shows, name_zh="演唱会", name_en="Concerts")
    music = CategoryFactory(parent=shows, name_zh="音乐会", name_en="Music")
    drama = CategoryFactory(parent=shows, name_zh="话剧", name_en="Drama")
    sports = CategoryFactory(name_zh="体育", name_en="Sports")
    football = CategoryFactory(parent=sports, name_zh="足球", name_en="Football")
    ApprovedEventFactory(
        title="周杰伦 嘉年华世界巡回演唱会 北京站", city="北京", venue="国家体育场（鸟巢）", category=concerts,
        description="<p>Jay Chou <b>Carnival</b> World Tour</p>", tags=["流行"],
    )
    ApprovedEventFactory(title="Shanghai Jazz Night 爵士之夜", city="上海", venue="JZ Club", category=music,
                         tags=["jazz"])
    ApprovedEventFactory(title="Live on the Bund", city="上海", venue="外滩", category=music,
                         description="The show must go on.", tags=["户外"])
    ApprovedEventFactory(title="茶馆", city="北京", venue="首都剧场", address="东城区王府井大街22号", category=drama,
                         description="<p>老舍名作，北京人艺经典。</p>")
    ApprovedEventFactory(title="京剧《霸王别姬》", city="天津", venue="中国大戏院", category=drama)
    ApprovedEventFactory(title="中超联赛 上海申花 vs 北京国安", city="上海", venue="虹口足球场", category=football)
    return {"shows": shows, "concerts": concerts, "music": music, "drama": drama, "sports": sports,
            "football": football}


JAY = "周杰伦 嘉年华世界巡回演唱会 北京站"
JAZZ = "Shanghai Jazz Night 爵士之夜"
BUND = "Live on the Bund"
TEAHOUSE = "茶馆"
OPERA = "京剧《霸王别姬》"
FOOTBALL = "中超联赛 上海申花 vs 北京国安"
EVERYTHING = {JAY, JAZZ, BUND, TEAHOUSE, OPERA, FOOTBALL}


@full_text
class TestMatching:
    def test_a_three_character_name_finds_its_event(self, catalogue):
        assert found("周杰伦") == {JAY}

    def test_a_three_character_word_finds_title_and_category(self, catalogue):
        assert found("演唱会") == {JAY}

    def test_a_two_character_word_finds_titles_cities_and_venues(self, catalogue):
        assert found("北京") == {JAY, TEAHOUSE, FOOTBALL}
        assert found("上海") == {JAZZ, BUND, FOOTBALL}
        assert found("鸟巢") == {JAY}

    def test_a_single_character_finds_titles_and_cities(self, catalogue):
        assert found("茶") == {TEAHOUSE}
        assert found("津") == {OPERA}

    def test_english_words_ignore_case(self, catalogue):
        assert found("jazz") == {JAZZ}
        # and 上海 by its pinyin (events.search indexes the pinyin of Chinese names)
        assert found("Shanghai") == found("SHANGHAI") == found("shanghai") == {JAZZ, BUND, FOOTBALL}
        assert found("carnival") == {JAY}

    def test_every_word_of_a_mixed_query_is_required(self, catalogue):
        assert found("周杰伦 北京") == {JAY}
        assert found("周杰伦 上海") == set()
        assert found("jazz 上海") == {JAZZ}
        assert found("Jay Chou 鸟巢") == {JAY}

    def test_chinese_words_typed_together_still_match(self, catalogue):
        assert found("周杰伦演唱会") == {JAY}
        assert found("北京话剧") == {TEAHOUSE}
        assert found("上海爵士") == {JAZZ}

    def test_english_stopwords_are_searchable_and_harmless(self, catalogue):
        assert found("on") == {BUND}
        assert found("the show") == found("show") == found("shows")  # the category Shows, by its stem
        assert found("the bund") == {BUND}
        assert found("the") == {BUND}

    def test_category_names_in_both_languages_match(self, catalogue):
        assert found("话剧") == found("drama") == {TEAHOUSE, OPERA}
        assert found("足球") == found("Football") == {FOOTBALL}

    def test_parent_category_names_match_events_of_its_children(self, catalogue):
        assert found("演出") == found("shows") == {JAY, JAZZ, BUND, TEAHOUSE, OPERA}
        assert found("sports") == {FOOTBALL}
        assert found("体育") == {FOOTBALL, JAY}  # and 国家体育场, JAY's venue

    def test_tags_match(self, catalogue):
        assert found("流行") == {JAY}
        assert found("户外") == {BUND}

    def test_description_without_markup_and_address_match(self, catalogue):
        assert found("老舍") == {TEAHOUSE}
        assert found("人艺") == {TEAHOUSE}
        assert found("王府井") == {TEAHOUSE}
        assert found("b") == set()  # the <b> tag is not a word

    def test_a_query_of_punctuation_only_lists_nothing_and_an_empty_one_everything(self, catalogue):
        for query in ("", "   "):
            assert found(query) == EVERYTHING, query
        for query in ("*", "+", "-", '"', "(", ")", "。，！", "@~<>", "😀", "——"):
            assert found(query) == set(), query

    def test_sql_and_search_syntax_in_the_query_are_only_words(self, catalogue):
        assert found('"); DROP TABLE events_event; --') == set()
        assert found("' OR 1=1 --") == set()
        assert found("jazz*") == found("-jazz") == found('+"jazz"') == found("(jazz)") == {JAZZ}
        assert found("NOT jazz") == set()  # "not" is a word to find, not an operator
        assert found("jazz OR 周杰伦") == set()
        assert Event.objects.count() == 6

    def test_changing_an_event_moves_it_in_the_index(self, catalogue):
        event = Event.objects.get(title=TEAHOUSE)
        event.title = "雷雨"
        event.save()
        search.refresh_search_text(event)
        assert found("雷雨") == {"雷雨"}
        assert found("茶馆") == set()
        Event.objects.filter(title=JAZZ).delete()
        assert found("jazz") == set()
        assert found("上海") == {BUND, FOOTBALL}

    def test_the_full_text_index_is_in_place(self, catalogue):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events_event'")
                triggers = {row[0] for row in cursor.fetchall()}
                assert set(search.SQLITE_FTS_TRIGGERS) <= triggers, (
                    "a migration rebuilt events_event and dropped the search triggers: "
                    "end it with RunPython(events.search.install_sqlite_fts_triggers_operation)"
                )
                cursor.execute(f"INSERT INTO {search.FTS_TABLE}({search.FTS_TABLE}) VALUES ('integrity-check')")
            else:
                cursor.execute("SHOW INDEX FROM events_event WHERE Key_name = 'event_search_ft'")
                assert cursor.fetchall()


@full_text
class TestRanking:
    def test_a_title_match_outranks_a_description_match(self):
        # The weaker match starts first, so only relevance can put the other ahead.
        soon = timezone.now() + timedelta(days=1)
        ApprovedEventFactory(title="周末音乐会", description="<p>下半场有爵士乐表演。</p>", start_time=soon)
        ApprovedEventFactory(title="爵士之夜：爵士大乐队", description="<p>爵士乐经典曲目。</p>",
                             start_time=soon + timedelta(days=5))
        for n in range(3):  # InnoDB scores a word found in every row as 0
            ApprovedEventFactory(title=f"古典音乐会 {n}")
        assert [e.title for e in event_search(query="爵士")] == ["爵士之夜：爵士大乐队", "周末音乐会"]
        assert [e.title for e in event_search(query="爵士", sort="relevance")] == ["爵士之夜：爵士大乐队", "周末音乐会"]
        assert [e.title for e in event_search(query="爵士", sort="start")] == ["周末音乐会", "爵士之夜：爵士大乐队"]

    def test_exact_chinese_phrases_rank_above_scattered_characters(self):
        ApprovedEventFactory(title="周杰伦 地表最强 上海站", category=CategoryFactory(name_zh="演唱会"))
        ApprovedEventFactory(title="周杰伦演唱会 上海站", start_time=timezone.now() + timedelta(days=30))
        for n in range(3):
            ApprovedEventFactory(title=f"话剧 {n}")
        assert [e.title for e in event_search(query="周杰伦演唱会")] == ["周杰伦演唱会 上海站", "周杰伦 地表最强 上海站"]


# --- who sees what ---------------------------------------------------------------
@full_text
class TestVisibility:
    def test_events_that_are_not_approved_never_appear(self):
        for status in (EventStatus.DRAFT, EventStatus.PENDING, EventStatus.REJECTED, EventStatus.CANCELLED):
            EventFactory(title=f"周杰伦 {status}", status=status)
        ApprovedEventFactory(title="周杰伦 approved")
        assert found("周杰伦") == found() == {"周杰伦 approved"}

    def test_ended_events_are_hidden_unless_asked_for(self):
        now = timezone.now()
        ApprovedEventFactory(title="周杰伦 last year", start_time=now - timedelta(days=365),
                             end_time=now - timedelta(days=365, hours=-3))
        ApprovedEventFactory(title="周杰伦 running now", start_time=now - timedelta(hours=1),
                             end_time=now + timedelta(hours=2))
        assert found("周杰伦") == {"周杰伦 running now"}
        assert found("周杰伦", include_past=True) == {"周杰伦 last year", "周杰伦 running now"}


# --- filters and sorting -----------------------------------------------------------
@full_text
class TestFilters:
    def test_a_category_filter_includes_its_whole_subtree(self, catalogue):
        assert found(category=catalogue["shows"]) == {JAY, JAZZ, BUND, TEAHOUSE, OPERA}
        assert found(category=catalogue["shows"].pk) == found(category=str(catalogue["shows"].pk))
        assert found(category=catalogue["drama"]) == {TEAHOUSE, OPERA}
        assert found(category=catalogue["sports"]) == {FOOTBALL}
        assert found(category=CategoryFactory()) == set()
        assert found(category=999_999) == set()

    @pytest.mark.parametrize("share", [0, 2], ids=["category never as an index key", "always as a key"])
    def test_a_category_filter_combines_with_a_query(self, catalogue, monkeypatch, share):
        monkeypatch.setattr(selectors, "BROAD_CATEGORY_SHARE", share)
        assert found("北京", category=catalogue["shows"]) == {JAY, TEAHOUSE}
        assert found("上海", category=catalogue["sports"]) == {FOOTBALL}
        assert found("上海", category=catalogue["football"]) == {FOOTBALL}
        assert found("演出", category=catalogue["drama"]) == {TEAHOUSE, OPERA}

    def test_the_city_filter_is_exact_and_ignores_case(self, catalogue):
        ApprovedEventFactory(title="Symphony", city="Shanghai")
        assert found(city="上海") == {JAZZ, BUND, FOOTBALL}
        assert found(city="shanghai") == found(city="SHANGHAI ") == {"Symphony"}
        assert found(city="海") == set()
        assert found("jazz", city="上海") == {JAZZ}
        assert found("jazz", city="北京") == set()

    def test_date_range_covers_whole_days_in_shanghai_time(self):
        day = timezone.localdate() + timedelta(days=30)

        def at(d, h, m=0, s=0):
            return datetime(d.year, d.month, d.day, h, m, s, tzinfo=SHANGHAI)

        ApprovedEventFactory(title="day before, last second", start_time=at(day - timedelta(days=1), 23, 59, 59))
        ApprovedEventFactory(title="first day, midnight", start_time=at(day, 0))
        ApprovedEventFactory(title="last day, last second", start_time=at(day + timedelta(days=2), 23, 59, 59))
        ApprovedEventFactory(title="day after, midnight", start_time=at(day + timedelta(days=3), 0))
        assert found(date_from=day, date_to=day + timedelta(days=2)) == {"first day, midnight",
                                                                          "last day, last second"}
        assert found(date_from=day + timedelta(days=3)) == {"day after, midnight"}
        assert found(date_to=day - timedelta(days=1)) == {"day before, last second"}
        assert found(date_from=day, date_to=day) == {"first day, midnight"}

    def test_price_filters_keep_events_whose_price_range_overlaps(self):
        ApprovedEventFactory(title="100-300", price_min=Decimal("100"), price_max=Decimal("300"))
        ApprovedEventFactory(title="400-800", price_min=Decimal("400"), price_max=Decimal("800"))
        ApprovedEventFactory(title="50 only", price_min=Decimal("50"))
        ApprovedEventFactory(title="no prices")
        assert found(price_min=200, price_max=500) == {"100-300", "400-800"}
        assert found(price_min=Decimal("600")) == {"400-800"}
        assert found(price_max=80) == {"50 only"}
        assert found(price_min=300, price_max=400) == {"100-300", "400-800"}  # touching counts
        assert found(price_min=801) == set()
        assert found(price_min=0) == {"100-300", "400-800", "50 only"}
        assert found() == {"100-300", "400-800", "50 only", "no prices"}

    def test_available_only_drops_sold_out_events(self):
        ApprovedEventFactory(title="爵士 tickets left", tickets_left=True)
        ApprovedEventFactory(title="爵士 sold out", tickets_left=False)
        assert found(available_only=True) == {"爵士 tickets left"}
        assert found("爵士", available_only=True) == {"爵士 tickets left"}
        assert found("爵士") == {"爵士 tickets left", "爵士 sold out"}

    def test_every_filter_at_once(self, catalogue):
        day = timezone.localdate() + timedelta(days=10)
        start = datetime(day.year, day.month, day.day, 19, 30, tzinfo=SHANGHAI)
        wanted = ApprovedEventFactory(title="爵士 at the theatre", city="北京", category=catalogue["music"],
                                      start_time=start, price_min=180, price_max=680, tickets_left=True)
        ApprovedEventFactory(title="爵士 sold out", city="北京", category=catalogue["music"], start_time=start,
                             price_min=180, price_max=680)
        ApprovedEventFactory(title="爵士 elsewhere", city="上海", category=catalogue["music"], start_time=start,
                             price_min=180, price_max=680, tickets_left=True)
        ApprovedEventFactory(title="爵士 football", city="北京", category=catalogue["football"], start_time=start,
                             price_min=180, price_max=680, tickets_left=True)
        ApprovedEventFactory(title="爵士 too dear", city="北京", category=catalogue["music"], start_time=start,
                             price_min=1000, price_max=2000, tickets_left=True)
        ApprovedEventFactory(title="爵士 next week", city="北京", category=catalogue["music"],
                             start_time=start + timedelta(days=7), price_min=180, price_max=680, tickets_left=True)
        result = event_search(query="爵士", category=catalogue["shows"], city="北京", date_from=day, date_to=day,
                              price_min=100, price_max=500, available_only=True)
        assert list(result) == [wanted]

    def test_sorting(self):
        now = timezone.now()
        a = ApprovedEventFactory(title="a", start_time=now + timedelta(days=3), price_min=300, price_max=400)
        b = ApprovedEventFactory(title="b", start_time=now + timedelta(days=1))
        c = ApprovedEventFactory(title="c", start_time=now + timedelta(days=2), price_min=100, price_max=900)
        assert list(event_search()) == [b, c, a]
        assert list(event_search(sort="start")) == [b, c, a]
        assert list(event_search(sort="price")) == [c, a, b]
        assert list(event_search(sort="-price")) == [a, c, b]
        assert list(event_search(sort="newest")) == [c, b, a]
        assert list(event_search(sort="relevance")) == [b, c, a]  # nothing to rank: by start
        assert list(event_search(sort="nonsense")) == [b, c, a]

    def test_price_sorts_put_events_without_a_price_last_both_ways_and_ties_by_start(self):
        now = timezone.now()

        def event(title, days, price=None):
            return ApprovedEventFactory(title=title, start_time=now + timedelta(days=days), price_min=price)

        unpriced_later, unpriced_sooner = event("no price, later", 3), event("no price, sooner", 1)
        later_100, sooner_100 = event("100 later", 4, 100), event("100 sooner", 2, 100)
        twin = event("100 sooner, made after", 2, 100)  # same price, same start: by id
        free, dear = event("free", 5, 0), event("880", 6, 880)
        hundreds = [sooner_100, twin, later_100]
        assert list(event_search(sort="price")) == [free, *hundreds, dear, unpriced_sooner, unpriced_later]
        assert list(event_search(sort="-price")) == [dear, *hundreds, free, unpriced_sooner, unpriced_later]
        # A price written around the models (bulk update, as the inventory and loaders do) moves it too.
        Event.objects.filter(pk=unpriced_sooner.pk).update(price_min=50)
        assert list(event_search(sort="price")) == [free, unpriced_sooner, *hundreds, dear, unpriced_later]
        assert list(event_search(sort="-price", price_max=60)) == [unpriced_sooner, free]

    @pytest.mark.parametrize("sort", ["", "price", "-price", "newest"])
    def test_the_city_filter_ignores_case_with_every_sort(self, sort):
        ApprovedEventFactory(title="Symphony", city="Shanghai", price_min=100)
        ApprovedEventFactory(title="Opera", city="SHANGHAI")
        ApprovedEventFactory(title="Pudong", city="Shanghai Pudong")
        assert found(city="shanghai", sort=sort) == found(city=" sHANGHAI ", sort=sort) == {"Symphony", "Opera"}
        assert event_search(city="ShangHai", sort=sort).count() == 2
        assert found(city="Shanghai_", sort=sort) == found(city="Shang%", sort=sort) == set()

    def test_a_page_of_results_costs_a_fixed_number_of_queries(self, catalogue, django_assert_num_queries):
        with django_assert_num_queries(4):  # the text search, the events, their categories, their tags
            events = list(event_search(query="演出"))
            assert [tag.name for e in events for tag in e.tags.all()]
            assert {e.category.name_zh for e in events}
        with django_assert_num_queries(3):
            assert len(list(event_search())) == 6

    def test_every_filter_also_narrows_a_text_search(self, catalogue, monkeypatch):
        # Filters shaped as index keys (city, category, months) must never drop a true match.
        monkeypatch.setattr(selectors, "BROAD_CATEGORY_SHARE", 2)  # even the broad categories
        assert found("北京", city="北京") == {JAY, TEAHOUSE}
        assert found("jazz", city="上海", category=catalogue["shows"]) == {JAZZ}
        assert found("上海", category=catalogue["football"]) == {FOOTBALL}
        ApprovedEventFactory(title="Jazz in Xi'an", city="Xi'an")
        assert found("jazz", city="xi'an") == found("jazz", city="XI'AN ") == {"Jazz in Xi'an"}

    def test_a_text_search_by_dates_keeps_events_at_the_edges_of_months(self):
        year = timezone.localdate().year + 1
        last_minute = datetime(year, 1, 31, 23, 30, tzinfo=SHANGHAI)  # the month's last half hour here
        ApprovedEventFactory(title="爵士 January", start_time=last_minute)
        ApprovedEventFactory(title="爵士 March", start_time=datetime(year, 3, 1, 0, 0, tzinfo=SHANGHAI))
        assert found("爵士", date_from=last_minute.date(), date_to=last_minute.date()) == {"爵士 January"}
        assert found("爵士", date_from=last_minute.date(), date_to=datetime(year, 3, 1).date()) == {
            "爵士 January", "爵士 March"}
        with timezone.override(ZoneInfo("America/New_York")):
            assert found("爵士", date_from=datetime(year, 1, 31).date(), date_to=datetime(year, 1, 31).date()) == {
                "爵士 January"}  # 10:30 on January 31 in New York

    def test_moving_an_event_moves_its_filter_keys(self, catalogue, monkeypatch):
        monkeypatch.setattr(selectors, "BROAD_CATEGORY_SHARE", 2)
        event = Event.objects.get(title=JAZZ)
        event.city = "杭州"
        event.category = catalogue["drama"]
        event.start_time += timedelta(days=40)
        event.end_time += timedelta(days=40)
        event.save()
        search.refresh_search_text(event)
        day = timezone.localdate(event.start_time)
        assert found("jazz", city="杭州", category=catalogue["drama"], date_from=day, date_to=day) == {JAZZ}
        assert found("jazz", city="上海") == found("jazz", category=catalogue["music"]) == set()

    def test_a_text_search_lists_at_most_the_limit_best_first(self, monkeypatch):
        monkeypatch.setattr("events.selectors.SEARCH_RESULT_LIMIT", 3)
        ApprovedEventFactory(title="爵士 爵士 爵士", description="爵士")
        for n in range(4):
            ApprovedEventFactory(title=f"音乐会 {n}", description="爵士")
        ApprovedEventFactory(title="古典")
        result = event_search(query="爵士")
        assert result.count() == 3
        assert [e.title for e in result][0] == "爵士 爵士 爵士"
        assert event_search(query="古典").count() == 1


# --- the other reads -------------------------------------------------------------------
@pytest.mark.django_db
class TestOtherReads:
    def test_who_may_see_an_event(self):
        publisher = UserFactory(role=Role.PUBLISHER)
        draft = EventFactory(publisher=publisher)
        approved = ApprovedEventFactory(publisher=publisher)
        for user in (AnonymousUser(), UserFactory(), UserFactory(role=Role.PUBLISHER), UserFactory(role=Role.ADMIN),
                     publisher):
            assert event_visible_to(event_id=approved.pk, user=user) == approved
        assert event_visible_to(event_id=draft.pk, user=AnonymousUser()) is None
        assert event_visible_to(event_id=draft.pk, user=UserFactory()) is None
        assert event_visible_to(event_id=draft.pk, user=UserFactory(role=Role.PUBLISHER)) is None
        assert event_visible_to(event_id=draft.pk, user=publisher) == draft
        assert event_visible_to(event_id=draft.pk, user=UserFactory(role=Role.ADMIN)) == draft
        assert event_visible_to(event_id=999_999, user=publisher) is None

    def test_a_publisher_lists_all_and_only_their_events_newest_first(self):
        publisher = UserFactory(role=Role.PUBLISHER)
        first = EventFactory(publisher=publisher)
        second = ApprovedEventFactory(publisher=publisher)
        EventFactory()
        assert list(event_list_for_publisher(publisher=publisher)) == [second, first]

    def test_popular_cities_count_public_events_yet_to_start(self):
        now = timezone.now()
        for city in ("上海", "上海", "北京"):
            ApprovedEventFactory(city=city)
        ApprovedEventFactory(city="北京", start_time=now - timedelta(hours=1), end_time=now + timedelta(hours=1))
        EventFactory(city="北京")
        EventFactory(city="北京", status=EventStatus.PENDING)
        assert selectors.popular_cities(limit=10) == [{"city": "上海", "events": 2}, {"city": "北京", "events": 1}]
        assert selectors.popular_cities(limit=1) == [{"city": "上海", "events": 2}]

    def test_category_roots_are_the_top_of_the_tree(self):
        shows = CategoryFactory(name_zh="演出")
        CategoryFactory(parent=shows)
        sports = CategoryFactory(name_zh="体育")
        assert list(selectors.category_roots()) == [shows, sports]

    def test_the_review_queue_holds_pending_events_longest_waiting_first(self):
        now = timezone.now()
        later = EventFactory(status=EventStatus.PENDING, submitted_at=now - timedelta(hours=1))
        earlier = EventFactory(status=EventStatus.PENDING, submitted_at=now - timedelta(days=1))
        EventFactory(status=EventStatus.DRAFT)
        ApprovedEventFactory()
        assert list(review_queue()) == [earlier, later]
