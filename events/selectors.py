"""Reads of events: the public search (page and API share it) with the search box's
suggestions and "did you mean", a publisher's own list, the review queue, who may see
one event, and the home page's lists."""

import re
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic

import rjieba
from django.core.cache import cache
from django.db import connections
from django.db.models import Count, F, IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.db.models.sql.datastructures import BaseTable
from django.utils import timezone
from rapidfuzz import process
from rapidfuzz.distance import OSA

from accounts.models import Role
from events import search
from events.models import Category, Event, EventStatus, Favourite, Tag

SORT_START = "start"
SORT_PRICE = "price"
SORT_PRICE_DESC = "-price"
SORT_NEWEST = "newest"
SORT_RELEVANCE = "relevance"
SORTS = (SORT_START, SORT_PRICE, SORT_PRICE_DESC, SORT_NEWEST, SORT_RELEVANCE)
# A text search lists (and counts) at most this many events: the best matches.
SEARCH_RESULT_LIMIT = 500
# Fewer matches than this and long Chinese runs are searched again, also by their characters.
RELAX_BELOW = 20
# A text search narrows by category inside the index only below this share of all events.
BROAD_CATEGORY_SHARE = 0.5
CATEGORY_COUNTS_SECONDS = 600

_ORDERINGS = {
    SORT_START: ("start_time", "pk"),
    # Events without a price last both ways, as columns an index holds in this order (events.models).
    SORT_PRICE: ("price_missing", "price_min", "start_time", "pk"),
    SORT_PRICE_DESC: ("price_missing", "-price_min", "start_time", "pk"),
    SORT_NEWEST: ("-created_at", "-pk"),
    SORT_RELEVANCE: ("search_position",),
}
# The index each sort of the list without a text query walks (events.models, "browse").
_BROWSE_INDEXES = {
    SORT_START: "event_browse_start",
    SORT_PRICE: "event_browse_price",
    SORT_PRICE_DESC: "event_browse_price_desc",
    SORT_NEWEST: "event_browse_newest",
}


class _TableUsingIndex(BaseTable):
    """The event table with USE INDEX (the sort's index, PRIMARY) on MariaDB/MySQL. Left to choose, MariaDB starts from
    another index and switches to the sort's one for ORDER BY … LIMIT, but then no longer tests
    the filters inside the index (index condition pushdown): it reads a whole row for every entry
    it walks past, some 23,000 (the ended events) before the first page at 100,000 events."""

    def __init__(self, table_name: str, alias: str | None, index: str) -> None:
        super().__init__(table_name, alias)
        self.index = index

    def as_sql(self, compiler, connection):
        sql, params = super().as_sql(compiler, connection)
        if connection.vendor == "mysql":
            # PRIMARY stays allowed: a caller narrowing to some ids (recommendations) reads them by key.
            sql = f"{sql} USE INDEX ({connection.ops.quote_name(self.index)}, PRIMARY)"
        return sql, params

    def relabeled_clone(self, change_map):
        return self.__class__(self.table_name, change_map.get(self.table_alias, self.table_alias), self.index)

    @property
    def identity(self):
        return (*super().identity, self.index)


def _using_index(queryset: QuerySet[Event], index: str) -> QuerySet[Event]:
    queryset = queryset.all()
    alias = queryset.query.get_initial_alias()
    queryset.query.alias_map[alias] = _TableUsingIndex(Event._meta.db_table, alias, index)
    return queryset


def _with_relations(queryset: QuerySet[Event]) -> QuerySet[Event]:
    # search_text is only for the index: no page shows it, and it is the widest column.
    return queryset.prefetch_related("category", "tags").defer("search_text")


def _day_start(day: date | datetime) -> datetime:
    """00:00 of the day in the current time zone (Asia/Shanghai unless activated otherwise)."""
    if isinstance(day, datetime):
        return day if timezone.is_aware(day) else timezone.make_aware(day)
    return timezone.make_aware(datetime.combine(day, time.min))


