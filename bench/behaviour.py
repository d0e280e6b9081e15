#!/usr/bin/env python
"""Behaviour-figure pipelines on a large synthetic log in nx-27017 (prints figures, asserts nothing).

    .venv/bin/python bench/behaviour.py                  # 200,000 lines, 20 runs per figure
    .venv/bin/python bench/behaviour.py --lines 50000 --runs 10
    .venv/bin/python bench/behaviour.py --reuse          # keep the filled log of the last run
    .venv/bin/python bench/behaviour.py --server-process # the stock nx-27017 CLI, to compare
    MONGODB_URI=mongodb://host/db .venv/bin/python bench/behaviour.py   # a real MongoDB instead

By default it hosts its own embedded nx-27017 in a thread, as `make run` and the tests do (with
ticketing.embedded's narrowed Python tier; --server-process: the stock CLI), on a private port with its data
under var/bench/behaviour-mongo/, fills `behaviour_logs` with
lines over 60 local days (1,000 events, 20,000 visitors, 40% signed in; views, seat-map opens,
holds, orders, payments, searches), creates the indexes of analytics.documents, and times each
figure of analytics.behaviour over the last 30 days and over 7 days: p50 / p95 / max of --runs.
The insert rate is printed separately. One run's answers are checked against a plain-Python
count over the same lines (read back with find), so the speed is of right answers.
"""

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = ROOT / "var" / "bench" / "behaviour-mongo"
PORT = 27419
DAYS = 60
EVENTS = 1_000
VISITORS = 20_000
QUERIES = ["周杰伦", "五月天", "话剧", "音乐剧", "livehouse", "脱口秀", "莫扎特", "jay chou", "coldplay", "亲子",
           "上海 演唱会", "北京 话剧", "电竞", "网球", "相声", "芭蕾", "unknown band", "拼写错误", "cats", "hamilton"]


