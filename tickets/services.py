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
Every change is announced to the session's seat-map sockets after commit; a hold taken is a
`hold` line of the behaviour log (ticketing.behaviour), also after commit.
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
from django.db import OperationalError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from events.models import Event, EventStatus
from ticketing import behaviour
from ticketing.errors import Conflict, DomainError, Forbidden, NotFound  # noqa: F401 - re-exported for callers
from ticketing.outbox import outbox_add
from tickets import catalogue, fastpath, waiting_room
from tickets.broadcast import SeatChange, broadcast_changes
from tickets.models import (
    Hold, HoldItem, HoldStatus, PriceTier, PriceTierKind, Seat, SeatMap, SeatStatus, Seating, Session, SessionSeat,
    Stock, TicketType,
)
from tickets.pricing import price_for
from tickets.signals import sessions_cancelled
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
                       per_user_limit: int = 6, colour: str = "#0d6efd", hidden: bool = False,
                       tiers: Iterable[TierData] = ()) -> TicketType:
    _require_owner(actor, event)
    ticket_type = TicketType(event=event, name=name.strip(), base_price=base_price, description=description,
                             per_user_limit=per_user_limit, colour=colour, hidden=hidden,
                             position=event.ticket_types.count())
    ticket_type.full_clean()
    ticket_type.save()
    _tiers_replace(ticket_type, tiers)
    transaction.on_commit(lambda: event_summary_refresh(event_id=event.pk))
    return ticket_type


@transaction.atomic
def ticket_type_update(*, actor: User, ticket_type: TicketType, name: str, base_price: Decimal,
                       description: str = "", per_user_limit: int = 6, colour: str = "#0d6efd", hidden: bool = False,
                       tiers: Iterable[TierData] = ()) -> TicketType:
    """Changes apply to new holds; a hold keeps the price it was given."""
    _require_owner(actor, ticket_type.event)
    if hidden and Seat.objects.filter(ticket_type=ticket_type).exists():
        raise DomainError(_("A ticket type sold by seat cannot be hidden: access codes unlock general admission "
                            "only."), code="hidden_seated")
    ticket_type.name, ticket_type.base_price, ticket_type.description = name.strip(), base_price, description
    ticket_type.per_user_limit, ticket_type.colour, ticket_type.hidden = per_user_limit, colour, hidden
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
    # Hidden ticket types are general admission only (sold with an access code), never a map's seats.
    clean = layout_clean(layout, set(event.ticket_types.filter(hidden=False).values_list("pk", flat=True)))
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
                   seat_map: SeatMap | None = None, stock: dict[int, int] | None = None,
                   waiting_room: bool = False, admit_per_second: int = 20) -> Session:
    """A session sold by seat (`seat_map`) or as general admission (`stock`: ticket type id → count);
    `waiting_room`: a hot sale, its buyers let in admit_per_second at a time (tickets.waiting_room)."""
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
    errors += _admit_rate_errors(admit_per_second)
    if errors:
        raise ValidationError(errors)
    session = Session.objects.create(
        event=event, name=name.strip(), hall=hall.strip(), start_time=start_time, end_time=end_time,
        sales_start=sales_start, sales_end=sales_end, seat_map=seat_map,
        seating=Seating.SEATED if seat_map else Seating.GENERAL, waiting_room=waiting_room,
        admit_per_second=admit_per_second)
    if seat_map is not None:
        SessionSeat.objects.bulk_create(
            SessionSeat(session=session, seat_id=seat_id, ticket_type_id=tt)
            for seat_id, tt in seat_map.seats.values_list("pk", "ticket_type_id"))
    else:
        Stock.objects.bulk_create(Stock(session=session, ticket_type_id=tt, total=count, available=count)
                                  for tt, count in stock.items())
    transaction.on_commit(lambda: event_summary_refresh(event_id=event.pk))
    return session


