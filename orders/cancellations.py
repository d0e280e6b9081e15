"""Refunds that follow a cancelled session (or event: its sessions to come are cancelled with it).

Every open order of a cancelled session is closed once, each in a transaction of its own that locks the
order row first: a pending one is cancelled (its tickets freed), a paid one refunded in full (no fee,
whatever the policy; a refund the buyer had asked for is approved in full), and the buyer is told.
The tickets go void, so the door refuses them. An order with a ticket already used is left as it is.

The cancellation hands the work to a worker through the outbox (`orders.cancellation`, after commit),
and beat's sweep (`cancellation_refunds_due`, every minute) finds whatever a crash or an outage left:
running either again, or both at once, refunds nothing twice (the order's status moves by conditional
updates under its lock, and the ledger's once keys refuse a second refund).
"""

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.notifications import notify
from orders.models import Order, OrderStatus, Refund, RefundCause, RefundStatus, TicketStatus
from orders.services import _hold_ids, order_refund_money, release_promo
from ticketing.outbox import outbox_add, outbox_handler
from tickets import services as inventory
from tickets.signals import sessions_cancelled

log = logging.getLogger(__name__)
S = OrderStatus
HANDLER = "orders.cancellation"
OPEN = (S.PENDING, S.PAID, S.REFUND_REQUESTED)
BATCH = 200


def _open_orders():
    """Open orders of cancelled sessions, none of whose tickets was used."""
    return (Order.objects.filter(status__in=OPEN, order_holds__hold__session__cancelled_at__isnull=False)
            .exclude(tickets__status=TicketStatus.USED))


def cancellation_refunds(*, event_id: int | None = None, session_ids: list[int] | None = None) -> int:
    """Closes every open order of these cancelled sessions (or of the event's cancelled ones); returns how
    many it closed. Idempotent and resumable."""
    orders = _open_orders()
    if event_id is not None:
        orders = orders.filter(event_id=event_id)
    if session_ids is not None:
        orders = orders.filter(order_holds__hold__session_id__in=session_ids)
    closed, last = 0, 0
    while ids := list(orders.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True).distinct()[:BATCH]):
        closed += sum(order_close_for_cancellation(order_id=pk) for pk in ids)
        last = ids[-1]
    return closed


def cancellation_refunds_due(*, limit: int = BATCH) -> int:
    """Beat: whatever the cancellations' own runs left open (a worker died, the broker was down)."""
    ids = list(_open_orders().order_by("pk").values_list("pk", flat=True).distinct()[:limit])
    return sum(order_close_for_cancellation(order_id=pk) for pk in ids)


def order_close_for_cancellation(*, order_id: int) -> bool:
    """One order of a cancelled session: cancelled if pending, refunded in full if paid or asked back.
    False if there was nothing (more) to do."""
    now = timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("event", "user").filter(pk=order_id).first()
        if order is None or order.status not in OPEN or order.tickets.filter(status=TicketStatus.USED).exists():
            return False
        session = (order.order_holds.values_list("hold__session__cancelled_at", "hold__session__cancel_reason")
                   .filter(hold__session__cancelled_at__isnull=False).first())
        if session is None:
            return False
        reason = session[1] or str(_("Cancelled by the organiser."))
        if order.status == S.PENDING:
            if not Order.objects.filter(pk=order.pk, status=S.PENDING).update(status=S.CANCELLED, closed_at=now):
                return False
            inventory.holds_release(hold_ids=_hold_ids(order))
            release_promo(order)
            notify(users=[order.user], kind="order_cancelled", url=reverse("orders:detail", args=[order.pk]),
                   title=_("Order %(number)s cancelled: the session was cancelled"), body=_("Reason: %(reason)s"),
                   params={"number": order.number, "reason": reason}, email=False)
            return True
        full = {"status": RefundStatus.APPROVED, "amount": order.total, "fee": 0, "cause": RefundCause.CANCELLATION,
                "reviewed_at": now, "review_reason": reason[:2000]}
        refund = order.refunds.filter(status=RefundStatus.REQUESTED).first()
        if refund is not None:  # the buyer had asked: approved, in full
            Refund.objects.filter(pk=refund.pk, status=RefundStatus.REQUESTED).update(**full)
            refund.refresh_from_db()
        else:
            refund = Refund.objects.create(order=order, user_id=order.user_id, reason=reason[:2000], **full)
        if not Order.objects.filter(pk=order.pk, status=order.status).update(status=S.REFUNDED, closed_at=now):
            return False
        order_refund_money(order=order, refund=refund, actor=None, reason=str(_("Session cancelled")))
        notify(users=[order.user], kind="refund_cancellation", url=reverse("orders:detail", args=[order.pk]),
               title=_("The session of order %(number)s was cancelled: refunded in full"),
               body=_("%(amount)s points back. Reason: %(reason)s"),
               params={"number": order.number, "amount": order.total, "reason": reason})
        given = User.objects.filter(tickets__order=order).exclude(pk=order.user_id).distinct()
        if given:  # tickets of the order given to others (orders.transfers): void now, the buyer got the money
            notify(users=list(given), kind="ticket_cancelled", url=reverse("orders:tickets"),
                   title=_("Your ticket for %(event)s is void: the session was cancelled"),
                   body=_("The person who bought it has been refunded. Reason: %(reason)s"),
                   params={"event": order.event.title, "reason": reason})
    return True


@outbox_handler(HANDLER)
def _deliver(*, event: int | None = None, sessions: list[int] | None = None) -> None:
    closed = cancellation_refunds(event_id=event, session_ids=sessions)
    log.info("cancellation of event %s / sessions %s: %d orders closed", event, sessions, closed)


def _on_sessions_cancelled(sender, event_id: int, session_ids: list[int], reason: str, **kwargs) -> None:
    outbox_add(handler=HANDLER, payload={"sessions": list(session_ids)})


def connect() -> None:
    """orders.apps: refunds follow every cancellation, in the cancelling transaction's outbox."""
    sessions_cancelled.connect(_on_sessions_cancelled, weak=False, dispatch_uid="orders-cancellation-refunds")

