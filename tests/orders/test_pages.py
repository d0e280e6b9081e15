"""Buyer, admin, publisher and door-staff pages of orders: checkout, paying, tickets, wallets, refunds, check-in."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from orders import services
from orders.models import (
    CheckIn, EventStaff, LedgerEntry, LedgerKind, Order, OrderStatus, Payment, PaymentMethod, Refund, RefundStatus,
    Scan, Ticket, TicketStatus, Wallet,
)
from tests.factories import UserFactory
from tests.orders.factories import held, paid_order, pending_order
from tests.orders.flows import doors_open
from tickets.models import SeatStatus, SessionSeat

pytestmark = pytest.mark.django_db


def english(user=None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def text(response) -> str:
    return response.content.decode()


def post_back(client, url: str, data: dict, back: str):
    """A browser's form post: it sends the page it came from, where an error message is shown."""
    return client.post(url, data, HTTP_REFERER=f"http://testserver{back}", follow=True)


# --- checkout and paying -------------------------------------------------------------------


def test_the_hold_panel_offers_checkout_which_makes_a_pending_order_and_opens_its_page():
    buyer = UserFactory()
    hold = held(buyer, seats=2)
    client = english(buyer)

    session_page = text(client.get(f"/sessions/{hold.session_id}/"))
    assert 'action="/orders/checkout/"' in session_page
    assert f'name="hold" value="{hold.pk}"' in session_page

    response = client.post("/orders/checkout/", {"hold": [hold.pk]})

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert order.status == OrderStatus.PENDING and order.total == Decimal("560.00")
    page = text(client.get(f"/orders/{order.pk}/"))
    assert "A row 1 seat 1" in page and "A row 1 seat 2" in page
    assert "¥560.00" in page and "Awaiting payment" in page
    assert "Pay 560 points" in page and "Pay with sandbox provider" in page and "Cancel order" in page
    assert f'data-countdown="{int(order.expires_at.timestamp())}"' in page and "js/countdown.js" in page
    assert re.search(r'role="timer"[^>]*>\s*(09:5\d|10:00)<', page)  # server-side mm:ss, before any script


def test_checking_out_the_same_holds_again_opens_the_same_order():
    buyer = UserFactory()
    hold = held(buyer, seats=1)
    client = english(buyer)

    first = client.post("/orders/checkout/", {"hold": hold.pk})
    second = client.post("/orders/checkout/", {"hold": hold.pk})

    assert first["Location"] == second["Location"] and Order.objects.count() == 1


def test_checkout_of_several_holds_of_one_event_makes_one_order():
    buyer = UserFactory()
    first = held(buyer, ga={"Standard": 2})
    second = held(buyer, ga={"Standard": 1}, session=first.session,
                  types={"Standard": first.items.get().ticket_type})

    english(buyer).post("/orders/checkout/", {"hold": [first.pk, second.pk]})

    order = Order.objects.get()
    assert order.total == Decimal("300.00") and order.order_holds.count() == 2


def test_checkout_of_someone_elses_hold_is_refused_and_makes_nothing():
    hold = held(UserFactory(), seats=1)
    stranger = UserFactory()

    response = english(stranger).post("/orders/checkout/", {"hold": hold.pk})

    assert response.status_code == 404 and not Order.objects.exists()


def test_paying_with_points_twice_with_the_same_key_charges_once_and_shows_the_e_tickets():
    buyer = UserFactory()
    order = pending_order(buyer, seats=2)
    client = english(buyer)
    key = hidden(text(client.get(f"/orders/{order.pk}/")), "idempotency_key")

    first = client.post(f"/orders/{order.pk}/pay/", {"idempotency_key": key})
    second = client.post(f"/orders/{order.pk}/pay/", {"idempotency_key": key})  # a double click

    assert first.status_code == second.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Payment.objects.filter(order=order).count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).count() == 1
    assert Wallet.objects.get(user=buyer).balance == Decimal("5000") - Decimal("560")
    page = text(client.get(f"/orders/{order.pk}/"))
    assert "Paid. Your e-tickets are below" in page
    tickets = list(Ticket.objects.filter(order=order))
    assert len(tickets) == 2
    for ticket in tickets:
        assert f'src="/tickets/mine/{ticket.pk}/qr.png"' in page
    assert "Points" in page and "Request a refund" in page
    assert 'name="idempotency_key"' not in page  # nothing left to pay