def _admit_rate_errors(admit_per_second) -> list:
    if not isinstance(admit_per_second, int) or not 1 <= admit_per_second <= 1000:
        return [_("Let in between 1 and 1000 buyers per second.")]
    return []


@transaction.atomic
def session_waiting_room_set(*, actor: User, session: Session, waiting_room: bool, admit_per_second: int) -> Session:
    """Turns a session's waiting room on or off and sets how many buyers it lets in per second (its publisher).
    Takes effect at once in every process (the room's settings are written again after commit). Turning it
    on while a sale runs sends buyers without an admission to the room from their next request. Raises
    Forbidden, Conflict (event or session cancelled, sales over) or ValidationError (the rate); each changes
    nothing."""
    _require_owner(actor, session.event)
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.cancelled_at is not None:
        raise SessionCancelled()
    if session.sales_end <= timezone.now():
        raise Conflict(_("Sales of this session are over."), code="sales_over")
    errors = _admit_rate_errors(admit_per_second)
    if errors:
        raise ValidationError(errors)
    session.waiting_room, session.admit_per_second = bool(waiting_room), admit_per_second
    session.save(update_fields=["waiting_room", "admit_per_second"])  # post_save: the catalogue and the room
    return session


class SessionCancelled(Conflict):
    code = "session_cancelled"
    default_message = _("This session is cancelled.")


@transaction.atomic
def session_cancel(*, actor: User, session: Session, reason: str) -> Session:
    """Cancels a session that is not over, for good (its publisher or an admin): nothing more is sold, and
    its orders are refunded in full after commit (orders.cancellations). Raises Forbidden, DomainError
    without a reason, SessionCancelled if it already is, Conflict once it is over; each changes nothing."""
    reason = (reason or "").strip()
    if actor.role != Role.ADMIN and session.event.publisher_id != actor.pk:
        raise Forbidden(_("Only the event's publisher or an administrator can cancel its sessions."))
    if not reason:
        raise DomainError(_("Tell the buyers why the session is cancelled."), code="reason_required")
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.cancelled_at is not None:
        raise SessionCancelled()
    if session.end_time <= timezone.now():
        raise Conflict(_("This session is over; it can no longer be cancelled."), code="session_over")
    session.cancelled_at, session.cancel_reason = timezone.now(), reason[:500]
    session.save(update_fields=["cancelled_at", "cancel_reason"])  # post_save: the catalogue forgets it
    sessions_cancelled.send(sender=Session, event_id=session.event_id, session_ids=[session.pk], reason=reason)
    event_id = session.event_id
    transaction.on_commit(lambda: event_summary_refresh(event_id=event_id))
    return session


def sessions_cancel_with_event(*, event_id: int, reason: str) -> list[int]:
    """Inside an event's cancellation: its sessions not yet over are cancelled with it."""
    now = timezone.now()
    sessions = Session.objects.filter(event_id=event_id, cancelled_at__isnull=True, end_time__gt=now)
    ids = list(sessions.values_list("pk", flat=True))
    if ids:
        Session.objects.filter(pk__in=ids).update(cancelled_at=now, cancel_reason=reason[:500])
        sessions_cancelled.send(sender=Session, event_id=event_id, session_ids=ids, reason=reason)
    return ids


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


SUMMARY_WINDOW = timedelta(hours=1)


def event_summaries_due(*, now: datetime | None = None, window: timedelta = SUMMARY_WINDOW) -> int:
    """Beat, every minute: events whose price range or availability changed with time alone in the last
    `window` (a time price tier ended, a session's sales closed, a session ended) get their summary again,
    so the list's price filters, sorts and cards agree with the event page. Idempotent: a boundary is
    refreshed on every run of its window, so a beat that was down for less than the window misses none.
    Returns how many events were refreshed."""
    now = now or timezone.now()
    since = now - window
    events = set(PriceTier.objects.filter(kind=PriceTierKind.TIME, until__gt=since, until__lte=now)
                 .values_list("ticket_type__event_id", flat=True))
    events |= set(Session.objects.filter(Q(sales_end__gt=since, sales_end__lte=now) | Q(end_time__gt=since, end_time__lte=now))
                  .values_list("event_id", flat=True))
    for event_id in sorted(events):
        event_summary_refresh(event_id=event_id)
    return len(events)


