#!/usr/bin/env python
"""Seat-map fan-out: 500 live seat maps of one session, and how fast each hold reaches the last of them.

    .venv/bin/python bench/seatmap_fanout.py                      # 500 sockets, 50 holds 200 ms apart
    .venv/bin/python bench/seatmap_fanout.py --ws-workers 2       # two uvicorn processes behind one port
    .venv/bin/python bench/seatmap_fanout.py --no-deflate         # clients that don't offer compression
    .venv/bin/python bench/seatmap_fanout.py --clients 1000 --holds 100 --interval 0.1
    .venv/bin/python bench/seatmap_fanout.py --refill             # drop the bench database and build it again

Uses a MariaDB database of its own, `ticketing_bench_fanout` (utf8mb4, created and migrated if
missing) and Redis database 8 under the key prefix `bench-fanout` (BENCH_REDIS_URL; only those
keys are deleted). Each run empties the bench database's inventory and builds one approved
event with a seated session of 500 seats; one buyer per hold, with a minted access JWT.

The services layout runs as subprocesses on free ports (logs in var/bench/): gunicorn
(deploy/gunicorn.conf.py, --workers) takes the holds over HTTP, uvicorn (--ws-workers
processes, DB_CONN_MAX_AGE=0) serves ws://…/ws/seatmap/<session>/. --client-procs processes
open the --clients websockets (as browsers do: Origin set, permessage-deflate offered unless
--no-deflate) and wait until every one has its snapshot. Then --holds holds of one seat each
are sent over HTTP (after a warm-up of GA holds in another session), --interval apart (on a
fixed schedule, not waiting for answers), and every client stamps (time.monotonic, one clock
for all processes) the first message that names each seat. Per hold: from sending the
request, and from its 201, to the LAST client that got the change; deliveries still missing
once none came for --grace seconds count as missed. Servers and client processes are stopped
on exit and on Ctrl-C.

Target: p95 (send → last client) < 200 ms, no missed delivery. The clients run on the same
2 cores as the servers: their own CPU (printed) is part of the figure.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _services  # noqa: E402

DATABASE = "ticketing_bench_fanout"
REDIS_DB = 8
PREFIX = "bench-fanout"
ROWS, PER_ROW = 20, 25


# --- the seat maps (in client processes) ---------------------------------------------------------
def clients_process(conn, url: str, origin: str, count: int, deflate: bool, connect_at_once: int) -> None:
    """Opens `count` sockets, reports ("ready", …) once all have a snapshot, records changes until told to stop."""
    try:
        _services.run(_clients(conn, url, origin, count, deflate, connect_at_once))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; a thread still waits on the pipe
        os._exit(130)


async def _clients(conn, url, origin, count, deflate, connect_at_once) -> None:
    import websockets

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(connect_at_once)
    receipts: list[dict[int, float]] = [{} for _ in range(count)]
    sizes = {"snapshot": 0, "change": 0, "changes": 0, "other": 0}
    errors: list[str] = []
    sockets = []

    async def open_one(i):
        async with gate:
            try:
                ws = await websockets.connect(url, origin=origin, max_size=None, open_timeout=120,
                                              ping_interval=None, compression="deflate" if deflate else None)
                first = await asyncio.wait_for(ws.recv(), 120)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
                return None
            snapshot = json.loads(first)
            if snapshot.get("type") != "snapshot":
                errors.append(f"first message was {snapshot.get('type')!r}")
            sizes["snapshot"] = max(sizes["snapshot"], len(first))
            sockets.append(ws)
            return ws

    async def listen(i, ws):
        got = receipts[i]
        try:
            async for raw in ws:
                at = time.monotonic()
                message = json.loads(raw)
                if message.get("type") == "changes":
                    sizes["change"] = max(sizes["change"], len(raw))
                    sizes["changes"] += 1
                    for seat in message["seats"]:
                        got.setdefault(seat[0], at)
                else:
                    sizes["other"] += 1
        except websockets.ConnectionClosed as exc:
            if not stopping:
                errors.append(f"closed early: {exc}"[:200])

    started = time.monotonic()
    opened = await asyncio.gather(*(open_one(i) for i in range(count)))
    stopping = False
    listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(opened) if ws is not None]
    conn.send(("ready", len(listeners), list(errors), sizes["snapshot"], time.monotonic() - started))
    while await loop.run_in_executor(None, conn.recv) == "count":
        conn.send(sum(len(r) for r in receipts))
    stopping = True  # "stop"
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    conn.send(("done", [r for r, ws in zip(receipts, opened) if ws is not None], errors, sizes))


# --- the holds (in this process) -------------------------------------------------------------------
async def send_holds(base: str, session_id: int, seats: list[int], tokens: list[str], interval: float) -> list[dict]:
    import aiohttp

    out = [{"seat": s} for s in seats]

    async def one(i, http):
        await asyncio.sleep(max(0.0, t0 + i * interval - time.monotonic()))
        out[i]["sent"] = time.monotonic()
        async with http.post(f"{base}/api/tickets/holds", json={"session": session_id, "seats": [seats[i]]},
                             headers={"Authorization": f"Bearer {tokens[i]}"}) as r:
            await r.read()
            out[i]["answered"], out[i]["status"] = time.monotonic(), r.status

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        t0 = time.monotonic() + 0.05
        await asyncio.gather(*(one(i, http) for i in range(len(seats))))
    return out


async def warm_up(base: str, session_id: int, ticket_type: int, tokens: list[str]) -> None:
    """A GA hold per buyer (another session, so no seat map hears it): every gunicorn worker has loaded the
    hold path and the channel layer before the clock starts."""
    import aiohttp

    sem = asyncio.Semaphore(8)

    async def one(http, token):
        async with sem, http.post(f"{base}/api/tickets/holds", json={"session": session_id,
                                                                     "quantities": {str(ticket_type): 1}},
                                  headers={"Authorization": f"Bearer {token}"}) as r:
            await r.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await asyncio.gather(*(one(http, t) for t in tokens))


def spread_seats(sale: "_services.Sale", n: int) -> list[int]:
    """n distinct seats spread over the hall."""
    seats = sale.seat_ids
    step = max(1, len(seats) // n)
    return [seats[(i * step) % len(seats)] for i in range(n)]


def report(holds: list[dict], receipts: list[dict[int, float]], clients: int, per_hold: bool) -> dict:
    from_send, from_201, first, spread = [], [], [], []
    missed = 0
    failed = [h for h in holds if h.get("status") != 201]
    if per_hold:
        print(f"\n{'hold':>4} {'at s':>6} {'seat':>6} {'→201 ms':>8} {'→first':>8} {'→last':>8} {'got it':>7}")
    for i, h in enumerate(holds):
        if h.get("status") != 201:
            continue
        times = [r[h["seat"]] for r in receipts if h["seat"] in r]
        missed += clients - len(times)
        if per_hold:
            cells = ([f"{(t - h['sent']) * 1000:8.0f}" for t in (min(times), max(times))] if times
                     else ["-".rjust(8)] * 2)
            print(f"{i:4} {h['sent'] - holds[0]['sent']:6.1f} {h['seat']:6} {(h['answered'] - h['sent']) * 1000:8.0f} "
                  f"{' '.join(cells)} {len(times):7}")
        if not times:
            continue
        last = max(times)
        from_send.append((last - h["sent"]) * 1000)
        from_201.append((last - h["answered"]) * 1000)
        first.append((min(times) - h["sent"]) * 1000)
        spread.append((last - min(times)) * 1000)
    http = [(h["answered"] - h["sent"]) * 1000 for h in holds if "answered" in h]
    print(f"\nholds: {len(holds)} sent, {len(holds) - len(failed)} got 201"
          + (f", others: {[h.get('status') for h in failed]}" if failed else ""))
    print(f"deliveries: {len(holds) - len(failed)} holds × {clients} clients = {(len(holds) - len(failed)) * clients:,}"
          f" expected, missed {missed:,}")
    print(f"\n{'ms (over the holds)':44} {'p50':>7} {'p95':>7} {'max':>7}")
    for label, values in (("hold request: send → 201", http),
                          ("send → FIRST client has the change", first),
                          ("send → LAST client has the change", from_send),
                          ("201 → LAST client has the change", from_201),
                          ("fan-out spread: first → last client", spread)):
        if values:
            p50, p95 = _services.percentiles(values, (50, 95))
            print(f"{label:44} {p50:7.1f} {p95:7.1f} {max(values):7.1f}")
    p95 = _services.percentiles(from_send, (95,))[0] if from_send else float("inf")
    return {"p95": p95, "missed": missed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--refill", action="store_true", help="drop the bench database and build it again")
    parser.add_argument("--clients", type=int, default=500, help="websocket clients (default 500)")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the clients run in (default 2)")
    parser.add_argument("--holds", type=int, default=50, help="holds of one seat each (default 50)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between holds (default 0.2)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--ws-workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--no-deflate", action="store_true", help="clients don't offer permessage-deflate")
    parser.add_argument("--connect-at-once", type=int, default=25, help="sockets opening at once per process")
    parser.add_argument("--per-hold", action="store_true", help="print a line per hold")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="after the holds, deliveries still missing when none came for this long are missed "
                             "(default 10 s)")
    args = parser.parse_args()
    _services.stop_on_sigterm()

    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=60)
    _services.prepare_database(refill=args.refill)
    _services.reset_inventory()
    sale = _services.build_sale(rows=ROWS, per_row=PER_ROW, ga_total=10_000, name="压测 seat-map fan-out")
    buyers = _services.ensure_buyers(args.holds)
    cleared = _services.clear_redis(env["REDIS_URL"], PREFIX)
    print(f"bench database {DATABASE}: seated session {sale.seated_session} ({len(sale.seat_ids)} seats), "
          f"{len(buyers)} buyers; {cleared} old Redis keys of {PREFIX}: removed")
    print(f"servers: gunicorn {args.workers} sync workers + uvicorn {args.ws_workers} worker(s); "
          f"{args.clients} clients in {args.client_procs} processes, deflate {'off' if args.no_deflate else 'offered'}")
    print("load average at start: %.2f %.2f %.2f (other work on the machine skews the figures)" % os.getloadavg())

    ctx = multiprocessing.get_context("spawn")
    procs, pipes = [], []
    try:
        with _services.Servers(env, name="seatmap_fanout", workers=args.workers, ws_workers=args.ws_workers) as servers:
            url = f"{servers.ws}/ws/seatmap/{sale.seated_session}/"
            origin = f"http://127.0.0.1:{servers.ws_port}"
            shares = [args.clients // args.client_procs + (1 if i < args.clients % args.client_procs else 0)
                      for i in range(args.client_procs)]
            for share in shares:
                parent, child = ctx.Pipe()
                p = ctx.Process(target=clients_process, args=(child, url, origin, share, not args.no_deflate,
                                                              args.connect_at_once), daemon=True)
                p.start()
                procs.append(p)
                pipes.append(parent)
            connected, connect_errors, snapshot, slowest = 0, [], 0, 0.0
            for pipe in pipes:
                _, n, errs, size, seconds = pipe.recv()
                connected += n
                connect_errors += errs
                snapshot, slowest = max(snapshot, size), max(slowest, seconds)
            print(f"\nconnected: {connected} of {args.clients} sockets, all with their snapshot "
                  f"({snapshot / 1024:.0f} KiB each) in {slowest:.1f} s"
                  + (f"; errors: {connect_errors[:3]}" if connect_errors else ""))
            tokens = _services.mint_tokens(buyers)
            _services.run(warm_up(servers.http, sale.ga_session, sale.ga_type, tokens[:16]))
            meter = _services.CpuMeter({"gunicorn": servers.pid("gunicorn"), "uvicorn": servers.pid("uvicorn"),
                                        **{f"clients {i + 1}": p.pid for i, p in enumerate(procs)}})
            meter.start()
            holds = _services.run(send_holds(servers.http, sale.seated_session, spread_seats(sale, args.holds),
                                           tokens, args.interval))
            expected = connected * sum(1 for h in holds if h.get("status") == 201)
            done_sending, last, progress = time.monotonic(), -1, time.monotonic()
            while True:  # until every delivery is in, or none came for --grace seconds (then they're missed)
                for pipe in pipes:
                    pipe.send("count")
                got = sum(pipe.recv() for pipe in pipes)
                if got != last:
                    last, progress = got, time.monotonic()
                if got >= expected or time.monotonic() - progress > args.grace:
                    break
                time.sleep(0.25)
            drained = time.monotonic() - done_sending
            cpu = meter.stop()
            receipts, run_errors, sizes = [], [], {}
            for pipe in pipes:
                pipe.send("stop")
            for pipe in pipes:
                _, r, errs, s = pipe.recv()
                receipts += r
                run_errors += errs
                sizes = {k: max(sizes.get(k, 0), v) for k, v in s.items()}
            result = report(holds, receipts, connected, args.per_hold)
            print(f"\nmessage sizes: snapshot {snapshot:,} B, a change {sizes.get('change', 0):,} B (JSON text as "
                  f"received); errors while listening: {len(run_errors)} {run_errors[:3]}")
            print(cpu + f" (over the {args.holds * args.interval:.0f} s of holds + {drained:.1f} s until the last "
                  "delivery came in" + (f" and {args.grace:.0f} s without one)" if last < expected else ")"))
            print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    except KeyboardInterrupt:
        print("\ninterrupted: servers and clients stopped")
        return 130
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    met = result["p95"] < 200 and result["missed"] == 0 and connected == args.clients
    print(f"\ntarget p95 (send → last client) < 200 ms with no missed delivery: {'met' if met else 'MISSED'} "
          f"({result['p95']:.0f} ms, {result['missed']} missed, {connected}/{args.clients} connected)")
    return 0


if __name__ == "__main__":
    _services.exit_with(main())
