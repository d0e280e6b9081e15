"""Liveness of the Celery worker and beat, as /healthz reports it.

A worker writes its own heartbeat from a thread (so a worker that is busy on a
long task still counts as alive); beat proves itself by scheduling
`beat_heartbeat`, which a worker runs.
"""

import logging
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

WORKER_KEY = "heartbeat:worker:{hostname}"
BEAT_KEY = "heartbeat:beat"
INTERVAL = 10

_stop = threading.Event()


def record_worker(hostname: str) -> None:
    cache.set(WORKER_KEY.format(hostname=hostname), time.time(), timeout=settings.CELERY_HEARTBEAT_STALE_AFTER)


def record_beat() -> None:
    cache.set(BEAT_KEY, time.time(), timeout=None)


def _beat_loop(hostname: str) -> None:
    while not _stop.is_set():
        try:
            record_worker(hostname)
        except Exception:  # Redis away for a moment: say so, keep beating.
            log.warning("worker heartbeat could not be written", exc_info=True)
        _stop.wait(INTERVAL)


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", "worker")
    threading.Thread(target=_beat_loop, args=(hostname,), name="heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(sender=None, **kwargs) -> None:
    _stop.set()
    try:
        cache.delete(WORKER_KEY.format(hostname=getattr(sender, "hostname", "worker")))
    except Exception as exc:  # Redis may already be gone at shutdown; the key expires anyway.
        log.info("worker heartbeat not removed: %s", exc)
