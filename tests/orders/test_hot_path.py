"""The sale's hot steps over the API: how many statements each may send, and that answers built from
the write are exactly what the serializers make of the rows read back (issue 12)."""

import uuid
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.serializers import RoleRefreshToken
from orders.models import Order, OrderStatus, Ticket
from orders.selectors import order_with_details
from orders.serializers import OrderDetailSerializer
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Hold, SeatStatus, SessionSeat, Stock
from tickets.selectors import hold_with_items
from tickets.serializers import HoldSerializer

pytestmark = pytest.mark.django_db

# Statements per step, authentication included (a warm process: the session's sale data is kept).
HOLD, ORDER_FROM_HOLDS, ORDER_AT_ONCE, PAY = 4, 3, 6, 9


@contextmanager
def at_most(n: int):
    """Like django_assert_max_num_queries, without the savepoints the test's own transaction adds around
    each atomic block (in production that block is the transaction: no statement)."""
    with CaptureQueriesContext(connection) as captured:
        yield
    sent = [q["sql"] for q in captured.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))]
    assert len(sent) <= n, f"{len(sent)} statements, at most {n} expected:\n" + "\n".join(sent)


def token_client(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


def warm(api, session):
    """One request that reads the session's sale data into this process, as any earlier buyer's would."""
    api.post("/api/tickets/holds", {"session": session.pk, "seats": [], "quantities": {}}, format="json")


def sale(kind: str, count: int):
    """A seated (100 a seat) or GA (180 a ticket) session, and the body that asks for `count` of it."""
    session, types = seated_session(price=100) if kind == "seated" else ga_session(prices={"Standard": 180})
    body = ({"session": session.pk, "seats": seat_ids(session)[:count]} if kind == "seated"
            else {"session": session.pk, "quantities": {str(types["Standard"].pk): count}})
    return session, body


def detail_read_back(order_id: int) -> dict:
    return OrderDetailSerializer(order_with_details(order_id)).data


@pytest.mark.parametrize("kind", ["seated", "ga"])
def test_a_hold_is_four_statements_and_its_answer_is_the_serializers(kind):
    session, body = sale(kind, 3)
    api = token_client(UserFactory())
    warm(api, session)

    with at_most(HOLD):
        response = api.post("/api/tickets/holds", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == HoldSerializer(hold_with_items(response.json()["id"])).data


@pytest.mark.parametrize("kind", ["seated", "ga"])
def test_an_order_at_once_holds_and_orders_in_one_request(kind):
    session, body = sale(kind, 2)
    buyer = UserFactory()
    api = token_client(buyer)
    warm(api, session)

    with at_most(ORDER_AT_ONCE):
        response = api.post("/api/orders/create", body, format="json")

    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.user == buyer and order.status == OrderStatus.PENDING
    assert response.json() == detail_read_back(order.pk)
    assert response.json()["total"] == ("200.00" if kind == "seated" else "360.00")
    hold = Hold.objects.get(order_hold__order=order)
    assert order.expires_at == hold.expires_at
    if kind == "seated":
        assert SessionSeat.objects.filter(hold=hold, status=SeatStatus.HELD).count() == 2
    else:
        assert Stock.objects.get(session=session).held == 2


def test_an_order_at_once_that_cannot_be_held_leaves_nothing_behind():
    session, types = ga_session(stock={"Standard": 1})
    api = token_client(UserFactory())

    response = api.post("/api/orders/create", {"session": session.pk, "quantities": {str(types["Standard"].pk): 2}},
                        format="json")

    assert response.status_code == 409 and response.json()["code"] == "sold_out"
    assert not Order.objects.exists() and not Hold.objects.exists()
    assert Stock.objects.get(session=session).available == 1


def test_an_order_needs_holds_or_a_session_not_both():
    session, _types = seated_session()
    api = token_client(UserFactory())

    both = api.post("/api/orders/create", {"holds": [1], "session": session.pk, "seats": [1]}, format="json")
    neither = api.post("/api/orders/create", {}, format="json")

    assert both.status_code == neither.status_code == 400
    assert "either your holds" in str(both.json()) and not Order.objects.exists()


def test_an_order_at_once_for_a_session_nobody_may_see_is_not_found():
    session, _types = seated_session()
    session.event.status = "pending"
    session.event.save()
    api = token_client(UserFactory())

    response = api.post("/api/orders/create", {"session": session.pk, "seats": seat_ids(session)[:1]}, format="json")

    assert response.status_code == 404 and not Hold.objects.exists()


def test_order_from_holds_and_pay_stay_within_their_statements():
    session, _types = seated_session(price=100)
    buyer = UserFactory()
    api = token_client(buyer)
    warm(api, session)
    hold = api.post("/api/tickets/holds", {"session": session.pk, "seats": seat_ids(session)[:2]}, format="json")
    token_client(buyer).get("/api/wallet")  # the wallet exists, as after the welcome grant

    with at_most(ORDER_FROM_HOLDS):
        order = api.post("/api/orders/create", {"holds": [hold.json()["id"]]}, format="json")
    assert order.status_code == 201 and order.json() == detail_read_back(order.json()["id"])
    with at_most(PAY):
        paid = api.post(f"/api/orders/pay/{order.json()['id']}", {"idempotency_key": uuid.uuid4().hex}, format="json")

    assert paid.status_code == 200, paid.content
    assert paid.json() == detail_read_back(order.json()["id"])
    assert paid.json()["status"] == "paid" and len(paid.json()["tickets"]) == 2
    assert Ticket.objects.filter(order_id=order.json()["id"]).count() == 2


def test_a_retried_payment_answers_the_same_order_and_charges_once():
    session, types = ga_session(prices={"Standard": 50})
    buyer = UserFactory()
    api = token_client(buyer)
    order = api.post("/api/orders/create", {"session": session.pk, "quantities": {str(types["Standard"].pk): 1}},
                     format="json").json()
    key = uuid.uuid4().hex

    first = api.post(f"/api/orders/pay/{order['id']}", {"idempotency_key": key}, format="json")
    again = api.post(f"/api/orders/pay/{order['id']}", {"idempotency_key": key}, format="json")

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert buyer.wallet.entries.filter(kind="purchase").count() == 1


def test_a_deactivated_buyer_with_a_valid_token_is_refused_and_nothing_is_held():
    session, _types = seated_session()
    buyer = UserFactory()
    api = token_client(buyer)
    buyer.is_active = False
    buyer.save()

    hold = api.post("/api/tickets/holds", {"session": session.pk, "seats": seat_ids(session)[:1]}, format="json")
    order = api.post("/api/orders/create", {"session": session.pk, "seats": seat_ids(session)[:1]}, format="json")

    assert hold.status_code == order.status_code == 401
    assert not Hold.objects.exists()


def test_a_publisher_change_reaches_the_next_hold_at_once():
    session, types = ga_session(prices={"Standard": 100})
    api = token_client(UserFactory())
    warm(api, session)
    standard = types["Standard"]
    standard.base_price = 150
    standard.save()

    hold = api.post("/api/tickets/holds", {"session": session.pk, "quantities": {str(standard.pk): 1}},
                    format="json")

    assert hold.json()["items"][0]["unit_price"] == "150.00"


def test_a_seat_click_holds_in_four_statements_and_the_next_click_joins_that_hold():
    session, _types = seated_session()
    api = token_client(UserFactory())
    warm(api, session)
    first, second = seat_ids(session)[:2]

    with at_most(HOLD):
        one = api.put(f"/api/tickets/lock/{first}", {"session": session.pk}, format="json")
    two = api.put(f"/api/tickets/lock/{second}", {"session": session.pk}, format="json")

    assert one.status_code == two.status_code == 201, (one.content, two.content)
    assert one.json()["id"] == two.json()["id"] and [i["seat"] for i in two.json()["items"]] == [first, second]
    assert two.json() == HoldSerializer(hold_with_items(two.json()["id"])).data
    released = api.delete(f"/api/tickets/lock/{second}?session={session.pk}")
    assert released.status_code == 204
    assert SessionSeat.objects.get(session=session, seat_id=second).status == SeatStatus.FREE
