"""Waiting lists (候补) for sold-out ticket types: general admission, and the seats of a type (a section).

A buyer joins the line of a session's ticket type for 1 to its limit of tickets when what is on open sale
(available less what the line already waits for) cannot give them that many; they see their place and may
leave. Optionally pre-paid: the price now is taken from the wallet on joining (a `deposit` ledger row).

Tickets that come back (a hold lapses or is let go, an order expires or is cancelled, a refund is approved)
go to the line first: the open sale may take only `available - waiting` (tickets.services._take_stock), and
no seat of a type anyone waits for (tickets.services: the seat hold's own UPDATE excludes them), and
`waitlist_offer` gives the next entries, in order of joining, a hold in their name for WAITLIST_OFFER_MINUTES
(only they can order it), with an in-app notification, a websocket push and an email. A pre-paid entry is
fulfilled at once: its order is paid from the deposit and its e-tickets issued. The line is strict: an entry
that wants more than has come back waits, and those behind it too. An offer that lapses returns its tickets
and the next in line gets them. When the session starts, whoever is still waiting is told, and a deposit
comes back in full (`waitlist_close_due`, beat).

Every move holds the line's lock (general admission: the stock row every hold of the type updates; seated:
the session's row, seats being taken by conditional updates), so two processes offering at once offer each
ticket once and each entry once, and nothing is both offered and on open sale. Locks are taken as
everywhere else: the buyer's row, the wallet, then the stock row (or the session's).
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.notifications import notify
from orders import services
from orders.models import (
    LedgerKind, Order, OrderHold, OrderStatus, Payment, PaymentMethod, WaitlistEntry, WaitStatus, Wallet,
)
from ticketing.errors import Conflict, DomainError, NotFound
from ticketing.outbox import outbox_handler
from tickets import services as inventory
from tickets.models import SeatStatus, Session, SessionSeat, Stock

log = logging.getLogger(__name__)
W = WaitStatus


class NotSoldOut(Conflict):
    code = "not_sold_out"
    default_message = _("These tickets are on sale: hold them instead of waiting.")


def _info(user, session_id: int, ticket_type_id: int):
    info = inventory.catalogue.session_info(session_id)
    if info is None or not info.visible_to(user):
        raise NotFound(_("No such session."))
    tt = info.ticket_types.get(ticket_type_id)
    sold_here = (any(seat[0] == ticket_type_id for seat in info.seats.values()) if info.seated
                 else Stock.objects.filter(session_id=session_id, ticket_type_id=ticket_type_id).exists())
    if tt is None or tt.hidden or not sold_here:
        raise DomainError(_("No such ticket type in this session."), code="waitlist_not_here")
    if not info.sales_open(timezone.now()):
        raise inventory.SalesClosed()
    return info, tt


def waitlist_join(*, user: User, session_id: int, ticket_type_id: int, quantity: int,
                  prepaid: bool = False) -> WaitlistEntry:
    """Puts the buyer in line for `quantity` tickets (their limit per buyer counts them). Pre-paid: the price
    now times the quantity is taken from the wallet. NotSoldOut while enough is on open sale; Conflict if
    they are in this line already; OverLimit, InsufficientPoints; each changes nothing."""
    info, tt = _info(user, session_id, ticket_type_id)
    if not 1 <= quantity <= tt.per_user_limit:
        raise DomainError(_("Wait for 1 to %(max)d tickets.") % {"max": tt.per_user_limit}, code="waitlist_quantity")
    if prepaid and info.real_name_required:
        raise DomainError(_("Real-name tickets cannot be pre-paid: each names its attendee at checkout."),
                          code="waitlist_prepaid_real_name")
    now = timezone.now()
    unit = inventory.price_now(info, ticket_type_id, now) if prepaid else Decimal("0")
    wallet = services.wallet_ensure(user=user) if prepaid else None
    with transaction.atomic():
        # Locks as everywhere: the buyer's row, the wallet's, the line's; only then the entry's.
        held = inventory.buyer_lock_and_count(user_id=user.pk, session_id=session_id, ticket_type_id=ticket_type_id)
        if held + quantity > tt.per_user_limit:
            raise inventory.OverLimit(limit=tt.per_user_limit, name=tt.name)
        if wallet is not None:
            Wallet.objects.select_for_update().filter(pk=wallet.pk).first()
        stock = _line_lock(info, ticket_type_id)
        if _open(info, ticket_type_id, stock) >= quantity:
            raise NotSoldOut()
        try:
            with transaction.atomic():
                entry = WaitlistEntry.objects.create(session_id=session_id, ticket_type_id=ticket_type_id,
                                                     user=user, quantity=quantity, unit_price=unit,
                                                     deposit=unit * quantity)
        except IntegrityError:
            raise Conflict(_("You are in this waiting list already."), code="waitlist_joined") from None
        if entry.deposit:
            services._ledger(wallet.pk, LedgerKind.DEPOSIT, -entry.deposit, once_key=f"deposit:{entry.pk}",
                             reason=str(_("Waiting list, %(event)s") % {"event": info.event_title}))
        if stock is not None:
            Stock.objects.filter(pk=stock.pk).update(waiting=F("waiting") + quantity)
        transaction.on_commit(lambda: _after_join(session_id, ticket_type_id))
    entry.refresh_from_db()
    return entry


def _after_join(session_id: int, ticket_type_id: int) -> None:
    # What the open sale may take has changed for everyone who looks (stock snapshots, open seat maps).
    inventory.broadcast_changes(session_id, [inventory.SeatChange(ticket_type=ticket_type_id)])
    waitlist_offer(session_id=session_id, ticket_type_id=ticket_type_id)


def _line_lock(info, ticket_type_id: int, *, reclaim: bool = True) -> Stock | None:
    """Inside a transaction: the lock a line moves under. General admission: the type's stock row (which every
    hold of it updates), returned; seated: the session's row (seats are taken by conditional updates)."""
    if not info.seated:
        return inventory.stock_lock(session_id=info.id, ticket_type_id=ticket_type_id, reclaim=reclaim)
    Session.objects.select_for_update().filter(pk=info.id).first()
    return None