def test_each_rendering_of_the_order_page_has_its_own_payment_key():
    buyer = UserFactory()
    order = pending_order(buyer, seats=1)
    client = english(buyer)

    keys = {hidden(text(client.get(f"/orders/{order.pk}/")), "idempotency_key") for _ in range(2)}

    assert len(keys) == 2


def test_a_buyer_without_enough_points_is_told_so_and_nothing_is_charged(settings):
    settings.WALLET_DEMO_GRANT = 100
    buyer = UserFactory()
    order = pending_order(buyer, seats=1)
    client = english(buyer)
    page = text(client.get(f"/orders/{order.pk}/"))
    assert "Not enough points: this order costs 280 and your wallet holds 100." in page
    assert re.search(r'data-testid="pay-points" disabled', page)

    response = post_back(client, f"/orders/{order.pk}/pay/", {"idempotency_key": hidden(page, "idempotency_key")},
                         f"/orders/{order.pk}/")

    assert "Not enough points: this costs 280.00 and your wallet holds 100.00. Nothing was charged." in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and not Payment.objects.exists()
    assert Wallet.objects.get(user=buyer).balance == Decimal("100")


def test_cancelling_a_pending_order_puts_its_seats_back_on_sale():
    buyer = UserFactory()
    order = pending_order(buyer, seats=2)
    client = english(buyer)

    response = client.post(f"/orders/{order.pk}/cancel/", follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "The order was cancelled and its tickets are back on sale." in text(response)
    assert "Cancelled" in text(response) and 'name="idempotency_key"' not in text(response)
    assert not SessionSeat.objects.filter(status=SeatStatus.HELD, held_until__gt=timezone.now()).exists()


def test_an_order_past_its_deadline_reads_as_expired_before_the_sweep():
    buyer = UserFactory()
    order = pending_order(buyer, seats=1)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = english(buyer)

    assert "Expired" in text(client.get("/orders/"))
    page = text(client.get(f"/orders/{order.pk}/"))
    assert "Expired" in page and "has expired" in page and 'name="idempotency_key"' not in page


def test_a_real_name_order_asks_each_attendee_before_it_can_be_paid():
    buyer = UserFactory()
    order = pending_order(buyer, ga={"Standard": 2}, real_name=True)
    client = english(buyer)
    page = text(client.get(f"/orders/{order.pk}/"))
    assert page.count('data-testid="attendee"') == 2 and "Give each ticket's attendee first" in page
    assert re.search(r'data-testid="pay-points" disabled', page) and "Pay with sandbox provider" not in page
    item = order.order_holds.get().hold.items.get()

    bad = client.post(f"/orders/{order.pk}/attendees/", {f"name_{item.pk}_0": "张三", f"id_{item.pk}_0": "123"})
    assert "name, or pick a saved attendee." in text(bad) and not order.attendees.exists()

    client.post(f"/orders/{order.pk}/attendees/", {
        f"name_{item.pk}_0": "张三", f"id_{item.pk}_0": "110101199001011237",
        f"name_{item.pk}_1": "李四", f"id_{item.pk}_1": "110101199202022346"})
    page = text(client.get(f"/orders/{order.pk}/"))
    assert "Saved: 110***********1237." in page and "110101199001011237" not in page
    client.post(f"/orders/{order.pk}/pay/", {"idempotency_key": hidden(page, "idempotency_key")})

    assert sorted(Ticket.objects.filter(order=order).values_list("attendee_name", flat=True)) == ["张三", "李四"]
    assert "李四" in text(client.get(f"/orders/{order.pk}/"))


# --- the sandbox provider -------------------------------------------------------------------


def test_the_sandbox_provider_page_shows_a_signed_callback_and_without_javascript_confirms_it():
    buyer = UserFactory()
    order = pending_order(buyer, seats=1)
    client = english(buyer)
    page = text(client.get(f"/payments/sandbox/{order.number}/"))
    assert "¥280.00" in page and "Confirm payment" in page and "/api/payments/callback/sandbox" in page
    form = {name: hidden(page, name).replace("&quot;", '"') for name in ("body", "timestamp", "signature")}
    assert re.fullmatch(rf'\{{"order":"{order.number}","amount":"280.00","transaction_id":"SBX-[0-9a-f]+"\}}',
                        form["body"])

    response = client.post(f"/payments/sandbox/{order.number}/", form, follow=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get()
    assert payment.method == PaymentMethod.PROVIDER and payment.provider == "sandbox"
    assert payment.transaction_id.startswith("SBX-")
    assert "Paid with the sandbox provider" in text(response)
    assert not LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).exists()  # no points moved
    again = client.post(f"/payments/sandbox/{order.number}/", form, follow=True)  # the same callback again
    assert again.status_code == 200 and Payment.objects.count() == 1


def test_a_tampered_sandbox_confirmation_is_refused_and_nothing_is_paid():
    buyer = UserFactory()
    order = pending_order(buyer, seats=1)
    client = english(buyer)
    page = text(client.get(f"/payments/sandbox/{order.number}/"))
    form = {name: hidden(page, name).replace("&quot;", '"') for name in ("body", "timestamp", "signature")}
    form["body"] = form["body"].replace("280.00", "1.00")

    response = post_back(client, f"/payments/sandbox/{order.number}/", form, f"/payments/sandbox/{order.number}/")

    assert "not signed correctly" in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and not Payment.objects.exists()


# --- nobody reaches another buyer's things --------------------------------------------------


def test_nobody_reaches_another_buyers_order_tickets_qr_codes_or_provider_page():
    order = paid_order(UserFactory(), seats=1)
    pending = pending_order(order.user, seats=1)
    ticket = order.tickets.get()
    stranger = english(UserFactory())
    admin = english(UserFactory(role=Role.ADMIN))
    publisher = english(order.event.publisher)

    for client in (stranger, admin, publisher):
        for url in (f"/orders/{order.pk}/", f"/tickets/mine/{ticket.pk}/", f"/tickets/mine/{ticket.pk}/qr.png",
                    f"/payments/sandbox/{pending.number}/", f"/orders/{pending.pk}/"):
            assert client.get(url).status_code == 404, url
        for url in (f"/orders/{pending.pk}/pay/", f"/orders/{pending.pk}/cancel/", f"/orders/{order.pk}/refund/",
                    f"/orders/{pending.pk}/attendees/"):
            assert client.post(url, {"idempotency_key": "k", "reason": "mine now"}).status_code == 404, url
    pending.refresh_from_db()
    assert pending.status == OrderStatus.PENDING and not Refund.objects.exists()
    assert 'data-testid="order-row"' not in text(stranger.get("/orders/"))
    assert 'data-testid="ticket-row"' not in text(stranger.get("/tickets/mine/"))


def test_anonymous_visitors_are_sent_to_log_in():
    for url in ("/orders/", "/orders/1/", "/tickets/mine/", "/tickets/mine/1/", "/tickets/mine/1/qr.png", "/wallet/",
                "/payments/sandbox/X/", "/checkin/", "/checkin/1/", "/review/refunds/", "/manage/users/1/wallet/",
                "/publisher/events/1/staff/", "/publisher/events/1/orders/", "/publisher/events/1/orders.csv"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url


# --- orders, tickets, QR codes ----------------------------------------------------------------


def test_my_orders_and_my_tickets_list_my_own_with_their_status():
    buyer = UserFactory()
    order = paid_order(buyer, seats=2)
    pending_order(UserFactory(), seats=1)  # someone else's
    client = english(buyer)

    orders = text(client.get("/orders/"))
    assert orders.count('data-testid="order-row"') == 1 and order.number in orders and "Paid" in orders
    tickets = text(client.get("/tickets/mine/"))
    assert tickets.count('data-testid="ticket-row"') == 2 and "A row 1 seat 2" in tickets and "Valid" in tickets


def test_the_ticket_page_shows_a_big_qr_code_its_code_seat_and_status():
    buyer = UserFactory()
    ticket = paid_order(buyer, seats=1).tickets.get()
    client = english(buyer)

    page = text(client.get(f"/tickets/mine/{ticket.pk}/"))
    assert f'src="/tickets/mine/{ticket.pk}/qr.png"' in page and ticket.code in page
    assert "A row 1 seat 1" in page and "Standard" in page and "Valid" in page and "1号厅" in page

    qr = client.get(f"/tickets/mine/{ticket.pk}/qr.png")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/png" and qr.content.startswith(b"\x89PNG")
    assert "no-store" in qr["Cache-Control"] and "Content-Disposition" not in qr
    download = client.get(f"/tickets/mine/{ticket.pk}/qr.png?download=1")
    assert download["Content-Disposition"] == f'attachment; filename="ticket-{ticket.order.number}-{ticket.pk}.png"'


def test_a_used_ticket_says_when_and_by_whom():
    buyer = UserFactory()
    order = doors_open(paid_order(buyer, seats=1))
    ticket = order.tickets.get()
    door = UserFactory(display_name="王门卫")
    services.staff_add(actor=order.event.publisher, event=order.event, login=door.username)
    services.checkin_scan(staff=door, event=order.event, code=ticket.code, nonce="n1")

    page = text(english(buyer).get(f"/tickets/mine/{ticket.pk}/"))

    checkin = CheckIn.objects.get()
    assert "Used" in page and "by 王门卫" in page
    assert f"Checked in at {timezone.localtime(checkin.at):%Y-%m-%d %H:%M}" in page


# --- refunds ------------------------------------------------------------------------------------


def test_a_refund_request_then_an_admin_approval_return_the_points_through_the_pages():
    buyer = UserFactory()
    order = paid_order(buyer, seats=2)
    admin = UserFactory(role=Role.ADMIN)
    client, boss = english(buyer), english(admin)

    empty = client.post(f"/orders/{order.pk}/refund/", {"reason": ""})
    assert "This field is required." in text(empty) and not Refund.objects.exists()
    response = client.post(f"/orders/{order.pk}/refund/", {"reason": "I cannot come"}, follow=True)
    assert "Your refund request was sent" in text(response) and "Refund requested" in text(response)
    assert "I cannot come" in text(response) and 'name="reason"' not in text(response)

    queue = text(boss.get("/review/refunds/"))
    assert order.number in queue and "I cannot come" in queue and buyer.email in queue and "¥560.00" in queue
    refund = Refund.objects.get()
    response = boss.post(f"/review/refunds/{refund.pk}/", {"decision": "approve", "reason": ""}, follow=True)

    assert f"Refund of order {order.number} approved; 560.00 points went back." in text(response)
    assert "No refunds to review." in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
    assert Wallet.objects.get(user=buyer).balance == Decimal("5000")
    wallet_page = text(client.get("/wallet/"))
    assert "Refund" in wallet_page and "+560" in wallet_page and "-560" in wallet_page
    assert "Approved" in text(client.get(f"/orders/{order.pk}/"))
    assert not SessionSeat.objects.filter(session=order.tickets.first().session, status=SeatStatus.SOLD).exists()


def test_a_provider_paid_refund_tells_the_admin_to_return_the_money_at_the_provider():
    order = pending_order(UserFactory(), seats=1)
    services.payment_confirm_external(provider="sandbox", transaction_id="SBX-77", order_number=order.number,
                                      amount=order.total)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="ill")
    boss = english(UserFactory(role=Role.ADMIN))
    balance = services.wallet_ensure(user=order.user).balance

    queue = text(boss.get("/review/refunds/"))
    assert "Paid through sandbox (transaction SBX-77)" in queue and "returns no points" in queue
    response = boss.post(f"/review/refunds/{refund.pk}/", {"decision": "approve", "reason": ""}, follow=True)

    assert "paid through sandbox (transaction SBX-77): return 280.00 there; no points were credited" in text(response)
    assert Wallet.objects.get(user=order.user).balance == balance
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_an_admin_must_say_why_a_refund_is_rejected_and_the_order_is_paid_again():
    order = paid_order(UserFactory(), seats=1)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="changed my mind")
    boss = english(UserFactory(role=Role.ADMIN))

    no_reason = post_back(boss, f"/review/refunds/{refund.pk}/", {"decision": "reject"}, "/review/refunds/")
    assert "Give the buyer a reason for the rejection." in text(no_reason)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED

    response = boss.post(f"/review/refunds/{refund.pk}/", {"decision": "reject", "reason": "Too late"}, follow=True)

    assert "rejected; the buyer was told why" in text(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert "Too late" in text(english(order.user).get(f"/orders/{order.pk}/"))


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.PUBLISHER])
def test_only_admins_see_and_decide_refunds(role):
    order = paid_order(UserFactory(), seats=1)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="r")
    client = english(UserFactory(role=role))

    assert client.get("/review/refunds/").status_code == 403
    assert client.post(f"/review/refunds/{refund.pk}/", {"decision": "approve"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED


# --- wallets --------------------------------------------------------------------------------------


def test_the_wallet_page_shows_the_balance_and_every_ledger_entry():
    buyer = UserFactory()
    order = paid_order(buyer, seats=1)
    client = english(buyer)

    page = text(client.get("/wallet/"))

    assert 'data-testid="wallet-balance">4720<' in page
    assert page.count('data-testid="ledger-entry"') == 2
    assert "Welcome grant" in page and "+5000" in page and "Purchase" in page and "-280" in page
    assert f'href="/orders/{order.pk}/"' in page


def test_the_wallet_pages_by_25():
    buyer = UserFactory()
    admin = UserFactory(role=Role.ADMIN)
    for n in range(30):
        services.wallet_adjust(actor=admin, user=buyer, amount=Decimal(n + 1), reason=f"gift {n}")
    client = english(buyer)

    assert text(client.get("/wallet/")).count('data-testid="ledger-entry"') == 25
    assert text(client.get("/wallet/?page=2")).count('data-testid="ledger-entry"') == 6


def test_an_admin_adjusts_a_users_wallet_with_a_reason_from_the_users_page():
    buyer = UserFactory(username="buyer1")
    admin = UserFactory(role=Role.ADMIN)
    boss = english(admin)
    assert f'href="/manage/users/{buyer.pk}/wallet/"' in text(boss.get("/manage/users/"))
    assert "No wallet yet" in text(boss.get(f"/manage/users/{buyer.pk}/wallet/"))
    assert not Wallet.objects.filter(user=buyer).exists()  # looking does not create it

    no_reason = boss.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "100", "reason": ""})
    zero = boss.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "0", "reason": "nothing"})
    huge = boss.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "99999999999", "reason": "typo"})
    assert "This field is required." in text(no_reason) and "The amount cannot be zero." in text(zero)
    assert "less than or equal to 1000000" in text(huge) and not Wallet.objects.filter(user=buyer).exists()
    response = boss.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "250", "reason": "Prize"}, follow=True)
    taken = boss.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "-50", "reason": "Correction"}, follow=True)

    assert "now has 5250.00 points" in text(response)
    assert Wallet.objects.get(user=buyer).balance == Decimal("5200")
    assert "Prize" in text(taken) and "Correction" in text(taken) and "Top-up" in text(taken)
    assert "Adjustment" in text(taken)
    buyer_page = text(english(buyer).get("/wallet/"))
    assert "Prize" in buyer_page and "+250" in buyer_page


