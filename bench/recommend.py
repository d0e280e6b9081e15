#!/usr/bin/env python
"""Recommendations at scale: index build time, the log scan, and /api/recommend over HTTP (prints figures).

    .venv/bin/python bench/recommend.py                        # 100,000 events, 50,000 users, 2,000,000 lines
    .venv/bin/python bench/recommend.py --requests 5000 --concurrency 4
    .venv/bin/python bench/recommend.py --refill               # drop the bench database and fill it again

1. Catalogue: 100,000 events in a MariaDB database of its own (ticketing_bench_recs, filled as bench/search.py
   fills its own: bilingual titles, categories, tags, cities; 92% approved, 80% with tickets left).
2. Behaviour: 2,000,000 synthetic lines of 50,000 users with hidden tastes (analytics.recs.synthetic: one or
   two favourite categories of the catalogue, a home city, 20% noise), as arrays. The build takes these
   arrays as the rebuild takes its log scan: jieba + tf-idf + SVD for content, BM25 + truncated SVD of the
   user × event matrix, the FAISS index (HNSW above 20,000 events), saved as a version. Printed: each step,
   the whole build twice (the first in a new process, as the beat's worker does it, then again).
3. Log scan, reported apart: --scan-sample lines are inserted into an nx-27017 MongoDB (the embedded
   one, its own process and port) and scanned as the rebuild scans them; the time for 2,000,000 lines is
   extrapolated from it (linear: one find, one pass), and says so.
4. HTTP: the services layout (gunicorn sync workers, deploy/gunicorn.conf.py, as bench/checkout.py runs it)
   serving the saved index; --api-users users each have their last lines in that MongoDB and a stored
   embedding; --requests GET /api/recommend/<id>?k=10 with their tokens, --concurrency at a time.
   p50 / p95 / p99 (target p99 < 20 ms).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATABASE = "ticketing_bench_recs"
REDIS_DB = 12  # 7-9: the sale benches, 10: schemathesis, 11: availability
PREFIX = "bench_recs"
WORK = ROOT / "var" / "bench" / "recs"
BUILD_TARGET_S = 60
P99_TARGET_MS = 20


def serve_mongo(port: int, data_dir: Path) -> None:
    """nx-27017 in this (child) process until killed."""
    from nx_27017.handler import NeoSQLiteHandler
    from nx_27017.server import run_server

    data_dir.mkdir(parents=True, exist_ok=True)
    handler = NeoSQLiteHandler(str(data_dir / "default.db"), data_dir=str(data_dir))
    asyncio.run(run_server("127.0.0.1", port, handler))


def start_mongo(port: int) -> subprocess.Popen:
    import shutil

    import pymongo

    data_dir = WORK / "mongo"
    shutil.rmtree(data_dir, ignore_errors=True)
    log = open(WORK / "mongo.log", "wb")
    proc = subprocess.Popen([sys.executable, __file__, "--serve-mongo", str(port), str(data_dir)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = pymongo.MongoClient(port=port, serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.admin.command("ping")
            return proc
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"nx-27017 did not start; see {WORK / 'mongo.log'}")
            time.sleep(0.2)


def catalogue_arrays(n_events: int):
    """The bench catalogue's first n events as the generator wants them: ids, category and city indices."""
    import numpy as np

    from analytics.recs.synthetic import CATEGORY_WORDS, CITIES
    from events.models import Event

    rows = list(Event.objects.order_by("pk").values_list("pk", "category_id", "city")[:n_events])
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    categories = sorted({r[1] for r in rows})
    cities = sorted({r[2] for r in rows})
    category = np.asarray([categories.index(r[1]) % len(CATEGORY_WORDS) for r in rows])
    city = np.asarray([cities.index(r[2]) % len(CITIES) for r in rows])
    return ids, category, city


def build(interactions, *, now: datetime) -> dict[str, float]:
    """What recs_rebuild does after its log scan, on arrays: catalogue + tokens, vectors, FAISS, save."""
    import numpy as np

    from analytics.recs import build as recs_build
    from analytics.recs import index as recs_index
    from analytics.recs import vectors as vec

    timings = {}
    clock = Clock()
    events = recs_build.catalogue(since=now - timedelta(days=recs_build.LOG_DAYS))
    by_id = {e["id"]: e for e in events}
    ordered = [by_id[int(pk)] for pk in interactions.event_ids]
    timings["catalogue read"] = clock.lap()
    documents = recs_build.documents(ordered)
    timings["jieba tokens (jieba-rs)"] = clock.lap()
    built = recs_build.build_vectors(interactions, documents)
    timings["behaviour BM25 + SVD, content tf-idf + SVD"] = clock.lap()
    print(f"  (of which behaviour {built.seconds['behaviour_svd']:.1f} s, content {built.seconds['content_tfidf_svd']:.1f} s wall)")
    public = np.asarray([e["public"] and e["end_time"] >= now for e in ordered], dtype=bool)
    popular = recs_build.popularity(interactions)
    rows = [r for r in np.argsort(-popular, kind="stable")[:20_000] if public[r]][: recs_build.POPULAR_KEEP]
    version = recs_index.save(index_ids=interactions.event_ids[public],
                              index_vectors=vec.with_popularity(built.event_vectors[public], popular[public]),
                              ids=interactions.event_ids, vectors=built.event_vectors,
                              popular_ids=interactions.event_ids[rows], built_at=now)
    timings[f"FAISS build + save ({'HNSW' if public.sum() >= recs_index.HNSW_FROM else 'flat'}, {public.sum():,} rows)"] = \
        clock.lap()
    build.version, build.vectors = version, built.event_vectors
    return timings


