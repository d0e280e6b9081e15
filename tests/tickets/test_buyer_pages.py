"""Buyer pages: an event's sessions, a session's seat map or ticket form, holding and releasing."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory
from tests.tickets.factories import draft, ga_session, seat_ids, seated_session
from tickets import services
from tickets.models import Hold, HoldStatus, PriceTier, Stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer():
    return UserFactory()


def english(user=None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def held(session, user) -> list[Hold]:
    return list(Hold.objects.filter(session=session, user=user, status=HoldStatus.ACTIVE))


def stock(session, ticket_type) -> Stock:
    return Stock.objects.get(session=session, ticket_type=ticket_type)


def test_the_event_page_lists_each_session_with_price_stock_tiers_and_a_way_in():
    session, types = ga_session(stock={"Standard": 100, "VIP": 20}, prices={"Standard": 100, "VIP": 500})
    until = timezone.now() + timedelta(days=2)
    PriceTier.objects.create(ticket_type=types["Standard"], kind="time", until=until, adjust_percent=-20)
    PriceTier.objects.create(ticket_type=types["VIP"], kind="demand", sold_percent=80, adjust_percent=20)

    page = english().get(f"/events/{session.event_id}/").content.decode()

    assert "Sessions & tickets" in page
    assert "On sale" in page and "1号厅" in page
    assert "¥<span data-price-for=\"%s\">80.00</span>" % types["Standard"].pk in page  # early bird applies
    assert "¥<span data-price-for=\"%s\">500.00</span>" % types["VIP"].pk in page
    assert "100 left" in page and "20 left" in page
    assert f"Early bird \u221220% until {timezone.localtime(until):%m-%d %H:%M}" in page
    assert "Price +20% once 80% sold" in page
    assert f'href="/sessions/{session.pk}/"' in page and "Buy tickets" in page


def test_the_event_page_says_when_a_seated_session_goes_on_sale():
    session, _types = seated_session()
    session.sales_start = timezone.now() + timedelta(days=1)
    session.save(update_fields=["sales_start"])

    page = english().get(f"/events/{session.event_id}/").content.decode()

    assert "On sale from" in page and "View seat map" in page


def test_a_sale_that_opens_later_counts_down_on_the_event_and_session_pages_in_the_buyers_language():
    session, _types = ga_session()
    opens = timezone.now() + timedelta(days=2, hours=3, minutes=15)
    session.sales_start = opens
    session.save(update_fields=["sales_start"])
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

    for url in (f"/events/{session.event_id}/", f"/sessions/{session.pk}/"):
        page = chinese.get(url).content.decode()
        countdown = re.search(r'data-testid="sale-countdown".*?data-countdown="(\d+)".*?>([^<]+)</span>', page, re.S)
        assert countdown, url
        assert int(countdown.group(1)) == int(opens.timestamp())
        assert re.fullmatch(r"2天 03:1[45]:\d\d", countdown.group(2)), countdown.group(2)
        assert 'data-days="天"' in page and "js/countdown.js" in page

    session.sales_start = timezone.now() - timedelta(minutes=1)
    session.save(update_fields=["sales_start"])
    for url in (f"/events/{session.event_id}/", f"/sessions/{session.pk}/"):
        assert 'data-testid="sale-countdown"' not in chinese.get(url).content.decode()


@pytest.mark.parametrize("left, shown", [
    (timedelta(minutes=14, seconds=59), "14:59"), (timedelta(hours=3, seconds=5), "03:00:05"),
    (timedelta(days=1, minutes=1), "1d 00:01:00"), (timedelta(seconds=-5), "00:00"),
])
def test_the_time_left_before_a_sale_reads_as_the_countdown_shows_it(left, shown):
    from tickets.views import time_left

    now = timezone.now()
    assert time_left(now + left, now) == shown


def test_anyone_sees_a_public_seated_session_with_its_map_state_and_is_asked_to_log_in():
    session, types = seated_session(rows=2, seats=5, price=280)

    response = english().get(f"/sessions/{session.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    state = json.loads(page.split('<script id="seatmap-state" type="application/json">')[1].split("</script>")[0])
    assert len(state["seats"]) == 10 and state["me"] is None and state["on_sale"]
    assert state["ticket_types"][0]["price"] == "280.00"
    assert f"/accounts/login/?next=%2Fsessions%2F{session.pk}%2F" in page
    assert "js/seatmap.js" in page and "css/seatmap.css" in page
    assert f'data-socket="/ws/seatmap/{session.pk}/"' in page


def test_a_signed_in_buyer_sees_the_ga_form_with_live_counters(buyer):
    session, types = ga_session(stock={"Standard": 30}, per_user_limit=4)

    page = english(buyer).get(f"/sessions/{session.pk}/").content.decode()

    assert f'name="qty-{types["Standard"].pk}"' in page
    assert '<option value="4">' in page and '<option value="5">' not in page  # 0..limit
    assert f'data-stock-for="{types["Standard"].pk}"' in page and "30 left" in page
    assert "Nothing held yet" in page


def test_a_draft_events_session_is_not_found_for_strangers_but_its_publisher_sees_it(buyer):
    session, _types = seated_session()
    draft(session)

    assert english().get(f"/sessions/{session.pk}/").status_code == 404
    assert english(buyer).get(f"/sessions/{session.pk}/").status_code == 404
    assert english(buyer).get(f"/sessions/{session.pk}/hold-panel/").status_code == 404
    assert english(session.event.publisher).get(f"/sessions/{session.pk}/").status_code == 200


def test_holding_ga_tickets_with_the_form_shows_them_in_the_hold_panel(buyer):
    session, types = ga_session(stock={"Standard": 10}, prices={"Standard": 120})
    standard = types["Standard"]
    client = english(buyer)

    response = client.post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "3"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/sessions/{session.pk}/"
    page = response.content.decode()
    assert "Your tickets are held until" in page
    assert "Standard × 3" in page and "¥360.00" in page
    assert 'data-testid="hold-countdown"' in page and 'data-testid="hold-release"' in page
    assert "7 left" in page
    [hold] = held(session, buyer)
    assert hold.quantity == 3
    assert stock(session, standard).available == 7


def test_sold_out_is_a_message_and_holds_nothing(buyer):
    session, types = ga_session(stock={"Standard": 2})
    standard = types["Standard"]

    response = english(buyer).post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "3"},
                                   HTTP_REFERER=f"http://testserver/sessions/{session.pk}/", follow=True)

    assert "Sold out: not enough Standard tickets left. Nothing was held." in response.content.decode()
    assert held(session, buyer) == []
    assert stock(session, standard).available == 2


def test_over_the_limit_is_a_message_and_holds_nothing(buyer):
    session, types = ga_session(stock={"Standard": 50}, per_user_limit=4)
    standard = types["Standard"]
    client = english(buyer)
    client.post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "3"})

    response = client.post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "2"},
                           HTTP_REFERER=f"http://testserver/sessions/{session.pk}/", follow=True)

    assert "You may hold and buy at most 4 Standard tickets for this session." in response.content.decode()
    assert [h.quantity for h in held(session, buyer)] == [3]
    assert stock(session, standard).available == 47


def test_nonsense_quantities_are_a_message(buyer):
    session, types = ga_session()

    response = english(buyer).post(f"/sessions/{session.pk}/hold/", {f"qty-{types['Standard'].pk}": "-1"},
                                   HTTP_REFERER=f"http://testserver/sessions/{session.pk}/", follow=True)

    assert "Choose how many tickets as a whole number." in response.content.decode()
    assert held(session, buyer) == []


def test_with_htmx_a_hold_answers_with_the_panel_and_an_error_with_a_message(buyer):
    session, types = ga_session(stock={"Standard": 2})
    standard = types["Standard"]
    client = english(buyer)

    ok = client.post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "1"}, HTTP_HX_REQUEST="true")
    refused = client.post(f"/sessions/{session.pk}/hold/", {f"qty-{standard.pk}": "2"}, HTTP_HX_REQUEST="true")

    assert ok.status_code == 200 and 'id="hold-panel"' in ok.content.decode()
    assert "Standard × 1" in ok.content.decode()
    assert refused.status_code == 409 and refused["HX-Retarget"] == "#messages"
    assert "Sold out" in refused.content.decode()


def test_an_anonymous_visitor_who_posts_the_form_is_sent_to_log_in():
    session, types = ga_session()

    response = english().post(f"/sessions/{session.pk}/hold/", {f"qty-{types['Standard'].pk}": "1"})

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/sessions/{session.pk}/"
    assert not Hold.objects.exists()


def test_the_hold_panel_lists_held_seats_with_prices_and_the_checkout_slot(buyer):
    session, _types = seated_session(price=280)
    seats = seat_ids(session)
    services.hold_create(user=buyer, session=session, seat_ids=seats[:2], join=True)

    panel = english(buyer).get(f"/sessions/{session.pk}/hold-panel/").content.decode()

    assert "A row 1 seat 1" in panel and "A row 1 seat 2" in panel
    assert "¥560.00" in panel
    assert "Orders team" in panel or "checkout-action" in panel


def test_release_puts_the_tickets_back_on_sale(buyer):
    session, types = ga_session(stock={"Standard": 10})
    hold = services.hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 4})

    response = english(buyer).post(f"/holds/{hold.pk}/release/", follow=True)

    assert response.redirect_chain[-1][0] == f"/sessions/{session.pk}/"
    assert "Released: the tickets are back on sale." in response.content.decode()
    hold.refresh_from_db()
    assert hold.status == HoldStatus.RELEASED
    assert stock(session, types["Standard"]).available == 10


def test_releasing_with_htmx_answers_with_an_empty_panel(buyer):
    session, _types = seated_session()
    hold = services.hold_create(user=buyer, session=session, seat_ids=seat_ids(session)[:1], join=True)

    response = english(buyer).post(f"/holds/{hold.pk}/release/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and "Nothing held yet" in response.content.decode()


def test_nobody_releases_another_buyers_hold(buyer):
    session, types = ga_session(stock={"Standard": 10})
    hold = services.hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 2})
    other = english(UserFactory())

    plain = other.post(f"/holds/{hold.pk}/release/")
    from_page = other.post(f"/holds/{hold.pk}/release/", HTTP_REFERER=f"http://testserver/sessions/{session.pk}/",
                           follow=True)

    assert plain.status_code == 404
    assert "No such hold." in from_page.content.decode()
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert stock(session, types["Standard"]).available == 8
    assert english().post(f"/holds/{hold.pk}/release/").status_code == 302  # anonymous: to the login page