def test_taking_more_points_than_a_wallet_holds_is_refused():
    buyer = UserFactory()
    boss = english(UserFactory(role=Role.ADMIN))
    services.wallet_ensure(user=buyer)

    response = post_back(boss, f"/manage/users/{buyer.pk}/wallet/", {"amount": "-9000", "reason": "x"},
                         f"/manage/users/{buyer.pk}/wallet/")

    assert "Not enough points" in text(response) and Wallet.objects.get(user=buyer).balance == Decimal("5000")


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.PUBLISHER])
def test_only_admins_see_or_adjust_another_users_wallet(role):
    buyer = UserFactory()
    client = english(UserFactory(role=role))

    assert client.get(f"/manage/users/{buyer.pk}/wallet/").status_code == 403
    assert client.post(f"/manage/users/{buyer.pk}/wallet/", {"amount": "100", "reason": "me"}).status_code == 403
    assert not Wallet.objects.filter(user=buyer).exists()


# --- check-in ---------------------------------------------------------------------------------


def scan(client, event, code: str, nonce: str | None = None):
    page = text(client.get(f"/checkin/{event.pk}/"))
    return client.post(f"/checkin/{event.pk}/", {"code": code, "nonce": nonce or hidden(page, "nonce")})


def test_the_door_form_admits_a_ticket_once_then_refuses_it_as_already_used():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    publisher = order.event.publisher
    publisher.display_name = "Door Dan"
    publisher.save()
    door = english(publisher)
    page = text(door.get(f"/checkin/{order.event.pk}/"))
    assert "jsQR.js" in page and "js/checkin.js" in page and "Start camera" in page
    assert 'data-api="/api/checkin"' in page

    nonce = hidden(page, "nonce")
    admitted = text(door.post(f"/checkin/{order.event.pk}/", {"code": ticket.code, "nonce": nonce}))
    resent = text(door.post(f"/checkin/{order.event.pk}/", {"code": ticket.code, "nonce": nonce}))  # a reload
    second = text(scan(door, order.event, ticket.code))

    assert 'data-result="ok"' in admitted and "Admitted" in admitted and "A row 1 seat 1" in admitted
    assert 'data-result="ok"' in resent  # the same scan, answered the same way
    assert 'data-result="already_used"' in second and "Refused: already used at" in second
    assert "checked in by Door Dan" in second
    assert Scan.objects.count() == 2 and CheckIn.objects.count() == 1
    ticket.refresh_from_db()
    order.refresh_from_db()
    assert ticket.status == TicketStatus.USED and order.status == OrderStatus.USED
    assert 'data-testid="checked-in">1<' in second


