"""The daily sales roll-up: figures read from it (complete days) plus live (today) equal the live-only figures.

Run on SQLite (TEST_SERVICES=embedded) and on MariaDB. The small shop of sales_fixture.py (an order
at 23:30 and one at 00:30 local, an order of two ticket types, a refund approved the day after its
sale), plus a sale today and a refund approved today of an order paid five days ago.
"""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from analytics import stats
from analytics.models import SalesDay, SalesRollupDay
from analytics.services import sales_rollup_beat, sales_rollup_refresh
from orders import services
from orders.models import Order, Ticket
from tests.analytics.sales_fixture import build_shop, local
from tests.analytics.test_stats import money, scope_of
from tests.factories import UserFactory
from tickets.models import TicketType
from tickets.services import hold_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    shop = build_shop()
    o1 = shop.orders["o1"]
    refund = services.refund_request(user=o1.user, order_id=o1.pk, reason="改期了")
    services.refund_review(actor=shop.admin, refund_id=refund.pk, approve=True)  # approved today, paid D
    standard = TicketType.objects.get(event=shop.e1, name="Standard")
    buyer = UserFactory()
    hold = hold_create(user=buyer, session=shop.s1, quantities={standard.pk: 2})
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    services.order_pay(user=buyer, order_id=order.pk, idempotency_key=uuid.uuid4().hex)  # paid today
    return shop


def scopes(shop):
    whole = {"from": shop.day - timedelta(days=1), "to": timezone.localdate()}
    return {"admin": scope_of(shop.admin, **whole), "publisher": scope_of(shop.p1, **whole),
            "event": scope_of(shop.admin, **whole, event=shop.e2.pk),
            "category": scope_of(shop.admin, **whole, category=shop.cat_a.pk),
            "admin, past days": scope_of(shop.admin, **{"from": shop.day, "to": shop.day + timedelta(days=2)})}


def figures(scope, *, rollup: bool) -> dict:
    return {**{g: stats.sales(scope=scope, group_by=g, rollup=rollup) for g in stats.GROUPS},
            "heat": stats.sales_heat(scope=scope, rollup=rollup)}


def test_figures_from_the_roll_up_and_today_live_equal_the_live_figures_for_every_scope_and_grouping(shop):
    live = {name: figures(scope, rollup=False) for name, scope in scopes(shop).items()}
    sales_rollup_refresh(days=[shop.day - timedelta(days=n) for n in range(-5, 3)])
    assert SalesRollupDay.objects.count() == 8 and SalesDay.objects.exists()
    for name, scope in scopes(shop).items():
        assert figures(scope, rollup=True) == live[name], name
    today = stats.sales(scope=scopes(shop)["admin"], group_by="day")[-1]
    assert (today["tickets"], today["orders"], today["refunds"], today["refund_amount"]) == (2, 1, 1, money(500))


def test_the_rows_per_event_and_per_ticket_type_are_the_hourly_rows_summed_and_the_migration_makes_them_alike(shop):
    import importlib

    from django.apps import apps
    from django.db.models import Sum

    from analytics.models import SalesDayEvent, SalesDayType

    sales_rollup_refresh(days=[shop.day - timedelta(days=n) for n in range(-5, 3)])
    columns = ("day", "event_id", "publisher_id", "city", "category_id")
    coarser = ((SalesDayEvent, (), ("tickets", "revenue", "orders", "refunded_tickets", "refund_amount", "refunds")),
               (SalesDayType, ("ticket_type_id",), ("tickets", "revenue", "type_orders", "refunded_tickets",
                                                    "refund_amount", "type_refunds")))

    def hourly(per, summed):
        return sorted(SalesDay.objects.values(*columns, *per).order_by().annotate(**{n: Sum(n) for n in summed})
                      .values_list(*columns, *per, *summed))

    for model, per, summed in coarser:
        written = sorted(model.objects.values_list(*columns, *per, *summed))
        assert written == hourly(per, summed) and len(written) >= 3, model
        model.objects.all().delete()
    importlib.import_module("analytics.migrations.0003_sales_rollup_per_event_and_type").fill_from_hourly_rows(apps, None)
    for model, per, summed in coarser:
        assert sorted(model.objects.values_list(*columns, *per, *summed)) == hourly(per, summed), model


