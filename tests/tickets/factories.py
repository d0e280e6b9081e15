"""Sessions on sale, built through the services a publisher uses.

    session, types = ga_session(stock={"Standard": 100})           # GA, approved event, on sale now
    session, types = seated_session(rows=2, seats=5)                # 10 seats, one "Standard" type
    seat_ids(session)                                               # map seat ids, row by row
"""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Role
from events.models import EventStatus
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tickets import services
from tickets.models import Seat, Session, TicketType


def _event(event=None, *, days: int = 7):
    if event is not None:
        return event
    start = timezone.now() + timedelta(days=days)
    return ApprovedEventFactory(publisher=UserFactory(role=Role.PUBLISHER), start_time=start,
                                end_time=start + timedelta(hours=3))


def ticket_types(event, prices: dict[str, object], **kwargs) -> dict[str, TicketType]:
    return {name: services.ticket_type_create(actor=event.publisher, event=event, name=name,
                                              base_price=Decimal(str(price)), **kwargs)
            for name, price in prices.items()}


def _session(event, **kwargs) -> Session:
    now = timezone.now()
    session = services.session_create(
        actor=event.publisher, event=event, start_time=event.start_time, end_time=event.end_time,
        sales_start=now - timedelta(hours=1), sales_end=event.start_time, hall="1号厅", **kwargs)
    return Session.objects.select_related("event", "seat_map").get(pk=session.pk)


def ga_session(*, event=None, stock: dict[str, int] | None = None, prices: dict[str, object] | None = None,
               per_user_limit: int = 6) -> tuple[Session, dict[str, TicketType]]:
    event = _event(event)
    stock = stock or {"Standard": 100}
    types = ticket_types(event, prices or {name: 100 for name in stock}, per_user_limit=per_user_limit)
    return _session(event, stock={types[name].pk: n for name, n in stock.items()}), types


def seated_session(*, event=None, rows: int = 2, seats: int = 5, price: object = 280,
                   per_user_limit: int = 6) -> tuple[Session, dict[str, TicketType]]:
    event = _event(event)
    types = ticket_types(event, {"Standard": price}, per_user_limit=per_user_limit)
    layout = {"stage": "舞台", "sections": [{"name": "A", "ticket_type": types["Standard"].pk, "rows": rows,
                                            "seats": seats, "first_row": "1"}]}
    seat_map = services.seat_map_create(actor=event.publisher, event=event, name="Hall", layout=layout)
    return _session(event, seat_map=seat_map), types


def seat_ids(session: Session) -> list[int]:
    return list(Seat.objects.filter(seat_map=session.seat_map).order_by("pk").values_list("pk", flat=True))


def draft(session: Session) -> None:
    session.event.status = EventStatus.DRAFT
    session.event.save(update_fields=["status"])
