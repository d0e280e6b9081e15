"""Full-text search words for events, the same on SQLite FTS5 and MariaDB InnoDB.

Neither engine can index Chinese as shipped (InnoDB has no ngram parser on
MariaDB and skips tokens under 3 characters; FTS5's unicode61 sees a whole run of
Chinese as one token), so we index *encoded* words in `Event.search_text`:

- text is NFKC-normalised, case-folded and converted from traditional to
  simplified Chinese (OpenCC, t2s): 周杰倫 and 周杰伦 are one word, in the index
  and in a query;
- a run of CJK characters gives its overlapping bigrams (周杰伦 → 周杰 杰伦), and
  for the short fields also its single characters, so any query of two or more
  characters found anywhere in a field matches without a dictionary;
- in the short fields (title, venue, city, tags, category names; not the
  description or address) a run of Chinese characters also gives its pinyin
  without tones as one word and, from two characters on, its initials as another
  (周杰伦 → zhoujielun, zjl), and so does each word jieba cuts a longer run into
  (张学友经典演唱会 → zhangxueyou zxy, jingdian jd …). A polyphonic character is read as pypinyin reads it
  in its phrase (重庆 chongqing, 银行 yinhang), else by its most common reading;
  only that one reading is indexed: every reading of every character would
  multiply a run's words, and a buyer types the common one;
- a Latin/digit word gives the word (accents dropped) and, when they differ, its
  English stem (snowball): concert, concerts and concerting all meet in "concert";
- every token becomes [a-z0-9]{3,}: CJK "c" + base36 code points (bigram 9,
  character 5 chars), Latin "wz" + word, "xs" + stem, "xp" + pinyin, "xq" +
  initials. Nothing is shorter than InnoDB's minimum token size, nothing longer
  than its maximum (84), and nothing is an InnoDB stopword ("the", "on", "com";
  hence not "wi"/"wp" for the initials: "wi"+"th" is "with").

A query is encoded the same way and every part of it is required. A Latin word
matches as an English word (its stem, any form), as the pinyin of a Chinese run
or as its initials: `zhoujielun` and `zjl` find 周杰伦. Latin words typed apart
that are all pinyin syllables (`zhou jie lun`) also match joined, as one run's
pinyin. The last Latin word of a query matches as a prefix too, so that results
follow typing (`conc` → concerts, `zhouj` → 周杰伦), once it has
MIN_PREFIX_LENGTH letters: shorter prefixes match most of the index (every
pinyin word starting "zh") and make both engines expand thousands of words.

A run of four or more Chinese characters typed without spaces (周杰伦演唱会) may
join words that never stand side by side in an event; when the plain reading
finds too little, such a run also matches when all its characters occur in the
event's short fields (exact bigram matches still rank higher).

search_text also carries exact keys ("y…") for the city, the category and its
ancestors, and the month of the start, so that filters narrow a text search
inside the index (see events.selectors.event_search).

`refresh_search_text(event)` is the one entry point writers call after changing
an event, its tags or its category; `reindex_events()` after renaming or moving
categories or tags, and after a change to this encoding (in a data migration).
"""

import re
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import opencc
import rjieba
import snowballstemmer
from django.conf import settings
from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PINYIN_DICT
from pypinyin.contrib.tone_convert import to_normal

MAX_QUERY_TOKENS = 20
MIN_RUN_FOR_CHARACTERS = 4  # a query run this long may also match by its single characters
# InnoDB's default full-text stopwords: searchable here, but costly (in most English
# descriptions) and of no use beside other words.
ENGLISH_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when "
    "where who will with und www".split()
)
MAX_WORD_LENGTH = 60  # "wz"/"xs"/"xp"/"xq" + 60 stays under InnoDB's innodb_ft_max_token_size (84)
MIN_PREFIX_LENGTH = 3  # the last word typed matches as a prefix from this many letters on
MAX_OTHER_SCRIPT_WORD = 20  # "wy" + 4 per character, same limit

# Field weights: a token counts this many times in search_text, so a word in what
# the event is called (title, city, venue, category, tags) outranks the same word
# in its description or address (term frequency in both engines' ranking). Kept
# low: every repeat widens the row, and row reads are what search costs on MariaDB.
WEIGHT_TITLE = 2
WEIGHT_NAME = 2
WEIGHT_TEXT = 1

