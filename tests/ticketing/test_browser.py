"""The base pages in a real browser (headless Chromium), phone-sized."""

import json

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_home_page_on_a_phone_switches_language(page, screenshot):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.get_by_role("link", name="注册", exact=True).is_visible() is False  # collapsed behind the menu on a phone
    screenshot(page, "home-zh")
    page.get_by_label("切换导航").click()
    page.select_option("#language-select", "en")  # submits itself on change
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Concerts, shows and conferences")
    screenshot(page, "home-en")


def test_admin_logs_in_to_the_django_admin(page, screenshot):
    UserFactory(username="boss", email="boss@example.com", role="admin", is_staff=True, is_superuser=True)
    page.goto("/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    assert page.locator("#site-name").is_visible()
    assert page.get_by_role("link", name="用户").first.is_visible()
    screenshot(page, "admin")


def test_healthz_in_the_browser_reports_the_services(page, screenshot):
    page.goto("/healthz")
    report = json.loads(page.locator("body").inner_text())
    assert report["database"]["ok"] and report["redis"]["ok"] and report["mongodb"]["ok"], report
    screenshot(page, "healthz")
