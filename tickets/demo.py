"""Demo inventory for `manage.py seed_demo`: ticket types with prices and tiers, a few
seated shows with a three-section seat map, general admission for the rest, and
sessions on sale from now until they start. Deterministic per event.

The seated shows go through the publisher services. The few hundred general
admission events are written in bulk (the services would refresh each event's
price summary once per call, which takes half a minute at `make run`); the rows
are the same a publisher would make and the database constraints still hold."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from events.models import Event, EventStatus
from tickets import services
from tickets.models import PriceTier, Seating, Session, Stock, TicketType
from tickets.pricing import price_for
from tickets.services import TierData

SEATED_COUNT = 3  # shows sold by seat; the rest are general admission
SEATED_CATEGORIES = {"concert", "drama", "musical", "classical", "comedy", "dance", "kids-theatre"}
VIP, STANDARD, STUDENT = "VIP", "标准票", "学生票"
TYPES = {  # name: (description, colour, limit per buyer)
    VIP: ("前排视野，含纪念品 · Front rows with a souvenir", "#c2185b", 4),
    STANDARD: ("", "#0d6efd", 6),
    STUDENT: ("凭学生证入场 · Student ID at the door", "#198754", 2),
}
GA_STOCK = {VIP: [40, 60, 100], STANDARD: [200, 300, 500, 800], STUDENT: [50]}


@dataclass
class TypePlan:
    name: str
    price: Decimal
    tiers: list[TierData]


def _type_plans(event: Event, rng: random.Random, *, seated: bool, now: datetime) -> list[TypePlan]:
    """VIP (a demand tier on some), Standard (an early bird on some), Student on some."""
    standard = Decimal(event.price_min or rng.choice([80, 180, 280, 380]))
    prices = {VIP: max(Decimal(event.price_max or 0), standard * 2), STANDARD: standard}
    if seated or rng.random() < 0.4:
        prices[STUDENT] = (standard / 2).quantize(Decimal("1"))
    early_bird_until = _local_day_end(_local(min(event.start_time - timedelta(days=7), now + timedelta(days=14))).date())
    plans = []
    for name, price in prices.items():
        tiers = []
        if name == STANDARD and early_bird_until > now + timedelta(days=1) and (seated or event.pk % 3 == 0):
            tiers.append(TierData(kind="time", until=early_bird_until, adjust_percent=-20, label="早鸟"))
        if name == VIP and (seated or event.pk % 2 == 0):
            tiers.append(TierData(kind="demand", sold_percent=80, adjust_percent=20, label="热销"))
        plans.append(TypePlan(name, price, tiers))
    return plans


def _local(moment: datetime) -> datetime:
    """The moment on the clock of the event's city: the product's zone, as events keep none of their own."""
    return timezone.localtime(moment, timezone.get_default_timezone())


def _local_day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59)), timezone.get_default_timezone())


def session_label(start: datetime) -> str:
    """上午场 before noon, 下午场 until 18:00, 晚场 after, by the local start time."""
    hour = _local(start).hour
    return "上午场" if hour < 12 else "下午场" if hour < 18 else "晚场"


def _session_times(event: Event) -> list[tuple[str, datetime, datetime]]:
    """One session for a show of a few hours. A long day in two sessions, each named by its local
    start: an afternoon into the evening is a matinee and an evening show (2½ hours each), a day
    (an expo, a summit) is split at the local hour nearest its middle."""
    start, end = event.start_time, event.end_time
    if end - start < timedelta(hours=6):
        return [("", start, end)]
    show = timedelta(hours=2, minutes=30)
    if _local(start).hour >= 12 and _local(end).hour >= 21:
        halves = [(start, start + show), (end - show, end)]
    else:
        middle = _local(start + (end - start) / 2).replace(minute=0, second=0, microsecond=0)
        halves = [(start, middle), (middle, end)]
    return [(session_label(a), a, b) for a, b in halves]


def _hall_layout(types: dict[str, TicketType]) -> dict:
    """A floor, stalls and a balcony: 334 seats, some rows sold as another type."""
    vip, standard, student = types[VIP].pk, types[STANDARD].pk, types[STUDENT].pk
    return {"stage": "舞台 STAGE", "sections": [
        {"name": "内场 Floor", "ticket_type": vip, "rows": 4, "seats": 16, "first_row": "A", "aisles": [4, 12]},
        {"name": "池座 Stalls", "ticket_type": standard, "rows": 8, "seats": 20, "first_row": "E", "aisles": [5, 15],
         "row_types": {"E": vip}},
        {"name": "楼座 Balcony", "ticket_type": standard, "rows": 5, "seats": 22, "first_row": "A", "aisles": [11],
         "row_types": {"D": student, "E": student}},
    ]}


def _seed_seated(event: Event, now: datetime) -> None:
    types = {}
    for plan in _type_plans(event, random.Random(event.pk), seated=True, now=now):
        description, colour, limit = TYPES[plan.name]
        types[plan.name] = services.ticket_type_create(
            actor=event.publisher, event=event, name=plan.name, base_price=plan.price, description=description,
            per_user_limit=limit, colour=colour, tiers=plan.tiers)
    seat_map = services.seat_map_create(actor=event.publisher, event=event, name="主厅 Main hall",
                                        layout=_hall_layout(types))
    for name, start, end in _session_times(event):
        services.session_create(actor=event.publisher, event=event, name=name, hall="主厅", start_time=start,
                                end_time=end, sales_start=now - timedelta(days=1), sales_end=start, seat_map=seat_map)


def _seed_general_admission(events: list[Event], now: datetime, *, opened: datetime | None = None,
                            summary: bool = True) -> None:
    """Ticket types, sessions and stock in bulk, on sale from `opened` (a day ago) until each session starts;
    with `summary`, the events' price range (events of the past show none on sale)."""
    opened = opened or now - timedelta(days=1)
    plans = {e.pk: _type_plans(e, random.Random(e.pk), seated=False, now=now) for e in events}
    TicketType.objects.bulk_create(
        [TicketType(event=e, name=p.name, base_price=p.price, description=TYPES[p.name][0], colour=TYPES[p.name][1],
                    per_user_limit=TYPES[p.name][2], position=position)
         for e in events for position, p in enumerate(plans[e.pk])], batch_size=500)
    type_ids = {(event_id, name): pk for pk, event_id, name in
                TicketType.objects.filter(event__in=events).values_list("pk", "event_id", "name")}
    tiers = [PriceTier(ticket_type_id=type_ids[(e.pk, p.name)], kind=t.kind, label=t.label, until=t.until,
                       sold_percent=t.sold_percent, adjust_percent=t.adjust_percent)
             for e in events for p in plans[e.pk] for t in p.tiers]
    PriceTier.objects.bulk_create(tiers, batch_size=500)
    Session.objects.bulk_create(
        [Session(event=e, name=name, start_time=start, end_time=end, sales_start=opened,
                 sales_end=start, seating=Seating.GENERAL) for e in events for name, start, end in _session_times(e)],
        batch_size=500)
    stocks = []
    for session_id, event_id in Session.objects.filter(event__in=events).values_list("pk", "event_id"):
        rng = random.Random(session_id)
        for plan in plans[event_id]:
            count = rng.choice(GA_STOCK[plan.name])
            stocks.append(Stock(session_id=session_id, ticket_type_id=type_ids[(event_id, plan.name)], total=count,
                                available=count))
    Stock.objects.bulk_create(stocks, batch_size=500)
    if not summary:
        return
    # The price summary event_summary_refresh would compute: nothing is sold yet, so the prices of now.
    by_range = defaultdict(list)
    for event in events:
        prices = [price_for(p.price, p.tiers, now=now, sold_ratio=0.0) for p in plans[event.pk]]
        by_range[(min(prices), max(prices))].append(event.pk)
    for (low, high), event_ids in by_range.items():
        Event.objects.filter(pk__in=event_ids).update(price_min=low, price_max=high, tickets_left=True)


