"""A newcomer signs up, verifies the email, switches language and logs out, in Chromium."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User

pytestmark = pytest.mark.browser


def open_menu(page, label):
    """Open the phone menu and wait out Bootstrap's collapse: a click on something inside it
    while it is still sliding open can be lost (seen once in CI, under the full suite's load)."""
    page.get_by_label(label).click()
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))


def test_sign_up_verify_log_in_switch_language_and_log_out(page, screenshot):
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", "xiaoming@example.com")
    page.fill("input[name=password1]", "Lantern-River-42")
    page.fill("input[name=password2]", "Lantern-River-42")
    screenshot(page, "signup")
    page.get_by_role("button", name="注册").click()
    page.wait_for_load_state()

    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_role("button", name="确认").click()
    page.wait_for_load_state()
    assert User.objects.get(email="xiaoming@example.com").emailaddress_set.get().verified

    # Log out and in again with the new account.
    page.goto("/accounts/logout/")
    page.locator("main form button[type=submit]").click()
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "xiaoming@example.com")
    page.fill("input[name=password]", "Lantern-River-42")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")
    screenshot(page, "logged-in")

    open_menu(page, "切换导航")
    page.select_option("#language-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # waits out the POST and its redirect
    open_menu(page, "Toggle navigation")
    page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.wait_for_load_state()

    open_menu(page, "切换导航")
    page.get_by_test_id("user-menu").click()
    expect(page.get_by_test_id("user-menu")).to_have_attribute("aria-expanded", "true")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="登录", exact=True).count() == 1
    screenshot(page, "logged-out")