class Clock:
    """Wall and CPU seconds (this process, all its threads) since the last lap."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        lap = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return lap


def print_timings(title: str, timings: dict[str, tuple[float, float]]) -> float:
    wall = sum(w for w, _ in timings.values())
    cpu = sum(c for _, c in timings.values())
    load = os.getloadavg()[0]
    print(f"{title}: {wall:.1f} s wall, {cpu:.1f} s CPU (target < {BUILD_TARGET_S} s; load average {load:.1f} "
          f"on {os.cpu_count()} cores)")
    for name, (w, c) in timings.items():
        print(f"  {name:<48} {w:7.2f} s wall {c:7.2f} s CPU")
    return wall


def lines_for(synthetic, rows, *, now: datetime, user_of_row: dict[int, int] | None, anon_prefix: str = "v"):
    from analytics.recs.synthetic import ACTIONS

    inter = synthetic.interactions
    out = []
    for i in rows:
        visitor = int(inter.visitor[i])
        user_id = user_of_row.get(visitor) if user_of_row else None
        out.append({"user_id": user_id, "anon_id": f"{anon_prefix}{visitor}", "action": ACTIONS[synthetic.actions[i]],
                    "event_id": int(inter.event_ids[inter.event[i]]), "session_id": None,
                    "timestamp": now - timedelta(days=float(inter.age_days[i])), "details": {}})
    return out


def measure_scan(synthetic, *, sample: int, total: int, now: datetime) -> None:
    import numpy as np

    from analytics.documents import BehaviourLog, ensure_indexes
    from analytics.recs.build import scan_logs

    ensure_indexes()
    rng = np.random.default_rng(1)
    rows = rng.choice(len(synthetic.interactions.visitor), sample, replace=False)
    docs = lines_for(synthetic, rows, now=now, user_of_row=None, anon_prefix="s")
    collection = BehaviourLog._get_collection()
    started = time.perf_counter()
    for begin in range(0, len(docs), 5000):
        collection.insert_many(docs[begin:begin + 5000], ordered=False)
    inserted = time.perf_counter() - started
    scan = scan_logs(now=now)
    per_line = scan.seconds / max(scan.lines, 1)
    print(f"log scan (nx-27017, own process): {scan.lines:,} lines in {scan.seconds:.2f} s "
          f"({scan.lines / scan.seconds:,.0f} lines/s); extrapolated to {total:,} lines: {per_line * total:.0f} s "
          f"(linear extrapolation of one find + one pass, not measured at that size). Insert: {inserted:.1f} s")
    collection.delete_many({})


async def hammer(base: str, targets: list[tuple[int, str]], *, requests: int, concurrency: int) -> tuple[list[float], dict]:
    import aiohttp

    samples: list[float] = []
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    queue = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(targets[i % len(targets)])

    async def worker(http):
        while not queue.empty():
            user_id, token = queue.get_nowait()
            started = time.perf_counter()
            async with http.get(f"{base}/api/recommend/{user_id}?k=10", headers={"Authorization": f"Bearer {token}"}) as r:
                body = await r.json(content_type=None)
            samples.append((time.perf_counter() - started) * 1000)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            sizes.append(len(body.get("results", [])) if isinstance(body, dict) else 0)

    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # gunicorn's sync workers close connections
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    statuses["results_min"] = min(sizes) if sizes else 0
    return samples, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--scan-sample", type=int, default=100_000, help="lines put in MongoDB to time the scan")
    parser.add_argument("--api-users", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--http-only", action="store_true", help="serve the last run's index: no build, no scan")
    parser.add_argument("--serve-mongo", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mongo:
        serve_mongo(int(args.serve_mongo[0]), Path(args.serve_mongo[1]))
        return 0

    import _services
    import search as search_bench

    _services.stop_on_sigterm()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ["TICKETING_VAR_DIR"] = str(WORK / "var")  # the index versions, for this process and the servers
    mongo_port = _services.free_port()
    mongo = start_mongo(mongo_port)
    try:
        env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=60)
        env["MONGODB_URI"] = os.environ["MONGODB_URI"] = f"mongodb://127.0.0.1:{mongo_port}/bench_recs"
        env["TICKETING_VAR_DIR"] = os.environ["TICKETING_VAR_DIR"]
        search_bench.prepare_database(os.environ["DATABASE_URL"], refill=args.refill)
        search_bench.fill(args.events)
        _services.clear_redis(f"{_services.REDIS_URL}/{REDIS_DB}", PREFIX)
        return run(args, env)
    finally:
        mongo.terminate()
        mongo.wait(timeout=10)


def run(args, env: dict) -> int:
    import numpy as np
    from django.utils import timezone

    from analytics.documents import BehaviourLog
    from analytics.recs.build import store_user_embeddings, LogScan
    from analytics.recs.synthetic import generate

    now = timezone.now()
    ids, category, city = catalogue_arrays(args.events)
    started = time.perf_counter()
    synthetic = generate(events=len(ids), users=args.users, lines=args.lines, event_category=category, event_city=city)
    synthetic.interactions.event_ids = ids
    print(f"synthetic behaviour: {len(synthetic.interactions.visitor):,} lines, {args.users:,} users, "
          f"{len(ids):,} events ({time.perf_counter() - started:.1f} s to generate, not counted)")

    if args.http_only:  # the index of the last run
        from analytics.recs import index as recs_index

        last = recs_index.load((recs_index.directory() / recs_index.POINTER).read_text().strip())
        build.version, build.vectors = last.version, np.zeros((len(ids), last.vectors.shape[1]), dtype=np.float32)
        _found, rows_of = last.vector_rows(ids)
        build.vectors[_found] = last.vectors[rows_of]
        cold = warm = float("nan")
        print(f"--http-only: serving {last.version} of the last run")
    else:
        cold = print_timings("index build, first in this process", build(synthetic.interactions, now=now))
        warm = print_timings("index build, again", build(synthetic.interactions, now=now))
        measure_scan(synthetic, sample=args.scan_sample, total=args.lines, now=now)

    # The API's users: the first --api-users synthetic users, as bench buyers with their lines and embeddings.
    import _services

    users = _services.ensure_buyers(args.api_users)
    user_of_row = {row: user.pk for row, user in enumerate(users)}
    inter = synthetic.interactions
    rows = np.flatnonzero(inter.visitor < args.api_users)
    BehaviourLog._get_collection().insert_many(lines_for(synthetic, rows, now=now, user_of_row=user_of_row))
    from analytics.recs.build import Interactions

    sub = Interactions(visitor=inter.visitor[rows], event=inter.event[rows], weight=inter.weight[rows],
                       age_days=inter.age_days[rows], n_visitors=args.api_users, event_ids=inter.event_ids)
    scan = LogScan(visitor_keys=[f"u{u.pk}" for u in users], user_ids=[u.pk for u in users], interactions=sub,
                   lines=len(rows), seconds=0.0)
    events = [{"categories": [], "city": "", "tags": []}] * len(inter.event_ids)
    stored = store_user_embeddings(scan=scan, interactions=sub, events=events, event_vectors=build.vectors,
                                   version=build.version, now=now)
    print(f"API users: {len(users)} with {len(rows):,} lines in MongoDB and {stored} stored embeddings")

    tokens = _services.mint_tokens(users)
    targets = list(zip([u.pk for u in users], tokens))
    with _services.Servers(env, name="recs", workers=args.workers) as servers:
        # First, one request per user: each worker loads the index, each user's taste is read from MongoDB.
        first, first_statuses = _services.run(hammer(servers.http, targets, requests=len(targets),
                                                     concurrency=args.concurrency))
        samples, statuses = _services.run(hammer(servers.http, targets, requests=args.requests,
                                                 concurrency=args.concurrency))
    f50, _f95, f99 = _services.percentiles(first)
    print(f"first request per user (index load, MongoDB read of the user's last lines): p50 {f50:.1f} ms, "
          f"p99 {f99:.1f} ms; statuses {first_statuses}")
    p50, p95, p99 = _services.percentiles(samples)
    print(f"GET /api/recommend/<id>?k=10 over HTTP (gunicorn, {args.workers} sync workers, {args.concurrency} at a time, "
          f"{len(samples):,} requests): p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max(samples):.1f} ms "
          f"(target p99 < {P99_TARGET_MS} ms); statuses {statuses}; mean {statistics.mean(samples):.1f} ms")
    ok = cold < BUILD_TARGET_S and p99 < P99_TARGET_MS
    print(f"build first {cold:.1f} s / again {warm:.1f} s; p99 {p99:.1f} ms: {'targets met' if ok else 'TARGET MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
