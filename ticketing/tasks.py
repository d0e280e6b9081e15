from celery import shared_task

from ticketing import heartbeat


@shared_task
def ping() -> str:
    """Round-trip probe for the smoke test and operators."""
    return "pong"


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    heartbeat.record_beat()
