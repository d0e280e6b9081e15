"""Waiting lists (候补): join a sold-out type for several tickets, see the place in line, leave; returned
tickets go to the line first, in order, as a hold only its buyer can order (or, pre-paid, an order paid from
the deposit); an offer that lapses passes on; two processes offering one returned ticket offer it once;
when the session starts a deposit comes back."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification
from orders import selectors, services, tasks, waitlist
from orders.models import Order, OrderStatus, WaitlistEntry, WaitStatus
from tests.factories import UserFactory
from ticketing.models import OutboxMessage
from tests.helpers.processes import run_in_processes
from tests.orders.flows import assert_wallet_consistent
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Hold, HoldStatus, SessionSeat, Stock
from tickets.selectors import session_stock
from tickets.services import SeatTaken, SoldOut, hold_create, hold_release, seat_release

pytestmark = pytest.mark.django_db
D = Decimal


def sold_out(total: int = 2):
    """A GA session of `total` tickets at ¥100, all held by one buyer (whose hold is returned)."""
    session, types = ga_session(stock={"Standard": total}, prices={"Standard": 100})
    tt = types["Standard"]
    hold = hold_create(user=UserFactory(), session=session, quantities={tt.pk: total})
    return session, tt, hold


def _join(user, session, tt, n=1, **kwargs):
    return waitlist.waitlist_join(user=user, session_id=session.pk, ticket_type_id=tt.pk, quantity=n, **kwargs)


def _stock(session, tt) -> Stock:
    return Stock.objects.get(session=session, ticket_type=tt)


def test_a_buyer_joins_a_sold_out_type_for_several_tickets_sees_their_place_and_leaves():
    session, tt, _hold = sold_out()
    first, second = UserFactory(), UserFactory()
    a = _join(first, session, tt, 2)
    b = _join(second, session, tt, 1)
    assert (selectors.place_in_line(a), selectors.place_in_line(b)) == (1, 2)
    assert [e.place for e in selectors.waitlist_of(second)] == [2]
    assert _stock(session, tt).waiting == 3
    with pytest.raises(waitlist.Conflict):
        _join(first, session, tt, 1)
    waitlist.waitlist_leave(user=first, entry_id=a.pk)
    assert selectors.place_in_line(WaitlistEntry.objects.get(pk=b.pk)) == 1
    assert _stock(session, tt).waiting == 1
    with pytest.raises(waitlist.NotFound):
        waitlist.waitlist_leave(user=first, entry_id=b.pk)  # not theirs


def test_nobody_waits_for_tickets_on_sale_and_the_limit_per_buyer_counts_the_wait():
    session, types = ga_session(stock={"Standard": 10}, per_user_limit=4)
    with pytest.raises(waitlist.NotSoldOut):
        _join(UserFactory(), session, types["Standard"], 2)
    session, tt, _hold = sold_out()
    with pytest.raises(waitlist.DomainError):
        _join(UserFactory(), session, tt, 7)  # more than one buyer may have
    assert not WaitlistEntry.objects.exists()


def test_returned_tickets_go_to_the_line_in_order_as_a_hold_only_its_buyer_has():
    session, tt, hold = sold_out(total=2)
    first, second, walk_in = UserFactory(email="first@example.com"), UserFactory(), UserFactory()
    a = _join(first, session, tt, 2)
    b = _join(second, session, tt, 1)

    hold_release(user=hold.user, hold_id=hold.pk)
    assert waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk) == 1

    a.refresh_from_db()
    assert a.status == WaitStatus.OFFERED and a.hold.user_id == first.pk and a.hold.items.get().quantity == 2
    assert Notification.objects.filter(user=first, kind="waitlist_offer").exists()
    assert WaitlistEntry.objects.get(pk=b.pk).status == WaitStatus.WAITING  # nothing left for the second
    with pytest.raises(SoldOut):
        hold_create(user=walk_in, session=session, quantities={tt.pk: 1})
    order = services.order_create(user=first, hold_ids=[a.hold_id])
    services.order_pay(user=first, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert WaitlistEntry.objects.get(pk=a.pk).shown_status == WaitStatus.BOUGHT


def test_an_offer_that_lapses_passes_to_the_next_in_line_and_the_open_sale_waits_for_the_line():
    session, tt, hold = sold_out(total=1)
    first, second = UserFactory(), UserFactory()
    a, b = _join(first, session, tt), _join(second, session, tt)
    hold_release(user=hold.user, hold_id=hold.pk)
    waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk)
    a.refresh_from_db()
    Hold.objects.filter(pk=a.hold_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk) == 1

    b.refresh_from_db()
    assert b.status == WaitStatus.OFFERED and b.hold.user_id == second.pk
    assert WaitlistEntry.objects.get(pk=a.pk).shown_status == WaitStatus.LAPSED
    assert Hold.objects.get(pk=a.hold_id).status == HoldStatus.EXPIRED
    assert _stock(session, tt).waiting == 0 and _stock(session, tt).available == 0


def test_the_beat_sweep_offers_what_lapsed_holds_gave_back_in_every_line():
    lines = [sold_out(total=1) for _ in range(2)]
    entries = [_join(UserFactory(), session, tt) for session, tt, _hold in lines]
    for _session, _tt, hold in lines:  # lapsed, and nothing has looked at them since
        Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.waitlist_sweep() == 2

    assert all(WaitlistEntry.objects.get(pk=e.pk).status == WaitStatus.OFFERED for e in entries)
    assert tasks.waitlist_sweep() == 0


def offer(session_id: int, ticket_type_id: int) -> int:
    connection.close()
    return waitlist.waitlist_offer(session_id=session_id, ticket_type_id=ticket_type_id)


@pytest.mark.django_db(transaction=True)
def test_two_processes_offering_one_returned_ticket_offer_it_once():
    session, tt, hold = sold_out(total=1)
    entries = [_join(UserFactory(), session, tt) for _ in range(3)]
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # lapsed: one back

    results = run_in_processes(offer, [(session.pk, tt.pk)] * 2)

    assert sorted(results) == [0, 1]
    offered = WaitlistEntry.objects.filter(status=WaitStatus.OFFERED)
    assert [e.pk for e in offered] == [entries[0].pk]
    stock = _stock(session, tt)
    assert (stock.available, stock.held, stock.waiting) == (0, 1, 2)


@pytest.mark.django_db(transaction=True)
def test_two_processes_offering_one_returned_seat_offer_it_once():
    session, types = seated_session(rows=1, seats=1)
    tt = types["Standard"]
    hold = hold_create(user=UserFactory(), session=session, seat_ids=seat_ids(session))
    entries = [_join(UserFactory(), session, tt) for _ in range(2)]
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    SessionSeat.objects.filter(session=session).update(held_until=timezone.now() - timedelta(seconds=1))

    results = run_in_processes(offer, [(session.pk, tt.pk)] * 2)

    assert sorted(results) == [0, 1]
    assert [e.pk for e in WaitlistEntry.objects.filter(status=WaitStatus.OFFERED)] == [entries[0].pk]
    assert SessionSeat.objects.get(session=session).hold.user_id == entries[0].user_id


def test_a_prepaid_entry_is_fulfilled_at_once_from_its_deposit():
    session, tt, hold = sold_out(total=2)
    buyer = UserFactory()
    entry = _join(buyer, session, tt, 2, prepaid=True)
    assert entry.deposit == D("200.00")
    assert assert_wallet_consistent(buyer).balance == D("4800.00")
    hold_release(user=hold.user, hold_id=hold.pk)
    waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk)

    entry.refresh_from_db()
    assert entry.order.status == OrderStatus.PAID and entry.order.tickets.count() == 2
    assert assert_wallet_consistent(buyer).balance == D("4800.00")  # paid once, by the deposit
    refund = services.refund_request(user=buyer, order_id=entry.order_id, reason="有事")
    assert refund.amount == D("200.00")


def test_an_approved_refund_sends_its_tickets_to_the_line_through_the_outbox():
    session, tt, hold = sold_out(total=2)
    first, buyer = hold.user, UserFactory()
    paid = services.order_create(user=first, hold_ids=[hold.pk])  # the first buyer pays for both
    services.order_pay(user=first, order_id=paid.pk, idempotency_key=uuid.uuid4().hex)
    entry = _join(buyer, session, tt, 2)
    refund = services.refund_request(user=first, order_id=paid.pk, reason="改期")
    services.refund_review(actor=UserFactory(role="admin"), refund_id=refund.pk, approve=True)
    sent = OutboxMessage.objects.filter(handler="orders.waitlist").last()
    assert sent.payload == {"session": session.pk, "types": [tt.pk]}
    waitlist._came_back(**sent.payload)  # what the worker runs
    entry.refresh_from_db()
    assert entry.status == WaitStatus.OFFERED and entry.hold.items.get().quantity == 2


def test_when_the_session_starts_waiting_buyers_are_told_and_deposits_come_back():
    session, tt, _hold = sold_out()
    prepaid, plain = UserFactory(), UserFactory()
    _join(prepaid, session, tt, 2, prepaid=True)
    _join(plain, session, tt, 1)
    assert waitlist.waitlist_close_due(now=session.start_time + timedelta(minutes=1)) == 2
    assert assert_wallet_consistent(prepaid).balance == D("5000.00")
    assert Notification.objects.filter(user=plain, kind="waitlist_closed").exists()
    assert _stock(session, tt).waiting == 0
    assert waitlist.waitlist_close_due(now=session.start_time + timedelta(minutes=2)) == 0


def test_a_seated_type_has_a_line_too_and_its_returned_seats_go_to_it_first(django_capture_on_commit_callbacks):
    session, types = seated_session(rows=1, seats=3)
    tt = types["Standard"]
    seats = seat_ids(session)
    with pytest.raises(waitlist.NotSoldOut):  # nobody waits while seats are free
        _join(UserFactory(), session, tt, 1)
    taken = hold_create(user=UserFactory(), session=session, seat_ids=seats)
    first, walk_in = UserFactory(), UserFactory()
    entry = _join(first, session, tt, 2)
    assert [r.available for r in session_stock(session)] == [0]

    with django_capture_on_commit_callbacks(execute=True):  # (the seats' fast-path marks go after commit)
        hold_release(user=taken.user, hold_id=taken.pk)
        waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk)

    entry.refresh_from_db()
    assert entry.status == WaitStatus.OFFERED
    assert sorted(entry.hold.items.values_list("seat_id", flat=True)) == seats[:2]
    with pytest.raises(SeatTaken):  # held for the first in line
        hold_create(user=walk_in, session=session, seat_ids=seats[:1])
    hold_create(user=walk_in, session=session, seat_ids=seats[2:])  # nobody waits any more: on open sale


def test_a_seat_of_a_type_someone_waits_for_is_kept_for_the_line():
    session, types = seated_session(rows=1, seats=2)
    tt = types["Standard"]
    seats = seat_ids(session)
    taken = hold_create(user=UserFactory(), session=session, seat_ids=seats)
    _join(UserFactory(), session, tt, 2)
    _join(UserFactory(), session, tt, 1)
    seat_release(user=taken.user, session=session, seat_id=seats[0])  # one seat back: the first waits for 2
    assert waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk) == 0
    with pytest.raises(SeatTaken, match="waiting list"):
        hold_create(user=UserFactory(), session=session, seat_ids=seats[:1])


def test_the_api_and_pages_join_list_and_leave(client):
    session, tt, _hold = sold_out()
    buyer = UserFactory()
    api = APIClient()
    api.force_authenticate(buyer)
    joined = api.post("/api/waitlist", {"session": session.pk, "ticket_type": tt.pk, "quantity": 2}, format="json")
    assert joined.status_code == 201 and joined.json()["place"] == 1
    again = api.post("/api/waitlist", {"session": session.pk, "ticket_type": tt.pk, "quantity": 1}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "waitlist_joined")
    assert [e["id"] for e in api.get("/api/waitlist").json()] == [joined.json()["id"]]
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.delete(f"/api/waitlist/{joined.json()['id']}").status_code == 404
    assert api.delete(f"/api/waitlist/{joined.json()['id']}").json()["status"] == "left"

    client.force_login(buyer)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert 'data-testid="waitlist-join"' in page
    client.post(f"/sessions/{session.pk}/waitlist/", {"ticket_type": tt.pk, "quantity": "1"})
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert 'data-testid="waitlist-place"' in page
    mine = client.get("/waitlist/").content.decode()
    assert 'data-testid="waitlist-entry"' in mine
    client.force_login(session.event.publisher)
    manage = client.get(f"/publisher/events/{session.event_id}/tickets/").content.decode()
    assert 'data-testid="waiting"' in manage
