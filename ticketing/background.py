"""One daemon thread per process that works through a queue in order, off the request's thread.

Used where a request must hand something to Redis or the broker without waiting
for it (ticketing.push: live-page messages; ticketing.outbox: committed message
ids). `put()` never blocks and never raises; a forked child (gunicorn, Celery)
gets a thread of its own on first use, since threads don't survive a fork.
"""

import logging
import os
import threading
from queue import Empty, Full, Queue
from collections.abc import Callable
from time import monotonic

log = logging.getLogger(__name__)


class SerialWorker:
    """`batch` > 1: `handle` gets a list, the next item and up to batch - 1 more that are already
    queued (it never waits for more to come)."""

    def __init__(self, name: str, handle: Callable[[object], None], *, maxsize: int = 10_000, batch: int = 1):
        self.name, self.handle, self.maxsize, self.batch = name, handle, maxsize, batch
        self.dropped = 0
        self._pid: int | None = None
        self._queue: Queue | None = None
        self._lock = threading.Lock()

    @property
    def queue(self) -> Queue:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child
                self._pid, self._queue = os.getpid(), Queue(maxsize=self.maxsize)
                threading.Thread(target=self._run, args=(self._queue,), name=self.name, daemon=True).start()
            return self._queue

    def put(self, item) -> bool:
        """Queues `item`; False (and counted in `dropped`) when the queue is full."""
        try:
            self.queue.put_nowait(item)
        except Full:
            self.dropped += 1
            return False
        return True

    def join(self) -> None:
        """Blocks until everything queued so far was handled (or failed)."""
        self.queue.join()

    def _run(self, items: Queue) -> None:
        while True:
            item = items.get()
            taken = 1
            if self.batch > 1:
                item = [item]
                while taken < self.batch:
                    try:
                        item.append(items.get_nowait())
                    except Empty:
                        break
                    taken += 1
            try:
                self.handle(item)
            except Exception:  # noqa: BLE001 - one failure must never stop the items after it
                log.warning("%s: could not handle %r", self.name, item, exc_info=True)
            finally:
                for _ in range(taken):
                    items.task_done()


class Backoff:
    """Leave a failing service alone for `seconds` after each failure; say so at most once a minute."""

    def __init__(self, what: str, *, seconds: float = 5.0, log_every: float = 60.0):
        self.what, self.seconds, self.log_every = what, seconds, log_every
        self.until = self.logged_at = 0.0
        self.skipped = 0

    def is_down(self) -> bool:
        return monotonic() < self.until

    def failed(self, exc: BaseException) -> None:
        now = monotonic()
        self.until = now + self.seconds
        if now - self.logged_at >= self.log_every:
            self.logged_at = now
            log.warning("%s unavailable (%s); not retried for %.0f s (%d skipped so far)",
                        self.what, exc, self.seconds, self.skipped)
