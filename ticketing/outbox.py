"""A transactional outbox: work that follows a commit (emails, texts, …) and must
neither fail nor stall the request that committed, nor be lost.

`outbox_add(handler=..., payload=...)` writes a row in the caller's transaction.
Once that commits, one background thread per process hands the row's id to
Celery (`ticketing.tasks.outbox_deliver_many`, with the ids committed meanwhile in
the same task), so a broker that refuses or hangs
costs the request nothing. Whatever is not delivered by then — the broker was
down, the process died, the handler failed — beat's `outbox_sweep` delivers
later, with a growing back-off, up to MAX_ATTEMPTS.

Delivery is at least once and one at a time per row: a worker claims a row with
a conditional UPDATE (pending, due, not claimed by a live delivery) before it
runs the handler, so two workers never send one message twice at once; a
worker killed mid-delivery lets its claim lapse after CLAIM_SECONDS.

Handlers are plain functions registered by name with `@outbox_handler("name")`
in the module that owns the work; they take the payload as keyword arguments.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ticketing.background import Backoff, SerialWorker
from ticketing.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
CLAIM_SECONDS = 120
SWEEP_BATCH = 200
KEEP_DELIVERED = timedelta(days=7)

_handlers: dict[str, Callable[..., None]] = {}


def outbox_handler(name: str):
    """Registers a function as the handler of outbox messages called `name`."""
    def register(fn):
        _handlers[name] = fn
        return fn
    return register


def outbox_add(*, handler: str, payload: dict) -> OutboxMessage:
    """Queues `handler(**payload)` to run once the current transaction commits
    (at once in autocommit). Nothing here talks to the broker: it never raises
    for a broker outage and never waits for one. The payload must be JSON."""
    if handler not in _handlers:
        raise LookupError(f"no outbox handler {handler!r}")
    message = OutboxMessage.objects.create(handler=handler, payload=payload)
    transaction.on_commit(lambda: _dispatch(message.pk))
    return message


def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its `attempts`-th failed delivery."""
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def outbox_retry_now(message_id: int) -> bool:
    """Makes a pending message due at once (a person asked to retry it) and hands it over after the commit.
    False if it is no longer pending."""
    if not OutboxMessage.objects.filter(pk=message_id, state=OutboxMessage.State.PENDING).update(
            due_at=timezone.now()):
        return False
    transaction.on_commit(lambda: _dispatch(message_id))
    return True


def outbox_deliver(*, message_id: int) -> bool:
    """Runs one message's handler if it is pending, due and not being delivered
    elsewhere. True when it was delivered now. A failure is recorded with the
    next attempt's time (or, after MAX_ATTEMPTS, the message is marked failed)."""
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=message_id, state=OutboxMessage.State.PENDING, due_at__lte=now,
    ).update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    attempts = message.attempts + 1
    try:
        _handlers[message.handler](**message.payload)
    except Exception as exc:  # noqa: BLE001 - any failure is retried later, never raised into the caller
        failed = attempts >= MAX_ATTEMPTS
        log.warning("outbox %s #%d failed (attempt %d%s): %s", message.handler, message_id, attempts,
                    ", giving up" if failed else "", exc, exc_info=not isinstance(exc, OSError))
        OutboxMessage.objects.filter(pk=message_id).update(
            attempts=attempts, claimed_until=None, last_error=f"{type(exc).__name__}: {exc}"[:2000],
            state=OutboxMessage.State.FAILED if failed else OutboxMessage.State.PENDING,
            due_at=timezone.now() + retry_delay(attempts),
        )
        return False
    OutboxMessage.objects.filter(pk=message_id).update(
        attempts=attempts, claimed_until=None, state=OutboxMessage.State.DELIVERED, delivered_at=timezone.now(),
    )
    return True


def outbox_sweep(*, limit: int = SWEEP_BATCH) -> int:
    """Delivers the messages that are due (oldest first) and forgets delivered
    ones after KEEP_DELIVERED. Returns how many were delivered."""
    now = timezone.now()
    due = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING, due_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).order_by("due_at").values_list("pk", flat=True)
    delivered = sum(outbox_deliver(message_id=pk) for pk in list(due[:limit]))
    OutboxMessage.objects.filter(state=OutboxMessage.State.DELIVERED, delivered_at__lt=now - KEEP_DELIVERED).delete()
    return delivered


def backlog() -> dict[str, int | float | None]:
    """What /healthz shows: messages waiting, failed for good, and the age of the oldest waiting one."""
    pending = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    return {
        "pending": pending.count(),
        "failed": OutboxMessage.objects.filter(state=OutboxMessage.State.FAILED).count(),
        "oldest_pending_s": None if oldest is None else round((timezone.now() - oldest).total_seconds(), 1),
    }


# --- hand-off to Celery, off the request's thread ------------------------------
def _hand_to_broker(message_ids: list[int]) -> None:
    """One task for the ids committed since the last hand-off (a publish cost a web worker about 0.8 ms of CPU
    per message in a py-spy profile of bench/checkout.py, when each went on its own)."""
    from ticketing.tasks import outbox_deliver_many_task

    if _broker.is_down():  # the rows wait for the sweep
        _broker.skipped += len(message_ids)
        return
    try:
        outbox_deliver_many_task.apply_async((message_ids,), retry=False)
    except Exception as exc:  # noqa: BLE001 - the sweep delivers what the broker did not take
        _broker.failed(exc)


_broker = Backoff("Celery broker (outbox messages wait for beat's sweep)")

HAND_OFF_BATCH = 50
# Full (the broker stalled long): the sweep has the rest.
_dispatcher = SerialWorker("outbox-dispatch", _hand_to_broker, batch=HAND_OFF_BATCH)


def _dispatch(message_id: int) -> None:
    if settings.OUTBOX_DISPATCH == "inline":  # tests and one-off commands: deliver in this thread
        outbox_deliver(message_id=message_id)
    else:
        _dispatcher.put(message_id)


def wait_dispatched() -> None:
    """Blocks until every id handed over so far reached the broker (or failed to)."""
    _dispatcher.join()