_CJK_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31FF),  # Bopomofo extended, Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B–H
)
_CJK_CLASS = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _CJK_RANGES)
# A run of CJK characters, or a run of other letters and digits (\w without "_").
_RUN = re.compile(f"([{_CJK_CLASS}]+)|([^\\W_{_CJK_CLASS}]+)")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_LETTERS = re.compile(r"[a-z]+")
# Chinese characters proper (no kana, hangul or bopomofo): what has a pinyin reading.
_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af]+")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=32768)
def _base36(ch: str) -> str:
    """A code point as 4 base-36 digits (36**4 > 0x10FFFF)."""
    n = ord(ch)
    digits = []
    for _ in range(4):
        n, r = divmod(n, 36)
        digits.append(_BASE36[r])
    return "".join(reversed(digits))


def _cjk_token(chars: str) -> str:
    return "c" + "".join(_base36(ch) for ch in chars)


@lru_cache(maxsize=1)
def _to_simplified() -> opencc.OpenCC:
    """OpenCC's traditional → simplified converter, loaded once per process."""
    return opencc.OpenCC("t2s")


_stemmer = snowballstemmer.stemmer("english")
_stemmer_lock = threading.Lock()  # a snowball stemmer keeps its state in the object


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """The English stem of an ASCII word (concerts → concert); numbers stay as they are."""
    if not _LETTERS.search(word):
        return word
    with _stemmer_lock:
        return _stemmer.stemWord(word)


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable of pypinyin's dictionary (zhou, jie, lun, nv …)."""
    return frozenset(to_normal(reading) for readings in PINYIN_DICT.values() for reading in readings.split(","))


def _pinyin_pair(syllables: list[str]) -> list[str]:
    """xp + the syllables joined; xq + their initials when there are two or more
    (Style.FIRST_LETTER's initials are the first letters of the syllables: zh → z)."""
    tokens = ["xp" + "".join(syllables)[:MAX_WORD_LENGTH]]
    if len(syllables) > 1:
        tokens.append("xq" + "".join(s[0] for s in syllables)[:MAX_WORD_LENGTH])
    return tokens


@lru_cache(maxsize=65536)
def _pinyin_tokens(run: str) -> tuple[str, ...]:
    """Pinyin and initials of each Chinese part of a CJK run, and of each word jieba
    cuts it into: a title typed without spaces (张学友经典演唱会) is found by
    zhangxueyou and zxy, not only by the whole run's zhangxueyoujingdianyanchanghui."""
    tokens = []
    for han in _HAN_RUN.findall(run):
        syllables = [s for s in lazy_pinyin(han, style=Style.NORMAL, errors="ignore") if _LETTERS.fullmatch(s)]
        if not syllables:
            continue
        tokens += _pinyin_pair(syllables)
        if len(han) < 3 or len(syllables) != len(han):
            continue  # one syllable per character, else the words' readings cannot be cut out
        start = 0
        for word in rjieba.cut(han):
            if 1 < len(word) < len(han):
                # Cut from the whole run's reading: a polyphonic character keeps its reading in context.
                tokens += _pinyin_pair(syllables[start : start + len(word)])
            start += len(word)
    return tuple(dict.fromkeys(tokens))


@lru_cache(maxsize=65536)
def _ascii_word(word: str) -> str | None:
    """The word without accents (café → cafe, Müller → muller) if that leaves only a-z and 0-9."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))
    return folded if _ASCII_WORD.fullmatch(folded) else None


def _word_token(word: str) -> str | None:
    if (ascii_word := _ascii_word(word)) is not None:
        return "wz" + ascii_word[:MAX_WORD_LENGTH]
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))
    folded = "".join(ch for ch in folded if ch.isalnum())
    if not folded:
        return None
    # Other scripts (Cyrillic, Greek, Thai …): code points, like CJK, behind "wy".
    return "wy" + "".join(_base36(ch) for ch in folded[:MAX_OTHER_SCRIPT_WORD])


def _runs(text: str) -> Iterable[tuple[str, str]]:
    """("cjk" | "word", run) pieces of normalised text; everything else separates."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    if text and not text.isascii():
        text = _to_simplified().convert(text)
    for match in _RUN.finditer(text):
        yield ("cjk", match[1]) if match[1] else ("word", match[2])


def _bigrams(run: str) -> list[str]:
    return [_cjk_token(run[i : i + 2]) for i in range(len(run) - 1)]


