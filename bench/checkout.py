#!/usr/bin/env python
"""Checkout: 2,000 buyers race over HTTP for 500 tickets, hold → order → pay (prints figures; exits 1 if inconsistent).

    .venv/bin/python bench/checkout.py                          # seated, 4 gunicorn workers, 64 buyers at once
    .venv/bin/python bench/checkout.py --kind ga                # 500 GA tickets instead of 500 seats
    .venv/bin/python bench/checkout.py --pretix                 # pretix's race: 1 order create per buyer, 1 GA ticket
    .venv/bin/python bench/checkout.py --pretix --kind seated --repeat 3  # … for 1 seat, 3 runs, min/median/max
    .venv/bin/python bench/checkout.py --workers 6 --concurrency 32 --conn-max-age 0
    .venv/bin/python bench/checkout.py --buyers 400 --retries 0
    .venv/bin/python bench/checkout.py --redis-down --buyers 400       # every Redis URL of the servers refused
    .venv/bin/python bench/checkout.py --redis-down hung --buyers 400  # … or accepting and never answering
    .venv/bin/python bench/checkout.py --refill                 # drop the bench database and build it again

Uses a MariaDB database of its own, `ticketing_bench_checkout` (utf8mb4, created and migrated if
missing; BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server) and
Redis database 9 under the key prefix `bench-checkout` (BENCH_REDIS_URL, default
redis://127.0.0.1:6379): it deletes only those keys. A second checkout bench on the same database
server waits for the first to end (a MariaDB named lock). Each run empties the bench database's
orders, tickets, payments, wallets and ledger, then its inventory, and builds one approved event
(not real-name) with a seated session (20 rows × 25 seats, one ticket type at 380) and a GA
session (500 tickets at 180); 2,000 buyers are made once (with an email address, unusable
passwords), each gets a fresh points wallet of --points (a grant row in its ledger, as the app's
welcome grant writes it) and an access JWT minted in-process; the first --logins + --page-logins
buyers get a real password.

The services layout then runs as subprocesses on free ports (logs in var/bench/): gunicorn with
deploy/gunicorn.conf.py (--workers sync workers, DB_CONN_MAX_AGE=--conn-max-age) for HTTP,
uvicorn (DB_CONN_MAX_AGE=0) for /ws/; both must answer /healthz with the database up.
THROTTLE_HOLDS and THROTTLE_ORDERS are 100000/min; SQL_COUNT_HEADER=1, so every answer carries
X-SQL-Statements (the statements that request sent, authentication and middleware included).
With --redis-down every Redis URL of the servers (REDIS_URL: cache, throttle counters, seat
claims; CHANNEL_LAYER_URL; CELERY_BROKER_URL and CELERY_RESULT_BACKEND) is a closed port
("refused") or a local socket that accepts connections and never answers ("hung"); this process
still reaches the real Redis to clear its keys.

After a short warm-up, the login phase (--login-concurrency at once): --logins buyers log in with
POST /api/auth/login {"login": email, "password"} → 200 and check out with the access token they
got; --page-logins others log in on the page (GET /accounts/login/ for the CSRF token, POST it with
the form → 302, then GET /orders/ → 200 with the session cookie). Then the buyers race, at
most --concurrency of them checking out at once (so at most that many requests in flight); each:
  1. POST /api/tickets/holds: 1–4 adjacent seats picked front-rows-first among those the seat
     map shows free (the map learns every 201 at once, as the socket would tell it) — or, with
     --kind ga, 1–4 GA tickets; on 409 it tries again up to --retries times (other seats, fewer
     GA tickets; once a one-ticket hold is refused sold_out, the page shows the sale is over and
     later buyers send nothing);
  2. POST /api/orders/create {"holds": [its hold]} → 201, a pending order;
  3. POST /api/orders/pay/<order id> {"idempotency_key": <a UUID>} → 200, paid with points.

--pretix is the race pretix was measured in (issue 12): --kind ga, 2,000 buyers, 200 in flight,
no retries, no logins (all tokens minted), one ticket per buyer, in two phases:
  1. every buyer sends one POST /api/orders/create {"session", "quantities": {"<GA type>": 1}}
     (--kind seated: {"session", "seats": [one seat the map shows free, front rows first]};
     a buyer who sees none free sends nothing) → 201, the hold and the pending order at once,
     or 409 sold_out / seat_taken;
  2. every buyer with a 201 sends one POST /api/orders/pay/<id> {"idempotency_key": <uuid4>} → 200.
Tickets secured/s = tickets in the 201s ÷ phase 1's wall time; paid orders/s over phase 2's.
The servers are stopped on exit and on Ctrl-C.

It prints per step (login, page login, hold, order or create, pay) the requests, their status
codes and p50/p95/p99; outcomes per step (successes, 409s by code, other errors), tickets secured
per second (a ticket is secured once it is in a pending order's 201), paid orders per second,
latency p50/p95/p99 per step and answer and per buyer (hold → order, hold → order → pay), MariaDB's
counters over the race (server-wide: statements, commits, fsyncs, row lock waits, deadlocks);
  - CPU seconds per process (gunicorn master and workers, uvicorn, mariadbd, redis-server, and the
    bench client apart), per phase with --pretix, and CPU ms per paid order = the servers' CPU
    over the race (both phases) ÷ paid orders, with gunicorn's share alone;
  - SQL statements per step (X-SQL-Statements): min / median / max of the 201/200s and of the 409s,
    and per paid buyer the median of its answered steps' sum (hold + order + pay, or create + pay);
then checks the DATABASE:
each wallet's ledger sums to its balance (and its last balance_after is it); the points charged
(purchase rows) = the payments = the paid orders' totals = what the wallets lost = what buyers were
told; each order's total is its held prices; no seat in two valid tickets of the session; tickets
= seats (or GA tickets) sold = items of consumed holds, each ticket in the order whose hold sold
its seat; SessionSeat / Stock counters agree with the live and consumed holds; no seat granted
twice (a hold or, with --pretix, an order create 201); every committed payment (payments rows,
paid orders) was answered 200; each paid order's notice is one outbox row
(ticketing.models.OutboxMessage "orders.paid", written with the payment; once delivered, its
"mail.send" row), pending while the broker is down (no Celery worker runs here, so also with Redis
up). The last lines sum it up: the targets, then
`redis-down=hung: 0 5xx, every charge answered 200 (N/N), pay p99 X ms, login p99 Y ms`.

--repeat N does all that (reset with this bench's Redis keys, race, checks) N times with the servers
left up, then prints min / median / max over the runs of tickets secured/s, secured p99, CPU ms
per paid order, pay p99 and the statements per step.
Exit status 1 when, in any run, a check fails, a request is answered 5xx or not at all, or a
committed payment was not answered 200.

Targets on this 2-core machine (issue 12; the load generator shares the cores): ≥ 250 tickets
secured/s, p99 < 1 s for the requests that secure tickets (POST holds and POST orders/create; the
whole journey's p99 is printed too), CPU ≤ 20 ms per paid order, statements (median of the
successes) hold ≤ 4, order ≤ 4, pay ≤ 6 (create, hold and order at once, ≤ 8), a consistent database.
"""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _services  # noqa: E402

