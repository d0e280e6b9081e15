"""GET /api/stats/sales, /sessions, /heat: the hand-computed figures, the publisher's own events only, 400s, 403s."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from tests.analytics.sales_fixture import build_shop
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return build_shop()


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def three_days(shop) -> dict:
    return {"from": shop.day.isoformat(), "to": (shop.day + timedelta(days=2)).isoformat()}


def test_sales_on_the_seeds_single_date_path(shop):
    answer = client_for(shop.admin).get("/api/stats/sales", {"date": shop.day.isoformat()})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["start"], body["end"], body["group_by"]) == (shop.day.isoformat(), shop.day.isoformat(), "day")
    assert body["rows"] == [{"key": shop.day.isoformat(), "label": shop.day.isoformat(), "revenue": "500.00",
                             "tickets": 3, "orders": 1, "refunds": 0, "refund_amount": "0.00", "net": "500.00",
                             "aov": "500.00"}]


def test_sales_totals_and_groups_for_an_admin(shop):
    body = client_for(shop.admin).get("/api/stats/sales", {**three_days(shop), "group_by": "publisher"}).json()
    assert body["totals"] == {"revenue": "1160.00", "tickets": 6, "orders": 3, "refunds": 1, "refund_amount": "560.00",
                              "net": "600.00", "aov": "386.67"}
    assert [(r["label"], r["revenue"], r["refunds"]) for r in body["rows"]] == [("一号主办", "600.00", 0),
                                                                               ("pub-two", "560.00", 1)]
    assert body["rows"][0]["key"] == str(shop.p1.pk)


def test_a_publisher_gets_their_own_events_only(shop):
    body = client_for(shop.p1).get("/api/stats/sales", {**three_days(shop), "group_by": "event"}).json()
    assert [r["label"] for r in body["rows"]] == ["Spring Gala"]
    assert body["totals"]["revenue"] == "600.00" and body["totals"]["refunds"] == 0
    sessions = client_for(shop.p1).get("/api/stats/sessions").json()["sessions"]
    assert [s["event"] for s in sessions] == ["Spring Gala"]
    assert client_for(shop.p2).get("/api/stats/heat", three_days(shop)).json()["cells"] == [
        {"weekday": (shop.day + timedelta(days=1)).isoweekday(), "hour": 10, "tickets": 2, "revenue": "560.00"}]


def test_a_publisher_asking_for_another_publishers_event_or_a_publisher_filter_gets_400(shop):
    answer = client_for(shop.p1).get("/api/stats/sales", {"event": shop.e2.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400 and answer.json()["event"] == ["No such event among yours."]
    answer = client_for(shop.p1).get("/api/stats/sales", {"publisher": shop.p2.pk})
    assert answer.status_code == 400 and "non_field_errors" in answer.json()


@pytest.mark.parametrize("query, field", [
    ({"date": "2026-13-01"}, "date"),
    ({"from": "2026-05-02", "to": "2026-05-01"}, "non_field_errors"),
    ({"from": "yesterday"}, "from"),
    ({"group_by": "weather"}, "group_by"),
])
def test_bad_filters_get_a_400_naming_the_field(shop, query, field):
    answer = client_for(shop.admin).get("/api/stats/sales", query)
    assert answer.status_code == 400 and field in answer.json()


def test_the_400_speaks_the_callers_language(shop):
    answer = client_for(shop.admin).get("/api/stats/sales", {"from": "yesterday"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert answer.status_code == 400 and "日期" in answer.json()["from"][0]


@pytest.mark.parametrize("path", ["/api/stats/sales", "/api/stats/sessions", "/api/stats/heat"])
def test_buyers_are_refused_and_anonymous_callers_must_log_in(shop, path):
    assert client_for(UserFactory(role=Role.CUSTOMER)).get(path).status_code == 403
    assert client_for(None).get(path).status_code == 401


def test_sell_through_for_an_admin_today(shop):
    sessions = client_for(shop.admin).get("/api/stats/sessions", {"date": timezone.localdate().isoformat()}).json()
    assert [(s["event"], s["capacity"], s["sold"], s["held"]) for s in sessions["sessions"]] == [
        ("Spring Gala", 110, 4, 1), ("Hamlet", 10, 0, 0)]


def test_figures_kept_for_a_minute_are_never_another_publishers(shop):
    three = three_days(shop)
    assert client_for(shop.p1).get("/api/stats/sales", three).json()["totals"]["revenue"] == "600.00"
    assert client_for(shop.p2).get("/api/stats/sales", three).json()["totals"]["revenue"] == "560.00"
    assert client_for(shop.admin).get("/api/stats/sales", three).json()["totals"]["revenue"] == "1160.00"
    assert client_for(shop.p1).get("/api/stats/sales", three).json()["totals"]["revenue"] == "600.00"
