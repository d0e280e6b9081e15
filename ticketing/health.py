"""The state of every backing service, as one JSON report (/healthz)."""

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_redis import get_redis_connection

from ticketing import heartbeat, outbox
from ticketing.cache import CACHE_ERRORS, degraded_since, redis_down


def _check(fn) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        report = {"ok": True, **(fn() or {})}
    except Exception as exc:  # a health check reports failures, it never raises
        report = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    report["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return report


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict[str, Any]:
    try:
        get_redis_connection("default").ping()
    except CACHE_ERRORS as exc:
        redis_down(exc)  # this process now keeps its limits locally: the next check says so
        raise
    return {"embedded": settings.EMBEDDED_REDIS}


def _mongodb() -> dict[str, Any]:
    from mongoengine.connection import get_db

    from analytics import tracking

    get_db(settings.MONGODB_DB_ALIAS).client.admin.command("ping")
    return {"embedded": settings.EMBEDDED_MONGO, "behaviour_log": tracking.stats()}


def _celery() -> dict[str, Any]:
    now = time.time()
    stale = settings.CELERY_HEARTBEAT_STALE_AFTER
    workers = {}
    for key in cache.iter_keys(heartbeat.WORKER_KEY.format(hostname="*")):
        seen = cache.get(key)
        if seen is not None:
            workers[key.split(":", 2)[2]] = round(now - seen, 1)
    beat_seen = cache.get(heartbeat.BEAT_KEY)
    beat_age = None if beat_seen is None else round(now - beat_seen, 1)
    alive = [name for name, age in workers.items() if age <= stale]
    if not alive:
        raise RuntimeError("no worker heartbeat in the last %d s" % stale)
    if beat_age is None or beat_age > stale:
        # Without beat nothing sweeps expired holds, unpaid orders or the outbox.
        raise RuntimeError("beat not seen " + ("yet" if beat_age is None else f"for {beat_age:.0f} s"))
    return {"workers": workers, "beat_last_seen_s": beat_age, "beat_ok": True}


def _outbox() -> dict[str, Any]:
    report = outbox.backlog()
    if report["failed"]:
        raise RuntimeError(f"{report['failed']} outbox messages failed for good (see Django admin)")
    return report


def _rate_limits() -> dict[str, Any]:
    since = degraded_since()
    if since is not None:
        raise RuntimeError(f"Redis unavailable for {time.time() - since:.0f} s: limits are kept per process")
    return {"store": "redis"}


def health_report() -> dict[str, Any]:
    checks = {
        "database": _check(_database),
        "redis": _check(_redis),
        "mongodb": _check(_mongodb),
        "celery": _check(_celery),
        "outbox": _check(_outbox),
        "rate_limits": _check(_rate_limits),
    }
    return {"ok": all(c["ok"] for c in checks.values()), **checks}
