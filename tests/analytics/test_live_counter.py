"""ws/stats/events/<id>/live/: the publisher's live counter of tickets sold and held, without reload."""

import asyncio

import pytest
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.models import Role
from tests.analytics.sales_fixture import build_shop
from tests.factories import UserFactory
from tests.helpers.aio import run
from ticketing.asgi import application
from tickets.services import hold_create

pytestmark = pytest.mark.django_db(transaction=True)


def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def live_socket(event_id: int, cookie: bytes | None = None) -> WebsocketCommunicator:
    """Made inside the test's event loop; the session cookie is made before it (the ORM is sync)."""
    headers = [(b"origin", b"http://127.0.0.1")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, f"/ws/stats/events/{event_id}/live/", headers=headers)


async def counts_until(communicator, predicate, timeout: float = 8.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await communicator.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        if message["type"] == "counts" and predicate(message):
            return message


def test_the_owner_sees_sold_and_held_now_and_a_new_hold_arrives_without_reload():
    shop = build_shop()
    s1 = shop.s1
    standard = s1.stocks.get(ticket_type__name="Standard").ticket_type_id
    buyer = UserFactory()

    def hold_two():
        try:
            hold_create(user=buyer, session=s1, quantities={standard: 2})
        finally:
            connection.close()

    cookie = cookie_for(shop.p1)

    async def scenario():
        communicator = live_socket(shop.e1.pk, cookie)
        connected, _code = await communicator.connect()
        assert connected
        first = await communicator.receive_json_from(timeout=5)
        await asyncio.to_thread(hold_two)
        later = await counts_until(communicator, lambda m: m["sessions"][0]["held"] == 3)
        await communicator.disconnect()
        return first, later

    first, later = run(scenario())
    assert first["type"] == "counts" and first["event_id"] == shop.e1.pk
    assert [(s["session_id"], s["sold"], s["held"], s["capacity"]) for s in first["sessions"]] == [(s1.pk, 4, 1, 110)]
    assert (later["sessions"][0]["sold"], later["sessions"][0]["held"]) == (4, 3)


def test_an_admin_may_watch_any_event():
    shop = build_shop()

    cookie = cookie_for(shop.admin)

    async def scenario():
        communicator = live_socket(shop.e2.pk, cookie)
        connected, _code = await communicator.connect()
        message = await communicator.receive_json_from(timeout=5) if connected else None
        await communicator.disconnect()
        return connected, message

    connected, message = run(scenario())
    assert connected and message["sessions"][0]["capacity"] == 10


@pytest.mark.parametrize("who", ["other_publisher", "customer", "anonymous"])
def test_anyone_else_is_closed_with_4403(who):
    shop = build_shop()
    user = {"other_publisher": shop.p2, "customer": UserFactory(role=Role.CUSTOMER), "anonymous": None}[who]
    cookie = cookie_for(user) if user else None

    async def scenario():
        communicator = live_socket(shop.e1.pk, cookie)
        result = await communicator.connect()
        await communicator.disconnect()
        return result

    assert run(scenario()) == (False, 4403)


def test_an_unknown_event_is_closed_with_4403_too():
    shop = build_shop()
    cookie = cookie_for(shop.admin)

    async def scenario():
        communicator = live_socket(999_999, cookie)
        result = await communicator.connect()
        await communicator.disconnect()
        return result

    assert run(scenario()) == (False, 4403)
