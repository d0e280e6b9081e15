"""Every write to inventory: ticket types, seat maps, sessions, and holds.

Holds (the heart of the shop):
- `hold_create` takes seats or GA quantities all-or-nothing, at the price of
  the moment, or raises SeatTaken / SoldOut / OverLimit / TooManyHolds /
  SalesClosed and changes nothing. Seats: one conditional UPDATE over the
  session's seat rows (free, or held past expiry → held by this hold); the row
  count must equal the number asked for. GA: a conditional decrement per
  (session, ticket type) stock row. Redis claims in front reject most losers
  early; without Redis the database alone still decides.
- Per-buyer rules (limit per ticket type, cap on live holds) are checked under
  a lock on the buyer's own row, so two tabs of one buyer cannot both pass.
- A hold past `expires_at` is free to every read and every taker at once;
  `holds_expire_due` (beat, every 30 s) returns it for good.
- Orders call `holds_consume` (sold), `holds_release` (pending order dropped)
  and `holds_refund` (sold seats back on sale) inside their own transaction.
Every change is announced to the session's seat-map sockets after commit.
"""

import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from events.models import Event, EventStatus
from ticketing.errors import Conflict, DomainError, Forbidden, NotFound  # noqa: F401 - re-exported for callers
from tickets import fastpath
from tickets.broadcast import SeatChange, broadcast_changes
from tickets.models import (
    Hold, HoldItem, HoldStatus, PriceTier, Seat, SeatMap, SeatStatus, Seating, Session, SessionSeat, Stock,
    TicketType,
)
from tickets.pricing import price_for
from tickets.seatmaps import layout_clean, layout_seats, layout_size

log = logging.getLogger(__name__)

MAX_PER_REQUEST = 20
DEADLOCK_RETRIES = 3


class SalesClosed(DomainError):
    code = "sales_closed"
    default_message = _("Tickets for this session are not on sale now.")


class SeatTaken(Conflict):
    code = "seat_taken"
    default_message = _("Sorry, %(seats)s was just taken by someone else. Nothing was held; please pick again.")


class SoldOut(Conflict):
    code = "sold_out"
    default_message = _("Sold out: not enough %(name)s tickets left. Nothing was held.")


class OverLimit(DomainError):
    code = "over_limit"
    default_message = _("You may hold and buy at most %(limit)s %(name)s tickets for this session.")


class TooManyHolds(DomainError):
    code = "too_many_holds"
    default_message = _("You already hold tickets in %(count)s places; buy or release some first.")


class HoldExpired(Conflict):
    code = "hold_expired"
    default_message = _("Your hold has expired and the tickets are back on sale. Please choose again.")


class BadHoldRequest(DomainError):
    code = "bad_hold_request"


# --- publisher: ticket types, seat maps, sessions ------------------------------------


def _require_owner(actor: User, event: Event) -> None:
    if event.publisher_id != actor.pk:
        raise Forbidden(_("Only the event's publisher can change its tickets."))
    if event.status == EventStatus.CANCELLED:
        raise Conflict(_("This event is cancelled."), code="event_cancelled")


@dataclass
class TierData:
    kind: str
    adjust_percent: int
    until: datetime | None = None
    sold_percent: int | None = None
    label: str = ""


@transaction.atomic
def ticket_type_create(*, actor: User, event: Event, name: str, base_price: Decimal, description: str = "",
                       per_user_limit: int = 6, colour: str = "#0d6efd",
                       tiers: Iterable[TierData] = ()) -> TicketType:
    _require_owner(actor, event)
    ticket_type = TicketType(event=event, name=name.strip(), base_price=base_price, description=description,
                             per_user_limit=per_user_limit, colour=colour,
                             position=event.ticket_types.count())
    ticket_type.full_clean()
    ticket_type.save()
    _tiers_replace(ticket_type, tiers)
    transaction.on_commit(lambda: event_summary_refresh(event_id=event.pk))
    return ticket_type


@transaction.atomic
def ticket_type_update(*, actor: User, ticket_type: TicketType, name: str, base_price: Decimal,
                       description: str = "", per_user_limit: int = 6, colour: str = "#0d6efd",
                       tiers: Iterable[TierData] = ()) -> TicketType:
    """Changes apply to new holds; a hold keeps the price it was given."""
    _require_owner(actor, ticket_type.event)
    ticket_type.name, ticket_type.base_price, ticket_type.description = name.strip(), base_price, description
    ticket_type.per_user_limit, ticket_type.colour = per_user_limit, colour
    ticket_type.full_clean()
    ticket_type.save()
    ticket_type.tiers.all().delete()
    _tiers_replace(ticket_type, tiers)
    transaction.on_commit(lambda: event_summary_refresh(event_id=ticket_type.event_id))
    return ticket_type


