"""想看 on a phone, in Chinese: mark an event, find it on 我的想看 counting down to its sale, get the
reminder in the bell without a reload when the sale opens, and buy from the list."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from events.models import Favourite
from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.tickets.factories import ga_session
from tests.tickets.test_browser import phone_context
from tickets import reminders
from tickets.models import Session

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, asgi_server):
    """A phone: touch, Chinese."""
    context = phone_context(browser, asgi_server)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def open_menu(tab) -> None:
    tab.get_by_label("切换导航").tap()
    expect(tab.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))  # Bootstrap's collapse is done


def test_a_buyer_marks_an_event_sees_it_count_down_is_told_when_it_opens_and_buys(page, asgi_server, screenshot):
    session, _types = ga_session(stock={"Standard": 10}, prices={"Standard": 180})
    opens = timezone.now() + timedelta(seconds=20)  # time to log in, mark and open the list on a busy machine
    Session.objects.filter(pk=session.pk).update(sales_start=opens)
    UserFactory(email="mei@example.com")
    errors = watch_errors(page)
    log_in(page, "mei@example.com")

    page.goto(f"/events/{session.event_id}/")
    button = page.get_by_test_id("want-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("want-count")).to_have_text("0 人想看")
    button.tap()
    expect(page.get_by_test_id("want-button")).to_have_attribute("aria-pressed", "true")  # redrawn in place
    expect(page.get_by_test_id("want-button")).to_contain_text("已想看")
    expect(page.get_by_test_id("want-count")).to_have_text("1 人想看")
    assert Favourite.objects.filter(user__email="mei@example.com", event_id=session.event_id).exists()
    screenshot(page, "event-wanted")

    open_menu(page)
    page.get_by_test_id("nav-wanted").tap()
    page.wait_for_url("**/events/wanted/")
    row = page.get_by_test_id("wanted-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("sale-countdown")).to_have_text(re.compile(r"^00:[01]\d$"))
    screenshot(page, "wanted-countdown")

    # The beat's run once the sale opens: the bell shows it live, and the list opens the sale by itself.
    while timezone.now() < opens:
        page.wait_for_timeout(250)
    assert reminders.reminders_due() == 1
    expect(page.get_by_test_id("bell-count")).to_have_text("1")
    expect(page.get_by_test_id("bell-count")).to_be_visible()
    expect(page.get_by_test_id("wanted-buy")).to_be_visible(timeout=15_000)
    screenshot(page, "wanted-on-sale")
    page.get_by_test_id("wanted-buy").tap()
    page.wait_for_url(f"**/sessions/{session.pk}/")
    expect(page.get_by_test_id("sale-status")).to_have_text("售票中")

    page.get_by_test_id("bell").tap()  # in the bar on a phone too, not folded away in the menu
    expect(page.get_by_text(f"开售啦：{session.event.title}")).to_be_visible()
    assert errors == []
