"""A publisher on a phone, in Chinese: adds a webhook endpoint from "My events", sees its secret, sends a
test that reaches the receiver, and rotates the secret after confirming."""

import json

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from webhooks import signing
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_a_publisher_adds_an_endpoint_tests_it_and_rotates_its_secret(page, asgi_server, receiver, screenshot):
    UserFactory(email="host@example.com", role=Role.PUBLISHER)
    errors = watch_errors(page)
    log_in(page, "host@example.com")
    page.goto("/publisher/events/")
    page.get_by_test_id("webhooks-link").click()

    page.get_by_label("接收地址").fill("ftp://example.com/in")
    page.get_by_label("订单已支付").check()
    page.get_by_test_id("add-endpoint").click()
    expect(page.get_by_text("网址必须以 https:// 开头。")).to_be_visible()  # what was typed stays
    page.get_by_label("接收地址").fill(receiver.url)
    page.get_by_label("场次售罄").check()
    page.get_by_label("备注（仅自己可见）").fill("票务系统")
    page.get_by_test_id("add-endpoint").click()

    expect(page.get_by_text("地址已添加。请把签名密钥配置到你的接收端。")).to_be_visible()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.kinds == ["order.paid", "session.sold_out"] and endpoint.description == "票务系统"
    expect(page.get_by_test_id("webhook-secret")).to_have_value(endpoint.secret)
    page.get_by_test_id("send-ping").click()
    expect(page.get_by_test_id("delivery")).to_have_attribute("data-status", "delivered")
    expect(page.get_by_test_id("delivery-answer")).to_contain_text("200")
    got = receiver.requests[0]
    assert signing.signature_valid(endpoint.secret, got["body"], got["headers"]["X-Timestamp"],
                                   got["headers"]["X-Signature"], max_age=60)
    assert json.loads(got["body"])["type"] == "ping"
    screenshot(page, "endpoint")

    old_secret = endpoint.secret
    page.once("dialog", lambda dialog: dialog.dismiss())  # "make a new secret?" — not now
    page.get_by_test_id("rotate-secret").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_value(old_secret)
    assert WebhookEndpoint.objects.get().secret == old_secret
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("rotate-secret").click()
    expect(page.get_by_text("已生成新的签名密钥：此后的推送都用它签名。")).to_be_visible()
    endpoint.refresh_from_db()
    expect(page.get_by_test_id("webhook-secret")).to_have_value(endpoint.secret)
    assert endpoint.secret != old_secret

    page.goto("/publisher/webhooks/")
    expect(page.get_by_test_id("webhook-endpoint")).to_contain_text("票务系统")
    screenshot(page, "list")
    assert errors == []
