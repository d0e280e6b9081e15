"""What orders tell the publisher's webhooks (webhooks.services): the payloads of order.paid,
order.refunded, ticket.checked_in, ticket.transferred and session.sold_out, keyed so that each
happening reaches each endpoint once. Buyers appear by id only; attendee names are sent for
real-name events, whose organiser checks them at the door anyway."""

from orders.models import Order, Refund, Ticket
from tickets import selectors as inventory_reads
from webhooks import services as webhooks
from webhooks.models import WebhookKind


def _ticket(ticket: Ticket) -> dict:
    return {"id": ticket.pk, "session": ticket.session_id, "ticket_type": ticket.ticket_type_id,
            "ticket_type_name": ticket.ticket_type.name, "seat": {"section": ticket.seat.section, "row": ticket.seat.row, "number": ticket.seat.number}
            if ticket.seat_id else None,
            "price": str(ticket.price), "status": ticket.status, "attendee_name": ticket.attendee_name}


def _order(order: Order) -> dict:
    tickets = order.tickets.select_related("ticket_type", "seat").order_by("pk")
    return {"order": {"id": order.pk, "number": order.number, "status": order.status, "total": str(order.total),
                      "buyer": order.user_id, "paid_at": order.paid_at.isoformat() if order.paid_at else None},
            "tickets": [_ticket(t) for t in tickets]}


def order_paid(order: Order) -> None:
    """After a payment commits (the orders.paid outbox handler): order.paid, and session.sold_out for each
    of its sessions that this order sold out (once per session)."""
    kinds = webhooks.listening(order.event_id)
    if WebhookKind.ORDER_PAID in kinds:
        webhooks.emit(kind=WebhookKind.ORDER_PAID, event=order.event_id, key=f"order.paid:{order.pk}",
                      data=_order(order))
    if WebhookKind.SESSION_SOLD_OUT in kinds:
        sessions = set(order.tickets.values_list("session_id", flat=True))
        for session_id in inventory_reads.sessions_sold_out(sessions):
            webhooks.emit(kind=WebhookKind.SESSION_SOLD_OUT, event=order.event_id,
                          key=f"session.sold_out:{session_id}", data={"session": session_id})


def order_refunded(order: Order, refund: Refund) -> None:
    """Inside the refund's transaction, once its tickets are void."""
    if WebhookKind.ORDER_REFUNDED in webhooks.listening(order.event_id):
        data = _order(order)
        data["refund"] = {"id": refund.pk, "amount": str(refund.amount), "fee": str(refund.fee),
                          "cause": refund.cause}
        webhooks.emit_later(kind=WebhookKind.ORDER_REFUNDED, event_id=order.event_id,
                            key=f"order.refunded:{order.pk}", data=data)


def ticket_checked_in(ticket: Ticket, *, at, gate: str = "") -> None:
    """Inside the check-in's transaction."""
    if WebhookKind.TICKET_CHECKED_IN in webhooks.listening(ticket.event_id):
        data = {"ticket": _ticket(ticket) | {"status": "used"}, "at": at.isoformat(), "gate": gate}
        webhooks.emit_later(kind=WebhookKind.TICKET_CHECKED_IN, event_id=ticket.event_id,
                            key=f"ticket.checked_in:{ticket.pk}", data=data)


def ticket_transferred(ticket: Ticket, *, transfer_id: int, from_user: int, to_user: int, at) -> None:
    """Inside the transfer's transaction: the ticket has a new holder (and a new code)."""
    if WebhookKind.TICKET_TRANSFERRED in webhooks.listening(ticket.event_id):
        data = {"ticket": _ticket(ticket), "transfer": transfer_id, "from_buyer": from_user, "to_buyer": to_user,
                "at": at.isoformat()}
        webhooks.emit_later(kind=WebhookKind.TICKET_TRANSFERRED, event_id=ticket.event_id,
                            key=f"ticket.transferred:{transfer_id}", data=data)
