"""Webhooks: a publisher's endpoints hear of what happens to their events, signed, retried, logged.

How a happening reaches an endpoint, never blocking or failing the action that caused it:
1. The action's transaction calls `emit_later(...)` (or an outbox handler that already runs after
   the commit calls `emit(...)`). `emit_later` writes one outbox row, and only when an active
   endpoint listens to that kind for that event (`listening`, cached per event).
2. `emit` makes one WebhookDelivery per listening endpoint, unique on (endpoint, key): the key
   names the happening (`order.paid:<order id>`), so however often the work that emits runs again,
   each endpoint gets one delivery. Each delivery is sent by its own outbox message.
3. `delivery_send` posts it (webhooks.transport: SSRF guard, deadline), signed as our payment
   callbacks are (webhooks.signing). A 2xx answer delivers it; anything else is retried with the
   outbox's growing back-off up to outbox.MAX_ATTEMPTS, each attempt logged on the delivery. A
   delivered one is never sent again by a retried task. The publisher may resend any delivery.
"""

import json
import logging
import secrets
import time

import urllib3
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from events.models import Event, EventStatus, EventTransition
from ticketing import outbox
from ticketing.errors import DomainError, Forbidden, NotFound
from ticketing.outbox import outbox_add, outbox_handler
from webhooks import signing, transport
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookKind

log = logging.getLogger(__name__)

EMIT = "webhooks.emit"
SEND = "webhooks.send"
LISTEN_TTL = 300  # seconds; every endpoint change deletes the entries it affects
MAX_ENDPOINTS = 20  # per publisher
USER_AGENT = "ticketing-webhooks/1"
SUBSCRIBABLE = [k for k in WebhookKind.values if k != WebhookKind.PING]


class WebhookFailed(Exception):
    """One attempt failed (network, deadline or a non-2xx answer): the outbox retries it later."""


# --- endpoints -------------------------------------------------------------------
def _check_endpoint(*, publisher: User, event: Event | None, url: str, kinds: list[str]) -> list[str]:
    if publisher.role != Role.PUBLISHER:
        raise Forbidden()
    if event is not None and event.publisher_id != publisher.pk:
        raise NotFound(_("No such event among yours."))
    problem = transport.url_problem(url)
    if problem:
        raise DomainError(problem, code="webhook_url")
    chosen = [k for k in SUBSCRIBABLE if k in set(kinds)]
    if not chosen or len(chosen) != len(set(kinds)):
        raise DomainError(_("Choose at least one kind of event to send."), code="webhook_kinds")
    return chosen


def endpoint_create(*, publisher: User, url: str, kinds: list[str], event: Event | None = None,
                    description: str = "") -> WebhookEndpoint:
    """A new active endpoint with a fresh signing secret. DomainError for a URL we won't call or no kinds."""
    chosen = _check_endpoint(publisher=publisher, event=event, url=url, kinds=kinds)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=publisher.pk).first()  # the limit below, one writer at a time
        if WebhookEndpoint.objects.filter(publisher=publisher).count() >= MAX_ENDPOINTS:
            raise DomainError(_("You have %(n)d endpoints already: delete one first."), code="webhook_limit",
                              n=MAX_ENDPOINTS)
        endpoint = WebhookEndpoint.objects.create(publisher=publisher, event=event, url=url, kinds=chosen,
                                                  description=description.strip()[:200],
                                                  secret=_new_secret())
        transaction.on_commit(lambda: _forget_listeners(publisher.pk))
    return endpoint