def _best_matches(queryset: QuerySet[Event], clauses: list[search.Clause]) -> list[int]:
    """Ids of the events in queryset whose search_text matches, best first, at most
    SEARCH_RESULT_LIMIT: one evaluation of the full-text index.

    The limit is what keeps a broad word (演唱会: a fifth of all events) cheap on
    MariaDB, where every match costs a read of its (wide) row: InnoDB hands matches
    over best first, so without ORDER BY the LIMIT stops the reading early.
    """
    connection = connections[queryset.db]
    qn = connection.ops.quote_name
    table = qn(Event._meta.db_table)
    queryset = queryset.order_by()
    if connection.vendor == "mysql":
        match = f"MATCH({table}.{qn('search_text')}) AGAINST (%s IN BOOLEAN MODE)"
        expr = search.mysql_boolean_query(clauses)
        queryset = queryset.extra(where=[match], params=[expr]).annotate(_score=RawSQL(match, [expr]))
    elif connection.vendor == "sqlite":
        fts = qn(search.FTS_TABLE)
        queryset = queryset.extra(
            tables=[search.FTS_TABLE],
            where=[f"{fts}.rowid = {table}.{qn('id')}", f"{fts} MATCH %s"], params=[search.fts5_query(clauses)],
        ).annotate(_score=RawSQL(f"-bm25({fts})", [])).order_by("-_score")  # bm25: lower is better
    else:
        raise NotImplementedError(f"event search has no full-text index for {connection.vendor}")
    rows = list(queryset.values_list("pk", "_score", "start_time")[:SEARCH_RESULT_LIMIT])
    rows.sort(key=lambda row: (-row[1], row[2], row[0]))
    return [pk for pk, _, _ in rows]


def _category_subtree(category: Category | int | str) -> list[int]:
    """Ids of the category (first) and all below it; empty if there is no such category.
    Paths are read fresh: treebeard may have moved them since an instance was loaded."""
    pk = category.pk if isinstance(category, Category) else int(category)
    paths = dict(Category.objects.values_list("pk", "path"))
    if pk not in paths:
        return []
    return [pk] + [other for other, path in paths.items() if other != pk and path.startswith(paths[pk])]


def category_ids_under(category: Category | int | str) -> list[int]:
    """The category's id and those of all categories below it (for filters outside this app)."""
    return _category_subtree(category)


_category_counts: tuple[float, dict[int, int]] = (float("-inf"), {})


def _category_share(category_ids: list[int]) -> float:
    """The part of all events in these categories. From a count per category that
    each process keeps for CATEGORY_COUNTS_SECONDS (it only steers how a search
    runs, never what it finds)."""
    global _category_counts
    taken, counts = _category_counts
    if monotonic() - taken > CATEGORY_COUNTS_SECONDS:
        counts = dict(Event.objects.order_by().values_list("category_id").annotate(n=Count("pk")))
        _category_counts = (monotonic(), counts)
    total = sum(counts.values())
    return sum(counts.get(pk, 0) for pk in category_ids) / total if total else 1.0


def _in_given_order(queryset: QuerySet[Event], ids: list[int]) -> QuerySet[Event]:
    """Annotated search_position: the index of each event's id in ids (plain SQL
    CASE: building it from hundreds of When() objects costs Django more than the query)."""
    connection = connections[queryset.db]
    column = f"{connection.ops.quote_name(Event._meta.db_table)}.{connection.ops.quote_name('id')}"
    sql = f"CASE {column} " + " ".join(["WHEN %s THEN %s"] * len(ids)) + " END"
    params = [value for position, pk in enumerate(ids) for value in (pk, position)]
    return queryset.annotate(search_position=RawSQL(sql, params, output_field=IntegerField()))


