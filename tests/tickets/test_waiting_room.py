"""A hot sale's waiting room: a fair order, admission at the configured rate, signed admissions, the gate
on every way to the tickets, failing closed without Redis, and a room and poll that never touch the
database."""

import asyncio
import threading
import time
from datetime import timedelta

import pytest
import websockets
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from orders.models import Order
from tests.factories import UserFactory
from tests.helpers.aio import run
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tests.tickets.test_socket import cookie_for
from tickets import catalogue, waiting_room
from tickets.models import Hold, Session


def make_hot(session: Session, *, starts_in: float = -60, rate: int = 20) -> Session:
    """The session as a hot sale whose sales start `starts_in` seconds from now (negative: already open)."""
    start = timezone.now() + timedelta(seconds=starts_in)
    Session.objects.filter(pk=session.pk).update(waiting_room=True, admit_per_second=rate, sales_start=start)
    catalogue.forget_all()
    waiting_room.config_write(session.pk)
    return Session.objects.select_related("event", "seat_map").get(pk=session.pk)


def admit(session: Session, user) -> str:
    """Puts the buyer through the room at once (as if their turn came) and returns their admission."""
    token, _expires = waiting_room.token_issue(session_id=session.pk, user_id=user.pk, admitted_at=time.time())
    return token


def api(user=None, **headers) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en", **headers)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}", **headers)
    return client


@pytest.fixture
def start():
    """A fake room clock at a sale start: the session's sales_start as epoch seconds."""
    session, _types = seated_session()
    session = make_hot(session, starts_in=300, rate=10)
    return session, session.sales_start.timestamp()


def users(n: int) -> list[int]:
    return list(range(10_000, 10_000 + n))  # accounts by id: the queue never reads them


# --- fairness ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_joiners_before_the_sale_get_random_places_that_refreshing_never_changes(start):
    session, t0 = start
    for user_id in users(50):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 60)
    first = waiting_room.scores(session.pk)
    assert len(first) == 50 and all(0 <= s < 1 for s in first.values())
    assert len(set(first.values())) == 50
    for user_id in users(50):  # everyone refreshes, twice
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 30)
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 20)
    assert waiting_room.scores(session.pk) == first


@pytest.mark.django_db
def test_the_order_at_sale_start_does_not_follow_the_order_of_arrival(start):
    session, t0 = start
    arrivals = users(200)
    for i, user_id in enumerate(arrivals):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 200 + i)  # one a second
    places = {user_id: waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 1).position
              for user_id in arrivals}
    # Spearman's rank correlation of arrival and place: near 0 when the order is random (|rho| > 0.3 is
    # more than 4 standard deviations away for 200 people).
    n = len(arrivals)
    d2 = sum((i + 1 - places[u]) ** 2 for i, u in enumerate(arrivals))
    rho = 1 - 6 * d2 / (n * (n * n - 1))
    assert abs(rho) < 0.3, rho
    assert sorted(places.values()) == list(range(1, n + 1))


@pytest.mark.django_db
def test_later_arrivals_join_the_back_in_the_order_they_came(start):
    session, t0 = start
    early, late = users(30), list(range(90_000, 90_010))
    for user_id in early:
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 10)
    # Just after the start, before anyone is let in (a tenth of a second at 10/s: no whole admission yet).
    places = [waiting_room.poll(session_id=session.pk, user_id=u, now=t0 + 0.009 * (i + 1)).position
              for i, u in enumerate(late)]
    assert places == list(range(31, 41))
    assert waiting_room.poll(session_id=session.pk, user_id=late[0], now=t0 + 0.095).position == 31


# --- admission rate ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_room_admits_at_the_configured_rate_however_often_it_is_asked(start):
    session, t0 = start  # 10 per second
    queue = users(200)
    for user_id in queue:
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 5)
    for step in range(1, 51):  # 5 s of polls, 10 a second, each by someone else
        for user_id in queue[step % 7::37][:1]:
            waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 + step / 10)
    assert waiting_room.stats(session.pk)["admitted"] == 50
    # The same moment asked again admits nobody more (idempotent for a given time).
    for user_id in queue[:20]:
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 + 5)
    assert waiting_room.stats(session.pk)["admitted"] == 50


