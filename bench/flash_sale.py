#!/usr/bin/env python
"""Flash sale: 2,000 buyers race over HTTP for 500 seats and 1,000 GA tickets (prints figures; exits 1 if oversold).

    .venv/bin/python bench/flash_sale.py                        # 4 gunicorn workers, 64 requests in flight
    .venv/bin/python bench/flash_sale.py --workers 6 --concurrency 32 --conn-max-age 0
    .venv/bin/python bench/flash_sale.py --redis-down           # the servers' Redis is a refused port
    .venv/bin/python bench/flash_sale.py --redis-down hung --buyers 40   # … or one that never answers
    .venv/bin/python bench/flash_sale.py --profile              # also: SQL, Redis calls and a profile of one hold
    .venv/bin/python bench/flash_sale.py --refill               # drop the bench database and build it again

Uses a MariaDB database of its own, `ticketing_bench_sale` (utf8mb4, created and migrated if
missing; BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server) and
Redis database 7 under the key prefix `bench-sale` (BENCH_REDIS_URL, default
redis://127.0.0.1:6379): it deletes only those keys. Each run empties the bench database's
inventory and builds one approved event with a seated session (20 rows × 25 seats, one ticket
type) and a GA session (one ticket type, 1,000 tickets); 2,000 buyers are made once (unusable
passwords) and get access JWTs minted in-process.

The services layout then runs as subprocesses on free ports (logs in var/bench/): gunicorn
with deploy/gunicorn.conf.py (--workers sync workers, DB_CONN_MAX_AGE=--conn-max-age) for
HTTP, uvicorn (DB_CONN_MAX_AGE=0) for /ws/; both must answer /healthz with the database up.
After a short warm-up the buyers race, at most --concurrency requests in flight: each tries
to hold seats — 1–4 adjacent seats with POST /api/tickets/holds, or one seat with
PUT /api/tickets/lock/<id> (--lock-share of buyers) — picked front-rows-first among those the
seat map shows free (the map learns every 201 at once, as the socket would tell it), and
1–4 GA tickets; on 409 a buyer tries again up to --retries times (other seats, fewer GA
tickets). Throttling is set to 100000/min. The servers are stopped on exit and on Ctrl-C.

It prints outcomes (201s, 409s by code, other errors), requests/s over the race, latency
p50/p95/p99, the CPU each process used, then checks the DATABASE for overselling: seats held
twice (a seat in two live holds, or a live hold's seat row belonging to another hold), GA
items that don't add up to Stock.held, counters that don't add up to the total, more than the
total held; and what the buyers were told (two 201s for one seat, more GA tickets than exist).
Exit status 1 when anything was oversold or a counter is off.

Targets on this 2-core machine (the load generator shares the cores): ≥ 500 hold requests/s,
p99 < 250 ms, 0 oversold.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _services  # noqa: E402

DATABASE = "ticketing_bench_sale"
REDIS_DB = 7
PREFIX = "bench-sale"
ROWS, PER_ROW = 20, 25


# --- the buyers ------------------------------------------------------------------------------
class Race:
    def __init__(self, sale: "_services.Sale", tokens: list[str], base: str, *, concurrency: int, retries: int,
                 lock_share: float, seed: int):
        self.sale, self.tokens, self.base = sale, tokens, base
        self.concurrency, self.retries, self.lock_share, self.seed = concurrency, retries, lock_share, seed
        self.view_taken: set[int] = set()  # what the live seat map shows held
        self.samples: list[tuple[str, int, str, float]] = []  # kind, status, code, ms
        self.finished: list[float] = []  # when each sample ended, s from the start
        self.granted_seats: Counter = Counter()  # seat → 201s that included it
        self.granted_ga = 0
        self.buyers: Counter = Counter()
        self.wall = 0.0

    async def request(self, http, method: str, path: str, token: str, body: dict, kind: str) -> tuple[int, str]:
        import aiohttp

        async with self.sem:
            started = time.perf_counter()
            try:
                async with http.request(method, self.base + path, json=body,
                                        headers={"Authorization": f"Bearer {token}"}) as response:
                    status, data = response.status, await response.read()
                code = ""
                if status != 201:
                    try:
                        code = json.loads(data).get("code", "") or ""
                    except (ValueError, AttributeError):
                        code = "not json"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                status, code = 0, type(exc).__name__
            ms = (time.perf_counter() - started) * 1000
        self.samples.append((kind, status, code, ms))
        self.finished.append(time.perf_counter() - self.started)
        return status, code

    async def seats(self, http, rng: random.Random, token: str) -> None:
        lock = rng.random() < self.lock_share
        k = 1 if lock else rng.randint(1, 4)
        failed: set[int] = set()
        for _ in range(1 + self.retries):
            seats = self.sale.pick(rng, k, self.view_taken | failed)
            if not seats:
                self.buyers["seats: none shown free"] += 1
                return
            if lock:
                status, _code = await self.request(http, "PUT", f"/api/tickets/lock/{seats[0]}", token,
                                                   {"session": self.sale.seated_session}, "PUT lock")
            else:
                status, _code = await self.request(http, "POST", "/api/tickets/holds", token,
                                                   {"session": self.sale.seated_session, "seats": seats}, "POST seats")
            if status == 201:
                self.view_taken.update(seats)
                self.granted_seats.update(seats)
                self.buyers["seats: held"] += 1
                return
            if status != 409:
                self.buyers["seats: error"] += 1
                return
            failed.update(seats)
        self.buyers["seats: gave up after 409s"] += 1

    async def ga(self, http, rng: random.Random, token: str) -> None:
        n = rng.randint(1, 4)
        for _ in range(1 + self.retries):
            status, _code = await self.request(http, "POST", "/api/tickets/holds", token,
                                               {"session": self.sale.ga_session,
                                                "quantities": {str(self.sale.ga_type): n}}, "POST GA")
            if status == 201:
                self.granted_ga += n
                self.buyers["GA: held"] += 1
                return
            if status != 409:
                self.buyers["GA: error"] += 1
                return
            n = rng.randint(1, n - 1) if n > 1 else 1
        self.buyers["GA: gave up after 409s"] += 1

    async def buyer(self, http, i: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + i)
        phases = [self.seats, self.ga]
        rng.shuffle(phases)
        for phase in phases:
            await phase(http, rng, self.tokens[i])

    async def run(self) -> None:
        import aiohttp

        self.sem = asyncio.Semaphore(self.concurrency)
        # gunicorn's sync workers close every connection; so does the client.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
            self.started = time.perf_counter()
            await asyncio.gather(*(self.buyer(http, i) for i in range(len(self.tokens))))
            self.wall = time.perf_counter() - self.started


async def warm_up(base: str, event_id: int, count: int = 48, concurrency: int = 8) -> None:
    """Every gunicorn worker loads the URLconf, opens its DB connection etc. before the clock starts."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)

    async def one(http):
        async with sem, http.get(f"{base}/api/tickets/{event_id}/stock") as r:
            await r.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await asyncio.gather(*(one(http) for _ in range(count)))


