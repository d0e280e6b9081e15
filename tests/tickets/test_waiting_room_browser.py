"""Two buyers in a hot sale's waiting room in real browsers: both wait, the sale starts, one is let in and
holds a seat on the map while the other watches their place, live; then the second is let in too."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.tickets.factories import seated_session
from tests.tickets.test_waiting_room import make_hot
from tickets import waiting_room
from tickets.models import Hold

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots_room")


def phone(browser, asgi_server):
    context = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


def shot(tab, screenshot, name: str) -> None:
    path = screenshot(tab, name)
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / path.name).write_bytes(path.read_bytes())


def test_two_buyers_wait_the_sale_starts_one_is_let_in_and_holds_the_other_sees_their_place(
        browser, asgi_server, screenshot, monkeypatch):
    session, _types = seated_session(rows=3, seats=8)
    session = make_hot(session, starts_in=-30, rate=1)
    start = session.sales_start.timestamp()
    # The room's clock, in the server's own process: just before the sale until the test says otherwise.
    now = {"t": start - 1.5}
    monkeypatch.setattr(waiting_room, "clock", lambda: now["t"])
    buyers = [UserFactory(), UserFactory()]
    contexts, tabs = [], []
    for buyer in buyers:
        context, tab = phone(browser, asgi_server)
        contexts.append(context)
        tabs.append(tab)
        errors = watch_errors(tab)
        log_in(tab, buyer.email)
        tab.goto(f"/sessions/{session.pk}/")
        expect(tab).to_have_url(re.compile(rf"/waiting-room/{session.pk}/$"))
        expect(tab.get_by_test_id("room-clock")).to_be_visible()  # in the queue, counting down to the start
        assert not errors, errors
    assert waiting_room.stats(session.pk)["waiting"] == 2
    shot(tabs[0], screenshot, "before-start")

    now["t"] = start + 1.0  # the sale has started: one second at 1 a second lets exactly one in
    for _ in range(100):
        urls = [tab.url for tab in tabs]
        if any("/sessions/" in url for url in urls):
            break
        tabs[0].wait_for_timeout(200)
    first = next(i for i, tab in enumerate(tabs) if "/sessions/" in tab.url)
    admitted, waiting = tabs[first], tabs[1 - first]

    expect(waiting.get_by_test_id("room-position")).to_have_text("1")
    shot(waiting, screenshot, "waiting-position")

    expect(admitted.get_by_test_id("room-admitted")).to_be_visible()
    expect(admitted.locator("#live-status")).to_have_class(re.compile(r"text-bg-success"))  # the socket let it in
    free = admitted.locator("[data-seat].free").first
    seat_id = int(free.get_attribute("data-seat"))
    free.click()
    expect(admitted.locator(f'[data-seat="{seat_id}"]')).to_have_class(re.compile(r"\bmine\b"))
    hold = Hold.objects.get()
    assert hold.user == buyers[first] and hold.seats.get().seat_id == seat_id
    shot(admitted, screenshot, "admitted-seatmap")

    # The other buyer cannot skip ahead: the session page sends them back to the room.
    assert waiting.evaluate("fetch('/sessions/%d/', {redirect: 'manual'}).then(r => r.type)" % session.pk) == \
        "opaqueredirect"
    now["t"] = start + 2.1  # their turn
    expect(waiting).to_have_url(re.compile(rf"/sessions/{session.pk}/$"), timeout=15_000)
    expect(waiting.get_by_test_id("room-admitted")).to_be_visible()
    for context in contexts:
        context.close()
