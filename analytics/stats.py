"""Sales figures (selectors): from the daily roll-up (analytics.models.SalesDay) for complete days, live from the
orders tables for today and any day not rolled up yet; the same figures either way.

What counts:
- a sale is a ticket of an order that was paid, on the local day of the order's `paid_at`
  (orders refunded later stay sales of their day; their refund counts on the day it was approved);
- revenue is the sum of those tickets' prices (an order's total is the sum of its tickets' prices);
- a refund is an approved `Refund`, on the local day of `reviewed_at`, of a whole order; its amount is what
  went back (`Refund.amount`: the order's total less the refund policy's fee, which stays revenue), shared
  among the order's tickets by price (`refunded_amount()`).

Local days: the database keeps UTC. MariaDB here has no time zone tables (CONVERT_TZ with a zone
name gives NULL, even 'UTC'), so every time is shifted by the fixed UTC offset of settings.TIME_ZONE
before it is truncated to a day, an hour or a weekday: `paid_at + INTERVAL 8 HOUR`, then read as UTC.
Asia/Shanghai has had no daylight saving since 1991, so the shift is exact; the range filters stay
on the raw column (indexed), as [scope.start_at, scope.end_at).
"""

import hashlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    QuerySet,
    Count,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, NullIf, TruncDate
from django.utils import timezone
from django.utils.translation import get_language

from accounts.models import User
from events.models import Category, Event
from analytics.models import SalesDay, SalesDayEvent, SalesDayType, SalesRollupDay
from analytics.scope import StatsScope
from orders.models import RefundStatus, Ticket
from tickets.models import HoldItem, TicketType, HoldStatus, SeatStatus, Session, SessionSeat, Stock

GROUPS = ("day", "event", "ticket_type", "publisher", "city", "category")
ZERO = Decimal("0.00")


CACHE_SECONDS = 60  # dashboards and the stats API may show sales up to a minute old (the live counter is live)


def cached(figure: str, scope: StatsScope, compute):
    """A figure of a scope from the cache, or computed and kept CACHE_SECONDS (per language: labels)."""
    key = "stats:" + hashlib.sha1(f"{figure}|{scope!r}|{get_language()}".encode()).hexdigest()
    try:
        value = cache.get(key)
    except Exception:  # Redis away: figures are computed, never refused
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, CACHE_SECONDS)
        except Exception:
            pass
    return value


def local_offset() -> timedelta:
    """The UTC offset of settings.TIME_ZONE (fixed: the zone must have no daylight saving)."""
    return ZoneInfo(settings.TIME_ZONE).utcoffset(datetime(2000, 1, 1))


def _local(field: str) -> ExpressionWrapper:
    """A UTC datetime column as local wall-clock time (then truncated "in UTC", i.e. untouched)."""
    return ExpressionWrapper(F(field) + Value(local_offset()), output_field=DateTimeField())


def _local_day(field: str) -> TruncDate:
    return TruncDate(_local(field), tzinfo=dt_timezone.utc)


def _in_scope(queryset, scope: StatsScope, event_field: str = "event_id"):
    if scope.event_ids is not None:
        queryset = queryset.filter(**{f"{event_field}__in": scope.event_ids})
    return queryset


def _sold_tickets(scope: StatsScope):
    """Tickets of the orders paid in the scope's days (their order paid then, whatever it became)."""
    return _in_scope(Ticket.objects.filter(order__paid_at__gte=scope.start_at, order__paid_at__lt=scope.end_at), scope)


def refunded_amount():
    """Sum over refunded tickets of what each gave back: its price × the refund's amount / the order's total
    (a free order gives back nothing). Needs the join on the order's approved refund in the queryset."""
    share = ExpressionWrapper(F("price") * F("order__refunds__amount") / NullIf(F("order__total"), Value(0)),
                              output_field=DecimalField(max_digits=14, decimal_places=2))
    return Coalesce(Sum(share), Value(Decimal(0)), output_field=DecimalField(max_digits=14, decimal_places=2))


def _refunded_tickets(scope: StatsScope):
    """Tickets of the orders whose refund was approved in the scope's days (one approved refund per order)."""
    return _in_scope(Ticket.objects.filter(order__refunds__status=RefundStatus.APPROVED,
                                           order__refunds__reviewed_at__gte=scope.start_at,
                                           order__refunds__reviewed_at__lt=scope.end_at), scope)