# --- buyers: holds -------------------------------------------------------------------


@dataclass
class Taken:
    """A hold just made, with everything its answer needs, so the view reads nothing back."""

    hold: Hold
    items: list  # HoldItem rows of this request (a joined hold has older ones too)
    info: "catalogue.SessionInfo"
    changes: list
    result: object = None  # what `then` returned (orders.services.order_create_direct: the order)
    joined: bool = False  # the seats went into a live hold that has older items too

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.items), Decimal("0"))


def hold_create(*, user: User, session: Session, seat_ids: Iterable[int] = (),
                quantities: dict[int, int] | None = None, join: bool = False, access_code: str = "",
                admission: str = "") -> Hold:
    """Holds these seats, or these GA quantities (ticket type id → n), all or none.

    With `join`, seats go into the buyer's live hold for this session (sharing
    its timer) if there is one. Raises SalesClosed, BadHoldRequest, SeatTaken,
    SoldOut, OverLimit, TooManyHolds; on any error nothing is held. The caller
    has checked the buyer may see the session. A hidden ticket type needs `access_code`
    (orders.promo.access_take: PromoInvalid, PromoUsedUp). A hot session's active waiting room wants
    its `admission` (hold_take).
    """
    return hold_take(user=user, session_id=session.pk, seat_ids=seat_ids, quantities=quantities, join=join,
                     access_code=access_code, admission=admission).hold


def hold_take(*, user, session_id: int, seat_ids: Iterable[int] = (), quantities: dict[int, int] | None = None,
              join: bool = False, then=None, check_visible: bool = False, access_code: str = "",
              admission: str = "") -> Taken:
    """hold_create's work, answering with a Taken. `then(taken)` runs inside the hold's transaction
    (an order made of it), so both commit or neither; `check_visible` raises NotFound for a session
    the buyer may not see. While the session's waiting room is active, `admission` must be the room's
    token for this buyer (tickets.waiting_room.request_token), else WaitingRoomRequired. `user` may be an accounts.authentication.TokenBuyer: only its id is used,
    and the first statement refuses an inactive account."""
    seat_ids = sorted(set(int(s) for s in seat_ids))
    quantities = {int(k): int(v) for k, v in (quantities or {}).items() if int(v) != 0}
    # GA: the sold-out marks and the catalogue's version in one round trip (most requests of a sold-out
    # sale end at the mark); they are still looked at in the usual order below.
    read = (fastpath.known_sold_out_and(session_id, quantities, catalogue.version_cache_key(session_id))
            if quantities and not seat_ids else None)
    info = catalogue.session_info(session_id) if read is None else catalogue.session_info(session_id, version=read[1])
    if info is None or (check_visible and not info.visible_to(user)):
        raise NotFound(_("No such session."))
    _check_request(info, seat_ids, quantities)
    waiting_room.check(info, user_id=user.pk, token=admission)
    token = uuid.uuid4().hex
    if seat_ids:
        taken = fastpath.claim_seats(session_id, seat_ids, token)
        if taken:
            raise SeatTaken(seats=_seat_names(info, taken))
    elif sold_out := (fastpath.known_sold_out(session_id, quantities) if read is None else read[0]):
        raise SoldOut(name=", ".join(sold_out))
    try:
        result = retry_deadlocks(
            lambda: _hold_in_transaction(user.pk, info, seat_ids, quantities, join, then, access_code))
    except BaseException:
        fastpath.unclaim_seats(session_id, seat_ids, token)
        raise
    ms = int((result.hold.expires_at - timezone.now()).total_seconds() * 1000)
    fastpath.confirm_seats(session_id, seat_ids, token, ms)
    broadcast_changes(session_id, result.changes)
    details = {"hold": result.hold.pk, "tickets": sum(i.quantity for i in result.items)}
    if seat_ids:
        details["seats"] = seat_ids
    behaviour.track_on_commit("hold", user=user, event_id=info.event_id, session_id=session_id, details=details)
    return result


