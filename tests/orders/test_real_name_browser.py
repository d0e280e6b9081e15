"""A real-name order on a phone, in Chinese: one ticket for a saved attendee picked from the list, one for a
person typed in (a typo in the ID number is caught first), then paid; the new person is saved for next time."""

import re

import pytest
from playwright.sync_api import expect

from orders import services
from orders.models import OrderStatus, SavedAttendee
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.factories import held

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_buyer_names_two_attendees_one_picked_one_typed_and_pays(page, asgi_server, screenshot):
    buyer = UserFactory(email="lei@example.com")
    services.saved_attendee_add(user=buyer, name="李雷", id_number="110101199001011237")
    order = services.order_create(user=buyer, hold_ids=[held(buyer, ga={"Standard": 2}, real_name=True).pk])
    errors = watch_errors(page)
    log_in(page, "lei@example.com")
    page.goto(f"/orders/{order.pk}/")

    tickets = page.get_by_test_id("attendee")
    expect(tickets).to_have_count(2)
    tickets.nth(0).get_by_label("常用观演人").select_option(label="李雷 · 110***********1237")
    tickets.nth(1).get_by_label("观演人姓名").fill("韩梅梅")
    tickets.nth(1).get_by_label("证件号", exact=True).fill("110101199202022345")  # a typo: the last character is 6
    screenshot(page, "attendees")
    page.get_by_test_id("save-attendees").click()
    expect(page.get_by_text("身份证号最后一位与前面的数字不符")).to_be_visible()
    assert not order.attendees.exists()

    tickets = page.get_by_test_id("attendee")
    tickets.nth(0).get_by_label("常用观演人").select_option(label="李雷 · 110***********1237")
    tickets.nth(1).get_by_label("观演人姓名").fill("韩梅梅")
    tickets.nth(1).get_by_label("证件号", exact=True).fill("110101199202022346")
    page.get_by_test_id("save-attendees").click()
    expect(page.get_by_text("观演人信息已保存")).to_be_visible()
    expect(page.get_by_test_id("pay-points")).to_be_enabled()
    page.get_by_test_id("pay-points").click()
    expect(page.get_by_test_id("eticket")).to_have_count(2)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert sorted(order.tickets.values_list("attendee_name", flat=True)) == ["李雷", "韩梅梅"]
    assert sorted(SavedAttendee.objects.filter(user=buyer).values_list("name", flat=True)) == ["李雷", "韩梅梅"]
    screenshot(page, "paid")
    assert [e for e in errors if not re.search(r"status of 400", e)] == []