def event_search(
    *,
    query: str = "",
    category: Category | int | str | None = None,
    city: str = "",
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    price_min: Decimal | int | None = None,
    price_max: Decimal | int | None = None,
    available_only: bool = False,
    sort: str = "",
    include_past: bool = False,
) -> QuerySet[Event]:
    """Approved events for the public list, page and API alike.

    - query: Chinese and/or English words, all required (events.search); nothing
      searchable in it (punctuation or emoji only) finds nothing (see
      query_has_search_characters for the hint). With a query this
      function runs the full-text search at once, and the result holds at most
      SEARCH_RESULT_LIMIT events: the best matches, in the asked order. A count
      equal to the limit means "at least that many".
    - category: that category and everything under it.
    - city: exact, case-insensitive.
    - date_from / date_to: on start_time, whole days in the current time zone,
      both inclusive (a datetime is taken as the exact bound).
    - price_min / price_max: the event's price range overlaps the asked one;
      events without prices drop out once either is given.
    - sort: one of SORTS; "relevance" by default with a query, else "start".
      An unknown value sorts by start.
    - include_past: also events that have ended (hidden by default).
    """
    clauses = search.query_clauses(query) if query else []
    if query and query.strip() and not clauses:
        return _with_relations(Event.objects.none())  # "!!!" or an emoji: nothing to look for, not everything
    keys: list[search.Clause] = []  # the selective filters again, as index keys for the text search
    queryset = Event.objects.filter(status=EventStatus.APPROVED)
    if not include_past:
        queryset = queryset.filter(end_time__gte=timezone.now())
    if category not in (None, ""):
        category_ids = _category_subtree(category)
        if not category_ids:
            return _with_relations(Event.objects.none())
        # Ids, not a join on the path: one table lets MariaDB read the start_time index in order.
        queryset = queryset.filter(category_id__in=category_ids)
        if clauses and _category_share(category_ids) < BROAD_CATEGORY_SHARE:
            # A broad category's key (演出: most events) costs the index more than it saves.
            keys.append([[search.category_key(category_ids[0])]])
    if city and city.strip():
        # MariaDB/MySQL compare case-insensitively (the _ci collation the database is created with):
        # an equality there, which the (status, city, …) indexes serve; elsewhere iexact.
        exact = "city" if connections[queryset.db].vendor == "mysql" else "city__iexact"
        queryset = queryset.filter(**{exact: city.strip()})
        keys.append([[search.city_key(city)]])
    if date_from is not None:
        queryset = queryset.filter(start_time__gte=_day_start(date_from))
    if date_to is not None:
        if isinstance(date_to, datetime):
            queryset = queryset.filter(start_time__lte=_day_start(date_to))
        else:
            queryset = queryset.filter(start_time__lt=_day_start(date_to + timedelta(days=1)))
    if date_from is not None and date_to is not None and (months := search.month_keys(date_from, date_to)):
        keys.append([[month] for month in months])
    if price_min is not None:
        # An event without a highest price costs its lowest price.
        queryset = queryset.alias(_top_price=Coalesce("price_max", "price_min")).filter(_top_price__gte=price_min)
    if price_max is not None:
        queryset = queryset.alias(_low_price=Coalesce("price_min", "price_max")).filter(_low_price__lte=price_max)
    if available_only:
        queryset = queryset.filter(tickets_left=True)

    if sort not in _ORDERINGS or (sort == SORT_RELEVANCE and not clauses):
        sort = SORT_RELEVANCE if clauses and not sort else SORT_START
    if clauses:
        # From here on the page and its count read at most the limit's rows, by primary key.
        ids = _best_matches(queryset, clauses + keys)
        if len(ids) < RELAX_BELOW and (relaxed := search.query_clauses(query, relaxed=True)) != clauses:
            ids = _best_matches(queryset, relaxed + keys)
        if not ids and (typos := typo_corrections(query)):  # nothing holds "consert": concert(s) then
            ids = _best_matches(queryset, search.query_clauses(query, relaxed=True, typos=typos) + keys)
        if not ids:
            return _with_relations(Event.objects.none())
        queryset = Event.objects.filter(pk__in=ids)
        if sort == SORT_RELEVANCE:
            queryset = _in_given_order(queryset, ids)
    else:
        queryset = _using_index(queryset, _BROWSE_INDEXES[sort])
    return _with_relations(queryset.order_by(*_ORDERINGS[sort]))


def category_roots() -> QuerySet[Category]:
    """The top of the category tree in tree order (menus, the home page)."""
    return Category.objects.get_root_nodes()


def popular_cities(*, limit: int = 10) -> list[dict]:
    """Cities with the most approved events yet to start, busiest first:
    [{"city": "上海", "events": 12}, …]. Counted on the (status, city, start_time)
    index alone (end_time would mean reading every event's row)."""
    return list(
        Event.objects.filter(status=EventStatus.APPROVED, start_time__gte=timezone.now()).order_by()
        .values("city").annotate(events=Count("pk")).order_by("-events", "city")[:limit]
    )