@lru_cache(maxsize=8192)
def _alias_key(name: str) -> frozenset[str]:
    """What an event's short fields must all hold to contain this name: its words (and stems) and
    its Chinese characters' pairs, as a description would be indexed."""
    return frozenset(_text_tokens(name, short=False))


@lru_cache(maxsize=8192)
def _name_tokens(text: str) -> tuple[str, ...]:
    """_text_tokens of a short field other than the title: cities, venues, categories
    and tags repeat across events, and bulk loaders encode thousands of them."""
    return tuple(_text_tokens(text, short=True))


def _text_tokens(text: str, *, short: bool) -> list[str]:
    """Tokens of one field. short: a name-like field (title, venue, city, tag,
    category), which also gets single CJK characters and pinyin."""
    tokens = []
    for kind, run in _runs(text):
        if kind == "word":
            if token := _word_token(run):
                tokens.append(token)
                ascii_word = _ascii_word(run)
                if ascii_word is not None and (stem := _stem(ascii_word)) != ascii_word:
                    tokens.append("xs" + stem[:MAX_WORD_LENGTH])
            continue
        tokens.extend(_bigrams(run))
        if short or len(run) == 1:
            # A lone character in a long field is kept too: it is the whole word there.
            tokens.extend(_cjk_token(ch) for ch in run)
        if short:
            tokens.extend(_pinyin_tokens(run))
    return tokens


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment, with a space wherever a tag was (<p>a</p><p>b</p> ≠ "ab")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html or "")
    parser.close()
    return "".join(parser.parts)


# --- filter keys -------------------------------------------------------------------
# Exact keys for the selective filters (city, category subtree, month of the start),
# indexed with the words. A text search with such a filter then narrows inside the
# full-text index instead of reading the row of every text match; the SQL filters
# still decide, the keys only preselect. Prefix "y": never a word or CJK token.
MAX_FILTER_MONTHS = 12  # a longer date range is not worth a key


def _int36(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 36)
        digits = _BASE36[r] + digits
        if not n:
            return digits


def _fold_name(name: str) -> str:
    """As the databases compare names: case, width and accents ignored, spaces trimmed."""
    name = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name or "").casefold())
    return " ".join("".join(ch for ch in name if not unicodedata.combining(ch)).split())


def city_key(city: str) -> str | None:
    folded = _fold_name(city)
    return "yc" + _int36(zlib.crc32(folded.encode())) if folded else None


def category_key(category_id: int) -> str:
    return "yk" + _int36(int(category_id))


def _month(day: date) -> str:
    return f"ym{day.year:04d}{day.month:02d}"


def month_key(moment: datetime) -> str:
    """The month of a start time, in the site's time zone."""
    return _month(moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date())


def month_keys(first: date | datetime, last: date | datetime) -> list[str] | None:
    """Keys of every month a start between these two days may fall in (a day of
    slack each side for other time zones); None when the range is too long."""
    first = (first.date() if isinstance(first, datetime) else first) - timedelta(days=1)
    last = (last.date() if isinstance(last, datetime) else last) + timedelta(days=1)
    keys, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        keys.append(_month(date(year, month, 1)))
        if len(keys) > MAX_FILTER_MONTHS:
            return None
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def index_text_from(
    *,
    title: str,
    description: str = "",
    venue: str = "",
    city: str = "",
    address: str = "",
    category_names: Iterable[str] = (),
    tags: Iterable[str] = (),
    category_ids: Iterable[int] = (),
    start_time: datetime | None = None,
    aliases: Iterable[Sequence[str]] = (),
) -> str:
    """search_text for these field values (no database access: bulk loaders use it).

    category_names and category_ids: the event's category and all its ancestors.
    aliases: groups of names that mean one thing (models.SearchAlias.name_list); when the
    short fields hold every word of one name of a group, the others are indexed as names too.
    """
    weights: dict[str, int] = {}  # insertion order = first appearance

    def add(tokens: Iterable[str], weight: int) -> None:
        for token in tokens:
            if weights.get(token, 0) < weight:
                weights[token] = weight

    add(_text_tokens(title, short=True), WEIGHT_TITLE)
    for text in (city, venue, *category_names, *tags):
        add(_name_tokens(text or ""), WEIGHT_NAME)
    names = set(weights)
    for group in aliases:
        if any((needed := _alias_key(name)) and needed <= names for name in group):
            for name in group:
                add(_name_tokens(name), WEIGHT_NAME)
    add(_text_tokens(html_to_text(description), short=False), WEIGHT_TEXT)
    add(_text_tokens(address, short=False), WEIGHT_TEXT)
    # Each token once per weight level: "a b c a b" for weights a=2, b=2, c=1.
    words = [t for level in range(1, max(weights.values(), default=0) + 1) for t, w in weights.items() if w >= level]
    keys = [city_key(city), *(category_key(pk) for pk in category_ids),
            month_key(start_time) if start_time else None]
    return " ".join(words + [key for key in dict.fromkeys(keys) if key])


