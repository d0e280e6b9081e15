"""The behaviour log: `track()` records what a visitor did, off the request's path.

`track()` only builds a dict and queues it (never blocks, never raises). One writer
thread per process drains the queue in batches into MongoDB (`insert_many`). While
MongoDB is away the lines wait in a bounded buffer and are retried after a back-off,
so an outage loses at most the lines beyond that buffer (or those of a process that
exits meanwhile) and never a page, a hold or a payment; logging resumes by itself.

Who did it: `user_id` is the signed-in user's id (only `user.pk` is read, so the hot
path's token users cost no query), `anon_id` the first-party cookie that
`analytics.middleware.AnonIdMiddleware` keeps (also found by services through a
context variable). Users who turned personalisation off are logged anonymously: the
writer drops their ids with one query per batch, before anything reaches MongoDB.
"""

import contextvars
import logging
import os
import threading
import time
from collections import deque
from queue import Empty, Full, Queue
from typing import Any

from django.db import close_old_connections, transaction
from django.utils import timezone

from analytics.documents import Action, BehaviourLog
from ticketing.background import Backoff

log = logging.getLogger(__name__)

MAX_QUEUED = 20_000   # lines waiting for the writer thread
MAX_PENDING = 50_000  # lines kept while MongoDB is away; beyond this the oldest are lost
BATCH = 500

current_anon_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("analytics_anon_id", default=None)


def track(action: str, *, request=None, user=None, anon_id: str | None = None, event_id: int | None = None,
          session_id: int | None = None, details: dict[str, Any] | None = None, at=None) -> None:
    """Record one behaviour line. Safe anywhere: returns at once, whatever MongoDB is doing."""
    try:
        if user is None and request is not None:
            user = getattr(request, "user", None)
        if anon_id is None:
            anon_id = getattr(request, "anon_id", None) if request is not None else None
            anon_id = anon_id or current_anon_id.get()
        anon_id = anon_id or None  # "": the line is about someone else than this request's visitor
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        _writer.put({
            "user_id": user_id, "anon_id": anon_id, "action": action,
            "event_id": int(event_id) if event_id is not None else None,
            "session_id": int(session_id) if session_id is not None else None,
            "timestamp": at or timezone.now(), "details": details or {},
        })
    except Exception:  # noqa: BLE001 - the behaviour log never breaks what it records
        log.warning("behaviour log: could not record %s", action, exc_info=True)


def track_on_commit(action: str, **fields) -> None:
    """`track()` once the surrounding transaction commits (nothing is logged that was rolled back)."""
    anon_id = fields.pop("anon_id", None)
    if anon_id is None:
        anon_id = current_anon_id.get()
    transaction.on_commit(lambda: track(action, anon_id=anon_id, **fields))


def flush(timeout: float = 10.0) -> bool:
    """Wait until every line queued so far is in MongoDB; False if it could not be written in time."""
    return _writer.flush(timeout)


def stats() -> dict[str, int]:
    """Counters of this process's writer (health report, tests)."""
    return {"queued": _writer.queued(), "pending": len(_writer.pending), "written": _writer.written,
            "lost": _writer.lost, "anonymised": _writer.anonymised}


def _opted_out(user_ids: set[int]) -> set[int]:
    from accounts.models import User

    return set(User.objects.filter(pk__in=user_ids, personalised=False).values_list("pk", flat=True))


class _Writer:
    def __init__(self) -> None:
        self.pending: deque[dict] = deque()
        self.written = self.lost = self.anonymised = 0
        self.mongo = Backoff("MongoDB (behaviour log)", seconds=3.0)
        self._pid: int | None = None
        self._queue: Queue | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()

    def _ensure(self) -> Queue:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child (gunicorn, Celery)
                self._pid, self._queue = os.getpid(), Queue(maxsize=MAX_QUEUED)
                self.pending = deque()
                self._idle = threading.Event()
                self._idle.set()
                threading.Thread(target=self._run, args=(self._queue,), name="behaviour-log", daemon=True).start()
            return self._queue

    def put(self, line: dict) -> None:
        queue = self._ensure()
        try:
            self._idle.clear()
            queue.put_nowait(line)
        except Full:
            self.lost += 1

    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None and self._pid == os.getpid() else 0

    def flush(self, timeout: float) -> bool:
        self._ensure()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle.wait(0.05) and not self.queued() and not self.pending:
                return True
        return False

    def _run(self, queue: Queue) -> None:
        while True:
            try:
                self._step(queue)
            except Exception:  # noqa: BLE001 - the writer thread must outlive anything one batch meets
                log.warning("behaviour log: writer step failed; going on", exc_info=True)
                time.sleep(0.5)

    def _step(self, queue: Queue) -> None:
        """Take what is queued (waiting for the first line), then write what is pending."""
        try:
            first = queue.get(timeout=0.5 if self.pending else None)
            lines = [first]
        except Empty:
            lines = []
        while len(lines) < BATCH * 4:
            try:
                lines.append(queue.get_nowait())
            except Empty:
                break
        if lines:
            self._anonymise(lines)
            self._remember(lines)
            self.pending.extend(lines)
            while len(self.pending) > MAX_PENDING:
                self.pending.popleft()
                self.lost += 1
        if self.pending and not self.mongo.is_down():
            self._write()
        if not self.pending and queue.empty():
            self._idle.set()
        elif self.pending and self.mongo.is_down():
            time.sleep(0.2)

    def _remember(self, lines: list[dict]) -> None:
        """Signed-in users' newest interactions for the recommendations, in Redis (analytics.recent)."""
        from analytics import recent

        try:
            recent.remember(lines)
        except Exception:  # noqa: BLE001 - a cache of the log must never hold the log up
            log.warning("behaviour log: could not keep the newest lines in Redis", exc_info=True)

    def _anonymise(self, lines: list[dict]) -> None:
        ids = {line["user_id"] for line in lines if line["user_id"] is not None}
        if not ids:
            return
        try:
            close_old_connections()
            hidden = _opted_out(ids)
        except Exception:  # noqa: BLE001 - without the database nobody's id is written
            log.warning("behaviour log: could not read who opted out; logging this batch anonymously", exc_info=True)
            hidden = ids
        finally:
            try:
                close_old_connections()
            except Exception:  # noqa: BLE001 - a connection that cannot even close is dropped with the thread's turn
                pass
        for line in lines:
            if line["user_id"] in hidden:
                line["user_id"] = None
                self.anonymised += 1

    def _write(self) -> None:
        collection = BehaviourLog._get_collection()
        while self.pending:
            batch = [self.pending[i] for i in range(min(BATCH, len(self.pending)))]
            try:
                collection.insert_many([dict(line) for line in batch], ordered=False)
            except Exception as exc:  # noqa: BLE001 - MongoDB away: keep the lines, try again later
                self.mongo.failed(exc)
                return
            for _ in batch:
                self.pending.popleft()
            self.written += len(batch)


_writer = _Writer()

__all__ = ["Action", "track", "track_on_commit", "flush", "stats", "current_anon_id"]
