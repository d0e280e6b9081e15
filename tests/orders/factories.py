"""Orders built through the services a buyer uses.

    order = pending_order(buyer, seats=2)                  # seated session, two seats held and ordered
    order = paid_order(buyer, seats=2)                     # … and paid with points: two e-tickets
    order = paid_order(buyer, ga={"Standard": 3})          # general admission, three tickets
    order = paid_order(buyer, seats=1, real_name=True)     # a real-name event, attendees given
"""

import itertools
import uuid
from datetime import timedelta

from django.utils import timezone

from accounts.models import Role
from orders import services
from orders.identity import check_digit
from orders.models import Order
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Hold
from tickets.services import hold_create


def real_name_event(**kwargs):
    start = timezone.now() + timedelta(days=7)
    return ApprovedEventFactory(publisher=UserFactory(role=Role.PUBLISHER), start_time=start,
                                end_time=start + timedelta(hours=3), real_name_required=True, **kwargs)


def held(buyer, *, seats: int = 0, ga: dict[str, int] | None = None, session=None, types=None,
         real_name: bool = False, price: object = 280) -> Hold:
    """A live hold of `seats` seats of a seated session, or of GA quantities by ticket type name."""
    event = real_name_event() if real_name and session is None else None
    if session is None:
        if ga:
            session, types = ga_session(event=event, stock={name: 100 for name in ga})
        else:
            session, types = seated_session(event=event, price=price)
    if ga:
        return hold_create(user=buyer, session=session, quantities={types[name].pk: n for name, n in ga.items()})
    return hold_create(user=buyer, session=session, seat_ids=seat_ids(session)[:seats or 1])


def pending_order(buyer=None, **hold_kwargs) -> Order:
    buyer = buyer or UserFactory()
    hold = held(buyer, **hold_kwargs)
    return services.order_create(user=buyer, hold_ids=[hold.pk])


_people = itertools.count(1)


def mainland_id(n: int | None = None) -> str:
    """A valid mainland ID number (born 1990-01-01, the right check character), a new one each call."""
    first = f"11010119900101{(next(_people) if n is None else n) % 1000:03d}"
    return first + check_digit(first)


def name_attendees(order: Order) -> None:
    from orders.selectors import order_lines

    attendees = [(item.pk, index, f"张三{item.pk}-{index}", mainland_id())
                 for item in order_lines(order) for index in range(item.quantity)]
    services.order_set_attendees(user=order.user, order=order, attendees=attendees)


def paid_order(buyer=None, **hold_kwargs) -> Order:
    order = pending_order(buyer, **hold_kwargs)
    if order.event.real_name_required:
        name_attendees(order)
    services.order_pay(user=order.user, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    order.refresh_from_db()
    return order
