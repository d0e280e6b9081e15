#!/usr/bin/env python
"""Checkout: 2,000 buyers race over HTTP for 500 tickets, hold → order → pay (prints figures; exits 1 if inconsistent).

    .venv/bin/python bench/checkout.py                          # seated, 4 gunicorn workers, 64 buyers at once
    .venv/bin/python bench/checkout.py --kind ga                # 500 GA tickets instead of 500 seats
    .venv/bin/python bench/checkout.py --workers 6 --concurrency 32 --conn-max-age 0
    .venv/bin/python bench/checkout.py --buyers 400 --retries 0
    .venv/bin/python bench/checkout.py --redis-down --buyers 400       # every Redis URL of the servers refused
    .venv/bin/python bench/checkout.py --redis-down hung --buyers 400  # … or accepting and never answering
    .venv/bin/python bench/checkout.py --refill                 # drop the bench database and build it again

Uses a MariaDB database of its own, `ticketing_bench_checkout` (utf8mb4, created and migrated if
missing; BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server) and
Redis database 9 under the key prefix `bench-checkout` (BENCH_REDIS_URL, default
redis://127.0.0.1:6379): it deletes only those keys. Each run empties the bench database's
orders, tickets, payments, wallets and ledger, then its inventory, and builds one approved event
(not real-name) with a seated session (20 rows × 25 seats, one ticket type at 380) and a GA
session (500 tickets at 180); 2,000 buyers are made once (with an email address, unusable
passwords), each gets a fresh points wallet of --points (a grant row in its ledger, as the app's
welcome grant writes it) and an access JWT minted in-process; the first --logins + --page-logins
buyers get a real password.

The services layout then runs as subprocesses on free ports (logs in var/bench/): gunicorn with
deploy/gunicorn.conf.py (--workers sync workers, DB_CONN_MAX_AGE=--conn-max-age) for HTTP,
uvicorn (DB_CONN_MAX_AGE=0) for /ws/; both must answer /healthz with the database up.
THROTTLE_HOLDS and THROTTLE_ORDERS are 100000/min. With --redis-down every Redis URL of the
servers (REDIS_URL: cache, throttle counters, seat claims; CHANNEL_LAYER_URL; CELERY_BROKER_URL and
CELERY_RESULT_BACKEND) is a closed port ("refused") or a local socket that accepts connections and
never answers ("hung"); this process still reaches the real Redis to clear its keys.

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
The servers are stopped on exit and on Ctrl-C.

It prints per step (login, page login, hold, order, pay) the requests, their status codes and
p50/p95/p99; outcomes per step (successes, 409s by code, other errors), tickets secured per second
(tickets in the 201s of order create ÷ race wall time: a ticket is secured once its hold is a
pending order), paid orders per second, latency p50/p95/p99 per step and per buyer (hold → order,
and the whole hold → order → pay journey), the CPU each process used, MariaDB's counters over the
race (server-wide: statements, commits, fsyncs, row lock waits, deadlocks); then checks the DATABASE:
each wallet's ledger sums to its balance (and its last balance_after is it); the points charged
(purchase rows) = the payments = the paid orders' totals = what the wallets lost = what buyers were
told; each order's total is its held prices; no seat in two valid tickets of the session; tickets
= seats (or GA tickets) sold = items of consumed holds, each ticket in the order whose hold sold
its seat; SessionSeat / Stock counters agree with the live and consumed holds; no seat granted
twice; every committed payment (payments rows, paid orders) was answered 200; each paid order's
email is an outbox row (ticketing.models.OutboxMessage, handler "mail.send"), pending while the
broker is down (no Celery worker runs here, so also with Redis up). The last line sums it up:
`redis-down=hung: 0 5xx, every charge answered 200 (N/N), pay p99 X ms, login p99 Y ms`.
Exit status 1 when any check fails, any request answered 5xx or not at all, or a committed payment
was not answered 200.

Targets on this 2-core machine (the load generator shares the cores): ≥ 250 tickets secured/s,
p99 < 1 s for the requests that secure tickets (POST holds and POST orders/create; the whole
journey's p99 is printed too), and a consistent database.
"""

