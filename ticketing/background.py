"""One daemon thread per process that works through a queue in order, off the request's thread.

Used where a request must hand something to Redis or the broker without waiting
for it (ticketing.push: live-page messages; ticketing.outbox: committed message
ids). `put()` never blocks and never raises; a forked child (gunicorn, Celery)
gets a thread of its own on first use, since threads don't survive a fork.
"""

import logging
import os
import threading
from queue import Full, Queue
from collections.abc import Callable

log = logging.getLogger(__name__)


class SerialWorker:
    def __init__(self, name: str, handle: Callable[[object], None], *, maxsize: int = 10_000):
        self.name, self.handle, self.maxsize = name, handle, maxsize
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
            try:
                self.handle(item)
            except Exception:  # noqa: BLE001 - one failure must never stop the items after it
                log.warning("%s: could not handle %r", self.name, item, exc_info=True)
            finally:
                items.task_done()
