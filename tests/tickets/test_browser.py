"""Two buyers on one live seat map in real browsers; the map and its bottom bar on a phone; a
general-admission purchase form on a phone."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from accounts.models import Role
from orders.models import Order, OrderStatus
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, ticket_types
from tickets import services
from tickets.models import Hold, HoldStatus, PriceTier, Seat, Session, SessionSeat
from tests.helpers.browser import log_in, watch_errors

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def concert_hall() -> tuple[Session, dict]:
    """A hall with a VIP section in front and a standard one behind, on sale now."""
    start = timezone.now() + timedelta(days=14)
    event = ApprovedEventFactory(publisher=UserFactory(role=Role.PUBLISHER), title="周末交响音乐会",
                                 start_time=start, end_time=start + timedelta(hours=3))
    types = {**ticket_types(event, {"VIP": 680}, colour="#d63384"),
             **ticket_types(event, {"Standard": 280}, colour="#0d6efd")}
    layout = {"stage": "舞台", "sections": [
        {"name": "VIP", "ticket_type": types["VIP"].pk, "rows": 3, "seats": 14, "first_row": "A", "aisles": [7]},
        {"name": "B", "ticket_type": types["Standard"].pk, "rows": 6, "seats": 20, "first_row": "1",
         "aisles": [5, 15]}]}
    seat_map = services.seat_map_create(actor=event.publisher, event=event, name="Hall", layout=layout)
    session = services.session_create(actor=event.publisher, event=event, start_time=start,
                                       end_time=start + timedelta(hours=3), sales_start=timezone.now() - timedelta(hours=1),
                                       sales_end=start, hall="音乐厅", seat_map=seat_map)
    return session, types


def seat(session, section: str, row: str, number: int) -> int:
    return Seat.objects.get(seat_map=session.seat_map, section=section, row=row, number=number).pk


def label_in_chinese(seat_id: int) -> str:
    with translation.override("zh-hans"):
        return str(Seat.objects.get(pk=seat_id).label)


def open_map(tab, session):
    tab.goto(f"/sessions/{session.pk}/")
    expect(tab.locator("#live-status")).to_have_class(re.compile(r"text-bg-success"))  # the socket is up
    expect(tab.locator("[data-seat]").first).to_be_visible()


def phone_context(browser, asgi_server):
    return browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE, has_touch=True,
                               is_mobile=True, device_scale_factor=2)


def screenshots(tab, screenshot, name: str) -> None:
    """The whole page, and the screen as the buyer sees it there (where the bottom bar sticks)."""
    path = screenshot(tab, name)
    tab.screenshot(path=str(path.with_name(f"{path.stem}-screen.png")))


def assert_on_screen(tab, locator) -> None:
    """The element is wholly inside the browser's viewport where it is now scrolled."""
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    assert box["y"] >= 0 and box["y"] + box["height"] <= tab.viewport_size["height"], box


def assert_shown_in_map(tab, locator) -> None:
    """The element's centre is inside the visible part of the seat map (not panned or clipped away)."""
    box, canvas = locator.bounding_box(), tab.get_by_test_id("seatmap").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    assert canvas["x"] < cx < canvas["x"] + canvas["width"] and canvas["y"] < cy < canvas["y"] + canvas["height"]


