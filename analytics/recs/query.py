"""Recommendations: a FAISS search around a taste vector, then the catalogue's filters, then back-fill.

- `recommend_for_user()`: the user's vector (from their last lines when they did something since the
  index was built, else their stored embedding) → the nearest events → only those a buyer may see
  (events.selectors.event_search: approved, not over), with tickets left, not already bought and not
  just looked at → back-filled from the cold-start list. Anonymous, new and opted-out users get the
  cold-start list: popular and upcoming events in the city they browse.
- `similar_events()`: the nearest events to one event's vector, filtered the same way.

MongoDB is asked with a short deadline (MONGO_DEADLINE); when it is slow or away, and when there is
no index yet, the answer is the cold-start list from the relational database: a page never waits.
"""

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import recent
from analytics.documents import Action, BehaviourLog, UserEmbedding
from analytics.recs import index as recs_index
from events.models import Event
from ticketing.background import Backoff

log = logging.getLogger(__name__)

OVERSAMPLE = 5  # FAISS is asked for k × this (at least MIN_CANDIDATES) before the filters
MIN_CANDIDATES = 50
RECENT_LINES = 50
MONGO_DEADLINE = 0.25  # seconds a page waits for MongoDB before answering without it
POPULAR_CACHE_SECONDS = 300
TASTE_SECONDS = 30  # a user's taste from their recent lines is read again after this
TASTE_FORMAT = 2  # in the cache key: a process of a newer release never unpickles an older Taste
BOUGHT = ("paid", "used", "refund_requested")
# What a recommended card (templates/analytics/recs/card.html, the API's results) reads of an event.
CARD_FIELDS = ("title", "start_time", "city", "cover", "price_min", "price_max", "category__slug",
               "category__name_zh", "category__name_en")

_mongo_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="recs-mongo")
_mongo = Backoff("MongoDB (recommendations)", seconds=10.0)  # it failed: left alone for a while
_slow = Backoff("MongoDB (recommendations, slow)", seconds=2.0)  # it was late: a shorter pause


@dataclass
class Rec:
    event: Event
    score: float
    reason: str


def _ask_mongo(work, default):
    """work() on MongoDB within MONGO_DEADLINE, else `default` (and MongoDB is left alone for a while)."""
    if _mongo.is_down() or _slow.is_down():
        _mongo.skipped += 1
        return default
    try:
        return _mongo_pool.submit(work).result(timeout=MONGO_DEADLINE)
    except FutureTimeout:
        _slow.failed(TimeoutError(f"no answer within {MONGO_DEADLINE} s"))
    except Exception as exc:  # noqa: BLE001 - recommendations never break the page that shows them
        _mongo.failed(exc)
    return default


def _recent_lines(match: dict, limit: int = RECENT_LINES) -> list[dict]:
    query = {**match, "action": {"$in": list(Action.WEIGHT)}, "event_id": {"$ne": None}}
    return list(BehaviourLog._get_collection().find(query, {"_id": 0, "event_id": 1, "action": 1, "timestamp": 1})
                .sort("timestamp", -1).limit(limit))


def _age_days(stamp: datetime, now: datetime) -> float:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return max((now - stamp).total_seconds() / 86400.0, 0.0)


def _bought(buyer_id: int):
    """The ids of the events this buyer has bought, as a subquery."""
    from orders.models import Order

    return Order.objects.filter(user_id=buyer_id, status__in=BOUGHT).order_by().values("event_id")


def _visible(ids: list[int], *, city: str | None = None, buyer_id: int | None = None) -> set[int]:
    """Those of `ids` a buyer may get a ticket for now (the catalogue's own rule), without the events
    `buyer_id` has bought: ids only, a primary-key range read, no ordering, one statement."""
    from events.selectors import event_search

    if not ids:
        return set()
    visible = event_search(available_only=True, city=city or "").filter(pk__in=ids).order_by()
    if buyer_id is not None:
        visible = visible.exclude(pk__in=_bought(buyer_id))
    return set(visible.values_list("pk", flat=True))