# --- reporting ------------------------------------------------------------------------------
def report_race(race: Race) -> None:
    samples = race.samples
    total = len(samples)
    print(f"\n--- the race: {len(race.tokens):,} buyers, {total:,} hold requests in {race.wall:.1f} s ---")
    ok = [s for s in samples if s[1] == 201]
    seat_holds = [s for s in ok if s[0] != "POST GA"]
    print(f"successful holds (201): {len(ok):,} — seat holds {len(seat_holds):,} "
          f"({sum(race.granted_seats.values()):,} seats), GA holds {len(ok) - len(seat_holds):,} "
          f"({race.granted_ga:,} tickets)")
    conflicts = Counter(s[2] or "?" for s in samples if s[1] == 409)
    print("conflicts (409): " + (", ".join(f"{code} {n:,}" for code, n in conflicts.most_common()) or "none"))
    other = Counter(f"{s[1]} {s[2]}".strip() for s in samples if s[1] not in (201, 409))
    print("other errors: " + (", ".join(f"{k} ×{n:,}" for k, n in other.most_common()) or "none"))
    print("buyers: " + ", ".join(f"{k} {n:,}" for k, n in sorted(race.buyers.items())))
    rate = total / race.wall if race.wall else 0
    print(f"throughput: {rate:,.{0 if rate >= 10 else 2}f} hold requests/s "
          f"({len(ok) / race.wall:,.1f} successful holds/s), "
          f"{race.concurrency} in flight")
    print(f"\n{'latency ms':22} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    groups: dict[str, list[float]] = defaultdict(list)
    for kind, status, code, ms in samples:
        groups["all"].append(ms)
        groups[kind].append(ms)
        groups[f"  {status} {code}".rstrip()].append(ms)
    for name in ["all", "POST seats", "PUT lock", "POST GA"] + sorted(k for k in groups if k.startswith("  ")):
        values = groups.get(name)
        if values:
            p50, p95, p99 = _services.percentiles(values)
            print(f"{name:22} {len(values):6,} {p50:7.1f} {p95:7.1f} {p99:7.1f} {max(values):7.1f}")
    # The sale phase (201s) and the sold-out phase (409s turned away early) run at different costs.
    buckets = 8
    width = race.wall / buckets
    print(f"\n{'timeline':14} {'req/s':>6} {'201s':>5} {'p50 ms':>7} {'p99 ms':>7}")
    for b in range(buckets):
        rows = [s for s, t in zip(samples, race.finished) if b * width <= t < (b + 1) * width or
                (b == buckets - 1 and t >= race.wall)]
        if rows:
            p50, _p95, p99 = _services.percentiles([r[3] for r in rows])
            print(f"{b * width:5.0f}–{(b + 1) * width:4.0f} s    {len(rows) / width:6.0f} "
                  f"{sum(1 for r in rows if r[1] == 201):5} {p50:7.0f} {p99:7.0f}")


def check_database(sale: "_services.Sale", race: Race) -> int:
    """Counts what was oversold, from the database (and from what buyers were told)."""
    from django.db.models import Count, Q, Sum
    from django.utils import timezone

    from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, SessionSeat, Stock

    now = timezone.now()
    print("\n--- oversold check (database) ---")
    live = Hold.objects.filter(status=HoldStatus.ACTIVE, expires_at__gt=now)
    seat_items = HoldItem.objects.filter(hold__in=live.filter(session_id=sale.seated_session), seat__isnull=False)
    items = seat_items.count()
    distinct = seat_items.values("seat_id").distinct().count()
    rows = SessionSeat.objects.filter(session_id=sale.seated_session)
    taken = rows.filter(Q(status=SeatStatus.SOLD) | Q(status=SeatStatus.HELD, held_until__gt=now))
    taken_rows = taken.count()
    owner = dict(rows.values_list("seat_id", "hold_id"))
    foreign = sum(1 for hold_id, seat_id in seat_items.values_list("hold_id", "seat_id")
                  if owner.get(seat_id) != hold_id)
    orphan = taken.exclude(hold__in=live).count()  # a taken row whose hold is not live
    told_twice = sum(n - 1 for n in race.granted_seats.values() if n > 1)
    seats_oversold = (items - distinct) + foreign + told_twice
    print(f"seats: {taken_rows} of {rows.count()} rows taken; live hold items {items} for {distinct} distinct seats "
          f"(in two live holds: {items - distinct}); items whose seat row belongs to another hold: {foreign}; "
          f"taken rows without a live hold: {orphan}; buyers told 201 for {len(race.granted_seats)} seats, "
          f"twice for one seat: {told_twice}")
    if taken_rows != distinct:
        print(f"  NOTE: taken rows {taken_rows} ≠ seats in live holds {distinct}")

    stock = Stock.objects.get(session_id=sale.ga_session, ticket_type_id=sale.ga_type)
    ga_items = (HoldItem.objects.filter(hold__in=live.filter(session_id=sale.ga_session), seat__isnull=True)
                .aggregate(n=Sum("quantity"), holds=Count("hold", distinct=True)))
    held_items = ga_items["n"] or 0
    adds_up = stock.available + stock.held + stock.sold == stock.total
    ga_oversold = max(0, stock.held + stock.sold - sale.ga_total) + max(0, held_items - sale.ga_total) \
        + max(0, race.granted_ga - sale.ga_total)
    drift = abs(held_items - stock.held) + (0 if adds_up else 1)
    print(f"GA: stock total {stock.total}, available {stock.available}, held {stock.held}, sold {stock.sold} "
          f"(adds up: {'yes' if adds_up else 'NO'}); live hold items {held_items} in {ga_items['holds']} holds "
          f"(= Stock.held: {'yes' if held_items == stock.held else 'NO'}); buyers told 201 for {race.granted_ga}")
    if stock.available and race.buyers.get("GA: gave up after 409s"):
        print(f"  NOTE: {stock.available} GA tickets left while {race.buyers['GA: gave up after 409s']} buyers gave "
              "up on 409 sold_out")
    oversold = seats_oversold + ga_oversold
    print(f"\noversold: {oversold} (seats {seats_oversold}, GA {ga_oversold}); counters off: {drift}")
    return oversold + drift


# --- one hold, looked at closely -----------------------------------------------------------------
def profile_one_hold(sale: "_services.Sale", redis_url: str) -> None:
    """SQL and Redis calls of one hold of each kind, in this process (test client, same settings), then a
    cProfile of 200 one-seat holds: where a hold's time goes."""
    import cProfile
    import pstats

    import redis
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Role, User
    from accounts.serializers import RoleRefreshToken
    from events.models import Event
    from tickets import services
    from tickets.models import Seat, Session, Stock

    event = Event.objects.get(pk=sale.event_id)
    seated = Session.objects.get(pk=sale.seated_session)
    window = {"start_time": seated.start_time, "end_time": seated.end_time, "sales_start": seated.sales_start,
              "sales_end": seated.sales_end}
    session = services.session_create(actor=event.publisher, event=event, name="Profile", seat_map=seated.seat_map,
                                      **window)
    ga = services.session_create(actor=event.publisher, event=event, name="Profile GA",
                                 stock={sale.ga_type: 1000}, **window)
    seats = list(Seat.objects.filter(seat_map=seated.seat_map).order_by("pk").values_list("pk", flat=True))
    users = []
    for i in range(202):
        u, _ = User.objects.get_or_create(username=f"bench-profiler-{i:03d}", defaults={"role": Role.CUSTOMER})
        users.append(u)
    tokens = [str(RoleRefreshToken.for_user(u).access_token) for u in users]
    client = Client(HTTP_HOST="127.0.0.1")
    r = redis.Redis.from_url(redis_url)

    def commands() -> int:
        return int(r.info("stats")["total_commands_processed"])

    def one(label, method, path, token, body):
        before = commands()
        with CaptureQueriesContext(connection) as ran:
            started = time.perf_counter()
            response = getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                               HTTP_AUTHORIZATION=f"Bearer {token}")
            ms = (time.perf_counter() - started) * 1000
        redis_calls = commands() - before - 1
        print(f"\n{label}: HTTP {response.status_code}, {ms:.1f} ms in-process, {len(ran)} SQL statements, "
              f"≈{redis_calls} Redis commands")
        for q in ran.captured_queries:
            print(f"   {float(q['time']) * 1000:5.1f} ms  {q['sql'][:150]}")

    print("\n--- one hold of each kind, in-process (DEBUG cursor; includes authentication and the response) ---")
    one("POST seats (2 seats)", "post", "/api/tickets/holds", tokens[0], {"session": session.pk, "seats": seats[:2]})
    one("PUT lock (joins that hold)", "put", f"/api/tickets/lock/{seats[2]}", tokens[0], {"session": session.pk})
    one("POST GA (2 tickets)", "post", "/api/tickets/holds", tokens[0],
        {"session": ga.pk, "quantities": {str(sale.ga_type): 2}})
    one("POST seats, taken (409)", "post", "/api/tickets/holds", tokens[1], {"session": session.pk, "seats": seats[:1]})

    def profile(label, path_and_bodies, tokens_for):
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for i, (path, body) in enumerate(path_and_bodies):
            client.post(path, data=json.dumps(body), content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {tokens_for[i]}")
        profiler.disable()
        ms = (time.perf_counter() - started) * 1000 / len(path_and_bodies)
        print(f"\n--- cProfile of {len(path_and_bodies)} {label} in-process: {ms:.1f} ms each (with profiler overhead) ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"tickets|rest_framework/views|jwt|channels|asgiref"
                                                                    r"|django_redis|fastpath|broadcast|middleware", 25)

    profile("one-seat holds", [("/api/tickets/holds", {"session": session.pk, "seats": [seats[10 + i]]})
                               for i in range(200)], tokens[2:])
    # The commonest answer of a flash sale: GA sold out (the first 409 tells Redis; the rest stop there).
    Stock.objects.filter(session=ga).update(available=0, held=1000)
    one("POST GA, sold out (409)", "post", "/api/tickets/holds", tokens[1],
        {"session": ga.pk, "quantities": {str(sale.ga_type): 1}})
    profile("sold-out GA requests (409)", [("/api/tickets/holds", {"session": ga.pk, "quantities": {str(sale.ga_type): 1}})
                                           for i in range(200)], tokens[2:])


# --- main ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--refill", action="store_true", help="drop the bench database and build it again")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--concurrency", type=int, default=64, help="hold requests in flight (default 64)")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the gunicorn workers (default 60, the app's default)")
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--ga", type=int, default=1000, help="GA tickets on sale (default 1000)")
    parser.add_argument("--retries", type=int, default=2, help="tries after a 409 (default 2)")
    parser.add_argument("--lock-share", type=float, default=0.3,
                        help="share of buyers who take one seat with PUT lock (default 0.3)")
    _services.add_redis_down_option(parser)
    parser.add_argument("--profile", action="store_true",
                        help="afterwards: SQL and Redis calls of one hold of each kind, and a cProfile")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    _services.stop_on_sigterm()

    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=args.conn_max_age)
    redis_url = env["REDIS_URL"]
    started = time.perf_counter()
    _services.prepare_database(refill=args.refill)
    _services.reset_inventory()
    sale = _services.build_sale(rows=ROWS, per_row=PER_ROW, ga_total=args.ga, name="压测 flash sale")
    buyers = _services.ensure_buyers(args.buyers)
    cleared = _services.clear_redis(redis_url, PREFIX)
    print(f"bench database {DATABASE}: event {sale.event_id}, seated session {sale.seated_session} "
          f"({len(sale.seat_ids)} seats), GA session {sale.ga_session} ({sale.ga_total} tickets), "
          f"{len(buyers):,} buyers; {cleared} old Redis keys of {PREFIX}: removed "
          f"({time.perf_counter() - started:.1f} s)")

    outage = _services.RedisOutage(args.redis_down)
    print(f"servers: gunicorn {args.workers} sync workers (DB_CONN_MAX_AGE={args.conn_max_age}) + uvicorn 1 worker; "
          f"{outage.describe(redis_url)}")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)" % os.getloadavg())
    failures = 0
    try:
        with _services.Servers(env, name="flash_sale", workers=args.workers, server_env=outage.env) as servers:
            print(f"up: HTTP {servers.http}, websockets {servers.ws}; logs in {_services.LOG_DIR}")
            tokens = _services.mint_tokens(buyers)
            _services.run(warm_up(servers.http, sale.event_id))
            race = Race(sale, tokens, servers.http, concurrency=args.concurrency, retries=args.retries,
                        lock_share=args.lock_share, seed=args.seed)
            meter = _services.CpuMeter({"gunicorn": servers.pid("gunicorn"), "uvicorn": servers.pid("uvicorn")})
            meter.start()
            _services.run(race.run())
            cpu = meter.stop()
            report_race(race)
            print(cpu)
            n = len(race.samples)
            server_ms = {k: 1000 * meter.used.get(k, 0) / n for k in ("gunicorn", "mariadb", "redis")}
            per_request = sum(server_ms.values())
            print("CPU per hold request: " + ", ".join(f"{k} {v:.1f} ms" for k, v in server_ms.items())
                  + f" → with both cores for the servers alone, at most ~{2000 / per_request:,.0f} requests/s "
                  "of this mix (MariaDB also serves other databases on this machine)")
            print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
            failures = check_database(sale, race)
            if args.profile:
                profile_one_hold(sale, redis_url)
            if args.redis_down:
                print("\ngunicorn log: "
                      + _services.outage_log_summary(servers.logs["gunicorn"].read_text(errors="replace")))
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped")
        return 130
    finally:
        outage.close()
    rate = len(race.samples) / race.wall if race.wall else 0
    p99 = _services.percentiles([s[3] for s in race.samples])[2]
    print(f"\ntargets: ≥ 500 hold requests/s: {'met' if rate >= 500 else 'MISSED'} ({rate:,.0f}); "
          f"p99 < 250 ms: {'met' if p99 < 250 else 'MISSED'} ({p99:.0f} ms); "
          f"0 oversold: {'met' if not failures else 'MISSED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    _services.exit_with(main())
