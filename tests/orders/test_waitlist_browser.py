"""候补 on a phone, in Chinese: a buyer joins the waiting list of a sold-out type, tickets come back, the offer
arrives as a live notification, and the buyer orders and pays the tickets held in their name."""

import re

import pytest
from playwright.sync_api import expect

from orders import waitlist
from orders.models import Order, OrderStatus, WaitStatus
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.tickets.factories import ga_session
from tickets.services import hold_create, hold_release

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_buyer_joins_the_waiting_list_gets_the_returned_tickets_and_buys_them(page, screenshot):
    session, types = ga_session(stock={"看台票": 2}, prices={"看台票": 380})
    tt = types["看台票"]
    first = UserFactory()
    taken = hold_create(user=first, session=session, quantities={tt.pk: 2})
    buyer = UserFactory(email="wait@example.com")
    errors = watch_errors(page)

    log_in(page, "wait@example.com")
    page.goto(f"/sessions/{session.pk}/")
    card = page.get_by_test_id("waitlist")
    expect(card).to_contain_text("看台票")
    card.get_by_label("需要几张").select_option("2")
    screenshot(page, "sold-out")
    card.get_by_test_id("waitlist-submit").click()
    expect(page.get_by_test_id("waitlist-place")).to_contain_text("第 1 位")
    screenshot(page, "in-line")

    hold_release(user=first, hold_id=taken.pk)  # the tickets come back
    waitlist.waitlist_offer(session_id=session.pk, ticket_type_id=tt.pk)  # (the outbox has done it already)
    expect(page.get_by_test_id("bell-count")).to_have_text("1")  # pushed to the open page

    page.get_by_test_id("bell").click()
    expect(page.get_by_text("有门票为你释放")).to_be_visible()
    page.goto(f"/sessions/{session.pk}/")
    expect(page.get_by_test_id("hold-item")).to_contain_text("看台票")
    screenshot(page, "offered")
    page.get_by_test_id("bar-checkout").click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    page.get_by_test_id("pay-points").click()
    expect(page.get_by_test_id("eticket")).to_have_count(2)
    order = Order.objects.get(user=buyer)
    assert order.status == OrderStatus.PAID and order.total == 760
    assert buyer.waitlist_entries.get().shown_status == WaitStatus.BOUGHT
    assert errors == []
