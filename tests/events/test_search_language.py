"""Search that understands what buyers type (events.search): traditional and
simplified characters alike, pinyin in full and by initials, the prefix of the
last word while typing, English stems. Each class runs against a small catalogue
and its ground truth, written out here from the titles and fields (not computed
by the code under test), on both engines (MariaDB InnoDB FULLTEXT, SQLite FTS5).

InnoDB's full-text index only sees committed rows, hence transaction=True.
"""

import re
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection

from events import search
from events.models import Event
from events.selectors import event_search
from tests.events.factories import ApprovedEventFactory, CategoryFactory

full_text = pytest.mark.django_db(transaction=True)
TOKEN = re.compile(r"[a-z0-9]{3,84}")  # InnoDB: innodb_ft_min_token_size 3, innodb_ft_max_token_size 84


def found(query: str) -> set[str]:
    return {event.title for event in event_search(query=query)}


def assert_recall(query: str, truth: set[str]) -> None:
    """Every event of the ground truth is found (recall 1) and nothing else (precision 1)."""
    result = found(query)
    recall = len(result & truth) / len(truth) if truth else 1.0
    assert recall == 1.0, f"{query!r}: recall {recall:.2f}, missed {truth - result}"
    assert result == truth, f"{query!r}: also found {result - truth}"


# Titles, and for each the facts the queries below are judged by.
JAY_BEIJING = "周杰伦 嘉年华世界巡回演唱会 北京站"
JAY_TAIPEI = "周杰倫 地表最強 演唱會 台北站"  # traditional characters
JAY_SHANGHAI = "周杰伦 2026 巡演 上海站"
JACKY_HONGKONG = "张学友 经典世界巡回演唱会"
JACKY_GUANGZHOU = "張學友 演唱會 廣州站"  # traditional characters
JACKY_SHENZHEN = "张学友经典演唱会"  # typed without spaces
MAYDAY = "五月天 诺亚方舟"
HOTPOT = "重庆 火锅音乐节"  # 重: chong here, zhong elsewhere
JAZZ = "Jazz Concerts at the Bund"
SYMPHONY = "Symphony Concert Night"
CHOIR = "Concerting Voices"
FESTIVAL = "Summer Festival"  # "concerts" only in its description
CONCH = "Conch Shell Exhibition"
COMEDY = "Stand-up Comedy Night"

JAY = {JAY_BEIJING, JAY_TAIPEI, JAY_SHANGHAI}  # every title with 周杰伦, in either script
JACKY = {JACKY_HONGKONG, JACKY_GUANGZHOU, JACKY_SHENZHEN}
CONCERT_WORDS = {JAZZ, SYMPHONY, CHOIR, FESTIVAL}  # concert, concerts, concerting in title or description
STARTS_CONC = CONCERT_WORDS | {CONCH}  # a word beginning "conc"
IN_BEIJING = {JAY_BEIJING, MAYDAY}  # city 北京


@pytest.fixture
def catalogue():
    concerts = CategoryFactory(name_zh="演唱会", name_en="Live")
    other = CategoryFactory(name_zh="其他", name_en="Other")
    ApprovedEventFactory(title=JAY_BEIJING, city="北京", venue="国家体育场", category=concerts, tags=["流行"])
    ApprovedEventFactory(title=JAY_TAIPEI, city="台北", venue="台北小巨蛋", category=concerts)
    ApprovedEventFactory(title=JAY_SHANGHAI, city="上海", venue="梅赛德斯奔驰文化中心", category=concerts)
    ApprovedEventFactory(title=JACKY_HONGKONG, city="香港", venue="红磡体育馆", category=concerts)
    ApprovedEventFactory(title=JACKY_GUANGZHOU, city="广州", venue="天河体育中心", category=concerts)
    ApprovedEventFactory(title=JACKY_SHENZHEN, city="深圳", venue="深圳湾体育中心", category=concerts)
    ApprovedEventFactory(title=MAYDAY, city="北京", venue="鸟巢", category=concerts)
    ApprovedEventFactory(title=HOTPOT, city="重庆", venue="解放碑", category=other)
    ApprovedEventFactory(title=JAZZ, city="上海", venue="外滩", category=other)
    ApprovedEventFactory(title=SYMPHONY, city="杭州", venue="杭州大剧院", category=other)
    ApprovedEventFactory(title=CHOIR, city="杭州", venue="杭州大剧院", category=other)
    ApprovedEventFactory(title=FESTIVAL, city="杭州", venue="西湖", category=other,
                         description="<p>Two open-air concerts by the lake.</p>")
    ApprovedEventFactory(title=CONCH, city="杭州", venue="浙江自然博物馆", category=other)
    ApprovedEventFactory(title=COMEDY, city="杭州", venue="杭州大剧院", category=other)
    return {"concerts": concerts}


