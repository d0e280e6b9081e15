"""Behaviour figures: the funnel, searches and active visitors, each one MongoDB aggregation.

Every figure is one pipeline on the `behaviour_logs` collection, `$match` first on
action / timestamp / event_id so that it starts from an index (analytics.documents).
Days are LOCAL days (settings.TIME_ZONE); `start` and `end` are inclusive.

The pipelines are written in a subset of the aggregation language that nx-27017 (the
embedded MongoDB) evaluates correctly as well as a real MongoDB; nx-27017 gets other
forms wrong without an error (found by tests/analytics/test_behaviour.py):
- a datetime range in `$match` is written `{"$and": [{ts: {"$gte": a}}, {ts: {"$lt": b}}]}`
  (`{ts: {"$gte": a, "$lt": b}}` matches nothing there);
- a `$group` key is one `$concat` string, never a document (a compound `_id` puts every
  line in one group); distinct counts are two `$group` stages (key, then count);
- a null test is `{"$eq": [{"$ifNull": [field, 0]}, 0]}` (`$gt: [field, null]` is wrong there);
- the local day is computed from `$year`, `$dayOfYear`, `$hour`, `$minute` and integer
  arithmetic: nx-27017 ignores `$dateToString`'s `timezone`, and `$toLong`, `$subtract` of
  two dates, `$add` to a date and `$bucket` on dates give null or nothing there
  (mongomock refuses some of these too: `$toLong` of a date, `$dateToString` with a timezone);
- `$toString`/`$concat` only on values known not to be null (MongoDB gives null, mongomock "None"),
  and no `$trim`, `$setDifference`, `$type` expression, `$facet` (one evaluator or the other lacks them).

nx-27017 runs such pipelines in Python over the WHOLE collection (its SQL tier takes none of
them), so there a figure costs time in proportion to the log, whatever the range; results are
kept CACHE_SECONDS in the cache (bench/behaviour.py measures it). A real MongoDB uses the indexes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pymongo.errors import PyMongoError
from rest_framework import status

from analytics.documents import Action, BehaviourLog
from ticketing.errors import DomainError

# The funnel's steps in order, and the actions that count as each.
FUNNEL_STEPS = ("view", "seatmap", "hold", "order", "paid")
STEP_ACTIONS = {
    "view": (Action.EVENT_VIEW,),
    "seatmap": (Action.SESSION_VIEW, Action.SEATMAP_OPEN),
    "hold": (Action.HOLD,),
    "order": (Action.ORDER,),
    "paid": (Action.PAY,),
}
FUNNEL_ACTIONS = [action for step in FUNNEL_STEPS for action in STEP_ACTIONS[step]]
EPOCH_DAY = date(1970, 1, 1)
CACHE_SECONDS = 120  # how long a figure may lag behind the log


class BehaviourUnavailable(DomainError):
    """MongoDB did not answer: behaviour figures cannot be computed now (sales figures still can)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "behaviour_unavailable"
    default_message = _("Behaviour figures are unavailable right now (the behaviour log does not answer); "
                        "please try again later.")


# -- expressions -------------------------------------------------------------------------------------

def _is_null(field: str) -> dict:
    # user ids and event ids start at 1, so 0 stands for "missing or null"
    return {"$eq": [{"$ifNull": [field, 0]}, 0]}


# "u<user_id>" for a signed-in visitor, else "a<anon_id>"; null when the line has neither.
VISITOR = {"$cond": [_is_null("$user_id"),
                     {"$concat": ["a", "$anon_id"]},
                     {"$concat": ["u", {"$toString": "$user_id"}]}]}
SIGNED_IN = {"$cond": [_is_null("$user_id"), 0, 1]}
STEP = {"$switch": {
    "branches": [{"case": {"$eq": ["$action", action]}, "then": step}
                 for step in FUNNEL_STEPS for action in STEP_ACTIONS[step]],
    "default": None,
}}


def _div(numerator, denominator: int) -> dict:
    """Integer division of a non-negative number (`$trunc` of a positive quotient is its floor)."""
    return {"$trunc": {"$divide": [numerator, denominator]}}


