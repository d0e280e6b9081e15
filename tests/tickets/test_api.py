"""The inventory API: publishers build sessions, buyers read stock and hold; errors are clear and change nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from tests.events.factories import EventFactory
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seat_ids, seated_session
from ticketing.cache import redis_is_down
from tickets.models import Hold, SeatStatus, Session, SessionSeat, Stock

pytestmark = pytest.mark.django_db


def client_for(user, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


def test_a_publisher_builds_a_seated_session_through_the_api():
    publisher = UserFactory(role=Role.PUBLISHER)
    event = EventFactory(publisher=publisher)
    api = client_for(publisher)

    tt = api.post("/api/tickets/types/create", {
        "event": event.pk, "name": "VIP", "base_price": "880.00", "per_user_limit": 4,
        "tiers": [{"kind": "time", "until": (timezone.now() + timedelta(days=3)).isoformat(), "adjust_percent": -20}],
    }, format="json")
    assert tt.status_code == 201, tt.content
    seat_map = api.post("/api/tickets/seatmaps/create", {"event": event.pk, "name": "Main hall", "layout": {
        "stage": "舞台", "sections": [{"name": "A", "ticket_type": tt.json()["id"], "rows": 3, "seats": 8,
                                      "aisles": [4]}]}}, format="json")
    assert seat_map.status_code == 201 and seat_map.json()["seats"] == 24
    session = api.post("/api/tickets/sessions/create", {
        "event": event.pk, "name": "首演", "hall": "1号厅", "start_time": event.start_time.isoformat(),
        "end_time": event.end_time.isoformat(), "sales_start": timezone.now().isoformat(),
        "sales_end": event.start_time.isoformat(), "seat_map": seat_map.json()["id"]}, format="json")
    assert session.status_code == 201, session.content
    assert SessionSeat.objects.filter(session_id=session.json()["id"]).count() == 24


@pytest.mark.parametrize("change, message", [
    ({"end_time": "start"}, "ends after it starts"),
    ({"stock": {}}, "seat map, or a number of tickets"),
    ({"sales_end": "after-end"}, "by the end of the session"),
    ({"start_time": "before-event"}, "within the event's dates"),
])
def test_a_bad_session_is_refused_with_its_reason_and_nothing_is_made(change, message):
    publisher = UserFactory(role=Role.PUBLISHER)
    event = EventFactory(publisher=publisher)
    tt = client_for(publisher).post("/api/tickets/types/create", {"event": event.pk, "name": "GA", "base_price": "50"},
                                    format="json").json()["id"]
    body = {"event": event.pk, "start_time": event.start_time, "end_time": event.end_time,
            "sales_start": timezone.now(), "sales_end": event.start_time, "stock": {str(tt): 100}}
    values = {"start": event.start_time, "after-end": event.end_time + timedelta(hours=1),
              "before-event": event.start_time - timedelta(days=1)}
    body.update({k: values.get(v, v) if isinstance(v, str) else v for k, v in change.items()})

    response = client_for(publisher).post("/api/tickets/sessions/create", body, format="json")

    assert response.status_code == 400
    assert message in " ".join(response.json()["non_field_errors"])
    assert not Session.objects.filter(event=event).exists()


def test_nobody_adds_sessions_to_another_publishers_event():
    event = EventFactory()
    response = client_for(UserFactory(role=Role.PUBLISHER)).post(
        "/api/tickets/types/create", {"event": event.pk, "name": "VIP", "base_price": "1"}, format="json")
    assert response.status_code == 404


def test_stock_lists_every_session_and_type_with_counts_and_current_price():
    session, types = ga_session(stock={"Standard": 10, "VIP": 2}, prices={"Standard": 100, "VIP": 500})
    client_for(UserFactory()).post("/api/tickets/holds", {"session": session.pk,
                                                          "quantities": {str(types["VIP"].pk): 2}}, format="json")

    body = APIClient().get(f"/api/tickets/{session.event_id}/stock").json()

    assert body[0]["id"] == session.pk and body[0]["on_sale"] is True
    rows = {row["name"]: row for row in body[0]["ticket_types"]}
    assert rows["VIP"] | {} == {**rows["VIP"], "total": 2, "available": 0, "held": 2, "sold": 0, "price": "500.00"}
    assert rows["Standard"]["available"] == 10


def test_locking_and_releasing_a_single_seat():
    session, _types = seated_session()
    buyer, seat = UserFactory(), seat_ids(session)[0]
    api = client_for(buyer)

    held = api.put(f"/api/tickets/lock/{seat}", {"session": session.pk}, format="json")
    assert held.status_code == 201 and held.json()["items"][0]["seat"] == seat
    taken = client_for(UserFactory()).put(f"/api/tickets/lock/{seat}", {"session": session.pk}, format="json")
    assert taken.status_code == 409 and taken.json()["code"] == "seat_taken"
    not_yours = client_for(UserFactory()).delete(f"/api/tickets/lock/{seat}", {"session": session.pk}, format="json")
    assert not_yours.status_code == 404
    assert api.delete(f"/api/tickets/lock/{seat}", {"session": session.pk}, format="json").status_code == 204
    assert SessionSeat.objects.get(session=session, seat_id=seat).status == SeatStatus.FREE


@pytest.mark.parametrize("redis_outage", ["hung"], indirect=True)
def test_a_redis_that_stops_answering_is_waited_on_once_then_left_alone(redis_outage):
    session, _types = seated_session()
    seats, api = seat_ids(session), client_for(UserFactory())

    first = api.put(f"/api/tickets/lock/{seats[0]}", {"session": session.pk}, format="json")
    second = api.put(f"/api/tickets/lock/{seats[1]}", {"session": session.pk}, format="json")

    assert (first.status_code, second.status_code) == (201, 201)  # the database still sells
    assert len(redis_outage.accepted) == 1  # the second request did not wait on Redis again
    assert redis_is_down()


def test_hold_errors_come_in_the_buyers_language_and_change_nothing():
    session, types = ga_session(stock={"Standard": 2})
    api = client_for(UserFactory(), language="zh-hans")

    sold_out = api.post("/api/tickets/holds", {"session": session.pk, "quantities": {str(types["Standard"].pk): 3}},
                        format="json")
    empty = api.post("/api/tickets/holds", {"session": session.pk, "quantities": {}}, format="json")
    unknown = api.post("/api/tickets/holds", {"session": session.pk, "quantities": {"abc": 1}}, format="json")

    assert sold_out.status_code == 409 and sold_out.json()["code"] == "sold_out"
    assert "售罄" in sold_out.json()["detail"]
    assert empty.status_code == 400 and "至少" in empty.json()["detail"]
    assert unknown.status_code == 400
    assert Stock.objects.get(session=session).available == 2 and not Hold.objects.exists()


def test_sales_closed_is_a_clear_400():
    session, types = ga_session()
    Session.objects.filter(pk=session.pk).update(sales_start=timezone.now() + timedelta(days=1))
    response = client_for(UserFactory()).post(
        "/api/tickets/holds", {"session": session.pk, "quantities": {str(types["Standard"].pk): 1}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "sales_closed"


def test_the_seat_map_json_marks_my_seats():
    session, _types = seated_session(rows=1, seats=3)
    buyer = UserFactory()
    api = client_for(buyer)
    api.put(f"/api/tickets/lock/{seat_ids(session)[1]}", {"session": session.pk}, format="json")

    mine = api.get(f"/api/tickets/sessions/{session.pk}/seatmap").json()
    theirs = APIClient().get(f"/api/tickets/sessions/{session.pk}/seatmap").json()

    seat = mine["seats"][1]
    assert seat[7] == "held" and seat[8] == mine["me"] and seat[9] > timezone.now().timestamp()
    assert theirs["me"] is None  # anonymous: nothing is "mine"
    assert [s[7] for s in theirs["seats"]] == ["free", "held", "free"]


def test_a_drafts_sessions_are_hidden_from_buyers():
    session, types = ga_session()
    session.event.status = "draft"
    session.event.save()
    assert APIClient().get(f"/api/tickets/sessions/{session.pk}/seatmap").status_code == 404
    assert APIClient().get(f"/api/tickets/{session.event_id}/stock").status_code == 404