import argparse
import asyncio
import json
import os
import random
import re
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
LOGIN_STEPS = ("login", "page", "page login")
OK = {"login": 200, "page": 200, "page login": 302, "hold": 201, "order": 201, "pay": 200}
NAMES = {"login": "POST api/auth/login", "page": "GET login page, orders", "page login": "POST accounts/login",
         "hold": "POST holds", "order": "POST orders/create", "pay": "POST orders/pay"}
PASSWORD = "bench-correct-horse-7"  # of the buyers who log in
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- the buyers ------------------------------------------------------------------------------
class Checkout:
    def __init__(self, sale: "_services.Sale", tokens: list[str], base: str, *, kind: str, concurrency: int,
                 retries: int, seed: int, emails: list[str] | None = None):
        self.sale, self.tokens, self.base, self.kind = sale, tokens, base, kind
        self.concurrency, self.retries, self.seed = concurrency, retries, seed
        self.emails = emails or []
        self.login_samples: list[tuple[str, int, str, float, float]] = []  # as samples, in the login phase
        self.login_wall, self.login_concurrency = 0.0, 0
        self.view_taken: set[int] = set()  # what the live seat map shows held
        self.samples: list[tuple[str, int, str, float, float]] = []  # step, status, code, ms, ended (s from start)
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
        self.wall = 0.0

    async def request(self, http, path: str, token: str | None, body: dict, step: str,
                      samples: list | None = None) -> tuple[int, str, dict | None]:
        import aiohttp

        started = time.perf_counter()
        data = None
        try:
            async with http.post(self.base + path, json=body,
                                 headers={"Authorization": f"Bearer {token}"} if token else {}) as response:
                status, raw = response.status, await response.read()
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
                                                               ended - self.started))
        return status, code, data if status == OK[step] else None

    async def page_request(self, http, method: str, path: str, step: str, data: dict | None = None):
        """A page request without following redirects: (status, body text), recorded as a login sample."""
        import aiohttp

        started = time.perf_counter()
        text, code = "", ""
        try:
            async with http.request(method, self.base + path, data=data, allow_redirects=False,
                                    headers={"Accept-Language": "zh-hans"}) as response:
                status, text = response.status, await response.text(errors="replace")
                if status == 302:
                    code = "→ " + response.headers.get("Location", "?").split("?")[0]
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            status, code = 0, type(exc).__name__
        ended = time.perf_counter()
        self.login_samples.append((step, status, code, (ended - started) * 1000, ended - self.started))
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

    async def hold_seats(self, http, rng: random.Random, token: str) -> int | None:
        k = rng.randint(1, 4)
        failed: set[int] = set()
        for _ in range(1 + self.retries):
            seats = self.sale.pick(rng, k, self.view_taken | failed)
            if not seats:
                self.buyers["no seat shown free"] += 1
                return None
            status, _code, data = await self.request(http, "/api/tickets/holds", token,
                                                     {"session": self.sale.seated_session, "seats": seats}, "hold")
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

    async def hold_ga(self, http, rng: random.Random, token: str) -> int | None:
        n = rng.randint(1, 4)
        for _ in range(1 + self.retries):
            if self.ga_sold_out:
                self.buyers["sold out shown"] += 1
                return None
            status, code, data = await self.request(http, "/api/tickets/holds", token,
                                                    {"session": self.sale.ga_session,
                                                     "quantities": {str(self.sale.ga_type): n}}, "hold")
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

    async def buyer(self, http, i: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + i)
        token = self.tokens[i]
        async with self.sem:
            started = time.perf_counter()
            hold_id = await (self.hold_seats if self.kind == "seated" else self.hold_ga)(http, rng, token)
            if hold_id is None:
                return
            status, _code, order = await self.request(http, "/api/orders/create", token, {"holds": [hold_id]},
                                                      "order")
            if status != 201:
                self.buyers["held, order refused"] += 1
                return
            secured = time.perf_counter()
            self.secure_ms.append((secured - started) * 1000)
            tickets = sum(line["quantity"] for line in order["lines"])
            self.secured.append((secured - self.started, tickets))
            self.ordered[order["id"]] = (tickets, Decimal(order["total"]))
            status, _code, paid = await self.request(http, f"/api/orders/pay/{order['id']}", token,
                                                     {"idempotency_key": uuid.UUID(int=rng.getrandbits(128)).hex},
                                                     "pay")
            if status != 200:
                self.buyers["ordered, payment refused"] += 1
                return
            done = time.perf_counter()
            self.journey_ms.append((done - started) * 1000)
            self.paid_at.append(done - self.started)
            self.paid[paid["id"]] = (len(paid["tickets"]), Decimal(paid["total"]))
            self.buyers["paid" if paid["status"] == "paid" else f"pay 200 but status {paid['status']}"] += 1

    async def run(self) -> None:
        import aiohttp

        self.sem = asyncio.Semaphore(self.concurrency)  # buyers mid-checkout; each has one request in flight
        # gunicorn's sync workers close every connection; so does the client.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
            self.started = time.perf_counter()
            await asyncio.gather(*(self.buyer(http, i) for i in range(len(self.tokens))))
            self.wall = time.perf_counter() - self.started

    @property
    def tickets_secured(self) -> int:
        return sum(n for _t, n in self.secured)


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
    for step in LOGIN_STEPS + STEPS:
        rows = [r for r in co.login_samples + co.samples if r[0] == step]
        if rows:
            p50, p95, p99 = _services.percentiles([r[3] for r in rows])
            print(f"{NAMES[step]:24} {len(rows):6,} {p50:7.0f} {p95:7.0f} {p99:7.0f}  {status_histogram(rows)}")


