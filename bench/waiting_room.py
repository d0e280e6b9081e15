#!/usr/bin/env python
"""A hot sale's waiting room (tickets.waiting_room) under a crowd: 20,000 visitors join within 10 s.

    .venv/bin/python bench/waiting_room.py                      # 20,000 visitors, 1,000 let in per second
    .venv/bin/python bench/waiting_room.py --visitors 5000 --rate 200

In-process, against the real Redis at 127.0.0.1:6379 (BENCH_REDIS_URL; database 13, key prefix
`bench_room`, emptied before and after) through the app's own code path: every join and poll is
`waiting_room.poll()` (the room's Lua script, one round trip), from --threads threads at once, as many web
processes would. Visitors arrive uniformly over --within seconds; the sale starts --start-after seconds in
(the ones before get random places, the later ones join the back). Each polls as the room's page does
(again 2–5 s later, jittered; before the start, just after it) until let in. Before its turn every visitor
also tries to hold with no admission, with another visitor's admission and with an admission to another
session — through `waiting_room.check()`, the gate tickets.services.hold_take applies — and once let in,
with its own. Prints join and poll latency (p50/p95/p99), the admission rate measured from the times
Redis recorded against the configured rate, admissions per second, the fairness of the order, and
"held without token" (exit 1 unless 0, or if the rate is more than 5% off).
"""

import argparse
import heapq
import os
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SESSION_ID = 990_001
OTHER_SESSION = 990_002


def setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "ticketing.settings"
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ["CACHE_KEY_PREFIX"] = "bench_room"
    os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_waiting_room.sqlite3")  # never opened
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=20_000)
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which they arrive")
    parser.add_argument("--start-after", type=float, default=5.0, help="seconds until the sale starts")
    parser.add_argument("--rate", type=int, default=1000, help="admissions per second")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop polling after this")
    args = parser.parse_args()
    setup()
    from tickets import waiting_room

    t_begin = time.time() + 1.0
    start = t_begin + args.start_after
    end = start + 3600
    config = waiting_room.RoomConfig(
        session_id=SESSION_ID, event_id=1, hot=True, public=True, rate=args.rate, opens=t_begin - 600, start=start,
        end=end, event_title="bench", session_name="", starts=end, venue="")
    waiting_room.room_forget(SESSION_ID)
    waiting_room.config_store(config)
    # The session as the hold's gate sees it (tickets.catalogue.SessionInfo's fields that matter here).
    session = SimpleNamespace(id=SESSION_ID, waiting_room=True, cancelled=False,
                              sales_start=datetime.fromtimestamp(start, tz=UTC), sales_end=datetime.fromtimestamp(end, tz=UTC))

    arrivals = {v: t_begin + random.uniform(0, args.within) for v in range(1, args.visitors + 1)}
    join_ms, poll_ms, errors = [], [], []
    admitted_at: dict[int, float] = {}
    last_token = [""]  # the admission of the visitor let in before (to try as someone else's)
    joined_at: dict[int, float] = {}  # when each first asked (a thread behind schedule joins late)
    passed_without = [0]  # gate checks that let a visitor hold without a valid admission of their own
    checks = [0]
    lock = threading.Lock()
    deadline = start + args.max_seconds

    def refused(user_id: int, token: str) -> bool:
        try:
            waiting_room.check(session, user_id=user_id, token=token)
        except waiting_room.WaitingRoomRequired:
            return True
        return False

    def worker(mine: list[int]) -> None:
        heap = [(arrivals[v], v, True) for v in mine]
        heapq.heapify(heap)
        while heap:
            at, visitor, first = heapq.heappop(heap)
            pause = at - time.time()
            if pause > 0:
                time.sleep(pause)
            if time.time() > deadline:
                return
            began, sent = time.perf_counter(), time.time()
            try:
                place = waiting_room.poll(session_id=SESSION_ID, user_id=visitor)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(repr(exc))
                heapq.heappush(heap, (time.time() + 1, visitor, first))
                continue
            took = (time.perf_counter() - began) * 1000
            now = time.time()
            with lock:
                poll_ms.append(took)
                if first:
                    join_ms.append(took)
                    joined_at[visitor] = (sent, now)
            if place.state == "admitted":
                token, _expires = waiting_room.token_issue(session_id=SESSION_ID, user_id=visitor,
                                                           admitted_at=place.admitted_at)
                bad = [("", visitor), (waiting_room.token_issue(session_id=OTHER_SESSION, user_id=visitor,
                                                                admitted_at=place.admitted_at)[0], visitor)]
                if last_token[0]:
                    bad.append((last_token[0], visitor))
                with lock:
                    admitted_at[visitor] = place.admitted_at
                    last_token[0] = token
                    checks[0] += len(bad) + 1
                    passed_without[0] += sum(not refused(u, t) for t, u in bad)
                    if refused(visitor, token):
                        errors.append(f"visitor {visitor}: own admission refused")
                continue
            if first:  # tries to hold before its turn, with nothing
                with lock:
                    checks[0] += 1
                    passed_without[0] += not refused(visitor, "")
            if now < start:
                later = start + 0.2 + random.uniform(0, 1.5)
            else:
                eta = (place.position or 0) / args.rate
                later = now + (2.0 if eta < 10 else 3.5) + random.uniform(0, 1.5)
            heapq.heappush(heap, (later, visitor, False))

    visitors = list(arrivals)
    threads = [threading.Thread(target=worker, args=(visitors[i::args.threads],)) for i in range(args.threads)]
    cpu0, wall0 = time.process_time(), time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu, wall = time.process_time() - cpu0, time.time() - wall0

    recorded = {int(k.decode()[1:]): float(v) for k, v in waiting_room._client().hgetall(
        waiting_room._key(SESSION_ID, "in")).items()}
    waiting_room.room_forget(SESSION_ID)
    times = sorted(recorded.values())
    first_in, last_in = (times[0], times[-1]) if times else (start, start)
    span = last_in - start
    measured = len(times) / span if span > 0 else float("nan")
    per_second = [0] * (int(span) + 1)
    for t in times:
        per_second[min(int(t - start), len(per_second) - 1)] += 1
    whole = per_second[:-1] or per_second
    lag = [joined_at[v][0] - arrivals[v] for v in joined_at]
    # By when each really joined (the room saw that, not the schedule): answered before the start, or asked
    # after it; the few whose join was in flight at the start are left out.
    before = sorted((v for v in recorded if v in joined_at and joined_at[v][1] < start), key=lambda v: joined_at[v][0])
    after = sorted((v for v in recorded if v in joined_at and joined_at[v][0] > start), key=lambda v: joined_at[v][0])
    rho = float("nan")
    if len(before) > 2:
        rank = {v: i for i, v in enumerate(sorted(before, key=lambda v: recorded[v]))}
        n = len(before)
        rho = 1 - 6 * sum((i - rank[v]) ** 2 for i, v in enumerate(before)) / (n * (n * n - 1))
    # Later arrivals in order: no one let in after someone who asked more than 50 ms after them (threads
    # send at slightly different moments from when they read the clock).
    inversions, window = 0, 0.05
    earlier_max = float("-inf")
    pending: list[int] = []
    for v in after:
        pending.append(v)
        while pending and joined_at[pending[0]][0] < joined_at[v][0] - window:
            earlier_max = max(earlier_max, recorded[pending.pop(0)])
        inversions += recorded[v] < earlier_max
    late_in_order = inversions == 0
    late_behind = not before or not after or min(recorded[v] for v in after) >= max(recorded[v] for v in before)

    print(f"visitors {args.visitors:,} arriving over {args.within:g} s, sale start at +{args.start_after:g} s, "
          f"rate {args.rate:,}/s, {args.threads} threads; ran {wall:.1f} s wall, {cpu:.1f} s CPU (this process)")
    print(f"client behind its schedule: p99 {percentile(lag, .99) * 1000:.0f} ms (the load generator's own lag)")
    print(f"join  p50 {percentile(join_ms, .5):.2f} ms  p95 {percentile(join_ms, .95):.2f} ms  "
          f"p99 {percentile(join_ms, .99):.2f} ms  max {max(join_ms, default=0):.1f} ms  ({len(join_ms):,} joins)")
    print(f"poll  p50 {percentile(poll_ms, .5):.2f} ms  p95 {percentile(poll_ms, .95):.2f} ms  "
          f"p99 {percentile(poll_ms, .99):.2f} ms  ({len(poll_ms):,} polls, {len(poll_ms) / wall:,.0f}/s)")
    print(f"admitted {len(times):,} of {args.visitors:,}; first {first_in - start:+.3f} s after the start, last "
          f"{span:.2f} s; measured {measured:,.1f}/s against {args.rate:,}/s configured "
          f"({(measured / args.rate - 1) * 100:+.2f}%)")
    if whole:
        print(f"admissions per whole second: min {min(whole):,}  median {statistics.median(whole):,.0f}  "
              f"max {max(whole):,}  (over {len(whole)} s)")
    print(f"fairness: arrival vs admission order of the {len(before):,} who came before the start, Spearman rho "
          f"{rho:+.3f} (0 = no advantage for arriving earlier); the {len(after):,} later ones let in after them: "
          f"{late_behind}, in arrival order: {late_in_order} ({inversions} let in before someone who came >50 ms "
          f"earlier)")
    print(f"held without token: {passed_without[0]} (of {checks[0]:,} gate checks: none, another session's, "
          f"another visitor's; and each admitted visitor's own, all accepted: {not any('own' in e for e in errors)})")
    if errors:
        print(f"errors: {len(errors)}, e.g. {errors[:3]}")
    ok = passed_without[0] == 0 and not errors and abs(measured / args.rate - 1) <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
