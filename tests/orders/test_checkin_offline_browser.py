"""Two gates lose the network: each has downloaded tonight's session, checks codes on the phone (a real one, a
forged one, a refunded one, a short code, the same code again, next week's ticket), queues the scans, and sends
them when the network is back. The ticket both gates let in is a conflict the publisher sees."""

import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import CheckIn, CheckinConflict, EventStaff, Scan, ScanResult, Ticket, TicketStatus
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.flows import doors_open, move_sessions, paid_order
from tests.tickets.factories import ga_session

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]

SHOTS = Path("/tmp/shots_offline")
PHONE = {"width": 390, "height": 844}
# What Chromium itself logs for requests it cannot make while offline (not the page's errors).
OFFLINE_NOISE = re.compile(r"ERR_INTERNET_DISCONNECTED|WebSocket connection|Failed to load resource")


def shot(tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def scan(tab, code: str, expected: str) -> None:
    tab.get_by_test_id("manual-code").fill(code)
    tab.get_by_test_id("manual-submit").click()
    expect(tab.get_by_test_id("scan-result")).to_have_attribute("data-result", expected)


def open_door(tab, event_id: int, email: str, gate: str) -> None:
    log_in(tab, email)
    tab.goto(f"/checkin/{event_id}/")
    expect(tab.get_by_test_id("offline-card")).to_be_visible()
    tab.get_by_test_id("gate-name").fill(gate)
    tab.get_by_test_id("download").click()
    expect(tab.get_by_test_id("downloaded-at")).to_have_attribute("data-count", re.compile(r"\d+"))
    # The service worker controls the page (it keeps the page and its assets for a reload offline).
    tab.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def test_two_gates_check_in_offline_sync_when_back_and_the_publisher_sees_the_conflict(browser, asgi_server):
    order = doors_open(paid_order(UserFactory(), seats=3))
    event = order.event
    real, refunded, by_short = order.tickets.order_by("pk")
    Ticket.objects.filter(pk=refunded.pk).update(status=TicketStatus.VOID, seat_claim=None)
    next_week_session, _types = ga_session(event=event, stock={"Floor": 20})
    next_week = paid_order(UserFactory(), ga=1, session=next_week_session)
    day = timezone.localdate() + timedelta(days=7)
    move_sessions(next_week, start=timezone.make_aware(datetime.combine(day, time(19, 30))))
    forged = real.code[:-6] + ("AAAAAA" if not real.code.endswith("AAAAAA") else "BBBBBB")
    south_staff = UserFactory(email="south@example.com", display_name="南门小王")
    EventStaff.objects.create(event=event, user=south_staff)
    event.publisher.email = "boss@example.com"
    event.publisher.save(update_fields=["email"])

    north = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE)
    south = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport=PHONE)
    try:
        gate_a = north.new_page()
        gate_b = south.new_page()
        for tab in (gate_a, gate_b):
            tab.set_default_timeout(15_000)
        errors_a, errors_b = watch_errors(gate_a), watch_errors(gate_b)
        open_door(gate_a, event.pk, "boss@example.com", "北门")
        expect(gate_a.get_by_test_id("downloaded-at")).to_have_attribute("data-count", "2")  # not the refunded one
        expect(gate_a.get_by_test_id("net-state")).to_have_attribute("data-state", "online")
        shot(gate_a, "online-downloaded")
        open_door(gate_b, event.pk, "south@example.com", "南门")

        # --- the network goes; gate A's page even reloads, from the service worker ---
        north.set_offline(True)
        gate_a.reload()
        expect(gate_a.get_by_test_id("net-state")).to_have_attribute("data-state", "offline")
        gate_a.get_by_test_id("gate-name").fill("北门")
        expect(gate_a.get_by_test_id("downloaded-at")).to_have_attribute("data-count", "2")

        scan(gate_a, real.code, ScanResult.OK)
        expect(gate_a.get_by_test_id("scan-result")).to_have_attribute("data-local", "1")
        scan(gate_a, forged, ScanResult.FORGED)
        scan(gate_a, refunded.code, ScanResult.VOID)
        short = by_short.short_code
        scan(gate_a, f"{short[:5].lower()}-{short[5:].lower()}", ScanResult.OK)  # typed, lower case, with a dash
        scan(gate_a, real.code, ScanResult.ALREADY_USED)
        expect(gate_a.get_by_test_id("scan-result")).to_have_attribute("data-local", "1")
        scan(gate_a, next_week.tickets.get().code, ScanResult.WRONG_DAY)
        expect(gate_a.get_by_test_id("scan-message")).to_contain_text(f"{day:%Y-%m-%d} 19:30")
        expect(gate_a.get_by_test_id("queue-count")).to_have_text("6")
        shot(gate_a, "offline-queued")
        assert not Scan.objects.exists() and not CheckIn.objects.exists()  # nothing reached the server

        # Gate B, offline too, lets the same ticket in.
        south.set_offline(True)
        expect(gate_b.get_by_test_id("net-state")).to_have_attribute("data-state", "offline")
        scan(gate_b, real.code, ScanResult.OK)
        expect(gate_b.get_by_test_id("queue-count")).to_have_text("1")

        # --- back online: gate A sends its queue by itself ---
        north.set_offline(False)
        expect(gate_a.get_by_test_id("queue-count")).to_have_text("0")
        expect(gate_a.get_by_test_id("last-sync")).to_have_attribute("data-at", re.compile(r"^\d{4}-"))
        expect(gate_a.get_by_test_id("net-state")).to_have_attribute("data-state", "online")
        shot(gate_a, "online-synced")
        assert Scan.objects.filter(by=event.publisher).count() == 6
        admitted = CheckIn.objects.order_by("ticket_id")
        assert [c.ticket_id for c in admitted] == [real.pk, by_short.pk]
        assert all(c.offline and c.gate == "北门" and c.by == event.publisher for c in admitted)
        assert set(Scan.objects.filter(by=event.publisher).values_list("result", flat=True)) == {
            ScanResult.OK, ScanResult.FORGED, ScanResult.VOID, ScanResult.ALREADY_USED, ScanResult.WRONG_DAY}

        # Gate B comes back and sends with the button: its admission is a conflict.
        south.set_offline(False)
        gate_b.get_by_test_id("sync-now").click()
        expect(gate_b.get_by_test_id("offline-note")).to_have_attribute("data-conflicts", "1")
        expect(gate_b.get_by_test_id("queue-count")).to_have_text("0")
        conflict = CheckinConflict.objects.get()
        assert (conflict.ticket_id, conflict.scan.by, conflict.scan.gate) == (real.pk, south_staff, "南门")
        assert conflict.checkin.gate == "北门"
        assert CheckIn.objects.count() == 2

        # Sending again changes nothing (the same nonces).
        gate_a.get_by_test_id("sync-now").click()
        assert Scan.objects.count() == 7

        # --- the publisher reads the conflict ---
        gate_a.goto(f"/checkin/{event.pk}/")
        expect(gate_a.get_by_test_id("conflict-count")).to_have_text("1")
        gate_a.get_by_test_id("conflicts-link").click()
        report = gate_a.get_by_test_id("conflict")
        expect(report).to_have_count(1)
        expect(report.get_by_test_id("conflict-first")).to_contain_text("北门")
        expect(report.get_by_test_id("conflict-second")).to_contain_text("南门小王")
        expect(report.get_by_test_id("conflict-second")).to_contain_text("南门")
        shot(gate_a, "conflicts")

        assert not [e for e in errors_a + errors_b if not OFFLINE_NOISE.search(e)], errors_a + errors_b
    finally:
        north.close()
        south.close()