def _tiers_replace(ticket_type: TicketType, tiers: Iterable[TierData]) -> None:
    for data in tiers:
        tier = PriceTier(ticket_type=ticket_type, kind=data.kind, adjust_percent=data.adjust_percent,
                         until=data.until if data.kind == "time" else None,
                         sold_percent=data.sold_percent if data.kind == "demand" else None, label=data.label)
        if tier.kind == "time" and tier.until is None:
            raise ValidationError(_("An early-bird tier needs the date it ends."))
        if tier.kind == "demand" and tier.sold_percent is None:
            raise ValidationError(_("A demand tier needs the share sold that starts it."))
        tier.full_clean()
        tier.save()


@transaction.atomic
def seat_map_create(*, actor: User, event: Event, name: str, layout: object) -> SeatMap:
    """Checks the layout (ValidationError listing every problem) and generates its seats."""
    _require_owner(actor, event)
    clean = layout_clean(layout, set(event.ticket_types.values_list("pk", flat=True)))
    width, height = layout_size(clean)
    seat_map = SeatMap.objects.create(event=event, name=name.strip() or "Seat map", layout=clean,
                                      width=width, height=height)
    Seat.objects.bulk_create(
        Seat(seat_map=seat_map, section=s.section, row=s.row, number=s.number, ticket_type_id=s.ticket_type,
             x=s.x, y=s.y)
        for s in layout_seats(clean))
    return seat_map


@transaction.atomic
def session_create(*, actor: User, event: Event, start_time: datetime, end_time: datetime,
                   sales_start: datetime, sales_end: datetime, name: str = "", hall: str = "",
                   seat_map: SeatMap | None = None, stock: dict[int, int] | None = None) -> Session:
    """A session sold by seat (`seat_map`) or as general admission (`stock`: ticket type id → count)."""
    _require_owner(actor, event)
    errors = []
    if end_time <= start_time:
        errors.append(_("A session ends after it starts."))
    if start_time < event.start_time or end_time > event.end_time:
        errors.append(_("A session takes place within the event's dates; change the event first."))
    if sales_end <= sales_start:
        errors.append(_("Sales close after they open."))
    if sales_end > end_time:
        errors.append(_("Sales close by the end of the session."))
    if seat_map is not None and seat_map.event_id != event.pk:
        errors.append(_("This seat map belongs to another event."))
    ticket_type_ids = set(event.ticket_types.values_list("pk", flat=True))
    stock = {int(k): int(v) for k, v in (stock or {}).items() if int(v) > 0}
    if seat_map is None and not stock:
        errors.append(_("Give a seat map, or a number of tickets for at least one ticket type."))
    if seat_map is not None and stock:
        errors.append(_("A session is sold either by seat or as general admission, not both."))
    if set(stock) - ticket_type_ids:
        errors.append(_("Unknown ticket type for this event."))
    if errors:
        raise ValidationError(errors)
    session = Session.objects.create(
        event=event, name=name.strip(), hall=hall.strip(), start_time=start_time, end_time=end_time,
        sales_start=sales_start, sales_end=sales_end, seat_map=seat_map,
        seating=Seating.SEATED if seat_map else Seating.GENERAL)
    if seat_map is not None:
        SessionSeat.objects.bulk_create(
            SessionSeat(session=session, seat_id=seat_id, ticket_type_id=tt)
            for seat_id, tt in seat_map.seats.values_list("pk", "ticket_type_id"))
    else:
        Stock.objects.bulk_create(Stock(session=session, ticket_type_id=tt, total=count, available=count)
                                  for tt, count in stock.items())
    transaction.on_commit(lambda: event_summary_refresh(event_id=event.pk))
    return session


def event_summary_refresh(*, event_id: int) -> None:
    """The event's price range and whether anything is left, as search and cards show them."""
    from tickets.selectors import session_stock  # selectors import services' errors; keep the cycle lazy

    now = timezone.now()
    prices, left = [], False
    for session in Session.objects.filter(event_id=event_id, end_time__gt=now):
        for row in session_stock(session, now=now):
            prices.append(row.price)
            left = left or (row.available > 0 and session.sales_end > now)
    Event.objects.filter(pk=event_id).update(
        price_min=min(prices) if prices else None, price_max=max(prices) if prices else None, tickets_left=left)


