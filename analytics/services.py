"""Writes of analytics (services): the sales roll-up that analytics.stats reads for complete days."""

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

from analytics.models import SalesDay, SalesDayEvent, SalesDayType, SalesRollupDay
from analytics.stats import refunded_amount
from events.models import Event
from orders.models import Order, RefundStatus, Ticket

MISSING_DAYS_PER_RUN = 62  # the beat task's catch-up of past days never rolled up, per run


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _hour(at: datetime) -> int:
    """The local hour by the same fixed shift the live figures use (analytics.stats.local_offset)."""
    from analytics.stats import local_offset

    return (at.astimezone(dt_timezone.utc) + local_offset()).hour


def _day_rows(day: date) -> list[SalesDay]:
    """The roll-up rows of one local day: two aggregate statements (sales, refunds) by order × ticket type."""
    start, end = _bounds(day)
    sold = (Ticket.objects.filter(order__paid_at__gte=start, order__paid_at__lt=end)
            .values_list("order_id", "ticket_type_id", "event_id", "order__paid_at").order_by()
            .annotate(n=Count("id"), amount=Sum("price")))
    refunded = (Ticket.objects.filter(order__refunds__status=RefundStatus.APPROVED,
                                      order__refunds__reviewed_at__gte=start, order__refunds__reviewed_at__lt=end)
                .values_list("order_id", "ticket_type_id", "event_id", "order__refunds__reviewed_at").order_by()
                .annotate(n=Count("id"), amount=refunded_amount()))
    rows: dict[tuple[int, int], dict] = {}
    for lines, prefix in ((list(sold), ""), (list(refunded), "r")):
        first_type: dict = {}
        for order_id, type_id, _event, _at, _n, _amount in lines:
            first_type[order_id] = min(type_id, first_type.get(order_id, type_id))
        for order_id, type_id, event_id, at, n, amount in lines:
            row = rows.setdefault((_hour(at), type_id), {"event_id": event_id, "tickets": 0, "revenue": Decimal(0),
                                                         "type_orders": 0, "orders": 0, "rtickets": 0,
                                                         "ramount": Decimal(0), "rtype_orders": 0, "rorders": 0})
            row[f"{prefix}tickets"] += n
            row[f"{prefix}amount" if prefix else "revenue"] += amount or 0
            row[f"{prefix}type_orders"] += 1
            row[f"{prefix}orders"] += first_type[order_id] == type_id
    events = {pk: (publisher, city, category) for pk, publisher, city, category in
              Event.objects.filter(pk__in={r["event_id"] for r in rows.values()})
              .values_list("pk", "publisher_id", "city", "category_id")}
    return [SalesDay(day=day, hour=hour, ticket_type_id=type_id, event_id=r["event_id"],
                     publisher_id=events[r["event_id"]][0], city=events[r["event_id"]][1],
                     category_id=events[r["event_id"]][2], tickets=r["tickets"], revenue=r["revenue"],
                     type_orders=r["type_orders"], orders=r["orders"], refunded_tickets=r["rtickets"],
                     refund_amount=r["ramount"], type_refunds=r["rtype_orders"], refunds=r["rorders"])
            for (hour, type_id), r in sorted(rows.items())]


# The coarser roll-ups: (model, the column a row is per, the columns summed). Per event, `orders` and
# `refunds` add up (each order counts once already); per ticket type, `type_orders` and `type_refunds`.
DIMENSIONS = ("event_id", "publisher_id", "city", "category_id")
COARSER = ((SalesDayEvent, "event_id", ("tickets", "revenue", "orders", "refunded_tickets", "refund_amount", "refunds")),
           (SalesDayType, "ticket_type_id", ("tickets", "revenue", "type_orders", "refunded_tickets", "refund_amount",
                                             "type_refunds")))


def _summed(rows: list[SalesDay], model, per: str, summed: tuple[str, ...]) -> list:
    """A day's hourly rows summed per `per` (the event, or the ticket type) into `model` rows."""
    totals: dict = {}
    for row in rows:
        total = totals.get(getattr(row, per))
        if total is None:
            total = totals[getattr(row, per)] = model(
                day=row.day, **{name: getattr(row, name) for name in {per, *DIMENSIONS}}, **dict.fromkeys(summed, 0))
        for name in summed:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return list(totals.values())


def sales_rollup_refresh(*, days: list[date] | None = None) -> int:
    """Recompute the roll-up of the given local days (default: yesterday and today); the rows written.

    Each day in its own transaction: its rows are deleted, then written from one aggregate of the
    sales and one of the refunds (bulk_create; SalesDayEvent and SalesDayType from the same rows), and the day is marked refreshed at the time the
    refresh began (analytics.stats reads a day from the roll-up only if that is after the day ended).
    """
    if days is None:
        today = timezone.localdate()
        days = [today - timedelta(days=1), today]
    written = 0
    for day in sorted(set(days)):
        began = timezone.now()
        with transaction.atomic():
            SalesDay.objects.filter(day=day).delete()
            rows = _day_rows(day)
            SalesDay.objects.bulk_create(rows, batch_size=2000)
            for model, per, summed in COARSER:
                model.objects.filter(day=day).delete()
                model.objects.bulk_create(_summed(rows, model, per, summed), batch_size=2000)
            SalesRollupDay.objects.update_or_create(day=day, defaults={"refreshed_at": began})
        written += len(rows)
    return written


def sales_first_day() -> date | None:
    """The local day of the first paid order (None: nothing was ever paid)."""
    first = Order.objects.aggregate(first=Min("paid_at"))["first"]
    return timezone.localtime(first).date() if first else None


def sales_days_all() -> list[date]:
    """Every local day from the first paid order's to today (today only when nothing was paid)."""
    today = timezone.localdate()
    first = min(sales_first_day() or today, today)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def sales_rollup_missing_days(*, limit: int | None = None) -> list[date]:
    """Past local days (before today, from the first paid order on) not rolled up since they ended, oldest first."""
    day = sales_first_day()
    if day is None:
        return []
    today = timezone.localdate()
    complete = {d for d, at in SalesRollupDay.objects.filter(day__gte=day, day__lt=today)
                .values_list("day", "refreshed_at") if at >= _bounds(d)[1]}
    missing = []
    while day < today and (limit is None or len(missing) < limit):
        if day not in complete:
            missing.append(day)
        day += timedelta(days=1)
    return missing


def sales_rollup_beat() -> int:
    """The beat task's work: yesterday and today, and past days never rolled up (seeded or imported history)."""
    today = timezone.localdate()
    days = {today - timedelta(days=1), today, *sales_rollup_missing_days(limit=MISSING_DAYS_PER_RUN)}
    return sales_rollup_refresh(days=sorted(days))