DATABASE = "ticketing_bench_checkout"
REDIS_DB = 9  # 7: flash_sale, 8: seatmap_fanout
PREFIX = "bench-checkout"
ROWS, PER_ROW = 20, 25
NO_THROTTLE = "100000/min"  # 2,000 buyers from one address must not be throttled
STEPS = ("hold", "order", "pay")
PRETIX_STEPS = ("create", "pay")  # --pretix: hold and order in one request, then pay
LOGIN_STEPS = ("login", "page", "page login")
OK = {"login": 200, "page": 200, "page login": 302, "hold": 201, "order": 201, "create": 201, "pay": 200}
NAMES = {"login": "POST api/auth/login", "page": "GET login page, orders", "page login": "POST accounts/login",
         "hold": "POST holds", "order": "POST orders/create", "create": "POST orders/create 1", "pay": "POST orders/pay"}
SERVERS = ("gunicorn", "uvicorn", "mariadb", "redis")  # CpuMeter's names of the server processes
PRETIX = {"buyers": 2000, "concurrency": 200, "retries": 0, "logins": 0, "page_logins": 0, "kind": "ga"}
USUAL = {"buyers": 2000, "concurrency": 64, "retries": 2, "logins": 100, "page_logins": 10, "kind": "seated"}
PASSWORD = "bench-correct-horse-7"  # of the buyers who log in
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- the buyers ------------------------------------------------------------------------------
class Checkout:
    def __init__(self, sale: "_services.Sale", tokens: list[str], base: str, *, kind: str, concurrency: int,
                 retries: int, seed: int, emails: list[str] | None = None, pretix: bool = False):
        self.sale, self.tokens, self.base, self.kind = sale, tokens, base, kind
        self.concurrency, self.retries, self.seed, self.pretix = concurrency, retries, seed, pretix
        self.steps = PRETIX_STEPS if pretix else STEPS
        self.emails = emails or []
        self.login_samples: list[tuple] = []  # as samples, in the login phase
        self.login_wall, self.login_concurrency = 0.0, 0
        self.view_taken: set[int] = set()  # what the live seat map shows held
        # step, status, code, ms, ended (s from the race's start), X-SQL-Statements (None if not sent)
        self.samples: list[tuple[str, int, str, float, float, int | None]] = []
        self.journey_sql: Counter = Counter()  # buyer → statements of its answered steps (201/200 only)
        self.paid_buyers: set[int] = set()
        self.order_buyer: dict[int, int] = {}  # order id → buyer
        self.secure_ms: list[float] = []  # per buyer with an order: first hold request → order 201
        self.journey_ms: list[float] = []  # per buyer with a paid order: first hold request → pay 200
        self.granted_seats: Counter = Counter()  # seat → hold 201s that included it
        self.granted_ga = 0
        self.ga_sold_out = False  # what the live page shows once a 1-ticket hold was refused sold_out
        self.secured: list[tuple[float, int]] = []  # (when, tickets) of each order 201
        self.paid_at: list[float] = []  # when each pay 200 came
        self.ordered: dict[int, tuple[int, Decimal]] = {}  # order id → (tickets, total) as order create told
        self.paid: dict[int, tuple[int, Decimal]] = {}  # order id → (tickets, total) as pay told
        self.buyers: Counter = Counter()
        self.wall = 0.0  # the race; with --pretix phase 1 (order creates) only
        self.pay_wall = 0.0  # --pretix phase 2 (payments)

    async def request(self, http, path: str, token: str | None, body: dict, step: str,
                      samples: list | None = None, buyer: int | None = None) -> tuple[int, str, dict | None]:
        """POST body; records (step, status, code, ms, ended, statements); a buyer's answered steps add their
        statements to its journey."""
        import aiohttp

        started = time.perf_counter()
        data, statements = None, None
        try:
            async with http.post(self.base + path, json=body,
                                 headers={"Authorization": f"Bearer {token}"} if token else {}) as response:
                status, raw = response.status, await response.read()
                statements = sql_statements(response)
            code = ""
            try:
                data = json.loads(raw)
            except ValueError:
                code = "not json"
            if status != OK[step] and not code:
                code = (data.get("code", "") if isinstance(data, dict) else "") or ""
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            status, code = 0, type(exc).__name__
        ended = time.perf_counter()
        (self.samples if samples is None else samples).append((step, status, code, (ended - started) * 1000,
                                                               ended - self.started, statements))
        if buyer is not None and status == OK[step] and statements is not None:
            self.journey_sql[buyer] += statements
        return status, code, data if status == OK[step] else None

    async def page_request(self, http, method: str, path: str, step: str, data: dict | None = None):
        """A page request without following redirects: (status, body text), recorded as a login sample."""
        import aiohttp

        started = time.perf_counter()
        text, code, statements = "", "", None
        try:
            async with http.request(method, self.base + path, data=data, allow_redirects=False,
                                    headers={"Accept-Language": "zh-hans"}) as response:
                status, text = response.status, await response.text(errors="replace")
                statements = sql_statements(response)
                if status == 302:
                    code = "→ " + response.headers.get("Location", "?").split("?")[0]
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            status, code = 0, type(exc).__name__
        ended = time.perf_counter()
        self.login_samples.append((step, status, code, (ended - started) * 1000, ended - self.started, statements))
        return status, text

    # --- the login phase --------------------------------------------------------------------------
    async def api_login(self, http, i: int) -> None:
        """POST /api/auth/login; on 200 this buyer checks out with the access token it was given."""
        async with self.sem:
            status, _code, data = await self.request(http, "/api/auth/login", None,
                                                     {"login": self.emails[i], "password": PASSWORD}, "login",
                                                     samples=self.login_samples)
        if status == 200:
            self.tokens[i] = data["access"]
            self.buyers["login: token"] += 1
        else:
            self.buyers["login: refused"] += 1

    async def page_login(self, i: int) -> None:
        """The login page as a browser posts it: the form's CSRF token, the POST, then a page of one's own."""
        import aiohttp

        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1 (an IP address) too
        async with self.sem, aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(force_close=True),
                                                   timeout=aiohttp.ClientTimeout(total=60)) as http:
            status, text = await self.page_request(http, "GET", "/accounts/login/", "page")
            token = CSRF_FIELD.search(text) if status == 200 else None
            if token is None:
                self.buyers["page login: no form"] += 1
                return
            status, _text = await self.page_request(http, "POST", "/accounts/login/", "page login", data={
                "csrfmiddlewaretoken": token.group(1), "login": self.emails[i], "password": PASSWORD})
            if status != 302:
                self.buyers["page login: refused"] += 1
                return
            status, _text = await self.page_request(http, "GET", "/orders/", "page")
            self.buyers["page login: signed in" if status == 200 else "page login: session lost"] += 1

    async def log_in(self, api: range, page: range, *, concurrency: int) -> None:
        import aiohttp

        self.login_concurrency = concurrency
        self.sem = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
            self.started = time.perf_counter()
            await asyncio.gather(*(self.api_login(http, i) for i in api), *(self.page_login(i) for i in page))
            self.login_wall = time.perf_counter() - self.started

    async def hold_seats(self, http, rng: random.Random, token: str, i: int) -> int | None:
        k = rng.randint(1, 4)
        failed: set[int] = set()
        for _ in range(1 + self.retries):
            seats = self.sale.pick(rng, k, self.view_taken | failed)
            if not seats:
                self.buyers["no seat shown free"] += 1
                return None
            status, _code, data = await self.request(http, "/api/tickets/holds", token,
                                                     {"session": self.sale.seated_session, "seats": seats}, "hold",
                                                     buyer=i)
            if status == 201:
                self.view_taken.update(seats)
                self.granted_seats.update(seats)
                return data["id"]
            if status != 409:
                self.buyers["hold: error"] += 1
                return None
            failed.update(seats)
        self.buyers["hold: gave up after 409s"] += 1
        return None

    async def hold_ga(self, http, rng: random.Random, token: str, i: int) -> int | None:
        n = rng.randint(1, 4)
        for _ in range(1 + self.retries):
            if self.ga_sold_out:
                self.buyers["sold out shown"] += 1
                return None
            status, code, data = await self.request(http, "/api/tickets/holds", token,
                                                    {"session": self.sale.ga_session,
                                                     "quantities": {str(self.sale.ga_type): n}}, "hold",
                                                    buyer=i)
            if status == 201:
                self.granted_ga += n
                return data["id"]
            if status != 409:
                self.buyers["hold: error"] += 1
                return None
            if code == "sold_out" and n == 1:  # none left: the live page shows it to everyone
                self.ga_sold_out = True
            n = rng.randint(1, n - 1) if n > 1 else 1
        self.buyers["hold: gave up after 409s"] += 1
        return None

    def ordered_one(self, i: int, order: dict, started: float) -> None:
        """Records an order 201: the buyer's tickets are secured (a pending order)."""
        secured = time.perf_counter()
        self.secure_ms.append((secured - started) * 1000)
        tickets = sum(line["quantity"] for line in order["lines"])
        self.secured.append((secured - self.started, tickets))
        self.ordered[order["id"]] = (tickets, Decimal(order["total"]))
        self.order_buyer[order["id"]] = i

    async def pay(self, http, i: int, order_id: int, key: str) -> bool:
        """POST orders/pay once; on 200 records what the buyer was told."""
        status, _code, paid = await self.request(http, f"/api/orders/pay/{order_id}", self.tokens[i],
                                                 {"idempotency_key": key}, "pay", buyer=i)
        if status != 200:
            self.buyers["ordered, payment refused"] += 1
            return False
        self.paid_at.append(time.perf_counter() - self.started)
        self.paid[paid["id"]] = (len(paid["tickets"]), Decimal(paid["total"]))
        self.paid_buyers.add(i)
        self.buyers["paid" if paid["status"] == "paid" else f"pay 200 but status {paid['status']}"] += 1
        return True

    async def buyer(self, http, i: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + i)
        token = self.tokens[i]
        async with self.sem:
            started = time.perf_counter()
            hold_id = await (self.hold_seats if self.kind == "seated" else self.hold_ga)(http, rng, token, i)
            if hold_id is None:
                return
            status, _code, order = await self.request(http, "/api/orders/create", token, {"holds": [hold_id]},
                                                      "order", buyer=i)
            if status != 201:
                self.buyers["held, order refused"] += 1
                return
            self.ordered_one(i, order, started)
            if await self.pay(http, i, order["id"], uuid.UUID(int=rng.getrandbits(128)).hex):
                self.journey_ms.append((time.perf_counter() - started) * 1000)

    async def create_direct(self, http, i: int) -> None:
        """--pretix, phase 1: one POST orders/create for one ticket (a seat the map shows free, or 1 GA)."""
        rng = random.Random(self.seed * 1_000_003 + i)
        async with self.sem:
            if self.kind == "seated":
                seats = self.sale.pick(rng, 1, self.view_taken)
                if not seats:
                    self.buyers["no seat shown free: sent nothing"] += 1
                    return
                body = {"session": self.sale.seated_session, "seats": seats}
            else:
                seats, body = [], {"session": self.sale.ga_session, "quantities": {str(self.sale.ga_type): 1}}
            started = time.perf_counter()
            status, code, order = await self.request(http, "/api/orders/create", self.tokens[i], body, "create",
                                                     buyer=i)
            if status != 201:
                self.buyers[f"create refused: {status} {code}".rstrip()] += 1
                return
            self.view_taken.update(seats)
            self.granted_seats.update(seats)
            self.granted_ga += 0 if seats else 1
            self.ordered_one(i, order, started)

    async def pay_direct(self, http, order_id: int) -> None:
        async with self.sem:
            await self.pay(http, self.order_buyer[order_id], order_id, str(uuid.uuid4()))

    @staticmethod
    def session():
        import aiohttp

        # gunicorn's sync workers close every connection; so does the client.
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True),
                                     timeout=aiohttp.ClientTimeout(total=60))

    async def run(self) -> None:
        """The race: every buyer checks out (hold → order → pay), at most --concurrency at once."""
        self.sem = asyncio.Semaphore(self.concurrency)  # buyers mid-checkout; each has one request in flight
        async with self.session() as http:
            self.started = time.perf_counter()
            await asyncio.gather(*(self.buyer(http, i) for i in range(len(self.tokens))))
            self.wall = time.perf_counter() - self.started

    async def race_direct(self) -> None:
        """--pretix, phase 1: every buyer's order create, at most --concurrency in flight."""
        self.sem = asyncio.Semaphore(self.concurrency)
        async with self.session() as http:
            self.started = time.perf_counter()
            await asyncio.gather(*(self.create_direct(http, i) for i in range(len(self.tokens))))
            self.wall = time.perf_counter() - self.started

    async def pay_all(self) -> None:
        """--pretix, phase 2: each order of phase 1 paid once, at most --concurrency in flight."""
        self.sem = asyncio.Semaphore(self.concurrency)
        async with self.session() as http:
            started = time.perf_counter()
            await asyncio.gather(*(self.pay_direct(http, o) for o in list(self.ordered)))
            self.pay_wall = time.perf_counter() - started

    @property
    def tickets_secured(self) -> int:
        return sum(n for _t, n in self.secured)