def _events(ids) -> dict[int, Event]:
    """What a card shows of these events (category for the cover placeholder; no tags, no texts): one query."""
    if not ids:
        return {}
    return {event.pk: event for event in Event.objects.filter(pk__in=list(ids)).select_related("category")
            .only(*CARD_FIELDS)}


def _as_recs(picked: list[tuple[int, float, str]]) -> list[Rec]:
    events = _events(pk for pk, _score, _reason in picked)
    return [Rec(event=events[pk], score=score, reason=reason) for pk, score, reason in picked if pk in events]


# --- cold start ------------------------------------------------------------------------------------
def _popular_from_orders() -> list[int]:
    """Events with the most orders in the last 30 days (when there is no index): cached a while."""
    from orders.models import Order

    key = "recs:popular-orders"
    ids = cache.get(key)
    if ids is None:
        since = timezone.now() - timedelta(days=30)
        ids = list(Order.objects.filter(created_at__gte=since, status__in=BOUGHT).order_by().values("event_id")
                   .annotate(n=Count("pk")).order_by("-n", "event_id").values_list("event_id", flat=True)[:500])
        cache.set(key, ids, POPULAR_CACHE_SECONDS)
    return ids


def browsed_city(*, user_id: int | None = None, anon_id: str | None = None) -> str | None:
    """The city of the visitor's recent event views (or of their last city filter); None if unknown."""
    if user_id is None and not anon_id:
        return None
    match = {"user_id": user_id} if user_id is not None else {"anon_id": anon_id}
    key = f"recs:city:{'u' if user_id is not None else 'a'}{user_id if user_id is not None else anon_id}"
    kept = cache.get(key)
    if kept is not None:
        return kept or None
    city = _browsed_city(match)
    if city is not _UNKNOWN:
        cache.set(key, city or "", TASTE_SECONDS)
        return city
    return None


_UNKNOWN = object()  # MongoDB did not answer


def _browsed_city(match: dict):
    def work():
        return list(BehaviourLog._get_collection().find(
            {**match, "action": {"$in": [Action.EVENT_VIEW, Action.SEARCH]}},
            {"_id": 0, "event_id": 1, "details.filters.city": 1}).sort("timestamp", -1).limit(20))

    lines = _ask_mongo(work, None)
    if lines is None:
        return _UNKNOWN
    for line in lines:
        city = ((line.get("details") or {}).get("filters") or {}).get("city")
        if city:
            return str(city)
    viewed = [line["event_id"] for line in lines if line.get("event_id")]
    if not viewed:
        return None
    cities = dict(Event.objects.filter(pk__in=set(viewed)).values_list("pk", "city"))
    counts = Counter(cities[pk] for pk in viewed if cities.get(pk))
    return counts.most_common(1)[0][0] if counts else None


def _cold_picks(*, k: int, city: str | None, exclude: set[int], buyer_id: int | None = None) -> list[tuple[int, float, str]]:
    """Popular then soonest events (see cold_start), minus `exclude` and what `buyer_id` bought."""
    from events.selectors import event_search

    loaded = recs_index.current()
    popular = [int(pk) for pk in loaded.popular_ids[: max(k * OVERSAMPLE * 4, 200)]] if loaded else _popular_from_orders()
    picked: list[tuple[int, float, str]] = []
    taken = set(exclude)
    for where in ([city, None] if city else [None]):
        reason = _("Popular in %(city)s") % {"city": where} if where else _("Popular now")
        chunk = max(k * 3, 30)
        for begin in range(0, len(popular), chunk):  # most popular first, a few dozen ids a query
            block = [pk for pk in popular[begin:begin + chunk] if pk not in taken]
            visible = _visible(block, city=where, buyer_id=buyer_id)
            for pk in block:
                if pk in visible and len(picked) < k:
                    picked.append((pk, 1.0 / (popular.index(pk) + 1), reason))
                    taken.add(pk)
            if len(picked) >= k:
                return picked
        soon = event_search(available_only=True, city=where or "", sort="start").exclude(pk__in=taken)
        if buyer_id is not None:
            soon = soon.exclude(pk__in=_bought(buyer_id))
        soon = soon.values_list("pk", flat=True)[: k - len(picked)]
        reason = _("Coming soon in %(city)s") % {"city": where} if where else _("Coming soon")
        for pk in soon:
            picked.append((pk, 0.0, reason))
            taken.add(pk)
        if len(picked) >= k:
            break
    return picked[:k]