@pytest.mark.django_db
def test_a_quiet_spell_does_not_store_up_a_flood_of_admissions(start):
    session, t0 = start
    for user_id in users(100):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 1)
    waiting_room.poll(session_id=session.pk, user_id=users(1)[0], now=t0 + 60)  # nobody asked for a minute
    assert waiting_room.stats(session.pk)["admitted"] == 10  # one second's worth, not 600


@pytest.mark.django_db(transaction=True)
def test_many_processes_polling_at_once_admit_no_more_than_the_rate(start):
    session, t0 = start
    for user_id in users(500):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 1)
    errors = []

    def poller(offset: int):
        try:
            for step in range(100):  # 8 threads × 100 polls over 3 s of the room's time
                waiting_room.poll(session_id=session.pk, user_id=users(500)[(offset * 61 + step) % 500],
                                  now=t0 + (step * 8 + offset) * 3 / 800)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poller, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    admitted = waiting_room.stats(session.pk)["admitted"]
    assert 25 <= admitted <= 30  # 3 s at 10/s (polls out of order between threads lose a little credit)


@pytest.mark.django_db
def test_an_admission_left_unused_lapses_and_its_owner_joins_the_back(start, settings):
    session, t0 = start
    for user_id in users(50):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 1)
    let_in = t0 + 0.35  # 3.5 credits: the first three are let in
    places = {u: waiting_room.poll(session_id=session.pk, user_id=u, now=let_in) for u in users(50)}
    admitted = [u for u, place in places.items() if place.state == "admitted"]
    assert len(admitted) == 3
    lapsed = let_in + settings.WAITING_ROOM_ADMISSION_MINUTES * 60 + 1
    place = waiting_room.poll(session_id=session.pk, user_id=admitted[0], now=lapsed)
    # 47 waited; the lapsed one joins behind them, then a second's worth (10) is let in from the front.
    assert place.state == "waiting" and place.rejoined and place.position == 38


# --- admissions -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admission_is_signed_bound_to_its_account_and_session_and_expires():
    now = time.time()
    token, expires = waiting_room.token_issue(session_id=5, user_id=7, admitted_at=now)
    assert expires == int(now + settings.WAITING_ROOM_ADMISSION_MINUTES * 60)
    assert waiting_room.token_valid(token, session_id=5, user_id=7)
    assert not waiting_room.token_valid(token, session_id=6, user_id=7)
    assert not waiting_room.token_valid(token, session_id=5, user_id=8)
    assert not waiting_room.token_valid(token, session_id=5, user_id=None)
    assert not waiting_room.token_valid(token, session_id=5, user_id=7, now=expires + 1)
    forged = signing.dumps({"s": 5, "u": 7, "x": expires + 9999}, salt="someone else's", compress=False)
    assert not waiting_room.token_valid(forged, session_id=5, user_id=7)
    assert not waiting_room.token_valid(token[:-2] + "xx", session_id=5, user_id=7)
    assert not waiting_room.token_valid("", session_id=5, user_id=7)


# --- the poll -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_poll_takes_a_place_and_lets_the_buyer_in_with_a_cookie_and_a_token():
    session, _types = ga_session()
    session = make_hot(session, starts_in=-5, rate=100)
    buyer = UserFactory()
    answer = api(buyer).post(reverse("tickets:api_waiting_room", args=[session.pk]))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    if body["state"] == "waiting":  # not let in on the very first ask: the next one a moment later
        time.sleep(0.1)
        answer = api(buyer).post(reverse("tickets:api_waiting_room", args=[session.pk]))
        body = answer.json()
    assert body["state"] == "admitted"
    assert waiting_room.token_valid(body["token"], session_id=session.pk, user_id=buyer.pk)
    assert answer.cookies[waiting_room.token_cookie(session.pk)].value == body["token"]


@pytest.mark.django_db
def test_the_poll_asks_an_anonymous_visitor_to_log_in_and_queues_nobody():
    session, _types = ga_session()
    session = make_hot(session, starts_in=-5)
    body = api().post(reverse("tickets:api_waiting_room", args=[session.pk])).json()
    assert body["state"] == "login_required" and body["login_url"].startswith("/accounts/login/?next=")
    assert waiting_room.stats(session.pk)["waiting"] == 0


