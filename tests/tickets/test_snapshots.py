"""Availability reads from snapshots (tickets.snapshots): no SQL on a hit, the same JSON as the database
gives, ETag/304, public vs private caching, and never older than a second after a committed hold."""

import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from events.models import EventStatus
from tests.factories import UserFactory
from tests.tickets.factories import draft, ga_session, seat_ids, seated_session
from tickets import selectors, services, snapshots
from tickets.models import SeatStatus, SessionSeat
from tickets.serializers import SessionStockSerializer

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


def stock_url(session) -> str:
    return f"/api/tickets/{session.event_id}/stock"


def seatmap_url(session) -> str:
    return f"/api/tickets/sessions/{session.pk}/seatmap"


def statuses(body: dict) -> list[str]:
    return [seat[7] for seat in body["seats"]]


def test_a_cached_anonymous_read_sends_no_sql_and_answers_the_same_bytes():
    session, _types = seated_session(rows=2, seats=5)
    ga, _ = ga_session(event=session.event, stock={"GA": 10})
    for url in (stock_url(session), seatmap_url(session), seatmap_url(ga)):
        first = APIClient().get(url)
        with CaptureQueriesContext(connection) as queries:
            second = APIClient().get(url)
        assert first.status_code == second.status_code == 200
        assert len(queries) == 0, [q["sql"] for q in queries]
        assert second.content == first.content and second["ETag"] == first["ETag"]
        assert second["Content-Type"] == "application/json"


def test_the_json_is_byte_for_byte_what_the_serializers_render():
    seated, _ = seated_session(rows=1, seats=3)
    session, types = ga_session(event=seated.event, stock={"GA": 10, "VIP": 2}, prices={"GA": 100, "VIP": 500})
    services.hold_create(user=UserFactory(), session=session, quantities={types["VIP"].pk: 1})
    services.hold_create(user=UserFactory(), session=seated, seat_ids=seat_ids(seated)[:1])

    sessions = selectors.event_sessions(session.event)
    rows = selectors.stock_rows(sessions)
    stock = [{"session": s, "on_sale": s.sales_open(), "ticket_types": [r for r in rows if r.session_id == s.pk]}
             for s in sessions]
    assert APIClient().get(stock_url(session)).content == JSONRenderer().render(
        SessionStockSerializer(stock, many=True).data)
    assert APIClient().get(seatmap_url(seated)).content == JSONRenderer().render(selectors.seatmap_state(seated))

    buyer = UserFactory()
    mine = client_for(buyer).get(seatmap_url(seated))
    assert mine.content == JSONRenderer().render(selectors.seatmap_state(seated, user=buyer))


def test_etag_and_if_none_match_answer_304_without_a_body():
    session, _types = seated_session()
    for url in (stock_url(session), seatmap_url(session)):
        first = APIClient().get(url)
        etag = first["ETag"]
        assert etag.startswith('"') and etag.endswith('"')

        same = APIClient().get(url, HTTP_IF_NONE_MATCH=etag)
        listed = APIClient().get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}')
        other = APIClient().get(url, HTTP_IF_NONE_MATCH='"something-else"')

        assert same.status_code == listed.status_code == 304
        assert same.content == b"" and same["ETag"] == etag and same["Cache-Control"] == "public, max-age=1"
        assert other.status_code == 200 and other.content == first.content


def test_a_hold_changes_the_etag():
    session, _types = seated_session()
    before = APIClient().get(seatmap_url(session))
    services.hold_create(user=UserFactory(), session=session, seat_ids=seat_ids(session)[:1])
    after = APIClient().get(seatmap_url(session), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]


def test_anonymous_answers_are_public_and_signed_in_ones_private_with_my_mark():
    session, _types = seated_session(rows=1, seats=3)
    buyer = UserFactory()
    api = client_for(buyer)
    api.put(f"/api/tickets/lock/{seat_ids(session)[1]}", {"session": session.pk}, format="json")

    anonymous = APIClient().get(seatmap_url(session))
    mine = api.get(seatmap_url(session))
    stock = APIClient().get(stock_url(session))

    assert anonymous["Cache-Control"] == stock["Cache-Control"] == "public, max-age=1"
    assert mine["Cache-Control"] == "private, max-age=1"
    for header in ("Authorization", "Cookie", "Accept-Language"):
        assert header in anonymous["Vary"] and header in mine["Vary"]
    assert "Accept-Language" in stock["Vary"]
    assert anonymous.json()["me"] is None
    assert mine.json()["me"] == services.owner_token(buyer.pk) == mine.json()["seats"][1][8]
    assert {**mine.json(), "me": None} == anonymous.json()
    assert mine["ETag"] != anonymous["ETag"]
    assert api.get(seatmap_url(session), HTTP_IF_NONE_MATCH=mine["ETag"]).status_code == 304
    assert APIClient().get(seatmap_url(session), HTTP_IF_NONE_MATCH=mine["ETag"]).status_code == 200


