"""The demo history: weeks of behaviour lines from buyers with hidden tastes, and the sales they made,
consistent with each other and with the inventory; made once, and not without MongoDB."""

import logging
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Role, User
from analytics import demo
from analytics.apps import mongo_indexes_after_migrate
from analytics.documents import Action, BehaviourLog
from events.demo import seed_events
from events.models import Event
from orders.models import (
    CheckIn, LedgerEntry, LedgerKind, Order, OrderStatus, Payment, Refund, RefundStatus, Scan, ScanResult, Ticket,
    TicketStatus, Wallet,
)
from tests.conftest import free_port
from tests.factories import UserFactory
from tickets.demo import seed_tickets
from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, Session, SessionSeat, Stock

pytestmark = pytest.mark.django_db

DAYS = 28
BUYERS = 40


def local(moment):
    return timezone.localtime(moment, timezone.get_default_timezone())


@pytest.fixture
def catalogue():
    """The demo catalogue (fewer events than seed_demo), its admin and the demo customer."""
    admin = UserFactory(role=Role.ADMIN, username="admin")
    UserFactory(username="customer", display_name="小王")
    seed_events(publishers=[UserFactory(role=Role.PUBLISHER) for _ in range(2)], admin=admin, count=150)
    seed_tickets(Event.objects.all())
    return admin


@pytest.fixture
def history(catalogue, behaviour):
    result = demo.seed_history(buyers=BUYERS, days=DAYS)
    assert not result.skipped, result.summary()
    return result


@pytest.fixture
def crowded_history(catalogue, behaviour, monkeypatch):
    """Every buyer's taste is the seated shows: many buyers after the same seats and the same stock."""
    seated = Event.objects.filter(sessions__seat_map__isnull=False).select_related("category").distinct()
    taste = demo.Taste(categories=tuple({e.category.slug for e in seated}), cities=tuple({e.city for e in seated}))
    assert taste.categories
    monkeypatch.setattr(demo, "buyer_taste", lambda index: taste)
    result = demo.seed_history(buyers=BUYERS, days=DAYS)
    assert not result.skipped, result.summary()
    return result


@pytest.fixture
def past_history(catalogue, behaviour, monkeypatch):
    """Every buyer's taste is the events of the last days (they have begun): tickets for the door."""
    now = timezone.now()
    past = Event.objects.filter(status="approved", start_time__lte=now, start_time__gt=now - timedelta(days=DAYS - 2))
    taste = demo.Taste(categories=tuple({e.category.slug for e in past.select_related("category")}),
                       cities=tuple({e.city for e in past}))
    assert taste.categories
    monkeypatch.setattr(demo, "buyer_taste", lambda index: taste)
    result = demo.seed_history(buyers=BUYERS, days=DAYS)
    assert not result.skipped, result.summary()
    return result


@pytest.fixture
def mongo_down(behaviour):
    """MongoDB refuses (nothing listens on its port) during the test; the test one is back after."""
    import mongoengine
    from django.conf import settings

    from analytics.mongo import connect

    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    mongoengine.connect(host=f"mongodb://127.0.0.1:{free_port()}/nowhere", alias=settings.MONGODB_DB_ALIAS,
                        connect=False, serverSelectionTimeoutMS=2000, tz_aware=True,
                        uuidRepresentation="standard")
    BehaviourLog._collection = None
    yield
    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    connect()
    BehaviourLog._collection = None


def indexed() -> set[tuple[str, ...]]:
    """The behaviour log's indexes, by their fields."""
    return {tuple(field for field, _order in index["key"])
            for index in BehaviourLog._get_collection().index_information().values()}


def lines(**match) -> list[dict]:
    return list(BehaviourLog._get_collection().find(match, {"_id": 0}))