def test_the_door_form_shows_the_attendee_of_a_real_name_ticket():
    order = doors_open(paid_order(UserFactory(), ga={"Standard": 1}, real_name=True))
    ticket = order.tickets.get()

    page = text(scan(english(order.event.publisher), order.event, ticket.code))

    assert ticket.attendee_id_masked.startswith("110***********")
    assert 'data-result="ok"' in page and ticket.attendee_name in page and ticket.attendee_id_masked in page


def test_forged_void_and_other_event_codes_are_refused_with_the_reason():
    order = paid_order(UserFactory(), seats=2)
    other = paid_order(UserFactory(), seats=1)
    first, second = order.tickets.all()
    Ticket.objects.filter(pk=second.pk).update(status=TicketStatus.VOID, seat_claim=None)
    door = english(order.event.publisher)

    forged = text(scan(door, order.event, first.code[:-4] + "AAAA"))
    void = text(scan(door, order.event, second.code))
    elsewhere = text(scan(door, order.event, other.tickets.get().code))
    empty = door.post(f"/checkin/{order.event.pk}/", {"code": "", "nonce": "x"})

    assert 'data-result="forged"' in forged and "Refused: Not a valid code." in forged
    assert 'data-result="void"' in void and "Refused: Ticket refunded or void." in void
    assert 'data-result="other_event"' in elsewhere and "Ticket for another event" in elsewhere
    assert "This field is required." in text(empty)
    assert not CheckIn.objects.exists()