# --- buyers: holds -------------------------------------------------------------------


def hold_create(*, user: User, session: Session, seat_ids: Iterable[int] = (),
                quantities: dict[int, int] | None = None, join: bool = False) -> Hold:
    """Holds these seats, or these GA quantities (ticket type id → n), all or none.

    With `join`, seats go into the buyer's live hold for this session (sharing
    its timer) if there is one. Raises SalesClosed, BadHoldRequest, SeatTaken,
    SoldOut, OverLimit, TooManyHolds; on any error nothing is held.
    """
    seat_ids = sorted(set(int(s) for s in seat_ids))
    quantities = {int(k): int(v) for k, v in (quantities or {}).items() if int(v) != 0}
    _check_request(session, seat_ids, quantities)
    token = uuid.uuid4().hex
    if seat_ids:
        taken = fastpath.claim_seats(session.pk, seat_ids, token)
        if taken:
            raise SeatTaken(seats=_seat_names(taken))
    elif sold_out := fastpath.known_sold_out(session.pk, quantities):
        raise SoldOut(name=", ".join(sold_out))
    try:
        hold, changes = retry_deadlocks(
            lambda: _hold_create_in_db(user=user, session=session, seat_ids=seat_ids, quantities=quantities,
                                       join=join))
    except BaseException:
        fastpath.unclaim_seats(session.pk, seat_ids, token)
        raise
    ms = int((hold.expires_at - timezone.now()).total_seconds() * 1000)
    fastpath.confirm_seats(session.pk, seat_ids, token, ms)
    broadcast_changes(session.pk, changes)
    return hold


def _check_request(session: Session, seat_ids: list[int], quantities: dict[int, int]) -> None:
    if not session.sales_open() or session.event.status != EventStatus.APPROVED:
        raise SalesClosed()
    if session.is_seated and quantities:
        raise BadHoldRequest(_("This session is sold by seat: choose seats on the map."))
    if not session.is_seated and seat_ids:
        raise BadHoldRequest(_("This session has no seat map: choose how many tickets of each type."))
    if any(n < 0 for n in quantities.values()):
        raise BadHoldRequest(_("Quantities cannot be negative."))
    count = len(seat_ids) + sum(quantities.values())
    if count == 0:
        raise BadHoldRequest(_("Choose at least one seat or ticket."))
    if count > MAX_PER_REQUEST:
        raise BadHoldRequest(_("At most %(max)s tickets at once."), max=MAX_PER_REQUEST)


