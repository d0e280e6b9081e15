"""The orders API: the flow a client app goes through, provider callbacks, and nobody reaching others' data."""

import json
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from orders import providers, services
from orders.models import OrderStatus, Payment
from tests.factories import UserFactory
from tests.orders.flows import assert_wallet_consistent, doors_open, paid_order, pending_order
from tests.tickets.factories import seat_ids, seated_session

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


def test_a_buyer_holds_orders_pays_and_reads_tickets_over_the_api():
    buyer = UserFactory()
    session, _types = seated_session(price=100)
    api = client_for(buyer)

    hold = api.post("/api/tickets/holds", {"session": session.pk, "seats": seat_ids(session)[:2]}, format="json")
    order = api.post("/api/orders/create", {"holds": [hold.json()["id"]]}, format="json")
    assert order.status_code == 201, order.content
    order_id = order.json()["id"]
    assert order.json()["status"] == "pending" and order.json()["total"] == "200.00"
    assert [line["seat"] for line in order.json()["lines"]] == ["A row 1 seat 1", "A row 1 seat 2"]

    key = str(uuid.uuid4())
    paid = api.post(f"/api/orders/pay/{order_id}", {"idempotency_key": key}, format="json")
    again = api.post(f"/api/orders/pay/{order_id}", {"idempotency_key": key}, format="json")

    assert paid.status_code == again.status_code == 200
    assert paid.json()["status"] == "paid" and len(paid.json()["tickets"]) == 2
    assert paid.json()["payments"] == again.json()["payments"]
    assert api.get("/api/wallet").json()["balance"] == "4800.00"
    tickets = api.get("/api/etickets").json()
    assert len(tickets) == 2 and tickets[0]["code"].startswith("TK1.")
    assert api.get(f"/api/etickets/{tickets[0]['id']}").status_code == 200
    assert api.get("/api/orders").json()[0]["number"] == paid.json()["number"]


def test_an_orders_detail_costs_the_same_queries_for_one_ticket_or_six():
    buyer = UserFactory()
    small, large = paid_order(buyer, seats=1), paid_order(buyer, seats=6)
    api = client_for(buyer)
    api.get(f"/api/orders/{small.pk}")  # warm: wallet, content types …
    with CaptureQueriesContext(connection) as one:
        assert len(api.get(f"/api/orders/{small.pk}").json()["tickets"]) == 1
    with CaptureQueriesContext(connection) as six:
        assert len(api.get(f"/api/orders/{large.pk}").json()["tickets"]) == 6

    assert len(six) == len(one)