def _check_request(info, seat_ids: list[int], quantities: dict[int, int]) -> None:
    if not info.sales_open(timezone.now()):
        raise SalesClosed()
    if info.seated and quantities:
        raise BadHoldRequest(_("This session is sold by seat: choose seats on the map."))
    if not info.seated and seat_ids:
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


def _hold_in_transaction(user_id, info, seat_ids, quantities, join, then, access_code="") -> Taken:
    with transaction.atomic():
        taken, take = _hold_in_db(user_id, info, seat_ids, quantities, join, access_code)
        if then is not None:
            taken.result = then(taken)
        # Last: the seat rows and the GA stock row are what every buyer of the session contends for,
        # so their row locks are taken just before the commit and held for no more than it.
        take()
    return taken


def _hold_in_db(user_id: int, info, seat_ids: list[int], quantities: dict[int, int], join: bool,
                access_code: str = ""):
    """The buyer's row locked with its limits read, the hold and its items: three statements. Returns the
    Taken and what takes the seats or stock (one conditional UPDATE each) for the caller to run last."""
    now = timezone.now()
    wanted = Counter(quantities)
    for seat_id in seat_ids:
        seat = info.seats.get(seat_id)
        if seat is None:
            raise BadHoldRequest(_("Some of these seats are not in this session's map."))
        wanted[seat[0]] += 1
    if any(tt not in info.ticket_types for tt in wanted):
        raise BadHoldRequest(_("Unknown ticket type for this event."))
    live_count, mine, joined = _buyer_state(user_id, info.id, sorted(wanted), now, join)
    if joined is None and live_count >= settings.HOLD_MAX_ACTIVE:
        raise TooManyHolds(count=live_count)
    for tt, n in wanted.items():
        ticket_type = info.ticket_types[tt]
        if mine.get(tt, 0) + n > ticket_type.per_user_limit:
            raise OverLimit(limit=ticket_type.per_user_limit, name=ticket_type.name)
    prices = {tt: _price_now(info.ticket_types[tt], info, now) for tt in wanted}
    if joined is not None:
        hold = Hold.objects.get(pk=joined)
    else:
        hold = Hold.objects.create(user_id=user_id, session_id=info.id,
                                   expires_at=now + timedelta(minutes=settings.HOLD_MINUTES))
    hidden = {tt: n for tt, n in quantities.items() if info.ticket_types[tt].hidden}
    if hidden:  # an access code's use, under its row lock: two more statements, for hidden types only
        from orders.promo import access_take  # orders builds on tickets: asked lazily

        access_take(user_id=user_id, event_id=info.event_id, code=access_code, wanted=hidden, hold_id=hold.pk, now=now)
    items, changes = [], []
    owner = owner_token(user_id) if seat_ids else None
    for seat_id in seat_ids:
        tt = info.seats[seat_id][0]
        items.append(HoldItem(hold=hold, ticket_type_id=tt, seat_id=seat_id, unit_price=prices[tt]))
        changes.append(SeatChange(seat=seat_id, status=SeatStatus.HELD, owner=owner, until=hold.expires_at))
    for tt, n in sorted(quantities.items()):
        items.append(HoldItem(hold=hold, ticket_type_id=tt, quantity=n, unit_price=prices[tt]))
        changes.append(SeatChange(ticket_type=tt))
    HoldItem.objects.bulk_create(items)

    def take() -> None:
        if seat_ids:
            # Not a seat of a type whose waiting list waits (orders.waitlist offers those): in the same statement.
            taken = (SessionSeat.objects.filter(session_id=info.id, seat_id__in=seat_ids)
                     .filter(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now))
                     .exclude(ticket_type_id__in=_waited_types(info.id))
                     .update(status=SeatStatus.HELD, hold=hold, held_until=hold.expires_at,
                             version=F("version") + 1))
            if taken != len(seat_ids):
                unavailable = _unavailable(info.id, seat_ids, now)
                waited = set(_waited_types(info.id).values_list("ticket_type_id", flat=True))
                kept = [s for s in seat_ids if s not in unavailable and info.seats[s][0] in waited]
                if kept and not unavailable:
                    raise SeatTaken(_("%(seats)s is kept for the waiting list: seats of its type go to those "
                                      "waiting first."), seats=_seat_names(info, kept))
                raise SeatTaken(seats=_seat_names(info, unavailable or seat_ids))
        for tt, n in sorted(quantities.items()):
            if not _take_stock(info, tt, n, now):
                raise SoldOut(name=info.ticket_types[tt].name)

    return Taken(hold=hold, items=items, info=info, changes=changes, joined=joined is not None), take


