"""Each signed-in user's newest interactions, kept in Redis beside the behaviour log.

Recommendations need a user's last lines on every (uncached) call. Asking MongoDB for
them costs ~55 ms on the embedded nx-27017 (it scans the whole log for one user), so the
list is kept in Redis: the first call for a user fills it from MongoDB, and from then on
the behaviour-log writer appends each new line (`LPUSHX`: only to lists that exist, so a
list is always the whole newest history, never just the lines since a restart). A list
always ends with a marker, so a user with no lines is known too. Without Redis, callers
read MongoDB as before.
"""

import json
from datetime import UTC, datetime

from django.core.cache import cache
from django_redis import get_redis_connection

from analytics.documents import Action
from ticketing.cache import CACHE_ERRORS, redis_down, redis_is_down

KEEP = 50
SECONDS = 30 * 24 * 3600
_END = "-"  # the marker at the end of every list


def _key(user_id: int) -> str:
    """In the cache's own key space (its prefix and version), so whatever clears the cache clears these too."""
    return cache.make_key(f"recs:recent:{user_id}")


def _client():
    return None if redis_is_down() else get_redis_connection("default")


def _row(line: dict) -> str:
    stamp = line["timestamp"]
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return json.dumps([int(line["event_id"]), line["action"], stamp.timestamp()])


def remember(lines: list[dict]) -> None:
    """Append these behaviour lines to their users' lists (those that exist). The writer thread calls it."""
    rows = [line for line in lines
            if line.get("user_id") is not None and line.get("event_id") is not None and line["action"] in Action.WEIGHT]
    if not rows:
        return
    try:
        client = _client()
        if client is None:
            return
        pipe = client.pipeline(transaction=False)
        for line in rows:
            pipe.lpushx(_key(line["user_id"]), _row(line))
        for user_id in {line["user_id"] for line in rows}:
            pipe.ltrim(_key(user_id), 0, KEEP)  # the marker may go once KEEP lines came after it
            pipe.expire(_key(user_id), SECONDS)
        pipe.execute()
    except CACHE_ERRORS as exc:
        redis_down(exc)


def read(user_id: int) -> list[dict] | None:
    """The user's newest lines ({event_id, action, timestamp}), newest first; None if not known here."""
    try:
        client = _client()
        if client is None:
            return None
        raw = client.lrange(_key(user_id), 0, KEEP)
    except CACHE_ERRORS as exc:
        redis_down(exc)
        return None
    if not raw:
        return None
    lines = []
    for item in raw:
        if item in (_END, _END.encode()):
            continue
        event_id, action, stamp = json.loads(item)
        lines.append({"event_id": event_id, "action": action, "timestamp": datetime.fromtimestamp(stamp, UTC)})
    return lines[:KEEP]


def fill(user_id: int, lines: list[dict]) -> None:
    """Start the user's list from what MongoDB answered (newest first)."""
    try:
        client = _client()
        if client is None:
            return
        key = _key(user_id)
        pipe = client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.rpush(key, *[_row(line) for line in lines[:KEEP]], _END)
        pipe.expire(key, SECONDS)
        pipe.execute()
    except CACHE_ERRORS as exc:
        redis_down(exc)
