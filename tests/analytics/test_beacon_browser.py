"""In Chromium, with the site's CSP: clicks that matter reach the behaviour log, a navigating one too."""

import time

import pytest

from tests.factories import UserFactory
from tests.helpers.browser import log_in, watch_errors
from tests.tickets.factories import ga_session, seated_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_lines(behaviour, count: int, **match) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        lines = behaviour.lines(**match)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_the_choose_seats_link_reports_the_seat_map_opened_though_the_click_leaves_the_page(page, behaviour):
    session, _types = seated_session()
    errors = watch_errors(page)
    page.goto(f"/events/{session.event_id}/")
    page.get_by_test_id("session-link").click()
    page.wait_for_url(f"**/sessions/{session.pk}/")
    page.get_by_test_id("seatmap").locator("svg").wait_for()

    [opened] = wait_for_lines(behaviour, 1, action="seatmap_open")
    assert opened["event_id"] == session.event_id and opened["session_id"] == session.pk
    assert opened["details"] == {"source": "event_page"} and opened["anon_id"]
    [viewed] = behaviour.lines(action="session_view")
    assert viewed["anon_id"] == opened["anon_id"]  # one visitor, by their cookie
    assert errors == []


def test_a_ticket_type_chosen_is_reported_once_per_type_for_the_signed_in_buyer(page, behaviour, screenshot):
    session, types = ga_session(stock={"Standard": 50, "VIP": 10}, prices={"Standard": 180, "VIP": 680})
    buyer = UserFactory()
    errors = watch_errors(page)
    log_in(page, buyer.email)
    page.goto(f"/sessions/{session.pk}/")
    page.select_option(f"#qty-{types['VIP'].pk}", "2")
    page.select_option(f"#qty-{types['VIP'].pk}", "3")  # the same type again: not a new choice
    page.select_option(f"#qty-{types['Standard'].pk}", "1")
    page.select_option(f"#qty-{types['Standard'].pk}", "0")

    lines = wait_for_lines(behaviour, 2, action="ticket_type_chosen")
    time.sleep(0.5)  # had anything more been sent, it would be here by now
    lines = behaviour.lines(action="ticket_type_chosen")
    assert [line["details"]["ticket_type"] for line in lines] == [types["VIP"].pk, types["Standard"].pk]
    assert lines[0]["details"] == {"ticket_type": types["VIP"].pk, "seated": False, "quantity": 2}
    assert all(line["user_id"] == buyer.pk and line["session_id"] == session.pk for line in lines)
    assert errors == []

    page.goto("/accounts/profile/")
    toggle = page.locator("input[name=personalised]")
    assert toggle.is_checked()
    screenshot(page, "profile")


def test_a_recommended_card_clicked_on_the_home_page_is_reported_with_its_list_and_position(page, behaviour):
    seated_session(), ga_session(), ga_session()  # upcoming events on sale: the cold-start list shows them
    errors = watch_errors(page)
    page.goto("/")
    cards = page.get_by_test_id("recs-home").get_by_test_id("rec-card")
    cards.first.wait_for()
    href = cards.first.locator("a").get_attribute("href")
    cards.first.locator("a").click()
    page.wait_for_url(f"**{href}")

    [clicked] = wait_for_lines(behaviour, 1, action="rec_click")
    assert clicked["details"] == {"list": "home", "position": 1}
    assert href == f"/events/{clicked['event_id']}/"
    [viewed] = behaviour.lines(action="event_view")
    assert viewed["event_id"] == clicked["event_id"] and viewed["anon_id"] == clicked["anon_id"]
    assert errors == []