def test_the_history_spans_the_weeks_with_every_kind_of_line_and_busy_evenings(history):
    everything = lines()
    assert len(everything) == history.lines > 1000
    assert {line["action"] for line in everything} >= {
        Action.EVENT_VIEW, Action.SESSION_VIEW, Action.TICKET_TYPE_CHOSEN, Action.SEARCH, Action.HOLD, Action.ORDER,
        Action.PAY}
    now = timezone.now()
    stamps = [line["timestamp"] for line in everything]
    assert min(stamps) >= now - timedelta(days=DAYS, minutes=1) and max(stamps) <= now
    days = {local(t).date() for t in stamps}
    assert len(days) >= DAYS - 1  # every day has visitors
    hours = Counter(local(t).hour for t in stamps)
    assert hours[20] + hours[21] > 4 * (hours[3] + hours[4])  # evenings, not nights
    assert any(line["user_id"] is None and line["anon_id"] for line in everything)  # anonymous visitors too
    assert all(line["anon_id"].startswith(demo.ANON_PREFIX) and len(line["anon_id"]) == 32 for line in everything)


@pytest.mark.django_db(transaction=True)  # InnoDB's full-text index sees committed rows only
def test_some_searches_find_nothing_and_the_others_say_how_many_they_found(history):
    searches = lines(action=Action.SEARCH)
    empty = {s["details"]["q"] for s in searches if s["details"]["results"] == 0}
    assert empty & set(demo.NOTHING)
    assert any(s["details"]["results"] > 0 for s in searches)
    from events.selectors import event_search

    found = next(s for s in searches if s["details"]["results"] > 0)
    city = found["details"]["filters"].get("city", "")
    assert event_search(query=found["details"]["q"], city=city).count() == found["details"]["results"]