def test_a_bad_token_is_still_refused_when_the_answer_is_kept():
    session, _types = seated_session()
    for url in (stock_url(session), seatmap_url(session)):
        assert APIClient().get(url).status_code == 200
        refused = APIClient(HTTP_AUTHORIZATION="Bearer not-a-token").get(url)
        assert refused.status_code == 401 and refused.json()["code"] == "token_not_valid"


def test_a_publishers_own_draft_is_computed_for_them_and_never_kept():
    session, _types = seated_session()
    draft(session)
    publisher = client_for(session.event.publisher)

    for url in (stock_url(session), seatmap_url(session)):
        answer = publisher.get(url)
        assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"
        assert APIClient().get(url).status_code == 404
    admin = client_for(UserFactory(role=Role.ADMIN)).get(stock_url(session))
    assert admin.status_code == 200 and admin["Cache-Control"] == "private, no-store"
    assert snapshots.stock(session.event_id) is None and snapshots.seatmap(session.pk) is None


def test_a_hidden_event_is_404_while_another_events_answers_are_kept():
    public, _ = seated_session()
    hidden, _ = seated_session()
    draft(hidden)
    assert APIClient().get(stock_url(public)).status_code == 200
    assert APIClient().get(seatmap_url(public)).status_code == 200

    for url in (stock_url(hidden), seatmap_url(hidden)):
        missing = APIClient().get(url)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        assert "Cache-Control" not in missing or "public" not in missing["Cache-Control"]
    assert APIClient().get("/api/tickets/999999/stock").status_code == 404
    assert APIClient().get("/api/tickets/sessions/999999/seatmap").status_code == 404


def test_a_committed_hold_shows_at_the_next_read():
    session, _types = seated_session(rows=1, seats=4)
    ga, types = ga_session(event=session.event, stock={"GA": 10})
    seat = seat_ids(session)[2]
    assert statuses(APIClient().get(seatmap_url(session)).json())[2] == SeatStatus.FREE
    assert APIClient().get(stock_url(session)).status_code == 200
    assert snapshots.seatmap(session.pk) is not None and snapshots.stock(session.event_id) is not None

    services.hold_create(user=UserFactory(), session=session, seat_ids=[seat])

    assert snapshots.seatmap(session.pk) is None and snapshots.stock(session.event_id) is None
    assert statuses(APIClient().get(seatmap_url(session)).json())[2] == SeatStatus.HELD
    by_session = {s["id"]: s for s in APIClient().get(stock_url(session)).json()}
    assert by_session[session.pk]["ticket_types"][0]["held"] == 1

    # A GA hold in another session of the event drops the event's stock too.
    services.hold_create(user=UserFactory(), session=ga, quantities={types["GA"].pk: 3})
    by_session = {s["id"]: s for s in APIClient().get(stock_url(session)).json()}
    assert by_session[ga.pk]["ticket_types"][0]["available"] == 7


def test_a_release_after_commit_shows_at_the_next_read(django_capture_on_commit_callbacks):
    session, _types = seated_session(rows=1, seats=2)
    buyer, seat = UserFactory(), seat_ids(session)[0]
    services.hold_create(user=buyer, session=session, seat_ids=[seat])
    assert statuses(APIClient().get(seatmap_url(session)).json())[0] == SeatStatus.HELD

    with django_capture_on_commit_callbacks(execute=True):
        services.seat_release(user=buyer, session=session, seat_id=seat)

    assert statuses(APIClient().get(seatmap_url(session)).json())[0] == SeatStatus.FREE


