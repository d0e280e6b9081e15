"""Reads of orders, wallets and tickets. A pending order past its deadline reads as expired everywhere."""

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from events.models import Event
from orders.models import Order, OrderHold, OrderStatus, Refund, RefundStatus, Ticket, TicketStatus, Wallet
from tickets.models import HoldItem


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
    return (Ticket.objects.filter(user=user).select_related("event", "session", "ticket_type", "seat", "checkin")
            .order_by("-session__start_time", "pk"))


def ticket_of(user, ticket_id: int) -> Ticket | None:
    return tickets_of(user).filter(pk=ticket_id).first()


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


def events_for_checkin(user):
    """Events this user may check tickets in for: their own (publishers), those they staff, all (admins)."""
    from accounts.models import Role

    events = Event.objects.all() if user.role == Role.ADMIN else Event.objects.filter(
        Q(publisher=user) | Q(staff__user=user)).distinct()
    return events.filter(sessions__end_time__gt=timezone.now()).distinct().order_by("start_time")
