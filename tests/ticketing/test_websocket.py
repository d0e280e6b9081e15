"""Websockets: the ping consumer echoes through the Redis channel layer; bad frames and paths are refused cleanly."""

import asyncio
import json
import logging

import pytest
import websockets
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory
from tests.helpers.aio import run
from ticketing.asgi import application


def test_echo_goes_through_the_channel_layer():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", b"http://127.0.0.1")])
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"message": "你好"})
        assert await communicator.receive_json_from(timeout=5) == {"echo": "你好"}
        await communicator.send_json_to({"nonsense": 1})
        assert "error" in await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()

    run(scenario())


def test_websocket_round_trip_on_the_live_asgi_server(asgi_server):
    async def scenario():
        async with websockets.connect(f"{asgi_server.ws_url}/ws/ping/", origin=asgi_server.url) as ws:
            await ws.send(json.dumps({"message": "hello"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert run(scenario()) == {"echo": "hello"}


def test_a_foreign_origin_is_refused(asgi_server):
    async def scenario():
        async with websockets.connect(f"{asgi_server.ws_url}/ws/ping/", origin="https://evil.example"):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus):
        run(scenario())


# --- frames a client should not send, and paths that lead nowhere -------------------------
ORIGIN = (b"origin", b"http://127.0.0.1")

# What each bad frame gets: 1003 unsupported data, 1007 invalid payload, 1009 message too big.
BAD_FRAMES = {
    "binary": ({"bytes_data": b"\x00\xff\x10"}, 1003),
    "text that is not JSON": ({"text_data": "resync please"}, 1007),
    "text that is not valid UTF-8": ({"text_data": "\udcff\udcfe"}, 1007),
    "JSON nested past the parser's recursion limit": ({"text_data": "[" * 1500 + "]" * 1500}, 1007),
    "JSON nested deeper than a client frame needs": ({"text_data": json.dumps({"message": [[[[["hi"]]]]]})}, 1007),
    "a frame over the size limit": ({"text_data": json.dumps({"message": "票" * 6000})}, 1009),
}


def socket_log(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "ticketing.consumers"]


def assert_one_quiet_log_line(caplog):
    lines = socket_log(caplog)
    assert len(lines) == 1, [record.getMessage() for record in lines]
    assert lines[0].levelno <= logging.WARNING and lines[0].exc_info is None
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def close_after(communicator: WebsocketCommunicator, frame: dict) -> dict:
    """Sends one frame on an open socket and returns what the server sent next."""
    await communicator.send_to(**frame)
    answer = await communicator.receive_output(timeout=5)
    await communicator.disconnect()
    return answer


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_a_bad_frame_closes_the_ping_socket_with_its_code_and_logs_one_line(frame, code, caplog):
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[ORIGIN])
        assert (await communicator.connect())[0]
        return await close_after(communicator, frame)

    with caplog.at_level(logging.INFO):
        answer = run(scenario())

    assert answer == {"type": "websocket.close", "code": code}
    assert_one_quiet_log_line(caplog)


def test_a_well_formed_frame_after_a_rejected_one_is_not_answered():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[ORIGIN])
        await communicator.connect()
        await communicator.send_to(bytes_data=b"\x00")
        await communicator.send_json_to({"message": "still there?"})
        answers = [await communicator.receive_output(timeout=5)]
        answers.append(await communicator.receive_nothing(timeout=0.5))
        await communicator.disconnect()
        return answers

    assert run(scenario()) == [{"type": "websocket.close", "code": 1003}, True]


def test_the_notification_socket_closes_on_every_bad_frame_with_its_code(transactional_db, caplog):
    client = Client()
    client.force_login(UserFactory())
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def one(frame: dict) -> dict:
        communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                             headers=[ORIGIN, (b"cookie", cookie.encode())])
        assert (await communicator.connect())[0]
        assert await communicator.receive_json_from(timeout=5) == {"unread": 0}
        return await close_after(communicator, frame)

    async def scenario():
        return {name: (await one(frame))["code"] for name, (frame, _code) in BAD_FRAMES.items()}

    with caplog.at_level(logging.INFO):
        codes = run(scenario())

    assert codes == {name: code for name, (_frame, code) in BAD_FRAMES.items()}
    assert len(socket_log(caplog)) == len(BAD_FRAMES)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", ["/ws/seatmap/abc/", "/ws/nowhere/", "/ws/"])
def test_an_unknown_websocket_path_is_refused_and_logged_once(path, caplog):
    async def scenario():
        communicator = WebsocketCommunicator(application, path, headers=[ORIGIN])
        return await communicator.connect()

    with caplog.at_level(logging.INFO):
        assert run(scenario()) == (False, 4404)
    assert_one_quiet_log_line(caplog)


def test_an_unknown_path_on_the_live_server_is_a_404_not_a_server_error(asgi_server, caplog):
    async def scenario():
        try:
            async with websockets.connect(f"{asgi_server.ws_url}/ws/seatmap/abc/", origin=asgi_server.url):
                return "connected"
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    with caplog.at_level(logging.INFO):
        assert run(scenario()) == 404
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_text_that_is_not_utf8_on_the_live_server_closes_with_1007(asgi_server, caplog):
    async def scenario():
        async with websockets.connect(f"{asgi_server.ws_url}/ws/ping/", origin=asgi_server.url) as ws:
            await ws.send(b"{\"message\": \"\xff\xfe\"}", text=True)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed as closed:
                return closed.rcvd.code
            return "answered"

    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="uvicorn.error"):
        assert run(scenario()) == 1007
    lines = [record for record in caplog.records if "UTF-8" in record.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and lines[0].exc_info is None
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
