"""The order-detail JSON of a hot step (create, pay), built from what the step wrote: no query.

Byte for byte what orders.serializers.OrderDetailSerializer makes of the same
order read back from the database (tests/orders/test_hot_path.py compares
them); a Checkout without lines (a retry answered from an earlier payment)
is read back and serialized the slow way.
"""

from rest_framework import serializers

from orders import codes
from orders.models import TicketStatus
from orders.serializers import OrderDetailSerializer

_time = serializers.DateTimeField()
_money = serializers.DecimalField(max_digits=12, decimal_places=2)


def _when(value):
    return _time.to_representation(value) if value is not None else None


def order_detail(checkout) -> dict:
    if checkout.lines is None:
        from orders.selectors import order_with_details

        return OrderDetailSerializer(order_with_details(checkout.order.pk)).data
    order = checkout.order
    infos = {item.hold.session_id: info for item, info in checkout.lines}
    title = next(iter(infos.values())).event_title if infos else ""
    lines = [{"hold_item": item.pk, "session": item.hold.session_id,
              "ticket_type": info.ticket_types[item.ticket_type_id].name,
              "seat": info.seat_label(item.seat_id) if item.seat_id else None,
              "quantity": item.quantity, "unit_price": _money.to_representation(item.unit_price)}
             for item, info in checkout.lines]
    tickets = []
    for ticket in checkout.tickets:
        info = infos[ticket.session_id]
        tickets.append({
            "id": ticket.pk, "order": order.pk, "event": order.event_id, "event_title": title,
            "session": ticket.session_id, "session_start": _when(info.start_time),
            "ticket_type": ticket.ticket_type_id, "ticket_type_name": info.ticket_types[ticket.ticket_type_id].name,
            "seat": ticket.seat_id, "seat_label": info.seat_label(ticket.seat_id) if ticket.seat_id else None,
            "price": _money.to_representation(ticket.price), "status": ticket.status or TicketStatus.VALID,
            "code": ticket.code, "short_code": codes.short_code_display(ticket.short_code), "given_away": False, "attendee_name": ticket.attendee_name,
            "attendee_id_masked": ticket.attendee_id_masked, "checked_in_at": None})
    payments = []
    if checkout.payment is not None:
        p = checkout.payment
        payments.append({"id": p.pk, "order": order.pk, "amount": _money.to_representation(p.amount),
                         "method": p.method, "provider": p.provider, "transaction_id": p.transaction_id,
                         "created_at": _when(p.created_at)})
    return {"id": order.pk, "number": order.number, "event": order.event_id, "event_title": title,
            "status": order.shown_status, "total": _money.to_representation(order.total),
            "discount": _money.to_representation(order.discount or 0), "promo_code": order.promo_code_id,
            "expires_at": _when(order.expires_at), "created_at": _when(order.created_at),
            "paid_at": _when(order.paid_at), "lines": lines, "tickets": tickets, "payments": payments,
            "refunds": []}
