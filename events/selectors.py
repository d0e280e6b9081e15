"""Reads of events: the public search (page and API share it), a publisher's own
list, the review queue, who may see one event, and the home page's lists."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic

from django.db import connections
from django.db.models import Count, F, IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role
from events import search
from events.models import Category, Event, EventStatus

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
    SORT_PRICE: (F("price_min").asc(nulls_last=True), "start_time", "pk"),
    SORT_PRICE_DESC: (F("price_min").desc(nulls_last=True), "start_time", "pk"),
    SORT_NEWEST: ("-created_at", "-pk"),
    SORT_RELEVANCE: ("search_position",),
}


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
      searchable in it (punctuation only) means no text filter. With a query this
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
        queryset = queryset.filter(city__iexact=city.strip())
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
        if not ids:
            return _with_relations(Event.objects.none())
        queryset = Event.objects.filter(pk__in=ids)
        if sort == SORT_RELEVANCE:
            queryset = _in_given_order(queryset, ids)
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