def buyer_lock_and_count(*, user_id: int, session_id: int, ticket_type_id: int) -> int:
    """Inside a transaction: locks the buyer's row (as a hold does) and returns how many tickets of this type
    it holds or has for the session, against the type's limit per buyer. AccountInactive if it is gone."""
    _live, mine, _joined = _buyer_state(user_id, session_id, [ticket_type_id], timezone.now(), False)
    return mine[ticket_type_id]


def _buyer_state(user_id: int, session_id: int, type_ids: list[int], now, join: bool):
    """One statement: locks the buyer's row (two tabs of one buyer queue here) and reads, as of that lock,
    its live holds, what it holds or bought of each type in this session (counting tickets given to it and
    not those it gave away: orders.transfers) and, with `join`, its latest
    live hold of this session that no open order carries. Returns (live count, {type: n}, hold id or None);
    AccountInactive if the account is gone or deactivated."""
    from accounts.authentication import AccountInactive
    from orders.models import Order, OrderHold, OrderStatus, Ticket, TicketStatus  # orders builds on tickets

    q = connection.ops.quote_name
    hold_t, item_t, user_t = q(Hold._meta.db_table), q(HoldItem._meta.db_table), q(User._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    active, consumed, void = HoldStatus.ACTIVE.value, HoldStatus.CONSUMED.value, TicketStatus.VOID.value
    columns = [f"(SELECT COUNT(*) FROM {hold_t} h WHERE h.user_id = u.id AND h.status = %s AND h.expires_at > %s)"]
    params: list = [active, at]
    ticket_t, order_t = q(Ticket._meta.db_table), q(Order._meta.db_table)
    for tt in type_ids:
        # Held or bought (by its holds), plus tickets others gave this buyer, less those it gave away.
        transferred = (f"(SELECT COUNT(*) FROM {ticket_t} t JOIN {order_t} o ON o.id = t.order_id WHERE {{}}"
                       f" AND t.session_id = %s AND t.ticket_type_id = %s AND t.status <> %s)")
        columns.append(
            f"(SELECT COALESCE(SUM(i.quantity), 0) FROM {item_t} i JOIN {hold_t} h ON h.id = i.hold_id"
            f" WHERE h.user_id = u.id AND h.session_id = %s AND i.ticket_type_id = %s"
            f" AND (h.status = %s OR (h.status = %s AND h.expires_at > %s)))"
            f" + {transferred.format('t.user_id = u.id AND o.user_id <> u.id')}"
            f" - {transferred.format('o.user_id = u.id AND t.user_id <> u.id')}")
        params += [session_id, tt, consumed, active, at, session_id, tt, void, session_id, tt, void]
    if join:
        link_t = q(OrderHold._meta.db_table)
        columns.append(
            f"(SELECT h.id FROM {hold_t} h WHERE h.user_id = u.id AND h.session_id = %s AND h.status = %s"
            f" AND h.expires_at > %s AND NOT EXISTS (SELECT 1 FROM {link_t} oh JOIN {order_t} o ON o.id = oh.order_id"
            f" WHERE oh.hold_id = h.id AND o.status NOT IN (%s, %s) AND NOT (o.status = %s AND o.expires_at <= %s))"
            f" ORDER BY h.expires_at DESC, h.id DESC LIMIT 1)")
        params += [session_id, active, at, OrderStatus.EXPIRED.value, OrderStatus.CANCELLED.value,
                   OrderStatus.PENDING.value, at]
    sql = f"SELECT {', '.join(columns)} FROM {user_t} u WHERE u.id = %s AND u.is_active = %s"
    params += [user_id, True]
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise AccountInactive()
    mine = {tt: int(n) for tt, n in zip(type_ids, row[1:1 + len(type_ids)])}
    return int(row[0]), mine, (row[-1] if join else None)


def _take_stock(info, ticket_type_id: int, n: int, now) -> bool:
    """The open sale's take: of what is available, what the waiting list waits for (`waiting`) is not its."""
    stock = Stock.objects.filter(session_id=info.id, ticket_type_id=ticket_type_id)
    take = {"available": F("available") - n, "held": F("held") + n}
    # More than asked is left (the usual case): one statement. Else exactly the last ones?
    taken = stock.filter(available__gt=F("waiting") + n).update(**take)
    if not taken and stock.filter(available=F("waiting") + n).update(**take):
        # The last ones: search stops offering the event once this commits.
        transaction.on_commit(lambda: event_summary_refresh(event_id=info.event_id))
        return True
    if not taken:
        taken = stock.filter(available__gte=F("waiting") + n).update(**take)
    # Stock in holds past their expiry is free: return it for good, then try once more.
    if not taken and _expire_due_holding(info.id, ticket_type_id, now):
        taken = stock.filter(available__gte=F("waiting") + n).update(**take)
    if not taken and not stock.filter(available__gt=F("waiting")).exists():
        # None left at all (not just fewer than asked): turn the next buyers away before the database.
        fastpath.mark_sold_out(info.id, ticket_type_id, info.ticket_types[ticket_type_id].name)
    return bool(taken)


def stock_lock(*, session_id: int, ticket_type_id: int, reclaim: bool = True) -> Stock:
    """Inside a transaction: the GA stock row, locked (orders.waitlist moves its line under this lock);
    with `reclaim`, holds past their expiry give their tickets back first."""
    if reclaim:
        _expire_due_holding(session_id, ticket_type_id, timezone.now())
    return Stock.objects.select_for_update().get(session_id=session_id, ticket_type_id=ticket_type_id)


def hold_for_waitlist(*, user_id: int, info, ticket_type_id: int, quantity: int, until: datetime,
                      unit_price: Decimal | None = None) -> Hold:
    """Inside orders.waitlist's offer, under stock_lock: a hold in the buyer's name of tickets the line was
    waiting for (they leave `available` and `waiting` together), at the price now or `unit_price`."""
    price = unit_price if unit_price is not None else price_now(info, ticket_type_id, timezone.now())
    hold = Hold.objects.create(user_id=user_id, session_id=info.id, expires_at=until)
    HoldItem.objects.create(hold=hold, ticket_type_id=ticket_type_id, quantity=quantity, unit_price=price)
    if not Stock.objects.filter(session_id=info.id, ticket_type_id=ticket_type_id, available__gte=quantity,
                                waiting__gte=quantity).update(available=F("available") - quantity,
                                                              held=F("held") + quantity,
                                                              waiting=F("waiting") - quantity):
        raise SoldOut(name=info.ticket_types[ticket_type_id].name)
    return hold


def price_now(info, ticket_type_id: int, now) -> Decimal:
    """What a hold of this type made now would cost each ticket."""
    return _price_now(info.ticket_types[ticket_type_id], info, now)


def _expire_due_holding(session_id: int, ticket_type_id: int, now) -> int:
    due = (Hold.objects.filter(session_id=session_id, status=HoldStatus.ACTIVE, expires_at__lte=now,
                               items__ticket_type_id=ticket_type_id, items__seat__isnull=True)
           .values_list("pk", flat=True).distinct()[:50])
    freed = 0
    for hold_id in due:
        changes = _end_hold(hold_id, HoldStatus.EXPIRED, now, from_status=HoldStatus.ACTIVE, expired_only=True)
        if changes is not None:
            freed += 1
            transaction.on_commit(lambda c=changes: broadcast_changes(session_id, c))
    return freed


def _price_now(ticket_type, info, now) -> Decimal:
    """The price a hold made now gets (a demand tier reads how much of the type is gone: one more query)."""
    ratio = sold_ratio(info.id, info.seated, ticket_type.id, now) if ticket_type.has_demand_tier else 0.0
    return price_for(ticket_type.base_price, ticket_type.tiers, now=now, sold_ratio=ratio)


def sold_ratio(session_id: int, seated: bool, ticket_type_id: int, now) -> float:
    """Share of this type in this session that is held (live) or sold."""
    if seated:
        seats = SessionSeat.objects.filter(session_id=session_id, ticket_type_id=ticket_type_id)
        total = seats.count()
        taken = seats.filter(Q(status=SeatStatus.SOLD) | Q(status=SeatStatus.HELD, held_until__gt=now)).count()
    else:
        stock = Stock.objects.filter(session_id=session_id, ticket_type_id=ticket_type_id).first()
        if stock is None:
            return 0.0
        total, taken = stock.total, stock.held + stock.sold - _expired_quantity(session_id, ticket_type_id, now)
    return taken / total if total else 1.0


def _expired_quantity(session_id: int, ticket_type_id: int, now) -> int:
    return (HoldItem.objects.filter(hold__session_id=session_id, hold__status=HoldStatus.ACTIVE,
                                    hold__expires_at__lte=now, ticket_type_id=ticket_type_id, seat__isnull=True)
            .aggregate(n=Sum("quantity"))["n"] or 0)


def _unavailable(session_id: int, seat_ids, now) -> list[int]:
    """Of these seats, those held or sold."""
    return list(SessionSeat.objects.filter(session_id=session_id, seat_id__in=seat_ids)
                .exclude(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now))
                .values_list("seat_id", flat=True))


