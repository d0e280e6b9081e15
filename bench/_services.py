"""Shared by bench/flash_sale.py, bench/checkout.py and bench/seatmap_fanout.py: a bench database of its
own, a Redis namespace of its own, an event on sale, buyers with tokens, the services layout (gunicorn
for HTTP, uvicorn for /ws/) started as subprocesses on free ports, and a Redis outage for them.

Not a benchmark itself; nothing here runs on import. Logs of the servers go to var/bench/.
For experiments, BENCH_ASGI_APP (default ticketing.asgi:application) names the app uvicorn runs,
e.g. a module under /tmp that patches something first (with BENCH_APP_DIR for its folder).
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOG_DIR = ROOT / "var" / "bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
HEALTH_TIMEOUT = 90  # s for both servers to answer /healthz


# --- process and signals -------------------------------------------------------------
def stop_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) end the bench like Ctrl-C does: through every `finally`, so servers stop."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)


def run(coro):
    """Like asyncio.run, except that Ctrl-C (or SIGTERM, see stop_on_sigterm) ends it at once: no waiting for
    hundreds of cancelled requests to wind down. The caller's with-block then stops the servers."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(coro)
    except BaseException:
        loop.set_exception_handler(lambda _loop, _context: None)  # no "Task was destroyed" noise at exit
        raise
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    return result


