"""Sales figures (analytics.stats) equal what is computed by hand on a small shop (tests/analytics/sales_fixture.py).

Run on SQLite (TEST_SERVICES=embedded) and on MariaDB: local days come from a fixed +08:00 shift.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.translation import override

from accounts.models import User
from analytics import stats
from analytics.scope import StatsFilterForm
from tests.analytics.sales_fixture import build_shop, local
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return build_shop()


def scope_of(user, **query):
    form = StatsFilterForm({k: str(v) for k, v in query.items()}, user=user)
    assert form.is_valid(), form.errors
    return form.scope()


def three_days(shop, user=None, **query):
    return scope_of(user or shop.admin, **{"from": shop.day, "to": shop.day + timedelta(days=2)}, **query)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_sales_by_day_put_an_order_at_23_30_and_one_at_00_30_on_their_own_local_days(shop):
    rows = stats.sales(scope=three_days(shop), group_by="day")
    assert [r["key"] for r in rows] == [shop.day, shop.day + timedelta(days=1), shop.day + timedelta(days=2)]
    d0, d1, d2 = rows
    assert (d0["revenue"], d0["tickets"], d0["orders"], d0["aov"]) == (money(500), 3, 1, money(500))
    assert (d1["revenue"], d1["tickets"], d1["orders"], d1["aov"]) == (money(660), 3, 2, money(330))
    assert (d0["refunds"], d1["refunds"]) == (0, 0)


def test_a_refund_counts_on_the_day_it_was_approved_and_lowers_the_net(shop):
    d2 = stats.sales(scope=three_days(shop), group_by="day")[2]
    assert (d2["revenue"], d2["tickets"], d2["orders"]) == (money(0), 0, 0)
    assert (d2["refunds"], d2["refund_amount"], d2["net"]) == (1, money(560), money(-560))


def test_days_without_sales_are_zero_rows_and_the_totals_add_up(shop):
    scope = scope_of(shop.admin, **{"from": shop.day - timedelta(days=3), "to": shop.day + timedelta(days=2)})
    rows = stats.sales(scope=scope, group_by="day")
    assert len(rows) == 6 and all(r["revenue"] == 0 and r["orders"] == 0 for r in rows[:3])
    total = stats.sales_totals(days=rows)
    assert (total["revenue"], total["tickets"], total["orders"]) == (money(1160), 6, 3)
    assert (total["refunds"], total["refund_amount"], total["net"], total["aov"]) == (1, money(560), money(600), money("386.67"))


def test_a_day_outside_the_range_is_not_counted(shop):
    rows = stats.sales(scope=scope_of(shop.admin, date=shop.day), group_by="day")
    assert [(r["revenue"], r["orders"]) for r in rows] == [(money(500), 1)]


def test_sales_by_event_ticket_type_publisher_city_and_category(shop):
    scope = three_days(shop)
    by = {g: {r["label"]: (r["revenue"], r["tickets"], r["orders"], r["refunds"], r["refund_amount"])
              for r in stats.sales(scope=scope, group_by=g)} for g in ("event", "ticket_type", "publisher", "city")}
    assert by["event"] == {"Spring Gala": (money(600), 4, 2, 0, money(0)), "Hamlet": (money(560), 2, 1, 1, money(560))}
    assert by["ticket_type"] == {"Spring Gala · Standard": (money(300), 3, 2, 0, money(0)),
                                 "Spring Gala · VIP": (money(300), 1, 1, 0, money(0)),
                                 "Hamlet · Standard": (money(560), 2, 1, 1, money(560))}
    assert by["publisher"] == {"一号主办": (money(600), 4, 2, 0, money(0)), "pub-two": (money(560), 2, 1, 1, money(560))}
    assert by["city"] == {"上海": (money(600), 4, 2, 0, money(0)), "北京": (money(560), 2, 1, 1, money(560))}
    with override("zh-hans"):
        assert [r["label"] for r in stats.sales(scope=scope, group_by="category")] == ["演唱会", "话剧"]
    with override("en"):
        assert [r["label"] for r in stats.sales(scope=scope, group_by="category")] == ["Concerts", "Drama"]


def test_rows_other_than_days_come_most_revenue_first_and_limit_cuts_them(shop):
    rows = stats.sales(scope=three_days(shop), group_by="event", limit=1)
    assert [r["label"] for r in rows] == ["Spring Gala"]


def test_a_publisher_sees_only_their_own_events_whatever_they_ask(shop):
    rows = stats.sales(scope=three_days(shop, user=shop.p1), group_by="event")
    assert [r["label"] for r in rows] == ["Spring Gala"]
    total = stats.sales_totals(days=stats.sales(scope=three_days(shop, user=shop.p1), group_by="day"))
    assert (total["revenue"], total["refunds"]) == (money(600), 0)
    form = StatsFilterForm({"event": str(shop.e2.pk)}, user=shop.p1)
    assert not form.is_valid() and "event" in form.errors


def test_filters_by_event_publisher_and_category_narrow_an_admins_figures(shop):
    assert [r["label"] for r in stats.sales(scope=three_days(shop, event=shop.e2.pk), group_by="event")] == ["Hamlet"]
    assert [r["label"] for r in stats.sales(scope=three_days(shop, publisher=shop.p1.pk), group_by="event")] == ["Spring Gala"]
    assert [r["label"] for r in stats.sales(scope=three_days(shop, category=shop.cat_b.pk), group_by="event")] == ["Hamlet"]


def test_heat_counts_tickets_by_local_weekday_and_hour_of_payment(shop):
    d0, d1 = shop.day, shop.day + timedelta(days=1)
    cells = {(c["weekday"], c["hour"]): (c["tickets"], c["revenue"]) for c in stats.sales_heat(scope=three_days(shop))}
    assert cells == {(d0.isoweekday(), 23): (3, money(500)), (d1.isoweekday(), 0): (1, money(100)),
                     (d1.isoweekday(), 10): (2, money(560))}


def test_sell_through_is_sold_over_capacity_and_counts_live_holds(shop):
    today = timezone.localdate()
    rows = {r["event"]: r for r in stats.sell_through(scope=scope_of(shop.admin, date=today))}
    gala, hamlet = rows["Spring Gala"], rows["Hamlet"]
    assert (gala["capacity"], gala["sold"], gala["held"], gala["rate"]) == (110, 4, 1, round(4 / 110, 4))
    assert (hamlet["capacity"], hamlet["sold"], hamlet["held"], hamlet["rate"]) == (10, 0, 0, 0.0)  # refunded: on sale again
    assert list(rows) == ["Spring Gala", "Hamlet"]
    assert [r["event"] for r in stats.sell_through(scope=scope_of(shop.p2, date=today))] == ["Hamlet"]


def test_sell_through_leaves_out_sessions_whose_sales_window_misses_the_range(shop):
    assert stats.sell_through(scope=scope_of(shop.admin, date=timezone.localdate() - timedelta(days=3))) == []


def test_live_counts_give_sold_and_held_per_session_of_an_event(shop):
    assert [(r["session_id"], r["sold"], r["held"], r["capacity"]) for r in stats.live_counts(event_id=shop.e1.pk)] \
        == [(shop.s1.pk, 4, 1, 110)]


def test_new_users_per_local_day(shop):
    day = shop.day
    User.objects.filter(pk=UserFactory().pk).update(date_joined=local(day, 23, 30))
    User.objects.filter(pk=UserFactory().pk).update(date_joined=local(day + timedelta(days=1), 0, 30))
    User.objects.filter(pk=UserFactory().pk).update(date_joined=local(day + timedelta(days=1), 12))
    rows = stats.new_users_by_day(start=day, end=day + timedelta(days=1))
    assert rows == [{"day": day, "users": 1}, {"day": day + timedelta(days=1), "users": 2}]


def test_a_figure_is_computed_once_a_minute_per_scope_and_language(shop):
    calls = []
    scope = three_days(shop)

    def compute():
        calls.append(1)
        return [len(calls)]

    assert stats.cached("x", scope, compute) == [1] and stats.cached("x", scope, compute) == [1]
    with override("zh-hans"):
        assert stats.cached("x", scope, compute) == [2]
    assert stats.cached("x", three_days(shop, user=shop.p1), compute) == [3]