def _waited_types(session_id: int):
    """The session's ticket types someone waits for (orders.waitlist), as a subquery."""
    from orders.models import WaitlistEntry, WaitStatus  # orders builds on tickets: asked lazily

    return WaitlistEntry.objects.filter(session_id=session_id, status=WaitStatus.WAITING).values("ticket_type_id")


def hold_seats_for_waitlist(*, user_id: int, info, ticket_type_id: int, quantity: int, until: datetime,
                            unit_price: Decimal | None = None) -> Hold | None:
    """Inside orders.waitlist's offer: the first `quantity` free seats of this type (by the map's order),
    held in the buyer's name; None if fewer are free (nothing is held then)."""
    now = timezone.now()
    free = list(SessionSeat.objects.filter(session_id=info.id, ticket_type_id=ticket_type_id)
                .filter(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now))
                .order_by("seat_id").values_list("seat_id", flat=True)[:quantity])
    if len(free) < quantity:
        return None
    price = unit_price if unit_price is not None else price_now(info, ticket_type_id, now)
    hold = Hold.objects.create(user_id=user_id, session_id=info.id, expires_at=until)
    HoldItem.objects.bulk_create(HoldItem(hold=hold, ticket_type_id=ticket_type_id, seat_id=s, unit_price=price)
                                 for s in free)
    lapsed = list(SessionSeat.objects.filter(session_id=info.id, seat_id__in=free, status=SeatStatus.HELD)
                  .values_list("hold_id", flat=True))
    for hold_id in set(lapsed):  # a lapsed hold on one of them ends first, as it would for any buyer
        _end_hold(hold_id, HoldStatus.EXPIRED, now, from_status=HoldStatus.ACTIVE, expired_only=True)
    if SessionSeat.objects.filter(session_id=info.id, seat_id__in=free, status=SeatStatus.FREE).update(
            status=SeatStatus.HELD, hold=hold, held_until=until, version=F("version") + 1) != len(free):
        raise SeatTaken(seats=_seat_names(info, free))
    owner = owner_token(user_id)
    changes = [SeatChange(seat=s, status=SeatStatus.HELD, owner=owner, until=until) for s in free]
    transaction.on_commit(lambda: broadcast_changes(info.id, changes))
    return hold