def exit_with(code: int) -> None:
    """Ends a bench with its status; after Ctrl-C (130) at once, without finalising abandoned coroutines."""
    sys.stdout.flush()
    if code == 130:  # the servers are stopped already
        os._exit(code)
    sys.exit(code)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (connections are refused at once): a Redis that is down."""
    port = free_port()
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} unexpectedly answers")
    return port


# --- Redis away ------------------------------------------------------------------------
REDIS_DOWN_MODES = ("refused", "hung")
# Every setting through which the servers reach Redis: cache, throttle counters, seat claims (REDIS_URL),
# the channel layer, and Celery's broker and result backend (ticketing/settings.py).
REDIS_URL_SETTINGS = ("REDIS_URL", "CHANNEL_LAYER_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def add_redis_down_option(parser) -> None:
    parser.add_argument("--redis-down", nargs="?", const="refused", choices=REDIS_DOWN_MODES,
                        help="point every Redis URL of the servers (cache, throttle, seat claims, channel layer, "
                             "Celery broker and results) at a port that refuses connections (default), or with "
                             "'hung' at one that accepts them and never answers (a stalled or partitioned Redis; "
                             "use fewer --buyers: calls wait for their timeouts)")


class RedisOutage:
    """The servers' Redis, away: `env` points every Redis URL at a closed port ("refused") or at a local
    socket that completes TCP handshakes and never reads nor answers ("hung"); empty with mode None.
    `close()` (or the with-block) ends the hung socket."""

    def __init__(self, mode: str | None):
        self.mode, self.hole, self.env = mode, None, {}
        if mode == "refused":
            port = closed_port()
        elif mode == "hung":
            self.hole = socket.socket()  # the kernel completes handshakes into the backlog; nobody reads
            self.hole.bind(("127.0.0.1", 0))
            self.hole.listen(4096)
            port = self.hole.getsockname()[1]
        elif mode is None:
            return
        else:
            raise ValueError(f"unknown Redis outage {mode!r}")
        self.env = {name: f"redis://127.0.0.1:{port}/0" for name in REDIS_URL_SETTINGS}

    def describe(self, redis_url: str) -> str:
        if not self.mode:
            return f"Redis {redis_url}"
        return f"REDIS_URL, CHANNEL_LAYER_URL, CELERY_BROKER_URL={self.env['REDIS_URL']} ({self.mode})"

    def close(self) -> None:
        if self.hole is not None:
            self.hole.close()
            self.hole = None

    def __enter__(self) -> "RedisOutage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def outage_log_summary(log: str) -> str:
    """What a server log says about a Redis outage (ticketing.cache, ticketing.push, ticketing.outbox) and errors."""
    counts = {
        "'Redis unavailable' (cache back-off)": log.count("Redis unavailable"),
        "'push to … failed' (channel layer)": log.count("push to "),
        "'channel layer stalled'": log.count("channel layer stalled"),
        "'outbox … left for the sweep'": log.count("left for the sweep"),
        "'Internal Server Error'": log.count("Internal Server Error"),
        "WORKER TIMEOUT": log.count("WORKER TIMEOUT"),
        "tracebacks": log.count("Traceback"),
    }
    return ", ".join(f"{n:,} {what}" for what, n in counts.items())


# --- settings and the database ---------------------------------------------------------
def configure(*, database: str, redis_db: int, prefix: str, conn_max_age: int) -> dict[str, str]:
    """Environment of this process and the servers: the bench database and Redis namespace only."""
    env = {
        "DJANGO_SETTINGS_MODULE": "ticketing.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_SERVER", "mysql://root@127.0.0.1:3306").rstrip("/")
        + f"/{database}",
        "REDIS_URL": f"{REDIS_URL}/{redis_db}",
        "CACHE_KEY_PREFIX": prefix,
        # No MongoDB in the hold path; a refused port keeps the app from expecting the embedded one.
        "MONGODB_URI": f"mongodb://127.0.0.1:{closed_port()}/bench",
        "DB_CONN_MAX_AGE": str(conn_max_age),
        "THROTTLE_HOLDS": "100000/min",  # 2,000 buyers from one address must not be throttled
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
    os.environ.update(env)
    return env


def prepare_database(*, refill: bool) -> None:
    """Create (with refill: drop and create) the bench database (utf8mb4), migrate it, set Django up."""
    import environ

    create_mysql_database(environ.Env.db_url_config(os.environ["DATABASE_URL"]), refill=refill)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_mysql_database(config: dict, *, refill: bool) -> None:
    """CREATE DATABASE IF NOT EXISTS (utf8mb4) for a django-environ database config; refill drops it first."""
    import MySQLdb

    conn = MySQLdb.connect(host=config["HOST"] or "127.0.0.1", port=int(config["PORT"] or 3306),
                           user=config["USER"], passwd=config["PASSWORD"] or "")
    cursor = conn.cursor()
    name = config["NAME"].replace("`", "")
    if refill:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()


def clear_redis(redis_url: str, prefix: str) -> int:
    """Deletes this bench's keys (cache, throttle, seat claims, channel layer, and the Celery queue named after
    the prefix, which no worker drains here) and nothing else."""
    import redis

    client = redis.Redis.from_url(redis_url)
    gone = client.delete(prefix, f"_kombu.binding.{prefix}", f"_kombu.binding_permanent.{prefix}")
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            gone += client.delete(*batch)
            batch = []
    if batch:
        gone += client.delete(*batch)
    client.close()
    return gone


# --- the sale ----------------------------------------------------------------------------
@dataclass
class Sale:
    event_id: int
    seated_session: int
    seated_type: int
    ga_session: int
    ga_type: int
    ga_total: int
    rows: list[list[int]]  # map seat ids, row by row (front first), by seat number
    seat_labels: dict[int, str] = field(default_factory=dict)

    @property
    def seat_ids(self) -> list[int]:
        return [s for row in self.rows for s in row]

    def pick(self, rng, k: int, taken: set[int]) -> list[int]:
        """k adjacent seats not in `taken`, in a row chosen front-first; else any k such seats; [] if none."""
        runs = []  # (row index, start)
        for r, row in enumerate(self.rows):
            free_run = 0
            for i, seat in enumerate(row):
                free_run = free_run + 1 if seat not in taken else 0
                if free_run >= k:
                    runs.append((r, i - k + 1))
        if runs:
            rows = sorted({r for r, _ in runs})
            r = rng.choices(rows, [1 / (x + 1) for x in rows])[0]
            start = rng.choice([s for rr, s in runs if rr == r])
            return self.rows[r][start:start + k]
        free = [s for s in self.seat_ids if s not in taken]
        return rng.sample(free, min(k, len(free)))


def reset_inventory() -> None:
    """Empties the bench database's inventory (holds, sessions, maps, types, events): each run starts fresh."""
    from django.db import transaction

    from events.models import Event
    from tickets.models import Hold, HoldItem, PriceTier, Seat, SeatMap, Session, SessionSeat, Stock, TicketType

    with transaction.atomic():
        for model in (HoldItem, SessionSeat, Hold, Stock, Session, Seat, SeatMap, PriceTier, TicketType):
            model.objects.all()._raw_delete(model.objects.db)
        Event.objects.all().delete()


