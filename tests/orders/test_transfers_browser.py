"""转赠 on a phone, in Chinese: the buyer offers a real-name ticket by email, the receiver names the attendee and
accepts, and at the door the old QR code is refused with the reason while the new one admits."""

import pytest
from playwright.sync_api import expect

from orders.models import ScanResult, Ticket
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.factories import mainland_id, paid_order
from tests.orders.flows import doors_open

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_buyer_gives_a_ticket_the_receiver_accepts_and_the_old_code_is_refused_at_the_door(page, screenshot):
    buyer = UserFactory(email="lily@example.com")
    receiver = UserFactory(email="mei@example.com", display_name="小美")
    order = paid_order(buyer, seats=1, real_name=True)
    order.event.transfer_cutoff_hours = 0
    order.event.save(update_fields=["transfer_cutoff_hours"])
    doors_open(order)
    order.event.publisher.email = "door@example.com"
    order.event.publisher.save(update_fields=["email"])
    ticket = order.tickets.get()
    old_code = ticket.code
    errors = watch_errors(page)

    log_in(page, "lily@example.com")
    page.goto(f"/tickets/mine/{ticket.pk}/")
    page.get_by_label("转赠给（邮箱或手机号）").fill("nobody@example.com")
    page.get_by_test_id("transfer-submit").click()
    expect(page.get_by_text("没有使用该邮箱或手机号的账号。")).to_be_visible()
    page.get_by_label("转赠给（邮箱或手机号）").fill("mei@example.com")
    page.get_by_test_id("transfer-submit").click()
    expect(page.get_by_test_id("transfer-pending")).to_contain_text("小美")
    screenshot(page, "offered")

    page.context.clear_cookies()
    log_in(page, "mei@example.com")
    page.goto("/tickets/transfers/")
    offer = page.get_by_test_id("transfer-offer")
    expect(offer).to_contain_text(order.event.title)
    screenshot(page, "offer")
    offer.get_by_label("观演人姓名").fill("韩梅梅")
    offer.get_by_label("证件号").fill(mainland_id())
    offer.get_by_test_id("transfer-accept").click()
    page.wait_for_url(f"**/tickets/mine/{ticket.pk}/")
    expect(page.get_by_test_id("eticket-attendee")).to_contain_text("韩梅梅")
    expect(page.get_by_test_id("eticket-qr")).to_be_visible()
    screenshot(page, "accepted")
    given = Ticket.objects.get(pk=ticket.pk)
    new_code = given.code
    assert (given.user_id, given.attendee_name) == (receiver.pk, "韩梅梅") and new_code != old_code

    page.context.clear_cookies()
    log_in(page, "door@example.com")
    page.goto(f"/checkin/{order.event_id}/")
    page.get_by_test_id("manual-code").fill(old_code)
    page.get_by_test_id("manual-submit").click()
    expect(page.get_by_test_id("scan-result")).to_have_attribute("data-result", ScanResult.TRANSFERRED)
    expect(page.get_by_test_id("scan-message")).to_contain_text("此票已转赠给其他账号")
    screenshot(page, "old-code-refused")
    page.get_by_test_id("manual-code").fill(new_code)
    page.get_by_test_id("manual-submit").click()
    expect(page.get_by_test_id("scan-result")).to_have_attribute("data-result", ScanResult.OK)
    expect(page.get_by_test_id("scan-attendee")).to_contain_text("韩梅梅")
    assert [e for e in errors if "status of 400" not in e and "status of 404" not in e] == []