def test_a_buyers_views_mostly_fall_in_their_favourite_categories_and_cities(history):
    tastes = {user.pk: taste for user, taste in demo.demo_buyers()}
    assert len(tastes) == BUYERS + 1  # and the demo customer
    events = {e.pk: (e.category.slug, e.city) for e in Event.objects.select_related("category")}
    views = defaultdict(list)
    for line in lines(action=Action.EVENT_VIEW):
        if line["user_id"] is not None:
            views[line["user_id"]].append(events[line["event_id"]])
    shares = []
    for user_id, seen in views.items():
        if len(seen) >= 10:
            taste = tastes[user_id]
            shares.append(sum(1 for category, _city in seen if category in taste.categories) / len(seen))
    assert len(shares) >= 10
    assert sorted(shares)[len(shares) // 2] >= 0.65  # the median buyer
    all_views = [(tastes[u], v) for u, seen in views.items() for v in seen]
    in_taste = sum(1 for taste, (category, city) in all_views if category in taste.categories and city in taste.cities)
    assert in_taste / len(all_views) > 0.3  # an event of their kind in their own city, far above chance (~3%)
    bought = Order.objects.filter(status=OrderStatus.PAID, user_id__in=tastes).select_related("event__category")
    assert sum(1 for o in bought if o.event.category.slug in tastes[o.user_id].categories) > 0.6 * bought.count()


def test_each_pay_line_has_its_paid_order_with_the_same_amount_and_moment(history):
    pays = lines(action=Action.PAY)
    assert len(pays) == history.paid > 20
    orders = {o.pk: o for o in Order.objects.filter(pk__in=[p["details"]["order"] for p in pays])}
    assert len(orders) == len(pays)
    now = timezone.now()
    for line in pays:
        order = orders[line["details"]["order"]]
        assert order.user_id == line["user_id"] and order.event_id == line["event_id"]
        assert order.status in (OrderStatus.PAID, OrderStatus.USED, OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED)
        assert order.total == Decimal(str(line["details"]["amount"]))
        assert abs(order.paid_at - line["timestamp"]) < timedelta(milliseconds=1)
        assert order.created_at < order.paid_at < order.expires_at and order.paid_at < now - timedelta(minutes=30)
        assert Payment.objects.get(order=order).amount == order.total
    # … and nothing was paid that no line tells of.
    assert Order.objects.filter(paid_at__isnull=False).count() == len(pays)
    ordered = lines(action=Action.ORDER)
    assert Order.objects.count() == len(ordered) == history.orders
    assert set(Order.objects.filter(paid_at__isnull=True).values_list("status", flat=True)) == {OrderStatus.EXPIRED}
    held = lines(action=Action.HOLD)
    assert Hold.objects.count() == len(held) and Hold.objects.filter(status=HoldStatus.ACTIVE).count() == 0
    for line in held[:50]:
        hold = Hold.objects.get(pk=line["details"]["hold"])
        assert hold.user_id == line["user_id"] and hold.session_id == line["session_id"]
        assert hold.quantity == line["details"]["tickets"]
    refunds = lines(action=Action.REFUND)  # logged when approved, as refund_review does
    approved = Refund.objects.filter(status=RefundStatus.APPROVED)
    assert Refund.objects.count() == history.refunds and len(refunds) == approved.count() > 0
    for line in refunds:
        refund = approved.get(pk=line["details"]["refund"])
        assert refund.order_id == line["details"]["order"] and refund.user_id == line["user_id"]
        assert refund.amount == Decimal(str(line["details"]["amount"]))
        assert abs(refund.reviewed_at - line["timestamp"]) < timedelta(milliseconds=1)


def test_the_sales_left_the_inventory_and_the_wallets_consistent(crowded_history):
    assert lines(action=Action.SEATMAP_OPEN)
    valid = Ticket.objects.exclude(status=TicketStatus.VOID)
    tickets = Counter({(r["session"], r["ticket_type"]): r["n"] for r in
                       valid.filter(seat__isnull=True).values("session", "ticket_type").annotate(n=Count("pk"))})
    for stock in Stock.objects.all():
        assert stock.available + stock.held + stock.sold == stock.total and stock.held == 0
        assert stock.available >= 0 and stock.sold == tickets[(stock.session_id, stock.ticket_type_id)]
    assert Stock.objects.filter(sold__gt=0).exists()
    seated = valid.filter(seat__isnull=False)
    assert seated.exists()
    assert seated.values("session", "seat").annotate(n=Count("pk")).filter(n__gt=1).count() == 0  # no seat sold twice
    sold = set(SessionSeat.objects.filter(status=SeatStatus.SOLD).values_list("session_id", "seat_id"))
    assert sold == set(seated.values_list("session_id", "seat_id"))
    assert not SessionSeat.objects.filter(status=SeatStatus.HELD).exists()
    for row in SessionSeat.objects.filter(status=SeatStatus.SOLD).select_related("hold"):
        assert row.hold.status == HoldStatus.CONSUMED
    # No buyer bought more of a type for a session than its limit.
    per_buyer = (HoldItem.objects.filter(hold__status=HoldStatus.CONSUMED)
                 .values("hold__user", "hold__session", "ticket_type", "ticket_type__per_user_limit")
                 .annotate(n=Sum("quantity")))
    assert all(row["n"] <= row["ticket_type__per_user_limit"] for row in per_buyer)
    for order in Order.objects.filter(paid_at__isnull=False).prefetch_related("tickets"):
        assert order.total == sum(t.price for t in order.tickets.all()) > 0
        assert LedgerEntry.objects.get(once_key=f"purchase:{order.pk}").amount == -order.total
    refunded = Order.objects.filter(status=OrderStatus.REFUNDED)
    for order in refunded:
        assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
        assert order.refunds.get().status == RefundStatus.APPROVED
        assert LedgerEntry.objects.get(once_key=f"refund:{order.pk}").amount == order.total
    assert Refund.objects.filter(status=RefundStatus.APPROVED).count() == refunded.count()
    for wallet in Wallet.objects.all():
        entries = LedgerEntry.objects.filter(wallet=wallet)
        assert entries.aggregate(s=Sum("amount"))["s"] == wallet.balance >= 0
        assert not entries.filter(balance_after__lt=0).exists()
        balances = [e.balance_after for e in entries.order_by("created_at", "pk")]
        amounts = [e.amount for e in entries.order_by("created_at", "pk")]
        assert all(b - a == prev for prev, b, a in zip(balances, balances[1:], amounts[1:]))
    assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).count() == Order.objects.filter(
        paid_at__isnull=False).count()


