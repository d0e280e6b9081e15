"""Shared fixtures: fast hashing, a clean cache, a live ASGI server (HTTP +
websockets), a real Celery worker, and Playwright on Debian's Chromium."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers.processes import database_url_for_children

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    # Playwright's sync API keeps an asyncio loop running in the main thread
    # from the first browser test on, which breaks async_to_sync in ordinary
    # tests after it: run the browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # bcrypt costs ~0.25 s a hash; tests that check bcrypt itself override this.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _mail_through_the_outbox(settings):
    """Django's test set-up points every mailer at locmem; put the outbox back in
    front of it, as the site runs (ticketing.mail): only the last hop is swapped."""
    import django

    locmem = "django.core.mail.backends.locmem.EmailBackend"
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": "ticketing.mail.OutboxEmailBackend"}, "deliver": {"BACKEND": locmem}}
    else:
        settings.EMAIL_BACKEND = "ticketing.mail.OutboxEmailBackend"
        settings.DELIVERY_EMAIL_BACKEND, settings.DELIVERY_EMAIL_OPTIONS = locmem, {}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Code called outside a request (services, tasks) speaks English in tests, whatever an earlier
    request left active in this thread; requests still choose their own language."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.conf import settings
    from django.core.cache import cache
    from django_redis import get_redis_connection

    cache.delete_pattern("*")  # only keys under this run's KEY_PREFIX
    # The inventory fast path's own keys (tickets.fastpath), also under the prefix.
    client = get_redis_connection("default")
    keys = list(client.scan_iter(f"{settings.CACHE_KEY_PREFIX}:seat:*", count=1000))
    keys += list(client.scan_iter(f"{settings.CACHE_KEY_PREFIX}:soldout:*", count=1000))
    if keys:
        client.delete(*keys)
    from events.selectors import forget_vocabulary
    from tickets import catalogue

    catalogue.forget_all()  # ids come back after a rollback on some databases
    forget_vocabulary()  # the search box's words, kept in memory too
    yield
    reset_redis_backoff()


def reset_redis_backoff() -> None:
    """Forget that Redis (cache, broker, channel layer) failed, and the counters kept in memory meanwhile."""
    from django.core.cache.backends.locmem import LocMemCache

    from ticketing import cache

    from ticketing import outbox, push

    cache._state.update(down_until=0.0, logged_at=0.0, since=None)
    cache._unsent.clear()
    LocMemCache(cache.FALLBACK_CACHE_NAME, {}).clear()
    for backoff in (outbox._broker, push._layer):
        backoff.until = backoff.logged_at = 0.0
        backoff.skipped = 0


class HungServer:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture(params=["refused", "hung"])
def redis_outage(request, settings):
    """The cache (and the fast path's Redis) pointed at a Redis that refuses, or that hangs.
    Yields the HungServer (None when refused)."""
    hung = HungServer() if request.param == "hung" else None
    port = hung.port if hung else free_port()  # nothing listens on a fresh free port
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    reset_redis_backoff()
    yield hung
    reset_redis_backoff()
    if hung:
        hung.close()


class BehaviourLogs:
    """The behaviour log as a test sees it: what reached MongoDB, after the writer caught up."""

    def flush(self) -> None:
        from analytics import tracking

        assert tracking.flush(15), f"behaviour log not written: {tracking.stats()}"

    def lines(self, **match) -> list[dict]:
        from analytics.documents import BehaviourLog

        self.flush()
        return list(BehaviourLog._get_collection().find(match, {"_id": 0}).sort("timestamp", 1))

    def clear(self) -> None:
        from analytics.documents import BehaviourLog, UserEmbedding

        self.flush()
        BehaviourLog._get_collection().delete_many({})
        UserEmbedding._get_collection().delete_many({})


@pytest.fixture
def behaviour():
    """Empty behaviour-log collections (this run's own MongoDB database, scripts/test.py)."""
    logs = BehaviourLogs()
    logs.clear()
    yield logs
    from analytics import tracking

    tracking.flush(15)


def point_mongo_at(port: int) -> None:
    """The behaviour log's MongoDB connection aimed at a port (nothing there, or a HungServer)."""
    import mongoengine
    from django.conf import settings
    from mongoengine import connection

    from analytics.documents import BehaviourLog

    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    mongoengine.connect(host=f"mongodb://127.0.0.1:{port}/nowhere", alias=settings.MONGODB_DB_ALIAS, connect=False,
                        serverSelectionTimeoutMS=3000, socketTimeoutMS=3000, connectTimeoutMS=3000, tz_aware=True,
                        uuidRepresentation="standard")
    BehaviourLog._collection = None
    assert connection.get_connection(settings.MONGODB_DB_ALIAS)


def mongo_back() -> None:
    """The test MongoDB again, and the writer told it may try at once (as it would after its back-off)."""
    import mongoengine
    from django.conf import settings

    from analytics import tracking
    from analytics.documents import BehaviourLog
    from analytics.mongo import connect

    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    connect()
    BehaviourLog._collection = None
    tracking._writer.mongo.until = 0.0


@pytest.fixture
def mongo_outage(request, behaviour):
    """MongoDB refused (a free port) or hung (accepts, never answers: `indirect` param "hung") for the
    test; yields the HungServer or None, and puts the real one back after."""
    hung = HungServer() if getattr(request, "param", "refused") == "hung" else None
    point_mongo_at(hung.port if hung else free_port())
    yield hung
    mongo_back()
    if hung:
        hung.close()


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process (notification emails) instead of queueing them."""
    from ticketing.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


# --- live ASGI server ---------------------------------------------------------
class LiveASGIServer:
    """ticketing.asgi served by uvicorn in a thread of the test process."""

    def __init__(self) -> None:
        import uvicorn

        from ticketing.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-asgi", daemon=True)

    def start(self) -> "LiveASGIServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live ASGI server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def asgi_server(transactional_db):
    """A real HTTP + websocket server on a free port, sharing the test database."""
    server = LiveASGIServer().start()
    yield server
    server.stop()


# --- Celery -------------------------------------------------------------------
@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the test broker and test database."""
    from ticketing.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {**os.environ, "DATABASE_URL": database_url_for_children(), "DB_CONN_MAX_AGE": "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ticketing", "worker", "--pool", "solo", "-n", name,
             "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 60
    hostname = name.replace("%h", socket.gethostname())
    while not any(hostname in reply for reply in (app.control.ping(timeout=0.5) or [])):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- Playwright ---------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}: browser tests need Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # tests make between page actions are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, asgi_server):
    """A fresh browser tab (Chinese locale, phone-sized) on the live server."""
    context = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 390, "height": 844})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "name") saves artifacts/<test>-<name>.png for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(tab, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
