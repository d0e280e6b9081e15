"""Two buyers on one live seat map in real browsers; a general-admission purchase form on a phone."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from accounts.models import Role
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
    first = page.locator(f'[data-seat="{seat(session, "B", "1", 1)}"]')
    assert "¥280.00" in first.get_attribute("aria-label")

    first.click()
    expect(page.get_by_test_id("toast")).to_have_count(1)
    first.focus()
    page.keyboard.press("Enter")  # seats work from the keyboard too

    expect(page.get_by_test_id("toast")).to_have_count(2)
    expect(page.get_by_test_id("toast").last.get_by_role("link")).to_have_attribute(
        "href", f"/accounts/login/?next=%2Fsessions%2F{session.pk}%2F")
    assert errors == []


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
    page.get_by_test_id("ga-submit").click()

    expect(page.get_by_test_id("hold-item")).to_contain_text("Standard × 2")
    expect(page.get_by_test_id("stock-left").first).to_contain_text("48")  # the socket's count, no reload
    expect(page.get_by_test_id("hold-countdown")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    assert page.locator(f"#qty-{types['Standard'].pk}").input_value() == "0"
    screenshot(page, "ga-phone")

    page.get_by_test_id("hold-release").click()
    expect(page.get_by_test_id("hold-empty")).to_be_visible()
    assert not Hold.objects.filter(status=HoldStatus.ACTIVE).exists()
    assert errors == []


def test_the_map_zooms_pans_and_frees_a_held_seat_when_its_time_is_up(browser, asgi_server):
    session, _types = concert_hall()
    taken = seat(session, "B", "2", 8)
    hold = services.hold_create(user=UserFactory(), session=session, seat_ids=[taken])
    soon = timezone.now() + timedelta(seconds=4)
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
        expect(tab.locator(f'[data-seat="{taken}"]')).to_have_class(re.compile(r"\bfree\b"), timeout=8_000)
        assert errors == []
    finally:
        context.close()