def test_a_customer_named_door_staff_checks_in_and_other_customers_are_refused():
    order = doors_open(paid_order(UserFactory(), seats=1))
    customer = UserFactory()
    client = english(customer)
    assert "No events to check in" in text(client.get("/checkin/"))
    assert client.get(f"/checkin/{order.event.pk}/").status_code == 403
    assert client.post(f"/checkin/{order.event.pk}/", {"code": "x", "nonce": "n"}).status_code == 403
    assert client.get(f"/checkin/{order.event.pk}/counts/").status_code == 403
    assert ">Check-in<" not in text(client.get("/"))

    services.staff_add(actor=order.event.publisher, event=order.event, login=customer.email)

    listing = text(client.get("/checkin/"))
    assert order.event.title in listing and f'href="/checkin/{order.event.pk}/"' in listing
    assert ">Check-in<" in text(client.get("/"))
    assert 'data-result="ok"' in text(scan(client, order.event, order.tickets.get().code))


def test_admins_check_in_any_event_and_publishers_only_their_own():
    order = doors_open(paid_order(UserFactory(), seats=1))
    admin = english(UserFactory(role=Role.ADMIN))
    other_publisher = english(UserFactory(role=Role.PUBLISHER))

    assert order.event.title in text(admin.get("/checkin/"))
    assert admin.get(f"/checkin/{order.event.pk}/").status_code == 200
    assert order.event.title not in text(other_publisher.get("/checkin/"))
    assert other_publisher.get(f"/checkin/{order.event.pk}/").status_code == 403


