"""Full-text search words for events, the same on SQLite FTS5 and MariaDB InnoDB.

Neither engine can index Chinese as shipped (InnoDB has no ngram parser on
MariaDB and skips tokens under 3 characters; FTS5's unicode61 sees a whole run of
Chinese as one token), so we index *encoded* words in `Event.search_text`:

- text is NFKC-normalised and case-folded;
- a run of CJK characters gives its overlapping bigrams (周杰伦 → 周杰 杰伦), and
  for the short fields also its single characters, so any query of two or more
  characters found anywhere in a field matches without a dictionary;
- a Latin/digit word gives the word (accents dropped);
- every token becomes [a-z0-9]{3,}: CJK "c" + base36 code points (bigram 9,
  character 5 chars), Latin "wz" + word. Nothing is shorter than InnoDB's
  minimum token size, and nothing is an InnoDB stopword ("the", "on", "com").

A query is encoded the same way and every part of it is required. A run of four
or more Chinese characters typed without spaces (周杰伦演唱会) may join words that
never stand side by side in an event; when the plain reading finds too little,
such a run also matches when all its characters occur in the event's short
fields (exact bigram matches still rank higher).

search_text also carries exact keys ("y…") for the city, the category and its
ancestors, and the month of the start, so that filters narrow a text search
inside the index (see events.selectors.event_search).

`refresh_search_text(event)` is the one entry point writers call after changing
an event, its tags or its category; `reindex_events()` after renaming or moving
categories or tags.
"""

import re
import unicodedata
import zlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from django.conf import settings

MAX_QUERY_TOKENS = 20
MIN_RUN_FOR_CHARACTERS = 4  # a query run this long may also match by its single characters
# InnoDB's default full-text stopwords: searchable here, but costly (in most English
# descriptions) and of no use beside other words.
ENGLISH_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when "
    "where who will with und www".split()
)
MAX_WORD_LENGTH = 60  # "wz" + 60 stays under InnoDB's innodb_ft_max_token_size (84)
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


def _word_token(word: str) -> str | None:
    # Accents off: café → cafe, Müller → muller (NFKD splits, we drop the marks).
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))
    if _ASCII_WORD.fullmatch(folded):
        return "wz" + folded[:MAX_WORD_LENGTH]
    folded = "".join(ch for ch in folded if ch.isalnum())
    if not folded:
        return None
    # Other scripts (Cyrillic, Greek, Thai …): code points, like CJK, behind "wy".
    return "wy" + "".join(_base36(ch) for ch in folded[:MAX_OTHER_SCRIPT_WORD])


def _runs(text: str) -> Iterable[tuple[str, str]]:
    """("cjk" | "word", run) pieces of normalised text; everything else separates."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    for match in _RUN.finditer(text):
        yield ("cjk", match[1]) if match[1] else ("word", match[2])


def _bigrams(run: str) -> list[str]:
    return [_cjk_token(run[i : i + 2]) for i in range(len(run) - 1)]


def _text_tokens(text: str, *, unigrams: bool) -> list[str]:
    tokens = []
    for kind, run in _runs(text):
        if kind == "word":
            if token := _word_token(run):
                tokens.append(token)
            continue
        tokens.extend(_bigrams(run))
        if unigrams or len(run) == 1:
            # A lone character in a long field is kept too: it is the whole word there.
            tokens.extend(_cjk_token(ch) for ch in run)
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
) -> str:
    """search_text for these field values (no database access: bulk loaders use it).

    category_names and category_ids: the event's category and all its ancestors.
    """
    weights: dict[str, int] = {}  # insertion order = first appearance

    def add(text: str, weight: int, *, unigrams: bool) -> None:
        for token in _text_tokens(text, unigrams=unigrams):
            if weights.get(token, 0) < weight:
                weights[token] = weight

    add(title, WEIGHT_TITLE, unigrams=True)
    for text in (city, venue, *category_names, *tags):
        add(text, WEIGHT_NAME, unigrams=True)
    add(html_to_text(description), WEIGHT_TEXT, unigrams=False)
    add(address, WEIGHT_TEXT, unigrams=False)
    # Each token once per weight level: "a b c a b" for weights a=2, b=2, c=1.
    words = [t for level in range(1, max(weights.values(), default=0) + 1) for t, w in weights.items() if w >= level]
    keys = [city_key(city), *(category_key(pk) for pk in category_ids),
            month_key(start_time) if start_time else None]
    return " ".join(words + [key for key in dict.fromkeys(keys) if key])


def index_text(event) -> str:
    """search_text for a saved event: its fields, category (with ancestors) and tags."""
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
    )


def refresh_search_text(event) -> None:
    """Recompute and store event.search_text; call after the event's tags are set.

    Writes only that column (a queryset update: no signals, updated_at unchanged).
    The database index follows on commit (InnoDB) or at once (FTS5 triggers).
    """
    from events.models import Event

    text = index_text(event)
    Event.objects.filter(pk=event.pk).update(search_text=text)
    event.search_text = text


def reindex_events(queryset=None, *, batch_size: int = 500) -> int:
    """refresh_search_text for many events (after a category or tag is renamed); returns how many."""
    from events.models import Event

    queryset = Event.objects.all() if queryset is None else queryset
    done = 0
    for event in queryset.select_related("category").prefetch_related("tags").order_by("pk").iterator(batch_size):
        refresh_search_text(event)
        done += 1
    return done


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
# alternatives, any one of which may match; an alternative is a list of tokens,
# all required.
Clause = list[list[str]]


def query_clauses(q: str, *, relaxed: bool = False) -> list[Clause]:
    """The query as required clauses (empty when it has no searchable characters).

    relaxed: a run of MIN_RUN_FOR_CHARACTERS or more Chinese characters also
    matches by its single characters (see the module docstring). The selector asks
    for this only when the plain reading finds less than a page: common characters
    make it several times dearer.
    English stopwords ("the", "on") are required only when the query has nothing
    else: "the show" looks for "show", "on" for "on".
    """
    clauses: list[Clause] = []
    stopwords: list[Clause] = []
    seen: set[str] = set()
    budget = MAX_QUERY_TOKENS
    for kind, run in _runs(q):
        if budget <= 0:
            break
        if kind == "word":
            token = _word_token(run)
            if token and token not in seen:
                seen.add(token)
                (stopwords if run in ENGLISH_STOPWORDS else clauses).append([[token]])
                budget -= 1
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


def query_tokens(q: str) -> list[str]:
    """The tokens a matching event must all contain (bigram reading of CJK runs)."""
    return [token for clause in query_clauses(q) for token in clause[0]]


def mysql_boolean_query(clauses: list[Clause]) -> str:
    """For MATCH(search_text) AGAINST(%s IN BOOLEAN MODE). Tokens are [a-z0-9] only."""

    def group(tokens: list[str]) -> str:
        return " ".join("+" + t for t in tokens)

    parts = []
    for alternatives in clauses:
        if len(alternatives) == 1:
            parts.append(group(alternatives[0]))
        else:
            parts.append("+(" + " ".join(f"({group(a)})" for a in alternatives) + ")")
    return " ".join(parts)


def fts5_query(clauses: list[Clause]) -> str:
    """For `events_event_fts MATCH %s`. Every token quoted (FTS5 syntax needs no escaping then)."""

    def group(tokens: list[str]) -> str:
        return " AND ".join(f'"{t}"' for t in tokens)

    parts = []
    for alternatives in clauses:
        if len(alternatives) == 1:
            parts.append(group(alternatives[0]))
        else:
            parts.append("(" + " OR ".join(f"({group(a)})" for a in alternatives) + ")")
    return " AND ".join(parts)