def event_list_for_publisher(*, publisher) -> QuerySet[Event]:
    """All of a publisher's events, any status, newest first."""
    return _with_relations(Event.objects.filter(publisher=publisher).order_by("-created_at", "-pk"))


def review_queue() -> QuerySet[Event]:
    """Events waiting for review, the longest-waiting first."""
    return _with_relations(
        Event.objects.filter(status=EventStatus.PENDING).select_related("publisher").order_by(
            F("submitted_at").asc(nulls_last=True), "pk")
    )


def event_visible_to(*, event_id: int, user) -> Event | None:
    """The event if this user may see it: approved ones for anyone (signed in or
    not); any status for its publisher and for admins; otherwise None."""
    event = _with_relations(Event.objects.select_related("publisher")).filter(pk=event_id).first()
    return event if event is not None and may_see(event, user) else None


def may_see(event: Event, user) -> bool:
    """The rule of event_visible_to, for an event already loaded (say, with a session)."""
    return may_see_event(event.status, event.publisher_id, user)


def may_see_event(status: str, publisher_id: int, user) -> bool:
    """may_see from an event's status and publisher alone (tickets.catalogue keeps just those)."""
    if status == EventStatus.APPROVED:
        return True
    signed_in = getattr(user, "is_authenticated", False)
    return signed_in and (user.pk == publisher_id or getattr(user, "role", "") == Role.ADMIN)


def favourites_of(*, user) -> QuerySet[Event]:
    """The events `user` wants (想看), newest mark first, each with `wanted_at`; cancelled and ended ones
    too (the page says so), so a buyer sees what became of them."""
    return (_with_relations(Event.objects.filter(favourites__user=user))
            .annotate(wanted_at=F("favourites__created_at")).order_by("-favourites__created_at", "-pk"))


def favourite_state(*, event_id: int, user) -> dict:
    """What the event page's 想看 button shows: whether `user` wants it and how many people do."""
    wanted = Favourite.objects.filter(event_id=event_id)
    mine = getattr(user, "is_authenticated", False) and wanted.filter(user_id=user.pk).exists()
    return {"wanted": bool(mine), "wanted_count": wanted.count()}


# What the review page shows of an event's inventory. The tickets app registers it at start-up
# (tickets.apps), so the catalogue asks without importing the app that stands on it.
_review_inventory: Callable[[Event], dict] | None = None


def review_inventory_register(provider: Callable[[Event], dict]) -> None:
    global _review_inventory
    _review_inventory = provider


def event_review_inventory(event: Event) -> dict:
    """The event's ticket types, seat maps and sessions for its reviewer (see tickets.publisher_views.
    inventory_overview); nothing when no inventory app registered itself."""
    return _review_inventory(event) if _review_inventory is not None else {}


# --- the search box: suggestions as one types, "did you mean …" ------------------------------------
SUGGEST_MIN_LENGTH = 2  # one character is every other event: no suggestions yet
SUGGEST_EVENTS = 5
SUGGEST_PLACES = 3  # venues, and cities, at most this many each
SUGGEST_TOTAL = 8
PLACES_SECONDS = 300
PLACES_LIMIT = 5000
VOCABULARY_SECONDS = 300
VOCABULARY_TERMS = 20_000
VOCABULARY_EVENTS = 100_000  # the titles read for it, at most
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A Chinese run, or a run of letters of any other script (digits are never corrected).
_TERM = re.compile(f"([{_HAN}]+)|([^\\W\\d_{_HAN}]+)")
_HAN_WORD = re.compile(f"[{_HAN}]+")


def query_has_search_characters(query: str) -> bool:
    """False for a query of punctuation, symbols or emoji only (event_search finds nothing for it)."""
    return bool(search.query_clauses(query))


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _places() -> list[tuple[str, str, int]]:
    """(venue, city, events) of the approved events that have not ended, busiest first: one
    statement, kept in the cache for PLACES_SECONDS."""

    def read() -> list[tuple[str, str, int]]:
        rows = (Event.objects.filter(status=EventStatus.APPROVED, end_time__gte=timezone.now()).order_by()
                .values_list("venue", "city").annotate(n=Count("pk")).order_by("-n", "venue")[:PLACES_LIMIT])
        return [(venue, city, n) for venue, city, n in rows]

    return cache.get_or_set("events:suggest:places", read, PLACES_SECONDS)