def test_an_order_of_two_ticket_types_counts_once_per_day_and_event_and_once_per_ticket_type(shop):
    sales_rollup_refresh(days=[shop.day])
    scope = scope_of(shop.admin, date=shop.day)
    assert [(r["orders"], r["tickets"], r["revenue"]) for r in stats.sales(scope=scope, group_by="day")] == [(1, 3, money(500))]
    assert [r["orders"] for r in stats.sales(scope=scope, group_by="event")] == [1]
    assert sorted((r["label"], r["orders"]) for r in stats.sales(scope=scope, group_by="ticket_type")) == [
        ("Spring Gala · Standard", 1), ("Spring Gala · VIP", 1)]


def test_rolled_up_past_days_are_read_without_the_orders_tables(shop):
    days = [shop.day + timedelta(days=n) for n in range(3)]
    sales_rollup_refresh(days=days)
    scope = scopes(shop)["admin, past days"]
    with CaptureQueriesContext(connection) as queries:
        rows = stats.sales(scope=scope, group_by="day")
        stats.sales_heat(scope=scope)
    assert [r["revenue"] for r in rows] == [money(500), money(660), money(0)]
    assert not [q["sql"] for q in queries.captured_queries if Ticket._meta.db_table in q["sql"]]


def test_a_day_never_rolled_up_or_rolled_up_before_it_ended_is_read_live(shop):
    sales_rollup_refresh(days=[shop.day])
    late = Order.objects.get(pk=shop.orders["o2"].pk)
    Order.objects.filter(pk=late.pk).update(paid_at=local(shop.day, 12))  # D's figures change after its roll-up
    scope = scope_of(shop.admin, date=shop.day)
    assert stats.sales(scope=scope, group_by="day")[0]["orders"] == 1  # the roll-up, as refreshed
    SalesRollupDay.objects.filter(day=shop.day).update(refreshed_at=local(shop.day, 20))  # before D ended
    assert stats.sales(scope=scope, group_by="day")[0]["orders"] == 2
    SalesRollupDay.objects.all().delete()
    assert stats.sales(scope=scope, group_by="day")[0]["orders"] == 2


def test_refreshing_a_day_again_replaces_its_rows_and_keeps_a_refund_approved_later_on_its_own_day(shop):
    days = [shop.day + timedelta(days=n) for n in range(3)]
    sales_rollup_refresh(days=days)
    count = SalesDay.objects.count()
    sales_rollup_refresh(days=days)
    assert SalesDay.objects.count() == count
    rows = stats.sales(scope=scopes(shop)["admin, past days"], group_by="day")
    assert [(r["refunds"], r["refund_amount"]) for r in rows] == [(0, money(0)), (0, money(0)), (1, money(560))]


def test_the_beat_rolls_up_yesterday_today_and_every_past_day_never_rolled_up(shop):
    sales_rollup_beat()
    today = timezone.localdate()
    rolled = set(SalesRollupDay.objects.values_list("day", flat=True))
    assert rolled == {shop.day + timedelta(days=n) for n in range((today - shop.day).days + 1)}
    live = figures(scopes(shop)["admin"], rollup=False)
    assert figures(scopes(shop)["admin"], rollup=True) == live


def test_the_command_rolls_up_a_range_or_every_day(shop):
    out = StringIO()
    call_command("sales_rollup", "--from", shop.day.isoformat(), "--to", (shop.day + timedelta(days=1)).isoformat(), stdout=out)
    assert set(SalesRollupDay.objects.values_list("day", flat=True)) == {shop.day, shop.day + timedelta(days=1)}
    call_command("sales_rollup", "--all", stdout=out)
    assert SalesRollupDay.objects.count() == (timezone.localdate() - shop.day).days + 1
    assert "days" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_rolls_up_the_days_of_its_backdated_sales(behaviour, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", buyers=6, history_days=5, stdout=StringIO())
    paid = Order.objects.exclude(paid_at=None).order_by("paid_at").first()
    first = timezone.localtime(paid.paid_at).date()
    assert set(SalesRollupDay.objects.values_list("day", flat=True)) >= {
        first + timedelta(days=n) for n in range((timezone.localdate() - first).days + 1)}
    admin = User.objects.filter(role=Role.ADMIN).first()
    scope = scope_of(admin, **{"from": first, "to": timezone.localdate()})
    assert figures(scope, rollup=True) == figures(scope, rollup=False)
    assert stats.sales_totals(days=stats.sales(scope=scope, group_by="day"))["orders"] > 0
