"""Behaviour figures: every MongoDB pipeline equals its plain-Python twin on the same documents.

The documents go into the embedded nx-27017 that tests use (and, where mongomock is installed,
into mongomock too, a second evaluator that follows MongoDB's rules). The twins below are
written to be obviously right: a loop over the documents, local days from Django's timezone.
"""

import random
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from analytics import behaviour
from analytics.behaviour import FUNNEL_STEPS, BehaviourUnavailable
from analytics.documents import Action, BehaviourLog
from tests.conftest import free_port

START, END = date(2026, 11, 2), date(2026, 11, 5)
STEP_OF = {Action.EVENT_VIEW: "view", Action.SESSION_VIEW: "seatmap", Action.SEATMAP_OPEN: "seatmap",
           Action.HOLD: "hold", Action.ORDER: "order", Action.PAY: "paid"}
QUERIES = ["周杰伦", "Jay Chou", "jay chou", "话剧", "livehouse", "上海 演唱会", "abc", "莫扎特"]


def local(day: date, hour: int, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second, ms * 1000)))


def line(action, *, at, user_id=None, anon_id=None, event_id=None, **details) -> dict:
    return {"user_id": user_id, "anon_id": anon_id, "action": action, "event_id": event_id,
            "session_id": None, "timestamp": at, "details": details}


