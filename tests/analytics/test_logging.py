"""Every behaviour line is written where it happens: pages, searches, the sale's steps, refunds, the door.

Through the real pages and APIs, with real commits (the writer thread reads who opted out in its own
connection, and `track_on_commit` lines wait for the commit); the lines are read back from MongoDB.
"""

import json
import re
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from analytics import tracking
from analytics.documents import Action
from analytics.middleware import COOKIE
from orders import providers
from tests.conftest import mongo_back
from tests.events.factories import ApprovedEventFactory, EventFactory
from tests.factories import UserFactory
from tests.orders.flows import doors_open, paid_order, pending_order
from tests.tickets.factories import ga_session, seat_ids, seated_session

pytestmark = pytest.mark.django_db(transaction=True)


def token_client(user, *, cookie: str | None = None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    if cookie:
        client.cookies[COOKIE] = cookie
    return client


def actions(lines) -> list[str]:
    return [line["action"] for line in lines]


# --- pages -------------------------------------------------------------------------------


def test_an_event_page_view_is_logged_with_the_event_and_the_visitors_cookie(client, behaviour):
    event = ApprovedEventFactory()
    first = client.get(reverse("events:detail", args=[event.pk]))
    anon = first.cookies[COOKIE].value
    buyer = UserFactory()
    client.force_login(buyer)
    client.get(reverse("events:detail", args=[event.pk]))

    anonymous, signed_in = behaviour.lines(action="event_view")
    assert anonymous["event_id"] == event.pk and anonymous["user_id"] is None and anonymous["anon_id"] == anon
    assert signed_in["user_id"] == buyer.pk and signed_in["anon_id"] == anon  # one visitor, before and after login


def test_a_publisher_looking_at_a_draft_is_not_an_event_view(client, behaviour):
    draft = EventFactory()
    client.force_login(draft.publisher)
    assert client.get(reverse("events:detail", args=[draft.pk])).status_code == 200
    assert behaviour.lines() == []


def test_a_session_page_is_a_session_view_of_its_event_and_session(client, behaviour):
    session, _types = seated_session()
    assert client.get(reverse("tickets:session", args=[session.pk])).status_code == 200
    [line] = behaviour.lines()
    assert line["action"] == "session_view" and line["event_id"] == session.event_id
    assert line["session_id"] == session.pk and line["details"] == {"seated": True, "status": "on_sale"}


def test_a_search_on_the_list_page_is_logged_with_its_filters_and_count_on_its_first_page_only(client, behaviour):
    for _ in range(23):
        ApprovedEventFactory(city="杭州")
    ApprovedEventFactory(city="上海")

    client.get(reverse("events:list"))  # browsing, not searching
    client.get(reverse("events:list"), {"city": "杭州", "available": "", "sort": "start"})
    client.get(reverse("events:list"), {"city": "杭州", "sort": "start", "page": 2})  # the same search, paged
    client.get(reverse("events:list"), {"q": "没有这种演出"})

    city, nothing = behaviour.lines(action="search")
    assert city["details"] == {"q": "", "filters": {"city": "杭州"}, "results": 23, "page": 1, "sort": "start"}
    assert city["user_id"] is None and city["anon_id"]
    assert nothing["details"] == {"q": "没有这种演出", "filters": {}, "results": 0, "page": 1}


def test_the_search_api_logs_searches_as_the_page_does(behaviour):
    ApprovedEventFactory(city="杭州")
    buyer = UserFactory()
    api = token_client(buyer)
    today = timezone.localdate().isoformat()
    assert api.get("/api/events/search", {"city": "杭州", "date_from": today}).status_code == 200
    api.get("/api/events/search", {"city": "杭州", "page": 2})  # past the last page: 404, and no search either
    api.get("/api/events/search")
    api.get("/api/events/search", {"city": "杭州", "price_max": "300"})  # no prices yet: nothing found

    found, empty = behaviour.lines()
    assert found["action"] == "search" and found["user_id"] == buyer.pk
    assert found["details"] == {"q": "", "filters": {"city": "杭州", "date_from": today}, "results": 1, "page": 1}
    assert empty["details"] == {"q": "", "filters": {"city": "杭州", "price_max": 300.0}, "results": 0, "page": 1}


# --- the sale ------------------------------------------------------------------------------


def test_a_hold_an_order_and_a_payment_over_the_api_are_logged_with_their_ids_and_amounts(behaviour):
    buyer = UserFactory()
    session, _types = seated_session(price=100)
    seats = seat_ids(session)[:2]
    api = token_client(buyer)

    hold = api.post("/api/tickets/holds", {"session": session.pk, "seats": seats}, format="json").json()
    order = api.post("/api/orders/create", {"holds": [hold["id"]]}, format="json").json()
    paid = api.post(f"/api/orders/pay/{order['id']}", {"idempotency_key": "k1"}, format="json")
    api.post(f"/api/orders/pay/{order['id']}", {"idempotency_key": "k1"}, format="json")  # a retry: paid once
    assert paid.status_code == 200, paid.content

    lines = behaviour.lines(user_id=buyer.pk)
    assert actions(lines) == ["hold", "order", "pay"]
    assert all(line["event_id"] == session.event_id and line["session_id"] == session.pk for line in lines)
    assert lines[0]["details"] == {"hold": hold["id"], "tickets": 2, "seats": seats}
    assert lines[1]["details"] == {"order": order["id"], "tickets": 2, "amount": 200.0}
    assert lines[2]["details"] == {"order": order["id"], "amount": 200.0, "tickets": 2}


def test_an_order_at_once_logs_its_hold_and_its_order(behaviour):
    buyer = UserFactory()
    session, types = ga_session(prices={"Standard": 180})
    api = token_client(buyer)
    response = api.post("/api/orders/create", {"session": session.pk,
                                               "quantities": {str(types["Standard"].pk): 3}}, format="json")
    assert response.status_code == 201, response.content

    hold, order = behaviour.lines(user_id=buyer.pk)
    assert hold["action"] == "hold" and hold["details"]["tickets"] == 3 and "seats" not in hold["details"]
    assert order["action"] == "order" and order["details"] == {"order": response.json()["id"], "tickets": 3,
                                                               "amount": 540.0}
    assert order["session_id"] == session.pk and order["event_id"] == session.event_id


def statements(call) -> tuple[object, list[str]]:
    """What `call()` sent to the database, less the transaction's own BEGIN and COMMIT."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [q["sql"] for q in captured.captured_queries
                    if not q["sql"].startswith("BEGIN") and q["sql"] != "COMMIT"]  # SQLite: BEGIN IMMEDIATE


def test_with_real_commits_and_every_line_written_the_hot_steps_keep_their_statement_counts(behaviour, monkeypatch):
    from tests.orders.test_hot_path import HOLD, ORDER_FROM_HOLDS, PAY, warm
    from ticketing import outbox

    # The paid notice goes to a worker in production; the tests' inline delivery would be counted here.
    monkeypatch.setattr(outbox, "_dispatch", lambda message_id: None)
    session, _types = seated_session(price=100)
    seats = seat_ids(session)[:2]
    buyer = UserFactory()
    api = token_client(buyer)
    warm(api, session)
    api.get("/api/wallet")  # the wallet exists, as after the welcome grant

    hold, held = statements(lambda: api.post("/api/tickets/holds", {"session": session.pk, "seats": seats},
                                             format="json"))
    order, ordered = statements(lambda: api.post("/api/orders/create", {"holds": [hold.json()["id"]]},
                                                 format="json"))
    paid, paying = statements(lambda: api.post(f"/api/orders/pay/{order.json()['id']}", {"idempotency_key": "k"},
                                               format="json"))

    assert paid.status_code == 200, paid.content
    assert len(held) <= HOLD and len(ordered) <= ORDER_FROM_HOLDS and len(paying) <= PAY, (held, ordered, paying)
    assert actions(behaviour.lines(user_id=buyer.pk)) == ["hold", "order", "pay"]


def test_what_failed_or_rolled_back_is_not_logged(behaviour):
    session, _types = seated_session(price=100)
    seat = seat_ids(session)[0]
    first, second = UserFactory(), UserFactory()
    token_client(first).post("/api/tickets/holds", {"session": session.pk, "seats": [seat]}, format="json")
    taken = token_client(second).post("/api/orders/create", {"session": session.pk, "seats": [seat]}, format="json")
    poor = UserFactory()
    order = pending_order(poor, price=9000)  # more than the wallet's 5000 points
    refused = token_client(poor).post(f"/api/orders/pay/{order.pk}", {"idempotency_key": "k"}, format="json")

    assert taken.status_code == 409 and refused.status_code == 400
    assert behaviour.lines(user_id=second.pk) == []
    assert actions(behaviour.lines(user_id=poor.pk)) == ["hold", "order"]


def test_a_provider_callback_payment_is_the_buyers_line(behaviour):
    buyer = UserFactory()
    order = pending_order(buyer)
    behaviour.clear()
    raw = json.dumps({"order": order.number, "amount": str(order.total), "transaction_id": "SBX-1"}).encode()
    ts = int(time.time())
    response = APIClient().generic("POST", "/api/payments/callback/sandbox", raw, content_type="application/json",
                                   HTTP_X_TIMESTAMP=str(ts), HTTP_X_SIGNATURE=providers.sign("sandbox", raw, ts))
    assert response.status_code == 200, response.content

    [line] = behaviour.lines()
    assert line["action"] == "pay" and line["user_id"] == buyer.pk and line["event_id"] == order.event_id
    assert line["details"] == {"order": order.pk, "amount": float(order.total), "tickets": 2, "provider": "sandbox"}


def test_an_approved_refund_is_the_buyers_line_not_the_admins(behaviour):
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    order = paid_order(buyer)
    api = token_client(buyer)
    api.put(f"/api/orders/refund/{order.pk}", {"reason": "生病了"}, format="json")
    queue = token_client(admin).get("/api/refunds").json()
    behaviour.clear()
    decided = token_client(admin, cookie="admincookie1").put(
        f"/api/refunds/{queue[0]['id']}/review", {"decision": "approve"}, format="json")
    assert decided.status_code == 200

    [line] = behaviour.lines()
    assert line["action"] == "refund" and line["user_id"] == buyer.pk and line["anon_id"] is None
    assert line["event_id"] == order.event_id
    assert line["details"] == {"order": order.pk, "amount": float(order.total), "refund": queue[0]["id"]}


def test_a_rejected_refund_is_no_refund_line(behaviour):
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    order = paid_order(buyer)
    token_client(buyer).put(f"/api/orders/refund/{order.pk}", {"reason": "不想去了"}, format="json")
    refund_id = token_client(admin).get("/api/refunds").json()[0]["id"]
    token_client(admin).put(f"/api/refunds/{refund_id}/review", {"decision": "reject", "reason": "规则"},
                            format="json")
    assert "refund" not in actions(behaviour.lines())


def test_a_checkin_admitted_is_the_buyers_attendance_with_the_staff_named(behaviour):
    buyer = UserFactory()
    order = doors_open(paid_order(buyer, seats=1))
    ticket = order.tickets.get()
    staff = order.event.publisher
    api = token_client(staff, cookie="doorphone1")
    body = {"event": order.event.pk, "code": ticket.code, "nonce": "n1"}
    behaviour.clear()

    assert api.post("/api/checkin", body, format="json").json()["admitted"]
    api.post("/api/checkin", body, format="json")  # re-sent
    assert api.post("/api/checkin", {**body, "nonce": "n2"}, format="json").json()["result"] == "already_used"

    [line] = behaviour.lines()
    assert line["action"] == "checkin" and line["user_id"] == buyer.pk and line["anon_id"] is None
    assert line["event_id"] == order.event_id and line["session_id"] == ticket.session_id
    assert line["details"] == {"ticket": ticket.pk, "staff": staff.pk}


def test_every_line_the_server_writes_is_a_known_action(client, behaviour):
    buyer = UserFactory()
    order = doors_open(paid_order(buyer, seats=1))
    client.get(reverse("events:detail", args=[order.event_id]))
    assert {line["action"] for line in behaviour.lines()} <= set(Action.ALL)


# --- personalisation off -----------------------------------------------------------------------


def test_turning_personalisation_off_on_the_profile_page_makes_later_lines_anonymous(client, behaviour):
    buyer = UserFactory(language="en")
    event = ApprovedEventFactory()
    client.force_login(buyer)
    page = client.get(reverse("accounts:profile"))
    box = re.search(r'<input[^>]*name="personalised"[^>]*>', page.content.decode()).group(0)
    assert "checked" in box and 'type="checkbox"' in box
    client.get(reverse("events:detail", args=[event.pk]))
    behaviour.flush()

    saved = client.post(reverse("accounts:profile"), {"display_name": "Li", "language": "en"})  # box unticked
    assert saved.status_code == 302
    buyer.refresh_from_db()
    assert buyer.personalised is False
    client.get(reverse("events:detail", args=[event.pk]))

    before, after = behaviour.lines(action="event_view")
    assert before["user_id"] == buyer.pk
    assert after["user_id"] is None and after["anon_id"] == before["anon_id"]


def test_the_profile_api_shows_and_changes_personalised_and_a_form_without_it_leaves_it_alone(behaviour):
    buyer = UserFactory()
    api = token_client(buyer)
    assert api.get("/api/user/profile").json()["personalised"] is True
    # A multipart form that changes only the name must not switch personalisation off.
    kept = api.patch("/api/user/profile", {"display_name": "小李"}, format="multipart")
    assert kept.status_code == 200 and kept.json()["personalised"] is True

    off = api.patch("/api/user/profile", {"personalised": False}, format="json")
    assert off.status_code == 200 and off.json()["personalised"] is False
    session, _types = ga_session()
    tt = session.stocks.get().ticket_type_id
    api.post("/api/tickets/holds", {"session": session.pk, "quantities": {str(tt): 1}}, format="json")

    [hold] = behaviour.lines(action="hold")
    assert hold["user_id"] is None and hold["event_id"] == session.event_id
    on = api.patch("/api/user/profile", {"personalised": True}, format="json")
    assert on.json()["personalised"] is True


# --- MongoDB away ------------------------------------------------------------------------------


@pytest.mark.parametrize("mongo_outage", ["refused", "hung"], indirect=True)
def test_with_mongodb_away_a_sale_and_an_event_page_answer_and_their_lines_arrive_once_it_is_back(
        client, mongo_outage, behaviour):
    buyer = UserFactory()
    session, _types = seated_session(price=100)
    api = token_client(buyer)
    started = time.perf_counter()

    hold = api.post("/api/tickets/holds", {"session": session.pk, "seats": seat_ids(session)[:1]}, format="json")
    order = api.post("/api/orders/create", {"holds": [hold.json()["id"]]}, format="json")
    paid = api.post(f"/api/orders/pay/{order.json()['id']}", {"idempotency_key": uuid.uuid4().hex}, format="json")
    page = client.get(reverse("events:detail", args=[session.event_id]))

    assert (hold.status_code, order.status_code, paid.status_code, page.status_code) == (201, 201, 200, 200)
    assert paid.json()["status"] == "paid"
    # A request that waited for this MongoDB would wait its 3 s timeout, each: four would take 12 s.
    assert time.perf_counter() - started < 10
    assert not tracking.flush(1.0)

    mongo_back()
    lines = behaviour.lines()
    assert actions(lines) == ["hold", "order", "pay", "event_view"]
    assert [line["user_id"] for line in lines[:3]] == [buyer.pk] * 3
