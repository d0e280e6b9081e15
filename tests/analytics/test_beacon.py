"""POST /api/track and static/js/track.js: the clicks only a browser sees reach the behaviour log."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.serializers import RoleRefreshToken
from analytics import beacon
from analytics.middleware import COOKIE
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seated_session

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/track"
REC = {"action": "rec_click", "event": 42, "details": {"list": "home", "position": 3}}


def post(client, body, **headers):
    return client.post(URL, body, content_type="application/json", **headers)


def csrf_of(page) -> str:
    return re.search(rb'data-csrf="([^"]+)"', page.content).group(1).decode()


def test_an_anonymous_visitors_click_is_recorded_under_their_cookie(client, behaviour):
    anon = client.get(reverse("home")).cookies[COOKIE].value
    response = post(client, REC)

    assert response.status_code == 204 and response.content == b""
    [line] = behaviour.lines()
    assert line["action"] == "rec_click" and line["event_id"] == 42 and line["session_id"] is None
    assert line["user_id"] is None and line["anon_id"] == anon
    assert line["details"] == {"list": "home", "position": 3}


def test_a_signed_in_page_is_attributed_with_its_csrf_token_and_refused_without(behaviour):
    buyer = UserFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(buyer)
    token = csrf_of(browser.get(reverse("home")))

    forged = post(browser, REC)  # another site's form cannot send the token
    sent = post(browser, {"action": "seatmap_open", "event": 7, "session": 9, "details": {"source": "event_page"}},
                HTTP_X_CSRFTOKEN=token)

    assert forged.status_code == 403 and sent.status_code == 204
    [line] = behaviour.lines()
    assert line["user_id"] == buyer.pk and line["event_id"] == 7 and line["session_id"] == 9
    assert line["action"] == "seatmap_open" and line["details"] == {"source": "event_page"}


def test_an_app_with_an_access_token_is_attributed(behaviour):
    buyer = UserFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(buyer).access_token}")
    body = {"action": "ticket_type_chosen", "event": 5, "details": {"ticket_type": 11, "quantity": 2}}
    assert api.post(URL, body, format="json").status_code == 204
    [line] = behaviour.lines()
    assert line["user_id"] == buyer.pk and line["details"] == {"ticket_type": 11, "quantity": 2}


def test_the_beacon_reads_nothing_from_the_database(client, behaviour):
    client.get(reverse("home"))
    signed_in = Client()
    signed_in.force_login(UserFactory())
    signed_in.get(reverse("home"))
    post(client, REC), post(signed_in, REC)  # warm: the session engine, the throttle's first key

    for visitor in (client, signed_in):
        with CaptureQueriesContext(connection) as queries:
            assert post(visitor, REC).status_code == 204
        assert [q["sql"] for q in queries.captured_queries] == []


@pytest.mark.parametrize("body, field, message", [
    ({"action": "pay", "event": 1}, "action", "is not a valid choice"),  # the server's own lines cannot be sent
    ({"action": "rec_click", "details": {"list": "home", "position": 1}}, "event", "required"),
    ({"action": "seatmap_open", "event": 0}, "event", "greater than or equal to 1"),
    ({"action": "seatmap_open", "event": "abc"}, "event", "valid integer"),
    ({"action": "seatmap_open", "event": 1, "session": -3}, "session", "greater than or equal to 1"),
    ({"action": "seatmap_open", "event": 1, "details": {"a": {"nested": 1}}}, "details", "at most 100 characters"),
    ({"action": "seatmap_open", "event": 1, "details": {"a": "x" * 101}}, "details", "at most 100 characters"),
    ({"action": "seatmap_open", "event": 1, "details": {f"k{i}": i for i in range(11)}}, "details", "at most 10"),
    ({"action": "seatmap_open", "event": 1, "details": {"$where": 1}}, "details", "lower-case letters"),
    ({"action": "seatmap_open", "event": 1, "details": {"big": 2**70}}, "details", "a number"),
    ({"action": "seatmap_open", "event": 1, "details": ["list"]}, "details", "dictionary"),
    ({"action": "rec_click", "event": 1, "details": {"list": "home"}}, "details", "position"),
    ({"action": "rec_click", "event": 1, "details": {"position": 2}}, "details", "names its list"),
    ({"action": "rec_click", "event": 1, "details": {"list": "home", "position": True}}, "details", "position"),
    ({"action": "ticket_type_chosen", "event": 1, "details": {}}, "details", "ticket type"),
])
def test_bad_input_is_a_400_that_says_what_is_wrong_and_records_nothing(client, behaviour, body, field, message):
    response = post(client, body, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400, response.content
    errors = response.json()[field]
    assert any(message in error for error in errors), errors
    assert behaviour.lines() == []


def test_a_400_speaks_the_visitors_language(client):
    errors = post(client, {"action": "pay"}, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "不是合法选项" in errors["action"][0] and "必填" in errors["event"][0]


def test_a_body_that_is_not_json_is_a_400(client, behaviour):
    response = client.post(URL, "action=rec_click", content_type="application/x-www-form-urlencoded",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 415 or response.status_code == 400
    assert behaviour.lines() == []


def test_a_visitor_who_sends_too_much_is_throttled_and_others_are_not(client, behaviour, monkeypatch):
    monkeypatch.setattr(beacon.VisitorThrottle, "rate", "3/min", raising=False)
    client.get(reverse("home"))
    answers = [post(client, REC).status_code for _ in range(4)]
    other = Client()
    other.get(reverse("home"))

    assert answers == [204, 204, 204, 429]
    assert post(other, REC).status_code == 204
    assert len(behaviour.lines()) == 4


def test_the_beacon_is_in_the_api_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/track"]["post"]
    assert "204" in operation["responses"] and "400" in operation["responses"]


# --- the pages' markup ---------------------------------------------------------------------------


def test_every_page_loads_the_beacon_script_from_a_static_file(client):
    page = client.get(reverse("home")).content.decode()
    script = re.search(r'<script src="[^"]*/js/track\.js"[^>]*>', page).group(0)
    assert 'data-url="/api/track"' in script and "data-csrf=" in script and "defer" in script


def test_a_seated_sessions_link_on_the_event_page_reports_the_seat_map_opened(client):
    seated, _types = seated_session()
    general, _ = ga_session(event=seated.event, stock={"Lawn": 50})
    page = client.get(reverse("events:detail", args=[seated.event_id])).content.decode()
    links = re.findall(r'<a [^>]*data-testid="session-link"[^>]*>', page)
    tracked = [link for link in links if "data-track=" in link]
    assert len(links) == 2 and len(tracked) == 1
    assert f'data-track-session="{seated.pk}"' in tracked[0] and f'data-track-event="{seated.event_id}"' in tracked[0]
    assert 'data-track="seatmap_open"' in tracked[0] and "event_page" in tracked[0]
    assert f'href="/sessions/{general.pk}/"' not in tracked[0]