def sample(seed: int = 13, n: int = 400) -> list[dict]:
    """Varied lines over six local days: around midnight, both kinds of visitor, repeats, searches."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        day = START + timedelta(days=rng.randint(-1, 4))  # a day either side of the range
        hour, minute = rng.choice([(23, 30), (0, 30), (23, 59), (0, 0), (rng.randint(0, 23), rng.randint(0, 59))])
        at = local(day, hour, minute, rng.randint(0, 59), rng.randint(0, 999))
        who = rng.random()
        user_id = rng.randint(1, 12) if who < 0.5 else None
        anon_id = None if who > 0.95 else f"anon{rng.randint(1, 15)}"
        if rng.random() < 0.25:
            q = rng.choice(QUERIES + [""])
            details = {"q": q, "results": rng.choice([0, 0, 1, 3, 12])} if rng.random() > 0.05 else {}
            docs.append(line(Action.SEARCH, at=at, user_id=user_id, anon_id=anon_id, **details))
        else:
            action = rng.choice(list(STEP_OF) + [Action.REC_CLICK, Action.REFUND])
            docs.append(line(action, at=at, user_id=user_id, anon_id=anon_id, event_id=rng.choice([1, 2, 3, 4, 5, 6, None])))
    # The same visitors repeating steps, the same query again.
    docs += [dict(doc, timestamp=doc["timestamp"] + timedelta(minutes=5)) for doc in docs[:60]]
    return docs


# -- the twins ---------------------------------------------------------------------------------------

def in_range(doc, start, end) -> bool:
    return start <= timezone.localtime(doc["timestamp"]).date() <= end


def visitor(doc) -> str | None:
    if doc["user_id"] is not None:
        return f"u{doc['user_id']}"
    return f"a{doc['anon_id']}" if doc["anon_id"] is not None else None


def in_events(doc, event_ids) -> bool:
    return event_ids is None or doc["event_id"] in event_ids


def twin_funnel(docs, start, end, event_ids=None):
    seen = defaultdict(set)
    for doc in docs:
        if doc["action"] in STEP_OF and in_range(doc, start, end) and in_events(doc, event_ids) and visitor(doc):
            seen[STEP_OF[doc["action"]]].add(visitor(doc))
    return [{"step": step, "visitors": len(seen[step])} for step in FUNNEL_STEPS]


def twin_funnel_by_event(docs, start, end, event_ids=None, limit=20):
    seen = defaultdict(lambda: defaultdict(set))
    for doc in docs:
        if (doc["action"] in STEP_OF and in_range(doc, start, end) and in_events(doc, event_ids)
                and doc["event_id"] is not None and visitor(doc)):
            seen[doc["event_id"]][STEP_OF[doc["action"]]].add(visitor(doc))
    rows = [{"event_id": e, **{step: len(steps[step]) for step in FUNNEL_STEPS}} for e, steps in seen.items()]
    rows.sort(key=lambda row: (-row["view"], -row["paid"], row["event_id"]))
    return rows[:limit]


def searches(docs, start, end):
    return [doc for doc in docs if doc["action"] == Action.SEARCH and in_range(doc, start, end)
            and isinstance(doc["details"].get("q"), str) and doc["details"]["q"] != ""]


def twin_searches_top(docs, start, end, limit=20):
    results = defaultdict(list)
    for doc in searches(docs, start, end):
        results[doc["details"]["q"].lower()].append(doc["details"]["results"])
    rows = [{"query": q, "count": len(r), "avg_results": round(sum(r) / len(r), 1)} for q, r in results.items()]
    rows.sort(key=lambda row: (-row["count"], row["query"]))
    return rows[:limit]


def twin_searches_empty(docs, start, end, limit=20):
    counts = Counter(doc["details"]["q"].lower() for doc in searches(docs, start, end) if doc["details"]["results"] == 0)
    rows = sorted(({"query": q, "count": n} for q, n in counts.items()), key=lambda row: (-row["count"], row["query"]))
    return rows[:limit]


def twin_active_by_day(docs, start, end, event_ids=None):
    visitors, users = defaultdict(set), defaultdict(set)
    for doc in docs:
        if in_range(doc, start, end) and in_events(doc, event_ids) and visitor(doc):
            day = timezone.localtime(doc["timestamp"]).date()
            visitors[day].add(visitor(doc))
            if doc["user_id"] is not None:
                users[day].add(doc["user_id"])
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [{"day": day, "visitors": len(visitors[day]), "users": len(users[day])} for day in days]


# -- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture
def logs(behaviour):
    """Put documents into the behaviour log (the embedded MongoDB of this run)."""

    def insert(docs: list[dict]) -> list[dict]:
        BehaviourLog._get_collection().insert_many([dict(doc) for doc in docs])
        return docs

    return insert


@pytest.fixture
def mock_collection():
    mongomock = pytest.importorskip("mongomock")
    return mongomock.MongoClient(tz_aware=True).db.behaviour_logs


FIGURE_CASES = [
    ("funnel", twin_funnel, {}),
    ("funnel", twin_funnel, {"event_ids": [1, 3]}),
    ("funnel_by_event", twin_funnel_by_event, {}),
    ("funnel_by_event", twin_funnel_by_event, {"event_ids": [2, 4, 6], "limit": 2}),
    ("funnel_by_event", twin_funnel_by_event, {"limit": 3}),
    ("searches_top", twin_searches_top, {}),
    ("searches_top", twin_searches_top, {"limit": 3}),
    ("searches_empty", twin_searches_empty, {}),
    ("active_by_day", twin_active_by_day, {}),
    ("active_by_day", twin_active_by_day, {"event_ids": [5]}),
]


# -- every pipeline equals its twin --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "twin", "kwargs"), FIGURE_CASES)
def test_each_figure_on_the_embedded_mongodb_equals_its_plain_python_twin(logs, name, twin, kwargs):
    docs = logs(sample())
    expected = twin(docs, START, END, **kwargs)
    assert any(value for row in expected for key, value in row.items() if key != "event_id" and isinstance(value, int)), \
        "the sample must make the figure non-trivial"
    assert getattr(behaviour, name)(start=START, end=END, **kwargs) == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_figures_agree_with_their_twins_on_other_samples_and_a_one_day_range(logs, seed):
    docs = logs(sample(seed, 300))
    for day_range in ((START, END), (END, END)):
        assert behaviour.funnel(start=day_range[0], end=day_range[1]) == twin_funnel(docs, *day_range)
        assert behaviour.funnel_by_event(start=day_range[0], end=day_range[1]) == twin_funnel_by_event(docs, *day_range)
        assert behaviour.searches_top(start=day_range[0], end=day_range[1]) == twin_searches_top(docs, *day_range)
        assert behaviour.searches_empty(start=day_range[0], end=day_range[1]) == twin_searches_empty(docs, *day_range)
        assert behaviour.active_by_day(start=day_range[0], end=day_range[1]) == twin_active_by_day(docs, *day_range)


@pytest.mark.parametrize(("name", "twin", "kwargs"), FIGURE_CASES)
def test_each_pipeline_gives_the_same_answer_on_mongomock_a_standard_evaluator(mock_collection, name, twin, kwargs):
    docs = sample()
    mock_collection.insert_many([dict(doc) for doc in docs])
    expected = twin(docs, START, END, **kwargs)
    assert getattr(behaviour, name)(start=START, end=END, collection=mock_collection, **kwargs) == expected


# -- small cases, checked by hand ----------------------------------------------------------------------

def test_a_funnel_of_three_visitors_counts_each_visitor_once_per_step(logs):
    day = START
    logs([
        # user 1 goes all the way, viewing twice and opening the seat map both ways
        line(Action.EVENT_VIEW, at=local(day, 10), user_id=1, anon_id="x", event_id=1),
        line(Action.EVENT_VIEW, at=local(day, 11), user_id=1, anon_id="x", event_id=1),
        line(Action.SESSION_VIEW, at=local(day, 11, 5), user_id=1, anon_id="x", event_id=1),
        line(Action.SEATMAP_OPEN, at=local(day, 11, 6), user_id=1, anon_id="x", event_id=1),
        line(Action.HOLD, at=local(day, 11, 7), user_id=1, event_id=1),
        line(Action.ORDER, at=local(day, 11, 8), user_id=1, event_id=1),
        line(Action.PAY, at=local(day, 11, 9), user_id=1, event_id=1),
        # an anonymous visitor views and opens the seat map
        line(Action.EVENT_VIEW, at=local(day, 12), anon_id="k2", event_id=1),
        line(Action.SEATMAP_OPEN, at=local(day, 12, 1), anon_id="k2", event_id=1),
        # user 2 (with the same cookie as the anonymous visitor) only views, another event
        line(Action.EVENT_VIEW, at=local(day, 13), user_id=2, anon_id="k2", event_id=2),
        # not in the funnel: a search, a line of nobody, a view before the range
        line(Action.SEARCH, at=local(day, 14), user_id=3, q="abc", results=1),
        line(Action.EVENT_VIEW, at=local(day, 15), event_id=1),
        line(Action.EVENT_VIEW, at=local(START - timedelta(days=1), 23, 59), user_id=4, event_id=1),
    ])
    assert behaviour.funnel(start=START, end=END) == [
        {"step": "view", "visitors": 3}, {"step": "seatmap", "visitors": 2}, {"step": "hold", "visitors": 1},
        {"step": "order", "visitors": 1}, {"step": "paid", "visitors": 1}]
    assert behaviour.funnel(start=START, end=END, event_ids=[2]) == [
        {"step": "view", "visitors": 1}, {"step": "seatmap", "visitors": 0}, {"step": "hold", "visitors": 0},
        {"step": "order", "visitors": 0}, {"step": "paid", "visitors": 0}]
    assert behaviour.funnel_by_event(start=START, end=END) == [
        {"event_id": 1, "view": 2, "seatmap": 2, "hold": 1, "order": 1, "paid": 1},
        {"event_id": 2, "view": 1, "seatmap": 0, "hold": 0, "order": 0, "paid": 0}]


def test_visits_at_half_past_eleven_and_half_past_midnight_local_fall_on_two_local_days(logs):
    # 23:30 and 00:30 in Shanghai are 15:30 and 16:30 UTC of ONE UTC day.
    logs([
        line(Action.EVENT_VIEW, at=local(START, 23, 30), user_id=1, event_id=1),
        line(Action.EVENT_VIEW, at=local(START + timedelta(days=1), 0, 30), user_id=1, event_id=1),
        line(Action.EVENT_VIEW, at=local(START + timedelta(days=1), 0, 45), anon_id="z", event_id=1),
        line(Action.EVENT_VIEW, at=local(START, 0, 0), anon_id="first-instant", event_id=1),
        line(Action.EVENT_VIEW, at=local(END, 23, 59, 59, 999), anon_id="last-instant", event_id=1),
        line(Action.EVENT_VIEW, at=local(END + timedelta(days=1), 0, 0), anon_id="after", event_id=1),
        line(Action.EVENT_VIEW, at=local(START - timedelta(days=1), 23, 59, 59, 999), anon_id="before", event_id=1),
    ])
    assert behaviour.active_by_day(start=START, end=END) == [
        {"day": START, "visitors": 2, "users": 1},
        {"day": START + timedelta(days=1), "visitors": 2, "users": 1},
        {"day": START + timedelta(days=2), "visitors": 0, "users": 0},
        {"day": END, "visitors": 1, "users": 0},
    ]
    assert behaviour.funnel(start=START, end=END)[0] == {"step": "view", "visitors": 4}


def test_days_across_new_year_and_a_leap_day_are_counted_on_their_own_local_day(logs):
    logs([
        line(Action.EVENT_VIEW, at=local(date(2027, 12, 31), 23, 30), anon_id="a"),
        line(Action.EVENT_VIEW, at=local(date(2028, 1, 1), 0, 30), anon_id="a"),
        line(Action.EVENT_VIEW, at=local(date(2028, 2, 29), 8, 0), anon_id="b"),
        line(Action.EVENT_VIEW, at=local(date(2028, 3, 1), 7, 59), anon_id="b"),
    ])
    days = {row["day"]: row["visitors"] for row in behaviour.active_by_day(start=date(2027, 12, 30), end=date(2028, 3, 1))}
    assert days[date(2027, 12, 31)] == 1 and days[date(2028, 1, 1)] == 1
    assert days[date(2028, 2, 29)] == 1 and days[date(2028, 3, 1)] == 1
    assert sum(days.values()) == 4


def test_searches_are_counted_case_folded_and_those_that_found_nothing_are_listed_apart(logs):
    logs([
        line(Action.SEARCH, at=local(START, 9), anon_id="a", q="Jay Chou", results=4),
        line(Action.SEARCH, at=local(START, 9), anon_id="b", q="jay chou", results=2),
        line(Action.SEARCH, at=local(START, 9), anon_id="c", q="周杰伦", results=0),
        line(Action.SEARCH, at=local(START, 10), anon_id="c", q="周杰伦", results=0),
        line(Action.SEARCH, at=local(START, 10), anon_id="d", q="话剧", results=0),
        line(Action.SEARCH, at=local(START, 11), anon_id="d", q="", results=30),
        line(Action.SEARCH, at=local(START, 11), anon_id="d"),
    ])
    assert behaviour.searches_top(start=START, end=END) == [
        {"query": "jay chou", "count": 2, "avg_results": 3.0},
        {"query": "周杰伦", "count": 2, "avg_results": 0.0},
        {"query": "话剧", "count": 1, "avg_results": 0.0}]
    assert behaviour.searches_empty(start=START, end=END) == [{"query": "周杰伦", "count": 2}, {"query": "话剧", "count": 1}]
    assert behaviour.searches_empty(start=START, end=END, limit=1) == [{"query": "周杰伦", "count": 2}]


def test_a_publisher_without_events_gets_empty_figures_not_everyones(logs):
    logs(sample())
    assert all(row["visitors"] == 0 for row in behaviour.funnel(start=START, end=END, event_ids=[]))
    assert behaviour.funnel_by_event(start=START, end=END, event_ids=[]) == []
    assert all(row["visitors"] == 0 for row in behaviour.active_by_day(start=START, end=END, event_ids=[]))


def test_a_scope_from_the_stats_filter_form_gives_the_same_figures(logs):
    from analytics.scope import StatsScope

    docs = logs(sample())
    scope = StatsScope(start=START, end=END, event_ids=[1, 2])
    assert behaviour.funnel(scope=scope) == twin_funnel(docs, START, END, [1, 2])
    assert behaviour.active_by_day(scope=scope) == twin_active_by_day(docs, START, END, [1, 2])


def test_when_mongodb_does_not_answer_the_figures_raise_behaviour_unavailable():
    import pymongo

    client = pymongo.MongoClient(port=free_port(), serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    dead = client.nowhere.behaviour_logs
    for name in behaviour.FIGURES:
        with pytest.raises(BehaviourUnavailable) as raised:
            behaviour.FIGURES[name](start=START, end=END, collection=dead)
        assert raised.value.status_code == 503
    client.close()


def test_a_figure_asked_again_within_two_minutes_comes_from_the_cache(logs):
    from django.core.cache import cache

    logs(sample())
    first = behaviour.funnel(start=START, end=END)
    BehaviourLog._get_collection().delete_many({})
    assert behaviour.funnel(start=START, end=END) == first
    cache.delete_pattern("behaviour:*")
    assert all(row["visitors"] == 0 for row in behaviour.funnel(start=START, end=END))


# -- the self-check ----------------------------------------------------------------------------------

def test_the_self_check_finds_every_pipeline_right_on_the_embedded_mongodb(behaviour):
    assert behaviour_module().pipelines_selfcheck() == []
    names = BehaviourLog._get_collection().database.list_collection_names()
    assert not [name for name in names if name.startswith("behaviour_selfcheck_")], "the scratch collection is dropped"


def test_the_self_check_names_the_pipelines_that_the_embedded_mongodb_gets_wrong(behaviour, monkeypatch):
    # A visitor key built on `$gt: [user_id, null]`: right on MongoDB, wrong on nx-27017 (without an error).
    module = behaviour_module()
    monkeypatch.setattr(module, "VISITOR", {"$cond": [{"$gt": ["$user_id", None]},
                                                      {"$concat": ["u", {"$toString": "$user_id"}]},
                                                      {"$concat": ["a", "$anon_id"]}]})
    assert sorted(module.pipelines_selfcheck()) == ["active_by_day", "funnel", "funnel_by_event"]


def test_each_self_check_expectation_agrees_with_the_twins():
    days, docs, expected = behaviour_module()._selfcheck_sample()
    start, end = days["start"], days["end"]
    assert expected["funnel"] == twin_funnel(docs, start, end)
    assert expected["funnel_by_event"] == twin_funnel_by_event(docs, start, end)
    assert expected["searches_top"] == twin_searches_top(docs, start, end)
    assert expected["searches_empty"] == twin_searches_empty(docs, start, end)
    assert expected["active_by_day"] == twin_active_by_day(docs, start, end)


def behaviour_module():
    return behaviour


def test_local_days_stay_right_across_a_daylight_saving_change(logs, settings):
    # Asia/Shanghai has none; a zone that has one gets a `$switch` of offsets (Berlin: 2026-10-25, 03:00 → 02:00).
    settings.TIME_ZONE = "Europe/Berlin"
    days = [date(2026, 10, 24) + timedelta(days=n) for n in range(3)]
    docs = logs([line(Action.EVENT_VIEW, at=local(day, hour, minute), anon_id=f"{day}-{hour}", event_id=1)
                 for day in days for hour, minute in ((0, 30), (2, 30), (23, 30))])
    answer = behaviour.active_by_day(start=days[0], end=days[-1])
    assert answer == twin_active_by_day(docs, days[0], days[-1])
    assert [row["visitors"] for row in answer] == [3, 3, 3]
    spring = [date(2026, 3, 28) + timedelta(days=n) for n in range(3)]  # 02:00 → 03:00 on the 29th
    docs += logs([line(Action.EVENT_VIEW, at=local(day, hour, minute), anon_id=f"{day}-{hour}", event_id=1)
                  for day in spring for hour, minute in ((0, 30), (3, 30), (23, 30))])
    assert behaviour.active_by_day(start=spring[0], end=spring[-1]) == twin_active_by_day(docs, spring[0], spring[-1])
    assert behaviour.active_by_day(start=spring[0], end=days[-1]) == twin_active_by_day(docs, spring[0], days[-1])