KEY_COLUMNS = {"event": "event_id", "ticket_type": "ticket_type_id", "publisher": "event__publisher_id",
               "city": "event__city", "category": "event__category_id"}


def _key(group_by: str, refunds: bool):
    """The GROUP BY of a figure: a day, or an id (or the city); labels are looked up after, for the rows kept."""
    if group_by == "day":
        return _local_day("order__refunds__reviewed_at" if refunds else "order__paid_at")
    return F(KEY_COLUMNS[group_by])


def _labels(group_by: str, keys: list) -> dict:
    """key → what a row shows (one small statement by primary key; none for days and cities)."""
    if group_by in ("day", "city"):
        return {k: k.isoformat() if group_by == "day" else k for k in keys}
    if group_by == "event":
        return dict(Event.objects.filter(pk__in=keys).values_list("pk", "title"))
    if group_by == "ticket_type":
        return {pk: f"{title} · {name}" for pk, name, title in
                TicketType.objects.filter(pk__in=keys).values_list("pk", "name", "event__title")}
    if group_by == "publisher":
        return {pk: shown or username for pk, shown, username in
                User.objects.filter(pk__in=keys).values_list("pk", "display_name", "username")}
    name = "name_zh" if (get_language() or "").startswith("zh") else "name_en"
    return dict(Category.objects.filter(pk__in=keys).values_list("pk", name))


def sales(*, scope: StatsScope, group_by: str = "day", limit: int | None = None, rollup: bool = True) -> list[dict]:
    """Revenue, tickets, orders, refunds (count, amount), net revenue and average order value.

    By day: one row per day of the scope, oldest first, days without sales at zero. Otherwise one row
    per event / ticket type / publisher / city / category that sold or refunded, most revenue first
    (`limit` rows at most). Days rolled up since they ended are read from the roll-up (one statement,
    analytics.models.SalesDayEvent, or SalesDayType by ticket type); the others (today, days never rolled up) from the orders tables: two
    aggregate statements (the sales and the refunds) per run of such days. `rollup=False`: live only.
    Rows: {key, label, revenue, tickets, orders, refunds, refund_amount, net, aov}. The GROUP BY is on ids
    (a day, or the city) only; the labels of the rows kept come from one lookup by primary key after.
    """
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    rolled, live = _split(scope, rollup)
    rows: dict = {}
    for part in live:
        sold = (_sold_tickets(part).annotate(key=_key(group_by, refunds=False)).values("key").order_by()
                .annotate(revenue=Sum("price"), tickets=Count("id"), orders=Count("order_id", distinct=True)))
        refunded = (_refunded_tickets(part).annotate(key=_key(group_by, refunds=True)).values("key").order_by()
                    .annotate(refund_amount=refunded_amount(), refunds=Count("order_id", distinct=True)))
        _add(rows, [*sold, *refunded])
    if rolled:  # from the rows per ticket type, or per event for every other figure
        by_type = group_by == "ticket_type"
        orders, refunds = ("type_orders", "type_refunds") if by_type else ("orders", "refunds")
        rolled_rows = _rolled_up(scope, rolled, SalesDayType if by_type else SalesDayEvent)
        _add(rows, rolled_rows.values(key=F(ROLLUP_COLUMNS[group_by])).order_by().annotate(
            revenue=Sum("revenue"), tickets=Sum("tickets"), orders=Sum(orders), refunds=Sum(refunds),
            refund_amount=Sum("refund_amount")))
    if group_by == "day":
        result = [rows.get(day) or {"key": day, "revenue": ZERO, "tickets": 0, "orders": 0, "refunds": 0,
                                    "refund_amount": ZERO} for day in scope.days]
    else:
        result = sorted(rows.values(), key=lambda r: (-r["revenue"], -r["tickets"], str(r["key"])))[:limit]
    labels = _labels(group_by, [r["key"] for r in result])
    for row in result:
        row["label"] = labels.get(row["key"], str(row["key"]))
        _finish(row)
    return result


ROLLUP_COLUMNS = {"day": "day", "event": "event_id", "ticket_type": "ticket_type_id", "publisher": "publisher_id",
                  "city": "city", "category": "category_id"}


