"""Reads of inventory. Every one counts a hold past its expiry as free, sweep or no sweep."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q, Sum
from django.utils import timezone

from events.models import Event
from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, Session, SessionSeat, Stock, TicketType
from tickets.pricing import active_tiers, price_for
from tickets.seatmaps import section_labels


@dataclass
class StockRow:
    session_id: int
    ticket_type: TicketType
    total: int
    available: int
    held: int
    sold: int
    price: Decimal
    tiers: list
    waiting: int = 0  # tickets the waiting list waits for (orders.waitlist); not in `available`


def _expired_ga(session_ids, now) -> dict[tuple[int, int], int]:
    rows = (HoldItem.objects.filter(hold__session_id__in=session_ids, hold__status=HoldStatus.ACTIVE,
                                    hold__expires_at__lte=now, seat__isnull=True)
            .values("hold__session_id", "ticket_type_id").annotate(n=Sum("quantity")))
    return {(r["hold__session_id"], r["ticket_type_id"]): r["n"] for r in rows}


def stock_rows(sessions: list[Session], *, now: datetime | None = None, unlocked: Collection[int] = (),
               hidden: bool = False) -> list[StockRow]:
    """Per session and ticket type: total, available, held (live), sold, and the price a hold would get now.
    Hidden ticket types only where `unlocked` (by an access code) names them, or all with `hidden` (the
    publisher's own view)."""
    now = now or timezone.now()
    ids = [s.pk for s in sessions]
    types = {t.pk: t for t in TicketType.objects.filter(event_id__in={s.event_id for s in sessions})
             .prefetch_related("tiers") if hidden or not t.hidden or t.pk in unlocked}
    counts: dict[tuple[int, int], list[int]] = {}
    waiting: dict[tuple[int, int], int] = {}
    expired = _expired_ga(ids, now)
    for stock in Stock.objects.filter(session_id__in=ids):
        key = (stock.session_id, stock.ticket_type_id)
        lapsed = expired.get(key, 0)
        # What the open sale may take: the waiting list comes first.
        counts[key] = [stock.total, max(stock.available + lapsed - stock.waiting, 0), stock.held - lapsed, stock.sold]
    live_held = Q(status=SeatStatus.HELD, held_until__gt=now)
    seats = (SessionSeat.objects.filter(session_id__in=ids).values("session_id", "ticket_type_id")
             .annotate(total=Count("pk"), sold=Count("pk", filter=Q(status=SeatStatus.SOLD)),
                       held=Count("pk", filter=live_held)))
    waiting.update(_waiting(ids))
    for row in seats:
        key = (row["session_id"], row["ticket_type_id"])
        # A type someone waits for has none on open sale: its seats go to the line (orders.waitlist).
        available = 0 if waiting.get(key) else row["total"] - row["sold"] - row["held"]
        counts[key] = [row["total"], available, row["held"], row["sold"]]
    result = []
    for session in sessions:
        for tt_id, tt in types.items():
            if (session.pk, tt_id) not in counts:
                continue
            total, available, held, sold = counts[(session.pk, tt_id)]
            ratio = (held + sold) / total if total else 1.0
            tiers = list(tt.tiers.all())
            result.append(StockRow(session.pk, tt, total, available, held, sold,
                                   price_for(tt.base_price, tiers, now=now, sold_ratio=ratio),
                                   active_tiers(tiers, now=now, sold_ratio=ratio), waiting.get((session.pk, tt_id), 0)))
    return result


def _waiting(session_ids) -> dict[tuple[int, int], int]:
    """(session, ticket type) → tickets its waiting list waits for."""
    from orders.models import WaitlistEntry, WaitStatus  # orders builds on tickets: asked lazily

    rows = (WaitlistEntry.objects.filter(session_id__in=session_ids, status=WaitStatus.WAITING)
            .values("session_id", "ticket_type_id").annotate(n=Sum("quantity")))
    return {(r["session_id"], r["ticket_type_id"]): r["n"] for r in rows}


def session_stock(session: Session, *, now: datetime | None = None, unlocked: Collection[int] = ()) -> list[StockRow]:
    return stock_rows([session], now=now, unlocked=unlocked)


def event_sessions(event: Event) -> list[Session]:
    return list(event.sessions.select_related("seat_map").order_by("start_time", "pk"))


def seatmap_state(session: Session, *, user=None) -> dict:
    """Everything a seat-map page needs, as JSON-ready data; the same shape the socket's snapshot sends.

    seats: [seat id, section, row, number, x, y, ticket type id, status, owner mark, held-until epoch]
    """
    from tickets.services import owner_token

    now = timezone.now()
    seats = []
    if session.is_seated:
        # Tuples, not model instances: a 500-seat map is rendered on every change (tickets.snapshots).
        rows = (SessionSeat.objects.filter(session=session).order_by("seat_id")
                .values_list("seat_id", "seat__section", "seat__row", "seat__number", "seat__x", "seat__y",
                             "ticket_type_id", "status", "held_until", "hold__user_id"))
        tokens: dict[int, str] = {}  # holder → owner mark
        for seat_id, section, row, number, x, y, ticket_type_id, status, held_until, holder in rows:
            owner = until = None
            if status == SeatStatus.HELD and held_until <= now:
                status = SeatStatus.FREE
            if status != SeatStatus.FREE:
                owner = tokens.get(holder) or tokens.setdefault(holder, owner_token(holder))
                until = int(held_until.timestamp()) if status == SeatStatus.HELD else None
            seats.append([seat_id, section, row, number, x, y, ticket_type_id, status, owner, until])
    stock = session_stock(session, now=now)
    seat_map = session.seat_map
    return {
        "session": session.pk,
        "seated": session.is_seated,
        "on_sale": session.sales_open(now) and session.event.is_public,
        "me": owner_token(user.pk) if user is not None and user.is_authenticated else None,
        "width": seat_map.width if seat_map else 0,
        "height": seat_map.height if seat_map else 0,
        "stage": (seat_map.layout.get("stage") or "") if seat_map else "",
        "sections": [[name, x, y] for name, x, y in section_labels(seat_map.layout)] if seat_map else [],
        "ticket_types": [{"id": r.ticket_type.pk, "name": r.ticket_type.name, "colour": r.ticket_type.colour,
                          "price": str(r.price), "available": r.available, "total": r.total,
                          "limit": r.ticket_type.per_user_limit} for r in stock],
        "seats": seats,
    }


def hold_with_items(hold_id: int) -> Hold:
    """One hold and its items, for the answer to a hold request (two queries)."""
    items = Prefetch("items", queryset=HoldItem.objects.select_related("ticket_type", "seat"))
    return Hold.objects.prefetch_related(items).get(pk=hold_id)


def holds_live(user, *, session: Session | None = None):
    """The buyer's holds that still count, soonest to expire first, with their items."""
    holds = (Hold.objects.filter(user_id=user.pk, status=HoldStatus.ACTIVE, expires_at__gt=timezone.now())
             .select_related("session__event").prefetch_related("items__ticket_type", "items__seat"))
    if session is not None:
        holds = holds.filter(session=session)
    return holds.order_by("expires_at", "pk")


def next_sessions(event_ids: list[int], *, now: datetime) -> dict[int, Session]:
    """Each event's next session not yet over (the soonest to start), by event id: one query."""
    nearest = {}
    for session in (Session.objects.filter(event_id__in=event_ids, end_time__gt=now)
                    .order_by("event_id", "start_time", "pk")):
        nearest.setdefault(session.event_id, session)
    return nearest


def sessions_sold_out(session_ids: Collection[int]) -> list[int]:
    """Of these sessions, those with every ticket sold (paid): no GA stock left unsold, no seat not sold."""
    ids = set(session_ids)
    unsold = set(Stock.objects.filter(session_id__in=ids, sold__lt=F("total")).values_list("session_id", flat=True))
    unsold |= set(SessionSeat.objects.filter(session_id__in=ids).exclude(status=SeatStatus.SOLD)
                  .values_list("session_id", flat=True))
    selling = set(Stock.objects.filter(session_id__in=ids).values_list("session_id", flat=True))
    selling |= set(SessionSeat.objects.filter(session_id__in=ids).values_list("session_id", flat=True))
    return sorted((ids & selling) - unsold)