@transaction.atomic
def seed_tickets(events) -> int:
    """Gives each of `events` that starts later and is not cancelled ticket types and sessions on
    sale now (sales opened a day ago and close when the session starts). Runs once: does nothing
    when any of them has ticket types already, so events a publisher adds later are left to them.
    Returns how many events were stocked."""
    now = timezone.now()
    ids = [e.pk for e in events]
    if TicketType.objects.filter(event_id__in=ids).exists():
        return 0
    candidates = list(Event.objects.filter(pk__in=ids, start_time__gt=now + timedelta(minutes=5))
                      .exclude(status=EventStatus.CANCELLED).select_related("category", "publisher").order_by("pk"))
    if not candidates:
        return 0
    # Seated: a few shows, the first publisher's (the demo account's) first.
    first_publisher = candidates[0].publisher_id
    shows = sorted((e for e in candidates if e.status == EventStatus.APPROVED and e.category.slug in SEATED_CATEGORIES),
                   key=lambda e: (e.publisher_id != first_publisher, e.pk))
    seated = {e.pk for e in shows[:SEATED_COUNT]}
    for event in candidates:
        if event.pk in seated:
            _seed_seated(event, now)
    _seed_general_admission([e for e in candidates if e.pk not in seated], now)
    return len(candidates)


@transaction.atomic
def seed_past_sessions(events, *, opened: datetime) -> int:
    """General admission for those of `events` that have already begun (since a day after `opened`) and
    have no ticket types: sessions that were on sale from `opened` until they started, for the demo
    history to have sold and checked in. Returns how many events got them."""
    now = timezone.now()
    past = list(Event.objects.filter(pk__in=[e.pk for e in events], start_time__gt=opened + timedelta(days=1),
                                     start_time__lte=now, ticket_types__isnull=True)
                .exclude(status=EventStatus.CANCELLED).select_related("category").order_by("pk"))
    if past:
        _seed_general_admission(past, opened, opened=opened, summary=False)
    return len(past)