def alias_groups() -> list[list[str]]:
    """Every SearchAlias's names (one small statement)."""
    from events.models import SearchAlias

    return [alias.name_list() for alias in SearchAlias.objects.all()]


def index_text(event, *, aliases: list[list[str]] | None = None) -> str:
    """search_text for a saved event: its fields, category (with ancestors), tags and aliases
    (read from the database unless given)."""
    category = event.category
    categories = [*type(category).objects.get_ancestors(category), category]
    return index_text_from(
        title=event.title,
        description=event.description,
        venue=event.venue,
        city=event.city,
        address=event.address,
        category_names=[name for c in categories for name in (c.name_zh, c.name_en)],
        tags=[tag.name for tag in event.tags.all()],
        category_ids=[c.pk for c in categories],
        start_time=event.start_time,
        aliases=alias_groups() if aliases is None else aliases,
    )


def refresh_search_text(event, *, aliases: list[list[str]] | None = None) -> None:
    """Recompute and store event.search_text; call after the event's tags are set.

    Writes only that column (a queryset update: no signals, updated_at unchanged).
    The database index follows on commit (InnoDB) or at once (FTS5 triggers).
    """
    from events.models import Event

    text = index_text(event, aliases=aliases)
    Event.objects.filter(pk=event.pk).update(search_text=text)
    event.search_text = text


def reindex_events(queryset=None, *, batch_size: int = 500) -> int:
    """refresh_search_text for many events (after a category or tag is renamed); returns how many."""
    from events.models import Event

    queryset = Event.objects.all() if queryset is None else queryset
    aliases = alias_groups()
    done = 0
    for event in queryset.select_related("category").prefetch_related("tags").order_by("pk").iterator(batch_size):
        refresh_search_text(event, aliases=aliases)
        done += 1
    return done


def reindex_events_operation(apps, schema_editor) -> None:
    """RunPython(events.search.reindex_events_operation) in a data migration after a
    change to this encoding: what reindex_events() does, on the migration's own
    (historical) models, so that later changes to the models cannot break it.
    On SQLite the FTS5 triggers carry each new search_text into the index."""
    Event = apps.get_model("events", "Event")
    Category = apps.get_model("events", "Category")
    steplen = 4  # treebeard MP_Node: a node's ancestors are the prefixes of its path
    by_path = {c.path: c for c in Category.objects.using(schema_editor.connection.alias)}
    try:  # the aliases, from the migration that made them on
        aliases = [[" ".join(line.split()) for line in a.names.splitlines() if line.strip()]
                   for a in apps.get_model("events", "SearchAlias").objects.using(schema_editor.connection.alias)]
    except LookupError:
        aliases = []
    events = (Event.objects.using(schema_editor.connection.alias).select_related("category")
              .prefetch_related("tags").order_by("pk"))
    batch = []
    for event in events.iterator(chunk_size=500):
        path = event.category.path
        chain = [by_path[path[:i]] for i in range(steplen, len(path) + 1, steplen) if path[:i] in by_path]
        event.search_text = index_text_from(
            title=event.title, description=event.description, venue=event.venue, city=event.city,
            address=event.address, category_names=[n for c in chain for n in (c.name_zh, c.name_en)],
            tags=[t.name for t in event.tags.all()], category_ids=[c.pk for c in chain],
            start_time=event.start_time, aliases=aliases,
        )
        batch.append(event)
        if len(batch) >= 500:
            Event.objects.using(schema_editor.connection.alias).bulk_update(batch, ["search_text"])
            batch = []
    if batch:
        Event.objects.using(schema_editor.connection.alias).bulk_update(batch, ["search_text"])