def build_sale(*, rows: int, per_row: int, ga_total: int, name: str) -> Sale:
    """One approved event: a seated session (rows × per_row seats, one ticket type) and a GA session."""
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import Role, User
    from events.models import Category, Event, EventStatus
    from tickets import services
    from tickets.models import Seat

    publisher, _ = User.objects.get_or_create(username="bench-publisher", defaults={"role": Role.PUBLISHER})
    category = Category.objects.filter(slug="bench").first() or Category.objects.add_root(
        {"slug": "bench", "name_zh": "压测", "name_en": "Bench"})
    now = timezone.now()
    start = now + timedelta(days=7)
    event = Event.objects.create(title=name, start_time=start, end_time=start + timedelta(hours=3),
                                 venue="压测大剧院", city="杭州", category=category, publisher=publisher,
                                 status=EventStatus.APPROVED)
    seated = services.ticket_type_create(actor=publisher, event=event, name="Seated", base_price=Decimal("380"))
    ga = services.ticket_type_create(actor=publisher, event=event, name="GA", base_price=Decimal("180"))
    layout = {"stage": "舞台", "sections": [{"name": "A", "ticket_type": seated.pk, "rows": rows, "seats": per_row,
                                            "first_row": "1"}]}
    seat_map = services.seat_map_create(actor=publisher, event=event, name="Hall", layout=layout)
    window = {"start_time": event.start_time, "end_time": event.end_time,
              "sales_start": now - timedelta(hours=1), "sales_end": event.start_time}
    seated_session = services.session_create(actor=publisher, event=event, name="Seated", seat_map=seat_map, **window)
    ga_session = services.session_create(actor=publisher, event=event, name="GA", stock={ga.pk: ga_total}, **window)
    by_row: dict[int, list[tuple[int, int]]] = {}
    labels = {}
    for pk, row, number in Seat.objects.filter(seat_map=seat_map).values_list("pk", "row", "number"):
        by_row.setdefault(int(row), []).append((number, pk))
        labels[pk] = f"row {row} seat {number}"
    return Sale(event.pk, seated_session.pk, seated.pk, ga_session.pk, ga.pk, ga_total,
                [[pk for _n, pk in sorted(by_row[r])] for r in sorted(by_row)], labels)


def buyer_email(username: str) -> str:
    return f"{username}@bench.example.com"