def _open(info, ticket_type_id: int, stock: Stock | None) -> int:
    """How many of the type the open sale could still sell now (what is free, less what the line waits for)."""
    if stock is not None:
        return stock.available - stock.waiting
    now = timezone.now()
    free = (SessionSeat.objects.filter(session_id=info.id, ticket_type_id=ticket_type_id)
            .filter(Q(status=SeatStatus.FREE) | Q(status=SeatStatus.HELD, held_until__lte=now)).count())
    waiting = (WaitlistEntry.objects.filter(session_id=info.id, ticket_type_id=ticket_type_id, status=W.WAITING)
               .aggregate(n=Sum("quantity"))["n"] or 0)
    return free - waiting


def waitlist_leave(*, user: User, entry_id: int) -> WaitlistEntry:
    """The buyer leaves the line (a deposit comes back in full); those behind move up."""
    entry = WaitlistEntry.objects.filter(pk=entry_id, user=user).first()
    if entry is None:
        raise NotFound(_("No such waiting-list entry."))
    with transaction.atomic():
        if not _close(entry, W.LEFT):
            raise Conflict(_("You are no longer waiting in this line."), code="waitlist_not_waiting")
    transaction.on_commit(lambda: waitlist_offer(session_id=entry.session_id, ticket_type_id=entry.ticket_type_id))
    entry.refresh_from_db()
    return entry


def _close(entry: WaitlistEntry, status: str) -> bool:
    """Inside a transaction: a waiting entry leaves the line (its deposit back); False if it was not waiting.
    The wallet's row first, then the stock's, then the entry's: the order every writer keeps."""
    wallet = Wallet.objects.select_for_update().filter(user_id=entry.user_id).first() if entry.deposit else None
    info = inventory.catalogue.session_info(entry.session_id)
    stock = _line_lock(info, entry.ticket_type_id, reclaim=False)
    if not WaitlistEntry.objects.filter(pk=entry.pk, status=W.WAITING).update(
            status=status, live=None, closed_at=timezone.now()):
        return False
    if stock is not None:
        Stock.objects.filter(pk=stock.pk).update(waiting=F("waiting") - entry.quantity)
    if entry.deposit:
        services._ledger(wallet.pk, LedgerKind.REFUND, entry.deposit, once_key=f"deposit-back:{entry.pk}",
                         reason=str(_("Waiting list deposit back")))
    return True


