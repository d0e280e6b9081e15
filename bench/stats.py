#!/usr/bin/env python
"""Dashboard queries (analytics.stats) over 1,000,000 order lines on MariaDB: p50/p95 of 20 runs each.

    .venv/bin/python bench/stats.py                 # builds the data once (kept), then times
    .venv/bin/python bench/stats.py --refill        # drop the bench database and build it again
    .venv/bin/python bench/stats.py --tickets 200000 --runs 10

Uses a MariaDB database of its own, `ticketing_bench_stats` (created and migrated if missing;
BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server). The data: 40
publishers, 400 approved events in 10 cities and 8 categories, each with 2 GA sessions of 2
ticket types; 50,000 buyers who joined over the last year; orders of 1–5 tickets (3 on average)
paid over the last 365 days with a daily and hourly rhythm (evenings, weekends busier), until
--tickets tickets exist; 3% of the orders refunded (approved, tickets void). Orders and tickets go
in with multi-row INSERTs (executemany, ids given), about 20,000 tickets a transaction.

Then the sales roll-up of every day is built (manage.py sales_rollup --all, timed), and each
dashboard figure runs --runs times (after one warm-up; each sales figure is compared once with
its live-only answer) for: an administrator's default
range (the last 30 days, every event), a publisher's 30 days (their 10 events), and an
administrator's full year (--year-runs, default 5: a year is not the dashboard's default); then the
sales figures live only (--live-runs, the 30-day scopes), as before the roll-up. Prints p50/p95 in ms per figure and scope; the target is p95 < 300 ms per chart.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CITIES = ["上海", "北京", "杭州", "广州", "深圳", "成都", "南京", "武汉", "西安", "重庆"]
CATEGORIES = [("concert", "演唱会", "Concerts"), ("drama", "话剧", "Drama"), ("jazz", "爵士", "Jazz"),
              ("kids", "亲子", "Kids"), ("sport", "体育", "Sports"), ("dance", "舞蹈", "Dance"),
              ("expo", "展览", "Exhibitions"), ("comedy", "脱口秀", "Comedy")]
BATCH = 20_000


def setup(refill: bool) -> None:
    from _services import closed_port, create_mysql_database
    import environ

    server = os.environ.get("BENCH_DATABASE_SERVER", "mysql://root@127.0.0.1:3306").rstrip("/")
    os.environ["DATABASE_URL"] = f"{server}/ticketing_bench_stats"
    os.environ["DJANGO_SETTINGS_MODULE"] = "ticketing.settings"
    os.environ["MONGODB_URI"] = f"mongodb://127.0.0.1:{closed_port()}/bench"  # sales figures only
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    create_mysql_database(environ.Env.db_url_config(os.environ["DATABASE_URL"]), refill=refill)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(target_tickets: int, rng: random.Random) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Role, User
    from events.models import Category, Event, EventStatus
    from orders.models import Order, OrderStatus, Refund, RefundStatus, Ticket, TicketStatus
    from tickets.models import Session, Stock, TicketType

    have = Ticket.objects.count()
    if have >= target_tickets:
        print(f"data: {have:,} tickets already there (--refill to build again)")
        if not Stock.objects.filter(sold__gt=0).exists():
            finish()
        return
    if have:
        raise SystemExit(f"{have:,} tickets there, fewer than {target_tickets:,}: run with --refill")
    started = time.perf_counter()
    now = timezone.now()
    password = make_password(None)
    with transaction.atomic():
        categories = [Category.objects.filter(slug=slug).first() or Category.objects.add_root({"slug": slug, "name_zh": zh, "name_en": en})
                      for slug, zh, en in CATEGORIES]
        User.objects.bulk_create([User(username=f"bench-pub-{n}", email=f"bench-pub-{n}@example.com", role=Role.PUBLISHER,
                                       password=password, display_name=f"主办方{n}") for n in range(40)])
        publishers = list(User.objects.filter(role=Role.PUBLISHER).order_by("pk"))
        events = []
        for n in range(400):
            start = now + timedelta(days=rng.randint(20, 200))
            events.append(Event(title=f"压测活动 {n}", start_time=start, end_time=start + timedelta(hours=3), venue="大剧院",
                                city=CITIES[n % len(CITIES)], category=categories[n % len(categories)],
                                status=EventStatus.APPROVED, publisher=publishers[n % len(publishers)]))
        Event.objects.bulk_create(events)
        events = list(Event.objects.order_by("pk"))
        TicketType.objects.bulk_create([TicketType(event=e, name=name, base_price=price, position=i)
                                        for e in events for i, (name, price) in enumerate([("普通", 180), ("VIP", 480)])])
        types = {}
        for tt in TicketType.objects.all():
            types.setdefault(tt.event_id, []).append((tt.pk, tt.base_price))
        Session.objects.bulk_create([Session(event=e, name=f"第{k + 1}场", start_time=e.start_time + timedelta(days=k),
                                             end_time=e.end_time + timedelta(days=k), sales_start=now - timedelta(days=400),
                                             sales_end=e.start_time + timedelta(days=k) - timedelta(hours=1))
                                     for e in events for k in range(2)])
        sessions = {}
        for s in Session.objects.all():
            sessions.setdefault(s.event_id, []).append(s.pk)
        Stock.objects.bulk_create([Stock(session_id=sid, ticket_type_id=tt, total=20_000, available=20_000)
                                   for e in events for sid in sessions[e.pk] for tt, _price in types[e.pk]])
    year_ago = now - timedelta(days=365)
    buyers = [User(username=f"bench-buyer-{n}", email=f"bench-buyer-{n}@example.com", password=password,
                   date_joined=year_ago + timedelta(seconds=rng.randint(0, 365 * 86400))) for n in range(50_000)]
    User.objects.bulk_create(buyers, batch_size=5000)
    buyer_ids = list(User.objects.filter(role=Role.CUSTOMER).values_list("pk", flat=True))
    print(f"catalogue and buyers: {time.perf_counter() - started:.1f} s")

    q = connection.ops.quote_name
    order_sql = (f"INSERT INTO {q(Order._meta.db_table)} (id, number, user_id, event_id, status, total, expires_at,"
                 " created_at, paid_at, closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
    ticket_sql = (f"INSERT INTO {q(Ticket._meta.db_table)} (order_id, user_id, event_id, session_id, ticket_type_id, price,"
                  " status, code, seat_claim, attendee_name, attendee_id_masked, created_at) VALUES"
                  " (%s, %s, %s, %s, %s, %s, %s, %s, %s, '', '', %s)")
    refund_sql = (f"INSERT INTO {q(Refund._meta.db_table)} (order_id, user_id, amount, reason, status, review_reason,"
                  " open_claim, created_at, reviewed_at) VALUES (%s, %s, %s, 'bench', %s, '', 1, %s, %s)")
    # Busier evenings and weekends; more sales lately (a growing shop).
    hour_weights = [1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 9, 8, 8, 9, 10, 12, 14, 14, 12, 7, 3]
    event_weights = [rng.paretovariate(1.2) for _ in events]
    made = orders_made = 0
    order_no = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {q(Order._meta.db_table)}")
        next_order_id = cursor.fetchone()[0] + 1
        while made < target_tickets:
            order_rows, ticket_rows, refund_rows = [], [], []
            while len(ticket_rows) < BATCH and made + len(ticket_rows) < target_tickets:
                day = int(365 * rng.random() ** 1.25)  # nearer days more often (13% in the last 30)
                when = now - timedelta(days=day)
                if when.weekday() >= 5 and rng.random() < 0.3:
                    when -= timedelta(days=1)
                paid = (when.replace(hour=0, minute=0, second=0, microsecond=0)
                        + timedelta(hours=rng.choices(range(24), hour_weights)[0] - 8, seconds=rng.randint(0, 3599)))
                paid = min(paid, now - timedelta(minutes=1))
                event = rng.choices(events, event_weights)[0]
                session_id = rng.choice(sessions[event.pk])
                tt, price = rng.choice(types[event.pk])
                n = rng.choices([1, 2, 3, 4, 5], [15, 30, 20, 20, 15])[0]
                refunded = rng.random() < 0.03
                buyer = rng.choice(buyer_ids)
                order_no += 1
                order_id = next_order_id
                next_order_id += 1
                total = Decimal(price) * n
                order_rows.append((order_id, f"B{order_no:011d}", buyer, event.pk,
                                   OrderStatus.REFUNDED if refunded else OrderStatus.PAID, total,
                                   paid + timedelta(minutes=15), paid - timedelta(minutes=2), paid,
                                   paid + timedelta(days=2) if refunded else None))
                for k in range(n):
                    ticket_rows.append((order_id, buyer, event.pk, session_id, tt, price,
                                        TicketStatus.VOID if refunded else TicketStatus.VALID,
                                        f"bench-{order_id}-{k}", None if refunded else 1, paid))
                if refunded:
                    reviewed = min(paid + timedelta(days=rng.randint(1, 5)), now - timedelta(seconds=30))
                    refund_rows.append((order_id, buyer, total, RefundStatus.APPROVED, paid + timedelta(days=1), reviewed))
            with transaction.atomic():
                cursor.executemany(order_sql, [_adapt(r) for r in order_rows])
                cursor.executemany(ticket_sql, [_adapt(r) for r in ticket_rows])
                if refund_rows:
                    cursor.executemany(refund_sql, [_adapt(r) for r in refund_rows])
            made += len(ticket_rows)
            orders_made += len(order_rows)
            print(f"\r  {made:,} tickets, {orders_made:,} orders ({time.perf_counter() - started:.0f} s)", end="", flush=True)
        print()
    print(f"data: {made:,} tickets in {orders_made:,} orders, built in {time.perf_counter() - started:.0f} s")
    finish()


def finish() -> None:
    """The stock counters agree with the tickets (sell-through reads them); fresh index statistics."""
    from django.db import connection

    from orders.models import Order, Refund, Ticket
    from tickets.models import Stock

    q = connection.ops.quote_name
    t, s = q(Ticket._meta.db_table), q(Stock._meta.db_table)
    with connection.cursor() as cursor:
        # MariaDB assigns left to right: total and available see the new `sold`.
        cursor.execute(f"UPDATE {s} SET sold = (SELECT COUNT(*) FROM {t} WHERE {t}.session_id = {s}.session_id AND "
                       f"{t}.ticket_type_id = {s}.ticket_type_id AND {t}.status = 'valid'), "
                       f"total = GREATEST(total, sold), available = total - sold")
        cursor.execute(f"ANALYZE TABLE {q(Order._meta.db_table)}, {t}, {q(Refund._meta.db_table)}")
        cursor.fetchall()


def _adapt(row: tuple) -> tuple:
    """Datetimes as naive UTC (what Django writes to MariaDB with USE_TZ)."""
    return tuple(v.astimezone(dt_timezone.utc).replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)


def rollup_all() -> None:
    """The sales roll-up of every day (manage.py sales_rollup --all), timed."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("sales_rollup", "--all")
    print(f"roll-up of every day built in {time.perf_counter() - started:.1f} s")