def test_the_counts_partial_shows_checked_in_of_total_per_session():
    order = doors_open(paid_order(UserFactory(), seats=3))
    services.checkin_scan(staff=order.event.publisher, event=order.event, code=order.tickets.first().code, nonce="a")

    page = text(english(order.event.publisher).get(f"/checkin/{order.event.pk}/counts/"))

    assert 'data-testid="checked-in">1<' in page and 'data-testid="ticket-total">3<' in page
    assert 'hx-trigger="every 3s' in page


# --- publishers: door staff and orders -------------------------------------------------------


def test_the_publisher_adds_and_removes_door_staff_by_username_or_email():
    order = paid_order(UserFactory(), seats=1)
    event, publisher = order.event, order.event.publisher
    door = UserFactory(username="door1", email="door1@example.com")
    client = english(publisher)

    unknown = post_back(client, f"/publisher/events/{event.pk}/staff/", {"login": "nobody"},
                        f"/publisher/events/{event.pk}/staff/")
    assert "No account with that username or email." in text(unknown)
    added = client.post(f"/publisher/events/{event.pk}/staff/", {"login": "DOOR1@example.com"}, follow=True)
    assert "can now check tickets in for this event" in text(added) and "door1" in text(added)
    assert EventStaff.objects.filter(event=event, user=door).exists()
    client.post(f"/publisher/events/{event.pk}/staff/", {"login": "door1"})  # again: still one
    assert EventStaff.objects.filter(event=event).count() == 1

    removed = client.post(f"/publisher/events/{event.pk}/staff/{door.pk}/remove/", follow=True)

    assert "Removed from the door staff." in text(removed) and not EventStaff.objects.exists()