def sql_statements(response) -> int | None:
    """The X-SQL-Statements header (SQL_COUNT_HEADER=1 on the servers): statements the request sent."""
    value = response.headers.get("X-SQL-Statements", "")
    return int(value) if value.isdigit() else None


async def warm_up(base: str, event_id: int, tokens: list[str], count: int = 48, concurrency: int = 8) -> None:
    """Every gunicorn worker loads the URLconf, the orders views, opens its DB connection … before the clock starts."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)

    async def one(http, i):
        path, headers = ((f"/api/tickets/{event_id}/stock", {}) if i % 2 else
                         ("/api/orders", {"Authorization": f"Bearer {tokens[(-1 - i) % len(tokens)]}"}))
        async with sem, http.get(base + path, headers=headers) as r:
            await r.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await asyncio.gather(*(one(http, i) for i in range(count)))


# --- the bench database ---------------------------------------------------------------------
def hold_bench_lock(timeout: int = 900):
    """A MariaDB named lock (GET_LOCK) for as long as this process lives: another checkout bench on this
    database server (another session, another working tree) waits here instead of resetting the database
    under a running race. Returns the connection that holds the lock."""
    import environ
    import MySQLdb

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    conn = MySQLdb.connect(host=config["HOST"] or "127.0.0.1", port=int(config["PORT"] or 3306),
                           user=config["USER"], passwd=config["PASSWORD"] or "")
    cursor = conn.cursor()
    cursor.execute("SELECT GET_LOCK(%s, 0)", [DATABASE])
    if not cursor.fetchone()[0]:
        print(f"another bench/checkout.py is using {DATABASE}: waiting for it (at most {timeout} s) …", flush=True)
        cursor.execute("SELECT GET_LOCK(%s, %s)", [DATABASE, timeout])
        if not cursor.fetchone()[0]:
            raise SystemExit(f"{DATABASE} still in use after {timeout} s: not started")
    return conn


def reset_orders() -> None:
    """Empties the bench database's orders side (tickets, payments, refunds, orders, wallets, ledgers) and its
    outbox so that _services.reset_inventory can empty the inventory: each run starts fresh, every wallet from
    --points."""
    from django.db import transaction

    from accounts.models import Notification
    from orders.models import (
        Attendee, CheckIn, LedgerEntry, Order, OrderHold, Payment, Refund, Scan, Ticket, Wallet,
    )
    from ticketing.models import OutboxMessage

    with transaction.atomic():
        for model in (CheckIn, Scan, Refund, Ticket, Payment, Attendee, LedgerEntry, OrderHold, Order, Wallet,
                      OutboxMessage):
            model.objects.all()._raw_delete(model.objects.db)
        Notification.objects.filter(kind="order_paid", user__username__startswith="bench-buyer-").delete()


def fund_wallets(users, points: int) -> None:
    """A wallet of `points` per buyer, with its ledger row, as orders.services.wallet_ensure's grant writes it."""
    from django.db import transaction

    from orders.models import LedgerEntry, LedgerKind, Wallet

    amount = Decimal(points)
    with transaction.atomic():
        Wallet.objects.bulk_create([Wallet(user=u, balance=amount) for u in users], batch_size=1000)
        wallet_ids = Wallet.objects.filter(user__in=[u.pk for u in users]).values_list("pk", flat=True)
        LedgerEntry.objects.bulk_create([LedgerEntry(wallet_id=w, kind=LedgerKind.GRANT, amount=amount,
                                                     balance_after=amount, reason="bench", once_key=f"grant:{w}")
                                         for w in wallet_ids], batch_size=1000)