def retry_deadlocks(fn):
    """Runs fn (one whole transaction) again when the database picked it as a deadlock victim."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            return fn()
        except OperationalError as exc:
            # 1213 deadlock, 1205 lock wait timeout (MySQL); "database is locked" (SQLite).
            code = exc.args[0] if exc.args else None
            if code not in (1213, 1205) and "locked" not in str(exc) or attempt == DEADLOCK_RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


@transaction.atomic
def _hold_create_in_db(*, user, session, seat_ids, quantities, join) -> tuple[Hold, list]:
    now = timezone.now()
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
    live = Hold.objects.filter(user=user, status=HoldStatus.ACTIVE, expires_at__gt=now)
    hold = live.filter(session=session).order_by("-expires_at").first() if join else None
    if hold is not None and _held_by_an_order(hold.pk):
        hold = None  # an order's holds are fixed; new seats start a new hold
    if hold is None:
        live_count = live.count()
        if live_count >= settings.HOLD_MAX_ACTIVE:
            raise TooManyHolds(count=live_count)

    seats = list(SessionSeat.objects.filter(session=session, seat_id__in=seat_ids)
                 .values_list("pk", "seat_id", "ticket_type_id"))
    if len(seats) != len(seat_ids):
        raise BadHoldRequest(_("Some of these seats are not in this session's map."))
    wanted = Counter(quantities)
    for _pk, _seat, tt in seats:
        wanted[tt] += 1
    ticket_types = {t.pk: t for t in TicketType.objects.filter(pk__in=wanted, event_id=session.event_id)
                    .prefetch_related("tiers")}
    if len(ticket_types) != len(wanted):
        raise BadHoldRequest(_("Unknown ticket type for this event."))
    _check_limits(user, session, wanted, ticket_types, now)

    if hold is None:
        hold = Hold.objects.create(user=user, session=session,
                                   expires_at=now + timedelta(minutes=settings.HOLD_MINUTES))
    prices = {tt: _price_now(ticket_types[tt], session, now) for tt in wanted}
    changes = []
    if seats:
        taken = (SessionSeat.objects.filter(pk__in=[pk for pk, _s, _t in seats])
                 .filter(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now))
                 .update(status=SeatStatus.HELD, hold=hold, held_until=hold.expires_at, version=F("version") + 1))
        if taken != len(seats):
            raise SeatTaken(seats=_seat_names(_unavailable(session, seat_ids, now)))
        HoldItem.objects.bulk_create(HoldItem(hold=hold, ticket_type_id=tt, seat_id=seat_id, unit_price=prices[tt])
                                     for _pk, seat_id, tt in seats)
        owner = owner_token(user.pk)
        changes += [SeatChange(seat=seat_id, status=SeatStatus.HELD, owner=owner, until=hold.expires_at)
                    for _pk, seat_id, _tt in seats]
    for tt, n in sorted(quantities.items()):
        if not _take_stock(session, tt, n, now, name=ticket_types[tt].name):
            raise SoldOut(name=ticket_types[tt].name)
        HoldItem.objects.create(hold=hold, ticket_type_id=tt, quantity=n, unit_price=prices[tt])
        changes.append(SeatChange(ticket_type=tt))
    return hold, changes


def _check_limits(user, session, wanted: Counter, ticket_types: dict, now) -> None:
    """The buyer's live holds and purchases of each type in this session, plus this request, within the limit."""
    mine = dict(HoldItem.objects.filter(hold__user=user, hold__session=session, ticket_type_id__in=wanted)
                .filter(Q(hold__status=HoldStatus.CONSUMED) | Q(hold__status=HoldStatus.ACTIVE, hold__expires_at__gt=now))
                .values("ticket_type_id").annotate(n=Sum("quantity")).values_list("ticket_type_id", "n"))
    for tt, n in wanted.items():
        limit = ticket_types[tt].per_user_limit
        if mine.get(tt, 0) + n > limit:
            raise OverLimit(limit=limit, name=ticket_types[tt].name)


def _take_stock(session, ticket_type_id: int, n: int, now, *, name: str) -> bool:
    stock = Stock.objects.filter(session=session, ticket_type_id=ticket_type_id)
    taken = stock.filter(available__gte=n).update(available=F("available") - n, held=F("held") + n)
    # Stock in holds past their expiry is free: return it for good, then try once more.
    if not taken and _expire_due_holding(session, ticket_type_id, now):
        taken = stock.filter(available__gte=n).update(available=F("available") - n, held=F("held") + n)
    if not taken and not stock.filter(available__gt=0).exists():
        fastpath.mark_sold_out(session.pk, ticket_type_id, name)  # none left at all (not just fewer than asked)
    if taken and stock.filter(available=0).exists():  # the last ones: search stops offering the event
        transaction.on_commit(lambda: event_summary_refresh(event_id=session.event_id))
    return bool(taken)


def _expire_due_holding(session, ticket_type_id, now) -> int:
    due = (Hold.objects.filter(session=session, status=HoldStatus.ACTIVE, expires_at__lte=now,
                               items__ticket_type_id=ticket_type_id, items__seat__isnull=True)
           .values_list("pk", flat=True).distinct()[:50])
    freed = 0
    for hold_id in due:
        changes = _end_hold(hold_id, HoldStatus.EXPIRED, now, from_status=HoldStatus.ACTIVE, expired_only=True)
        if changes is not None:
            freed += 1
            transaction.on_commit(lambda c=changes: broadcast_changes(session.pk, c))
    return freed


def _price_now(ticket_type: TicketType, session: Session, now) -> Decimal:
    tiers = list(ticket_type.tiers.all())
    ratio = sold_ratio(session, ticket_type.pk, now) if any(t.kind == "demand" for t in tiers) else 0.0
    return price_for(ticket_type.base_price, tiers, now=now, sold_ratio=ratio)


def sold_ratio(session: Session, ticket_type_id: int, now) -> float:
    """Share of this type in this session that is held (live) or sold."""
    if session.is_seated:
        seats = SessionSeat.objects.filter(session=session, ticket_type_id=ticket_type_id)
        total = seats.count()
        taken = seats.filter(Q(status=SeatStatus.SOLD) | Q(status=SeatStatus.HELD, held_until__gt=now)).count()
    else:
        stock = Stock.objects.filter(session=session, ticket_type_id=ticket_type_id).first()
        if stock is None:
            return 0.0
        total, taken = stock.total, stock.held + stock.sold - _expired_quantity(session, ticket_type_id, now)
    return taken / total if total else 1.0