def _leap_days_before(year) -> dict:
    """Leap days in the years 1970 … year-1 (Gregorian rule)."""
    previous = {"$subtract": [year, 1]}
    return {"$subtract": [
        {"$add": [_div(previous, 4), _div(previous, 400)]},
        {"$add": [_div(previous, 100), 1969 // 4 + 1969 // 400 - 1969 // 100]},
    ]}


def _utc_minute(field: str) -> dict:
    """Minutes since 1970-01-01 00:00 UTC of a date field."""
    year = {"$year": field}
    day = {"$add": [{"$multiply": [{"$subtract": [year, 1970]}, 365]}, _leap_days_before(year),
                    {"$subtract": [{"$dayOfYear": field}, 1]}]}
    return {"$add": [{"$multiply": [day, 1440]}, {"$multiply": [{"$hour": field}, 60]}, {"$minute": field}]}


@dataclass(frozen=True)
class _Range:
    start_at: datetime   # aware, 00:00 local of the first day
    end_at: datetime     # aware, 00:00 local of the day after the last one
    offsets: list[tuple[int, int]]  # (UTC minute from which it applies, local offset in minutes), ascending


def _range(start: date, end: date) -> _Range:
    zone = timezone.get_default_timezone()
    start_at = datetime.combine(start, time.min, tzinfo=zone)
    end_at = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    # The zone's UTC offset over the range, with the minute each change takes effect (daylight saving
    # changes it at most twice a year; Asia/Shanghai never): a `$switch` only when it changes.
    def offset_at(utc_minute: int) -> int:
        moment = datetime.fromtimestamp(utc_minute * 60, tz=dt_timezone.utc).astimezone(zone)
        return int(moment.utcoffset().total_seconds() // 60)

    first = int(start_at.timestamp() // 60)
    offsets = [(0, offset_at(first))]
    day_minutes = [first + 1440 * n for n in range((end - start).days + 3)]
    for low, high in zip(day_minutes, day_minutes[1:]):
        if offset_at(high) != offsets[-1][1]:
            while high - low > 1:  # the first minute of the new offset, by bisection within that day
                middle = (low + high) // 2
                low, high = (low, middle) if offset_at(middle) != offsets[-1][1] else (middle, high)
            offsets.append((high, offset_at(high)))
    return _Range(start_at=start_at, end_at=end_at, offsets=offsets)


def _local_day_number(field: str, offsets: list[tuple[int, int]]) -> dict:
    """Days since 1970-01-01 of the local day of a date field (an integer, or a double that is one)."""
    minute = _utc_minute(field)
    if len(offsets) == 1:
        offset = offsets[0][1]
    else:
        offset = {"$switch": {
            "branches": [{"case": {"$lt": [minute, until]}, "then": previous}
                         for (_, previous), (until, _) in zip(offsets, offsets[1:])],
            "default": offsets[-1][1],
        }}
    # + 1440 keeps the dividend positive for any offset down to -24 h; the day is then one more.
    return {"$subtract": [_div({"$add": [minute, offset, 1440]}, 1440), 1]}


def _match(r: _Range, *, actions: list[str] | None = None, event_ids: list[int] | None = None,
           extra: list[dict] | None = None) -> dict:
    conditions: list[dict] = []
    if actions is not None:
        conditions.append({"action": actions[0]} if len(actions) == 1 else {"action": {"$in": actions}})
    conditions += [{"timestamp": {"$gte": r.start_at}}, {"timestamp": {"$lt": r.end_at}}]
    if event_ids is not None:
        conditions.append({"event_id": {"$in": list(event_ids)}})
    return {"$match": {"$and": conditions + (extra or [])}}


# -- pipelines ---------------------------------------------------------------------------------------
# Each `*_pipeline` builds the pipeline; the public function runs it and shapes the answer.

def funnel_pipeline(*, start: date, end: date, event_ids: list[int] | None = None) -> list[dict]:
    return [
        _match(_range(start, end), actions=FUNNEL_ACTIONS, event_ids=event_ids),
        {"$project": {"_id": 0, "s": STEP, "v": VISITOR}},
        {"$match": {"v": {"$ne": None}}},
        {"$group": {"_id": {"$concat": ["$s", "|", "$v"]}, "s": {"$first": "$s"}}},
        {"$group": {"_id": "$s", "visitors": {"$sum": 1}}},
    ]


def _funnel_rows(result: list[dict]) -> list[dict]:
    counts = {row["_id"]: int(row["visitors"]) for row in result}
    return [{"step": step, "visitors": counts.get(step, 0)} for step in FUNNEL_STEPS]


def funnel_by_event_pipeline(*, start: date, end: date, event_ids: list[int] | None = None,
                             limit: int = 20) -> list[dict]:
    per_step = {step: {"$sum": {"$cond": [{"$eq": ["$s", step]}, "$n", 0]}} for step in FUNNEL_STEPS}
    return [
        _match(_range(start, end), actions=FUNNEL_ACTIONS, event_ids=event_ids,
               extra=None if event_ids is not None else [{"event_id": {"$ne": None}}]),
        {"$project": {"_id": 0, "e": "$event_id", "s": STEP, "v": VISITOR}},
        {"$match": {"v": {"$ne": None}}},
        {"$group": {"_id": {"$concat": [{"$toString": "$e"}, "|", "$s", "|", "$v"]},
                    "e": {"$first": "$e"}, "s": {"$first": "$s"}}},
        {"$group": {"_id": {"$concat": [{"$toString": "$e"}, "|", "$s"]},
                    "e": {"$first": "$e"}, "s": {"$first": "$s"}, "n": {"$sum": 1}}},
        {"$group": {"_id": "$e", **per_step}},
        {"$sort": {"view": -1, "paid": -1, "_id": 1}},
        {"$limit": limit},
    ]


def _funnel_by_event_rows(result: list[dict]) -> list[dict]:
    return [{"event_id": int(row["_id"]), **{step: int(row[step]) for step in FUNNEL_STEPS}} for row in result]


def _search_match(start: date, end: date, *extra: dict) -> dict:
    return _match(_range(start, end), actions=[Action.SEARCH],
                  extra=[{"details.q": {"$type": "string"}}, {"details.q": {"$ne": ""}}, *extra])


def searches_top_pipeline(*, start: date, end: date, limit: int = 20) -> list[dict]:
    return [
        _search_match(start, end),
        {"$group": {"_id": {"$toLower": "$details.q"}, "count": {"$sum": 1},
                    "avg_results": {"$avg": "$details.results"}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": limit},
    ]


def _searches_top_rows(result: list[dict]) -> list[dict]:
    return [{"query": row["_id"], "count": int(row["count"]),
             "avg_results": None if row["avg_results"] is None else round(float(row["avg_results"]), 1)}
            for row in result]


def searches_empty_pipeline(*, start: date, end: date, limit: int = 20) -> list[dict]:
    return [
        _search_match(start, end, {"details.results": 0}),
        {"$group": {"_id": {"$toLower": "$details.q"}, "count": {"$sum": 1}}},
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": limit},
    ]


def _searches_empty_rows(result: list[dict]) -> list[dict]:
    return [{"query": row["_id"], "count": int(row["count"])} for row in result]


def active_by_day_pipeline(*, start: date, end: date, event_ids: list[int] | None = None) -> list[dict]:
    r = _range(start, end)
    return [
        _match(r, event_ids=event_ids),
        {"$project": {"_id": 0, "d": _local_day_number("$timestamp", r.offsets), "v": VISITOR, "u": SIGNED_IN}},
        {"$match": {"v": {"$ne": None}}},
        {"$group": {"_id": {"$concat": [{"$toString": "$d"}, "|", "$v"]}, "d": {"$first": "$d"}, "u": {"$first": "$u"}}},
        {"$group": {"_id": "$d", "visitors": {"$sum": 1}, "users": {"$sum": "$u"}}},
    ]


def _active_by_day_rows(result: list[dict], start: date, end: date) -> list[dict]:
    counts = {EPOCH_DAY + timedelta(days=int(row["_id"])): row for row in result}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [{"day": day, "visitors": int(counts[day]["visitors"]) if day in counts else 0,
             "users": int(counts[day]["users"]) if day in counts else 0} for day in days]


# -- the figures -------------------------------------------------------------------------------------

def _aggregate(pipeline: list[dict], collection=None) -> list[dict]:
    """The pipeline's result, kept CACHE_SECONDS in the cache: nx-27017 evaluates a pipeline over the
    whole collection (seconds on a large log), and a dashboard asks for the same figures again."""
    if collection is not None:  # a given collection (tests, the self-check) is never cached
        return _run(pipeline, collection)
    key = "behaviour:" + hashlib.sha256(repr(pipeline).encode()).hexdigest()
    result = cache.get(key)
    if result is None:
        result = _run(pipeline, BehaviourLog._get_collection())
        cache.set(key, result, CACHE_SECONDS)
    return result


def _run(pipeline: list[dict], collection) -> list[dict]:
    try:
        return list(collection.aggregate(pipeline))
    except PyMongoError as error:
        raise BehaviourUnavailable() from error


def _scoped(start, end, event_ids, scope) -> tuple[date, date, list[int] | None]:
    if scope is not None:
        return scope.start, scope.end, scope.event_ids
    if start is None or end is None:
        raise TypeError("give start and end, or a scope")
    return start, end, event_ids


def funnel(*, start: date | None = None, end: date | None = None, event_ids: list[int] | None = None,
           scope=None, collection=None) -> list[dict]:
    """Distinct visitors at each step (view → seat map → hold → order → paid), every step listed.

    Raises BehaviourUnavailable when MongoDB does not answer."""
    start, end, event_ids = _scoped(start, end, event_ids, scope)
    if event_ids == []:
        return _funnel_rows([])
    return _funnel_rows(_aggregate(funnel_pipeline(start=start, end=end, event_ids=event_ids), collection))


def funnel_by_event(*, start: date | None = None, end: date | None = None, event_ids: list[int] | None = None,
                    limit: int = 20, scope=None, collection=None) -> list[dict]:
    """The funnel of each event, the most viewed first (at most `limit` events)."""
    start, end, event_ids = _scoped(start, end, event_ids, scope)
    if event_ids == []:
        return []
    pipeline = funnel_by_event_pipeline(start=start, end=end, event_ids=event_ids, limit=limit)
    return _funnel_by_event_rows(_aggregate(pipeline, collection))


def searches_top(*, start: date, end: date, limit: int = 20, collection=None) -> list[dict]:
    """The most frequent search queries (case folded), with their average result count."""
    return _searches_top_rows(_aggregate(searches_top_pipeline(start=start, end=end, limit=limit), collection))


def searches_empty(*, start: date, end: date, limit: int = 20, collection=None) -> list[dict]:
    """The most frequent search queries that found nothing (what buyers want and the catalogue lacks)."""
    return _searches_empty_rows(_aggregate(searches_empty_pipeline(start=start, end=end, limit=limit), collection))


def active_by_day(*, start: date | None = None, end: date | None = None, event_ids: list[int] | None = None,
                  scope=None, collection=None) -> list[dict]:
    """Distinct visitors and distinct signed-in users per local day, every day of the range listed."""
    start, end, event_ids = _scoped(start, end, event_ids, scope)
    if event_ids == []:
        return _active_by_day_rows([], start, end)
    pipeline = active_by_day_pipeline(start=start, end=end, event_ids=event_ids)
    return _active_by_day_rows(_aggregate(pipeline, collection), start, end)


# -- self-check ---------------------------------------------------------------------------------------

def _selfcheck_sample() -> tuple[dict, list[dict], dict[str, list[dict]]]:
    """A tiny log over two local days with the figures counted by hand (see each line's comment)."""
    zone = timezone.get_default_timezone()
    d0, d1, d2, d3 = (date(2000, 1, n) for n in (1, 2, 3, 4))

    def at(day: date, hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    def doc(action, when, user_id=None, anon_id=None, event_id=None, **details) -> dict:
        return {"user_id": user_id, "anon_id": anon_id, "action": action, "event_id": event_id,
                "session_id": None, "timestamp": when, "details": details}

    docs = [
        doc(Action.EVENT_VIEW, at(d1, 23, 30), 1, "c1", 1),       # u1, late on day 1
        doc(Action.SEATMAP_OPEN, at(d1, 23, 40), 1, "c1", 1),
        doc(Action.HOLD, at(d2, 0, 30), 1, None, 1),              # u1, just after midnight: day 2
        doc(Action.EVENT_VIEW, at(d2, 0, 10), None, "a1", 1),     # anonymous a1 on day 2, two events
        doc(Action.EVENT_VIEW, at(d2, 0, 20), None, "a1", 2),
        doc(Action.EVENT_VIEW, at(d1, 12, 0), 2, "c2", 2),        # u2 views and pays on day 1
        doc(Action.PAY, at(d1, 12, 30), 2, None, 2),
        doc(Action.EVENT_VIEW, at(d1, 13, 0), None, None, 1),     # nobody: counted nowhere
        doc(Action.EVENT_VIEW, at(d0, 23, 59), 3, None, 1),       # before the range
        doc(Action.SEARCH, at(d1, 9, 0), None, "a1", q="X", results=0),
        doc(Action.SEARCH, at(d1, 9, 5), 2, None, q="x", results=2),
        doc(Action.SEARCH, at(d2, 9, 0), None, "a1", q="y", results=4),
        doc(Action.SEARCH, at(d3, 0, 0), None, "a1", q="z", results=0),  # after the range
    ]
    expected = {
        "funnel": [{"step": "view", "visitors": 3}, {"step": "seatmap", "visitors": 1},
                   {"step": "hold", "visitors": 1}, {"step": "order", "visitors": 0}, {"step": "paid", "visitors": 1}],
        "funnel_by_event": [{"event_id": 2, "view": 2, "seatmap": 0, "hold": 0, "order": 0, "paid": 1},
                            {"event_id": 1, "view": 2, "seatmap": 1, "hold": 1, "order": 0, "paid": 0}],
        "searches_top": [{"query": "x", "count": 2, "avg_results": 1.0}, {"query": "y", "count": 1, "avg_results": 4.0}],
        "searches_empty": [{"query": "x", "count": 1}],
        "active_by_day": [{"day": d1, "visitors": 3, "users": 2}, {"day": d2, "visitors": 2, "users": 1}],
    }
    return {"start": d1, "end": d2}, docs, expected


def pipelines_selfcheck() -> list[str]:
    """The figures whose pipeline gives a wrong answer on a tiny sample in this MongoDB ([] when all agree).

    Runs in a scratch collection of the behaviour-log database, dropped afterwards.
    Raises BehaviourUnavailable when MongoDB does not answer."""
    import uuid

    days, docs, expected = _selfcheck_sample()
    try:
        scratch = BehaviourLog._get_collection().database[f"behaviour_selfcheck_{uuid.uuid4().hex[:12]}"]
        scratch.insert_many(docs)
    except PyMongoError as error:
        raise BehaviourUnavailable() from error
    try:
        wrong = []
        for name, figure in FIGURES.items():
            try:
                if figure(**days, collection=scratch) != expected[name]:
                    wrong.append(name)
            except BehaviourUnavailable:
                raise
            except Exception:  # an evaluator that refuses a stage is as wrong as one that miscounts
                wrong.append(name)
        return wrong
    finally:
        try:
            scratch.drop()
        except PyMongoError:
            pass


FIGURES: dict[str, Callable[..., list[dict]]] = {
    "funnel": funnel, "funnel_by_event": funnel_by_event, "searches_top": searches_top,
    "searches_empty": searches_empty, "active_by_day": active_by_day,
}

__all__ = ["BehaviourUnavailable", "FUNNEL_STEPS", "active_by_day", "funnel", "funnel_by_event",
           "pipelines_selfcheck", "searches_empty", "searches_top"]