def test_tickets_of_sessions_that_have_begun_were_checked_in_at_their_door(past_history):
    checkins = lines(action=Action.CHECKIN)
    assert len(checkins) == CheckIn.objects.count() == past_history.checkins > 5
    by_ticket = {c.ticket_id: c for c in CheckIn.objects.select_related("ticket__session", "ticket__event")}
    for line in checkins:
        checkin = by_ticket[line["details"]["ticket"]]
        ticket = checkin.ticket
        assert ticket.status == TicketStatus.USED and ticket.user_id == line["user_id"]
        assert ticket.session_id == line["session_id"] and ticket.event_id == line["event_id"]
        assert checkin.by_id == ticket.event.publisher_id == line["details"]["staff"]
        assert abs(checkin.at - line["timestamp"]) < timedelta(milliseconds=1)
        assert ticket.created_at < checkin.at < ticket.session.start_time <= timezone.now()
        assert Scan.objects.filter(ticket=ticket, result=ScanResult.OK, at=checkin.at).count() == 1
    assert Ticket.objects.filter(status=TicketStatus.USED).count() == len(checkins)
    # An order whose every ticket was used is used; the others stay paid.
    for order in Order.objects.filter(tickets__status=TicketStatus.USED).distinct():
        statuses = set(order.tickets.values_list("status", flat=True))
        assert order.status == (OrderStatus.USED if statuses == {TicketStatus.USED} else OrderStatus.PAID)
    assert Order.objects.filter(status=OrderStatus.USED).exists()
    # Sessions of the past were on sale before they began, not after.
    for line in lines(action=Action.PAY):
        assert line["timestamp"] < Ticket.objects.filter(order_id=line["details"]["order"]).first().session.start_time


def test_buyers_signed_up_over_the_weeks_before_they_were_seen(history):
    buyers = User.objects.filter(username__startswith=demo.BUYER_PREFIX)
    assert buyers.count() == BUYERS and not any(u.has_usable_password() for u in buyers)
    start = timezone.now() - timedelta(days=DAYS)
    assert buyers.filter(date_joined__gte=start).count() >= 5  # new users per day have something to show
    first_seen = {}
    for line in lines():
        if line["user_id"] is not None:
            first_seen[line["user_id"]] = min(first_seen.get(line["user_id"], line["timestamp"]), line["timestamp"])
    for user in buyers:
        if user.pk in first_seen:
            assert user.date_joined <= first_seen[user.pk]


def test_a_second_history_run_adds_nothing(history):
    counts = (Order.objects.count(), Ticket.objects.count(), User.objects.count(), len(lines()))
    again = demo.seed_history(buyers=BUYERS, days=DAYS)
    assert again.skipped and again.lines == 0
    assert (Order.objects.count(), Ticket.objects.count(), User.objects.count(), len(lines())) == counts


class _TryAnotherHour(Exception):
    pass


def test_a_customer_who_spent_their_wallet_is_not_granted_twice_and_only_their_orders_still_mark_the_history(
        catalogue, behaviour, monkeypatch):
    # The demo customer tried the shop before the history was made: their wallet is nearly empty.
    customer = User.objects.get(username="customer")
    wallet = Wallet.objects.create(user=customer, balance=Decimal("7.00"))
    LedgerEntry.objects.create(wallet=wallet, kind=LedgerKind.GRANT, amount=Decimal("7.00"),
                               balance_after=Decimal("7.00"), once_key=f"grant:{wallet.pk}")
    # The customer likes everything in the catalogue, on sale all through the history (so buys, whatever
    # the hour the test runs at); the other buyers like nothing and buy nothing.
    Session.objects.filter(sales_end__gt=timezone.now()).update(sales_start=timezone.now() - timedelta(days=DAYS + 1))
    seated = Event.objects.filter(sessions__seat_map__isnull=False).select_related("category").distinct()
    headline = demo.Taste(categories=tuple({e.category.slug for e in seated}), cities=tuple({e.city for e in seated}))
    monkeypatch.setattr(demo, "buyer_taste", lambda index: headline)
    # The simulation is seeded: whether the customer buys depends on the hour it ends at. Try a few, each
    # rolled back (and its lines dropped) until one where they do.
    for hours_back in (0, 5, 10, 15, 20):
        try:
            with transaction.atomic():
                demo.seed_history(buyers=BUYERS, days=DAYS, now=timezone.now() - timedelta(hours=hours_back))
                if Order.objects.filter(user=customer, paid_at__isnull=False).exists():
                    break
                raise _TryAnotherHour
        except _TryAnotherHour:
            BehaviourLog._get_collection().delete_many({})
    assert Order.objects.filter(user=customer, paid_at__isnull=False).exists()
    entries = LedgerEntry.objects.filter(wallet=wallet)
    assert entries.filter(kind=LedgerKind.GRANT).count() == 1
    wallet.refresh_from_db()
    assert entries.aggregate(s=Sum("amount"))["s"] == wallet.balance >= 0
    assert not entries.filter(balance_after__lt=0).exists()
    # A second run finds the history although no demo buyer bought.
    counts = (Order.objects.count(), LedgerEntry.objects.count(), len(lines()))
    assert demo.seed_history(buyers=BUYERS, days=DAYS).skipped == "already there"
    assert (Order.objects.count(), LedgerEntry.objects.count(), len(lines())) == counts


