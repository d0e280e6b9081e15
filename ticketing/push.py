"""Channel-layer group messages from synchronous code, without waiting for Redis.

`push(group, message)` queues the message and returns. One background thread per
process sends the queue in order on an event loop of its own, so the channel
layer's Redis connections stay open between messages. (`async_to_sync` runs each
call on a new event loop, and channels_redis keeps one connection pool per loop:
every push used to open and close a Redis connection inside the request, and a
stalled Redis stalled the request with it — bench/flash_sale.py.)

A message that cannot be sent is logged and dropped: live pages resync from the
database when their socket reconnects, and held seats carry their own expiry.
"""

import asyncio
import logging
import os
import queue
import threading

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000  # beyond this (Redis stalled for long), new messages are dropped


class _Sender:
    def __init__(self):
        self.pid = os.getpid()
        self.queue: queue.Queue = queue.Queue(maxsize=MAX_QUEUED)
        self.dropped = 0
        threading.Thread(target=self._run, name="channel-push", daemon=True).start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            group, message = self.queue.get()
            try:
                loop.run_until_complete(get_channel_layer().group_send(group, message))
            except Exception:  # noqa: BLE001 - a lost push must never stop the ones after it
                log.warning("push to %s failed", group, exc_info=True)
            finally:
                self.queue.task_done()


_sender: _Sender | None = None
_lock = threading.Lock()


def _current() -> _Sender:
    global _sender
    with _lock:
        if _sender is None or _sender.pid != os.getpid():  # first use, or a forked child: threads don't fork
            _sender = _Sender()
        return _sender


def push(group: str, message: dict) -> None:
    """Sends `message` to every consumer in `group`, soon and in order; never blocks, never raises."""
    sender = _current()
    try:
        sender.queue.put_nowait((group, message))
    except queue.Full:
        sender.dropped += 1
        if sender.dropped % 1000 == 1:
            log.error("channel layer stalled: %d live-page messages dropped so far", sender.dropped)


def wait_sent() -> None:
    """Blocks until everything pushed so far was sent (or failed): for commands and tests that exit at once."""
    _current().queue.join()