# --- the SQLite index ------------------------------------------------------------
# An external-content FTS5 table over events_event.search_text (migration 0002).
# Triggers keep it in step; they belong to events_event, so a migration that makes
# Django rebuild that table on SQLite drops them and must install them again.
FTS_TABLE = "events_event_fts"
SQLITE_FTS_TRIGGERS = {
    "events_event_fts_ai": f"""AFTER INSERT ON events_event BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    "events_event_fts_ad": f"""AFTER DELETE ON events_event BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    END""",
    # Only when search_text changes: inventory updates (tickets_left, prices) leave the index alone.
    "events_event_fts_au": f"""AFTER UPDATE OF id, search_text ON events_event
    WHEN old.search_text IS NOT new.search_text OR old.id != new.id BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) VALUES ('delete', old.id, old.search_text);
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
}


def install_sqlite_fts_triggers(schema_editor) -> None:
    """(Re)create the FTS5 triggers; idempotent. For migrations that rebuild events_event on SQLite."""
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, body in SQLITE_FTS_TRIGGERS.items():
        schema_editor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def install_sqlite_fts_triggers_operation(apps, schema_editor) -> None:
    """RunPython(events.search.install_sqlite_fts_triggers_operation) in such a migration:
    triggers back, and the index rebuilt from the table in case rows changed meanwhile."""
    if schema_editor.connection.vendor == "sqlite":
        install_sqlite_fts_triggers(schema_editor)
        schema_editor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


# --- queries ------------------------------------------------------------------
# A parsed query is a list of clauses, all required. A clause is a list of
# alternatives, any one of which may match; an alternative is a list of terms,
# all required; a term is a token, or a list of tokens any one of which will do.
# A token ending in "*" matches every indexed token it begins.
Term = str | list[str]
Clause = list[list[Term]]


def _latin_word_tokens(word: str, *, last: bool) -> list[str]:
    """What an ASCII query word may match, any one of them: the English word (its
    stem, so any form), the pinyin of a run, its initials; as a prefix when last."""
    stem = _stem(word)[:MAX_WORD_LENGTH]
    word = word[:MAX_WORD_LENGTH]
    tokens = ["wz" + stem, "xs" + stem]
    letters = bool(_LETTERS.fullmatch(word))
    if letters:
        tokens.append("xp" + word)
        if len(word) > 1:
            tokens.append("xq" + word)
    if last and len(word) >= MIN_PREFIX_LENGTH:
        # The exact tokens stay beside their prefixes: an exact match then scores twice.
        tokens.append(f"wz{word}*")
        if letters:
            tokens += [f"xp{word}*", f"xq{word}*"]
    return list(dict.fromkeys(tokens))


def _syllable_groups(words: list[str | None]) -> list[tuple[int, int]]:
    """(start, end) of each stretch of two or more consecutive query words that
    are all pinyin syllables (zhou jie lun); None in words breaks a stretch."""
    syllables = _pinyin_syllables()
    groups, start = [], None
    for i, word in enumerate([*words, None]):
        if word is not None and word in syllables:
            start = i if start is None else start
            continue
        if start is not None and i - start > 1:
            groups.append((start, i))
        start = None
    return groups


def query_words(q: str) -> list[str]:
    """The Latin words of a query as query_clauses reads them (folded, accents off)."""
    return [word for kind, run in _runs(q) if kind == "word" and (word := _ascii_word(run)) is not None]