def cold_start(*, k: int = 10, city: str | None = None, exclude: set[int] | frozenset = frozenset()) -> list[Rec]:
    """Popular events (recent behaviour, from the index; else recent orders), then the soonest ones;
    in `city` first, then anywhere."""
    return _as_recs(_cold_picks(k=k, city=city, exclude=set(exclude)))


# --- personal ----------------------------------------------------------------------------------------
def _personal_vector(user, loaded: recs_index.RecsIndex, lines: list[dict]) -> tuple[np.ndarray | None, list[tuple[int, np.ndarray]]]:
    """(taste vector, [(event id, vector)] of the recent lines that have one)."""
    now = datetime.now(UTC)
    positions, rows = loaded.vector_rows([line["event_id"] for line in lines])
    sources: dict[int, np.ndarray] = {}
    vector = None
    if rows.size:
        used = [lines[i] for i in positions]
        weights = np.asarray([Action.WEIGHT[line["action"]] for line in used])
        ages = np.asarray([_age_days(line["timestamp"], now) for line in used])
        from analytics.recs.vectors import decay

        taste = ((weights * decay(ages))[:, None] * loaded.vectors[rows]).sum(axis=0)
        vector = taste / (np.linalg.norm(taste) or 1.0)
        for line, row in zip(used, rows):
            sources.setdefault(int(line["event_id"]), loaded.vectors[row])
    newest = max((line["timestamp"] for line in lines), default=None)
    stale = newest is None or (newest.replace(tzinfo=newest.tzinfo or UTC).timestamp() <= loaded.built_at)
    if stale or vector is None:  # nothing new since the rebuild: the stored embedding knows the longer history
        stored = _ask_mongo(lambda: UserEmbedding._get_collection().find_one({"_id": user.pk}, {"vector": 1}), None)
        if stored and len(stored.get("vector") or []) == loaded.vectors.shape[1]:
            vector = np.asarray(stored["vector"], dtype=np.float32)
    return vector, list(sources.items())


@dataclass
class Taste:
    """What a user's recommendations are made of, kept TASTE_SECONDS per user and index version: the FAISS
    candidates of their taste vector, best first, each with the recent event it is nearest to (the
    reason), and the events they touched lately (not recommended back to them)."""

    vector: bytes | None  # float32
    seen: frozenset[int]
    candidates: list[tuple[int, float, int | None]]  # (event id, score, id of the nearest recent event)
    titles: dict[int, str]  # of those recent events
    searched: int  # how many candidates FAISS was asked for


def _nearest_sources(loaded: recs_index.RecsIndex, candidates: list[tuple[int, float]],
                     sources: list[tuple[int, np.ndarray]]) -> list[int | None]:
    """For each candidate, the recent event whose vector is closest to it (one matrix product)."""
    if not sources or not candidates:
        return [None] * len(candidates)
    positions, rows = loaded.vector_rows([pk for pk, _score in candidates])
    nearest: list[int | None] = [None] * len(candidates)
    if rows.size:
        source_ids = [pk for pk, _v in sources]
        best = np.argmax(loaded.vectors[rows] @ np.stack([v for _pk, v in sources]).T, axis=1)
        for position, column in zip(positions, best):
            nearest[position] = source_ids[column]
    return nearest


