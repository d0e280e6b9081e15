"""A cancelled session or event: every open order refunded in full (or cancelled, if unpaid), once, also when
the work is run again after a crash or by several processes at once; the door refuses the tickets."""

import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from accounts.models import Notification, Role
from events import services as event_services
from orders import cancellations, services
from orders.models import LedgerEntry, LedgerKind, Order, OrderStatus, Refund, RefundCause, ScanResult, TicketStatus
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.orders.flows import assert_wallet_consistent, doors_open, paid_order, pending_order
from tests.tickets.factories import seated_session
from tickets import services as inventory
from tickets.models import Session
from ticketing.models import OutboxMessage

S = OrderStatus


@pytest.fixture
def sale(django_capture_on_commit_callbacks):
    """One seated session with a paid order, a paid order whose buyer asked for a refund (with a fee),
    a pending order, and a paid order of another session of the same event."""
    session, _types = seated_session(rows=2, seats=5, price=100)
    other = inventory.session_create(  # the same hall, another night
        actor=session.event.publisher, event=session.event, start_time=session.start_time, end_time=session.end_time,
        sales_start=session.sales_start, sales_end=session.sales_end, seat_map=session.seat_map)
    session.event.refund_policy, session.event.refund_tiers = "tiered", [[0, 50]]
    session.event.save(update_fields=["refund_policy", "refund_tiers"])
    buyers = [UserFactory() for _ in range(4)]
    paid = paid_order(buyers[0], session=session, seats=2)
    asked = paid_order(buyers[1], session=session, seats=1)
    refund = services.refund_request(user=buyers[1], order_id=asked.pk, reason="生病")
    assert refund.fee == Decimal("50.00")
    pending = pending_order(buyers[2], session=session, seats=1)
    elsewhere = paid_order(buyers[3], session=other, seats=1)
    return {"session": session, "paid": paid, "asked": asked, "pending": pending, "elsewhere": elsewhere}


def _status(order) -> str:
    order.refresh_from_db()
    return order.status


