"""Orders, payment, wallets, refunds and check-in, through the services, one request at a time."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from accounts.models import Role
from orders import codes, identity, services
from orders.models import (
    CheckIn, EventStaff, LedgerEntry, LedgerKind, Order, OrderStatus, Payment, Refund, RefundStatus, Scan, ScanResult, Ticket,
    TicketStatus,
)
from tests.factories import UserFactory
from tests.orders.flows import assert_wallet_consistent, doors_open, ledger_sum, paid_order, pending_order
from tests.tickets.factories import ga_session
from tickets import services as inventory
from tickets.models import Hold, HoldStatus, SeatStatus, SessionSeat, Stock

pytestmark = pytest.mark.django_db
GRANT = Decimal("5000")


def key() -> str:
    return uuid.uuid4().hex


# --- wallet --------------------------------------------------------------------------


def test_a_new_wallet_starts_with_the_demo_grant_once():
    buyer = UserFactory()
    services.wallet_ensure(user=buyer)
    services.wallet_ensure(user=buyer)
    assert assert_wallet_consistent(buyer).balance == GRANT
    assert buyer.wallet.entries.get().kind == LedgerKind.GRANT


def test_admins_top_up_and_correct_wallets_with_a_reason():
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    services.wallet_adjust(actor=admin, user=buyer, amount=Decimal("100"), reason="活动补偿")
    entry = services.wallet_adjust(actor=admin, user=buyer, amount=Decimal("-30"), reason="typo")
    assert (entry.kind, entry.balance_after, entry.actor) == (LedgerKind.ADJUST, GRANT + 70, admin)
    assert_wallet_consistent(buyer)
    with pytest.raises(services.InsufficientPoints):
        services.wallet_adjust(actor=admin, user=buyer, amount=-(GRANT + 71), reason="too much")
    with pytest.raises(services.DomainError):
        services.wallet_adjust(actor=admin, user=buyer, amount=Decimal("5"), reason=" ")
    with pytest.raises(services.Forbidden):
        services.wallet_adjust(actor=UserFactory(role=Role.PUBLISHER), user=buyer, amount=Decimal("5"), reason="x")
    assert ledger_sum(buyer) == GRANT + 70


# --- orders and payment ---------------------------------------------------------------


def test_an_order_is_due_when_its_hold_lapses_and_costs_the_held_prices():
    buyer = UserFactory()
    order = pending_order(buyer, seats=2, price=280)
    hold = Hold.objects.get(order_hold__order=order)
    assert (order.status, order.total, order.expires_at) == (OrderStatus.PENDING, Decimal("560.00"), hold.expires_at)


def test_ordering_the_same_holds_again_returns_the_same_order():
    buyer = UserFactory()
    order = pending_order(buyer)
    hold_ids = list(order.order_holds.values_list("hold_id", flat=True))
    assert services.order_create(user=buyer, hold_ids=hold_ids) == order


def test_nobody_orders_another_buyers_hold():
    order = pending_order(UserFactory())
    with pytest.raises(services.NotFound):
        services.order_create(user=UserFactory(), hold_ids=list(order.order_holds.values_list("hold_id", flat=True)))


def test_holds_of_two_events_need_two_orders():
    buyer = UserFactory()
    a, a_types = ga_session()
    b, b_types = ga_session()
    ha = inventory.hold_create(user=buyer, session=a, quantities={a_types["Standard"].pk: 1})
    hb = inventory.hold_create(user=buyer, session=b, quantities={b_types["Standard"].pk: 1})
    with pytest.raises(services.DomainError) as error:
        services.order_create(user=buyer, hold_ids=[ha.pk, hb.pk])
    assert error.value.code == "mixed_events"


def test_paying_charges_the_wallet_issues_signed_tickets_and_sells_the_seats():
    buyer = UserFactory()
    order = pending_order(buyer, seats=2, price=280)

    payment = services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and payment.amount == Decimal("560.00")
    assert assert_wallet_consistent(buyer).balance == GRANT - 560
    tickets = list(order.tickets.all())
    assert len(tickets) == 2 and len({t.code for t in tickets}) == 2
    assert all(codes.verify(t.code).event_id == order.event_id for t in tickets)
    assert SessionSeat.objects.filter(hold__order_hold__order=order, status=SeatStatus.SOLD).count() == 2
    assert Hold.objects.get(order_hold__order=order).status == HoldStatus.CONSUMED


def test_general_admission_gets_one_ticket_per_admission_and_moves_stock_to_sold():
    buyer = UserFactory()
    order = paid_order(buyer, ga=3, price=100)
    assert order.tickets.count() == 3
    stock = Stock.objects.get(session=order.tickets.first().session)
    assert (stock.held, stock.sold, stock.available) == (0, 3, 97)


def test_the_same_idempotency_key_charges_once_and_returns_the_same_payment():
    buyer = UserFactory()
    order = pending_order(buyer)
    k = key()
    first = services.order_pay(user=buyer, order_id=order.pk, idempotency_key=k)
    again = services.order_pay(user=buyer, order_id=order.pk, idempotency_key=k)
    assert first.pk == again.pk
    assert Payment.objects.filter(order=order).count() == 1
    assert ledger_sum(buyer) == GRANT - order.total


def test_paying_a_paid_order_with_another_key_is_refused():
    buyer = UserFactory()
    order = paid_order(buyer)
    with pytest.raises(services.IllegalTransition):
        services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
    assert ledger_sum(buyer) == GRANT - order.total


def test_a_key_reused_for_another_order_is_refused():
    buyer = UserFactory()
    k = key()
    services.order_pay(user=buyer, order_id=pending_order(buyer).pk, idempotency_key=k)
    with pytest.raises(services.Conflict) as error:
        services.order_pay(user=buyer, order_id=pending_order(buyer).pk, idempotency_key=k)
    assert error.value.code == "idempotency_key_reused"


@override_settings(WALLET_DEMO_GRANT=100)
def test_insufficient_points_is_a_clear_error_and_changes_nothing():
    buyer = UserFactory()
    order = pending_order(buyer, price=280)
    with pytest.raises(services.InsufficientPoints) as error:
        services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
    assert "560.00" in str(error.value) and "100" in str(error.value)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and not order.tickets.exists() and not order.payments.exists()
    assert assert_wallet_consistent(buyer).balance == 100
    assert SessionSeat.objects.filter(hold__order_hold__order=order, status=SeatStatus.HELD).count() == 2


def test_nobody_pays_another_buyers_order():
    order = pending_order(UserFactory())
    with pytest.raises(services.NotFound):
        services.order_pay(user=UserFactory(), order_id=order.pk, idempotency_key=key())


def test_an_expired_order_cannot_be_paid_and_its_stock_returns():
    buyer = UserFactory()
    order = pending_order(buyer, ga=2)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Hold.objects.filter(order_hold__order=order).update(expires_at=timezone.now() - timedelta(seconds=1))
    order.refresh_from_db()
    assert order.shown_status == OrderStatus.EXPIRED  # at once, before the sweep

    with pytest.raises(services.OrderExpired):
        services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())

    assert services.orders_expire_due() == 1
    assert services.orders_expire_due() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    stock = Stock.objects.get(session__holds__order_hold__order=order)
    assert (stock.available, stock.held) == (100, 0)
    assert not LedgerEntry.objects.filter(wallet__user=buyer, kind=LedgerKind.PURCHASE).exists()  # nothing charged


def test_cancelling_a_pending_order_frees_its_seats_and_a_paid_one_cannot_be_cancelled():
    buyer = UserFactory()
    order = pending_order(buyer)
    services.order_cancel(user=buyer, order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert not SessionSeat.objects.filter(hold__order_hold__order=order).exists()  # back to free, unlinked
    paid = paid_order(buyer)
    with pytest.raises(services.IllegalTransition):
        services.order_cancel(user=buyer, order_id=paid.pk)


def test_a_hold_in_an_order_is_released_only_by_cancelling_the_order():
    buyer = UserFactory()
    order = pending_order(buyer)
    with pytest.raises(services.Conflict):
        inventory.hold_release(user=buyer, hold_id=order.order_holds.get().hold_id)


def test_real_name_orders_need_every_attendee_before_payment_and_store_ids_masked():
    buyer = UserFactory()
    order = pending_order(buyer, ga=2)
    order.event.real_name_required = True
    order.event.save()
    with pytest.raises(services.AttendeesMissing):
        services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
    item = order.order_holds.get().hold.items.get()
    services.order_set_attendees(user=buyer, order=order, attendees=[
        (item.pk, 0, "张三", "110101199001011237"), (item.pk, 1, "李四", "310101199202022343")])
    services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
    names = sorted(order.tickets.values_list("attendee_name", "attendee_id_masked"))
    assert names == [("张三", "110***********1237"), ("李四", "310***********2343")]


# --- provider callback --------------------------------------------------------------


def test_a_provider_confirmation_is_idempotent_on_its_transaction_id():
    buyer = UserFactory()
    order = pending_order(buyer)
    first = services.payment_confirm_external(provider="sandbox", transaction_id="SBX-1", order_number=order.number,
                                              amount=order.total)
    again = services.payment_confirm_external(provider="sandbox", transaction_id="SBX-1", order_number=order.number,
                                              amount=order.total)
    assert first.pk == again.pk
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert ledger_sum(buyer) == 0  # paid outside: the wallet is untouched (never even created)
    with pytest.raises(services.DomainError):
        services.payment_confirm_external(provider="sandbox", transaction_id="SBX-2",
                                          order_number=pending_order(buyer).number, amount=Decimal("1"))


# --- refunds ------------------------------------------------------------------------


def test_an_approved_refund_returns_points_and_seats_exactly_once(django_capture_on_commit_callbacks):
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    order = paid_order(buyer)
    refund = services.refund_request(user=buyer, order_id=order.pk, reason="行程冲突")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUND_REQUESTED

    with django_capture_on_commit_callbacks(execute=True):  # drops the seats' Redis claims, as after a commit
        services.refund_review(actor=admin, refund_id=refund.pk, approve=True)
    with pytest.raises(services.Conflict):
        services.refund_review(actor=admin, refund_id=refund.pk, approve=True)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED
    assert assert_wallet_consistent(buyer).balance == GRANT
    assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
    session = order.tickets.first().session
    assert not SessionSeat.objects.filter(session=session).exclude(status=SeatStatus.FREE).exists()
    other = UserFactory()  # the seats are on sale again
    pending_order(other, session=session, seats=2)


def test_a_rejected_refund_leaves_the_order_paid_and_may_be_asked_again():
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    order = paid_order(buyer)
    refund = services.refund_request(user=buyer, order_id=order.pk, reason="changed my mind")
    with pytest.raises(services.DomainError):
        services.refund_review(actor=admin, refund_id=refund.pk, approve=False)  # a reason is required
    services.refund_review(actor=admin, refund_id=refund.pk, approve=False, reason="No refunds for this show")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.REJECTED
    services.refund_request(user=buyer, order_id=order.pk, reason="please")
    assert ledger_sum(buyer) == GRANT - order.total


def test_refunds_are_refused_for_pending_orders_used_tickets_and_started_events():
    buyer = UserFactory()
    with pytest.raises(services.IllegalTransition):
        services.refund_request(user=buyer, order_id=pending_order(buyer).pk, reason="x")
    used = doors_open(paid_order(buyer))
    ticket = used.tickets.first()
    services.checkin_scan(staff=used.event.publisher, event=used.event, code=ticket.code, nonce=key())
    with pytest.raises(services.RefundNotAllowed):
        services.refund_request(user=buyer, order_id=used.pk, reason="x")
    started = paid_order(buyer)
    started.tickets.first().session.__class__.objects.filter(pk=started.tickets.first().session_id).update(
        start_time=timezone.now() - timedelta(minutes=5), sales_start=timezone.now() - timedelta(days=2),
        sales_end=timezone.now() - timedelta(minutes=6))
    with pytest.raises(services.RefundNotAllowed):
        services.refund_request(user=buyer, order_id=started.pk, reason="x")
    with pytest.raises(services.NotFound):
        services.refund_request(user=UserFactory(), order_id=started.pk, reason="x")


# --- check-in -----------------------------------------------------------------------


def test_a_ticket_is_admitted_once_and_the_second_scan_says_when_and_by_whom():
    buyer = UserFactory()
    order = doors_open(paid_order(buyer, seats=1))
    ticket, event = order.tickets.get(), order.event
    staff = UserFactory(display_name="门口小王")
    EventStaff.objects.create(event=event, user=staff)

    first = services.checkin_scan(staff=staff, event=event, code=ticket.code, nonce=key())
    second = services.checkin_scan(staff=event.publisher, event=event, code=ticket.code, nonce=key())

    assert first.admitted and first.scan.result == ScanResult.OK
    assert not second.admitted and second.scan.result == ScanResult.ALREADY_USED
    assert "门口小王" in second.message
    assert CheckIn.objects.get(ticket=ticket).by == staff
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.USED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.USED  # its only ticket is in


def test_a_resent_scan_gets_the_same_answer():
    order = doors_open(paid_order(UserFactory(), seats=1))
    nonce = key()
    first = services.checkin_scan(staff=order.event.publisher, event=order.event, code=order.tickets.get().code,
                                  nonce=nonce)
    again = services.checkin_scan(staff=order.event.publisher, event=order.event, code=order.tickets.get().code,
                                  nonce=nonce)
    assert first.admitted and again.admitted and first.scan.pk == again.scan.pk


@pytest.mark.parametrize("tamper", ["flip", "made_up", "garbage"])
def test_forged_codes_are_refused_and_recorded(tamper):
    order = paid_order(UserFactory(), seats=1)
    code = order.tickets.get().code
    forged = {"flip": code[:20] + ("A" if code[20] != "A" else "B") + code[21:],
              "made_up": codes.PREFIX + "A" * 108, "garbage": "hello"}[tamper]
    outcome = services.checkin_scan(staff=order.event.publisher, event=order.event, code=forged, nonce=key())
    assert outcome.scan.result == ScanResult.FORGED and not outcome.admitted
    assert Scan.objects.filter(result=ScanResult.FORGED).count() == 1
    assert Ticket.objects.get(code=code).status == TicketStatus.VALID


def test_a_ticket_for_another_event_and_a_refunded_ticket_are_refused():
    order = paid_order(UserFactory(), seats=1)
    elsewhere = paid_order(UserFactory(), seats=1)
    outcome = services.checkin_scan(staff=order.event.publisher, event=order.event,
                                    code=elsewhere.tickets.get().code, nonce=key())
    assert outcome.scan.result == ScanResult.OTHER_EVENT

    refund = services.refund_request(user=order.user, order_id=order.pk, reason="x")
    services.refund_review(actor=UserFactory(role=Role.ADMIN), refund_id=refund.pk, approve=True)
    outcome = services.checkin_scan(staff=order.event.publisher, event=order.event, code=order.tickets.get().code,
                                    nonce=key())
    assert outcome.scan.result == ScanResult.VOID


def test_only_the_publisher_named_staff_and_admins_check_in():
    order = paid_order(UserFactory(), seats=1)
    with pytest.raises(services.Forbidden):
        services.checkin_scan(staff=UserFactory(role=Role.PUBLISHER), event=order.event,
                              code=order.tickets.get().code, nonce=key())
    services.checkin_scan(staff=UserFactory(role=Role.ADMIN), event=order.event, code=order.tickets.get().code,
                          nonce=key())


def test_the_publisher_names_staff_by_username_or_email():
    order = paid_order(UserFactory(), seats=1)
    staff = UserFactory()
    services.staff_add(actor=order.event.publisher, event=order.event, login=staff.email.upper())
    assert services.can_check_in(staff, order.event)
    services.staff_remove(actor=order.event.publisher, event=order.event, user_id=staff.pk)
    assert not services.can_check_in(staff, order.event)
    with pytest.raises(services.NotFound):
        services.staff_add(actor=order.event.publisher, event=order.event, login="nobody@example.com")


# --- the ledger invariant -------------------------------------------------------------

OPERATIONS = st.lists(st.sampled_from(["buy", "pay", "topup", "debit", "refund", "reject", "cancel"]),
                      min_size=1, max_size=12)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS, amounts=st.lists(st.integers(min_value=1, max_value=4000), min_size=12, max_size=12))
def test_a_wallets_ledger_always_sums_to_its_balance(operations, amounts):
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    session, types = ga_session(stock={"Standard": 50}, prices={"Standard": 450}, per_user_limit=50)
    pending, paid = [], []
    for op, amount in zip(operations, amounts):
        try:
            if op == "buy":
                hold = inventory.hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 1})
                pending.append(services.order_create(user=buyer, hold_ids=[hold.pk]))
            elif op == "pay" and pending:
                order = pending.pop()
                services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
                paid.append(order)
            elif op == "topup":
                services.wallet_adjust(actor=admin, user=buyer, amount=Decimal(amount), reason="top-up")
            elif op == "debit":
                services.wallet_adjust(actor=admin, user=buyer, amount=-Decimal(amount), reason="fix")
            elif op in ("refund", "reject") and paid:
                refund = services.refund_request(user=buyer, order_id=paid[-1].pk, reason="x")
                services.refund_review(actor=admin, refund_id=refund.pk, approve=op == "refund", reason="r")
                if op == "refund":
                    paid.pop()
            elif op == "cancel" and pending:
                services.order_cancel(user=buyer, order_id=pending.pop().pk)
        except (services.InsufficientPoints, inventory.TooManyHolds):
            pass
        services.wallet_ensure(user=buyer)
        assert_wallet_consistent(buyer)
    stock = Stock.objects.get(session=session)
    assert stock.sold == Ticket.objects.filter(session=session, status=TicketStatus.VALID).count()
    assert stock.available + stock.held + stock.sold == stock.total


@pytest.mark.parametrize("id_number, masked", [
    ("110101199001011234", "110***********1234"), ("E1234567", "E*****67"), ("A12345", "A***45")])
def test_id_numbers_are_kept_masked_whatever_their_length(id_number, masked):
    assert identity.IdNumber(id_number, mainland=False).masked == masked


def test_the_holds_of_a_cancelled_order_cannot_be_ordered_again():
    buyer = UserFactory()
    order = pending_order(buyer)
    services.order_cancel(user=buyer, order_id=order.pk)
    with pytest.raises(inventory.HoldExpired):
        services.order_create(user=buyer, hold_ids=list(order.order_holds.values_list("hold_id", flat=True)))


def test_a_ticket_for_a_session_that_is_over_is_refused():
    order = paid_order(UserFactory(), seats=1)
    ticket = order.tickets.get()
    ticket.session.__class__.objects.filter(pk=ticket.session_id).update(
        start_time=timezone.now() - timedelta(hours=3), end_time=timezone.now() - timedelta(minutes=1),
        sales_start=timezone.now() - timedelta(days=2), sales_end=timezone.now() - timedelta(hours=3))
    outcome = services.checkin_scan(staff=order.event.publisher, event=order.event, code=ticket.code, nonce=key())
    assert outcome.scan.result == ScanResult.SESSION_OVER and not outcome.admitted
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.VALID


def test_the_last_ga_tickets_make_the_event_show_as_sold_out(django_capture_on_commit_callbacks):
    session, types = ga_session(stock={"Standard": 2})
    from tickets.services import event_summary_refresh

    event_summary_refresh(event_id=session.event_id)
    session.event.refresh_from_db()
    assert session.event.tickets_left
    with django_capture_on_commit_callbacks(execute=True):
        inventory.hold_create(user=UserFactory(), session=session, quantities={types["Standard"].pk: 2})
    session.event.refresh_from_db()
    assert not session.event.tickets_left
