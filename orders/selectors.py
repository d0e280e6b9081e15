"""Reads of orders, wallets and tickets. A pending order past its deadline reads as expired everywhere."""

from datetime import datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from events.models import Event
from orders import codes
from orders.models import (
    CheckinConflict, EventStaff, Order, OrderHold, OrderStatus, Refund, RefundStatus, SavedAttendee, Ticket, TicketStatus,
    TicketTransfer, TransferStatus, WaitlistEntry, WaitStatus, Wallet,
)
from tickets.models import HoldItem, Session

# Doors open this long before a session starts, even when that is still the day before (a 00:30 show).
DOORS_OPEN_BEFORE = timedelta(hours=4)


def hold_in_open_order(hold_id: int) -> bool:
    """True while a pending, unexpired order (or a paid one) carries this hold."""
    return (OrderHold.objects.filter(hold_id=hold_id)
            .exclude(order__status__in=[OrderStatus.EXPIRED, OrderStatus.CANCELLED])
            .exclude(order__status=OrderStatus.PENDING, order__expires_at__lte=timezone.now())
            .exists())


def orders_of(user):
    """The buyer's orders, newest first."""
    return Order.objects.filter(user=user).select_related("event").order_by("-created_at", "-pk")


def order_of(user, order_id: int) -> Order | None:
    """One of the buyer's own orders (None for anyone else's: callers answer 404)."""
    return Order.objects.filter(pk=order_id, user=user).select_related("event").first()


def order_with_details(order_id: int) -> Order:
    """An order with everything its detail shows, in a fixed number of queries (not one per ticket)."""
    tickets = Ticket.objects.select_related("event", "session", "ticket_type", "seat", "checkin").order_by("pk")
    return (Order.objects.select_related("event")
            .prefetch_related(Prefetch("tickets", queryset=tickets), "payments", "refunds").get(pk=order_id))


def order_lines(order: Order) -> list[HoldItem]:
    """What the order is for, at the held prices (before payment the holds, after it the same items)."""
    return list(HoldItem.objects.filter(hold__order_hold__order=order)
                .select_related("ticket_type", "seat", "hold__session").order_by("hold__session__start_time", "pk"))


def tickets_of(user):
    """The tickets the user holds: bought, or given to them (orders.transfers)."""
    return (Ticket.objects.filter(user=user).select_related("event", "session", "ticket_type", "seat", "checkin",
                                                            "order")
            .order_by("-session__start_time", "pk"))


def ticket_of(user, ticket_id: int) -> Ticket | None:
    return tickets_of(user).filter(pk=ticket_id).first()


def transfers_of(user) -> tuple[list[TicketTransfer], list[TicketTransfer]]:
    """(offers waiting for this user, soonest session first; the latest 50 transfers they made or got)."""
    now = timezone.now()
    related = ("ticket__event", "ticket__session", "ticket__ticket_type", "ticket__seat", "from_user", "to_user")
    incoming = list(TicketTransfer.objects.filter(to_user=user, status=TransferStatus.PENDING, expires_at__gt=now)
                    .select_related(*related).order_by("ticket__session__start_time", "pk"))
    history = list(TicketTransfer.objects.filter(Q(from_user=user) | Q(to_user=user))
                   .exclude(pk__in=[t.pk for t in incoming]).select_related(*related).order_by("-created_at", "-pk")[:50])
    return incoming, history


def _place():
    """A waiting entry's place in its line (1 = next), as an annotation: one query for any number of them."""
    ahead = (WaitlistEntry.objects.filter(session_id=OuterRef("session_id"), ticket_type_id=OuterRef("ticket_type_id"),
                                          status=WaitStatus.WAITING)
             .filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))
             .order_by().values("ticket_type_id").annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(ahead), 0) + 1


def place_in_line(entry: WaitlistEntry) -> int:
    return WaitlistEntry.objects.filter(pk=entry.pk).annotate(place=_place()).values_list("place", flat=True).get()


def waitlist_of(user, *, session_id: int | None = None) -> list[WaitlistEntry]:
    """The user's waiting-list entries (those still waiting carry `place`, 1 = next), soonest session first."""
    entries = WaitlistEntry.objects.filter(user=user).select_related(
        "session__event", "ticket_type", "hold", "order").annotate(line_place=_place()).order_by(
        "-live", "session__start_time", "-created_at")
    if session_id is not None:
        entries = entries.filter(session_id=session_id, status=WaitStatus.WAITING)
    entries = list(entries[:100])
    for entry in entries:
        entry.place = entry.line_place if entry.status == WaitStatus.WAITING else None
    return entries


def wallet_entries(wallet: Wallet):
    return wallet.entries.select_related("order", "actor").order_by("-created_at", "-pk")


def refund_queue():
    return (Refund.objects.filter(status=RefundStatus.REQUESTED).select_related("order__event", "user")
            .prefetch_related("order__payments").order_by("created_at", "pk"))


