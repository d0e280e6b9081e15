"""GET /api/stats/funnel, /activity, /searches: figures from the behaviour log, who may read which, 400s, 503."""

from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from analytics.documents import Action, BehaviourLog
from tests.analytics.test_behaviour import line, local
from tests.events.factories import EventFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 2)
RANGE = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}


def client_for(user, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def shop(behaviour):
    """Two publishers with an event each; visitors on both; searches; one new account on DAY."""
    admin = UserFactory(role=Role.ADMIN)
    p1, p2 = UserFactory(role=Role.PUBLISHER), UserFactory(role=Role.PUBLISHER)
    mine, theirs = EventFactory(publisher=p1, title="Mine"), EventFactory(publisher=p2, title="Theirs")
    buyer = UserFactory(role=Role.CUSTOMER)
    BehaviourLog._get_collection().insert_many([
        line(Action.EVENT_VIEW, at=local(DAY, 23, 30), user_id=buyer.pk, anon_id="b", event_id=mine.pk),
        line(Action.SEATMAP_OPEN, at=local(DAY, 23, 31), user_id=buyer.pk, anon_id="b", event_id=mine.pk),
        line(Action.HOLD, at=local(DAY, 23, 32), user_id=buyer.pk, event_id=mine.pk),
        line(Action.EVENT_VIEW, at=local(DAY + timedelta(days=1), 0, 30), anon_id="k1", event_id=mine.pk),
        line(Action.EVENT_VIEW, at=local(DAY, 10), anon_id="k2", event_id=theirs.pk),
        line(Action.EVENT_VIEW, at=local(DAY, 11), anon_id="k3", event_id=theirs.pk),
        line(Action.EVENT_VIEW, at=local(DAY, 12), anon_id="k4", event_id=theirs.pk),
        line(Action.SEARCH, at=local(DAY, 9), anon_id="k2", q="莫扎特", results=0),
        line(Action.SEARCH, at=local(DAY, 9), anon_id="k3", q="Mine", results=1),
        line(Action.SEARCH, at=local(DAY, 9, 5), anon_id="k3", q="mine", results=3),
    ])
    return type("Shop", (), {"admin": admin, "p1": p1, "p2": p2, "mine": mine, "theirs": theirs, "buyer": buyer})


def steps(body) -> list[int]:
    return [row["visitors"] for row in body["steps"]]


def test_an_admin_sees_the_funnel_of_every_event_and_per_event(shop):
    answer = client_for(shop.admin).get("/api/stats/funnel", RANGE)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["start"], body["end"]) == (RANGE["from"], RANGE["to"])
    assert steps(body) == [5, 1, 1, 0, 0]
    assert body["by_event"] == [
        {"event_id": shop.theirs.pk, "title": "Theirs", "view": 3, "seatmap": 0, "hold": 0, "order": 0, "paid": 0},
        {"event_id": shop.mine.pk, "title": "Mine", "view": 2, "seatmap": 1, "hold": 1, "order": 0, "paid": 0}]


def test_a_publisher_sees_the_funnel_of_their_own_events_only(shop):
    body = client_for(shop.p1).get("/api/stats/funnel", RANGE).json()
    assert steps(body) == [2, 1, 1, 0, 0]
    assert [row["event_id"] for row in body["by_event"]] == [shop.mine.pk]


def test_a_publisher_cannot_ask_for_another_publishers_event(shop):
    answer = client_for(shop.p1).get("/api/stats/funnel", {**RANGE, "event": shop.theirs.pk})
    assert answer.status_code == 400
    assert answer.json() == {"event": ["No such event among yours."]}
    answer = client_for(shop.p1).get("/api/stats/activity", {**RANGE, "publisher": shop.p2.pk})
    assert answer.status_code == 400


def test_activity_counts_visitors_and_users_per_local_day_and_new_accounts(shop):
    from accounts.models import User

    User.objects.filter(pk=shop.buyer.pk).update(date_joined=local(DAY, 23, 50))
    answer = client_for(shop.admin).get("/api/stats/activity", RANGE)
    assert answer.status_code == 200
    days = answer.json()["days"]
    assert days[0] == {"day": DAY.isoformat(), "visitors": 4, "users": 1, "new_users": 1}
    assert days[1] == {"day": (DAY + timedelta(days=1)).isoformat(), "visitors": 1, "users": 0, "new_users": 0}


def test_a_publishers_activity_is_that_of_their_events_without_platform_sign_ups(shop):
    days = client_for(shop.p1).get("/api/stats/activity", RANGE).json()["days"]
    assert [(row["visitors"], row["users"], row["new_users"]) for row in days] == [(1, 1, None), (1, 0, None)]


def test_an_admin_sees_top_searches_and_searches_that_found_nothing(shop):
    answer = client_for(shop.admin).get("/api/stats/searches", RANGE)
    assert answer.status_code == 200
    body = answer.json()
    assert body["top"] == [{"query": "mine", "count": 2, "avg_results": 2.0},
                           {"query": "莫扎特", "count": 1, "avg_results": 0.0}]
    assert body["empty"] == [{"query": "莫扎特", "count": 1}]


@pytest.mark.parametrize("path", ["/api/stats/funnel", "/api/stats/activity", "/api/stats/searches"])
def test_customers_are_refused_and_anonymous_callers_must_log_in(shop, path):
    assert client_for(shop.buyer).get(path, RANGE).status_code == 403
    assert client_for(None).get(path, RANGE).status_code == 401


def test_publishers_may_not_read_the_platforms_searches(shop):
    answer = client_for(shop.p1).get("/api/stats/searches", RANGE)
    assert answer.status_code == 403
    assert "莫扎特" not in answer.content.decode()


def test_a_bad_range_is_refused_with_a_message(shop):
    answer = client_for(shop.admin).get("/api/stats/funnel", {"from": "2026-11-05", "to": "2026-11-01"})
    assert answer.status_code == 400
    assert answer.json() == {"non_field_errors": ["The range starts after it ends."]}
    answer = client_for(shop.admin).get("/api/stats/activity", {"from": "yesterday"})
    assert answer.status_code == 400 and list(answer.json()) == ["from"]


def test_a_bad_range_is_refused_in_the_callers_language(shop):
    answer = client_for(shop.admin, "zh-hans").get("/api/stats/searches", {"from": "not-a-day"})
    assert answer.status_code == 400
    assert answer.json() == {"from": ["输入一个有效的日期。"]}


@pytest.mark.parametrize("path", ["/api/stats/funnel", "/api/stats/activity", "/api/stats/searches"])
def test_when_mongodb_is_down_the_behaviour_figures_answer_503_with_a_message(shop, path, monkeypatch):
    import pymongo

    from tests.conftest import free_port

    client = pymongo.MongoClient(port=free_port(), serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    monkeypatch.setattr(BehaviourLog, "_get_collection", classmethod(lambda cls: client.nowhere.behaviour_logs))
    answer = client_for(shop.admin).get(path, RANGE)
    assert answer.status_code == 503
    assert answer.json()["code"] == "behaviour_unavailable"
    assert "unavailable" in answer.json()["detail"]
    client.close()
