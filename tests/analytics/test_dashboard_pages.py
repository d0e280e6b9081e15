"""/manage/stats/ and /publisher/stats/: figures, own events only, CSV exports, roles, MongoDB away."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import Role
from analytics import behaviour as behaviour_figures
from tests.analytics.sales_fixture import build_shop
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(behaviour):
    return build_shop()


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def three_days(shop) -> dict:
    return {"from": shop.day.isoformat(), "to": (shop.day + timedelta(days=2)).isoformat()}


def csv_rows(response) -> list[list[str]]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_admin_dashboard_shows_the_totals_of_every_event(shop):
    page = client_for(shop.admin).get("/manage/stats/", three_days(shop))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="kpi-revenue">¥1160.00<' in html
    assert 'data-testid="kpi-refunds">1 · ¥560.00<' in html
    assert 'data-testid="kpi-aov">¥386.67<' in html
    assert "Spring Gala" in html and "Hamlet" in html and 'id="stats-data"' in html
    # The behaviour log's sections come in a second request, which the page asks for at once.
    assert 'data-testid="behaviour-loading"' in html and "part=behaviour" in html
    assert 'data-testid="table-searches_top"' not in html
    part = client_for(shop.admin).get("/manage/stats/", {**three_days(shop), "part": "behaviour"}).content.decode()
    assert 'data-testid="table-searches_top"' in part  # platform figures for admins
    assert 'id="stats-behaviour-data"' in part and 'data-testid="kpi-revenue"' not in part


def test_the_publisher_dashboard_counts_only_their_own_events(shop):
    html = client_for(shop.p1).get("/publisher/stats/", three_days(shop)).content.decode()
    assert 'data-testid="kpi-revenue">¥600.00<' in html and 'data-testid="kpi-refunds">0 · ¥0.00<' in html
    assert "Hamlet" not in html
    assert 'data-testid="live-counter"' in html
    part = client_for(shop.p1).get("/publisher/stats/", {**three_days(shop), "part": "behaviour"}).content.decode()
    assert 'data-testid="chart-funnel"' in part and 'data-testid="table-searches_top"' not in part


def test_a_publisher_filtering_on_another_publishers_event_gets_a_400_page(shop):
    page = client_for(shop.p1).get("/publisher/stats/", {"event": shop.e2.pk})
    assert page.status_code == 400 and "No such event among yours." in page.content.decode()
    assert "Hamlet" not in page.content.decode()


def test_the_days_csv_keeps_the_filters_and_starts_with_a_bom(shop):
    answer = client_for(shop.admin).get("/manage/stats/", {**three_days(shop), "format": "csv", "table": "days"})
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer["Content-Disposition"]
    rows = csv_rows(answer)
    assert rows[0] == ["Day", "Revenue", "Tickets sold", "Orders", "Refunds", "Refunded", "Net", "Average order"]
    assert rows[1:] == [
        [shop.day.isoformat(), "500.00", "3", "1", "0", "0.00", "500.00", "500.00"],
        [(shop.day + timedelta(days=1)).isoformat(), "660.00", "3", "2", "0", "0.00", "660.00", "330.00"],
        [(shop.day + timedelta(days=2)).isoformat(), "0.00", "0", "0", "1", "560.00", "-560.00", "0.00"],
    ]


def test_the_publishers_events_csv_has_their_rows_only(shop):
    rows = csv_rows(client_for(shop.p2).get("/publisher/stats/", {**three_days(shop), "format": "csv", "table": "events"}))
    assert rows == [["Event", "Revenue", "Tickets sold", "Orders", "Refunds", "Refunded", "Net", "Average order"],
                    ["Hamlet", "560.00", "2", "1", "1", "560.00", "0.00", "560.00"]]


def test_a_publisher_has_no_publishers_table_and_an_unknown_table_is_404(shop):
    assert client_for(shop.p1).get("/publisher/stats/", {"format": "csv", "table": "publishers"}).status_code == 404
    assert client_for(shop.admin).get("/manage/stats/", {"format": "csv", "table": "nope"}).status_code == 404
    assert client_for(shop.admin).get("/manage/stats/", {"format": "csv", "table": "publishers"}).status_code == 200


def test_the_heat_csv_has_a_row_per_weekday_and_a_column_per_hour(shop):
    rows = csv_rows(client_for(shop.admin).get("/manage/stats/", {**three_days(shop), "format": "csv", "table": "heat"}))
    assert rows[0][:3] == ["Weekday", "00", "01"] and len(rows[0]) == 25 and len(rows) == 8
    sunday_or_so = rows[shop.day.isoweekday()]
    assert sunday_or_so[24] == "3"  # o1 at 23:30 local, 3 tickets


def test_the_sessions_csv_gives_sell_through_in_percent(shop):
    rows = csv_rows(client_for(shop.admin).get("/manage/stats/", {"format": "csv", "table": "sessions"}))
    assert rows[0] == ["Event", "Session", "Capacity", "Sold", "Held now", "Sell-through (%)"]
    assert rows[1][0] == "Spring Gala" and rows[1][2:] == ["110", "4", "1", "3.6"]


def test_when_mongodb_does_not_answer_the_behaviour_sections_say_so_and_sales_still_show(shop, monkeypatch):
    def away(**kwargs):
        raise behaviour_figures.BehaviourUnavailable()

    for name in ("funnel", "funnel_by_event", "active_by_day", "searches_top", "searches_empty"):
        monkeypatch.setattr(behaviour_figures, name, away)
    page = client_for(shop.admin).get("/manage/stats/", three_days(shop))
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="kpi-revenue">¥1160.00<' in html
    part = client_for(shop.admin).get("/manage/stats/", {**three_days(shop), "part": "behaviour"})
    assert part.status_code == 200 and 'data-testid="behaviour-unavailable"' in part.content.decode()
    assert client_for(shop.admin).get("/manage/stats/", {"format": "csv", "table": "funnel"}).status_code == 404
    users = csv_rows(client_for(shop.admin).get("/manage/stats/", {**three_days(shop), "format": "csv", "table": "users"}))
    assert users[0] == ["Day", "New accounts"]  # the relational column still exports


@pytest.mark.parametrize("path, allowed", [("/manage/stats/", Role.ADMIN), ("/publisher/stats/", Role.PUBLISHER)])
def test_only_the_dashboards_role_may_open_it(shop, path, allowed):
    for role in Role.values:
        status = client_for(UserFactory(role=role)).get(path).status_code
        assert status == (200 if role == allowed else 403), role
    assert client_for(None).get(path).status_code == 302


def test_the_navigation_links_each_role_to_its_dashboard(shop):
    assert 'href="/manage/stats/"' in client_for(shop.admin).get("/").content.decode()
    assert 'href="/publisher/stats/"' in client_for(shop.p1).get("/").content.decode()
    html = client_for(UserFactory()).get("/").content.decode()
    assert "/manage/stats/" not in html and "/publisher/stats/" not in html


def test_the_dashboard_speaks_chinese_when_the_page_is_chinese(shop):
    client = client_for(shop.admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    rows = csv_rows(client.get("/manage/stats/", {**three_days(shop), "format": "csv", "table": "categories"}))
    assert [r[0] for r in rows[1:]] == ["演唱会", "话剧"]