def orders_for_publisher(publisher, *, event: Event | None = None):
    """Orders of the publisher's events (paid, used, refunding, refunded: those that sold tickets)."""
    orders = Order.objects.filter(event__publisher=publisher).exclude(
        status__in=[OrderStatus.EXPIRED, OrderStatus.CANCELLED, OrderStatus.PENDING])
    if event is not None:
        orders = orders.filter(event=event)
    return orders.select_related("event", "user").prefetch_related("tickets__ticket_type", "tickets__seat",
                                                                   "tickets__session").order_by("-paid_at", "-pk")


def checkin_counts(event: Event) -> list[dict]:
    """Per session: tickets checked in / tickets valid or used."""
    rows = (Ticket.objects.filter(event=event, status__in=[TicketStatus.VALID, TicketStatus.USED])
            .values("session_id", "session__start_time", "session__name")
            .annotate(total=Count("pk"), checked_in=Count("pk", filter=Q(status=TicketStatus.USED)))
            .order_by("session__start_time"))
    return [{"session": r["session_id"], "start_time": r["session__start_time"], "name": r["session__name"],
             "total": r["total"], "checked_in": r["checked_in"]} for r in rows]


def door_day_ends(now: datetime) -> datetime:
    """Sessions starting before this are today's at the door: the next local midnight, or later while
    doors open early. (A session that started yesterday and is still running is today's too.)"""
    tomorrow = timezone.localdate(now) + timedelta(days=1)
    midnight = timezone.make_aware(datetime.combine(tomorrow, time.min))
    return max(midnight, now + DOORS_OPEN_BEFORE)


def session_at_the_door(session: Session, now: datetime | None = None) -> bool:
    """Whether the door admits this session's tickets now: from its local day (or doors open) until it ends."""
    now = now or timezone.now()
    return session.start_time < door_day_ends(now) and session.end_time > now


def door_admits_from(session: Session) -> datetime:
    """The first moment the door admits this session's tickets (`session_at_the_door` from then until it ends):
    its local day's midnight, or DOORS_OPEN_BEFORE its start if that is earlier. What offline scanners use."""
    day_starts = timezone.make_aware(datetime.combine(timezone.localdate(session.start_time), time.min))
    return min(day_starts, session.start_time - DOORS_OPEN_BEFORE)


def door_sessions(event: Event) -> list[dict]:
    """The event's sessions with the window in which the door admits each (for scanners offline)."""
    return [{"id": s.pk, "name": s.name, "label": str(s), "start_time": s.start_time, "end_time": s.end_time,
             "admits_from": door_admits_from(s), "cancelled": s.cancelled_at is not None}
            for s in Session.objects.filter(event=event).order_by("start_time", "pk")]


def session_ticket_list(session: Session) -> list[dict]:
    """The session's live tickets as the door needs them offline, in one query: serial, short code, type,
    seat, attendee (real-name events) and when it was checked in, if it was."""
    rows = (Ticket.objects.filter(session=session, status__in=[TicketStatus.VALID, TicketStatus.USED])
            .values_list("code", "short_code", "status", "ticket_type__name", "seat__section", "seat__row",
                         "seat__number", "attendee_name", "attendee_id_masked", "checkin__at")
            .order_by("pk"))
    seat = _("%(section)s row %(row)s seat %(number)s")
    return [{"serial": codes.serial(code), "short_code": short, "type": type_name,
             "seat": seat % {"section": section, "row": row, "number": number} if section is not None else "",
             "attendee_name": name, "attendee_id_masked": masked,
             "checked_in_at": checked_in_at if status == TicketStatus.USED else None}
            for code, short, status, type_name, section, row, number, name, masked, checked_in_at in rows]


def checkin_conflicts(event: Event):
    """The event's check-in conflicts, newest first, with the two admissions' who, where and when."""
    return (CheckinConflict.objects.filter(event=event)
            .select_related("ticket__ticket_type", "ticket__seat", "ticket__session", "scan__by", "checkin__by")
            .order_by("-created_at", "-pk"))


def events_for_checkin(user, *, query: str = "", today_only: bool = False):
    """Events this user may check tickets in for (their own for publishers, those they staff, all for admins)
    with a session still to come: those with a session at the door today first (`at_door_today`), then by
    their next session (`next_session`). `query` matches title, venue or city."""
    now = timezone.now()
    events = Event.objects.all()
    if user.role != Role.ADMIN:
        events = events.filter(Q(publisher=user) | Q(pk__in=EventStaff.objects.filter(user=user).values("event_id")))
    upcoming = Session.objects.filter(event=OuterRef("pk"), end_time__gt=now)
    events = events.annotate(
        at_door_today=Exists(upcoming.filter(start_time__lt=door_day_ends(now))),
        next_session=Subquery(upcoming.order_by("start_time").values("start_time")[:1]),
    ).filter(next_session__isnull=False)
    query = (query or "").strip()
    if query:
        events = events.filter(Q(title__icontains=query) | Q(venue__icontains=query) | Q(city__icontains=query))
    if today_only:
        events = events.filter(at_door_today=True)
    return events.order_by("-at_door_today", "next_session", "pk")


def saved_attendees_of(user) -> list[SavedAttendee]:
    """The buyer's saved attendees (常用观演人), by name."""
    return list(SavedAttendee.objects.filter(user=user))
