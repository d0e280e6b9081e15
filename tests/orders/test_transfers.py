"""Ticket transfer (转赠): offered by email or mobile, accepted by the receiver; the old code refused at the door
at once (also on the revocation list for scanners offline), the attendee and the limits follow the receiver,
the chain of holders is kept; a transfer racing a check-in of the old code ends one way only."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification
from orders import codes, identity, services, transfers
from orders.models import Order, OrderStatus, ScanResult, Ticket, TicketStatus, TicketTransfer, TransferStatus
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from orders.selectors import order_lines
from tests.orders.factories import mainland_id
from tests.orders.factories import pending_order as pending_real_name_order
from tests.orders.flows import doors_open, move_sessions, paid_order
from tickets.models import Session
from orders.cancellations import cancellation_refunds
from tickets.services import OverLimit, hold_create, session_cancel

pytestmark = pytest.mark.django_db


def _at_the_door(order: Order) -> Order:
    """Its session starts within the hour; this event takes transfers until the start."""
    order.event.transfer_cutoff_hours = 0
    order.event.save(update_fields=["transfer_cutoff_hours"])
    return doors_open(order)


def _scan(order: Order, code: str):
    return services.checkin_scan(staff=order.event.publisher, event=order.event, code=code, nonce=uuid.uuid4().hex)


def _give(order: Order, receiver, ticket: Ticket | None = None) -> Ticket:
    ticket = ticket or order.tickets.first()
    offer = transfers.transfer_offer(user=order.user, ticket_id=ticket.pk, to=receiver.email)
    return transfers.transfer_accept(user=receiver, transfer_id=offer.pk)


def test_the_receiver_accepts_and_the_old_code_is_refused_at_the_door_with_the_reason():
    order = _at_the_door(paid_order(UserFactory(), seats=2))
    receiver = UserFactory(email="friend@example.com")
    ticket = order.tickets.first()
    old_code = ticket.code
    offer = transfers.transfer_offer(user=order.user, ticket_id=ticket.pk, to=" Friend@Example.com ")
    assert Notification.objects.filter(user=receiver, kind="transfer_offered").exists()
    assert Ticket.objects.get(pk=ticket.pk).user_id == order.user_id  # still theirs until accepted

    given = transfers.transfer_accept(user=receiver, transfer_id=offer.pk)

    assert (given.user_id, given.status) == (receiver.pk, TicketStatus.VALID)
    assert given.code != old_code and codes.verify(given.code)
    refused = _scan(order, old_code)
    assert (refused.scan.result, refused.admitted) == (ScanResult.TRANSFERRED, False)
    assert "another account" in refused.message
    assert _scan(order, given.code).admitted
    assert Notification.objects.filter(user=order.user, kind="transfer_accepted").exists()
    assert [u.pk for u, _since in transfers.holders(given)] == [order.user_id, receiver.pk]


@pytest.mark.django_db(transaction=True)  # the email leaves through the outbox after commit
@pytest.mark.usefixtures("eager_celery")
def test_the_receiver_is_emailed_in_their_language():
    order = paid_order(UserFactory(), seats=1)
    receiver = UserFactory(email="friend@example.com", language="zh-hans")
    transfers.transfer_offer(user=order.user, ticket_id=order.tickets.get().pk, to=receiver.email)
    mails = [m for m in mail.outbox if m.to == [receiver.email]]
    assert len(mails) == 1 and "送给你一张票" in mails[0].subject and "/tickets/transfers/" in mails[0].body


def test_a_mobile_number_finds_the_receiver_and_nobody_can_accept_someone_elses_offer():
    order = paid_order(UserFactory(), seats=1)
    receiver, stranger = UserFactory(mobile="+8613812345678"), UserFactory()
    offer = transfers.transfer_offer(user=order.user, ticket_id=order.tickets.get().pk, to="138 1234 5678")
    assert offer.to_user_id == receiver.pk
    for user in (stranger, order.user):
        with pytest.raises(transfers.NotFound):
            transfers.transfer_accept(user=user, transfer_id=offer.pk)
    with pytest.raises(transfers.NotFound):  # only the holder offers their ticket
        transfers.transfer_offer(user=stranger, ticket_id=order.tickets.get().pk, to=receiver.mobile)
    assert TicketTransfer.objects.get(pk=offer.pk).status == TransferStatus.PENDING


def test_offers_that_cannot_be_made_are_refused_and_change_nothing():
    order = paid_order(UserFactory(), seats=2)
    first, second = order.tickets.all()[:2]
    receiver = UserFactory()
    refusals = {}
    for name, to in [("unknown", "nobody@example.com"), ("self", order.user.email), ("junk", "not a contact")]:
        with pytest.raises(transfers.DomainError) as caught:
            transfers.transfer_offer(user=order.user, ticket_id=first.pk, to=to)
        refusals[name] = caught.value.code
    assert refusals == {"unknown": "no_such_account", "self": "transfer_to_self", "junk": "no_such_account"}
    transfers.transfer_offer(user=order.user, ticket_id=first.pk, to=receiver.email)
    with pytest.raises(transfers.Conflict) as caught:
        transfers.transfer_offer(user=order.user, ticket_id=first.pk, to=UserFactory().email)
    assert caught.value.code == "transfer_pending"
    order.event.transfers_allowed = False
    order.event.save(update_fields=["transfers_allowed"])
    with pytest.raises(transfers.TransferNotAllowed, match="cannot be transferred"):
        transfers.transfer_offer(user=order.user, ticket_id=second.pk, to=receiver.email)
    assert TicketTransfer.objects.count() == 1


def test_transfers_close_at_the_publishers_cut_off_and_an_offer_lapses_then():
    order = paid_order(UserFactory(), seats=2)
    receiver = UserFactory()
    start = timezone.now() + timedelta(hours=5)
    move_sessions(order, start=start)
    order.event.transfer_cutoff_hours = 4
    order.event.save(update_fields=["transfer_cutoff_hours"])
    first, second = order.tickets.all()[:2]
    offer = transfers.transfer_offer(user=order.user, ticket_id=first.pk, to=receiver.email)
    assert abs((offer.expires_at - (start - timedelta(hours=4))).total_seconds()) < 1

    move_sessions(order, start=timezone.now() + timedelta(hours=3))  # the cut-off has passed
    TicketTransfer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(transfers.TransferClosed):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)
    with pytest.raises(transfers.TransferNotAllowed, match="closed at"):
        transfers.transfer_offer(user=order.user, ticket_id=second.pk, to=receiver.email)
    assert Ticket.objects.get(pk=first.pk).user_id == order.user_id
    assert TicketTransfer.objects.get(pk=offer.pk).shown_status == TransferStatus.LAPSED


def test_a_used_or_refunding_ticket_does_not_move_and_a_declined_or_withdrawn_offer_leaves_it():
    order = _at_the_door(paid_order(UserFactory(), seats=3))
    receiver = UserFactory()
    used, refunding, kept = order.tickets.all()[:3]
    offer = transfers.transfer_offer(user=order.user, ticket_id=used.pk, to=receiver.email)
    assert _scan(order, used.code).admitted  # the giver went in with it meanwhile
    with pytest.raises(transfers.TransferNotAllowed, match="used"):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)

    offer = transfers.transfer_offer(user=order.user, ticket_id=kept.pk, to=receiver.email)
    transfers.transfer_decline(user=receiver, transfer_id=offer.pk)
    assert Notification.objects.filter(user=order.user, kind="transfer_declined").exists()
    offer = transfers.transfer_offer(user=order.user, ticket_id=kept.pk, to=receiver.email)
    transfers.transfer_cancel(user=order.user, transfer_id=offer.pk)
    with pytest.raises(transfers.TransferClosed):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)
    assert Ticket.objects.filter(user=receiver).count() == 0

    order2 = paid_order(UserFactory(), seats=1)
    offer = transfers.transfer_offer(user=order2.user, ticket_id=order2.tickets.get().pk, to=receiver.email)
    services.refund_request(user=order2.user, order_id=order2.pk, reason="行程冲突")
    with pytest.raises(transfers.TransferNotAllowed, match="refunded"):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)
    assert refunding.user_id == order.user_id


def test_a_buyer_cannot_refund_an_order_with_a_ticket_they_gave_away():
    order = paid_order(UserFactory(), seats=2)
    _give(order, UserFactory())
    assert not services.refund_quote(order=order).allowed
    with pytest.raises(services.RefundNotAllowed, match="given to another account"):
        services.refund_request(user=order.user, order_id=order.pk, reason="不去了")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_the_receivers_limit_per_buyer_counts_the_ticket_and_the_givers_no_longer_does():
    order = paid_order(UserFactory(), ga=2)
    session = Session.objects.get(pk=order.tickets.first().session_id)
    tt = order.tickets.first().ticket_type
    tt.per_user_limit = 2
    tt.save(update_fields=["per_user_limit"])
    receiver = UserFactory()
    hold_create(user=receiver, session=session, quantities={tt.pk: 2})  # the receiver is at the limit
    offer = transfers.transfer_offer(user=order.user, ticket_id=order.tickets.first().pk, to=receiver.email)
    with pytest.raises(OverLimit):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)

    other = UserFactory()
    _give(order, other, order.tickets.all()[1])
    with pytest.raises(OverLimit):  # one held by gift, so one more at most
        hold_create(user=other, session=session, quantities={tt.pk: 2})
    hold_create(user=other, session=session, quantities={tt.pk: 1})
    hold_create(user=order.user, session=session, quantities={tt.pk: 1})  # the giver has room for one again


def test_on_real_name_events_the_receiver_names_the_attendee_and_one_ticket_per_id_holds():
    order = pending_real_name_order(UserFactory(), seats=2, real_name=True)
    first_id, second_id, new_id = mainland_id(), mainland_id(), mainland_id()
    services.order_set_attendees(user=order.user, order=order, attendees=[
        (item.pk, 0, name, number) for item, name, number in zip(order_lines(order), ["张三", "王五"],
                                                                 [first_id, second_id])])
    services.order_pay(user=order.user, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    first = order.tickets.get(attendee_name="张三")
    receiver = UserFactory()
    offer = transfers.transfer_offer(user=order.user, ticket_id=first.pk, to=receiver.email)
    with pytest.raises(transfers.DomainError, match="name and an ID"):
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk)
    with pytest.raises(services.IdNumberTaken):  # 王五's ID holds the other ticket of that session
        transfers.transfer_accept(user=receiver, transfer_id=offer.pk,
                                  attendee=transfers.Attendee(name="王五", id_number=second_id))
    assert Ticket.objects.get(pk=first.pk).user_id == order.user_id

    ticket = transfers.transfer_accept(user=receiver, transfer_id=offer.pk,
                                       attendee=transfers.Attendee(name="李四", id_number=new_id))

    assert (ticket.attendee_name, ticket.id_claim) == ("李四", identity.parse(new_id).key)
    assert ticket.attendee_id_masked == identity.parse(new_id).masked
    assert services.checkin_scan(staff=order.event.publisher, event=order.event, code=ticket.code,
                                 nonce="n1").ticket.attendee_name == "李四"


def test_the_revocation_list_names_replaced_and_void_codes_for_the_events_door_only():
    order = paid_order(UserFactory(), seats=2)
    first = order.tickets.first()
    old_code, old_short = first.code, first.short_code
    _give(order, UserFactory())
    other = paid_order(UserFactory(), seats=1)
    services.refund_request(user=other.user, order_id=other.pk, reason="x")
    api = APIClient()
    api.force_authenticate(order.event.publisher)
    answer = api.get(f"/api/checkin/events/{order.event_id}/revocations")
    assert answer.status_code == 200
    assert answer.json()["public_key"] == codes.public_key_b64()
    assert answer.json()["revoked"] == [{"serial": codes.serial(old_code), "short_code": old_short,
                                         "reason": "transferred", "session": first.session_id}]
    api.force_authenticate(order.user)
    assert api.get(f"/api/checkin/events/{order.event_id}/revocations").status_code == 404


def test_the_api_offers_lists_and_accepts_and_the_giver_no_longer_sees_the_code():
    order = paid_order(UserFactory(), seats=2)
    receiver = UserFactory()
    giver, taker = APIClient(), APIClient()
    giver.force_authenticate(order.user)
    taker.force_authenticate(receiver)
    ticket = order.tickets.first()
    offered = giver.post(f"/api/etickets/{ticket.pk}/transfer", {"to": receiver.email}, format="json")
    assert offered.status_code == 201 and offered.json()["direction"] == "out"
    assert offered.json()["other"] != receiver.email  # masked
    listed = taker.get("/api/transfers").json()
    assert [(t["id"], t["direction"], t["status"]) for t in listed] == [(offered.json()["id"], "in", "pending")]
    assert taker.post(f"/api/transfers/{offered.json()['id']}/cancel").status_code == 404
    accepted = taker.post(f"/api/transfers/{offered.json()['id']}/accept", {}, format="json")
    assert accepted.status_code == 200 and accepted.json()["code"] == Ticket.objects.get(pk=ticket.pk).code
    detail = giver.get(f"/api/orders/{order.pk}").json()
    given = [t for t in detail["tickets"] if t["id"] == ticket.pk][0]
    assert (given["code"], given["given_away"]) == (None, True)
    assert [t["id"] for t in taker.get("/api/etickets").json()] == [ticket.pk]
    assert giver.get(f"/api/etickets/{ticket.pk}").status_code == 404
    again = taker.post(f"/api/transfers/{offered.json()['id']}/accept", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "transfer_closed")


def accept_or_scan(kind: str, transfer_id: int, receiver_id: int, event_id: int, code: str, staff_id: int) -> str:
    from accounts.models import User
    from events.models import Event

    connection.close()
    if kind == "accept":
        try:
            transfers.transfer_accept(user=User.objects.get(pk=receiver_id), transfer_id=transfer_id)
        except transfers.DomainError as exc:
            return exc.code
        return "accepted"
    outcome = services.checkin_scan(staff=User.objects.get(pk=staff_id), event=Event.objects.get(pk=event_id),
                                    code=code, nonce=uuid.uuid4().hex)
    return outcome.scan.result


@pytest.mark.django_db(transaction=True)
def test_a_transfer_racing_a_check_in_of_the_old_code_ends_one_way_only():
    for _round in range(3):
        order = _at_the_door(paid_order(UserFactory(), seats=1))
        ticket = order.tickets.get()
        receiver = UserFactory()
        offer = transfers.transfer_offer(user=order.user, ticket_id=ticket.pk, to=receiver.email)
        args = (offer.pk, receiver.pk, order.event_id, ticket.code, order.event.publisher_id)
        results = sorted(run_in_processes(accept_or_scan, [("accept", *args), ("scan", *args)]))
        ticket.refresh_from_db()
        if "accepted" in results:
            assert results == ["accepted", ScanResult.TRANSFERRED]
            assert (ticket.user_id, ticket.status) == (receiver.pk, TicketStatus.VALID)
        else:
            assert results == [ScanResult.OK, "transfer_not_allowed"]
            assert (ticket.user_id, ticket.status) == (order.user_id, TicketStatus.USED)


def test_pages_offer_accept_and_show_the_giver_a_given_ticket_without_its_code(client):
    order = paid_order(UserFactory(), seats=2)
    receiver = UserFactory()
    ticket = order.tickets.first()
    client.force_login(order.user)
    page = client.get(f"/tickets/mine/{ticket.pk}/")
    assert b'data-testid="transfer"' in page.content
    bad = client.post(f"/tickets/mine/{ticket.pk}/transfer/", {"to": ""})
    assert bad.status_code == 400
    client.post(f"/tickets/mine/{ticket.pk}/transfer/", {"to": receiver.email})
    assert b'data-testid="transfer-pending"' in client.get(f"/tickets/mine/{ticket.pk}/").content
    offer = TicketTransfer.objects.get()

    client.force_login(receiver)
    listed = client.get("/tickets/transfers/")
    assert b'data-testid="transfer-offer"' in listed.content
    done = client.post(f"/tickets/transfers/{offer.pk}/accept/")
    assert done.status_code == 302 and done["Location"] == f"/tickets/mine/{ticket.pk}/"
    assert client.get(f"/tickets/mine/{ticket.pk}/qr.png").status_code == 200
    assert client.get(f"/orders/{order.pk}/").status_code == 404

    client.force_login(order.user)
    detail = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="eticket-given"' in detail and f"/tickets/mine/{ticket.pk}/qr.png" not in detail
    assert client.get(f"/tickets/mine/{ticket.pk}/").status_code == 404
    assert client.get(f"/tickets/mine/{ticket.pk}/qr.png").status_code == 404


def test_a_cancelled_session_refunds_the_buyer_and_tells_the_receiver():
    order = paid_order(UserFactory(), seats=2)
    receiver = UserFactory()
    _give(order, receiver)
    session = Session.objects.get(pk=order.tickets.first().session_id)
    session_cancel(actor=order.event.publisher, session=session, reason="场馆维修")
    cancellation_refunds(session_ids=[session.pk])
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED
    assert not Ticket.objects.filter(user=receiver).exclude(status=TicketStatus.VOID).exists()
    assert Notification.objects.filter(user=receiver, kind="ticket_cancelled").exists()