def test_a_change_whose_drop_was_lost_shows_within_a_second(monkeypatch):
    from django.core.cache import cache

    session, _types = seated_session(rows=1, seats=2)
    ga, types = ga_session(event=session.event, stock={"GA": 10})
    APIClient().get(seatmap_url(session))
    APIClient().get(stock_url(session))
    monkeypatch.setattr(snapshots, "forget", lambda session_id: None)  # as if Redis missed the DEL
    services.hold_create(user=UserFactory(), session=session, seat_ids=seat_ids(session))
    services.hold_create(user=UserFactory(), session=ga, quantities={types["GA"].pk: 6})

    assert statuses(APIClient().get(seatmap_url(session)).json()) == [SeatStatus.FREE] * 2  # still the snapshot
    client = get_redis_connection("default")
    for key in (f"snap:seatmap:{session.pk}", f"snap:stock:{session.event_id}"):
        assert 0 < client.pttl(cache.make_key(key)) <= 1000
    time.sleep(snapshots.SECONDS + 0.05)

    assert statuses(APIClient().get(seatmap_url(session)).json()) == [SeatStatus.HELD] * 2
    by_session = {s["id"]: s for s in APIClient().get(stock_url(session)).json()}
    assert by_session[ga.pk]["ticket_types"][0]["available"] == 4


def test_a_snapshot_lives_a_second_from_when_its_rows_were_read():
    from django.core.cache import cache

    snapshot = snapshots.Snapshot.of({"x": 1})
    snapshots.keep_stock(41, [410], snapshot, time.monotonic() - 0.6)
    ttl = get_redis_connection("default").pttl(cache.make_key("snap:stock:41"))
    assert 0 < ttl <= 400
    snapshots.keep_stock(42, [420], snapshot, time.monotonic() - 0.97)  # too slow a read: not kept
    assert snapshots.stock(42) is None

    snapshots.forget(410)  # the session's link finds the event's stock
    assert snapshots.stock(41) is None
    snapshots.forget(123456)  # nothing kept, no link: nothing to do, no error


def test_an_event_that_stops_being_public_is_hidden_within_a_second():
    session, _types = seated_session()
    assert APIClient().get(seatmap_url(session)).status_code == 200
    session.event.status = EventStatus.CANCELLED
    session.event.save(update_fields=["status"])
    time.sleep(snapshots.SECONDS + 0.05)
    assert APIClient().get(seatmap_url(session)).status_code == 404


def test_without_redis_every_read_is_right_and_a_hold_still_works(redis_outage):
    session, _types = seated_session(rows=1, seats=3)
    first = APIClient().get(seatmap_url(session))
    assert first.status_code == 200 and first["Cache-Control"] == "public, max-age=1"
    assert APIClient().get(seatmap_url(session), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    services.hold_create(user=UserFactory(), session=session, seat_ids=seat_ids(session)[:1])

    assert statuses(APIClient().get(seatmap_url(session)).json())[0] == SeatStatus.HELD
    assert APIClient().get(stock_url(session)).json()[0]["ticket_types"][0]["held"] == 1


def test_the_browsable_api_still_renders_html():
    session, _types = seated_session()
    APIClient().get(stock_url(session))
    page = APIClient().get(stock_url(session), HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert json.loads(APIClient().get(stock_url(session)).content)[0]["id"] == session.pk


def test_seats_held_past_their_expiry_read_as_free():
    session, _types = seated_session(rows=1, seats=2)
    services.hold_create(user=UserFactory(), session=session, seat_ids=seat_ids(session)[:1])
    SessionSeat.objects.filter(session=session, status=SeatStatus.HELD).update(
        held_until=timezone.now() - timedelta(seconds=1))
    assert statuses(APIClient().get(seatmap_url(session)).json())[0] == SeatStatus.FREE


def test_the_anonymous_shortcut_answers_what_drf_would():
    session, _types = seated_session()
    for url in (stock_url(session), seatmap_url(session)):
        APIClient().get(url)
        with CaptureQueriesContext(connection) as queries:
            short = APIClient().get(url)  # no credential: answered before DRF wraps the request
        through_drf = APIClient().get(url, HTTP_COOKIE="sessionid=none")  # a cookie: DRF authenticates
        assert len(queries) == 0
        assert short.content == through_drf.content and short["ETag"] == through_drf["ETag"]
        for header in ("Content-Type", "Cache-Control", "Allow"):
            assert short[header] == through_drf[header], header
        assert set(short["Vary"].split(", ")) <= set(through_drf["Vary"].split(", "))