def give_password(users) -> None:
    """PASSWORD for the buyers who log in (one bcrypt hash for all: the hasher is slow on purpose)."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User

    User.objects.filter(pk__in=[u.pk for u in users]).update(password=make_password(PASSWORD))


# --- reporting ------------------------------------------------------------------------------
MARIADB_STATUS = ("Innodb_row_lock_waits", "Innodb_row_lock_time", "Innodb_row_lock_time_max", "Innodb_deadlocks",
                  "Innodb_data_fsyncs", "Com_commit", "Questions")


def mariadb_status() -> dict[str, int]:
    """Server-wide counters (every database on the server counts, not only the bench's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ", ".join(["%s"] * len(MARIADB_STATUS)),
                       MARIADB_STATUS)
        return {name: int(value) for name, value in cursor.fetchall()}


def report_mariadb(before: dict[str, int], after: dict[str, int], wall: float) -> None:
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    waits = d.get("Innodb_row_lock_waits", 0)
    print(f"MariaDB during the race (server-wide): {d.get('Questions', 0):,} statements, "
          f"{d.get('Com_commit', 0):,} commits, {d.get('Innodb_data_fsyncs', 0):,} fsyncs "
          f"({d.get('Innodb_data_fsyncs', 0) / wall:,.0f}/s); row lock waits {waits:,} "
          f"(total {d.get('Innodb_row_lock_time', 0):,} ms, longest since start "
          f"{after.get('Innodb_row_lock_time_max', 0):,} ms), deadlocks {d.get('Innodb_deadlocks', 0)}")


def status_histogram(rows) -> str:
    """"200 ×95, 409 ×3 (taken ×3), 0 ×2 (ServerDisconnectedError)": statuses with their codes (0: no answer)."""
    parts = []
    for status, n in sorted(Counter(r[1] for r in rows).items()):
        codes = Counter(r[2] for r in rows if r[1] == status and r[2])
        parts.append(f"{status} ×{n:,}" + (" (" + ", ".join(f"{c} ×{k:,}" for c, k in codes.most_common()) + ")"
                                           if codes else ""))
    return ", ".join(parts)


def report_logins(co: Checkout) -> None:
    n = len(co.login_samples)
    print(f"\n--- the logins: {n:,} requests in {co.login_wall:.1f} s, at most {co.login_concurrency} at once ---")
    print("buyers: " + (", ".join(f"{k} {v:,}" for k, v in sorted(co.buyers.items()) if k.startswith(("login", "page")))
                        or "none logged in"))


def report_steps(co: Checkout) -> None:
    """Per step of the login phase and the race: requests, p50/p95/p99 and every status code."""
    print(f"\n{'per step (ms)':24} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7}  status codes")
    for step in LOGIN_STEPS + co.steps:
        rows = [r for r in co.login_samples + co.samples if r[0] == step]
        if rows:
            p50, p95, p99 = _services.percentiles([r[3] for r in rows])
            print(f"{NAMES[step]:24} {len(rows):6,} {p50:7.0f} {p95:7.0f} {p99:7.0f}  {status_histogram(rows)}")


def report_outcomes(co: Checkout, steps) -> None:
    """Per step: requests, successes, 409s by code, anything else by status and code."""
    for step in steps:
        rows = [s for s in co.samples if s[0] == step]
        ok = sum(1 for s in rows if s[1] == OK[step])
        conflicts = Counter(s[2] or "?" for s in rows if s[1] == 409)
        other = Counter(f"{s[1]} {s[2]}".strip() for s in rows if s[1] not in (OK[step], 409))
        print(f"{NAMES[step]:20} {len(rows):5,} requests: {OK[step]} ×{ok:,}; 409 "
              + (", ".join(f"{code} ×{n:,}" for code, n in conflicts.most_common()) or "none")
              + "; other " + (", ".join(f"{k} ×{n:,}" for k, n in other.most_common()) or "none"))