def test_a_seat_one_buyer_takes_turns_held_on_the_other_buyers_map_without_reload(browser, asgi_server, screenshot):
    session, _types = concert_hall()
    front, back = seat(session, "VIP", "A", 5), seat(session, "B", "3", 10)
    UserFactory(email="alice@example.com")
    UserFactory(email="bob@example.com")
    sold_to = UserFactory()
    sold = services.hold_create(user=sold_to, session=session, seat_ids=[seat(session, "VIP", "B", 8),
                                                                          seat(session, "VIP", "B", 9)])
    services.holds_consume(user=sold_to, hold_ids=[sold.pk])

    alice_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=DESKTOP)
    bob_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    alice, bob = alice_ctx.new_page(), bob_ctx.new_page()
    errors = watch_errors(alice) + watch_errors(bob)
    try:
        for tab, email in ((alice, "alice@example.com"), (bob, "bob@example.com")):
            tab.set_default_timeout(10_000)
            log_in(tab, email)
            open_map(tab, session)
        expect(bob.locator(f'[data-seat="{seat(session, "VIP", "B", 8)}"]')).to_have_class(re.compile(r"\bsold\b"))

        alice.locator(f'[data-seat="{front}"]').click()

        # Alice sees it as hers, with her hold counting down …
        expect(alice.locator(f'[data-seat="{front}"]')).to_have_class(re.compile(r"\bmine\b"))
        expect(alice.get_by_test_id("hold-item")).to_contain_text(label_in_chinese(front))
        expect(alice.get_by_test_id("hold-countdown")).to_have_text(re.compile(r"^(09:5\d|10:00)$"))
        # … and Bob's map, never reloaded, shows it held by someone else.
        expect(bob.locator(f'[data-seat="{front}"]')).to_have_class(re.compile(r"\bheld\b"))
        assert "mine" not in bob.locator(f'[data-seat="{front}"]').get_attribute("class")

        # Bob cannot take it (it is aria-disabled for him: force the click) and is told so.
        bob.locator(f'[data-seat="{front}"]').click(force=True)
        expect(bob.get_by_test_id("toast")).to_contain_text(label_in_chinese(front))

        # Bob takes another seat from his phone; Alice sees it go.
        bob.locator("[data-zoom=in]").click()
        bob.locator(f'[data-seat="{back}"]').scroll_into_view_if_needed()
        bob.locator(f'[data-seat="{back}"]').tap()
        expect(bob.locator(f'[data-seat="{back}"]')).to_have_class(re.compile(r"\bmine\b"))
        expect(bob.get_by_test_id("hold-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        expect(alice.locator(f'[data-seat="{back}"]')).to_have_class(re.compile(r"\bheld\b"))
        assert Hold.objects.filter(user__email="bob@example.com", status=HoldStatus.ACTIVE).count() == 1

        screenshot(alice, "desktop")
        screenshot(bob, "phone")
        bob.locator("[data-zoom=in]").click()
        screenshot(bob, "phone-zoomed")

        # Alice lets go of her seat by clicking it again: free for both.
        alice.locator(f'[data-seat="{front}"]').click()
        expect(alice.locator(f'[data-seat="{front}"]')).to_have_class(re.compile(r"\bfree\b"))
        expect(alice.get_by_test_id("hold-empty")).to_be_visible()
        expect(bob.locator(f'[data-seat="{front}"]')).to_have_class(re.compile(r"\bfree\b"))
        assert errors == []
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_a_visitor_who_clicks_a_seat_is_asked_to_log_in(page, asgi_server):
    session, _types = concert_hall()
    errors = watch_errors(page)
    open_map(page, session)
    first = page.locator(f'[data-seat="{seat(session, "B", "1", 10)}"]')  # in view: a phone opens zoomed on B
    assert "¥280.00" in first.get_attribute("aria-label")

    first.click()
    expect(page.get_by_test_id("toast")).to_have_count(1)
    first.focus()
    page.keyboard.press("Enter")  # seats work from the keyboard too

    expect(page.get_by_test_id("toast")).to_have_count(2)
    expect(page.get_by_test_id("toast").last.get_by_role("link")).to_have_attribute(
        "href", f"/accounts/login/?next=%2Fsessions%2F{session.pk}%2F")
    assert errors == []


def test_a_phone_opens_the_map_zoomed_on_the_roomiest_section_with_seats_a_finger_can_hit(browser, asgi_server,
                                                                                          screenshot):
    session, _types = concert_hall()
    context = phone_context(browser, asgi_server)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        open_map(tab, session)
        middle = tab.locator(f'[data-seat="{seat(session, "B", "3", 10)}"]')

        # Section B has the most free seats: the map opens on it, each seat at least 24 px to tap.
        box = middle.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, box
        assert_shown_in_map(tab, middle)
        for zoom in ("in", "out", "reset"):
            expect(tab.locator(f"[data-zoom={zoom}]")).to_be_visible()
        screenshots(tab, screenshot, "phone-initial")

        # "Whole map" still shows everything, at a size nobody could tap.
        tab.locator("[data-zoom=reset]").tap()
        assert middle.bounding_box()["width"] < 24
        tab.locator("[data-zoom=in]").tap()
        assert middle.bounding_box()["width"] > box["width"] * 0.5
        assert errors == []
    finally:
        context.close()


def test_on_a_phone_the_bottom_bar_keeps_the_chosen_seats_and_the_submit_button_in_view_and_checks_out(
        browser, asgi_server, screenshot):
    session, _types = concert_hall()
    buyer = UserFactory(email="erin@example.com")
    first, second = seat(session, "B", "3", 10), seat(session, "B", "3", 11)
    context = phone_context(browser, asgi_server)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        log_in(tab, "erin@example.com")
        open_map(tab, session)
        submit = tab.get_by_test_id("bar-checkout")
        expect(submit).to_have_text("提交订单")
        expect(submit).to_be_disabled()  # nothing chosen yet
        assert_on_screen(tab, submit)
        tab.get_by_test_id("legend").evaluate("el => el.scrollIntoView({block: 'start', behavior: 'instant'})")
        assert tab.evaluate("window.scrollY") > 300
        assert_on_screen(tab, submit)
        tab.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")

        tab.locator(f'[data-seat="{first}"]').tap()
        tab.locator(f'[data-seat="{second}"]').tap()

        bar = tab.get_by_test_id("hold-bar")
        expect(bar.get_by_test_id("bar-count")).to_have_text("已选 2 张")
        expect(bar.get_by_test_id("bar-total")).to_have_text("¥560.00")
        expect(bar.get_by_test_id("bar-items")).to_contain_text(label_in_chinese(first))
        expect(bar.get_by_test_id("bar-items")).to_contain_text(label_in_chinese(second))
        expect(bar.get_by_test_id("bar-countdown")).to_have_text(re.compile(r"^(09:5\d|10:00)$"))
        expect(submit).to_be_enabled()
        tab.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        assert_on_screen(tab, submit)
        screenshots(tab, screenshot, "phone-two-seats")
        tab.get_by_test_id("legend").evaluate("el => el.scrollIntoView({block: 'start', behavior: 'instant'})")
        assert tab.evaluate("window.scrollY") > 300
        assert_on_screen(tab, submit)
        screenshots(tab, screenshot, "phone-legend")

        submit.tap()
        tab.wait_for_url(re.compile(r"/orders/\d+/$"))
        order = Order.objects.get(user=buyer)
        assert order.status == OrderStatus.PENDING and str(order.total) == "560.00"
        expect(tab.get_by_test_id("order-line")).to_have_count(2)
        assert errors == []
    finally:
        context.close()


def test_on_a_desktop_the_whole_map_shows_and_the_side_column_checks_out(browser, asgi_server, screenshot):
    session, _types = concert_hall()
    buyer = UserFactory(email="fay@example.com")
    context = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        log_in(tab, "fay@example.com")
        open_map(tab, session)
        assert tab.get_by_test_id("seatmap-svg").get_attribute("viewBox").startswith("0 0 ")  # all of it
        expect(tab.get_by_test_id("hold-bar")).to_be_hidden()
        expect(tab.locator("[data-zoom=reset]")).to_be_disabled()

        tab.locator(f'[data-seat="{seat(session, "VIP", "A", 5)}"]').click()
        expect(tab.get_by_test_id("hold-total")).to_have_text("¥680.00")
        screenshot(tab, "desktop")
        tab.get_by_test_id("checkout").click()
        tab.wait_for_url(re.compile(r"/orders/\d+/$"))
        assert str(Order.objects.get(user=buyer).total) == "680.00"
        assert errors == []
    finally:
        context.close()


def test_general_admission_on_a_phone_holds_with_the_form_and_counts_down(page, asgi_server, screenshot):
    session, types = ga_session(stock={"Standard": 50, "VIP": 10}, prices={"Standard": 180, "VIP": 520},
                                per_user_limit=4)
    PriceTier.objects.create(ticket_type=types["Standard"], kind="time", adjust_percent=-20,
                             until=timezone.now() + timedelta(days=3))
    PriceTier.objects.create(ticket_type=types["VIP"], kind="demand", sold_percent=80, adjust_percent=25)
    UserFactory(email="carol@example.com")
    errors = watch_errors(page)
    log_in(page, "carol@example.com")
    page.goto(f"/events/{session.event_id}/")
    expect(page.get_by_test_id("tier")).to_have_count(2)
    page.get_by_test_id("event-sessions").scroll_into_view_if_needed()
    screenshot(page, "event-page")
    page.get_by_test_id("session-link").click()
    page.wait_for_url(f"**/sessions/{session.pk}/")
    expect(page.locator("#live-status")).to_have_class(re.compile(r"text-bg-success"))

    page.select_option(f"#qty-{types['Standard'].pk}", "2")
    bar = page.get_by_test_id("hold-bar")
    expect(bar.get_by_test_id("bar-count")).to_have_text("已选 2 张")
    expect(bar.get_by_test_id("bar-total")).to_have_text("¥288.00")  # early bird: 2 × ¥144
    assert_on_screen(page, bar.get_by_test_id("bar-hold"))
    screenshots(page, screenshot, "ga-phone-chosen")
    bar.get_by_test_id("bar-hold").click()

    expect(page.get_by_test_id("hold-item")).to_contain_text("Standard × 2")
    expect(bar.get_by_test_id("bar-items")).to_have_text("Standard × 2")
    expect(bar.get_by_test_id("bar-checkout")).to_be_visible()
    expect(page.get_by_test_id("stock-left").first).to_contain_text("48")  # the socket's count, no reload
    expect(page.get_by_test_id("hold-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    assert page.locator(f"#qty-{types['Standard'].pk}").input_value() == "0"
    screenshots(page, screenshot, "ga-phone")

    page.get_by_test_id("hold-release").click()
    expect(page.get_by_test_id("hold-empty")).to_be_visible()
    assert not Hold.objects.filter(status=HoldStatus.ACTIVE).exists()
    assert errors == []


def test_the_map_zooms_pans_and_frees_a_held_seat_when_its_time_is_up(browser, asgi_server):
    session, _types = concert_hall()
    taken = seat(session, "B", "2", 8)
    hold = services.hold_create(user=UserFactory(), session=session, seat_ids=[taken])
    soon = timezone.now() + timedelta(seconds=12)  # time to log in and open the map on a busy machine
    Hold.objects.filter(pk=hold.pk).update(expires_at=soon)
    SessionSeat.objects.filter(hold=hold).update(held_until=soon)
    UserFactory(email="dan@example.com")
    context = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        log_in(tab, "dan@example.com")
        open_map(tab, session)
        svg = tab.get_by_test_id("seatmap-svg")
        whole = svg.get_attribute("viewBox")
        expect(tab.locator(f'[data-seat="{taken}"]')).to_have_class(re.compile(r"\bheld\b"))

        box = svg.bounding_box()
        tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tab.mouse.wheel(0, -300)
        zoomed = svg.get_attribute("viewBox")
        assert zoomed != whole and float(zoomed.split()[2]) < float(whole.split()[2])

        # A drag that starts on a seat moves the map and holds nothing.
        start = tab.locator(f'[data-seat="{seat(session, "B", "4", 10)}"]').bounding_box()
        tab.mouse.move(start["x"] + 5, start["y"] + 5)
        tab.mouse.down()
        tab.mouse.move(start["x"] + 120, start["y"] + 60, steps=8)
        tab.mouse.up()
        assert svg.get_attribute("viewBox") != zoomed
        tab.locator("[data-zoom=reset]").click()
        assert svg.get_attribute("viewBox") == whole
        assert not Hold.objects.filter(user__email="dan@example.com").exists()

        # Nobody announces the expiry: the page frees the seat on time by itself.
        expect(tab.locator(f'[data-seat="{taken}"]')).to_have_class(re.compile(r"\bfree\b"), timeout=15_000)
        assert errors == []
    finally:
        context.close()


def test_a_sale_that_opens_in_a_moment_counts_down_and_opens_by_itself(page, asgi_server, screenshot):
    session, types = ga_session(stock={"Standard": 10}, prices={"Standard": 180})
    Session.objects.filter(pk=session.pk).update(sales_start=timezone.now() + timedelta(seconds=5))
    UserFactory(email="dave@example.com")
    errors = watch_errors(page)
    log_in(page, "dave@example.com")
    page.goto(f"/sessions/{session.pk}/")

    countdown = page.get_by_test_id("sale-countdown")
    expect(countdown).to_have_text(re.compile(r"^00:0[0-5]$"))
    expect(page.get_by_test_id("bar-hold")).to_be_disabled()
    screenshot(page, "sale-countdown")

    # At zero the page asks the server again, which now shows the sale open: no click, no reload by hand.
    expect(page.get_by_test_id("sale-status")).to_have_text("售票中", timeout=15_000)
    expect(page.get_by_test_id("sale-countdown")).to_have_count(0)
    page.select_option(f"#qty-{types['Standard'].pk}", "1")
    page.get_by_test_id("hold-bar").get_by_test_id("bar-hold").click()
    expect(page.get_by_test_id("hold-item")).to_contain_text("Standard × 1")
    assert errors == []