def query_clauses(q: str, *, relaxed: bool = False, typos: Mapping[str, Sequence[str]] | None = None) -> list[Clause]:
    """The query as required clauses (empty when it has no searchable characters).

    typos: for a Latin word of the query (as query_words gives it), known words it may be a
    mistyping of (events.selectors.typo_corrections): each of them also satisfies the word.

    relaxed: a run of MIN_RUN_FOR_CHARACTERS or more Chinese characters also
    matches by its single characters (see the module docstring). The selector asks
    for this only when the plain reading finds less than a page: common characters
    make it several times dearer.
    English stopwords ("the", "on") are required only when the query has nothing
    else: "the show" looks for "show", "on" for "on".
    A Latin word is any of its readings (_latin_word_tokens); the last word of the
    query also as a prefix. Pinyin syllables typed apart also match joined.
    """
    runs = list(_runs(q))
    # ASCII words by position (None: a CJK run or another script), for the syllable stretches.
    ascii_words = [_ascii_word(run) if kind == "word" else None for kind, run in runs]
    groups = {start: end for start, end in _syllable_groups(ascii_words)}
    clauses: list[Clause] = []
    stopwords: list[Clause] = []
    seen: set[str] = set()
    budget = MAX_QUERY_TOKENS
    position = 0
    while position < len(runs) and budget > 0:
        kind, run = runs[position]
        if position in groups:
            end = groups[position]
            words = ascii_words[position:end][:budget]
            key = "xp" + "".join(words)
            position = end
            if key in seen:
                continue
            seen.add(key)
            at_end = end == len(runs)
            apart: list[Term] = [_latin_word_tokens(w, last=at_end and i == len(words) - 1)
                                 for i, w in enumerate(words)]
            joined = "xp" + "".join(words)[:MAX_WORD_LENGTH]
            alternatives: list[list[Term]] = [apart, [joined]]
            if at_end:
                alternatives.append([joined + "*"])
            clauses.append(alternatives)
            budget -= len(words)
            continue
        position += 1
        if kind == "word":
            token = _word_token(run)
            if not token or token in seen:
                continue
            seen.add(token)
            budget -= 1
            ascii_word = ascii_words[position - 1]
            if run in ENGLISH_STOPWORDS:
                stopwords.append([[token]])
            elif ascii_word is None:
                clauses.append([[token]])
            else:
                readings = _latin_word_tokens(ascii_word, last=position == len(runs))
                for near in (typos or {}).get(ascii_word, ()):
                    readings += [t for t in _latin_word_tokens(near, last=False) if t not in readings]
                clauses.append([[reading] for reading in readings])
            continue
        run = run[: budget + 1]  # n characters give n-1 bigrams
        if len(run) == 1:
            alternatives = [[_cjk_token(run)]]
        else:
            alternatives = [list(dict.fromkeys(_bigrams(run)))]
            if relaxed and len(run) >= MIN_RUN_FOR_CHARACTERS:
                # 周杰伦演唱会 has the bigram 伦演 no event contains: also accept
                # every character somewhere in the short fields.
                alternatives.append(list(dict.fromkeys(_cjk_token(ch) for ch in run)))
        key = " ".join(alternatives[0])
        if key in seen:
            continue
        seen.add(key)
        clauses.append(alternatives)
        budget -= len(alternatives[0])
    return clauses or stopwords


def _tokens_of(terms: list[Term]) -> list[str]:
    return [token for term in terms for token in ([term] if isinstance(term, str) else term)]


def query_tokens(q: str) -> list[str]:
    """The tokens of each clause's first reading (bigrams of CJK runs, the word of a Latin word)."""
    return [token for clause in query_clauses(q) for token in _tokens_of(clause[0])]


def mysql_boolean_query(clauses: list[Clause]) -> str:
    """For MATCH(search_text) AGAINST(%s IN BOOLEAN MODE). Tokens are [a-z0-9] only, "*" for a prefix."""

    def term(t: Term) -> str:
        if isinstance(t, str) or len(t) == 1:
            return "+" + (t if isinstance(t, str) else t[0])
        return "+(" + " ".join(t) + ")"

    def group(terms: list[Term]) -> str:
        return " ".join(term(t) for t in terms)

    parts = []
    for alternatives in clauses:
        if len(alternatives) == 1:
            parts.append(group(alternatives[0]))
            continue
        # Alternatives of one term each go in as their bare tokens, +(a b c), not +((+a) (+b) (+c)):
        # the same matches, and InnoDB evaluates the flat form in two thirds of the time (a
        # broad word's readings, "show" at 100,000 events: 105 ms against 166).
        items = [token for a in alternatives if len(a) == 1 for token in _tokens_of(a)]
        items += [f"({group(a)})" for a in alternatives if len(a) > 1]
        parts.append("+(" + " ".join(items) + ")")
    return " ".join(parts)


def fts5_query(clauses: list[Clause]) -> str:
    """For `events_event_fts MATCH %s`. Every token quoted (FTS5 syntax needs no escaping then)."""

    def token(t: str) -> str:
        return f'"{t[:-1]}"*' if t.endswith("*") else f'"{t}"'

    def term(t: Term) -> str:
        if isinstance(t, str) or len(t) == 1:
            return token(t if isinstance(t, str) else t[0])
        return "(" + " OR ".join(token(one) for one in t) + ")"

    def group(terms: list[Term]) -> str:
        return " AND ".join(term(t) for t in terms)

    parts = []
    for alternatives in clauses:
        if len(alternatives) == 1:
            parts.append(group(alternatives[0]))
        else:
            parts.append("(" + " OR ".join(f"({group(a)})" for a in alternatives) + ")")
    return " AND ".join(parts)