@full_text
class TestTraditionalIsSimplified:
    def test_a_name_in_either_script_finds_both(self, catalogue):
        for query in ("周杰伦", "周杰倫"):
            assert_recall(query, JAY)
        for query in ("张学友", "張學友"):
            assert_recall(query, JACKY)
        assert_recall("張學友經典", {JACKY_HONGKONG, JACKY_SHENZHEN})

    def test_a_traditional_word_finds_titles_and_categories_written_simplified(self, catalogue):
        everything_live = JAY | JACKY | {MAYDAY}  # the category 演唱会
        assert_recall("演唱會", everything_live)
        assert_recall("演唱会", everything_live)

    def test_mixed_scripts_in_one_query(self, catalogue):
        assert_recall("周杰倫 台北", {JAY_TAIPEI})
        assert_recall("張學友 广州", {JACKY_GUANGZHOU})


@full_text
class TestPinyin:
    def test_full_pinyin_initials_and_syllables_apart_find_an_artist(self, catalogue):
        for query in ("zhoujielun", "ZhouJieLun", "zjl", "zhou jie lun", "zhouj"):
            assert_recall(query, JAY)
        for query in ("zhangxueyou", "zxy", "zhang xue you"):
            assert_recall(query, JACKY)
        assert_recall("wuyuetian", {MAYDAY})

    def test_the_words_of_a_run_typed_without_spaces_have_their_own_pinyin(self, catalogue):
        assert_recall("zhangxueyou jingdian", {JACKY_HONGKONG, JACKY_SHENZHEN})
        assert_recall("zxy shenzhen", {JACKY_SHENZHEN})
        assert_recall("zhangxueyoujingdianyanchanghui", {JACKY_SHENZHEN})

    def test_pinyin_finds_cities_venues_tags_and_categories(self, catalogue):
        assert_recall("beijing", IN_BEIJING)
        assert_recall("bj", IN_BEIJING)
        assert_recall("guojiatiyuchang", {JAY_BEIJING})
        assert_recall("gjtyc", {JAY_BEIJING})
        assert_recall("liuxing", {JAY_BEIJING})
        assert_recall("yanchanghui", JAY | JACKY | {MAYDAY})

    def test_a_polyphonic_character_is_read_as_in_its_phrase(self, catalogue):
        assert_recall("chongqing", {HOTPOT})
        assert_recall("cq", {HOTPOT})
        assert_recall("zhongqing", set())

    def test_pinyin_combines_with_other_words_and_finds_nothing_extra(self, catalogue):
        assert_recall("zjl beijing", {JAY_BEIJING})
        assert_recall("zhoujielun 上海", {JAY_SHANGHAI})
        assert_recall("zhangxueyou zjl", set())
        assert_recall("xyzzyq", set())
        assert_recall("zhoujielunn", set())

    def test_pinyin_is_indexed_for_names_not_descriptions(self):
        ApprovedEventFactory(title="Evening", description="<p>周杰伦 的歌</p>")
        assert found("周杰伦") == {"Evening"}
        assert found("zhoujielun") == set()