def test_errors_are_clear_translated_and_change_nothing():
    buyer = UserFactory(language="zh-hans")
    order = pending_order(buyer, price=9000)
    api = client_for(buyer)
    api.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    response = api.post(f"/api/orders/pay/{order.pk}", {"idempotency_key": "k1"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "insufficient_points"
    assert "积分不足" in response.json()["detail"]
    missing = api.post(f"/api/orders/pay/{order.pk}", {}, format="json")
    assert missing.status_code == 400 and "idempotency_key" in missing.json()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_refund_request_and_admin_review_over_the_api():
    buyer, admin = UserFactory(), UserFactory(role=Role.ADMIN)
    order = paid_order(buyer)
    asked = client_for(buyer).put(f"/api/orders/refund/{order.pk}", {"reason": "生病了"}, format="json")
    assert asked.status_code == 200 and asked.json()["status"] == "refund_requested"
    queue = client_for(admin).get("/api/refunds").json()
    assert [r["order_number"] for r in queue] == [order.number]
    decided = client_for(admin).put(f"/api/refunds/{queue[0]['id']}/review", {"decision": "approve"}, format="json")
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert assert_wallet_consistent(buyer).balance == 5000


def test_checkin_over_the_api_admits_once_and_refuses_forgeries():
    order = doors_open(paid_order(UserFactory(), seats=1))
    api = client_for(order.event.publisher)
    code = order.tickets.get().code
    body = {"event": order.event.pk, "code": code, "nonce": "n1"}
    first = api.post("/api/checkin", body, format="json").json()
    resent = api.post("/api/checkin", body, format="json").json()
    second = api.post("/api/checkin", {**body, "nonce": "n2"}, format="json").json()
    forged = api.post("/api/checkin", {**body, "code": code[:-3] + "xyz", "nonce": "n3"}, format="json").json()
    assert first["result"] == resent["result"] == "ok" and first["admitted"]
    assert second["result"] == "already_used" and second["checked_in_by"] and "already used" in second["message"]
    assert forged["result"] == "forged" and not forged["admitted"]
    stranger = client_for(UserFactory(role=Role.PUBLISHER)).post("/api/checkin", {**body, "nonce": "n4"}, format="json")
    assert stranger.status_code == 404


def _callback(client: APIClient, body: dict, *, secret_ok: bool = True, age: int = 0):
    raw = json.dumps(body).encode()
    ts = int(time.time()) - age
    signature = providers.sign("sandbox", raw, ts) if secret_ok else "0" * 64
    return client.generic("POST", "/api/payments/callback/sandbox", raw, content_type="application/json",
                          HTTP_X_TIMESTAMP=str(ts), HTTP_X_SIGNATURE=signature)


def test_a_signed_provider_callback_pays_once_per_transaction_id(caplog):
    order = pending_order(UserFactory())
    body = {"order": order.number, "amount": str(order.total), "transaction_id": "SBX-42"}
    client = APIClient()

    first, again = _callback(client, body), _callback(client, body)

    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "paid" and first.json()["payment"] == again.json()["payment"]
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("kwargs", [{"secret_ok": False}, {"age": 3600}], ids=["bad-signature", "stale"])
def test_a_badly_signed_or_stale_callback_is_refused_and_logged(kwargs, caplog):
    order = pending_order(UserFactory())
    body = {"order": order.number, "amount": str(order.total), "transaction_id": "SBX-43"}
    response = _callback(APIClient(), body, **kwargs)
    assert response.status_code == 403 and response.json()["code"] == "bad_signature"
    assert "payment callback refused" in caplog.text
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_an_unknown_provider_is_refused():
    response = APIClient().post("/api/payments/callback/paypal", {}, format="json",
                                HTTP_X_TIMESTAMP=str(int(time.time())), HTTP_X_SIGNATURE="00")
    assert response.status_code == 403


# --- nobody reaches another user's orders, tickets or wallet ---------------------------------


def _victim_data():
    victim = UserFactory()
    order = paid_order(victim)
    pending = pending_order(victim)
    return victim, order, pending


@pytest.mark.parametrize("method, url, body", [
    ("get", "/api/orders/{order}", None),
    ("post", "/api/orders/pay/{pending}", {"idempotency_key": "x"}),
    ("put", "/api/orders/refund/{order}", {"reason": "mine now"}),
    ("post", "/api/orders/{pending}/cancel", None),
    ("post", "/api/orders/{pending}/attendees", {"attendees": []}),
    ("get", "/api/etickets/{ticket}", None),
    ("post", "/api/orders/create", {"holds": ["{hold}"]}),
    ("delete", "/api/tickets/holds/{hold}", None),
])
def test_another_users_orders_tickets_and_holds_are_404(method, url, body):
    victim, order, pending = _victim_data()
    ids = {"order": order.pk, "pending": pending.pk, "ticket": order.tickets.first().pk,
           "hold": pending.order_holds.get().hold_id}
    body = json.loads(json.dumps(body).replace('"{hold}"', str(ids["hold"]))) if body else None
    attacker = client_for(UserFactory())

    response = getattr(attacker, method)(url.format(**ids), body, format="json")

    assert response.status_code == 404, response.content
    pending.refresh_from_db()
    order.refresh_from_db()
    assert (pending.status, order.status) == (OrderStatus.PENDING, OrderStatus.PAID)


def test_lists_and_the_wallet_show_only_your_own():
    victim, order, _pending = _victim_data()
    attacker = client_for(UserFactory())
    assert attacker.get("/api/orders").json() == []
    assert attacker.get("/api/etickets").json() == []
    wallet = attacker.get("/api/wallet").json()
    assert wallet["balance"] == "5000.00" and all(e["order"] is None for e in wallet["entries"])
    other_publisher = client_for(UserFactory(role=Role.PUBLISHER))
    assert other_publisher.get(f"/api/orders/event/{order.event_id}").status_code == 404
    assert client_for(order.event.publisher).get(f"/api/orders/event/{order.event_id}").json()[0]["id"] == order.pk


def test_only_admins_adjust_wallets():
    victim = UserFactory()
    response = client_for(UserFactory(role=Role.PUBLISHER)).post(
        f"/api/wallets/{victim.pk}/adjust", {"amount": "100", "reason": "gift"}, format="json")
    assert response.status_code == 403
    response = client_for(UserFactory(role=Role.ADMIN)).post(
        f"/api/wallets/{victim.pk}/adjust", {"amount": "100", "reason": "gift"}, format="json")
    assert response.status_code == 201 and response.json()["balance_after"] == "5100.00"
    services.wallet_ensure(user=victim)
