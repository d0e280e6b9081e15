"""A buyer checks out held seats, pays (a double click charges once) and opens the QR e-ticket; door staff
check tickets in by typing the code (with and without JavaScript) and with the camera; a second check-in
of the same ticket is refused."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role
from orders import services
from orders.models import CheckIn, LedgerEntry, LedgerKind, Order, OrderStatus, Payment, Wallet
from orders.views import qr_png
from tests.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tests.orders.flows import doors_open
from tests.tickets.factories import seat_ids, seated_session
from tickets.services import hold_create
from tests.helpers.browser import log_in, watch_errors

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def both_sizes(tab, screenshot, name: str) -> None:
    screenshot(tab, f"{name}-desktop")
    tab.set_viewport_size(PHONE)
    screenshot(tab, f"{name}-phone")
    tab.set_viewport_size(DESKTOP)


def fake_camera_video(code: str, path) -> None:
    """A Y4M clip of the ticket's QR code, for Chromium's fake camera (--use-file-for-fake-video-capture)."""
    width, height = 640, 480
    qr = Image.open(io.BytesIO(qr_png(code))).convert("L").resize((400, 400), Image.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr, ((width - 400) // 2, (height - 400) // 2))
    chroma = bytes([128]) * (width // 2 * height // 2)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


def test_a_buyer_pays_sees_the_qr_and_the_door_admits_each_ticket_once(browser, asgi_server, screenshot, tmp_path):
    start = timezone.now() + timedelta(days=10)
    event = ApprovedEventFactory(publisher=UserFactory(role=Role.PUBLISHER), title="周末交响音乐会",
                                 start_time=start, end_time=start + timedelta(hours=3))
    session, _types = seated_session(event=event, rows=3, seats=8, price=280)
    buyer = UserFactory(email="buyer@example.com", display_name="小明")
    UserFactory(email="door@example.com", display_name="门卫老王")
    services.staff_add(actor=event.publisher, event=event, login="door@example.com")
    hold_create(user=buyer, session=session, seat_ids=seat_ids(session)[:3])

    buyer_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=DESKTOP)
    door_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE, has_touch=True,
                                   is_mobile=True, device_scale_factor=2)
    plain_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE,
                                    java_script_enabled=False)
    tab, door_tab, plain = buyer_ctx.new_page(), door_ctx.new_page(), plain_ctx.new_page()
    errors = watch_errors(tab) + watch_errors(door_tab)
    for t in (tab, door_tab, plain):
        t.set_default_timeout(10_000)
    try:
        # --- the buyer checks out the held seats from the session page and pays ---------------
        log_in(tab, "buyer@example.com")
        tab.goto(f"/sessions/{session.pk}/")
        expect(tab.get_by_test_id("checkout")).to_be_visible()
        screenshot(tab, "session-checkout")
        tab.get_by_test_id("checkout").click()
        tab.wait_for_url(re.compile(r"/orders/\d+/$"))
        order = Order.objects.get(user=buyer)
        countdown = tab.get_by_test_id("order-countdown")
        expect(countdown).to_have_text(re.compile(r"^(09:[0-5]\d|10:00)$"))
        first = countdown.inner_text()
        expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
        assert tab.get_by_test_id("order-line").count() == 3
        assert "840.00" in tab.get_by_test_id("order-total").inner_text()
        both_sizes(tab, screenshot, "order-pending")

        tab.get_by_test_id("pay-points").dblclick()  # an impatient double click
        expect(tab.get_by_test_id("eticket")).to_have_count(3)
        expect(tab.get_by_test_id("order-status")).to_have_text(re.compile("Paid|已支付"))
        assert Payment.objects.filter(order=order).count() == 1
        assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).count() == 1
        assert Wallet.objects.get(user=buyer).balance == Decimal("5000") - Decimal("840")
        tab.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=eticket-qr]'))"
                              ".every((img) => img.complete && img.naturalWidth > 100)")  # the PNGs loaded
        both_sizes(tab, screenshot, "order-paid")

        tab.get_by_test_id("eticket").first.get_by_role("link").last.click()
        tab.wait_for_url(re.compile(r"/tickets/mine/\d+/$"))
        tab.wait_for_function("() => document.querySelector('[data-testid=eticket-qr]').naturalWidth >= 300")
        both_sizes(tab, screenshot, "ticket")
        codes = [t.code for t in order.tickets.order_by("pk")]
        assert tab.get_by_test_id("eticket-code").text_content().strip() == codes[0]

        doors_open(order)  # the night of the show: the door admits its tickets
        # --- door staff (a customer account named by the publisher) type the code on a phone ---
        log_in(door_tab, "door@example.com")
        door_tab.goto("/checkin/")
        door_tab.get_by_test_id("open-door").click()
        door_tab.wait_for_url(f"**/checkin/{event.pk}/")
        expect(door_tab.get_by_test_id("camera-toggle")).to_be_enabled()
        screenshot(door_tab, "door-ready")
        door_tab.get_by_test_id("manual-code").fill(codes[0])
        door_tab.get_by_test_id("manual-submit").click()
        result = door_tab.get_by_test_id("scan-result")
        expect(result).to_have_attribute("data-result", "ok")
        expect(result).to_contain_text("A")  # the seat, shown big
        expect(door_tab.get_by_test_id("checked-in")).to_have_text("1")  # the counts refreshed
        assert door_tab.url.endswith(f"/checkin/{event.pk}/")  # the JSON API answered; no page load
        screenshot(door_tab, "door-admitted")

        door_tab.get_by_test_id("manual-code").fill(codes[0])
        door_tab.get_by_test_id("manual-submit").click()
        expect(result).to_have_attribute("data-result", "already_used")
        expect(door_tab.get_by_test_id("scan-message")).to_contain_text("门卫老王")
        screenshot(door_tab, "door-refused")

        door_tab.get_by_test_id("manual-code").fill(codes[0][:-6] + "abcdef")
        door_tab.get_by_test_id("manual-submit").click()
        expect(result).to_have_attribute("data-result", "forged")

        # --- the same without JavaScript: the form posts to the page ----------------------------
        log_in(plain, "door@example.com")
        plain.goto(f"/checkin/{event.pk}/")
        plain.get_by_test_id("manual-code").fill(codes[1])
        plain.get_by_test_id("manual-submit").click()
        expect(plain.get_by_test_id("scan-result")).to_have_attribute("data-result", "ok")
        plain.get_by_test_id("manual-code").fill(codes[1])
        plain.get_by_test_id("manual-submit").click()
        expect(plain.get_by_test_id("scan-result")).to_have_attribute("data-result", "already_used")
        screenshot(plain, "door-no-js-refused")

        # --- the buyer's ticket page now says it was used ------------------------------------------
        tab.reload()
        expect(tab.get_by_test_id("eticket-used")).to_contain_text("门卫老王")
        assert CheckIn.objects.count() == 2
        assert not errors, errors
    finally:
        buyer_ctx.close()
        door_ctx.close()
        plain_ctx.close()

    # --- the camera: Chromium's fake camera films the third ticket's QR code ----------------------
    video = tmp_path / "qr.y4m"
    fake_camera_video(codes[2], video)
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])
    try:
        ctx = camera_browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE, has_touch=True,
                                         is_mobile=True, device_scale_factor=2)
        cam = ctx.new_page()
        cam.set_default_timeout(15_000)
        errors = watch_errors(cam)
        log_in(cam, "door@example.com")
        cam.goto(f"/checkin/{event.pk}/")
        cam.get_by_test_id("camera-toggle").click()
        expect(cam.get_by_test_id("scan-result")).to_have_attribute("data-result", "ok")
        cam.wait_for_timeout(3000)  # the code stays in front of the camera: still one scan, still green
        expect(cam.get_by_test_id("scan-result")).to_have_attribute("data-result", "ok")
        expect(cam.get_by_test_id("checked-in")).to_have_text("3")
        screenshot(cam, "door-camera")
        cam.get_by_test_id("camera-toggle").click()  # stop
        assert not errors, errors
    finally:
        camera_browser.close()
    order.refresh_from_db()
    assert order.status == OrderStatus.USED and CheckIn.objects.count() == 3


def test_a_buyer_pays_with_the_sandbox_provider_through_its_signed_callback(browser, asgi_server, screenshot):
    session, _types = seated_session(price=199)
    buyer = UserFactory(email="sandbox@example.com")
    hold = hold_create(user=buyer, session=session, seat_ids=seat_ids(session)[:1])
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE)
    tab = ctx.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        log_in(tab, "sandbox@example.com")
        tab.goto(f"/orders/{order.pk}/")
        tab.get_by_test_id("pay-sandbox").click()
        tab.wait_for_url(f"**/payments/sandbox/{order.number}/")
        expect(tab.get_by_test_id("sandbox-amount")).to_have_text("¥199.00")
        screenshot(tab, "sandbox")
        with tab.expect_response("**/api/payments/callback/sandbox") as callback:
            tab.get_by_test_id("sandbox-confirm").click()
        assert callback.value.status == 200
        tab.wait_for_url(f"**/orders/{order.pk}/")
        expect(tab.get_by_test_id("eticket")).to_have_count(1)
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID and order.payments.get().transaction_id.startswith("SBX-")
        assert not errors, errors
    finally:
        ctx.close()
