"""Webhooks to a real local receiver: signed deliveries, retries on 5xx and timeouts, one delivery per
happening however often the work runs, the SSRF guard, and the publisher's pages."""

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from events import services as event_services
from events.models import EventStatus
from orders import services, transfers
from orders.models import Refund
from tests.factories import UserFactory
from tests.orders.flows import doors_open, paid_order, pending_order
from tests.tickets.factories import ga_session
from ticketing import outbox
from ticketing.errors import DomainError
from ticketing.models import OutboxMessage
from webhooks import services as webhooks, signing, transport
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookKind

pytestmark = pytest.mark.django_db(transaction=True)


def _endpoint(publisher, receiver, kinds=(WebhookKind.ORDER_PAID,), event=None) -> WebhookEndpoint:
    return webhooks.endpoint_create(publisher=publisher, url=receiver.url, kinds=list(kinds), event=event)


def _session_of_new_event():
    session, types = ga_session(stock={"Standard": 5})
    return session, session.event.publisher


def _retry_due(delivery: WebhookDelivery) -> None:
    """Time passes until its next attempt; beat's outbox sweep runs."""
    OutboxMessage.objects.filter(pk=WebhookDelivery.objects.get(pk=delivery.pk).message_id).update(
        due_at=timezone.now() - timedelta(seconds=1))
    outbox.outbox_sweep()


def test_a_paid_order_reaches_the_endpoint_signed_and_the_signature_verifies(receiver):
    session, publisher = _session_of_new_event()
    endpoint = _endpoint(publisher, receiver)

    order = paid_order(UserFactory(), ga=2, session=session)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    headers = got["headers"]
    assert signing.signature_valid(endpoint.secret, got["body"], headers["X-Timestamp"], headers["X-Signature"],
                                   max_age=60)
    assert not signing.signature_valid("whsec_other", got["body"], headers["X-Timestamp"], headers["X-Signature"],
                                       max_age=60)
    body = json.loads(got["body"])
    assert body["type"] == "order.paid" and body["id"] == headers["X-Webhook-Id"] == f"order.paid:{order.pk}"
    assert body["event"] == {"id": session.event_id, "title": session.event.title}
    assert body["data"]["order"]["number"] == order.number and len(body["data"]["tickets"]) == 2
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 1, 200)