def test_only_the_events_publisher_manages_its_staff_and_sees_its_orders():
    order = paid_order(UserFactory(), seats=1)
    event = order.event
    other = english(UserFactory(role=Role.PUBLISHER))
    for url in (f"/publisher/events/{event.pk}/staff/", f"/publisher/events/{event.pk}/orders/",
                f"/publisher/events/{event.pk}/orders.csv"):
        assert other.get(url).status_code == 404, url
        for role in (Role.CUSTOMER, Role.ADMIN):
            assert english(UserFactory(role=role)).get(url).status_code == 403, url
    assert other.post(f"/publisher/events/{event.pk}/staff/", {"login": "x"}).status_code == 404
    staff = UserFactory()
    EventStaff.objects.create(event=event, user=staff)
    assert other.post(f"/publisher/events/{event.pk}/staff/{staff.pk}/remove/").status_code == 404
    assert EventStaff.objects.count() == 1


def test_the_publisher_sees_the_events_orders_and_exports_one_csv_row_per_ticket():
    buyer = UserFactory(username="buyer9", email="buyer9@example.com")
    order = doors_open(paid_order(buyer, ga={"Standard": 2}, real_name=True))
    event = order.event
    first = order.tickets.order_by("pk").first()
    services.checkin_scan(staff=event.publisher, event=event, code=first.code, nonce="n")
    pending_order(UserFactory(), session=first.session, ga={"Standard": 1},
                  types={"Standard": first.ticket_type})  # unpaid: not a sale
    client = english(event.publisher)

    page = text(client.get(f"/publisher/events/{event.pk}/orders/"))
    assert page.count('data-testid="publisher-order"') == 1 and order.number in page and "buyer9@example.com" in page
    assert "¥200.00" in page and first.attendee_name in page

    response = client.get(f"/publisher/events/{event.pk}/orders.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="orders-event-{event.pk}.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Order number", "Order status", "Buyer", "Email", "Paid at", "Session", "Ticket type", "Seat",
                       "Price", "Attendee", "ID number", "Ticket status", "Checked in at"]
    assert len(rows) == 3
    by_name = {row[9]: row for row in rows[1:]}
    used = by_name[first.attendee_name]
    assert used[:4] == [order.number, "Paid", "buyer9", "buyer9@example.com"]
    assert used[6:9] == ["Standard", "", "100.00"] and used[10] == first.attendee_id_masked != ""
    assert used[11] == "Used" and used[12].startswith(f"{timezone.localtime():%Y-%m-%d}")
    assert used[4] == f"{timezone.localtime(order.paid_at):%Y-%m-%d %H:%M:%S}"
    other = next(row for name, row in by_name.items() if name != first.attendee_name)
    assert other[11] == "Valid" and other[12] == ""