def _add(rows: dict, found) -> None:
    """Adds aggregate rows to `rows` by key (sales and refunds, live parts and the roll-up: disjoint days,
    and each order is paid on one day and refunded on one, so orders and refunds add up)."""
    for row in found:
        key = row["key"]
        if isinstance(key, datetime):  # SQLite may answer a datetime for a date
            key = key.date()
        entry = rows.setdefault(key, {"key": key, "revenue": ZERO, "tickets": 0, "orders": 0, "refunds": 0,
                                      "refund_amount": ZERO})
        for name in ("revenue", "refund_amount"):
            entry[name] += Decimal(row.get(name) or 0)
        for name in ("tickets", "orders", "refunds"):
            entry[name] += int(row.get(name) or 0)  # MariaDB's SUM of integers is a DECIMAL


def _rolled_days(scope: StatsScope) -> set[date]:
    """The scope's days before today whose roll-up was refreshed after the day ended (one small statement)."""
    last = min(scope.end, timezone.localdate() - timedelta(days=1))
    if scope.start > last:
        return set()
    return {day for day, at in SalesRollupDay.objects.filter(day__gte=scope.start, day__lte=last)
            .values_list("day", "refreshed_at") if at >= timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))}


def _split(scope: StatsScope, rollup: bool) -> tuple[set[date], list[StatsScope]]:
    """The days read from the roll-up, and the runs of consecutive days read live (as scopes)."""
    rolled = _rolled_days(scope) if rollup else set()
    live, run = [], []
    for day in [*scope.days, None]:
        if day is None or day in rolled:
            if run:
                live.append(replace(scope, start=run[0], end=run[-1]))
            run = []
        else:
            run.append(day)
    return rolled, live


def _rolled_up(scope: StatsScope, rolled: set[date], model=SalesDay) -> QuerySet:
    first, last = min(rolled), max(rolled)
    rows = (model.objects.filter(day__gte=first, day__lte=last) if (last - first).days + 1 == len(rolled)
            else model.objects.filter(day__in=sorted(rolled)))
    return _in_scope(rows, scope)


def _finish(row: dict) -> dict:
    row["revenue"] = Decimal(row["revenue"]).quantize(ZERO)
    row["refund_amount"] = Decimal(row["refund_amount"]).quantize(ZERO)
    row["net"] = row["revenue"] - row["refund_amount"]
    row["aov"] = (row["revenue"] / row["orders"]).quantize(ZERO) if row["orders"] else ZERO
    return row


def sales_totals(*, days: list[dict]) -> dict:
    """The KPI cards: the sums of `sales(group_by="day")` rows (each order is paid on one day only)."""
    total = {"revenue": ZERO, "tickets": 0, "orders": 0, "refunds": 0, "refund_amount": ZERO}
    for row in days:
        for name in total:
            total[name] += row[name]
    return _finish(total)


def sales_heat(*, scope: StatsScope, rollup: bool = True) -> list[dict]:
    """Tickets sold and revenue per local weekday (1 = Monday … 7 = Sunday) × hour (0–23) of payment.

    Only the cells that sold: [{weekday, hour, tickets, revenue}], Monday 00h first. Rolled-up days
    from the roll-up (by day × hour), the others live (as `sales`).
    """
    rolled, live = _split(scope, rollup)
    cells: dict = {}

    def add(weekday, hour, tickets, revenue):
        cell = cells.setdefault((int(weekday), int(hour)), [0, ZERO])
        cell[0] += int(tickets or 0)
        cell[1] += Decimal(revenue or 0)

    for part in live:
        local = _local("order__paid_at")
        for c in (_sold_tickets(part)
                  .annotate(weekday=ExtractIsoWeekDay(local, tzinfo=dt_timezone.utc),
                            hour=ExtractHour(local, tzinfo=dt_timezone.utc))
                  .values("weekday", "hour").order_by()
                  .annotate(tickets=Count("id"), revenue=Sum("price"))):
            add(c["weekday"], c["hour"], c["tickets"], c["revenue"])
    if rolled:
        for c in (_rolled_up(scope, rolled).filter(tickets__gt=0).values("day", "hour").order_by()
                  .annotate(tickets=Sum("tickets"), revenue=Sum("revenue"))):
            day = c["day"].date() if isinstance(c["day"], datetime) else c["day"]
            add(day.isoweekday(), c["hour"], c["tickets"], c["revenue"])
    return [{"weekday": weekday, "hour": hour, "tickets": tickets, "revenue": revenue.quantize(ZERO)}
            for (weekday, hour), (tickets, revenue) in sorted(cells.items()) if tickets]