def endpoint_update(*, publisher: User, endpoint: WebhookEndpoint, url: str, kinds: list[str],
                    event: Event | None, description: str, active: bool) -> WebhookEndpoint:
    chosen = _check_endpoint(publisher=publisher, event=event, url=url, kinds=kinds)
    _own(publisher, endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url, kinds=chosen, event=event, active=active,
                                                          description=description.strip()[:200])
    _forget_listeners(publisher.pk)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_rotate_secret(*, publisher: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret at once: deliveries sent from now on (retries included) are signed with it."""
    _own(publisher, endpoint)
    endpoint.secret = _new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=endpoint.secret)
    return endpoint


def endpoint_delete(*, publisher: User, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its log go; deliveries still waiting are not sent."""
    _own(publisher, endpoint)
    endpoint.delete()
    _forget_listeners(publisher.pk)


def endpoint_ping(*, publisher: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A test delivery (kind `ping`) to this endpoint only, whatever kinds it listens to."""
    _own(publisher, endpoint)
    key = f"ping:{secrets.token_hex(8)}"
    envelope = _envelope(WebhookKind.PING, key, endpoint.event, {"endpoint": endpoint.pk, "message": "ping"})
    with transaction.atomic():
        return _deliver_to(endpoint, kind=WebhookKind.PING, key=key, envelope=envelope)


def _own(publisher: User, endpoint: WebhookEndpoint) -> None:
    if endpoint.publisher_id != publisher.pk:
        raise NotFound(_("No such webhook endpoint."))


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- who listens -----------------------------------------------------------------
def _listen_key(event_id: int) -> str:
    return f"webhooks:listen:{event_id}"


def listening(event_id: int) -> set[str]:
    """The kinds some active endpoint wants for this event (cached; a cache outage reads the database)."""
    kinds = cache.get(_listen_key(event_id))
    if kinds is None:
        kinds = sorted({kind for endpoint in _endpoints_for(event_id) for kind in endpoint.kinds})
        cache.set(_listen_key(event_id), kinds, LISTEN_TTL)
    return set(kinds)


def _endpoints_for(event_id: int):
    publisher = Event.objects.filter(pk=event_id).values("publisher_id")[:1]
    return WebhookEndpoint.objects.filter(Q(event_id=event_id) | Q(event__isnull=True), publisher_id=publisher,
                                          active=True)


def _forget_listeners(publisher_id: int) -> None:
    event_ids = Event.objects.filter(publisher_id=publisher_id).values_list("pk", flat=True)
    cache.delete_many([_listen_key(pk) for pk in event_ids])


# --- emitting --------------------------------------------------------------------
def emit_later(*, kind: str, event_id: int, key: str, data: dict) -> None:
    """Inside the action's transaction: the happening goes to the event's endpoints after the commit (and not
    at all if it rolls back). Costs nothing beyond a cache read when no endpoint listens."""
    if kind in listening(event_id):
        outbox_add(handler=EMIT, payload={"kind": kind, "event": event_id, "key": key, "data": data})


@outbox_handler(EMIT)
def emit(*, kind: str, event: int, key: str, data: dict) -> list[WebhookDelivery]:
    """One delivery per active endpoint listening to `kind` for `event`, made once per key: running this
    again (a retried task) makes none. Returns the deliveries made now."""
    event_row = Event.objects.filter(pk=event).first()
    if event_row is None:
        return []
    made = []
    envelope = _envelope(kind, key, event_row, data)
    with transaction.atomic():
        for endpoint in _endpoints_for(event):
            if kind in endpoint.kinds and not WebhookDelivery.objects.filter(endpoint=endpoint, key=key).exists():
                made.append(_deliver_to(endpoint, kind=kind, key=key, envelope=envelope))
    return made


def _envelope(kind: str, key: str, event: Event | None, data: dict) -> dict:
    return {"id": key, "type": kind, "created_at": timezone.now().isoformat(),
            "event": {"id": event.pk, "title": event.title} if event else None, "data": data}


def _deliver_to(endpoint: WebhookEndpoint, *, kind: str, key: str, envelope: dict) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, kind=kind, key=key, payload=envelope)
    _queue(delivery)
    return delivery


def _queue(delivery: WebhookDelivery) -> None:
    message = outbox_add(handler=SEND, payload={"delivery": delivery.pk})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(message_id=message.pk)


# --- sending ---------------------------------------------------------------------
def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(delivery: WebhookDelivery, secret: str, body: bytes, *, now: int | None = None) -> dict:
    timestamp = int(now or time.time())
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "X-Webhook-Id": delivery.key, "X-Webhook-Event": delivery.kind,
            "X-Timestamp": str(timestamp), "X-Signature": signing.signature(secret, timestamp, body)}


@outbox_handler(SEND)
def delivery_send(*, delivery: int) -> None:
    """One attempt at one delivery, if it still waits to be sent. Raises WebhookFailed to be retried by the
    outbox; after the last attempt (or for an address the SSRF guard refuses) it is marked failed."""
    row = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery).first()
    if row is None or row.status != DeliveryStatus.PENDING:
        return  # delivered already (this task ran again), failed for good, or its endpoint was deleted
    if not row.endpoint.active:
        _record(row, failed=True, error=str(_("The endpoint is switched off.")))
        return
    body = body_of(row)
    try:
        answer = transport.post(row.endpoint.url, body, signed_headers(row, row.endpoint.secret, body))
    except transport.Refused as exc:
        _record(row, failed=True, error=str(exc))
        return
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        if _record(row, error=_short(exc)):
            raise WebhookFailed(f"{row.endpoint.url}: {_short(exc)}") from exc
        return
    if 200 <= answer.status < 300:
        WebhookDelivery.objects.filter(pk=row.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.DELIVERED, attempts=row.attempts + 1, response_code=answer.status, error="",
            last_attempt_at=timezone.now(), delivered_at=timezone.now(), next_attempt_at=None)
        return
    if _record(row, code=answer.status, error=answer.body):
        raise WebhookFailed(f"{row.endpoint.url} answered {answer.status}")


def _record(row: WebhookDelivery, *, failed: bool = False, code: int | None = None, error: str = "") -> bool:
    """Logs a failed attempt. True when another attempt will follow (and when)."""
    attempts = row.attempts + 1
    retry = not failed and attempts - row.attempts_before < outbox.MAX_ATTEMPTS
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=row.pk, status=DeliveryStatus.PENDING).update(
        attempts=attempts, response_code=code, error=error[:500], last_attempt_at=now,
        status=DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
        next_attempt_at=now + outbox.retry_delay(attempts - row.attempts_before) if retry else None)
    log.info("webhook %s to %s failed (attempt %d%s): %s", row.key, row.endpoint.url, attempts,
             "" if retry else ", giving up", error[:200])
    return retry


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def delivery_resend(*, publisher: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends a delivery again, signed afresh, with the same X-Webhook-Id (so a receiver that saw it can tell):
    a failed or delivered one gets a new round of attempts; one still waiting for its retry is tried now."""
    _own(publisher, delivery.endpoint)
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if row.status == DeliveryStatus.PENDING and row.message_id and outbox.outbox_retry_now(row.message_id):
            return row
        WebhookDelivery.objects.filter(pk=row.pk).update(status=DeliveryStatus.PENDING, attempts_before=row.attempts,
                                                         next_attempt_at=None, delivered_at=None)
        _queue(row)
    row.refresh_from_db()
    return row


# --- what the platform's apps tell us --------------------------------------------
def _on_transition(sender, instance: EventTransition, created: bool, **kwargs) -> None:
    kind = {EventStatus.APPROVED: WebhookKind.EVENT_APPROVED,
            EventStatus.REJECTED: WebhookKind.EVENT_REJECTED}.get(instance.to_status)
    if created and kind:
        emit_later(kind=kind, event_id=instance.event_id, key=f"{kind}:{instance.pk}",
                   data={"status": instance.to_status, "reason": instance.reason,
                         "at": instance.created_at.isoformat()})


def connect() -> None:
    """webhooks.apps: an event's review (events.services records each transition) is sent on."""
    post_save.connect(_on_transition, sender=EventTransition, dispatch_uid="webhooks-event-review")

