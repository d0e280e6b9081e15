"""Websockets: the ping consumer echoes through the Redis channel layer."""

import asyncio
import json

import pytest
import websockets
from channels.testing.websocket import WebsocketCommunicator

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
