"""Orders in a given state, built through the services (shared by the orders service, API and race tests).

    order = pending_order(buyer)                         # 2 seats of a seated session, held and ordered
    order = pending_order(buyer, ga=3)                   # 3 GA tickets instead
    order = paid_order(buyer)                            # … and paid with points
    doors_open(order)                                    # its sessions start soon: the door admits them
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from orders import services
from orders.models import LedgerEntry, Order, Wallet
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Session
from tickets.services import hold_create


def pending_order(buyer, *, seats: int = 2, ga: int = 0, price=280, session: Session | None = None) -> Order:
    if session is None:
        session, types = ga_session(prices={"Standard": price}) if ga else seated_session(price=price)
    if ga:
        tt = session.stocks.get().ticket_type_id
        hold = hold_create(user=buyer, session=session, quantities={tt: ga})
    else:
        free = [s for s in seat_ids(session) if not session.seats.filter(seat_id=s).exclude(status="free").exists()]
        hold = hold_create(user=buyer, session=session, seat_ids=free[:seats])
    return services.order_create(user=buyer, hold_ids=[hold.pk])


def paid_order(buyer, **kwargs) -> Order:
    order = pending_order(buyer, **kwargs)
    services.order_pay(user=buyer, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    order.refresh_from_db()
    return order


def move_sessions(order: Order, *, start: datetime, hours: float = 3) -> None:
    """Moves the sessions of the order's tickets to `start` (sales closing then), lasting `hours`."""
    Session.objects.filter(pk__in=order.tickets.values("session_id")).update(
        start_time=start, end_time=start + timedelta(hours=hours), sales_start=start - timedelta(days=30),
        sales_end=start)


def doors_open(order: Order) -> Order:
    """The order's sessions start within the hour, so the door admits their tickets now."""
    move_sessions(order, start=timezone.now() + timedelta(minutes=30))
    return order


def ledger_sum(user) -> Decimal:
    return LedgerEntry.objects.filter(wallet__user=user).aggregate(s=Sum("amount"))["s"] or Decimal("0")


def assert_wallet_consistent(user) -> Wallet:
    wallet = Wallet.objects.get(user=user)
    assert ledger_sum(user) == wallet.balance >= 0
    return wallet