def event_suggestions(*, query: str) -> dict[str, list[dict]]:
    """What the search box offers while one types: {"events": [{pk, title, start_time, city}],
    "venues": [{name, city}], "cities": [{name, events}]}, each list possibly empty.

    Events come from event_search (approved, not ended, best match first), so whatever the
    list page may not show is never suggested; venues and cities whose name contains the
    query come from the cached _places. Two statements at most on a warm cache (three when
    the search relaxes a long Chinese run).
    """
    query = query.strip()
    empty: dict[str, list[dict]] = {"events": [], "venues": [], "cities": []}
    if len(query) < SUGGEST_MIN_LENGTH or not query_has_search_characters(query):
        return empty
    events = list(event_search(query=query).prefetch_related(None)
                  .values("pk", "title", "start_time", "city")[:SUGGEST_EVENTS])
    folded = _fold(query)
    venues: dict[str, dict] = {}
    cities: dict[str, int] = {}
    for venue, city, n in _places():
        if folded in _fold(venue) and venue not in venues and len(venues) < SUGGEST_PLACES:
            venues[venue] = {"name": venue, "city": city}
        if folded in _fold(city):
            cities[city] = cities.get(city, 0) + n
    busiest = [{"name": name, "events": n}
               for name, n in sorted(cities.items(), key=lambda item: (-item[1], item[0]))[:SUGGEST_PLACES]]
    # What is left of SUGGEST_TOTAL after the events goes to venues and cities in turn.
    places: dict[str, list[dict]] = {"venues": [], "cities": []}
    queues = {"venues": list(venues.values()), "cities": busiest}
    room = SUGGEST_TOTAL - len(events)
    while room > 0 and any(queues.values()):
        for kind in ("venues", "cities"):
            if room > 0 and queues[kind]:
                places[kind].append(queues[kind].pop(0))
                room -= 1
    return {"events": events, **places}


def _terms(text: str) -> list[str]:
    """The words of a text that a typo may be corrected to: words of other scripts (3+ letters,
    folded), Chinese runs of 2-12 characters and jieba's words (2+) inside them."""
    words = []
    for han, other in _TERM.findall(text):
        if other:
            if len(other) >= 3:
                words.append(other.casefold())
            continue
        if 2 <= len(han) <= 12:
            words.append(han)
        if len(han) > 2:
            words.extend(word for word in rjieba.cut(han) if len(word) >= 2 and word != han)
    return words


def _vocabulary() -> tuple[list[str], list[str]]:
    """The known words (Chinese ones, and the others), most frequent first, at most
    VOCABULARY_TERMS: from the titles, venues and cities of the approved events that have not
    ended, and every tag and category name. Two statements, kept for VOCABULARY_SECONDS."""

    def build() -> tuple[list[str], list[str]]:
        counts: Counter[str] = Counter()
        rows = (Event.objects.filter(status=EventStatus.APPROVED, end_time__gte=timezone.now()).order_by()
                .values_list("title", "venue", "city")[:VOCABULARY_EVENTS])
        for title, venue, city in rows:
            counts.update(_terms(title))
            counts.update(_terms(venue))
            counts.update(_terms(city))
        names = Tag.objects.order_by().values_list("name", flat=True).union(
            Category.objects.order_by().values_list("name_zh", flat=True),
            Category.objects.order_by().values_list("name_en", flat=True), all=True)
        for name in names:
            counts.update(_terms(name))
        han, other = [], []
        for word, _ in counts.most_common(VOCABULARY_TERMS):
            (han if _HAN_WORD.fullmatch(word) else other).append(word)
        return han, other

    global _vocabulary_kept
    kept = _vocabulary_kept
    if kept is not None and monotonic() - kept[0] < VOCABULARY_SECONDS:
        return kept[1]
    value = cache.get_or_set("events:suggest:vocabulary", build, VOCABULARY_SECONDS)
    _vocabulary_kept = (monotonic(), value)
    return value