def waitlist_offer(*, session_id: int, ticket_type_id: int) -> int:
    """Offers what has come back to the line, in order; returns how many entries got an offer. Safe to run
    any time, anywhere, as often as asked (each entry and each ticket is offered once)."""
    if not WaitlistEntry.objects.filter(session_id=session_id, ticket_type_id=ticket_type_id,
                                        status=W.WAITING).exists():
        return 0
    now = timezone.now()
    info = inventory.catalogue.session_info(session_id)
    if info is None or not info.sales_open(now):
        return 0
    offered = []
    with transaction.atomic():
        stock = _line_lock(info, ticket_type_id)
        free = stock.available if stock is not None else None
        entries = (WaitlistEntry.objects.select_for_update().filter(
            session_id=session_id, ticket_type_id=ticket_type_id, status=W.WAITING).order_by("created_at", "pk"))
        for entry in entries:
            until = now + timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)
            price = entry.unit_price if entry.deposit else None
            if stock is None:  # seated: the first free seats of the type, if there are enough
                hold = inventory.hold_seats_for_waitlist(user_id=entry.user_id, info=info,
                                                         ticket_type_id=ticket_type_id, quantity=entry.quantity,
                                                         until=until, unit_price=price)
            elif entry.quantity <= free:
                hold = inventory.hold_for_waitlist(user_id=entry.user_id, info=info, ticket_type_id=ticket_type_id,
                                                   quantity=entry.quantity, until=until, unit_price=price)
                free -= entry.quantity
            else:
                hold = None
            if hold is None:
                break  # the line is strict: who wants more waits, and so does everyone behind them
            order = _fulfil_prepaid(entry, hold, info) if entry.deposit else None
            WaitlistEntry.objects.filter(pk=entry.pk, status=W.WAITING).update(
                status=W.OFFERED, live=None, hold=hold, order=order, offered_at=now)
            offered.append((entry, hold, order))
        users = User.objects.in_bulk([entry.user_id for entry, _hold, _order in offered])
        for entry, hold, order in offered:
            _tell_offered(entry, hold, order, info, users[entry.user_id])
    if offered:
        inventory.broadcast_changes(session_id, [inventory.SeatChange(ticket_type=ticket_type_id)])
    return len(offered)


def _fulfil_prepaid(entry: WaitlistEntry, hold, info) -> Order:
    """In the offer's transaction: the order of the offered hold, paid from the deposit, its tickets issued."""
    order = Order.objects.create(user_id=entry.user_id, event_id=info.event_id, total=entry.deposit,
                                 expires_at=hold.expires_at, status=OrderStatus.PAID, paid_at=timezone.now())
    OrderHold.objects.create(order=order, hold=hold)
    Payment.objects.create(order=order, user_id=entry.user_id, amount=entry.deposit, method=PaymentMethod.POINTS,
                           idempotency_key=f"waitlist:{entry.pk}")
    items = list(hold.items.select_related("hold"))
    services._fulfil(order, items, {info.id: info}, {})
    return order


def _tell_offered(entry, hold, order, info, user: User) -> None:
    if order is not None:
        notify(users=[user], kind="waitlist_fulfilled", url=reverse("orders:detail", args=[order.pk]),
               title=_("Tickets came back for you: %(event)s"),
               body=_("Your pre-paid waiting list got %(count)s tickets; the e-tickets are on the order page."),
               params={"event": info.event_title, "count": entry.quantity})
        return
    notify(users=[user], kind="waitlist_offer", url=reverse("tickets:session", args=[entry.session_id]),
           title=_("Tickets came back for you: %(event)s"),
           body=_("%(count)s tickets are held in your name until %(until)s: order and pay before then, or they "
                  "go to the next in line."),
           params={"event": info.event_title, "count": entry.quantity,
                   "until": formats.date_format(timezone.localtime(hold.expires_at), "DATETIME_FORMAT")})


def waitlist_close_due(*, now=None) -> int:
    """Beat: lines whose session has started (or whose sales closed) end; each buyer still waiting is told,
    and a deposit comes back in full. Returns how many entries it closed."""
    now = now or timezone.now()
    due = list(WaitlistEntry.objects.filter(status=W.WAITING).filter(
        Q(session__start_time__lte=now) | Q(session__sales_end__lte=now) | Q(session__cancelled_at__isnull=False))
        .select_related("session__event", "user")[:500])
    closed = 0
    for entry in due:
        with transaction.atomic():
            if not _close(entry, W.CLOSED):
                continue
            closed += 1
            body = (_("No tickets came back before the session; your %(deposit)s points are back in your wallet.")
                    if entry.deposit else _("No tickets came back before the session."))
            notify(users=[entry.user], kind="waitlist_closed", url=reverse("orders:waitlist"),
                   title=_("The waiting list for %(event)s has closed"), body=body,
                   params={"event": entry.session.event.title, "deposit": entry.deposit})
    return closed


def waitlist_offer_all() -> int:
    """Beat: every line with someone waiting gets whatever came back (what the outbox did not already do)."""
    pairs = (WaitlistEntry.objects.filter(status=W.WAITING).order_by().values_list("session_id", "ticket_type_id")
             .distinct()[:200])
    return sum(waitlist_offer(session_id=s, ticket_type_id=t) for s, t in pairs)


@outbox_handler("orders.waitlist")
def _came_back(*, session: int, types: list[int]) -> None:
    """After a hold of a type with a line ended (tickets.services._end_hold): offer what came back."""
    for ticket_type_id in types:
        waitlist_offer(session_id=session, ticket_type_id=ticket_type_id)