@full_text
class TestPrefixWhileTyping:
    def test_the_last_word_matches_as_a_prefix(self, catalogue):
        assert_recall("conc", STARTS_CONC)
        assert_recall("Conce", CONCERT_WORDS)
        assert_recall("zhouj", JAY)
        assert_recall("zhangx", JACKY)
        assert_recall("jazz conc", {JAZZ})

    def test_only_the_last_word_is_a_prefix(self, catalogue):
        assert_recall("conc jazz", set())
        assert_recall("zhouj 上海", set())

    def test_a_prefix_needs_three_letters(self, catalogue):
        assert search.MIN_PREFIX_LENGTH == 3
        assert_recall("co", set())
        assert_recall("zh", set())
        assert_recall("con", STARTS_CONC)
        assert_recall("zhou", JAY)

    def test_prefix_search_syntax_typed_by_the_buyer_is_only_a_word(self, catalogue):
        assert found("conc*") == found("conc") == STARTS_CONC
        assert found("-conc") == found("(conc)") == STARTS_CONC
        assert found("+jazz -conc") == {JAZZ}  # both words required, the last a prefix


@full_text
class TestEnglishStems:
    def test_every_form_of_a_word_finds_the_same_events(self, catalogue):
        # Not the last word of the query, so that no prefix helps: the stem alone decides.
        for word in ("concert", "concerts", "Concerts", "concerting"):
            assert_recall(f"{word} 杭州", {SYMPHONY, CHOIR, FESTIVAL})
            assert {event.title for event in event_search(query=word)} >= CONCERT_WORDS

    def test_a_stem_never_joins_different_words(self, catalogue):
        assert_recall("comedies", {COMEDY})
        assert_recall("nights 杭州", {SYMPHONY, COMEDY})
        assert_recall("exhibitions", {CONCH})
        # concerto is not a form of concert: it has its own stem. (A search for it finds concerts as a
        # typo, when nothing holds "concerto": tests/events/test_search_typos.py.)
        assert search._stem("concerto") != search._stem("concert")
        assert search.query_clauses("concerto") != search.query_clauses("concert")


class TestTokenLimits:
    def test_long_titles_and_runs_give_no_token_over_the_engines_limit(self):
        text = search.index_text_from(
            title="周杰倫" * 70 + " " + "supercalifragilistic" * 10 + " " + "Ωμέγα" * 30,
            venue="国家体育场" * 40, city="重庆" * 50, tags=["流行" * 60], category_names=["演唱会" * 40],
            description="concerts" * 40, start_time=datetime(2026, 12, 31, 20, tzinfo=ZoneInfo("Asia/Shanghai")),
        )
        tokens = text.split()
        assert any(t.startswith("xp") for t in tokens) and any(t.startswith("xq") for t in tokens)
        for token in tokens:
            assert TOKEN.fullmatch(token), token
            assert token not in search.ENGLISH_STOPWORDS

    def test_initials_and_stems_never_spell_an_innodb_stopword(self):
        # "wi" + initials would: 天河 → "with", 流浪 → "will".
        tokens = search.index_text_from(title="天河 流浪 文化 is was", venue="会议", city="万安").split()
        assert not set(tokens) & search.ENGLISH_STOPWORDS

    def test_a_query_word_longer_than_the_limit_is_cut_like_the_index(self):
        for clause in search.query_clauses("zhoujielun" * 20 + " " + "周杰倫" * 30):
            for alternative in clause:
                for term in alternative:
                    for token in [term] if isinstance(term, str) else term:
                        assert TOKEN.fullmatch(token.removesuffix("*")), token


@full_text
class TestLongRunsOnTheEngine:
    def test_an_overlong_run_is_found_by_its_cut_pinyin(self):
        long_title = "周杰伦" * 60  # 600 letters of pinyin
        ApprovedEventFactory(title=long_title)
        ApprovedEventFactory(title="Other")
        # Index and query both keep the first MAX_WORD_LENGTH letters.
        assert found("zhoujielun" * 20) == {long_title}
        assert found("周杰倫" * 3) == {long_title}


@full_text
class TestReindexMigration:
    def test_the_data_migration_rewrites_rows_in_the_new_encoding(self, catalogue):
        Event.objects.update(search_text="wzstale")  # as an older encoding left them
        assert found("zjl") == set()
        search.reindex_events_operation(apps, SimpleNamespace(connection=connection))
        assert_recall("zjl", JAY)
        assert_recall("周杰倫", JAY)
        assert found("stale") == set()
        event = Event.objects.get(title=JAY_BEIJING)
        before = event.search_text
        search.refresh_search_text(event)
        assert event.search_text == before  # the same words as the writers' entry point