@pytest.mark.django_db
def test_a_cancelled_session_refunds_every_order_in_full_and_the_door_refuses_its_tickets(
        sale, django_capture_on_commit_callbacks):
    session = sale["session"]
    with django_capture_on_commit_callbacks(execute=True):
        inventory.session_cancel(actor=session.event.publisher, session=session, reason="艺人生病")
    assert OutboxMessage.objects.get(handler=cancellations.HANDLER).state == OutboxMessage.State.DELIVERED

    assert [_status(sale[k]) for k in ("paid", "asked", "pending", "elsewhere")] == [
        S.REFUNDED, S.REFUNDED, S.CANCELLED, S.PAID]
    for key in ("paid", "asked"):
        order = sale[key]
        refund = Refund.objects.get(order=order)
        assert (refund.status, refund.amount, refund.fee, refund.cause) == (
            "approved", order.total, Decimal("0.00"), RefundCause.CANCELLATION)
        assert LedgerEntry.objects.get(order=order, kind=LedgerKind.REFUND).amount == order.total
        assert not LedgerEntry.objects.filter(order=order, kind=LedgerKind.FEE).exists()
        assert_wallet_consistent(order.user)
        assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
        assert Notification.objects.filter(user=order.user, kind="refund_cancellation").exists()
    assert Notification.objects.filter(user=sale["pending"].user, kind="order_cancelled").exists()
    # Every seat is free again, and nobody can hold or pay one now.
    assert not session.seats.exclude(status="free").exists()
    with pytest.raises(inventory.SalesClosed):
        inventory.hold_create(user=UserFactory(), session=session, seat_ids=[session.seats.first().seat_id])
    # Buyers see it on the event page.
    page = Client().get(f"/events/{session.event_id}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已取消：艺人生病" in page
    # The door.
    ticket = sale["paid"].tickets.first()
    doors_open(sale["paid"])
    outcome = services.checkin_scan(staff=session.event.publisher, event=session.event, code=ticket.code,
                                    nonce=uuid.uuid4().hex)
    assert outcome.scan.result == ScanResult.VOID
    with translation.override("en"):
        assert outcome.message == "Refused: this session was cancelled and the ticket refunded."


@pytest.mark.django_db
def test_running_it_again_refunds_nothing_twice_and_the_sweep_finishes_what_a_crash_left(sale, monkeypatch):
    session = sale["session"]
    calls = []
    real = cancellations.order_close_for_cancellation

    def dies_after_the_first(*, order_id):
        if calls:
            raise SystemExit("the worker was killed")
        calls.append(order_id)
        return real(order_id=order_id)

    monkeypatch.setattr(cancellations, "order_close_for_cancellation", dies_after_the_first)
    inventory.session_cancel(actor=session.event.publisher, session=session, reason="场馆检修")
    with pytest.raises(SystemExit):
        cancellations.cancellation_refunds(session_ids=[session.pk])
    assert Order.objects.filter(pk__in=[sale[k].pk for k in ("paid", "asked", "pending")],
                                status__in=cancellations.OPEN).count() == 2
    monkeypatch.setattr(cancellations, "order_close_for_cancellation", real)

    assert cancellations.cancellation_refunds_due() == 2
    assert cancellations.cancellation_refunds_due() == 0
    assert cancellations.cancellation_refunds(session_ids=[session.pk]) == 0
    for key in ("paid", "asked"):
        assert LedgerEntry.objects.filter(order=sale[key], kind=LedgerKind.REFUND).count() == 1
        assert_wallet_consistent(sale[key].user)


@pytest.mark.django_db
def test_a_cancelled_event_cancels_its_sessions_to_come_and_refunds_them(django_capture_on_commit_callbacks):
    session, _types = seated_session(rows=1, seats=4, price=80)
    order = paid_order(UserFactory(), session=session, seats=2)
    with django_capture_on_commit_callbacks(execute=True):
        event_services.event_cancel(actor=UserFactory(role=Role.ADMIN), event=session.event, reason="不可抗力")
    session.refresh_from_db()
    assert session.cancelled_at is not None and session.cancel_reason == "不可抗力"
    assert _status(order) == S.REFUNDED
    assert_wallet_consistent(order.user)


@pytest.mark.django_db
def test_a_payment_after_the_cancellation_is_refused_and_charges_nothing():
    session, _types = seated_session(rows=1, seats=4)
    order = pending_order(UserFactory(), session=session, seats=1)
    Session.objects.filter(pk=session.pk).update(cancelled_at=session.start_time, cancel_reason="x")
    from tickets import catalogue

    catalogue.forget_all()
    with pytest.raises(inventory.SessionCancelled):
        services.order_pay(user=order.user, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    assert _status(order) == S.PENDING
    assert not LedgerEntry.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_an_order_with_a_ticket_used_at_the_door_is_left_alone():
    session, _types = seated_session(rows=1, seats=4)
    order = doors_open(paid_order(UserFactory(), session=session, seats=2))
    ticket = order.tickets.first()
    services.checkin_scan(staff=session.event.publisher, event=session.event, code=ticket.code,
                          nonce=uuid.uuid4().hex)
    session.refresh_from_db()
    inventory.session_cancel(actor=session.event.publisher, session=session, reason="中途停演")
    assert cancellations.cancellation_refunds_due() == 0
    assert _status(order) == S.PAID


@pytest.mark.django_db
def test_who_may_cancel_and_what_a_bad_request_gets():
    session, _types = seated_session(rows=1, seats=2)
    api = APIClient()
    api.force_authenticate(UserFactory(role=Role.PUBLISHER))  # another publisher
    assert api.post(f"/api/tickets/sessions/{session.pk}/cancel", {"reason": "x"}, format="json").status_code == 404
    api.force_authenticate(session.event.publisher)
    response = api.post(f"/api/tickets/sessions/{session.pk}/cancel", {"reason": ""}, format="json")
    assert response.status_code == 400
    session.refresh_from_db()
    assert session.cancelled_at is None
    response = api.post(f"/api/tickets/sessions/{session.pk}/cancel", {"reason": "台风"}, format="json")
    assert response.status_code == 200 and response.json()["cancel_reason"] == "台风"
    response = api.post(f"/api/tickets/sessions/{session.pk}/cancel", {"reason": "台风"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "session_cancelled")


@pytest.mark.django_db
def test_the_publisher_cancels_from_the_sessions_page(client):
    session, _types = seated_session(rows=1, seats=2)
    client.force_login(session.event.publisher)
    page = client.get(f"/publisher/events/{session.event_id}/tickets/").content.decode()
    assert 'data-testid="cancel-session"' in page
    response = client.post(f"/publisher/events/{session.event_id}/tickets/sessions/{session.pk}/cancel/",
                           {"reason": "场馆检修"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 302
    page = client.get(f"/publisher/events/{session.event_id}/tickets/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert 'data-testid="session-cancelled"' in page.content.decode()


def close(order_id: int) -> bool:
    from orders import cancellations

    return cancellations.order_close_for_cancellation(order_id=order_id)


@pytest.mark.django_db(transaction=True)
def test_several_workers_closing_the_same_orders_at_once_refund_each_once():
    session, _types = seated_session(rows=1, seats=6, price=60)
    orders = [paid_order(UserFactory(), session=session, seats=1) for _ in range(3)]
    Session.objects.filter(pk=session.pk).update(cancelled_at=session.start_time, cancel_reason="暴雨")

    results = run_in_processes(close, [(o.pk,) for o in orders for _ in range(3)])

    assert sorted(results).count(True) == 3
    for order in orders:
        assert _status(order) == S.REFUNDED
        assert Refund.objects.filter(order=order).count() == 1
        assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.REFUND).count() == 1
        assert_wallet_consistent(order.user)