# The vocabulary as this process last read or built it: also kept in memory, so that without Redis a
# search that finds nothing does not build it again (a second or two at 100,000 events) every time.
_vocabulary_kept: tuple[float, tuple[list[str], list[str]]] | None = None


def forget_vocabulary() -> None:
    """Drop this process's copy of the vocabulary (tests; the cache's copy is the cache's)."""
    global _vocabulary_kept
    _vocabulary_kept = None


TYPO_MIN_LENGTH = 5  # a word this long may hold one typo (insertion, deletion, change, swap)
TYPO_TWO_FROM = 9  # and two from this length on
TYPO_NEAR = 3  # known words tried for one mistyped word, at most


def typo_corrections(query: str) -> dict[str, list[str]]:
    """{word: known words it may be a mistyping of} for the query's Latin words of TYPO_MIN_LENGTH
    letters or more that no event's name holds (see _vocabulary): one edit away, two from
    TYPO_TWO_FROM letters. event_search asks for this only when the query found nothing as typed (a
    word being typed is matched as a prefix first, and a real word is not "corrected" away)."""
    words = [word for word in search.query_words(query) if len(word) >= TYPO_MIN_LENGTH and not word.isdigit()]
    if not words:
        return {}
    _han_words, other_words = _vocabulary()
    known = set(other_words)
    corrections = {}
    for word in dict.fromkeys(words):
        if word in known:
            continue
        edits = 2 if len(word) >= TYPO_TWO_FROM else 1
        near = [match for match, distance, _index in process.extract(word, other_words, scorer=OSA.distance,
                                                                      score_cutoff=edits, limit=TYPO_NEAR)]
        if near:
            corrections[word] = near
    return corrections


def _edits_allowed(word: str, *, han: bool) -> int:
    if han:
        return 0 if len(word) < 2 else 1 if len(word) < 6 else 2
    return 0 if len(word) < 4 else 1 if len(word) < 6 else 2


def _closest(word: str, known: list[str], *, han: bool) -> str | None:
    """The most frequent known word fewest edits away (a swap of two letters is one edit)."""
    edits = _edits_allowed(word, han=han)
    if not edits:
        return None
    best = process.extractOne(word, known, scorer=OSA.distance, score_cutoff=edits)
    return best[0] if best and best[1] > 0 else None


def corrected_query(query: str) -> str | None:
    """The query with each unknown word replaced by its closest known word (see _vocabulary),
    or None when there is nothing to correct. Chinese runs are tried whole, then by jieba's words."""
    han_words, other_words = _vocabulary()
    known = set(han_words) | set(other_words)
    pieces, changed, last = [], False, 0
    for match in _TERM.finditer(query):
        han, other = match.group(1), match.group(2)
        word = han or other.casefold()
        replacement = None
        if word not in known:
            replacement = _closest(word, han_words if han else other_words, han=bool(han))
            if replacement is None and han and len(han) > 2:
                parts = [_closest(part, han_words, han=True) if part not in known else None
                         for part in rjieba.cut(han)]
                if any(parts):
                    replacement = "".join(fix or part for fix, part in zip(parts, rjieba.cut(han), strict=True))
        if replacement is not None:
            pieces += [query[last:match.start()], replacement]
            last, changed = match.end(), True
    return "".join(pieces + [query[last:]]) if changed else None


def did_you_mean(*, filters: dict) -> str | None:
    """For a text search that found nothing: the corrected query if the same search with it
    (same filters) finds something, else None."""
    query = filters.get("query") or ""
    if not query_has_search_characters(query):
        return None
    correction = corrected_query(query)
    if correction is None or _fold(correction) == _fold(query):
        return None
    return correction if event_search(**{**filters, "query": correction}).exists() else None


def empty_search_help(*, filters: dict, count: int) -> dict:
    """What the page and the API say about a text search (filters as event_search takes them) that found
    `count` events: {"no_search_characters": bool, "did_you_mean": corrected query or None}; both
    off unless a query found nothing."""
    query = (filters.get("query") or "").strip()
    if not query or count:
        return {"no_search_characters": False, "did_you_mean": None}
    if not query_has_search_characters(query):
        return {"no_search_characters": True, "did_you_mean": None}
    return {"no_search_characters": False, "did_you_mean": did_you_mean(filters=filters)}
