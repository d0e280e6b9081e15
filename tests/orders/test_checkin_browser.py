"""An admin at the door on a phone: today's events first, a search, and another day's ticket refused with its
date, then let in with the override button (the check-in API, through static/js/checkin.js)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from events.models import Event
from orders.models import CheckIn, ScanResult
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.flows import doors_open, move_sessions, paid_order

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_an_admin_finds_the_event_and_admits_another_days_ticket_with_the_override(page, screenshot):
    tonight = doors_open(paid_order(UserFactory(), seats=1))
    next_week = paid_order(UserFactory(), seats=1)
    day = timezone.localdate() + timedelta(days=7)
    move_sessions(next_week, start=timezone.make_aware(datetime.combine(day, time(19, 30))))
    Event.objects.filter(pk=tonight.event_id).update(title="今晚的话剧《茶馆》")
    Event.objects.filter(pk=next_week.event_id).update(title="下周的交响音乐会")
    admin = UserFactory(role=Role.ADMIN, email="boss@example.com")
    errors = watch_errors(page)

    log_in(page, "boss@example.com")
    page.goto("/checkin/")
    events = page.get_by_test_id("checkin-event")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("今晚的话剧《茶馆》")
    screenshot(page, "list-today-phone")
    page.get_by_test_id("filter-all").click()
    expect(events).to_have_count(2)
    expect(events.first.get_by_test_id("today-badge")).to_be_visible()
    screenshot(page, "list-all-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "list-all-desktop")
    page.set_viewport_size(PHONE)
    page.get_by_test_id("checkin-search").fill("交响")
    page.get_by_test_id("checkin-search").press("Enter")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("下周的交响音乐会")

    events.first.get_by_test_id("open-door").click()
    page.wait_for_url(f"**/checkin/{next_week.event_id}/")
    page.get_by_test_id("manual-code").fill(next_week.tickets.get().code)
    page.get_by_test_id("manual-submit").click()
    result = page.get_by_test_id("scan-result")
    expect(result).to_have_attribute("data-result", ScanResult.WRONG_DAY)
    expect(page.get_by_test_id("scan-message")).to_contain_text(
        f"此票为 {day.year}年{day.month}月{day.day}日 19:30 场次，不是今天的场次")
    screenshot(page, "refused-phone")
    assert not CheckIn.objects.exists()

    page.get_by_test_id("override-submit").click()
    expect(result).to_have_attribute("data-result", ScanResult.OK)
    expect(page.get_by_test_id("scan-message")).to_contain_text("管理员特批入场")
    expect(page.get_by_test_id("checked-in")).to_have_text("1")
    screenshot(page, "overridden-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "overridden-desktop")
    assert page.url.endswith(f"/checkin/{next_week.event_id}/")  # the JSON API answered; no page load
    assert CheckIn.objects.get().overridden_by == admin
    assert not errors, errors
