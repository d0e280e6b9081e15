"""A publisher builds a seat map in the browser: previews it (htmx, nothing saved), then saves it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tickets import services
from tickets.models import Seat, SeatMap
from tickets.services import TierData
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser


def fill_sections(tab, types):
    tab.fill("#id_name", "主厅 Main hall")
    tab.fill("#id_stage", "舞台")
    tab.fill("#id_sections-0-name", "池座")
    tab.select_option("#id_sections-0-ticket_type", str(types["Standard"].pk))
    tab.fill("#id_sections-0-rows", "8")
    tab.fill("#id_sections-0-seats", "20")
    tab.fill("#id_sections-0-aisles", "5, 15")
    tab.fill("#id_sections-0-row_types", "A-B:VIP")
    tab.fill("#id_sections-1-name", "楼座")
    tab.select_option("#id_sections-1-ticket_type", str(types["Student"].pk))
    tab.fill("#id_sections-1-rows", "5")
    tab.fill("#id_sections-1-seats", "22")
    tab.fill("#id_sections-1-aisles", "11")


def preview(tab):
    tab.locator("#seatmap-builder button.btn[name=preview]").click()
    tab.get_by_test_id("seatmap-preview").locator("svg").wait_for()


def test_publisher_previews_a_seat_map_then_saves_it(browser, asgi_server, page, screenshot):
    publisher = UserFactory(email="pub@example.com", role=Role.PUBLISHER)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=30)
    event = ApprovedEventFactory(publisher=publisher, title="周杰伦 嘉年华 世界巡回演唱会 北京站", start_time=start,
                                 end_time=start + timedelta(hours=3))
    def add(name, price, colour, *tiers):
        return services.ticket_type_create(actor=publisher, event=event, name=name, base_price=Decimal(price),
                                           colour=colour, tiers=tiers)

    types = {"VIP": add("VIP", 1280, "#c2185b", TierData(kind="demand", sold_percent=80, adjust_percent=20)),
             "Standard": add("Standard", 680, "#0d6efd",
                             TierData(kind="time", until=start - timedelta(days=7), adjust_percent=-20, label="早鸟")),
             "Student": add("Student", 280, "#198754")}
    builder = f"/publisher/events/{event.pk}/tickets/seatmaps/new/"

    desktop_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 1280, "height": 900})
    desktop = desktop_ctx.new_page()
    desktop.set_default_timeout(10_000)
    try:
        log_in(desktop, "pub@example.com")
        desktop.goto(builder)
        fill_sections(desktop, types)
        preview(desktop)
        assert desktop.url.endswith(builder)  # htmx drew the preview in place
        assert "270" in desktop.get_by_test_id("seat-counts").inner_text()
        assert not SeatMap.objects.exists()
        screenshot(desktop, "builder-desktop")
    finally:
        desktop_ctx.close()

    # On a phone: a mistake is listed, corrected, previewed and saved.
    log_in(page, "pub@example.com")
    page.goto(builder)
    fill_sections(page, types)
    page.fill("#id_sections-1-aisles", "40")
    page.locator("#seatmap-builder button.btn[name=preview]").click()
    page.get_by_test_id("seatmap-problems").wait_for()
    assert "楼座" in page.get_by_test_id("seatmap-problems").inner_text()
    page.fill("#id_sections-1-aisles", "11")
    preview(page)
    screenshot(page, "builder-phone")
    page.locator("button[name=save]").click()
    page.wait_for_url(f"**/publisher/events/{event.pk}/tickets/")
    seat_map = SeatMap.objects.get(event=event)
    assert Seat.objects.filter(seat_map=seat_map).count() == 270
    assert Seat.objects.filter(seat_map=seat_map, ticket_type=types["VIP"]).count() == 40
    assert page.get_by_test_id("seat-map").locator("svg").is_visible()

    services.session_create(actor=publisher, event=event, hall="主厅", start_time=event.start_time,
                            end_time=event.end_time, sales_start=timezone.now() - timedelta(hours=1),
                            sales_end=event.start_time, seat_map=seat_map)
    services.session_create(actor=publisher, event=event, name="加场", start_time=event.start_time,
                            end_time=event.end_time, sales_start=timezone.now() + timedelta(days=1),
                            sales_end=event.start_time, stock={types["Standard"].pk: 500, types["VIP"].pk: 50})
    page.reload()
    assert page.get_by_test_id("session").count() == 2
    screenshot(page, "manage-phone")
    page.goto(f"/publisher/events/{event.pk}/tickets/types/{types['Standard'].pk}/edit/")
    assert page.input_value("#id_tiers-0-label") == "早鸟"
    screenshot(page, "ticket-type-phone")
    page.goto(f"/publisher/events/{event.pk}/tickets/sessions/new/")
    assert page.locator("#id_seat_map").input_value() == str(seat_map.pk)
    assert page.get_by_test_id("ga-stock").is_hidden()  # counts only matter for general admission
    page.check("input[name=seating][value=ga]")
    assert page.get_by_test_id("ga-stock").is_visible()
    screenshot(page, "session-phone")
    desktop_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 1280, "height": 900})
    desktop = desktop_ctx.new_page()
    try:
        log_in(desktop, "pub@example.com")
        desktop.goto(f"/publisher/events/{event.pk}/tickets/")
        screenshot(desktop, "manage-desktop")
    finally:
        desktop_ctx.close()
