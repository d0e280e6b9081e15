"""The seat-map socket on a real ASGI server: changes reach every open map, reconnecting gets the truth,
and a client that floods it or sends garbage is answered in bounded, clean ways."""

import asyncio
import json
import logging

import channels.consumer
import pytest
import websockets
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.factories import UserFactory
from tests.helpers.aio import run
from tests.tickets.factories import draft, ga_session, seat_ids, seated_session
import ticketing.consumers
from ticketing.asgi import application
from tickets import services
from tickets.consumers import RESYNC_BURST, RESYNC_PER_SECONDS, SeatMapConsumer
from tickets.services import owner_token


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def seat_map_socket(server, session, cookie: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    return websockets.connect(f"{server.ws_url}/ws/seatmap/{session.pk}/", origin=server.url,
                              additional_headers=headers)


async def receive(ws, kind: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] == kind:
            return message


async def in_thread(fn, **kwargs):
    """A service call from another thread (its own database connection), as another request would be."""
    def call():
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def seat_row(snapshot: dict, seat_id: int) -> list:
    return next(row for row in snapshot["seats"] if row[0] == seat_id)


def test_a_hold_by_one_buyer_reaches_another_buyers_map_as_a_change(asgi_server):
    session, _types = seated_session()
    seat = seat_ids(session)[3]
    alice, bob = UserFactory(), UserFactory()
    bobs_cookie = cookie_for(bob)

    async def scenario():
        async with seat_map_socket(asgi_server, session, bobs_cookie) as ws:
            snapshot = await receive(ws, "snapshot")
            assert seat_row(snapshot, seat)[7] == "free"
            hold = await in_thread(services.hold_create, user=alice, session=session, seat_ids=[seat], join=True)
            change = await receive(ws, "changes")
            await in_thread(services.seat_release, user=alice, session=session, seat_id=seat)
            freed = await receive(ws, "changes")
            return snapshot, hold, change, freed

    snapshot, hold, change, freed = run(scenario())

    assert snapshot["me"] == owner_token(bob.pk)
    assert change["seats"] == [[seat, "held", owner_token(alice.pk), int(hold.expires_at.timestamp())]]
    assert freed["seats"] == [[seat, "free", None, None]]


def test_general_admission_holds_reach_the_page_as_stock_counts(asgi_server):
    session, types = ga_session(stock={"Standard": 10})
    standard = types["Standard"].pk
    buyer = UserFactory()

    async def scenario():
        async with seat_map_socket(asgi_server, session) as ws:  # anonymous visitors watch too
            snapshot = await receive(ws, "snapshot")
            await in_thread(services.hold_create, user=buyer, session=session, quantities={standard: 3})
            try:
                return snapshot, await receive(ws, "changes")
            except (TimeoutError, websockets.exceptions.ConnectionClosed):  # raised here, not across threads
                return snapshot, None

    snapshot, change = run(scenario())

    assert snapshot["ticket_types"][0]["available"] == 10 and snapshot["me"] is None
    assert change is not None, "no change reached the socket"
    assert change["seats"] == [] and change["stock"] == {str(standard): 7}


def test_a_reconnecting_client_gets_a_snapshot_of_what_happened_while_it_was_away(asgi_server):
    session, _types = seated_session()
    seat = seat_ids(session)[0]
    alice, bob = UserFactory(), UserFactory()
    alices_cookie, bobs_cookie = cookie_for(alice), cookie_for(bob)

    async def scenario():
        async with seat_map_socket(asgi_server, session, bobs_cookie) as ws:
            before = await receive(ws, "snapshot")
        # Bob's connection drops; Alice holds a seat meanwhile.
        await in_thread(services.hold_create, user=alice, session=session, seat_ids=[seat], join=True)
        async with seat_map_socket(asgi_server, session, bobs_cookie) as ws:
            bobs = await receive(ws, "snapshot")
            await ws.send(json.dumps({"action": "resync"}))
            again = await receive(ws, "snapshot")
        async with seat_map_socket(asgi_server, session, alices_cookie) as ws:
            alices = await receive(ws, "snapshot")
        return before, bobs, again, alices

    before, bobs, again, alices = run(scenario())

    assert seat_row(before, seat)[7] == "free"
    held = seat_row(bobs, seat)
    assert held[7] == "held" and held[8] == owner_token(alice.pk) and held[9] is not None
    assert bobs["me"] != held[8]  # held by someone else, for Bob
    assert seat_row(again, seat) == held
    assert alices["me"] == seat_row(alices, seat)[8]  # Alice's own connection sees it as hers


def test_a_hidden_events_map_refuses_strangers(asgi_server):
    session, _types = seated_session()
    draft(session)
    strangers_cookie = cookie_for(UserFactory())

    async def scenario():
        try:
            async with seat_map_socket(asgi_server, session, strangers_cookie):
                return "connected"
        except websockets.exceptions.InvalidStatus as exc:  # closed before the handshake was accepted
            return exc.response.status_code

    assert run(scenario()) == 403


def test_a_change_is_forwarded_without_a_trip_to_the_database_thread(monkeypatch):
    async def no_database(*args):
        raise AssertionError("a forwarded change went through the sync thread")

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", no_database)
    consumer, sent = SeatMapConsumer(), []

    async def base_send(message):
        sent.append(message)

    consumer.base_send = base_send
    run(consumer.dispatch({"type": "seatmap.changed", "seats": [[7, "held", "abc", 1]], "stock": {}}))

    assert json.loads(sent[0]["text"]) == {"type": "changes", "seats": [[7, "held", "abc", 1]], "stock": {}}


# --- what a misbehaving client gets ------------------------------------------------------------
def seat_map_communicator(session_id: int, language: str = "en") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/seatmap/{session_id}/",
                                 headers=[(b"origin", b"http://127.0.0.1"), (b"accept-language", language.encode())])