def test_the_buyers_tastes_are_the_same_on_every_machine():
    # Deterministic: what the buyers liked and how often they came does not depend on the machine.
    tastes = [demo.buyer_taste(i) for i in range(1, 40)]
    assert tastes == [demo.buyer_taste(i) for i in range(1, 40)]
    assert demo.buyer_taste(0) == demo.CUSTOMER_TASTE
    assert all(1 <= len(t.categories) <= 3 and 1 <= len(t.cities) <= 2 for t in tastes)
    assert len({t.categories[0] for t in tastes}) > 8  # tastes differ


def test_without_mongodb_no_history_is_made_and_the_next_run_makes_it(catalogue, mongo_down, caplog):
    with caplog.at_level(logging.WARNING, logger="analytics.demo"):
        result = demo.seed_history(buyers=8, days=7)
    assert "MongoDB does not answer" in result.summary()
    assert "demo history skipped" in caplog.text
    assert not Order.objects.exists() and not User.objects.filter(username__startswith="buyer").exists()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_makes_the_history_once_and_says_so(behaviour, capsys, settings, tmp_path):
    from analytics.recs import index as recs_index

    settings.VAR_DIR = tmp_path
    recs_index.forget()
    call_command("seed_demo", buyers=6, history_days=5)
    out = capsys.readouterr().out
    assert "demo history: 5 days, 7 buyers" in out and "behaviour lines" in out
    counts = (Order.objects.count(), Payment.objects.count(), User.objects.count(), len(lines()))
    assert counts[0] > 0 and counts[3] > 0
    assert {("action", "timestamp"), ("event_id", "action", "timestamp")} <= indexed()
    # The recommendations were built from the new history through the outbox (inline in tests).
    assert (tmp_path / "recs" / "current").exists()
    recs_index.forget()

    call_command("seed_demo", buyers=6, history_days=5)
    assert "demo history: already there" in capsys.readouterr().out
    assert (Order.objects.count(), Payment.objects.count(), User.objects.count(), len(lines())) == counts


def test_migrate_makes_the_mongodb_indexes(behaviour):
    from django.apps import apps

    BehaviourLog._get_collection().drop_indexes()
    last = [c for c in apps.get_app_configs() if c.models_module is not None][-1]
    mongo_indexes_after_migrate(app_config=apps.get_app_config("auth"), plan=[])  # not the last app: not yet
    mongo_indexes_after_migrate(app_config=last)  # a flush (transactional tests) has no plan: not then either
    assert ("user_id", "timestamp") not in indexed()
    mongo_indexes_after_migrate(app_config=last, plan=[])
    assert {("user_id", "timestamp"), ("anon_id", "timestamp"), ("timestamp",)} <= indexed()


def test_migrate_without_mongodb_still_migrates_and_warns(mongo_down, caplog):
    with caplog.at_level(logging.WARNING, logger="analytics.apps"):
        call_command("migrate", verbosity=0)
    assert "MongoDB indexes not made" in caplog.text