def _port_answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def serve_nx(port: int, reuse: bool, in_process: bool):
    """nx-27017 on `port` over DATA_DIR: a server process of its own (returned, to stop), or a thread here."""
    import shutil
    import subprocess

    import pymongo

    if _port_answers(port):
        raise SystemExit(f"port {port} is already served (another bench/behaviour.py?); stop it first")
    if not reuse:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    process = None
    if in_process:
        from nx_27017.handler import NeoSQLiteHandler
        from nx_27017.server import run_server

        from ticketing.embedded import narrow_nx_python_aggregation

        narrow_nx_python_aggregation()
        handler = NeoSQLiteHandler(str(DATA_DIR / "default.db"), data_dir=str(DATA_DIR))

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(run_server("127.0.0.1", port, handler))

        threading.Thread(target=serve, name="nx-27017", daemon=True).start()
    else:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "nx-27017"), "--data-dir", str(DATA_DIR), "-p", str(port),
             "--log-file", str(DATA_DIR / "server.log"), "--pid-file", str(DATA_DIR / "server.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = pymongo.MongoClient(port=port, serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.admin.command("ping")
            return process
        except pymongo.errors.PyMongoError:
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                raise
            time.sleep(0.1)


def synthetic_lines(n: int, last_day, rng: random.Random):
    """Visits: each starts with an event view; some go on to the seat map, a hold, an order, a payment."""
    from django.utils import timezone

    first = timezone.make_aware(datetime.combine(last_day - timedelta(days=DAYS - 1), datetime.min.time()))
    made = 0
    while made < n:
        visitor = rng.randrange(VISITORS)
        user_id = visitor + 1 if visitor < VISITORS * 0.4 else None
        anon_id = f"v{visitor:06d}"
        at = first + timedelta(seconds=rng.randrange(DAYS * 86400))
        if rng.random() < 0.2:
            results = 0 if rng.random() < 0.3 else rng.randint(1, 40)
            yield {"user_id": user_id, "anon_id": anon_id, "action": "search", "event_id": None, "session_id": None,
                   "timestamp": at, "details": {"q": rng.choice(QUERIES), "results": results}}
            made += 1
            continue
        event_id = min(int(rng.paretovariate(1.2)), EVENTS)
        for action, go_on in (("event_view", 0.45), ("seatmap_open", 0.5), ("hold", 0.6), ("order", 0.8), ("pay", 0)):
            yield {"user_id": user_id, "anon_id": anon_id, "action": action, "event_id": event_id,
                   "session_id": None, "timestamp": at, "details": {}}
            made += 1
            at += timedelta(seconds=rng.randint(5, 300))
            if made >= n or rng.random() >= go_on:
                break


def fill(collection, n: int, last_day) -> float:
    rng = random.Random(27)
    batch, started = [], time.perf_counter()
    for doc in synthetic_lines(n, last_day, rng):
        batch.append(doc)
        if len(batch) == 5_000:
            collection.insert_many(batch, ordered=False)
            batch = []
            print(f"\r  inserted {collection.estimated_document_count():,}", end="", flush=True)
    if batch:
        collection.insert_many(batch, ordered=False)
    elapsed = time.perf_counter() - started
    print(f"\r  inserted {n:,} lines in {elapsed:.1f} s ({n / elapsed:,.0f} lines/s)")
    return elapsed


def twins(collection, start, end) -> dict:
    """Plain-Python figures over the lines of the range (read back with find)."""
    from django.utils import timezone

    steps = {"event_view": "view", "session_view": "seatmap", "seatmap_open": "seatmap", "hold": "hold",
             "order": "order", "pay": "paid"}
    funnel, days, users, searches = defaultdict(set), defaultdict(set), defaultdict(set), defaultdict(int)
    start_at = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    end_at = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()))
    for doc in collection.find({"$and": [{"timestamp": {"$gte": start_at}}, {"timestamp": {"$lt": end_at}}]}):
        who = f"u{doc['user_id']}" if doc["user_id"] is not None else f"a{doc['anon_id']}"
        day = timezone.localtime(doc["timestamp"]).date()
        days[day].add(who)
        if doc["user_id"] is not None:
            users[day].add(doc["user_id"])
        if doc["action"] in steps:
            funnel[steps[doc["action"]]].add(who)
        elif doc["action"] == "search":
            searches[doc["details"]["q"].lower()] += 1
    return {
        "funnel": [{"step": s, "visitors": len(funnel[s])} for s in ("view", "seatmap", "hold", "order", "paid")],
        "active_by_day": [{"day": start + timedelta(days=i), "visitors": len(days[start + timedelta(days=i)]),
                           "users": len(users[start + timedelta(days=i)])} for i in range((end - start).days + 1)],
        "searches": sorted(searches.items(), key=lambda kv: (-kv[1], kv[0]))[:20],
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the log filled by the last run (same --lines)")
    parser.add_argument("--no-check", action="store_true", help="skip the plain-Python check")
    parser.add_argument("--days", default="30,7", help="the ranges to time, in days ending today (default 30,7)")
    parser.add_argument("--server-process", action="store_true",
                        help="serve nx-27017 as its own stock CLI process, without the narrowed Python tier of "
                             "ticketing.embedded (to compare); default: a thread of this process, as make run hosts it")
    args = parser.parse_args()
    args.in_process = not args.server_process

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the server process is stopped too
    embedded, server_process = "MONGODB_URI" not in os.environ, None
    if embedded:
        server_process = serve_nx(PORT, args.reuse, args.in_process)
        os.environ["MONGODB_URI"] = f"mongodb://127.0.0.1:{PORT}/bench_behaviour"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    import logging

    import django

    django.setup()
    logging.getLogger().setLevel(logging.ERROR)  # nx-27017 logs each fallback from SQL to Python evaluation
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("neosqlite", "nx_27017")):
            logging.getLogger(name).setLevel(logging.ERROR)
    from django.utils import timezone

    from analytics import behaviour
    from analytics.documents import BehaviourLog, ensure_indexes

    collection = BehaviourLog._get_collection()
    server = (f"embedded nx-27017 ({'a thread of this process' if args.in_process else 'a server process'})"
              if embedded else os.environ["MONGODB_URI"].split("@")[-1])
    print(f"MongoDB: {server}")
    last_day = timezone.localdate()
    have = collection.estimated_document_count()
    if not (args.reuse and have == args.lines):
        collection.drop()
        ensure_indexes()
        fill(collection, args.lines, last_day)
    else:
        print(f"  reusing {have:,} lines")

    try:
        measure(args, collection, last_day, behaviour)
    finally:
        if server_process is not None:
            server_process.terminate()
            server_process.wait(10)
    return 0


def measure(args, collection, last_day, behaviour) -> None:
    ranges = {f"{n} days": (last_day - timedelta(days=n - 1), last_day) for n in map(int, args.days.split(","))}
    if not args.no_check:
        start, end = next(iter(ranges.values()))
        t0 = time.perf_counter()
        expected = twins(collection, start, end)
        scan = time.perf_counter() - t0
        got = {"funnel": behaviour.funnel(start=start, end=end, collection=collection),
               "active_by_day": behaviour.active_by_day(start=start, end=end, collection=collection),
               "searches": [(r["query"], r["count"])
                            for r in behaviour.searches_top(start=start, end=end, collection=collection)]}
        for name in expected:
            print(f"  check {name:14s} {'equal to the plain-Python count' if got[name] == expected[name] else 'DIFFERS'}")
        print(f"  (the Python count read the range back with find() in {scan:.1f} s)")

    print(f"\nload average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'figure':18s} {'range':8s} {'p50 ms':>9s} {'p95 ms':>9s} {'max ms':>9s}   runs={args.runs}")
    for label, (start, end) in ranges.items():
        for name, figure in behaviour.FIGURES.items():
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                figure(start=start, end=end, collection=collection)  # a given collection: never from the cache
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:18s} {label:8s} {statistics.median(times):9.1f} {percentile(times, 95):9.1f} {max(times):9.1f}",
                  flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
