"""The search box in a real browser: suggestions as one types in the navigation, the keyboard
walks them, Enter opens the event; on a phone the box is in the collapsed menu."""

import re

import pytest
from playwright.sync_api import expect

from tests.events.factories import ApprovedEventFactory
from tests.helpers.browser import watch_errors

pytestmark = pytest.mark.browser


@pytest.fixture
def events():
    return [
        ApprovedEventFactory(title="Jazz Night at Blue Note", venue="Blue Note Shanghai", city="上海"),
        ApprovedEventFactory(title="爵士 Jazz Brunch", venue="JZ Club", city="上海"),
        ApprovedEventFactory(title="Rock Night", venue="Jazz Hall Beijing", city="北京"),
    ]


def suggestions_open(tab, box: str = "nav"):
    listbox = tab.get_by_test_id(f"{box}-suggestions")
    listbox.locator("[role=option]").first.wait_for(state="visible")
    return listbox


def test_on_a_phone_the_search_icon_opens_the_box_and_a_suggestion_opens_its_event(page, events, screenshot):
    errors = watch_errors(page)  # a script the CSP refused would show here
    page.goto("/")
    assert page.get_by_test_id("nav-search").is_hidden()  # folded away in the menu
    screenshot(page, "phone-home")
    page.get_by_test_id("search-opener").click()
    box = page.get_by_test_id("nav-search")
    box.wait_for(state="visible")
    expect(box).to_be_focused()
    box.press_sequentially("jazz", delay=40)
    listbox = suggestions_open(page)
    assert box.get_attribute("aria-expanded") == "true"
    titles = listbox.get_by_test_id("suggestion-event").all_inner_texts()
    assert any("Jazz Night at Blue Note" in t for t in titles) and any("Jazz Brunch" in t for t in titles)
    assert listbox.locator("mark").first.inner_text().lower() == "jazz"
    assert "Jazz Hall Beijing" in " ".join(listbox.get_by_test_id("suggestion-venue").all_inner_texts())
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "phone-suggestions")

    first = listbox.locator("[role=option]").first
    href = first.get_attribute("href")
    box.press("ArrowDown")
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    box.press("Enter")
    page.wait_for_url(re.compile(rf"{re.escape(href)}$"))
    assert re.search(r"/events/\d+/$", page.url)
    assert errors == []


def test_on_a_desktop_the_keyboard_walks_the_suggestions_and_escape_and_blur_close_them(browser, asgi_server, events,
                                                                                       screenshot):
    context = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors = watch_errors(tab)
    try:
        asked: list[str] = []
        tab.on("request", lambda request: asked.append(request.url) if "/events/suggest/" in request.url else None)
        tab.goto(f"/events/{events[2].pk}/")
        box = tab.get_by_test_id("nav-search")
        box.click()
        box.press_sequentially("jazz", delay=40)
        listbox = suggestions_open(tab)
        tab.wait_for_timeout(400)
        assert 1 <= len(asked) <= 2 and all(url.endswith("q=jazz") for url in asked), asked  # debounced
        screenshot(tab, "desktop-suggestions")
        box.press("Escape")
        assert listbox.is_hidden() and box.get_attribute("aria-expanded") == "false"

        box.press("ArrowDown")  # back again, on the first suggestion
        options = listbox.locator("[role=option]")
        assert listbox.is_visible() and options.nth(0).get_attribute("aria-selected") == "true"
        box.press("ArrowDown")
        box.press("ArrowUp")
        box.press("ArrowUp")  # above the first: the last
        last = options.nth(options.count() - 1)
        assert last.get_attribute("aria-selected") == "true"
        tab.locator("footer").click()  # away from the box: it closes
        assert listbox.is_hidden()

        box.fill("")
        box.press_sequentially("j", delay=40)
        tab.wait_for_timeout(600)
        assert listbox.is_hidden()  # one character: nothing offered

        box.fill("Blue Note Shanghai")
        box.press("Enter")  # no suggestion chosen: the form searches
        tab.wait_for_url("**/events/?q=Blue+Note+Shanghai")
        assert "Jazz Night at Blue Note" in tab.get_by_test_id("results").inner_text()

        tab.goto("/")
        home = tab.get_by_test_id("home-search")
        home.press_sequentially("上海", delay=60)
        home_list = suggestions_open(tab, "home")
        assert "上海" in home_list.get_by_test_id("suggestion-city").first.inner_text()
        screenshot(tab, "desktop-home-suggestions")

        tab.goto("/events/?q=blue+noet")
        tab.get_by_test_id("did-you-mean").wait_for()
        screenshot(tab, "desktop-did-you-mean")
        tab.get_by_test_id("did-you-mean").locator("a").click()
        tab.wait_for_url("**q=blue+note**")
        assert "Jazz Night at Blue Note" in tab.get_by_test_id("results").inner_text()

        tab.goto("/events/?q=%F0%9F%98%80")
        assert tab.get_by_test_id("search-hint").is_visible()
        screenshot(tab, "desktop-no-characters")
        assert errors == []
    finally:
        context.close()
