"""ticketing.push: messages reach the group in order, and a stalled channel layer never holds the caller."""

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

from tests.helpers.aio import run
from ticketing import push


def test_pushed_messages_reach_the_group_in_order():
    layer = get_channel_layer()

    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add("push-test", channel)
        return channel

    channel = run(join())
    for n in range(5):
        push.push("push-test", {"type": "test.message", "n": n})
    push.wait_sent()

    async def drain() -> list[int]:
        received = [(await layer.receive(channel))["n"] for _ in range(5)]
        await layer.group_discard("push-test", channel)
        return received

    assert run(drain()) == [0, 1, 2, 3, 4]


def test_a_stalled_channel_layer_does_not_hold_the_caller(monkeypatch):
    entered, release = threading.Event(), threading.Event()

    class StalledLayer:
        async def group_send(self, group, message):
            entered.set()
            while not release.is_set():  # Redis that does not answer
                await asyncio.sleep(0.01)

    monkeypatch.setattr(push, "get_channel_layer", StalledLayer)
    push.push("push-test", {"type": "test.message"})
    push.push("push-test", {"type": "test.message"})  # queued behind the stalled one; returns all the same

    assert entered.wait(10)
    assert push._sender.queue.unfinished_tasks == 2
    release.set()
    push.wait_sent()


def test_a_dead_channel_layer_is_left_alone_for_a_while(monkeypatch, caplog):
    sent = []

    class DeadLayer:
        async def group_send(self, group, message):
            sent.append(message)
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(push, "get_channel_layer", DeadLayer)
    with caplog.at_level(logging.WARNING, logger="ticketing.background"):
        for n in range(50):
            push.push("push-test", {"type": "test.message", "n": n})
        push.wait_sent()

    assert len(sent) == 1  # the rest were dropped without waiting on Redis again
    assert push._layer.skipped == 49
    assert len(caplog.records) == 1 and not caplog.records[0].exc_info