def report_latency(co: Checkout, steps, extra: dict[str, list[float]]) -> None:
    """p50/p95/p99/max per step of `steps`, per step and answer, then the `extra` groups (in their order)."""
    print(f"\n{'latency ms':26} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    groups: dict[str, list[float]] = defaultdict(list)
    for step, status, code, ms, _t, _sql in co.samples:
        if step not in steps:
            continue
        groups[NAMES[step]].append(ms)
        groups[f"  {NAMES[step].split()[1]} {status} {code}".rstrip()].append(ms)
    groups.update(extra)
    order = [NAMES[s] for s in steps] + sorted(k for k in groups if k.startswith("  ")) + list(extra)
    for name in order:
        values = groups.get(name)
        if values:
            p50, p95, p99 = _services.percentiles(values)
            print(f"{name:26} {len(values):6,} {p50:7.1f} {p95:7.1f} {p99:7.1f} {max(values):7.1f}")


def report_timeline(co: Checkout, wall: float, buckets: int = 8) -> None:
    """Requests, tickets secured, orders paid and latency per slice of `wall` seconds from the race's start."""
    width = wall / buckets
    print(f"\n{'timeline':14} {'req/s':>6} {'secured/s':>9} {'paid/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for b in range(buckets):
        lo, hi = b * width, (b + 1) * width if b < buckets - 1 else float("inf")
        rows = [s for s in co.samples if lo <= s[4] < hi]
        if rows:
            p50, _p95, p99 = _services.percentiles([r[3] for r in rows])
            secured = sum(n for t, n in co.secured if lo <= t < hi)
            paid = sum(1 for t in co.paid_at if lo <= t < hi)
            print(f"{lo:5.1f}–{lo + width:4.1f} s   {len(rows) / width:6.0f} {secured / width:9.0f} "
                  f"{paid / width:7.0f} {p50:7.0f} {p99:7.0f}")


def report_race(co: Checkout) -> None:
    samples = co.samples
    print(f"\n--- the race: {len(co.tokens):,} buyers, {len(samples):,} requests in {co.wall:.1f} s, "
          f"{co.concurrency} buyers at once ---")
    report_outcomes(co, STEPS)
    unit = "seats" if co.kind == "seated" else "GA tickets"
    granted = sum(co.granted_seats.values()) if co.kind == "seated" else co.granted_ga
    print(f"held: {granted:,} {unit}; secured (in pending orders): {co.tickets_secured:,} tickets in "
          f"{len(co.ordered):,} orders; paid: {sum(n for n, _t in co.paid.values()):,} tickets in {len(co.paid):,} "
          f"orders, {sum(t for _n, t in co.paid.values()):,} points")
    print("buyers: " + ", ".join(f"{k} {n:,}" for k, n in sorted(co.buyers.items())
                                 if not k.startswith(("login", "page"))))
    wall = co.wall or float("nan")
    print(f"throughput: {co.tickets_secured / wall:,.1f} tickets secured/s, {len(co.paid) / wall:,.1f} paid orders/s "
          f"({sum(n for n, _t in co.paid.values()) / wall:,.1f} paid tickets/s), {len(samples) / wall:,.0f} requests/s")
    report_latency(co, STEPS, {"hold + order requests": [s[3] for s in samples if s[0] != "pay"],
                               "buyer: hold → order": co.secure_ms, "buyer: hold → order → pay": co.journey_ms})
    report_timeline(co, co.wall)


def report_direct_race(co: Checkout) -> None:
    """--pretix, phase 1: what the order creates secured."""
    rows = [s for s in co.samples if s[0] == "create"]
    print(f"\n--- phase 1, the race: {len(co.tokens):,} buyers, one POST orders/create each for 1 "
          f"{'seat' if co.kind == 'seated' else 'GA ticket'}, no retries: {len(rows):,} requests in {co.wall:.2f} s, "
          f"at most {co.concurrency} in flight ---")
    report_outcomes(co, ("create",))
    print("buyers: " + ", ".join(f"{k} {n:,}" for k, n in sorted(co.buyers.items())
                                 if not k.startswith(("login", "page"))))
    wall = co.wall or float("nan")
    print(f"secured: {len(co.ordered):,} orders, {co.tickets_secured:,} tickets → {co.tickets_secured / wall:,.1f} "
          f"tickets secured/s ({len(co.ordered) / wall:,.1f} orders/s), {len(rows) / wall:,.0f} requests/s")
    report_latency(co, ("create",), {"create 201s": [s[3] for s in rows if s[1] == 201]})


def report_direct_pay(co: Checkout) -> None:
    """--pretix, phase 2: the payments."""
    rows = [s for s in co.samples if s[0] == "pay"]
    print(f"\n--- phase 2, payment: {len(co.ordered):,} buyers with an order pay once, {len(rows):,} requests in "
          f"{co.pay_wall:.2f} s, at most {co.concurrency} in flight ---")
    report_outcomes(co, ("pay",))
    wall = co.pay_wall or float("nan")
    p50, p95, p99 = _services.percentiles([s[3] for s in rows])
    print(f"paid: {len(co.paid):,} orders, {sum(n for n, _t in co.paid.values()):,} tickets, "
          f"{sum(t for _n, t in co.paid.values()):,} points → {len(co.paid) / wall:,.1f} paid orders/s; "
          f"pay p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")


def statement_stats(co: Checkout) -> dict[str, tuple[list[int], list[int]]]:
    """Per step of the race: X-SQL-Statements of the successes (201/200) and of the 409s."""
    out = {}
    for step in co.steps:
        rows = [s for s in co.samples if s[0] == step and s[5] is not None]
        out[step] = ([s[5] for s in rows if s[1] == OK[step]], [s[5] for s in rows if s[1] == 409])
    return out


def journey_statements(co: Checkout) -> list[int]:
    """Per paid buyer: the statements of its answered steps (hold + order + pay, or create + pay)."""
    return [co.journey_sql[i] for i in co.paid_buyers if i in co.journey_sql]


def report_statements(co: Checkout) -> None:
    """SQL statements per request (the servers' X-SQL-Statements), min / median / max per step and answer."""
    stats = statement_stats(co)
    print(f"\n{'SQL statements (X-SQL-Statements)':38} {'n':>6} {'min':>5} {'median':>6} {'max':>5}")
    seen = 0
    for step in co.steps:
        for label, values in ((f"{NAMES[step]} {OK[step]}", stats[step][0]), (f"{NAMES[step]} 409", stats[step][1])):
            seen += len(values)
            if values:
                print(f"{label:38} {len(values):6,} {min(values):5} {statistics.median(values):6.0f} "
                      f"{max(values):5}")
    if not seen:
        print("  no answer carried X-SQL-Statements (servers without SQL_COUNT_HEADER=1?)")
        return
    journey = journey_statements(co)
    total = sum(s[5] or 0 for s in co.samples)
    what = " + ".join(co.steps)
    if journey:
        print(f"per paid buyer ({what}, answered steps): median {statistics.median(journey):.0f} "
              f"(min {min(journey)}, max {max(journey)}); every race request's statements ÷ paid orders: "
              f"{total / len(co.paid):,.1f}")


def check_database(sale: "_services.Sale", co: Checkout, *, points: int, buyers: int,
                   broker_down: bool) -> tuple[int, dict[str, int]]:
    """Checks money, tickets and counters in the database (and against what the buyers were told), that every
    committed payment was answered 200, and that each paid order's email waits in the outbox.
    Returns the failures and {"charges": committed payments, "answered": of them answered 200, "mails": …}."""
    from django.db.models import Count, Max, Q, Sum
    from django.utils import timezone

    from events.models import Event
    from orders.models import (
        LedgerEntry, LedgerKind, Order, OrderHold, OrderStatus, Payment, Ticket, TicketStatus, Wallet,
    )
    from ticketing.models import OutboxMessage
    from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, SessionSeat, Stock

    now = timezone.now()
    failures = 0

    def check(label: str, ok: bool, detail: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {detail}")

    print("\n--- consistency check (database) ---")
    event = Event.objects.get(pk=sale.event_id)
    session_id = sale.seated_session if co.kind == "seated" else sale.ga_session
    zero = Decimal(0)

    # Wallets and ledgers.
    ledger = dict(LedgerEntry.objects.values("wallet_id").annotate(s=Sum("amount")).values_list("wallet_id", "s"))
    last_ids = LedgerEntry.objects.values("wallet_id").annotate(last=Max("pk")).values_list("last", flat=True)
    last_after = dict(LedgerEntry.objects.filter(pk__in=list(last_ids)).values_list("wallet_id", "balance_after"))
    wallets = list(Wallet.objects.values_list("pk", "user_id", "balance"))
    off = [pk for pk, _u, balance in wallets if ledger.get(pk, zero) != balance]
    stale = [pk for pk, _u, balance in wallets if last_after.get(pk, zero) != balance]
    negative = [pk for pk, _u, balance in wallets if balance < 0]
    check("wallets", not off and not stale and not negative,
          f"{len(wallets):,} wallets; ledger sum ≠ balance: {len(off)}{' e.g. ' + str(off[:5]) if off else ''}; "
          f"last balance_after ≠ balance: {len(stale)}; negative: {len(negative)}")

    # Money.
    orders = Order.objects.filter(event=event)
    paid_orders = orders.filter(status__in=[OrderStatus.PAID, OrderStatus.USED])
    paid_total = paid_orders.aggregate(s=Sum("total"))["s"] or zero
    purchases = LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE, order__event=event)
    charged = -(purchases.aggregate(s=Sum("amount"))["s"] or zero)
    payments = Payment.objects.filter(order__event=event)
    paid_in = payments.aggregate(s=Sum("amount"))["s"] or zero
    lost = Decimal(points) * len(wallets) - sum((b for _pk, _u, b in wallets), zero)
    told = sum((t for _n, t in co.paid.values()), zero)
    check("points charged", charged == paid_total == paid_in == lost == told,
          f"purchase rows {charged:,} = paid orders' totals {paid_total:,} = payments {paid_in:,} = wallets' loss "
          f"{lost:,} = told in pay 200s {told:,}")
    n_paid, n_purchases, n_payments = paid_orders.count(), purchases.count(), payments.count()
    twice = list(payments.values("order_id").annotate(n=Count("pk")).filter(n__gt=1).values_list("order_id", flat=True))
    unpaid_charged = (payments.exclude(order__in=paid_orders).count()
                      + purchases.exclude(order__in=paid_orders).count())
    check("paid orders", n_paid == n_purchases == n_payments == len(co.paid) and not twice and not unpaid_charged,
          f"{n_paid:,} paid, {n_purchases:,} purchase rows, {n_payments:,} payments, {len(co.paid):,} pay 200s; "
          f"orders paid twice {len(twice)}; payments or purchases of unpaid orders {unpaid_charged}")
    by_status = Counter(orders.values_list("status", flat=True))
    items_by_order: dict[int, list] = defaultdict(list)
    for order_id, seat_id, qty, price in HoldItem.objects.filter(hold__order_hold__order__event=event).values_list(
            "hold__order_hold__order_id", "seat_id", "quantity", "unit_price"):
        items_by_order[order_id].append((seat_id, qty, price))
    totals = dict(orders.values_list("pk", "total"))
    wrong_total = [o for o, t in totals.items() if sum((q * p for _s, q, p in items_by_order[o]), zero) != t]
    told_off = [o for o, (n, t) in co.ordered.items() if o not in totals or totals[o] != t
                or sum(q for _s, q, _p in items_by_order[o]) != n]
    check("orders", not wrong_total and not told_off and len(totals) == len(co.ordered),
          f"{len(totals):,} orders (" + ", ".join(f"{s} {n:,}" for s, n in by_status.most_common())
          + f"), {len(co.ordered):,} order 201s; total ≠ held prices: {len(wrong_total)}; "
          f"≠ what order create told: {len(told_off)}")

    # Tickets and seats.
    tickets = Ticket.objects.filter(session_id=session_id)
    live_tickets = tickets.filter(status__in=[TicketStatus.VALID, TicketStatus.USED])
    n_tickets = live_tickets.count()
    dup_seats = (live_tickets.filter(seat__isnull=False).values("seat_id").annotate(n=Count("pk"))
                 .filter(n__gt=1).count())
    consumed = Hold.objects.filter(session_id=session_id, status=HoldStatus.CONSUMED)
    consumed_items = HoldItem.objects.filter(hold__in=consumed).aggregate(n=Sum("quantity"))["n"] or 0
    hold_order = dict(OrderHold.objects.filter(hold__session_id=session_id).values_list("hold_id", "order_id"))
    paid_ids = set(paid_orders.values_list("pk", flat=True))
    consumed_unpaid = sum(1 for h in consumed.values_list("pk", flat=True) if hold_order.get(h) not in paid_ids)
    per_order = Counter(live_tickets.values_list("order_id", flat=True))
    wrong_count = [o for o in paid_ids if per_order.get(o, 0) != sum(q for _s, q, _p in items_by_order[o])]
    wrong_count += [o for o in per_order if o not in paid_ids]
    told_tickets = sum(n for n, _t in co.paid.values())
    ticket_sum = live_tickets.aggregate(s=Sum("price"))["s"] or zero
    if co.kind == "seated":
        rows = SessionSeat.objects.filter(session_id=session_id)
        sold_rows = rows.filter(status=SeatStatus.SOLD)
        sold = sold_rows.count()
        seat_hold = dict(sold_rows.values_list("seat_id", "hold_id"))
        misplaced = sum(1 for seat_id, order_id in live_tickets.values_list("seat_id", "order_id")
                        if hold_order.get(seat_hold.get(seat_id)) != order_id)
        sold_not_consumed = sold_rows.exclude(hold__status=HoldStatus.CONSUMED).count()
        check("seats sold", not dup_seats and n_tickets == sold == consumed_items == told_tickets and not misplaced
              and not sold_not_consumed and sold <= len(sale.seat_ids),
              f"{n_tickets:,} valid tickets, {sold:,} seats sold, {consumed_items:,} items in consumed holds, "
              f"{told_tickets:,} tickets in pay 200s; seats in two valid tickets: {dup_seats}; tickets not in the "
              f"order whose hold sold their seat: {misplaced}; sold seats whose hold is not consumed: "
              f"{sold_not_consumed}")
        live = Hold.objects.filter(session_id=session_id, status=HoldStatus.ACTIVE, expires_at__gt=now)
        held_items = HoldItem.objects.filter(hold__in=live, seat__isnull=False)
        n_items, distinct = held_items.count(), held_items.values("seat_id").distinct().count()
        owner = dict(rows.values_list("seat_id", "hold_id"))
        foreign = sum(1 for h, s in held_items.values_list("hold_id", "seat_id") if owner.get(s) != h)
        held_rows = rows.filter(status=SeatStatus.HELD, held_until__gt=now).count()
        free = rows.filter(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now)).count()
        told_twice = sum(n - 1 for n in co.granted_seats.values() if n > 1)
        check("seat counters", n_items == distinct == held_rows and not foreign and not told_twice
              and sold + held_rows + free == rows.count(),
              f"{rows.count()} rows: sold {sold}, held {held_rows}, free {free}; live hold items {n_items} for "
              f"{distinct} seats; items whose seat row belongs to another hold {foreign}; seats granted twice "
              f"{told_twice}")
    else:
        stock = Stock.objects.get(session_id=session_id, ticket_type_id=sale.ga_type)
        live = Hold.objects.filter(session_id=session_id, status=HoldStatus.ACTIVE)
        held_items = HoldItem.objects.filter(hold__in=live, seat__isnull=True).aggregate(n=Sum("quantity"))["n"] or 0
        check("GA sold", n_tickets == stock.sold == consumed_items == told_tickets and stock.sold <= stock.total,
              f"{n_tickets:,} valid tickets, Stock.sold {stock.sold:,}, {consumed_items:,} in consumed holds, "
              f"{told_tickets:,} tickets in pay 200s (total {stock.total})")
        adds_up = stock.available + stock.held + stock.sold == stock.total
        check("GA counters", adds_up and held_items == stock.held and co.granted_ga <= stock.total,
              f"total {stock.total}, available {stock.available}, held {stock.held}, sold {stock.sold} (adds up: "
              f"{'yes' if adds_up else 'NO'}); items of active holds {held_items}; buyers told 201 for "
              f"{co.granted_ga}")
    check("tickets", not wrong_count and not consumed_unpaid and ticket_sum == paid_total,
          f"paid orders whose ticket count ≠ their items (or tickets of unpaid orders): {len(wrong_count)}; "
          f"consumed holds not in a paid order: {consumed_unpaid}; ticket prices {ticket_sum:,} = paid totals")

    # Every charge that committed was answered 200 (not a 5xx, a timeout or a dropped connection).
    charged_orders = set(payments.values_list("order_id", flat=True)) | paid_ids
    unanswered = sorted(charged_orders - set(co.paid))
    check("charges answered", not unanswered,
          f"{len(charged_orders):,} orders charged (payments rows or paid), {len(charged_orders) - len(unanswered):,} "
          f"answered 200; committed but not answered 200: {len(unanswered)}"
          + (f" e.g. orders {unanswered[:5]}" if unanswered else ""))

    # Nothing lost after the commit: each paid order's notice is one outbox row written with the payment
    # (orders.paid: the notification and its mail, pending while the broker is down or no worker runs), or,
    # delivered, its mail (mail.send); a payment of the old shape wrote the mail.send row directly.
    mails: dict[str, list[tuple[str, str]]] = defaultdict(list)  # recipient → (subject, state)
    for payload, state in OutboxMessage.objects.filter(handler="mail.send").values_list("payload", "state"):
        for to in payload.get("to") or []:
            mails[to].append((payload.get("subject", ""), state))
    notices: dict[int, list[str]] = defaultdict(list)  # order id → states of its orders.paid rows
    for payload, state in OutboxMessage.objects.filter(handler="orders.paid").values_list("payload", "state"):
        notices[payload.get("order")].append(state)
    pending_state, delivered = OutboxMessage.State.PENDING.value, OutboxMessage.State.DELIVERED.value
    states: Counter = Counter()
    pending = noticed_twice = 0
    for pk, number, email in paid_orders.values_list("pk", "number", "user__email"):
        mail = [state for subject, state in mails.get(email, []) if number in subject]
        noticed_twice += len(notices.get(pk, [])) > 1
        if notices.get(pk):
            state = notices[pk][0]
            if state == delivered and not mail:
                state = "delivered, but no mail.send row"
            states[f"orders.paid {state}"] += 1
            pending += state == pending_state
        elif mail:
            states[f"mail.send {mail[0]}"] += 1
            pending += mail[0] == pending_state
        else:
            states["missing"] += 1
    check("outbox", not states.get("missing") and not states.get("orders.paid delivered, but no mail.send row")
          and not noticed_twice and (pending == n_paid or not broker_down),
          f"paid-order notices of the {n_paid:,} paid orders: "
          + (", ".join(f"{state} {n:,}" for state, n in states.most_common()) or "none")
          + f"; orders with two orders.paid rows {noticed_twice}"
          + (" (the broker is down: all must be pending)" if broker_down else " (no Celery worker runs here)"))
    if len(wallets) != buyers:
        print(f"  NOTE: {len(wallets):,} wallets for {buyers:,} buyers (wallet_ensure made some?)")
    return failures, {"charges": len(charged_orders), "answered": len(charged_orders) - len(unanswered),
                      "mails": pending}


# --- main ----------------------------------------------------------------------------------------
def cpu_table(phases: list[tuple[str, dict[str, float]]], paid: int) -> float:
    """CPU seconds per process and phase, the servers' sum, and per paid order; returns server ms per paid order."""
    names = list(SERVERS) + ["bench client"]
    total = {k: sum(used.get(k, 0.0) for _label, used in phases) for k in names}
    columns = phases + ([("total", total)] if len(phases) > 1 else [])
    print(f"\n{'CPU seconds':14}" + "".join(f" {label:>9}" for label, _u in columns))
    for name in names:
        print(f"{name:14}" + "".join(f" {used.get(name, 0.0):9.2f}" for _l, used in columns))
        if name == SERVERS[-1]:
            print(f"{'  servers':14}" + "".join(f" {sum(used.get(k, 0.0) for k in SERVERS):9.2f}"
                                               for _l, used in columns))
    server_ms = 1000 * sum(total[k] for k in SERVERS)
    per_paid = server_ms / paid if paid else float("nan")
    print(f"CPU ms per paid order: {per_paid:.1f} (servers: {', '.join(SERVERS)}; {paid:,} paid orders), gunicorn "
          f"alone {1000 * total['gunicorn'] / paid if paid else float('nan'):.1f}; bench client "
          f"{1000 * total['bench client'] / paid if paid else float('nan'):.1f}")
    return per_paid


def run_once(args, servers: "_services.Servers", buyers: list, *, api_logins: range, page_logins: range,
             redis_url: str) -> dict:
    """One run: reset the bench database and this bench's Redis keys, race, report, check. Returns its figures."""
    from events.models import Event

    started = time.perf_counter()
    reset_orders()
    _services.reset_inventory()
    sale = _services.build_sale(rows=ROWS, per_row=PER_ROW, ga_total=ROWS * PER_ROW, name="压测 checkout")
    Event.objects.filter(pk=sale.event_id).update(real_name_required=False)  # no attendees to name
    fund_wallets(buyers, args.points)
    cleared = _services.clear_redis(redis_url, PREFIX)  # also a sold-out mark or a claim of the run before
    on_sale = (f"seated session {sale.seated_session} ({len(sale.seat_ids)} seats)" if args.kind == "seated"
               else f"GA session {sale.ga_session} ({sale.ga_total} tickets)")
    print(f"bench database {DATABASE}: event {sale.event_id} (not real-name), {on_sale}, {len(buyers):,} buyers "
          f"with {args.points:,} points each; {cleared} old Redis keys of {PREFIX}: removed "
          f"({time.perf_counter() - started:.1f} s)")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)" % os.getloadavg())
    log = servers.logs["gunicorn"]
    log_start = log.stat().st_size
    tokens = _services.mint_tokens(buyers)
    _services.run(warm_up(servers.http, sale.event_id, tokens))
    co = Checkout(sale, tokens, servers.http, kind=args.kind, concurrency=args.concurrency, retries=args.retries,
                  seed=args.seed, emails=[u.email for u in buyers], pretix=args.pretix)
    meter = _services.CpuMeter({"gunicorn": servers.pid("gunicorn"), "uvicorn": servers.pid("uvicorn")})
    if api_logins or page_logins:
        meter.start()
        _services.run(co.log_in(api_logins, page_logins, concurrency=args.login_concurrency))
        cpu = meter.stop()
        report_logins(co)
        print(cpu + (f"; gunicorn {1000 * meter.used.get('gunicorn', 0) / len(co.login_samples):.0f} ms per "
                     "request" if co.login_samples else ""))
    status_before = mariadb_status()
    if args.pretix:
        meter.start()
        _services.run(co.race_direct())
        cpu_race, used_race = meter.stop(), dict(meter.used)
        meter.start()
        _services.run(co.pay_all())
        cpu_pay, used_pay = meter.stop(), dict(meter.used)
        status_after = mariadb_status()
        report_direct_race(co)
        print("phase 1 " + cpu_race)
        report_direct_pay(co)
        print("phase 2 " + cpu_pay)
        per_paid = cpu_table([("phase 1", used_race), ("phase 2", used_pay)], len(co.paid))
        report_mariadb(status_before, status_after, co.wall + co.pay_wall)
        report_timeline(co, max((s[4] for s in co.samples), default=0.0) or 1.0)
    else:
        meter.start()
        _services.run(co.run())
        cpu = meter.stop()
        status_after = mariadb_status()
        report_race(co)
        print(cpu)
        report_mariadb(status_before, status_after, co.wall)
        n = len(co.samples)
        server_ms = {k: 1000 * meter.used.get(k, 0) for k in SERVERS}
        per_request = sum(server_ms.values()) / n if n else float("nan")
        print("CPU per request: " + ", ".join(f"{k} {v / n:.1f} ms" for k, v in server_ms.items())
              + f" → with both cores for the servers alone, at most ~{2000 / per_request:,.0f} requests/s of this mix")
        per_paid = cpu_table([("race", dict(meter.used))], len(co.paid))
        print("  (per paid order: all its requests and the 409s around it)")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    report_steps(co)
    report_statements(co)
    with open(log, "rb") as f:
        f.seek(log_start)
        print(f"\ngunicorn log ({log}, this run): " + _services.outage_log_summary(f.read().decode(errors="replace")))
    failures, money = check_database(sale, co, points=args.points, buyers=len(buyers),
                                     broker_down=bool(args.redis_down))

    every = co.login_samples + co.samples
    server_errors = sum(1 for r in every if r[1] >= 500)
    no_answer = sum(1 for r in every if r[1] == 0)
    pay_p99 = _services.percentiles([r[3] for r in co.samples if r[0] == "pay"])[2]
    login_p99 = _services.percentiles([r[3] for r in co.login_samples if r[0] == "login"])[2]
    page_p99 = _services.percentiles([r[3] for r in co.login_samples if r[0] == "page login"])[2]
    all_answered = money["answered"] == money["charges"]
    rate = co.tickets_secured / co.wall if co.wall else 0
    p99 = _services.percentiles([s[3] for s in co.samples if s[0] != "pay"])[2]
    stats = statement_stats(co)
    medians = {step: statistics.median(ok) for step, (ok, _refused) in stats.items() if ok}
    journey = journey_statements(co)
    limits = {"hold": 4, "order": 4, "create": 8, "pay": 6}  # create: the hold's 4 + the order's 4
    sql = "; ".join(f"{step} ≤ {limits[step]}: {'met' if medians[step] <= limits[step] else 'MISSED'} "
                    f"({medians[step]:.0f}, max {max(stats[step][0])})" for step in co.steps if step in medians)
    journey_part = "" if args.pretix else f"; whole journey p99 {_services.percentiles(co.journey_ms)[2]:.0f} ms"
    print(f"\ntargets: ≥ 250 tickets secured/s: {'met' if rate >= 250 else 'MISSED'} ({rate:,.0f}); "
          f"p99 < 1 s: {'met' if p99 < 1000 else 'MISSED'} ({p99:.0f} ms, "
          f"{'order create' if args.pretix else 'hold + order'} requests{journey_part}); CPU per paid order ≤ 20 ms: "
          f"{'met' if per_paid <= 20 else 'MISSED'} ({per_paid:.1f} ms); SQL statements (median of the successes) "
          + (sql or "not sent") + f"; consistency: {'met' if not failures else 'MISSED'}")
    logins = (f"login p99 {login_p99:.0f} ms (page login p99 {page_p99:.0f} ms)" if co.login_samples
              else "no logins")
    print(f"redis-down={args.redis_down or 'no'}: {server_errors} 5xx, {no_answer} unanswered, "
          f"{'every charge answered 200' if all_answered else 'charges NOT all answered 200'} "
          f"({money['answered']:,}/{money['charges']:,}), pay p99 {pay_p99:.0f} ms, {logins}; "
          f"{money['mails']:,} notices of paid orders pending in the outbox")
    figures = {"tickets secured/s": rate, "secured p99 ms": p99, "CPU ms per paid order": per_paid,
               "pay p99 ms": pay_p99}
    figures.update({f"statements {NAMES[step]} {OK[step]}": value for step, value in medians.items()})
    if journey:
        figures["statements per paid buyer"] = statistics.median(journey)
    failed = bool(failures or server_errors or no_answer or not all_answered)
    return {"figures": figures, "failed": failed}