def _expired_quantity(session, ticket_type_id, now) -> int:
    return (HoldItem.objects.filter(hold__session=session, hold__status=HoldStatus.ACTIVE, hold__expires_at__lte=now,
                                    ticket_type_id=ticket_type_id, seat__isnull=True)
            .aggregate(n=Sum("quantity"))["n"] or 0)


def _unavailable(session, seat_ids, now) -> list[int]:
    return list(SessionSeat.objects.filter(session=session, seat_id__in=seat_ids)
                .exclude(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now))
                .values_list("seat_id", flat=True)) or list(seat_ids)


def _seat_names(seat_ids) -> str:
    seats = Seat.objects.filter(pk__in=list(seat_ids)[:5])
    return ", ".join(str(s.label) for s in seats) or str(_("a seat"))


def owner_token(user_id: int) -> str:
    """An opaque per-buyer mark, so a seat map can tell "mine" from "held" without user ids."""
    from django.utils.crypto import salted_hmac

    return salted_hmac("tickets.owner", str(user_id)).hexdigest()[:12]


def _end_hold(hold_id: int, status: str, now, *, from_status: str, expired_only: bool = False) -> list | None:
    """Moves a hold out of `from_status` and returns its seats/stock to sale; None if it had already moved."""
    holds = Hold.objects.filter(pk=hold_id, status=from_status)
    if expired_only:
        holds = holds.filter(expires_at__lte=now)
    if not holds.update(status=status, ended_at=now):
        return None
    seat_status = SeatStatus.SOLD if from_status == HoldStatus.CONSUMED else SeatStatus.HELD
    seats = list(SessionSeat.objects.filter(hold_id=hold_id, status=seat_status).values_list("seat_id", flat=True))
    if seats:
        SessionSeat.objects.filter(hold_id=hold_id, status=seat_status).update(
            status=SeatStatus.FREE, hold=None, held_until=None, version=F("version") + 1)
    counter = "sold" if from_status == HoldStatus.CONSUMED else "held"
    items = list(HoldItem.objects.filter(hold_id=hold_id, seat__isnull=True).values_list("ticket_type_id", "quantity"))
    session_id = Hold.objects.filter(pk=hold_id).values_list("session_id", flat=True).get()
    changes = [SeatChange(seat=s, status=SeatStatus.FREE) for s in seats]
    for tt, n in items:
        Stock.objects.filter(session_id=session_id, ticket_type_id=tt).update(
            available=F("available") + n, **{counter: F(counter) - n})
        changes.append(SeatChange(ticket_type=tt))
    transaction.on_commit(lambda: fastpath.forget_seats(session_id, seats, [tt for tt, _n in items]))
    return changes


def hold_release(*, user: User, hold_id: int) -> Hold:
    """The buyer lets go of a hold; its seats and tickets are back on sale at once. Idempotent."""
    hold = Hold.objects.filter(pk=hold_id, user=user).first()
    if hold is None:
        raise NotFound(_("No such hold."))
    if _held_by_an_order(hold_id):
        raise Conflict(_("These tickets are in an order; cancel the order instead."), code="hold_in_order")
    with transaction.atomic():
        changes = _end_hold(hold.pk, HoldStatus.RELEASED, timezone.now(), from_status=HoldStatus.ACTIVE)
    if changes:
        broadcast_changes(hold.session_id, changes)
    hold.refresh_from_db()
    return hold


def _held_by_an_order(hold_id: int) -> bool:
    from orders.selectors import hold_in_open_order  # orders builds on tickets; asked lazily

    return hold_in_open_order(hold_id)