def _counts() -> QuerySet:
    """Sessions with their capacity, tickets sold and tickets held right now, one statement.

    GA: the stock counters (total, sold); seated: the session's seats (all, sold). Held: the
    quantities of live holds (active, not past their expiry), seats and GA alike.
    """
    stock = Stock.objects.filter(session=OuterRef("pk")).order_by().values("session")
    seats = SessionSeat.objects.filter(session=OuterRef("pk")).order_by().values("session")
    live = HoldItem.objects.filter(hold__session=OuterRef("pk"), hold__status=HoldStatus.ACTIVE,
                                   hold__expires_at__gt=timezone.now()).order_by().values("hold__session")

    def one(queryset, aggregate):
        return Coalesce(Subquery(queryset.annotate(n=aggregate).values("n")[:1], output_field=IntegerField()), 0)

    return Session.objects.annotate(
        capacity=ExpressionWrapper(one(stock, Sum("total")) + one(seats, Count("id")), output_field=IntegerField()),
        sold=ExpressionWrapper(one(stock, Sum("sold")) + one(seats.filter(status=SeatStatus.SOLD), Count("id")),
                               output_field=IntegerField()),
        held=one(live, Sum("quantity")),
    )


def sell_through(*, scope: StatsScope, limit: int = 100) -> list[dict]:
    """Sold / capacity of each session whose sales window overlaps the scope's days, best sold first.

    [{session_id, event_id, event, session, starts, capacity, sold, held, rate}] with rate in 0..1.
    """
    sessions = _in_scope(_counts().filter(sales_start__lt=scope.end_at, sales_end__gte=scope.start_at), scope)
    rows = sessions.values("pk", "event_id", "event__title", "name", "start_time", "capacity", "sold", "held")
    result = []
    for row in rows:
        rate = row["sold"] / row["capacity"] if row["capacity"] else 0.0
        result.append({"session_id": row["pk"], "event_id": row["event_id"], "event": row["event__title"],
                       "session": row["name"] or timezone.localtime(row["start_time"]).strftime("%Y-%m-%d %H:%M"),
                       "starts": row["start_time"], "capacity": row["capacity"], "sold": row["sold"],
                       "held": row["held"], "rate": round(rate, 4)})
    result.sort(key=lambda r: (-r["rate"], -r["sold"], r["starts"]))
    return result[:limit]


def live_counts(*, event_id: int) -> list[dict]:
    """Tickets sold and held right now in each session of one event (the publisher's live counter)."""
    rows = (_counts().filter(event_id=event_id).order_by("start_time", "pk")
            .values("pk", "name", "start_time", "capacity", "sold", "held"))
    return [{"session_id": r["pk"], "session": r["name"] or timezone.localtime(r["start_time"]).strftime("%Y-%m-%d %H:%M"),
             "capacity": r["capacity"], "sold": r["sold"], "held": r["held"]} for r in rows]


def new_users_by_day(*, start: date, end: date) -> list[dict]:
    """Accounts created per local day (accounts.User.date_joined), every day of [start, end], one statement."""
    offset = local_offset()
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=dt_timezone.utc) - offset
    end_at = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=dt_timezone.utc) - offset
    counts = {(d.date() if isinstance(d, datetime) else d): n for d, n in
              User.objects.filter(date_joined__gte=start_at, date_joined__lt=end_at)
              .annotate(day=_local_day("date_joined")).values("day").order_by()
              .annotate(n=Count("id")).values_list("day", "n")}
    return [{"day": start + timedelta(days=i), "users": counts.get(start + timedelta(days=i), 0)}
            for i in range((end - start).days + 1)]


__all__ = ["GROUPS", "live_counts", "local_offset", "new_users_by_day", "sales", "sales_heat", "sales_totals",
           "sell_through"]