def report_repeats(results: list[dict]) -> None:
    """min / median / max of each figure over the runs, and which runs failed."""
    print(f"\n=== over {len(results)} runs: min / median / max ===")
    names = [k for k in results[0]["figures"]]
    names += [k for r in results for k in r["figures"] if k not in names]
    for name in names:
        values = [r["figures"][name] for r in results if name in r["figures"]]
        print(f"{name:40} {min(values):9,.1f} / {statistics.median(values):9,.1f} / {max(values):9,.1f}"
              + (f"  ({len(values)} of the runs)" if len(values) != len(results) else ""))
    failed = [i + 1 for i, r in enumerate(results) if r["failed"]]
    print(f"runs failing a check or with 5xx / unanswered requests: {', '.join(map(str, failed)) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--refill", action="store_true", help="drop the bench database and build it again")
    parser.add_argument("--pretix", action="store_true",
                        help="pretix's race: one POST orders/create for one ticket per buyer, then one pay each "
                             "(implies --kind ga --buyers 2000 --concurrency 200 --retries 0 --logins 0 "
                             "--page-logins 0 unless given)")
    parser.add_argument("--kind", choices=["seated", "ga"],
                        help="seated: 500 seats, 20 rows × 25 (default); ga: 500 GA tickets (default with --pretix)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--concurrency", type=int,
                        help="buyers checking out at once, one request in flight each (default 64; 200 with --pretix)")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the gunicorn workers (default 60, the app's default)")
    parser.add_argument("--buyers", type=int, help="default 2000")
    parser.add_argument("--retries", type=int, help="hold tries after a 409 (default 2; 0 with --pretix, which "
                                                    "has none)")
    parser.add_argument("--points", type=int, default=5000,
                        help="points in each buyer's wallet at the start (default 5000; 4 seats cost 1,520)")
    parser.add_argument("--logins", type=int,
                        help="buyers who log in over the API first and check out with that token (default 100, 0 "
                             "with --pretix; each login is a bcrypt check, ~0.3 s of CPU)")
    parser.add_argument("--page-logins", type=int,
                        help="other buyers who log in on the page (default 10, 0 with --pretix)")
    parser.add_argument("--login-concurrency", type=int, default=8,
                        help="logins at once (default 8: people log in over minutes, not all in one second)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs (reset, race, checks) with the servers left up; then min / median / max")
    _services.add_redis_down_option(parser)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    for name, value in (PRETIX if args.pretix else USUAL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.pretix and args.retries:
        parser.error("--pretix sends one order create per buyer: no --retries")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    _services.stop_on_sigterm()

    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=args.conn_max_age)
    env["THROTTLE_ORDERS"] = os.environ["THROTTLE_ORDERS"] = NO_THROTTLE  # order create and pay
    env["SQL_COUNT_HEADER"] = "1"  # the servers' answers say how many statements they sent
    redis_url = env["REDIS_URL"]
    _lock = hold_bench_lock()  # held until the process ends
    _services.prepare_database(refill=args.refill)
    buyers = _services.ensure_buyers(args.buyers)
    api_logins = range(min(args.logins, len(buyers)))
    page_logins = range(api_logins.stop, min(api_logins.stop + args.page_logins, len(buyers)))
    if page_logins.stop:
        give_password(buyers[:page_logins.stop])
    outage = _services.RedisOutage(args.redis_down)
    mode = ("pretix's race: one order create (1 ticket) per buyer, then one pay" if args.pretix
            else f"hold → order → pay, {args.retries} hold retries")
    print(f"{mode}; {args.kind}, {len(buyers):,} buyers, {args.concurrency} in flight; {args.repeat} run(s)")
    print(f"servers: gunicorn {args.workers} sync workers (DB_CONN_MAX_AGE={args.conn_max_age}) + uvicorn 1 worker; "
          f"{outage.describe(redis_url)}; THROTTLE_HOLDS/ORDERS {NO_THROTTLE}; SQL_COUNT_HEADER=1")
    results = []
    try:
        with outage, _services.Servers(env, name="checkout", workers=args.workers, server_env=outage.env) as servers:
            print(f"up: HTTP {servers.http}, websockets {servers.ws}; logs in {_services.LOG_DIR}")
            for run in range(1, args.repeat + 1):
                if args.repeat > 1:
                    print(f"\n=== run {run} of {args.repeat} ===")
                results.append(run_once(args, servers, buyers, api_logins=api_logins, page_logins=page_logins,
                                        redis_url=redis_url))
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped")
        return 130
    if args.repeat > 1:
        report_repeats(results)
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    _services.exit_with(main())