def _taste(user, loaded: recs_index.RecsIndex, n: int = MIN_CANDIDATES) -> Taste:
    """The user's Taste (at least n candidates), from the cache, else made: their lines from Redis
    (analytics.recent), or from MongoDB the first time a user is asked about; then one FAISS search and
    one query for the titles of the recent events that are the reasons."""
    key = f"recs:taste{TASTE_FORMAT}:{user.pk}:{loaded.version}"
    kept = cache.get(key)
    if isinstance(kept, Taste) and kept.searched >= n:
        return kept
    lines = recent.read(user.pk)  # kept in Redis by the behaviour-log writer
    if lines is None:  # not known there yet: MongoDB, once
        lines = _ask_mongo(lambda: _recent_lines({"user_id": user.pk}), None)
        if lines is not None:
            recent.fill(user.pk, lines)
    vector, sources = _personal_vector(user, loaded, lines or [])
    seen = frozenset(int(line["event_id"]) for line in lines or [])
    found = [(pk, score) for pk, score in loaded.search(vector, n) if pk not in seen] if vector is not None else []
    nearest = _nearest_sources(loaded, found, sources)
    reasons = {pk for pk in nearest if pk is not None}
    titles = dict(Event.objects.filter(pk__in=reasons).values_list("pk", "title")) if reasons else {}
    taste = Taste(vector=vector.astype(np.float32).tobytes() if vector is not None else None, seen=seen,
                  candidates=[(pk, score, source) for (pk, score), source in zip(found, nearest)], titles=titles,
                  searched=n)
    if lines is not None:  # MongoDB answered: worth keeping
        cache.set(key, taste, TASTE_SECONDS)
    return taste


def recommend_for_user(*, user, k: int = 10, city: str | None = None, anon_id: str | None = None) -> list[Rec]:
    """Up to k events for this user, best first, each with its reason. Never past, cancelled, unapproved,
    sold-out or already-bought events. Opted-out and anonymous users get the cold-start list.

    With the user's Taste in the cache, two statements: the candidates a buyer may get a ticket for now
    and this user has not bought, then the cards."""
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if not signed_in or not getattr(user, "personalised", True):
        return cold_start(k=k, city=city or browsed_city(anon_id=anon_id), exclude=set())
    loaded = recs_index.current()
    taste = _taste(user, loaded, max(k * OVERSAMPLE, MIN_CANDIDATES)) if loaded else None
    if taste is None or taste.vector is None:
        where = city or browsed_city(user_id=user.pk) or browsed_city(anon_id=anon_id)
        return _as_recs(_cold_picks(k=k, city=where, exclude=set(), buyer_id=user.pk))
    visible = _visible([pk for pk, _score, _source in taste.candidates], city=city, buyer_id=user.pk)
    picked = []
    for pk, score, source in taste.candidates:
        if pk in visible and len(picked) < k:
            reason = (_("Because you viewed %(title)s") % {"title": taste.titles[source]} if source in taste.titles
                      else _("Picked for your taste"))
            picked.append((pk, score, reason))
    if len(picked) < k:
        picked += _cold_picks(k=k - len(picked), city=city, exclude=set(taste.seen) | {pk for pk, _s, _r in picked},
                              buyer_id=user.pk)
    return _as_recs(picked)


def similar_events(*, event: Event, k: int = 6) -> list[Rec]:
    """Events near this one (what its viewers also looked at, and like content), filtered as above;
    back-filled with popular events of its city."""
    loaded = recs_index.current()
    vector = loaded.vector_of(event.pk) if loaded else None
    picked: list[tuple[int, float, str]] = []
    if vector is not None:
        found = [(pk, score) for pk, score in loaded.search(vector, max(k * OVERSAMPLE, MIN_CANDIDATES)) if pk != event.pk]
        visible = _visible([pk for pk, _score in found])
        reason = _("Similar to %(title)s") % {"title": event.title}
        picked = [(pk, score, reason) for pk, score in found if pk in visible][:k]
    if len(picked) < k:
        picked += _cold_picks(k=k - len(picked), city=event.city, exclude={event.pk} | {pk for pk, _s, _r in picked})
    return _as_recs(picked)
