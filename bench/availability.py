#!/usr/bin/env python
"""Availability reads: 100 clients on the stock and the seat-map endpoints while seats are being held
(prints req/s, latency and how stale a read can be; exits 1 if a read was ever more than a second stale).

    .venv/bin/python bench/availability.py                       # 4 gunicorn workers, 100 clients, 15 s a phase
    .venv/bin/python bench/availability.py --runs 3              # … three times: min/median/max at the end
    .venv/bin/python bench/availability.py --workers 6 --clients 200 --seconds 30
    .venv/bin/python bench/availability.py --holds-per-second 50 # more committed changes during the reads
    .venv/bin/python bench/availability.py --refill              # drop the bench database and build it again

Uses a MariaDB database of its own, `ticketing_bench_reads` (utf8mb4, created and migrated if
missing; BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server) and Redis
database 11 under the key prefix `bench-reads` (BENCH_REDIS_URL, default redis://127.0.0.1:6379):
it deletes only those keys. It builds one approved public event with a seated session (20 rows ×
25 seats) and a GA session, and buyers with access JWTs minted in-process; then runs the services
layout (bench/_services.Servers: gunicorn with deploy/gunicorn.conf.py and --workers sync workers,
uvicorn for /ws/) as subprocesses on free ports (logs in var/bench/).

Four phases of --seconds each (each waits first until the machine is idle: --idle-below), every
one with --clients connections of `wrk` (Debian package wrk) on the same machine:
  stock 200      GET /api/tickets/<event>/stock, anonymous
  stock 304      the same with If-None-Match: the last ETag that wrk thread saw (a polling client)
  seatmap 200    GET /api/tickets/sessions/<seated session>/seatmap (500 seats), anonymous
  seatmap 304    the same, conditional
Meanwhile a checker in this process holds one seat at a time through the API (PUT
/api/tickets/lock/<seat>, --holds-per-second, rotating over the buyers) and, after each 201,
reads the phase's endpoint back to back until it shows the seat held (seat map: that seat's
status; stock: the seated session's held count). A hold's staleness is the time from its 201 to
the start of the first read that showed it; a read started after the 201 that still shows the
seat free is stale. The checker's seats are released after each phase.

Printed per phase: requests/s, latency p50/p95/p99 (wrk's, of every request), status codes,
socket errors, CPU per process (gunicorn, uvicorn, MariaDB, Redis, "bench client" = this checker,
wrk) and what the rest of the machine took meanwhile (the kernel, other sessions' work: figures
taken while that is high are low), server CPU per request, staleness max and p99, and the CPU ms
of a fixed Python loop timed before the phase (on a shared host the cores' speed varies by ~2×
with what other guests do, unseen in /proc/stat: compare runs by it). With --runs N > 1,
min/median/max over runs. Exit status 1 when a hold stayed invisible for more than a second (or
never showed), or a read was answered 5xx.

Targets from issue 12, on this 2-core machine with the load generator on the same cores, at 100
clients: stock ≥ 1,000 req/s, seat map ≥ 500 req/s, p99 < 200 ms, never more than 1 s stale.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _services  # noqa: E402

DATABASE = "ticketing_bench_reads"
REDIS_DB = 11  # 7-9: the sale benches, 10: scripts/schemathesis_check.py
PREFIX = "bench-reads"
ROWS, PER_ROW = 20, 25
STALE_LIMIT_MS = 1000
GIVE_UP_S = 5.0  # a hold not shown after this long counts as never shown

# wrk: statuses counted per thread, summed in done(); the 304 variant sends the last ETag it saw.
WRK_SCRIPT = r"""
local threads = {}
local conditional = CONDITIONAL

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  etag = nil
end

function request()
  if conditional and etag then
    return wrk.format("GET", nil, {["If-None-Match"] = etag})
  end
  return wrk.format("GET")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if conditional and headers["ETag"] then etag = headers["ETag"] end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d": %d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
