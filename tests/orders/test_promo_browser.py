"""Checkout with a promo code on a phone, in Chinese: a wrong code is refused, the right one shows the discount
before payment, and the order is paid at the discounted price."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from orders import promo
from orders.models import OrderStatus
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.orders.flows import assert_wallet_consistent, pending_order

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_buyer_applies_a_code_sees_the_discount_and_pays_less(page, asgi_server, screenshot):
    buyer = UserFactory(email="lily@example.com")
    order = pending_order(buyer, seats=2, price=250)
    promo.promo_create(actor=order.event.publisher, event=order.event, code="SPRING20",
                       data=promo.PromoData(kind="percent", value=Decimal(20), ticket_type_ids=[]))
    errors = watch_errors(page)
    log_in(page, "lily@example.com")
    page.goto(f"/orders/{order.pk}/")

    page.get_by_label("优惠码").fill("spring2o")  # a typo
    page.get_by_test_id("apply-promo").click()
    expect(page.get_by_text("该活动没有这个优惠码。")).to_be_visible()
    page.get_by_label("优惠码").fill("spring20")
    page.get_by_test_id("apply-promo").click()
    expect(page.get_by_test_id("discount")).to_have_text("−¥100.00")
    expect(page.get_by_test_id("order-total")).to_have_text("¥400.00")
    expect(page.get_by_test_id("pay-points")).to_have_text("支付 400 积分")
    screenshot(page, "discounted")
    page.get_by_test_id("pay-points").click()
    expect(page.get_by_test_id("eticket")).to_have_count(2)
    order.refresh_from_db()
    assert (order.status, order.total) == (OrderStatus.PAID, Decimal("400.00"))
    assert assert_wallet_consistent(buyer).balance == Decimal("4600.00")
    assert [e for e in errors if "status of 400" not in e] == []