def report_race(co: Checkout) -> None:
    samples = co.samples
    print(f"\n--- the race: {len(co.tokens):,} buyers, {len(samples):,} requests in {co.wall:.1f} s, "
          f"{co.concurrency} buyers at once ---")
    names = {"hold": "POST holds", "order": "POST orders/create", "pay": "POST orders/pay"}
    for step in STEPS:
        rows = [s for s in samples if s[0] == step]
        ok = sum(1 for s in rows if s[1] == OK[step])
        conflicts = Counter(s[2] or "?" for s in rows if s[1] == 409)
        other = Counter(f"{s[1]} {s[2]}".strip() for s in rows if s[1] not in (OK[step], 409))
        print(f"{names[step]:19} {len(rows):5,} requests: {OK[step]} ×{ok:,}; 409 "
              + (", ".join(f"{code} ×{n:,}" for code, n in conflicts.most_common()) or "none")
              + "; other " + (", ".join(f"{k} ×{n:,}" for k, n in other.most_common()) or "none"))
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

    print(f"\n{'latency ms':26} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    groups: dict[str, list[float]] = defaultdict(list)
    for step, status, code, ms, _t in samples:
        groups[names[step]].append(ms)
        groups[f"  {names[step].split()[1]} {status} {code}".rstrip()].append(ms)
        if step != "pay":
            groups["hold + order requests"].append(ms)
    groups["buyer: hold → order"] = co.secure_ms
    groups["buyer: hold → order → pay"] = co.journey_ms
    order = [names[s] for s in STEPS] + sorted(k for k in groups if k.startswith("  ")) + \
        ["hold + order requests", "buyer: hold → order", "buyer: hold → order → pay"]
    for name in order:
        values = groups.get(name)
        if values:
            p50, p95, p99 = _services.percentiles(values)
            print(f"{name:26} {len(values):6,} {p50:7.1f} {p95:7.1f} {p99:7.1f} {max(values):7.1f}")

    buckets = 8
    width = co.wall / buckets
    print(f"\n{'timeline':14} {'req/s':>6} {'secured/s':>9} {'paid/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for b in range(buckets):
        lo, hi = b * width, (b + 1) * width if b < buckets - 1 else float("inf")
        rows = [s for s in samples if lo <= s[4] < hi]
        if rows:
            p50, _p95, p99 = _services.percentiles([r[3] for r in rows])
            secured = sum(n for t, n in co.secured if lo <= t < hi)
            paid = sum(1 for t in co.paid_at if lo <= t < hi)
            print(f"{lo:5.1f}–{lo + width:4.1f} s   {len(rows) / width:6.0f} {secured / width:9.0f} "
                  f"{paid / width:7.0f} {p50:7.0f} {p99:7.0f}")


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

    # Nothing lost after the commit: each paid order's email is an outbox row (pending while the broker is down).
    mails: dict[str, list[tuple[str, str]]] = defaultdict(list)  # recipient → (subject, state)
    for payload, state in OutboxMessage.objects.filter(handler="mail.send").values_list("payload", "state"):
        for to in payload.get("to") or []:
            mails[to].append((payload.get("subject", ""), state))
    states: Counter = Counter()
    for number, email in paid_orders.values_list("number", "user__email"):
        found = [state for subject, state in mails.get(email, []) if number in subject]
        states[found[0] if found else "missing"] += 1
    pending = states.get(OutboxMessage.State.PENDING.value, 0)
    check("outbox", not states.get("missing") and (pending == n_paid or not broker_down),
          f"mail.send rows of the {n_paid:,} paid orders: pending {pending:,}"
          + "".join(f", {state} {n:,}" for state, n in states.items() if state != OutboxMessage.State.PENDING.value)
          + (" (the broker is down: all must be pending)" if broker_down else " (no Celery worker runs here)"))
    if len(wallets) != buyers:
        print(f"  NOTE: {len(wallets):,} wallets for {buyers:,} buyers (wallet_ensure made some?)")
    return failures, {"charges": len(charged_orders), "answered": len(charged_orders) - len(unanswered),
                      "mails": pending}


# --- main ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--refill", action="store_true", help="drop the bench database and build it again")
    parser.add_argument("--kind", choices=["seated", "ga"], default="seated",
                        help="seated: 500 seats, 20 rows × 25 (default); ga: 500 GA tickets")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="buyers checking out at once, one request in flight each (default 64)")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the gunicorn workers (default 60, the app's default)")
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--retries", type=int, default=2, help="hold tries after a 409 (default 2)")
    parser.add_argument("--points", type=int, default=5000,
                        help="points in each buyer's wallet at the start (default 5000; 4 seats cost 1,520)")
    parser.add_argument("--logins", type=int, default=100,
                        help="buyers who log in over the API first and check out with that token (default 100; "
                             "each login is a bcrypt check, ~0.3 s of CPU)")
    parser.add_argument("--page-logins", type=int, default=10, help="other buyers who log in on the page (default 10)")
    parser.add_argument("--login-concurrency", type=int, default=8,
                        help="logins at once (default 8: people log in over minutes, not all in one second)")
    _services.add_redis_down_option(parser)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    _services.stop_on_sigterm()

    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=args.conn_max_age)
    env["THROTTLE_ORDERS"] = os.environ["THROTTLE_ORDERS"] = NO_THROTTLE  # order create and pay
    redis_url = env["REDIS_URL"]
    started = time.perf_counter()
    _services.prepare_database(refill=args.refill)
    reset_orders()
    _services.reset_inventory()
    sale = _services.build_sale(rows=ROWS, per_row=PER_ROW, ga_total=ROWS * PER_ROW, name="压测 checkout")
    from events.models import Event

    Event.objects.filter(pk=sale.event_id).update(real_name_required=False)  # no attendees to name
    buyers = _services.ensure_buyers(args.buyers)
    fund_wallets(buyers, args.points)
    api_logins = range(min(args.logins, len(buyers)))
    page_logins = range(api_logins.stop, min(api_logins.stop + args.page_logins, len(buyers)))
    give_password(buyers[:page_logins.stop])
    cleared = _services.clear_redis(redis_url, PREFIX)
    on_sale = (f"seated session {sale.seated_session} ({len(sale.seat_ids)} seats)" if args.kind == "seated"
               else f"GA session {sale.ga_session} ({sale.ga_total} tickets)")
    print(f"bench database {DATABASE}: event {sale.event_id} (not real-name), {on_sale}, {len(buyers):,} buyers "
          f"with {args.points:,} points each; {cleared} old Redis keys of {PREFIX}: removed "
          f"({time.perf_counter() - started:.1f} s)")
    outage = _services.RedisOutage(args.redis_down)
    print(f"servers: gunicorn {args.workers} sync workers (DB_CONN_MAX_AGE={args.conn_max_age}) + uvicorn 1 worker; "
          f"{outage.describe(redis_url)}; THROTTLE_HOLDS/ORDERS {NO_THROTTLE}")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)" % os.getloadavg())
    try:
        with outage, _services.Servers(env, name="checkout", workers=args.workers, server_env=outage.env) as servers:
            print(f"up: HTTP {servers.http}, websockets {servers.ws}; logs in {_services.LOG_DIR}")
            tokens = _services.mint_tokens(buyers)
            _services.run(warm_up(servers.http, sale.event_id, tokens))
            co = Checkout(sale, tokens, servers.http, kind=args.kind, concurrency=args.concurrency,
                          retries=args.retries, seed=args.seed, emails=[u.email for u in buyers])
            meter = _services.CpuMeter({"gunicorn": servers.pid("gunicorn"), "uvicorn": servers.pid("uvicorn")})
            meter.start()
            _services.run(co.log_in(api_logins, page_logins, concurrency=args.login_concurrency))
            cpu = meter.stop()
            report_logins(co)
            print(cpu + (f"; gunicorn {1000 * meter.used.get('gunicorn', 0) / len(co.login_samples):.0f} ms per "
                         "request" if co.login_samples else ""))
            status_before = mariadb_status()
            meter.start()
            _services.run(co.run())
            cpu = meter.stop()
            status_after = mariadb_status()
            report_race(co)
            print(cpu)
            report_mariadb(status_before, status_after, co.wall)
            n = len(co.samples)
            server_ms = {k: 1000 * meter.used.get(k, 0) for k in ("gunicorn", "mariadb", "redis")}
            per_request = sum(server_ms.values()) / n if n else float("nan")
            per_paid = sum(server_ms.values()) / len(co.paid) if co.paid else float("nan")
            print("CPU per request: " + ", ".join(f"{k} {v / n:.1f} ms" for k, v in server_ms.items())
                  + f"; per paid order (all its requests and the 409s around it): {per_paid:.0f} ms "
                  f"→ with both cores for the servers alone, at most ~{2000 / per_request:,.0f} requests/s of this mix")
            print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
            report_steps(co)
            print(f"\ngunicorn log ({servers.logs['gunicorn']}): "
                  + _services.outage_log_summary(servers.logs["gunicorn"].read_text(errors="replace")))
            failures, money = check_database(sale, co, points=args.points, buyers=len(buyers),
                                             broker_down=bool(args.redis_down))
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped")
        return 130
    every = co.login_samples + co.samples
    server_errors = sum(1 for r in every if r[1] >= 500)
    no_answer = sum(1 for r in every if r[1] == 0)
    pay_p99 = _services.percentiles([r[3] for r in co.samples if r[0] == "pay"])[2]
    login_p99 = _services.percentiles([r[3] for r in co.login_samples if r[0] == "login"])[2]
    page_p99 = _services.percentiles([r[3] for r in co.login_samples if r[0] == "page login"])[2]
    all_answered = money["answered"] == money["charges"]
    rate = co.tickets_secured / co.wall if co.wall else 0
    securing = [s[3] for s in co.samples if s[0] != "pay"]
    p99 = _services.percentiles(securing)[2]
    journey_p99 = _services.percentiles(co.journey_ms)[2]
    print(f"\ntargets: ≥ 250 tickets secured/s: {'met' if rate >= 250 else 'MISSED'} ({rate:,.0f}); "
          f"p99 < 1 s: {'met' if p99 < 1000 else 'MISSED'} ({p99:.0f} ms, hold + order requests; "
          f"whole journey p99 {journey_p99:.0f} ms); consistency: {'met' if not failures else 'MISSED'}")
    print(f"redis-down={args.redis_down or 'no'}: {server_errors} 5xx, {no_answer} unanswered, "
          f"{'every charge answered 200' if all_answered else 'charges NOT all answered 200'} "
          f"({money['answered']:,}/{money['charges']:,}), pay p99 {pay_p99:.0f} ms, login p99 {login_p99:.0f} ms "
          f"(page login p99 {page_p99:.0f} ms); {money['mails']:,} mails of paid orders pending in the outbox")
    return 1 if failures or server_errors or no_answer or not all_answered else 0


if __name__ == "__main__":
    _services.exit_with(main())