def _seat_names(info, seat_ids) -> str:
    return ", ".join(info.seat_label(s) for s in list(seat_ids)[:5] if s in info.seats) or str(_("a seat"))


def owner_token(user_id: int) -> str:
    """An opaque per-buyer mark, so a seat map can tell "mine" from "held" without user ids."""
    from django.utils.crypto import salted_hmac

    return salted_hmac("tickets.owner", str(user_id), algorithm="sha256").hexdigest()[:12]


def _end_hold(hold_id: int, status: str, now, *, from_status: str, expired_only: bool = False) -> list | None:
    """Moves a hold out of `from_status` and returns its seats/stock to sale; None if it had already moved."""
    holds = Hold.objects.filter(pk=hold_id, status=from_status)
    if expired_only:
        holds = holds.filter(expires_at__lte=now)
    if not holds.update(status=status, ended_at=now):
        return None
    seat_status = SeatStatus.SOLD if from_status == HoldStatus.CONSUMED else SeatStatus.HELD
    freed = list(SessionSeat.objects.filter(hold_id=hold_id, status=seat_status).values_list("seat_id", "ticket_type_id"))
    seats = [s for s, _tt in freed]
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
    back = {tt for tt, _n in items} | {tt for _s, tt in freed}
    waited = sorted(set(_waited_types(session_id).filter(ticket_type_id__in=back).values_list(
        "ticket_type_id", flat=True))) if back else []
    if waited:  # the tickets go to the waiting list first (orders.waitlist), after commit, never lost
        outbox_add(handler="orders.waitlist", payload={"session": session_id, "types": waited})
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


