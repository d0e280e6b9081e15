"""What a sale needs to know about a session that only its publisher (or an admin's review) changes.

The event's status, title and real-name rule, the session's sales window, its
ticket types with their prices, limits and tiers, and the seats of its map:
read once per process and kept, instead of queried by every hold, order and
payment. Each session has a version in the cache; any write to these rows
(signals on save and delete, see tickets.apps) drops the versions of the
event's sessions after commit, and the next request in every process reads
the database again. Without Redis every request reads the database: slower,
never stale.

A process takes a version *before* it reads the rows, so a write that commits
while it reads drops that version, and the copy read is never trusted after it.
"""

import uuid
from time import monotonic
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from events.models import Event, EventStatus
from events.selectors import may_see_event

MEMO_SIZE = 512  # sessions kept per process (a 500-seat map is ~40 kB)
MEMO_SECONDS = 60  # a copy is read again after this, whatever the cache says (a drop lost while Redis was away)
VERSION_SECONDS = 3600


@dataclass(frozen=True)
class TicketTypeInfo:
    id: int
    name: str
    base_price: Decimal
    per_user_limit: int
    colour: str
    tiers: tuple  # tickets.models.PriceTier rows, as tickets.pricing wants them
    hidden: bool = False  # sold only with an access code (orders.promo.access_take)

    @property
    def has_demand_tier(self) -> bool:
        return any(t.kind == "demand" for t in self.tiers)


@dataclass(frozen=True)
class SessionInfo:
    id: int
    event_id: int
    event_title: str
    event_status: str
    publisher_id: int
    real_name_required: bool
    one_ticket_per_id: bool  # real-name events: orders.Ticket.id_claim is set, so an ID holds one ticket here
    seated: bool
    cancelled: bool  # the session (tickets.services.session_cancel); a cancelled event has event_status cancelled
    start_time: datetime
    sales_start: datetime
    sales_end: datetime
    ticket_types: dict  # id → TicketTypeInfo
    seats: dict  # map seat id → (ticket type id, section, row, number)
    waiting_room: bool = False  # a hot sale: holds need the room's admission while it is open (tickets.waiting_room)
    admit_per_second: int = 20

    def sales_open(self, now: datetime) -> bool:
        return (self.event_status == EventStatus.APPROVED and not self.cancelled
                and self.sales_start <= now < self.sales_end)

    def visible_to(self, user) -> bool:
        """events.selectors.may_see, from what is kept (a lazy hot-path user reads its role only if asked)."""
        return bool(may_see_event(self.event_status, self.publisher_id, user))

    def seat_label(self, seat_id: int) -> str:
        _tt, section, row, number = self.seats[seat_id]
        return _("%(section)s row %(row)s seat %(number)s") % {"section": section, "row": row, "number": number}


_memo: dict[int, tuple[str, float, SessionInfo]] = {}


def _version_key(session_id: int) -> str:
    return f"catalogue:v:{session_id}"


def version_key(session_id: int) -> str:
    """The session's version key as the default cache names it (for cache.get_many with other keys)."""
    return _version_key(session_id)


def version_cache_key(session_id: int) -> str:
    """The session's version key as stored in Redis (for a caller that reads it with other keys at once)."""
    return cache.make_key(_version_key(session_id))


_UNREAD = object()


def session_info(session_id: int, *, version=_UNREAD) -> SessionInfo | None:
    """The session's sale data, from this process's copy while its version stands; None if no such session.
    `version`: the version the caller read from the cache just now (None: there is none), if it did."""
    key = _version_key(session_id)
    if version is _UNREAD:
        version = cache.get(key)
    kept = _memo.get(session_id)
    now = monotonic()
    if version is not None and kept is not None and kept[0] == version and now - kept[1] < MEMO_SECONDS:
        return kept[2]
    if version is None:
        fresh = uuid.uuid4().hex
        version = fresh if cache.add(key, fresh, timeout=VERSION_SECONDS) else cache.get(key)
    info = _load(session_id)
    if info is not None and version is not None:
        if len(_memo) >= MEMO_SIZE:
            _memo.clear()
        _memo[session_id] = (version, now, info)
    return info


def _load(session_id: int) -> SessionInfo | None:
    from tickets.models import PriceTier, Session, SessionSeat, TicketType

    row = (Session.objects.filter(pk=session_id)
           .values_list("event_id", "event__title", "event__status", "event__publisher_id",
                        "event__real_name_required", "event__one_ticket_per_id", "seating", "cancelled_at", "start_time", "sales_start",
                        "sales_end", "waiting_room", "admit_per_second").first())
    if row is None:
        return None
    (event_id, title, status, publisher_id, real_name, one_per_id, seating, cancelled_at, start, sales_start, sales_end,
     waiting_room, admit_per_second) = row
    tiers: dict[int, list] = {}
    for tier in PriceTier.objects.filter(ticket_type__event_id=event_id):
        tiers.setdefault(tier.ticket_type_id, []).append(tier)
    types = {t.pk: TicketTypeInfo(t.pk, t.name, t.base_price, t.per_user_limit, t.colour, tuple(tiers.get(t.pk, ())),
                                  t.hidden)
             for t in TicketType.objects.filter(event_id=event_id)}
    seats = {seat_id: (tt, section, row_, number) for seat_id, tt, section, row_, number in
             SessionSeat.objects.filter(session_id=session_id)
             .values_list("seat_id", "ticket_type_id", "seat__section", "seat__row", "seat__number")}
    return SessionInfo(id=session_id, event_id=event_id, event_title=title, event_status=status,
                       publisher_id=publisher_id, real_name_required=real_name,
                       one_ticket_per_id=real_name and one_per_id, seated=seating == "seated",
                       cancelled=cancelled_at is not None or status == EventStatus.CANCELLED,
                       start_time=start, sales_start=sales_start, sales_end=sales_end, ticket_types=types,
                       seats=seats, waiting_room=waiting_room, admit_per_second=admit_per_second)


def forget_event(event_id: int) -> None:
    """Every process reads this event's sessions again: this one at once, the others once the write commits."""
    from tickets.models import Session

    ids = list(Session.objects.filter(event_id=event_id).values_list("pk", flat=True))

    def drop():
        cache.delete_many([_version_key(i) for i in ids])
        for i in ids:
            _memo.pop(i, None)

    for i in ids:
        _memo.pop(i, None)
    transaction.on_commit(drop)


def forget_all() -> None:
    """This process's copies (tests that change rows behind the ORM's back)."""
    _memo.clear()


def event_id_of(instance) -> int | None:
    """The event a catalogue row belongs to (for the signal handlers)."""
    if isinstance(instance, Event):
        return instance.pk
    if getattr(instance, "event_id", None):
        return instance.event_id
    ticket_type = getattr(instance, "ticket_type", None)  # a price tier
    if ticket_type is not None:
        return ticket_type.event_id
    seat_map = getattr(instance, "seat_map", None)  # a seat
    return seat_map.event_id if seat_map is not None else None
