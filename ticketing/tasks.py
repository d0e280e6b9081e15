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
    """Delivers one outbox message (what processes of an earlier release hand over)."""
    outbox.outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True, name="ticketing.tasks.outbox_deliver_many")
def outbox_deliver_many_task(message_ids: list[int]) -> None:
    """Delivers outbox messages handed over after their commits (ticketing.outbox), one after another: each
    is claimed on its own, so one that fails or was delivered by the sweep meanwhile leaves the others be."""
    for message_id in message_ids:
        outbox.outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_sweep() -> int:
    """Beat: delivers outbox messages the broker never took or whose handler failed."""
    return outbox.outbox_sweep()
