"""The behaviour log: lines reach MongoDB off the request, outages lose no page, logging resumes."""

import time

import pytest
from django.urls import reverse

from analytics import tracking
from analytics.documents import Action, BehaviourLog
from analytics.middleware import COOKIE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tracked_line_reaches_mongodb_with_who_and_what(behaviour):
    user = UserFactory()
    tracking.track(Action.SEARCH, user=user, anon_id="abc123", event_id=None, details={"q": "周杰伦", "results": 3})
    [line] = behaviour.lines()
    assert line["user_id"] == user.pk and line["anon_id"] == "abc123" and line["action"] == "search"
    assert line["details"] == {"q": "周杰伦", "results": 3} and line["timestamp"] is not None


def test_a_user_who_turned_personalisation_off_is_logged_without_an_id(behaviour):
    user = UserFactory(personalised=False)
    tracking.track(Action.EVENT_VIEW, user=user, anon_id="abc123", event_id=7)
    [line] = behaviour.lines()
    assert line["user_id"] is None and line["anon_id"] == "abc123" and line["event_id"] == 7


def test_a_new_visitor_gets_the_first_party_cookie_once(client):
    first = client.get(reverse("home"))
    anon = first.cookies[COOKIE].value
    assert len(anon) == 32 and first.cookies[COOKIE]["httponly"]
    again = client.get(reverse("home"))
    assert COOKIE not in again.cookies


def test_api_answers_set_no_visitor_cookie(client):
    assert COOKIE not in client.get("/api/events/search?q=x").cookies


@pytest.mark.parametrize("mongo_outage", ["refused", "hung"], indirect=True)
def test_pages_do_not_wait_for_a_dead_mongodb_and_logging_resumes_after(client, mongo_outage, behaviour):
    started = time.perf_counter()
    for _ in range(20):
        tracking.track(Action.EVENT_VIEW, anon_id="x1", event_id=1)
        assert client.get(reverse("home")).status_code == 200
    # Each write waits 3 s for this MongoDB: 20 pages that waited would take a minute.
    assert time.perf_counter() - started < 20
    assert not tracking.flush(1.5)
    waiting = tracking.stats()
    assert waiting["pending"] + waiting["queued"] >= 20 and waiting["lost"] == 0
    # MongoDB is back: the kept lines are written without anyone doing anything.
    from analytics.mongo import connect
    from django.conf import settings
    import mongoengine

    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    connect()
    BehaviourLog._collection = None
    tracking._writer.mongo.until = 0.0
    assert len(behaviour.lines(action="event_view", anon_id="x1")) == 20


def test_the_writer_outlives_a_database_that_fails_it_and_writes_such_lines_anonymously(behaviour, monkeypatch):
    def broken():
        raise RuntimeError("no database here")

    monkeypatch.setattr(tracking, "close_old_connections", broken)
    user = UserFactory()
    tracking.track(Action.EVENT_VIEW, user=user, anon_id="w1", event_id=3)
    behaviour.flush()
    monkeypatch.setattr(tracking, "_opted_out", lambda ids: 1 / 0)  # fails outside any guard it had before
    monkeypatch.setattr(tracking._Writer, "_anonymise", lambda self, lines: 1 / 0)
    tracking.track(Action.EVENT_VIEW, user=user, anon_id="w2", event_id=4)
    tracking.flush(3)
    monkeypatch.undo()
    tracking.track(Action.EVENT_VIEW, user=user, anon_id="w3", event_id=5)
    lines = behaviour.lines()
    assert [(line["anon_id"], line["user_id"]) for line in lines] == [("w1", None), ("w3", user.pk)]