def test_the_csv_starts_with_a_byte_order_mark_so_excel_reads_chinese_names():
    order = paid_order(UserFactory(username="张三丰"), seats=1)
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.force_login(order.event.publisher)

    content = client.get(f"/publisher/events/{order.event.pk}/orders.csv").content

    assert content.startswith(b"\xef\xbb\xbf")
    assert "张三丰" in content.decode("utf-8-sig")


def test_a_formula_in_a_buyers_name_is_not_run_by_the_spreadsheet():
    buyer = UserFactory(username="=HYPERLINK(1)")
    order = paid_order(buyer, seats=1)

    content = english(order.event.publisher).get(f"/publisher/events/{order.event.pk}/orders.csv").content

    assert "'=HYPERLINK(1)" in content.decode("utf-8-sig")


# --- navigation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "present", "absent"), [
    (Role.CUSTOMER, ["/orders/", "/tickets/mine/", "/wallet/"], ["/review/refunds/", "/checkin/"]),
    (Role.PUBLISHER, ["/checkin/"], ["/review/refunds/", "/wallet/"]),
    (Role.ADMIN, ["/review/refunds/"], ["/wallet/"]),
])
def test_the_navigation_links_each_role_to_its_order_pages(role, present, absent):
    page = text(english(UserFactory(role=role)).get("/"))
    nav = page.split('id="main-nav"')[1].split("</nav>")[0]

    for href in present:
        assert f'href="{href}"' in nav, href
    for href in absent:
        assert f'href="{href}"' not in nav, href


def test_every_order_page_renders_for_its_role():
    buyer = UserFactory()
    order = paid_order(buyer, seats=1)
    pending = pending_order(buyer, seats=1)
    ticket = order.tickets.get()
    admin, publisher = english(UserFactory(role=Role.ADMIN)), english(order.event.publisher)
    client = english(buyer)

    for url in ("/orders/", f"/orders/{order.pk}/", f"/orders/{pending.pk}/", "/tickets/mine/",
                f"/tickets/mine/{ticket.pk}/", "/wallet/", f"/payments/sandbox/{pending.number}/",
                f"/payments/sandbox/{order.number}/"):
        assert client.get(url).status_code == 200, url
    for url in ("/review/refunds/", f"/manage/users/{buyer.pk}/wallet/", "/checkin/", f"/checkin/{order.event.pk}/"):
        assert admin.get(url).status_code == 200, url
    for url in ("/checkin/", f"/checkin/{order.event.pk}/", f"/publisher/events/{order.event.pk}/staff/",
                f"/publisher/events/{order.event.pk}/orders/"):
        assert publisher.get(url).status_code == 200, url
    assert "nothing to pay" in text(client.get(f"/payments/sandbox/{order.number}/"))


# --- Django admin -------------------------------------------------------------------------------


def test_the_django_admin_shows_orders_wallets_refunds_and_scans_read_only():
    order = paid_order(UserFactory(), seats=1)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="r")
    services.checkin_scan(staff=order.event.publisher, event=order.event, code="forged", nonce="n")
    boss = english(UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True))
    wallet = Wallet.objects.get(user=order.user)

    for url in ("/admin/orders/order/", f"/admin/orders/order/{order.pk}/change/", "/admin/orders/wallet/",
                f"/admin/orders/wallet/{wallet.pk}/change/", "/admin/orders/refund/",
                f"/admin/orders/refund/{refund.pk}/change/", "/admin/orders/scan/"):
        response = boss.get(url)
        assert response.status_code == 200, url
    detail = text(boss.get(f"/admin/orders/order/{order.pk}/change/"))
    assert order.number in detail and "A row 1 seat 1" in detail and 'name="_save"' not in detail
    assert boss.get("/admin/orders/order/add/").status_code == 403