async def everything_sent(communicator: WebsocketCommunicator) -> list[dict]:
    """What the server sent until it closed the socket (or went quiet for two seconds)."""
    sent = []
    while True:
        try:
            message = await communicator.receive_output(timeout=2)
        except TimeoutError:
            return sent
        sent.append(message)
        if message["type"] == "websocket.close":
            return sent


def test_two_thousand_resyncs_on_one_socket_get_a_few_snapshots_a_warning_and_a_close(transactional_db, caplog):
    session, _types = seated_session(rows=10, seats=20)

    async def scenario():
        communicator = seat_map_communicator(session.pk)
        assert (await communicator.connect())[0]
        first = await communicator.receive_json_from(timeout=5)
        for _ in range(2000):
            await communicator.send_json_to({"action": "resync"})
        sent = await everything_sent(communicator)
        await communicator.disconnect()
        return first, sent

    with caplog.at_level(logging.INFO):
        first, sent = run(scenario())

    replies = [json.loads(message["text"]) for message in sent if message["type"] == "websocket.send"]
    assert [reply["type"] for reply in replies] == ["snapshot"] * RESYNC_BURST + ["error"]
    assert replies[-1]["code"] == "slow_down"
    assert sent[-1] == {"type": "websocket.close", "code": 1008}
    assert sum(len(message.get("text", "")) for message in sent) < (RESYNC_BURST + 1) * len(json.dumps(first))
    lines = [record for record in caplog.records if record.name == "ticketing.consumers"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and lines[0].exc_info is None


def test_a_map_told_to_slow_down_gets_snapshots_again_after_a_pause(transactional_db, monkeypatch):
    session, _types = seated_session()
    clock = [1000.0]
    monkeypatch.setattr(ticketing.consumers, "monotonic", lambda: clock[0])

    async def kinds_of_replies(communicator, *, resyncs: int, replies: int) -> list[str]:
        for _ in range(resyncs):
            await communicator.send_json_to({"action": "resync"})
        return [(await communicator.receive_json_from(timeout=5))["type"] for _ in range(replies)]

    async def scenario():
        communicator = seat_map_communicator(session.pk)
        assert (await communicator.connect())[0]
        await communicator.receive_json_from(timeout=5)
        burst = await kinds_of_replies(communicator, resyncs=RESYNC_BURST + 3, replies=RESYNC_BURST + 1)
        assert await communicator.receive_nothing(timeout=0.3)  # one warning, the rest ignored
        clock[0] += RESYNC_PER_SECONDS
        later = await kinds_of_replies(communicator, resyncs=1, replies=1)
        await communicator.disconnect()
        return burst, later

    burst, later = run(scenario())

    assert burst == ["snapshot"] * RESYNC_BURST + ["error"]
    assert later == ["snapshot"]


def test_an_unknown_session_or_a_binary_frame_closes_the_map_cleanly(transactional_db, caplog):
    session, _types = seated_session()

    async def scenario():
        unknown = await seat_map_communicator(999_999_999).connect()
        communicator = seat_map_communicator(session.pk)
        await communicator.connect()
        await communicator.receive_json_from(timeout=5)
        await communicator.send_to(bytes_data=b"\x81\x00")
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return unknown, closed

    with caplog.at_level(logging.INFO):
        unknown, closed = run(scenario())

    assert unknown == (False, 4404)
    assert closed == {"type": "websocket.close", "code": 1003}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("language,detail", [("zh-CN,zh;q=0.9", "座位图刷新过于频繁，请稍等几秒。"),
                                             ("en-GB,en;q=0.8", "Too many refreshes of the seat map: wait a few seconds.")])
def test_a_page_is_told_to_slow_down_in_its_language(transactional_db, language, detail):
    session, _types = seated_session()

    async def scenario():
        communicator = seat_map_communicator(session.pk, language=language)
        assert (await communicator.connect())[0]
        await communicator.receive_json_from(timeout=5)
        for _ in range(RESYNC_BURST + 1):
            await communicator.send_json_to({"action": "resync"})
        replies = [await communicator.receive_json_from(timeout=5) for _ in range(RESYNC_BURST + 1)]
        await communicator.disconnect()
        return replies

    assert run(scenario())[-1] == {"type": "error", "code": "slow_down", "detail": detail}
