"""A task goes through the real broker to a real worker process and back."""

import time

import pytest
from django.test import Client

from ticketing.tasks import beat_heartbeat, ping


@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_a_worker_process(celery_worker_process):
    assert ping.delay().get(timeout=30) == "pong"


@pytest.mark.django_db(transaction=True)
def test_healthz_sees_the_worker_and_beat_heartbeats(celery_worker_process):
    beat_heartbeat.delay()  # what beat schedules every 15 s
    deadline = time.monotonic() + 30
    while True:
        report = Client().get("/healthz").json()
        if report["celery"]["ok"] and report["celery"]["beat_ok"]:
            break
        assert time.monotonic() < deadline, report
        time.sleep(0.5)
    assert report["ok"] is True
    assert any(name.startswith("test-") for name in report["celery"]["workers"])