def ensure_buyers(count: int) -> list:
    """`count` customers bench-buyer-00000…, each with an email address, made once (unusable passwords: the
    hasher is slow on purpose)."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, User

    names = [f"bench-buyer-{i:05d}" for i in range(count)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create([User(username=n, email=buyer_email(n), role=Role.CUSTOMER, password=unusable)
                              for n in names if n not in have], batch_size=1000)
    no_email = list(User.objects.filter(username__in=names, email__isnull=True))  # made before buyers had addresses
    for user in no_email:
        user.email = buyer_email(user.username)
    User.objects.bulk_update(no_email, ["email"], batch_size=1000)
    by_name = {u.username: u for u in User.objects.filter(username__in=names)}
    return [by_name[n] for n in names]


def mint_tokens(users) -> list[str]:
    """Access JWTs as the login endpoint would hand out (valid SIMPLE_JWT ACCESS_TOKEN_LIFETIME: 5 min)."""
    from django.db import transaction

    from accounts.serializers import RoleRefreshToken

    with transaction.atomic():  # each refresh token is recorded (blacklist app): one commit, not 2,000
        return [str(RoleRefreshToken.for_user(u).access_token) for u in users]


# --- the servers --------------------------------------------------------------------------
class Servers:
    """gunicorn (sync workers, deploy/gunicorn.conf.py) and uvicorn (ASGI, /ws/), as deploy/Procfile.services
    runs them, each in its own process group; `stop()` (also on Ctrl-C via the with-block) ends both."""

    def __init__(self, env: dict[str, str], *, name: str, workers: int, ws_workers: int = 1,
                 server_env: dict[str, str] | None = None):
        self.env = {**os.environ, **env, **(server_env or {})}
        self.name, self.workers, self.ws_workers = name, workers, ws_workers
        self.http_port, self.ws_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def __enter__(self) -> "Servers":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, key: str, argv: list[str], extra: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = LOG_DIR / f"{self.name}-{key}.log"
        self.logs[key] = log
        with open(log, "wb") as out:
            self.procs[key] = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **extra}, stdout=out,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True)

    def start(self) -> None:
        self._spawn("gunicorn", [str(VENV_BIN / "gunicorn"), "ticketing.wsgi:application",
                                 "-c", "deploy/gunicorn.conf.py",
                                 "--no-control-socket"],  # else ~/.gunicorn/gunicorn.ctl, one per machine
                    {"GUNICORN_BIND": f"127.0.0.1:{self.http_port}", "GUNICORN_WORKERS": str(self.workers)})
        app = os.environ.get("BENCH_ASGI_APP", "ticketing.asgi:application")
        app_dir = ["--app-dir", os.environ["BENCH_APP_DIR"]] if os.environ.get("BENCH_APP_DIR") else []
        self._spawn("uvicorn", [str(VENV_BIN / "uvicorn"), app, *app_dir, "--host", "127.0.0.1",
                                "--port", str(self.ws_port), "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
                                "--workers", str(self.ws_workers), "--no-server-header"],
                    {"DB_CONN_MAX_AGE": "0"})  # as the Procfile: persistent connections leak under ASGI
        for key, base in (("gunicorn", self.http), ("uvicorn", f"http://127.0.0.1:{self.ws_port}")):
            self._wait_healthy(key, base)

    def _wait_healthy(self, key: str, base: str) -> dict:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.procs[key].poll() is not None:
                raise RuntimeError(f"{key} exited ({self.procs[key].returncode}); see {self.logs[key]}:\n"
                                   + self.tail(key))
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
                    report = json.loads(r.read())
            except urllib.error.HTTPError as e:  # 503: some service is down (MongoDB, Celery: not needed here)
                try:
                    report = json.loads(e.read())
                except ValueError:  # not the health report (a 500 page …): not up yet; said if it stays so
                    last = f"HTTP {e.code} without a JSON body"
                    time.sleep(0.5)
                    continue
            except (OSError, ValueError) as e:
                last = e
                time.sleep(0.3)
                continue
            if report.get("database", {}).get("ok"):
                return report
            last = report
            time.sleep(0.5)
        raise RuntimeError(f"{key} not healthy within {HEALTH_TIMEOUT} s (last: {last}); see {self.logs[key]}")

    def tail(self, key: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.logs[key].read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pid(self, key: str) -> int | None:
        proc = self.procs.get(key)
        return proc.pid if proc is not None and proc.poll() is None else None

    def stop(self) -> None:
        for key, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for key, proc in self.procs.items():
            try:
                proc.wait(timeout=35)  # gunicorn's graceful_timeout is 30 s
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        self.procs.clear()


# --- measuring ------------------------------------------------------------------------------
class CpuMeter:
    """CPU seconds used between start() and stop() by process trees (servers, MariaDB, Redis, this process).

    A tree counts its root, its live descendants and the children it has reaped (gunicorn recycles workers)."""

    def __init__(self, roots: dict[str, int | None]):
        import psutil

        self.roots = {k: psutil.Process(pid) for k, pid in roots.items() if pid}
        for name, wanted in (("mariadb", ("mariadbd", "mysqld")), ("redis", ("redis-server",))):
            found = next((p for p in psutil.process_iter(["name"]) if p.info["name"] in wanted), None)
            if found:
                self.roots[name] = found
        self.roots["bench client"] = psutil.Process()
        self.before: dict[str, float] = {}
        self.wall = 0.0

    def _sample(self) -> dict[str, float]:
        import psutil

        out = {}
        for name, root in self.roots.items():
            total = 0.0
            try:
                t = root.cpu_times()
                if name == "bench client":  # its children are the servers, counted apart
                    out[name] = t.user + t.system
                    continue
                total += t.user + t.system + t.children_user + t.children_system
                for child in root.children(recursive=True):
                    try:
                        c = child.cpu_times()
                        total += c.user + c.system
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                pass
            out[name] = total
        return out

    def start(self) -> None:
        self.before, self.wall = self._sample(), time.monotonic()

    def stop(self) -> str:
        after, wall = self._sample(), time.monotonic() - self.wall
        self.used = {name: after[name] - self.before.get(name, 0) for name in after}  # CPU seconds
        parts = [f"{name} {100 * used / wall:.0f}%" for name, used in self.used.items()]
        return "CPU (of 200% on 2 cores): " + ", ".join(parts)


def percentiles(samples: list[float], cuts=(50, 95, 99)) -> list[float]:
    if not samples:
        return [float("nan")] * len(cuts)
    if len(samples) == 1:
        return [samples[0]] * len(cuts)
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return [q[c - 1] for c in cuts]