def holds_consume(*, user, hold_ids: list[int], items: list | None = None) -> None:
    """Marks live holds sold (`items`: all their HoldItems, if the caller has read them). HoldExpired (and
    the caller's transaction rolls back) if any has lapsed. `user`: the buyer or its id."""
    now = timezone.now()
    user_id = getattr(user, "pk", user)
    hold_ids = sorted(hold_ids)
    if items is None:
        items = list(HoldItem.objects.filter(hold_id__in=hold_ids).select_related("hold"))
    if Hold.objects.filter(pk__in=hold_ids, user_id=user_id, status=HoldStatus.ACTIVE, expires_at__gt=now).update(
            status=HoldStatus.CONSUMED, ended_at=now) != len(hold_ids):
        raise HoldExpired()
    seats = [i for i in items if i.seat_id]
    if seats and SessionSeat.objects.filter(hold_id__in=hold_ids, status=SeatStatus.HELD).update(
            status=SeatStatus.SOLD, held_until=None, version=F("version") + 1) != len(seats):
        raise HoldExpired()
    changes = defaultdict(list)
    sold = Counter()
    for item in items:
        if item.seat_id:
            changes[item.hold.session_id].append(SeatChange(seat=item.seat_id, status=SeatStatus.SOLD))
        else:
            sold[(item.hold.session_id, item.ticket_type_id)] += item.quantity
    for (session_id, tt), n in sorted(sold.items()):
        Stock.objects.filter(session_id=session_id, ticket_type_id=tt).update(held=F("held") - n, sold=F("sold") + n)
        changes[session_id].append(SeatChange(ticket_type=tt))
    for session_id, session_changes in changes.items():
        transaction.on_commit(lambda s=session_id, c=session_changes: broadcast_changes(s, c))


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

