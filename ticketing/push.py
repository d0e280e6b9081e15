"""Channel-layer group messages from synchronous code, without waiting for Redis.

`push(group, message)` queues the message and returns. One background thread per
process sends the queue in order on an event loop of its own, so the channel
layer's Redis connections stay open between messages. (`async_to_sync` runs each
call on a new event loop, and channels_redis keeps one connection pool per loop:
every push used to open and close a Redis connection inside the request, and a
stalled Redis stalled the request with it — bench/flash_sale.py.)

A message that cannot be sent is logged and dropped: live pages resync from the
database when their socket reconnects, and held seats carry their own expiry.
While the layer's Redis is away, messages are dropped for a few seconds after each
failure instead of each waiting out a timeout.
"""

import asyncio
import logging
import threading
from collections.abc import Callable

from channels.layers import get_channel_layer
from django.db import close_old_connections

from redis.exceptions import RedisError

from ticketing.background import Backoff, SerialWorker

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000  # beyond this (Redis stalled for long), new messages are dropped
_thread = threading.local()
_layer = Backoff("channel layer (live-page pushes)")


def _send(item: tuple[str, dict | Callable[[], dict | None]]) -> None:
    group, message = item
    if _layer.is_down():  # a dead (or hung) Redis is not waited on again for every message
        _layer.skipped += 1
        return
    if callable(message):  # built here, off the request (it reads the database: this thread's own connection)
        close_old_connections()
        try:
            message = message()
        finally:
            close_old_connections()
        if message is None:  # nothing left to say
            return
    if not hasattr(_thread, "loop"):  # the sender thread's own loop, kept so connections stay open
        _thread.loop = asyncio.new_event_loop()
    try:
        _thread.loop.run_until_complete(get_channel_layer().group_send(group, message))
    except (OSError, RedisError) as exc:  # the layer's Redis is away: live pages resync when it is back
        _layer.failed(exc)
    except Exception:  # noqa: BLE001 - a lost push is logged; live pages resync
        log.warning("push to %s failed", group, exc_info=True)


_sender = SerialWorker("channel-push", _send, maxsize=MAX_QUEUED)


def push(group: str, message: dict | Callable[[], dict | None]) -> None:
    """Sends `message` to every consumer in `group`, soon and in order; never blocks, never raises.

    A callable is called on the sender thread to build the message when its turn comes (None: send nothing)."""
    if not _sender.put((group, message)) and _sender.dropped % 1000 == 1:
        log.error("channel layer stalled: %d live-page messages dropped so far", _sender.dropped)


def wait_sent() -> None:
    """Blocks until everything pushed so far was sent (or failed): for commands and tests that exit at once."""
    _sender.join()
