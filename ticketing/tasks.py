from celery import shared_task

from ticketing import heartbeat, outbox


@shared_task
def ping() -> str:
    """Round-trip probe for the smoke test and operators."""
    return "pong"


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    heartbeat.record_beat()


@shared_task(ignore_result=True, name="ticketing.tasks.outbox_deliver")
def outbox_deliver_task(message_id: int) -> None:
    """Delivers one outbox message handed over after its commit (ticketing.outbox)."""
    outbox.outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_sweep() -> int:
    """Beat: delivers outbox messages the broker never took or whose handler failed."""
    return outbox.outbox_sweep()
