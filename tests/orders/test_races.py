"""Several OS processes pay the same order or scan the same ticket at the same instant."""

import uuid
from collections import Counter

import pytest

from orders.models import CheckIn, LedgerEntry, LedgerKind, Payment, Scan, ScanResult
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.orders.flows import assert_wallet_consistent, doors_open, paid_order, pending_order

pytestmark = pytest.mark.django_db(transaction=True)
PROCESSES = 6


def pay(user_id: int, order_id: int, key: str) -> tuple[str, int | None]:
    from accounts.models import User
    from orders import services

    try:
        payment = services.order_pay(user=User.objects.get(pk=user_id), order_id=order_id, idempotency_key=key)
    except services.DomainError as exc:
        return exc.code, None
    return "paid", payment.pk


def scan(staff_id: int, event_id: int, code: str) -> str:
    from accounts.models import User
    from events.models import Event
    from orders import services

    outcome = services.checkin_scan(staff=User.objects.get(pk=staff_id), event=Event.objects.get(pk=event_id),
                                    code=code, nonce=uuid.uuid4().hex)
    return outcome.scan.result


def test_the_same_payment_sent_from_several_processes_charges_once_and_answers_alike():
    buyer = UserFactory()
    order = pending_order(buyer)
    key = uuid.uuid4().hex

    results = run_in_processes(pay, [(buyer.pk, order.pk, key)] * PROCESSES)

    assert {status for status, _ in results} == {"paid"}
    assert len({payment_id for _, payment_id in results}) == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.PURCHASE).count() == 1
    assert order.tickets.count() == 2
    assert_wallet_consistent(buyer)


def test_different_keys_for_one_order_at_once_pay_it_once():
    buyer = UserFactory()
    order = pending_order(buyer)

    results = run_in_processes(pay, [(buyer.pk, order.pk, uuid.uuid4().hex) for _ in range(PROCESSES)])

    assert Counter(status for status, _ in results) == {"paid": 1, "illegal_transition": PROCESSES - 1}
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.PURCHASE).count() == 1
    assert_wallet_consistent(buyer)


def test_one_wallet_paying_many_orders_at_once_never_goes_below_zero(settings):
    settings.WALLET_DEMO_GRANT = 1000  # the children read the grant from their own settings …
    buyer = UserFactory()
    from orders.services import wallet_ensure

    wallet_ensure(user=buyer)  # … so make the wallet here, with 1,000 points: 3 orders of 280 fit, not 4
    orders = [pending_order(buyer, seats=1, price=280) for _ in range(4)]

    results = run_in_processes(pay, [(buyer.pk, o.pk, uuid.uuid4().hex) for o in orders])

    assert Counter(status for status, _ in results) == {"paid": 3, "insufficient_points": 1}
    assert assert_wallet_consistent(buyer).balance == 1000 - 3 * 280


def test_a_ticket_scanned_at_several_doors_at_once_is_admitted_once():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket, event = order.tickets.get(), order.event
    doors = [UserFactory(role="admin").pk for _ in range(PROCESSES)]

    results = run_in_processes(scan, [(door, event.pk, ticket.code) for door in doors])

    assert Counter(results) == {ScanResult.OK: 1, ScanResult.ALREADY_USED: PROCESSES - 1}
    assert CheckIn.objects.filter(ticket=ticket).count() == 1
    assert Scan.objects.filter(ticket=ticket).count() == PROCESSES
