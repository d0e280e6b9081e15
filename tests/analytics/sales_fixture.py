"""A small shop whose figures are computed by hand (shared by the stats, API and page tests).

Local days are Asia/Shanghai (UTC+8). D is five days ago.
  o1  P1's E1 (上海, category A): 2 × Standard (100) + 1 × VIP (300) = 500, paid D 23:30 local
  o2  P1's E1: 1 × Standard = 100, paid D+1 00:30 local (the next local day, the same UTC day as o1)
  o3  P2's E2 (北京, category B): 2 seats × 280 = 560, paid D+1 10:00 local, refund approved D+2 09:00
  o4  P1's E1: 1 × Standard, ordered, never paid (no sale; its hold is live)
By day: D 500 / 3 tickets / 1 order; D+1 660 / 3 / 2; D+2 refund 1 × 560.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Role, User
from events.models import Category, Event
from orders import services
from orders.models import Order, Refund
from tests.events.factories import ApprovedEventFactory, CategoryFactory
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Session
from tickets.services import hold_create


@dataclass
class Shop:
    day: date  # D
    admin: User
    p1: User
    p2: User
    e1: Event
    e2: Event
    s1: Session
    s2: Session
    cat_a: Category
    cat_b: Category
    orders: dict


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _pay(order: Order, at: datetime) -> Order:
    services.order_pay(user=order.user, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    Order.objects.filter(pk=order.pk).update(paid_at=at)
    order.refresh_from_db()
    return order


def build_shop() -> Shop:
    day = timezone.localdate() - timedelta(days=5)
    admin = UserFactory(role=Role.ADMIN, username="admin-stats")
    p1 = UserFactory(role=Role.PUBLISHER, username="pub-one", display_name="一号主办")
    p2 = UserFactory(role=Role.PUBLISHER, username="pub-two")
    cat_a, cat_b = CategoryFactory(name_en="Concerts", name_zh="演唱会"), CategoryFactory(name_en="Drama", name_zh="话剧")
    start = timezone.now() + timedelta(days=10)
    e1 = ApprovedEventFactory(publisher=p1, title="Spring Gala", city="上海", category=cat_a, start_time=start,
                              end_time=start + timedelta(hours=3))
    e2 = ApprovedEventFactory(publisher=p2, title="Hamlet", city="北京", category=cat_b, start_time=start,
                              end_time=start + timedelta(hours=3))
    s1, types = ga_session(event=e1, stock={"Standard": 100, "VIP": 10}, prices={"Standard": 100, "VIP": 300})
    s2, _seated_types = seated_session(event=e2, rows=2, seats=5, price=280)
    buyer_a, buyer_b, buyer_c = UserFactory(), UserFactory(), UserFactory()

    def ga(buyer, quantities):
        hold = hold_create(user=buyer, session=s1, quantities={types[n].pk: q for n, q in quantities.items()})
        return services.order_create(user=buyer, hold_ids=[hold.pk])

    o1 = _pay(ga(buyer_a, {"Standard": 2, "VIP": 1}), local(day, 23, 30))
    o2 = _pay(ga(buyer_b, {"Standard": 1}), local(day + timedelta(days=1), 0, 30))
    hold = hold_create(user=buyer_c, session=s2, seat_ids=seat_ids(s2)[:2])
    o3 = _pay(services.order_create(user=buyer_c, hold_ids=[hold.pk]), local(day + timedelta(days=1), 10))
    refund = services.refund_request(user=buyer_c, order_id=o3.pk, reason="不能去了")
    services.refund_review(actor=admin, refund_id=refund.pk, approve=True)
    Refund.objects.filter(pk=refund.pk).update(reviewed_at=local(day + timedelta(days=2), 9))
    o4 = ga(UserFactory(), {"Standard": 1})
    assert o1.total == Decimal("500") and o2.total == Decimal("100") and o3.total == Decimal("560")
    return Shop(day=day, admin=admin, p1=p1, p2=p2, e1=e1, e2=e2, s1=s1, s2=s2, cat_a=cat_a, cat_b=cat_b,
                orders={"o1": o1, "o2": o2, "o3": o3, "o4": o4})