def seat_release(*, user: User, session: Session, seat_id: int) -> None:
    """Lets go of one held seat; the rest of its hold stays. Releasing a seat you don't hold is NotFound."""
    now = timezone.now()
    with transaction.atomic():
        row = (SessionSeat.objects.select_for_update().select_related("hold")
               .filter(session=session, seat_id=seat_id, status=SeatStatus.HELD, held_until__gt=now,
                       hold__user=user, hold__status=HoldStatus.ACTIVE).first())
        if row is None:
            raise NotFound(_("You are not holding this seat."))
        if _held_by_an_order(row.hold_id):
            raise Conflict(_("These tickets are in an order; cancel the order instead."), code="hold_in_order")
        hold_id = row.hold_id
        SessionSeat.objects.filter(pk=row.pk, hold_id=hold_id).update(
            status=SeatStatus.FREE, hold=None, held_until=None, version=F("version") + 1)
        HoldItem.objects.filter(hold_id=hold_id, seat_id=seat_id).delete()
        if not HoldItem.objects.filter(hold_id=hold_id).exists():
            Hold.objects.filter(pk=hold_id, status=HoldStatus.ACTIVE).update(status=HoldStatus.RELEASED, ended_at=now)
    fastpath.forget_seats(session.pk, [seat_id])
    broadcast_changes(session.pk, [SeatChange(seat=seat_id, status=SeatStatus.FREE)])


def holds_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Returns holds past their expiry to sale for good (the beat task). Safe to run anywhere, any time."""
    now = now or timezone.now()
    due = list(Hold.objects.filter(status=HoldStatus.ACTIVE, expires_at__lte=now)
               .values_list("pk", "session_id")[:limit])
    done = 0
    touched = defaultdict(list)
    for hold_id, session_id in due:
        if _held_by_an_order(hold_id):
            continue  # its order expires it (orders.services), with the order
        changes = retry_deadlocks(transaction.atomic(
            lambda h=hold_id: _end_hold(h, HoldStatus.EXPIRED, now, from_status=HoldStatus.ACTIVE, expired_only=True)))
        if changes is not None:
            done += 1
            touched[session_id] += changes
    for session_id, changes in touched.items():
        broadcast_changes(session_id, changes)
    for event_id in set(Session.objects.filter(pk__in=touched).values_list("event_id", flat=True)):
        event_summary_refresh(event_id=event_id)
    return done


# --- called by orders, inside the order's transaction -------------------------------


def holds_consume(*, user: User, hold_ids: list[int]) -> None:
    """Marks live holds sold. HoldExpired (and the caller's transaction rolls back) if any has lapsed."""
    now = timezone.now()
    for hold_id in sorted(hold_ids):
        if not Hold.objects.filter(pk=hold_id, user=user, status=HoldStatus.ACTIVE, expires_at__gt=now).update(
                status=HoldStatus.CONSUMED, ended_at=now):
            raise HoldExpired()
        seats = HoldItem.objects.filter(hold_id=hold_id, seat__isnull=False).count()
        if SessionSeat.objects.filter(hold_id=hold_id, status=SeatStatus.HELD).update(
                status=SeatStatus.SOLD, held_until=None, version=F("version") + 1) != seats:
            raise HoldExpired()
        session_id = Hold.objects.filter(pk=hold_id).values_list("session_id", flat=True).get()
        changes = [SeatChange(seat=s, status=SeatStatus.SOLD)
                   for s in HoldItem.objects.filter(hold_id=hold_id, seat__isnull=False).values_list("seat_id", flat=True)]
        for tt, n in HoldItem.objects.filter(hold_id=hold_id, seat__isnull=True).values_list("ticket_type_id", "quantity"):
            Stock.objects.filter(session_id=session_id, ticket_type_id=tt).update(held=F("held") - n, sold=F("sold") + n)
            changes.append(SeatChange(ticket_type=tt))
        transaction.on_commit(lambda s=session_id, c=changes: broadcast_changes(s, c))


def holds_release(*, hold_ids: list[int], status: str = HoldStatus.RELEASED) -> None:
    """Unsold holds of a dropped order go back on sale (no-op for holds already ended)."""
    now = timezone.now()
    for hold_id in sorted(hold_ids):
        changes = _end_hold(hold_id, status, now, from_status=HoldStatus.ACTIVE)
        if changes:
            _announce(hold_id, changes)


def holds_refund(*, hold_ids: list[int]) -> None:
    """Sold holds of a refunded order go back on sale, exactly once."""
    now = timezone.now()
    for hold_id in sorted(hold_ids):
        changes = _end_hold(hold_id, HoldStatus.RELEASED, now, from_status=HoldStatus.CONSUMED)
        if changes:
            _announce(hold_id, changes)


def _announce(hold_id: int, changes: list) -> None:
    session_id, event_id = Hold.objects.filter(pk=hold_id).values_list("session_id", "session__event_id").get()
    transaction.on_commit(lambda: broadcast_changes(session_id, changes))
    transaction.on_commit(lambda: event_summary_refresh(event_id=event_id))

