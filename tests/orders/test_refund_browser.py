"""A refund on a phone, in Chinese: the event's rules and the exact amount are shown before asking, the fee is
fixed on the request, and an admin approves it from the queue (the fee kept, the rest back in the wallet)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from events.models import Event
from orders.models import OrderStatus, Refund
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.flows import assert_wallet_consistent, move_sessions, paid_order

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_buyer_sees_the_fee_before_asking_and_gets_the_rest_back(page, asgi_server, screenshot):
    buyer = UserFactory(email="mei@example.com")
    order = paid_order(buyer, seats=2, price=250)
    Event.objects.filter(pk=order.event_id).update(refund_policy="tiered", refund_tiers=[[168, 0], [24, 20]])
    move_sessions(order, start=timezone.now() + timedelta(days=3))
    errors = watch_errors(page)
    log_in(page, "mei@example.com")
    page.goto(f"/orders/{order.pk}/")

    expect(page.get_by_text("演出前 7 天以上：免费退票。")).to_be_visible()
    expect(page.get_by_text("演出前 1 天以上：收取 20% 手续费。")).to_be_visible()
    expect(page.get_by_test_id("refund-quote-fee")).to_have_text("−¥100.00")
    expect(page.get_by_test_id("refund-quote-amount")).to_have_text("¥400.00")
    page.get_by_label("退款理由").fill("行程冲突")
    page.get_by_test_id("request-refund").scroll_into_view_if_needed()
    screenshot(page, "quote")
    page.get_by_test_id("request-refund").click()
    expect(page.get_by_test_id("refund")).to_be_visible()
    expect(page.get_by_test_id("refund-fee")).to_contain_text("100.00")
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.fee) == (Decimal("400.00"), Decimal("100.00"))

    page.context.clear_cookies()
    UserFactory(email="boss@example.com", role=Role.ADMIN)
    log_in(page, "boss@example.com")
    page.goto("/review/refunds/")
    expect(page.get_by_test_id("queue-fee")).to_contain_text("100.00")
    screenshot(page, "queue")
    page.get_by_test_id("approve").click()
    expect(page.get_by_role("alert")).to_contain_text("400.00 积分已退回")
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    wallet = assert_wallet_consistent(buyer)
    assert wallet.balance == Decimal("5000.00") - Decimal("100.00")  # the demo grant, less the fee
    assert errors == []