@pytest.mark.django_db
def test_the_poll_shows_a_place_and_an_estimated_wait_after_sales_open(start, monkeypatch):
    session, t0 = start
    for user_id in users(40):
        waiting_room.poll(session_id=session.pk, user_id=user_id, now=t0 - 1)
    buyer = UserFactory()
    monkeypatch.setattr(waiting_room, "clock", lambda: t0 + 0.05)
    body = api(buyer).post(reverse("tickets:api_waiting_room", args=[session.pk])).json()
    assert body["state"] == "waiting" and body["position"] == 41 and body["waiting"] == 41
    assert body["eta_seconds"] == 5  # 41 at 10 a second
    assert 2000 <= body["next_poll_ms"] <= 5500


@pytest.mark.django_db
def test_a_session_without_a_room_says_go_ahead():
    session, _types = ga_session()
    body = api(UserFactory()).post(reverse("tickets:api_waiting_room", args=[session.pk])).json()
    assert body["state"] == "open" and body["session_url"] == f"/sessions/{session.pk}/"


# --- the gate -----------------------------------------------------------------------------------------


@pytest.fixture
def hot():
    session, types = seated_session()
    return make_hot(session, starts_in=-60), types


@pytest.mark.django_db
def test_the_session_page_sends_visitors_without_an_admission_to_the_room(hot):
    session, _types = hot
    room = f"/waiting-room/{session.pk}/"
    assert Client().get(f"/sessions/{session.pk}/")["Location"] == room
    buyer = UserFactory()
    client = Client()
    client.force_login(buyer)
    answer = client.get(f"/sessions/{session.pk}/")
    assert answer.status_code == 302 and answer["Location"] == room
    assert waiting_room.visitor_of(type("R", (), {"COOKIES": {
        waiting_room.VISITOR_COOKIE: answer.cookies[waiting_room.VISITOR_COOKIE].value}})()) == buyer.pk
    client.cookies[waiting_room.token_cookie(session.pk)] = admit(session, UserFactory())  # someone else's
    assert client.get(f"/sessions/{session.pk}/").status_code == 302
    client.cookies[waiting_room.token_cookie(session.pk)] = admit(session, buyer)
    page = client.get(f"/sessions/{session.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"You are through the waiting room" in page.content


@pytest.mark.django_db
def test_the_publisher_sees_the_session_page_but_cannot_hold_past_the_room(hot):
    session, _types = hot
    client = Client()
    client.force_login(session.event.publisher)
    page = client.get(f"/sessions/{session.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and b"buyers reach this page in turn" in page.content
    answer = api(session.event.publisher).put(reverse("tickets:api_lock", args=[seat_ids(session)[0]]),
                                               {"session": session.pk}, format="json")
    assert answer.status_code == 403 and answer.json()["code"] == "waiting_room_required"


@pytest.mark.django_db
def test_the_hold_api_refuses_a_buyer_without_an_admission_and_holds_nothing(hot):
    session, _types = hot
    buyer = UserFactory()
    seat = seat_ids(session)[0]
    for answer in (api(buyer).post(reverse("tickets:api_holds"), {"session": session.pk, "seats": [seat]}, format="json"),
                   api(buyer).put(reverse("tickets:api_lock", args=[seat]), {"session": session.pk}, format="json"),
                   api(buyer, HTTP_X_WAITING_ROOM_TOKEN=admit(session, UserFactory())).post(
                       reverse("tickets:api_holds"), {"session": session.pk, "seats": [seat]}, format="json")):
        assert answer.status_code == 403
        body = answer.json()
        assert body["code"] == "waiting_room_required"
        assert body["room"] == f"/waiting-room/{session.pk}/" and body["poll"].endswith(f"/{session.pk}/queue")
        assert "waiting room" in body["detail"]
    assert not Hold.objects.exists()
    answer = api(buyer, HTTP_X_WAITING_ROOM_TOKEN=admit(session, buyer)).put(
        reverse("tickets:api_lock", args=[seat]), {"session": session.pk}, format="json")
    assert answer.status_code == 201
    assert Hold.objects.get().user == buyer


@pytest.mark.django_db
def test_order_create_with_seats_needs_an_admission(hot):
    session, _types = hot
    buyer = UserFactory()
    body = {"session": session.pk, "seats": [seat_ids(session)[1]]}
    refused = api(buyer).post(reverse("orders:api_order_create"), body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "waiting_room_required"
    assert not Order.objects.exists()
    made = api(buyer, HTTP_X_WAITING_ROOM_TOKEN=admit(session, buyer)).post(
        reverse("orders:api_order_create"), body, format="json")
    assert made.status_code == 201, made.content


@pytest.mark.django_db
def test_the_general_admission_form_holds_only_with_an_admission():
    session, types = ga_session()
    session = make_hot(session)
    buyer = UserFactory()
    client = Client()
    client.force_login(buyer)
    form = {f"qty-{types['Standard'].pk}": "2"}
    client.post(f"/sessions/{session.pk}/hold/", form, HTTP_REFERER=f"http://testserver/sessions/{session.pk}/")
    assert not Hold.objects.exists()
    client.cookies[waiting_room.token_cookie(session.pk)] = admit(session, buyer)
    client.post(f"/sessions/{session.pk}/hold/", form)
    assert Hold.objects.get().quantity == 2


@pytest.mark.django_db
def test_the_seat_map_json_is_only_for_admitted_buyers_also_when_kept(hot):
    session, _types = hot
    url = reverse("tickets:api_seatmap", args=[session.pk])
    buyer = UserFactory()
    allowed = api(buyer, HTTP_X_WAITING_ROOM_TOKEN=admit(session, buyer)).get(url)
    assert allowed.status_code == 200 and allowed.json()["seats"]  # and now kept in Redis
    for answer in (APIClient().get(url, HTTP_ACCEPT="application/json"), api(buyer).get(url)):
        assert answer.status_code == 403 and answer.json()["code"] == "waiting_room_required"


@pytest.mark.django_db(transaction=True)
def test_the_seat_map_socket_needs_an_admission(asgi_server):
    session, _types = seated_session()
    session = make_hot(session)
    buyer = UserFactory()
    cookie = cookie_for(buyer)

    async def connect(extra: str = "") -> object:
        async with websockets.connect(f"{asgi_server.ws_url}/ws/seatmap/{session.pk}/", origin=asgi_server.url,
                                      additional_headers={"Cookie": cookie + extra}) as ws:
            try:
                return (await asyncio.wait_for(ws.recv(), 5))[:20]
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code

    assert run(connect()) == 4403
    assert run(connect(f"; {waiting_room.token_cookie(session.pk)}={admit(session, buyer)}")).startswith('{"type": "snap')


@pytest.mark.django_db
def test_outside_the_rooms_window_nothing_changes():
    session, _types = ga_session()
    later = make_hot(session, starts_in=(settings.WAITING_ROOM_OPENS_MINUTES + 5) * 60)
    assert Client().get(f"/sessions/{later.pk}/").status_code == 200
    assert Client().get(f"/waiting-room/{later.pk}/")["Location"] == f"/sessions/{later.pk}/"
    Session.objects.filter(pk=later.pk).update(waiting_room=False, sales_start=timezone.now() - timedelta(hours=1))
    catalogue.forget_all()
    waiting_room.config_write(later.pk)
    buyer = UserFactory()
    answer = api(buyer).post(reverse("tickets:api_holds"), {"session": later.pk, "quantities": {
        str(_types["Standard"].pk): 1}}, format="json")
    assert answer.status_code == 201


# --- failing closed -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_redis_the_room_lets_nobody_in_and_says_so(hot, redis_outage):
    session, _types = hot
    buyer = UserFactory()
    answer = api(buyer).post(reverse("tickets:api_waiting_room", args=[session.pk]))
    assert answer.status_code == 503 and answer.json()["code"] == "waiting_room_unavailable"
    page = Client().get(f"/waiting-room/{session.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 503 and b"nobody is let in until it is back" in page.content
    client = Client()
    client.force_login(buyer)
    assert client.get(f"/sessions/{session.pk}/")["Location"] == f"/waiting-room/{session.pk}/"
    seat = seat_ids(session)[0]
    refused = api(buyer).put(reverse("tickets:api_lock", args=[seat]), {"session": session.pk}, format="json")
    assert refused.status_code == 403 and not Hold.objects.exists()
    # An admission given before Redis went away is still honoured: the database decides the sale.
    held = api(buyer, HTTP_X_WAITING_ROOM_TOKEN=admit(session, buyer)).put(
        reverse("tickets:api_lock", args=[seat]), {"session": session.pk}, format="json")
    assert held.status_code == 201


# --- no database ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_room_page_and_its_poll_send_no_sql(hot, django_assert_num_queries):
    session, _types = hot
    buyer = UserFactory()
    client = Client()
    client.force_login(buyer)
    entered = client.get(f"/sessions/{session.pk}/")  # sets the room's visitor cookie
    client.cookies[waiting_room.VISITOR_COOKIE] = entered.cookies[waiting_room.VISITOR_COOKIE].value
    with django_assert_num_queries(0):
        page = client.get(f"/waiting-room/{session.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and b'<html lang="zh-hans">' in page.content
    assert session.event.title.encode() in page.content
    with django_assert_num_queries(0):
        polled = client.post(f"/api/tickets/sessions/{session.pk}/queue")
    assert polled.status_code == 200 and polled.json()["state"] in ("waiting", "admitted")
    by_access_token = api(UserFactory())
    with django_assert_num_queries(0):
        by_token = by_access_token.post(f"/api/tickets/sessions/{session.pk}/queue")
    assert by_token.json()["state"] in ("waiting", "admitted")


# --- the publisher ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_publisher_makes_a_session_hot_and_buyers_see_it():
    session, _types = ga_session()
    publisher = session.event.publisher
    answer = api(publisher).put(reverse("tickets:api_session_waiting_room", args=[session.pk]),
                                {"waiting_room": True, "admit_per_second": 50}, format="json")
    assert answer.status_code == 200 and answer.json()["waiting_room"] and answer.json()["admit_per_second"] == 50
    session.refresh_from_db()
    assert session.waiting_room and session.admit_per_second == 50
    event_page = Client().get(f"/events/{session.event_id}/", HTTP_ACCEPT_LANGUAGE="en")
    assert b'data-testid="waiting-room"' in event_page.content


@pytest.mark.django_db
def test_another_publisher_cannot_touch_the_room_and_a_bad_rate_changes_nothing():
    session, _types = ga_session()
    other = UserFactory(role=Role.PUBLISHER)
    url = reverse("tickets:api_session_waiting_room", args=[session.pk])
    assert api(other).put(url, {"waiting_room": True}, format="json").status_code == 404
    bad = api(session.event.publisher).put(url, {"waiting_room": True, "admit_per_second": 0}, format="json")
    assert bad.status_code == 400 and "admit_per_second" in bad.json()
    session.refresh_from_db()
    assert not session.waiting_room


def minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db
def test_the_publisher_pages_create_and_toggle_a_hot_session():
    session, types = ga_session()
    event, publisher = session.event, session.event.publisher
    client = Client()
    client.force_login(publisher)
    opens = timezone.localtime() + timedelta(days=1)
    answer = client.post(f"/publisher/events/{event.pk}/tickets/sessions/new/", {
        "start_time": minute(event.start_time + timedelta(minutes=1)),
        "end_time": minute(event.end_time - timedelta(minutes=1)),
        "sales_start": minute(opens), "sales_end": minute(event.start_time + timedelta(minutes=1)),
        "seating": "ga", f"stock-type_{types['Standard'].pk}": "50", "waiting_room": "on", "admit_per_second": "30"})
    assert answer.status_code == 302, (answer.context["form"].errors, answer.context["stock"].errors)
    made = Session.objects.latest("pk")
    assert made.waiting_room and made.admit_per_second == 30
    client.post(f"/publisher/events/{event.pk}/tickets/sessions/{made.pk}/waiting-room/", {"admit_per_second": "30"})
    made.refresh_from_db()
    assert not made.waiting_room
    manage = client.get(f"/publisher/events/{event.pk}/tickets/", HTTP_ACCEPT_LANGUAGE="en")
    assert b'data-testid="waiting-room-settings"' in manage.content