def test_a_failing_receiver_never_fails_the_payment_and_is_retried_until_it_answers(receiver):
    session, publisher = _session_of_new_event()
    _endpoint(publisher, receiver)
    receiver.answers = [500, ("sleep", 2)]  # a 500, then an answer after the 1-second deadline

    order = paid_order(UserFactory(), ga=1, session=session)

    assert order.status == "paid"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.error == "receiver broke"
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=25)  # the outbox's back-off

    _retry_due(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.PENDING, 2, None)
    assert "Timeout" in delivery.error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=55)

    _retry_due(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 3, 200)
    assert delivery.next_attempt_at is None
    assert len({r["headers"]["X-Webhook-Id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 3


def test_each_happening_is_delivered_once_however_often_the_work_runs_again(receiver):
    session, publisher = _session_of_new_event()
    _endpoint(publisher, receiver)
    order = paid_order(UserFactory(), ga=1, session=session)
    delivery = WebhookDelivery.objects.get()

    services.order_paid_notice(order=order.pk)  # the orders.paid outbox message delivered a second time
    webhooks.delivery_send(delivery=delivery.pk)  # and the send task retried after it had succeeded
    OutboxMessage.objects.filter(pk=delivery.message_id).update(state=OutboxMessage.State.PENDING,
                                                                due_at=timezone.now())
    outbox.outbox_sweep()

    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_gives_up_after_the_last_attempt_and_the_publisher_can_resend(receiver):
    session, publisher = _session_of_new_event()
    _endpoint(publisher, receiver)
    receiver.answers = [503]
    paid_order(UserFactory(), ga=1, session=session)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    receiver.answers = [503]

    _retry_due(delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED, outbox.MAX_ATTEMPTS, None)

    webhooks.delivery_resend(publisher=publisher, delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts_before) == (DeliveryStatus.DELIVERED, outbox.MAX_ATTEMPTS)
    assert receiver.requests[-1]["headers"]["X-Webhook-Id"] == delivery.key
    with pytest.raises(DomainError):
        webhooks.delivery_resend(publisher=UserFactory(role=Role.PUBLISHER), delivery=delivery)


def test_retry_now_sends_a_waiting_delivery_at_once(receiver):
    session, publisher = _session_of_new_event()
    _endpoint(publisher, receiver)
    receiver.answers = [500]
    paid_order(UserFactory(), ga=1, session=session)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING

    webhooks.delivery_resend(publisher=publisher, delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert OutboxMessage.objects.filter(handler=webhooks.SEND).count() == 1  # the same message, made due


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://localhost/x",
                                 "https://10.1.2.3/x", "https://169.254.169.254/latest/meta-data",
                                 "https://[::1]/x", "https://[::ffff:127.0.0.1]/x", "https://user:pw@example.com/",
                                 "ftp://example.com/x", "https://printer.local/x"])
def test_urls_inside_our_network_are_refused_when_registered(url):
    publisher = UserFactory(role=Role.PUBLISHER)
    with pytest.raises(DomainError):
        webhooks.endpoint_create(publisher=publisher, url=url, kinds=[WebhookKind.ORDER_PAID])
    assert not WebhookEndpoint.objects.exists()


def test_a_host_that_resolves_to_a_private_address_is_not_called(receiver, settings, monkeypatch):
    session, publisher = _session_of_new_event()
    endpoint = webhooks.endpoint_create(publisher=publisher, url="https://hooks.example.com/in",
                                        kinds=[WebhookKind.ORDER_PAID])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    asked = []
    monkeypatch.setattr(transport, "_resolve", lambda host, port: asked.append(host) or ["127.0.0.1"])

    paid_order(UserFactory(), ga=1, session=session)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert asked == ["hooks.example.com"]
    assert delivery.status == DeliveryStatus.FAILED and "private address" in delivery.error
    assert receiver.requests == []
    for ip in ["127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.169.254", "::1",
               "fe80::1", "fc00::1", "::ffff:10.0.0.1", "224.0.0.1", "0.0.0.0"]:
        assert not transport.address_allowed(ip), ip
    assert transport.address_allowed("8.8.8.8") and transport.address_allowed("2001:4860:4860::8888")


def test_every_kind_is_sent_when_it_happens(receiver):
    session, publisher = _session_of_new_event()
    _endpoint(publisher, receiver, kinds=SUBSCRIBED)
    buyer, friend = UserFactory(), UserFactory(email="friend@example.com")
    order = doors_open(paid_order(buyer, ga=2, session=session))
    order.event.transfer_cutoff_hours = 0
    order.event.save(update_fields=["transfer_cutoff_hours"])
    first, second = order.tickets.order_by("pk")
    offer = transfers.transfer_offer(user=buyer, ticket_id=second.pk, to=friend.email)
    transfers.transfer_accept(user=friend, transfer_id=offer.pk)
    services.checkin_scan(staff=publisher, event=order.event, code=first.code, nonce=uuid.uuid4().hex)
    paid_order(UserFactory(), ga=3, session=session)  # the last 3 of 5: sold out
    refunded = paid_order(UserFactory(), ga=1)  # another publisher's event: not sent here
    refund = services.refund_request(user=refunded.user, order_id=refunded.pk, reason="ill")
    services.refund_review(actor=UserFactory(role=Role.ADMIN), refund_id=refund.pk, approve=True)

    kinds = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert kinds == ["order.paid", "ticket.transferred", "ticket.checked_in", "order.paid", "session.sold_out"]
    sold_out = json.loads(receiver.requests[-1]["body"])
    assert sold_out["data"] == {"session": session.pk}


SUBSCRIBED = [WebhookKind.ORDER_PAID, WebhookKind.ORDER_REFUNDED, WebhookKind.TICKET_CHECKED_IN,
              WebhookKind.TICKET_TRANSFERRED, WebhookKind.SESSION_SOLD_OUT, WebhookKind.EVENT_APPROVED,
              WebhookKind.EVENT_REJECTED]


def test_refunds_and_reviews_are_sent_to_an_endpoint_of_that_event(receiver):
    order = paid_order(UserFactory(), ga=1)
    publisher = order.event.publisher
    _endpoint(publisher, receiver, kinds=[WebhookKind.ORDER_REFUNDED, WebhookKind.EVENT_REJECTED],
              event=order.event)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="ill")
    services.refund_review(actor=UserFactory(role=Role.ADMIN), refund_id=refund.pk, approve=True)
    draft = order.event.__class__.objects.filter(pk=order.event_id)
    draft.update(status=EventStatus.PENDING)
    event_services.event_review(actor=UserFactory(role=Role.ADMIN), event=draft.get(), approve=False,
                                reason="Poster missing")

    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert [b["type"] for b in bodies] == ["order.refunded", "event.rejected"]
    assert bodies[0]["data"]["refund"]["amount"] == str(Refund.objects.get().amount)
    assert all(t["status"] == "void" for t in bodies[0]["data"]["tickets"])
    assert bodies[1]["data"]["reason"] == "Poster missing"


def test_nothing_is_queued_when_no_endpoint_listens_and_a_new_endpoint_is_heard_at_once(receiver):
    session, publisher = _session_of_new_event()
    order = doors_open(paid_order(UserFactory(), ga=2, session=session))
    first, second = order.tickets.order_by("pk")
    services.checkin_scan(staff=publisher, event=order.event, code=first.code, nonce=uuid.uuid4().hex)
    assert not OutboxMessage.objects.filter(handler__startswith="webhooks.").exists()

    _endpoint(publisher, receiver, kinds=[WebhookKind.TICKET_CHECKED_IN])  # the cached "nobody" is forgotten
    services.checkin_scan(staff=publisher, event=order.event, code=second.code, nonce=uuid.uuid4().hex)

    assert [json.loads(r["body"])["data"]["ticket"]["id"] for r in receiver.requests] == [second.pk]


def test_a_switched_off_or_deleted_endpoint_gets_nothing(receiver):
    session, publisher = _session_of_new_event()
    endpoint = _endpoint(publisher, receiver)
    webhooks.endpoint_update(publisher=publisher, endpoint=endpoint, url=endpoint.url, kinds=endpoint.kinds,
                             event=None, description="", active=False)
    paid_order(UserFactory(), ga=1, session=session)
    webhooks.endpoint_delete(publisher=publisher, endpoint=endpoint)
    paid_order(UserFactory(), ga=1, session=session)
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_endpoint_rules_other_publishers_and_buyers():
    publisher, other = UserFactory(role=Role.PUBLISHER), UserFactory(role=Role.PUBLISHER)
    order = pending_order(UserFactory(), ga=1)
    with pytest.raises(DomainError):  # another publisher's event
        webhooks.endpoint_create(publisher=publisher, url="https://example.com/h", kinds=["order.paid"],
                                 event=order.event)
    with pytest.raises(DomainError):
        webhooks.endpoint_create(publisher=publisher, url="https://example.com/h", kinds=[])
    with pytest.raises(DomainError):
        webhooks.endpoint_create(publisher=publisher, url="https://example.com/h", kinds=["order.paid", "nope"])
    with pytest.raises(DomainError):
        webhooks.endpoint_create(publisher=UserFactory(), url="https://example.com/h", kinds=["order.paid"])
    endpoint = webhooks.endpoint_create(publisher=publisher, url="https://example.com/h", kinds=["order.paid"])
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    old = endpoint.secret
    assert webhooks.endpoint_rotate_secret(publisher=publisher, endpoint=endpoint).secret != old
    for call in (lambda: webhooks.endpoint_rotate_secret(publisher=other, endpoint=endpoint),
                 lambda: webhooks.endpoint_delete(publisher=other, endpoint=endpoint),
                 lambda: webhooks.endpoint_ping(publisher=other, endpoint=endpoint)):
        with pytest.raises(DomainError):
            call()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- pages ---------------------------------------------------------------------------
def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_publisher_adds_an_endpoint_sees_its_secret_sends_a_test_and_reads_the_log(receiver):
    publisher = UserFactory(role=Role.PUBLISHER)
    client = _client(publisher)

    refused = client.post("/publisher/webhooks/", {"url": "ftp://example.com/x", "kinds": ["order.paid"]})
    assert refused.status_code == 200 and not WebhookEndpoint.objects.exists()
    assert "https://" in refused.content.decode()

    response = client.post("/publisher/webhooks/", {"url": receiver.url, "kinds": ["order.paid", "session.sold_out"],
                                                    "description": "box office", "active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/publisher/webhooks/{endpoint.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert endpoint.secret in page and receiver.url in page

    client.post(f"/publisher/webhooks/{endpoint.pk}/ping/")
    assert json.loads(receiver.requests[0]["body"])["type"] == "ping"
    page = client.get(f"/publisher/webhooks/{endpoint.pk}/").content.decode()
    assert 'data-status="delivered"' in page
    delivery = WebhookDelivery.objects.get()
    assert delivery.key in client.get(f"/publisher/webhooks/deliveries/{delivery.pk}/").content.decode()


def test_pages_refuse_buyers_and_other_publishers(receiver):
    publisher = UserFactory(role=Role.PUBLISHER)
    endpoint = _endpoint(publisher, receiver)
    delivery = webhooks.endpoint_ping(publisher=publisher, endpoint=endpoint)
    other, buyer = _client(UserFactory(role=Role.PUBLISHER)), _client(UserFactory())
    own = [f"/publisher/webhooks/{endpoint.pk}/", f"/publisher/webhooks/deliveries/{delivery.pk}/"]
    posts = [f"/publisher/webhooks/{endpoint.pk}/rotate/", f"/publisher/webhooks/{endpoint.pk}/ping/",
             f"/publisher/webhooks/{endpoint.pk}/delete/", f"/publisher/webhooks/deliveries/{delivery.pk}/resend/"]
    for url in own:
        assert other.get(url).status_code == 404
        assert buyer.get(url).status_code == 403
    for url in posts:
        assert other.post(url).status_code == 404
        assert buyer.post(url).status_code == 403
    assert buyer.get("/publisher/webhooks/").status_code == 403
    assert endpoint.url not in other.get("/publisher/webhooks/").content.decode()
    assert WebhookDelivery.objects.count() == 1 and WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