def time_figures(runs: int, year_runs: int, *, rollup: bool = True,
                 compare: bool = False) -> list[tuple[str, str, float, float]]:
    """p50/p95 per figure and scope; rollup=False: live from the orders tables only (sales figures, 30-day
    scopes). compare: each sales figure is also computed live once and must be equal."""
    from django.db import connection, reset_queries

    from accounts.models import Role, User
    from analytics import stats
    from analytics.scope import StatsFilterForm

    admin = User.objects.filter(role=Role.ADMIN).first() or User.objects.create(
        username="bench-admin", email="bench-admin@example.com", role=Role.ADMIN)
    publisher = User.objects.filter(role=Role.PUBLISHER).order_by("pk").first()

    def scope(user, **query):
        form = StatsFilterForm(query, user=user)
        assert form.is_valid(), form.errors
        return form.scope()

    today = __import__("django.utils.timezone", fromlist=["localdate"]).localdate()
    scopes = {
        "admin, 30 days": scope(admin),
        "publisher, 30 days": scope(publisher),
        "admin, 365 days": scope(admin, **{"from": str(today - timedelta(days=364)), "to": str(today)}),
    }
    figures = {
        **{f"sales by {g}": (lambda s, g=g, r=rollup: stats.sales(scope=s, group_by=g, limit=200, rollup=r))
           for g in stats.GROUPS},
        "heat (weekday x hour)": lambda s, r=rollup: stats.sales_heat(scope=s, rollup=r),
    }
    if rollup:
        figures |= {"sell-through": lambda s: stats.sell_through(scope=s),
                    "new users by day": lambda s: stats.new_users_by_day(start=s.start, end=s.end)}
    else:
        scopes.pop("admin, 365 days")  # 10-28 s a figure live
    print(f"  -- {'roll-up (complete days) + live (today)' if rollup else 'live only'}")
    results = []
    for scope_name, sc in scopes.items():
        for name, figure in figures.items():
            answer = figure(sc)  # warm-up (and the buffer pool)
            if compare and name.startswith(("sales", "heat")):
                live = (stats.sales(scope=sc, group_by=name.split()[-1], limit=200, rollup=False)
                        if name.startswith("sales") else stats.sales_heat(scope=sc, rollup=False))
                print(f"  {scope_name:<20} {name:<24} roll-up + live == live only: {answer == live}", flush=True)
            times = []
            for _ in range(year_runs if "365" in scope_name else runs):
                t0 = time.perf_counter()
                rows = figure(sc)
                times.append((time.perf_counter() - t0) * 1000)
            p50 = statistics.median(times)
            p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
            results.append((scope_name, name, p50, p95))
            print(f"  {scope_name:<20} {name:<24} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(rows)} rows)", flush=True)
    reset_queries()
    connection.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--year-runs", type=int, default=5, help="runs per figure over the full year (slow)")
    parser.add_argument("--live-runs", type=int, default=5, help="runs per sales figure live only (30 days; 0: none)")
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    setup(args.refill)
    build(args.tickets, random.Random(args.seed))
    rollup_all()
    print(f"timing {args.runs} runs per figure (after one warm-up):")
    results = time_figures(args.runs, args.year_runs, compare=True)
    if args.live_runs:
        print(f"timing {args.live_runs} runs per sales figure, live only (what stats did before the roll-up):")
        time_figures(args.live_runs, 0, rollup=False)
    default = [r for r in results if r[0] != "admin, 365 days"]
    worst = max(default, key=lambda r: r[3])
    print(f"worst p95 on the dashboards' default ranges: {worst[3]:.1f} ms ({worst[0]}, {worst[1]}); "
          f"target < 300 ms: {'met' if worst[3] < 300 else 'NOT met'}")
    year_worst = max((r for r in results if r[0] == "admin, 365 days"), key=lambda r: r[3])
    print(f"worst p95 over a full year: {year_worst[3]:.1f} ms ({year_worst[1]})")


if __name__ == "__main__":
    main()
