#!/usr/bin/env python
"""On-sale reminders (tickets.reminders) for one popular event on MariaDB: how long the beat's run takes
to tell every wanter, and what the next run costs when there is nothing left to send.

    .venv/bin/python bench/reminders.py                  # 5,000 wanters
    .venv/bin/python bench/reminders.py --wanters 20000

Uses a MariaDB database of its own, `ticketing_bench_reminders`, made afresh each run
(BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server). One approved event,
one general-admission session whose sales open in an hour, --wanters buyers with an email address who
marked it before; then `reminders_due(now=<a minute after the opening>)` runs as the beat would: a
SessionReminder, a Notification and the email's outbox row per buyer, BATCH buyers a transaction (the
websocket pushes go to a channel layer that is not there: each is dropped at once). Prints the run's
seconds, reminders per second, SQL statements per reminder, and the idle run that follows.
"""

import argparse
import os
import sys
import time
from decimal import Decimal
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def setup() -> None:
    from _services import closed_port, create_mysql_database
    import environ

    server = os.environ.get("BENCH_DATABASE_SERVER", "mysql://root@127.0.0.1:3306").rstrip("/")
    os.environ["DATABASE_URL"] = f"{server}/ticketing_bench_reminders"
    os.environ["DJANGO_SETTINGS_MODULE"] = "ticketing.settings"
    os.environ["MONGODB_URI"] = f"mongodb://127.0.0.1:{closed_port()}/bench"
    os.environ["CHANNEL_LAYER_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    create_mysql_database(environ.Env.db_url_config(os.environ["DATABASE_URL"]), refill=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(wanters: int):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import Role, User
    from events.models import Category, Event, EventStatus, Favourite
    from tickets import services
    from tickets.models import Session

    now = timezone.now()
    publisher = User.objects.create(username="publisher", email="publisher@example.com", role=Role.PUBLISHER)
    category = Category.objects.add_root({"slug": "concert", "name_zh": "演唱会", "name_en": "Concerts"})
    start = now + timedelta(days=30)
    event = Event.objects.create(title="热门演唱会", publisher=publisher, category=category, venue="体育馆", city="上海",
                                 start_time=start, end_time=start + timedelta(hours=3), status=EventStatus.APPROVED)
    ticket_type = services.ticket_type_create(actor=publisher, event=event, name="Standard", base_price=Decimal("380"))
    session = services.session_create(actor=publisher, event=event, start_time=event.start_time,
                                      end_time=event.end_time, sales_start=now + timedelta(hours=1),
                                      sales_end=event.start_time, stock={ticket_type.pk: 10_000})
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"fan{n:06d}", email=f"fan{n:06d}@example.com", password=password, role=Role.CUSTOMER,
              language="zh-hans" if n % 4 else "en") for n in range(wanters)], batch_size=5000)
    Favourite.objects.bulk_create([Favourite(user=u, event=event) for u in users], batch_size=5000)
    Favourite.objects.filter(event=event).update(created_at=now - timedelta(days=1))
    Session.objects.filter(pk=session.pk).update(created_at=now - timedelta(days=2))  # no "session added" news
    return Session.objects.get(pk=session.pk)


def timed_run(moment) -> tuple[float, int, int]:
    from django.db import connection

    from tickets import reminders

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        began = time.perf_counter()
        sent = reminders.reminders_due(now=moment)
        seconds = time.perf_counter() - began
    return seconds, sent, statements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wanters", type=int, default=5000)
    args = parser.parse_args()
    setup()
    began = time.perf_counter()
    session = build(args.wanters)
    print(f"data: {args.wanters:,} wanters of one event, built in {time.perf_counter() - began:.1f} s")
    moment = session.sales_start + timedelta(minutes=1)
    seconds, sent, statements = timed_run(moment)
    print(f"first run: {sent:,} reminders in {seconds:.2f} s = {sent / seconds:,.0f}/s, "
          f"{statements / max(sent, 1):.1f} statements per reminder")
    seconds, sent, statements = timed_run(moment + timedelta(minutes=1))
    print(f"next run: {sent} sent in {seconds * 1000:.0f} ms, {statements} statements")
    from tickets.models import SessionReminder

    assert SessionReminder.objects.count() == args.wanters
    return 0


if __name__ == "__main__":
    sys.exit(main())