"""
PHASES = (("stock", False), ("stock", True), ("seatmap", False), ("seatmap", True))
TARGETS = {"stock": 1000, "seatmap": 500}
P99_TARGET_MS = 200


def phase_name(endpoint: str, conditional: bool) -> str:
    return f"{endpoint} {'304' if conditional else '200'}"


# --- the checker ----------------------------------------------------------------------------------
class Checker:
    """Holds seats one at a time during a phase and times how long until a read shows each."""

    def __init__(self, sale: "_services.Sale", tokens: list[str], base: str, *, per_second: float):
        self.sale, self.tokens, self.base, self.interval = sale, tokens, base, 1 / per_second
        self.free = list(sale.seat_ids)  # seats the checker has not held yet (this run's phases take them in turn)
        self.index = {seat: i for i, seat in enumerate(sorted(sale.seat_ids))}  # the seat map lists seats by id
        self.turn = 0

    async def run(self, endpoint: str, stop: asyncio.Event) -> dict:
        import aiohttp

        stale_ms: list[float] = []
        never, refused, held = 0, 0, []  # held: (token, seat)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)  # gunicorn's sync workers close them anyway
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
            while not stop.is_set() and self.free:
                started = time.perf_counter()
                token = self.tokens[self.turn % len(self.tokens)]
                self.turn += 1
                seat = self.free.pop(0)
                async with http.put(f"{self.base}/api/tickets/lock/{seat}", json={"session": self.sale.seated_session},
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                    await r.read()
                    status = r.status
                if status != 201:
                    refused += 1
                else:
                    held.append((token, seat))
                    stale = await self.staleness(http, endpoint, seat, len(held))
                    if stale is None:
                        never += 1
                    else:
                        stale_ms.append(stale * 1000)
                await asyncio.sleep(max(0.0, self.interval - (time.perf_counter() - started)))
            for token, seat in held:  # back on sale, outside the timed window's figures
                async with http.delete(f"{self.base}/api/tickets/lock/{seat}?session={self.sale.seated_session}",
                                       headers={"Authorization": f"Bearer {token}"}) as r:
                    await r.read()
        return {"holds": len(stale_ms) + never, "never": never, "refused": refused, "stale_ms": stale_ms}

    async def staleness(self, http, endpoint: str, seat: int, held_now: int) -> float | None:
        """Seconds from now (just after the hold's 201) to the sending of the first read that shows it: 0 when the
        very first read does; None if none did within GIVE_UP_S."""
        path = (f"/api/tickets/{self.sale.event_id}/stock" if endpoint == "stock"
                else f"/api/tickets/sessions/{self.sale.seated_session}/seatmap")
        told = time.perf_counter()
        deadline = told + GIVE_UP_S
        first = True
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            async with http.get(self.base + path) as r:
                body = await r.read() if r.status == 200 else b""
            if body and self.shows(endpoint, json.loads(body), seat, held_now):
                return 0.0 if first else sent - told
            first = False
        return None

    def shows(self, endpoint: str, body, seat: int, held_now: int) -> bool:
        if endpoint == "seatmap":
            row = body["seats"][self.index[seat]]
            return row[0] == seat and row[7] == "held"
        session = next(s for s in body if s["id"] == self.sale.seated_session)
        return sum(t["held"] for t in session["ticket_types"]) >= held_now


def reference_loop_ms() -> float:
    """CPU ms of a fixed pure-Python loop in this process: the speed of a core right now (a shared host's
    other guests slow it without showing in /proc/stat); compare runs by it."""
    started = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return (time.process_time() - started) * 1000


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def wait_until_idle(limit: float, most: float = 300.0) -> str:
    """Waits (up to `most` s) until the machine is at most `limit` % busy over 2 s: another session's
    benchmark on the same cores would halve the figures. Says what it waited for."""
    started = time.monotonic()
    while True:
        before = machine_busy()
        await asyncio.sleep(2)
        busy = 100 * (machine_busy() - before) / 2
        waited = time.monotonic() - started
        if busy <= limit:
            return f"waited {waited:.0f} s for an idle machine" if waited > 3 else ""
        if waited >= most:
            return f"the machine was still {busy:.0f}% busy after {waited:.0f} s: figures skewed"


# --- one phase ----------------------------------------------------------------------------------------
async def run_phase(servers, sale, checker: Checker, endpoint: str, conditional: bool, args) -> dict:
    url = (f"{servers.http}/api/tickets/{sale.event_id}/stock" if endpoint == "stock"
           else f"{servers.http}/api/tickets/sessions/{sale.seated_session}/seatmap")
    script = _services.LOG_DIR / f"availability-{'conditional' if conditional else 'plain'}.lua"
    script.write_text(WRK_SCRIPT.replace("CONDITIONAL", "true" if conditional else "false"))
    wrk = await asyncio.create_subprocess_exec(
        args.wrk, f"-t{args.threads}", f"-c{args.clients}", f"-d{args.seconds}s", "--timeout", "10s",
        "-s", str(script), url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    meter = _services.CpuMeter({"gunicorn": servers.pid("gunicorn"), "uvicorn": servers.pid("uvicorn")})
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child of this process that ends
    wall, busy = time.monotonic(), machine_busy()
    meter.start()
    stop = asyncio.Event()
    checking = asyncio.create_task(checker.run(endpoint, stop))
    output, _ = await wrk.communicate()
    cpu = meter.stop()
    wall = time.monotonic() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter.used["wrk"] = (after.ru_utime - reaped.ru_utime) + (after.ru_stime - reaped.ru_stime)
    busy = machine_busy() - busy
    others = busy - sum(meter.used.values())
    cpu += f", wrk {100 * meter.used['wrk'] / wall:.0f}%; the whole machine {100 * busy / wall:.0f}%, " \
           f"of which {100 * max(others, 0) / wall:.0f}% by others (kernel, other sessions)"
    stop.set()
    checked = await checking
    text = output.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{text}")
    result = json.loads(line.removeprefix("WRK-RESULT "))
    seconds = result["duration_us"] / 1e6
    result.update(name=phase_name(endpoint, conditional), endpoint=endpoint, rate=result["requests"] / seconds,
                  cpu=cpu, cpu_used=meter.used, others=100 * max(others, 0) / wall, checked=checked)
    return result


def report_phase(r: dict) -> None:
    ms = {k: r[k] / 1000 for k in ("p50", "p95", "p99", "max")}
    statuses = ", ".join(f"{code} ×{n:,}" for code, n in sorted(r["statuses"].items())) or "none"
    errors = ", ".join(f"{k} {n:,}" for k, n in r["errors"].items() if n) or "none"
    print(f"\n--- {r['name']}: {r['requests']:,} requests in {r['duration_us'] / 1e6:.1f} s "
          f"(reference loop before it: {r['loop_ms']:.0f} ms) ---")
    print(f"throughput: {r['rate']:,.0f} req/s; latency ms p50 {ms['p50']:.1f}, p95 {ms['p95']:.1f}, "
          f"p99 {ms['p99']:.1f}, max {ms['max']:.1f}")
    print(f"statuses: {statuses}; socket errors: {errors}")
    print(r["cpu"])
    used = r["cpu_used"]
    server = sum(used.get(k, 0) for k in ("gunicorn", "mariadb", "redis"))
    print(f"CPU per request: gunicorn {1000 * used.get('gunicorn', 0) / max(r['requests'], 1):.2f} ms, "
          f"servers (gunicorn + MariaDB + Redis) {1000 * server / max(r['requests'], 1):.2f} ms, "
          f"load generator (wrk) {1000 * used.get('wrk', 0) / max(r['requests'], 1):.2f} ms")
    c = r["checked"]
    stale = c["stale_ms"]
    if stale:
        p99 = _services.percentiles(stale, (99,))[0]
        late = sum(1 for s in stale if s > 0)
        print(f"staleness of {c['holds']} committed holds: max {max(stale):.0f} ms, p99 {p99:.0f} ms "
              f"({late} shown only by a later read; never shown: {c['never']}; holds refused: {c['refused']})")
    else:
        print(f"staleness: no hold measured (never shown: {c['never']}, refused: {c['refused']})")


def failed(r: dict) -> list[str]:
    c = r["checked"]
    problems = []
    if c["never"]:
        problems.append(f"{r['name']}: {c['never']} holds never showed within {GIVE_UP_S:.0f} s")
    if c["stale_ms"] and max(c["stale_ms"]) > STALE_LIMIT_MS:
        problems.append(f"{r['name']}: a read was {max(c['stale_ms']):.0f} ms stale")
    if not c["holds"]:
        problems.append(f"{r['name']}: the checker made no hold")
    fives = sum(n for code, n in r["statuses"].items() if code.startswith("5"))
    if fives:
        problems.append(f"{r['name']}: {fives} answers 5xx")
    return problems


def summarise(runs: list[list[dict]]) -> None:
    print(f"\n=== {len(runs)} runs: min / median / max ===")
    print(f"{'phase':14} {'req/s':>22} {'p99 ms':>18} {'stale max ms':>14} {'server CPU ms/req':>20} "
          f"{'others CPU %':>16} {'ref. loop ms':>18}")

    def mmm(values, fmt):
        return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))

    for i, (endpoint, conditional) in enumerate(PHASES):
        rs = [run[i] for run in runs]
        stale = [max(r["checked"]["stale_ms"] or [float("nan")]) for r in rs]
        cpu = [1000 * sum(r["cpu_used"].get(k, 0) for k in ("gunicorn", "mariadb", "redis")) / max(r["requests"], 1)
               for r in rs]
        print(f"{phase_name(endpoint, conditional):14} {mmm([r['rate'] for r in rs], ',.0f'):>22} "
              f"{mmm([r['p99'] / 1000 for r in rs], '.0f'):>18} {mmm(stale, '.0f'):>14} {mmm(cpu, '.2f'):>20} "
              f"{mmm([r['others'] for r in rs], '.0f'):>16} {mmm([r['loop_ms'] for r in rs], '.0f'):>18}")


def targets(runs: list[list[dict]]) -> None:
    parts = []
    for i, (endpoint, conditional) in enumerate(PHASES):
        rates = [run[i]["rate"] for run in runs]
        p99 = max(run[i]["p99"] / 1000 for run in runs)
        ok = min(rates) >= TARGETS[endpoint] and p99 < P99_TARGET_MS
        parts.append(f"{phase_name(endpoint, conditional)} ≥ {TARGETS[endpoint]:,}/s, p99 < {P99_TARGET_MS} ms: "
                     f"{'met' if ok else 'MISSED'} ({min(rates):,.0f}/s at worst, p99 ≤ {p99:.0f} ms)")
    stale = max((max(run[i]["checked"]["stale_ms"] or [0]) for run in runs for i in range(len(PHASES))))
    parts.append(f"≤ 1 s stale: {'met' if stale <= STALE_LIMIT_MS else 'MISSED'} (max {stale:.0f} ms)")
    print("\ntargets: " + "; ".join(parts))


# --- main ------------------------------------------------------------------------------------------------
async def warm_up(base: str, sale, count: int = 64, concurrency: int = 8) -> None:
    """Every gunicorn worker loads the URLconf, opens its DB connection etc. before the clock starts."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    paths = [f"/api/tickets/{sale.event_id}/stock", f"/api/tickets/sessions/{sale.seated_session}/seatmap"]

    async def one(http, i):
        async with sem, http.get(base + paths[i % 2]) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"warm-up: {paths[i % 2]} answered {r.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await asyncio.gather(*(one(http, i) for i in range(count)))


async def one_run(servers, sale, tokens, args, n: int) -> list[dict]:
    checker = Checker(sale, tokens, servers.http, per_second=args.holds_per_second)
    results = []
    for endpoint, conditional in PHASES:
        if args.idle_below:
            note = await wait_until_idle(args.idle_below)
            if note:
                print(f"\n({note})")
        loop_ms = reference_loop_ms()
        result = await run_phase(servers, sale, checker, endpoint, conditional, args)
        result["loop_ms"] = loop_ms
        report_phase(result)
        results.append(result)
        await asyncio.sleep(1.5)  # releases shown, snapshots expired: the next phase starts alike
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--refill", action="store_true", help="drop the bench database and build it again")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--clients", type=int, default=100, help="wrk connections (default 100)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--seconds", type=int, default=15, help="length of each phase (default 15)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the four phases (default 1)")
    parser.add_argument("--holds-per-second", type=float, default=5.0,
                        help="the checker's holds during the reads (default 5; each drops the snapshots)")
    parser.add_argument("--buyers", type=int, default=100, help="buyers the checker rotates over (default 100)")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="DB_CONN_MAX_AGE of the gunicorn workers (default 60, the app's default)")
    parser.add_argument("--idle-below", type=float, default=20.0,
                        help="before each phase wait (up to 5 min) until the machine is at most this %% busy "
                             "(of 200%%) over 2 s; 0: don't wait (default 20)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="the wrk binary (apt-get install wrk)")
    args = parser.parse_args()
    if not shutil.which(args.wrk):
        parser.error(f"{args.wrk} not found: apt-get install -y wrk")
    seats_needed = int(args.holds_per_second * args.seconds * len(PHASES) * 1.2)
    if seats_needed > ROWS * PER_ROW:
        parser.error(f"{args.holds_per_second}/s × {args.seconds} s × {len(PHASES)} phases needs ~{seats_needed} "
                     f"seats; the map has {ROWS * PER_ROW}")
    _services.stop_on_sigterm()

    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=args.conn_max_age)
    started = time.perf_counter()
    _services.prepare_database(refill=args.refill)
    _services.reset_inventory()
    sale = _services.build_sale(rows=ROWS, per_row=PER_ROW, ga_total=1000, name="压测 availability")
    buyers = _services.ensure_buyers(args.buyers)
    cleared = _services.clear_redis(env["REDIS_URL"], PREFIX)
    print(f"bench database {DATABASE}: event {sale.event_id}, seated session {sale.seated_session} "
          f"({len(sale.seat_ids)} seats), GA session {sale.ga_session}; {len(buyers)} buyers; "
          f"{cleared} old Redis keys of {PREFIX} removed ({time.perf_counter() - started:.1f} s)")
    import django

    print(f"Python {sys.version.split()[0]}, Django {django.__version__}; gunicorn {args.workers} sync workers "
          f"(DB_CONN_MAX_AGE={args.conn_max_age}); wrk {args.threads} threads × {args.clients} connections, "
          f"{args.seconds} s a phase; checker: {args.holds_per_second:g} holds/s")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)" % os.getloadavg())
    runs: list[list[dict]] = []
    try:
        with _services.Servers(env, name="availability", workers=args.workers) as servers:
            print(f"up: HTTP {servers.http}; logs in {_services.LOG_DIR}")
            for n in range(args.runs):
                tokens = _services.mint_tokens(buyers)  # fresh for every run: they live 5 minutes
                _services.run(warm_up(servers.http, sale))
                if args.runs > 1:
                    print(f"\n##### run {n + 1} of {args.runs} #####")
                runs.append(_services.run(one_run(servers, sale, tokens, args, n)))
            print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped")
        return 130
    if len(runs) > 1:
        summarise(runs)
    targets(runs)
    problems = [p for run in runs for r in run for p in failed(r)]
    for problem in problems:
        print("FAILED: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    _services.exit_with(main())
