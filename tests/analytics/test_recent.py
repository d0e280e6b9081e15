"""A user's newest interactions kept in Redis by the behaviour-log writer, for the recommendations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import recent, tracking
from analytics.documents import Action
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_user_nobody_asked_about_is_not_known_and_new_lines_start_no_partial_list(behaviour):
    user = UserFactory()
    tracking.track(Action.EVENT_VIEW, user=user, event_id=5)
    behaviour.flush()
    assert recent.read(user.pk) is None  # the recommendations will read the whole history from MongoDB once


def test_once_filled_the_list_follows_every_new_line_newest_first(behaviour):
    user = UserFactory()
    before = timezone.now() - timedelta(days=1)
    recent.fill(user.pk, [{"event_id": 1, "action": Action.PAY, "timestamp": before}])
    tracking.track(Action.EVENT_VIEW, user=user, event_id=2)
    tracking.track(Action.HOLD, user=user, event_id=3)
    tracking.track(Action.SEARCH, user=user, details={"q": "x"})  # no event: not a taste
    behaviour.flush()
    lines = recent.read(user.pk)
    assert [(line["event_id"], line["action"]) for line in lines] == [(3, "hold"), (2, "event_view"), (1, "pay")]
    assert abs((lines[2]["timestamp"] - before).total_seconds()) < 0.001


def test_a_user_with_no_lines_is_known_as_such():
    user = UserFactory()
    recent.fill(user.pk, [])
    assert recent.read(user.pk) == []


def test_the_list_keeps_the_newest_fifty(behaviour):
    user = UserFactory()
    recent.fill(user.pk, [])
    for n in range(60):
        tracking.track(Action.EVENT_VIEW, user=user, event_id=n + 1)
    behaviour.flush()
    assert [line["event_id"] for line in recent.read(user.pk)] == list(range(60, 10, -1))


def test_lines_of_a_user_who_opted_out_are_not_kept(behaviour):
    user = UserFactory(personalised=False)
    recent.fill(user.pk, [])
    tracking.track(Action.EVENT_VIEW, user=user, event_id=9)
    behaviour.flush()
    assert recent.read(user.pk) == []


def test_the_recommendations_take_a_known_users_lines_from_redis_not_mongodb(behaviour, monkeypatch):
    from analytics.recs import query

    user = UserFactory()
    recent.fill(user.pk, [{"event_id": 1, "action": Action.PAY, "timestamp": timezone.now()}])
    asked = []
    monkeypatch.setattr(query, "_recent_lines", lambda match, limit=50: asked.append(match) or [])

    class Loaded:  # the index as _taste sees it
        version = "v-test"
        built_at = 0.0
        vectors = __import__("numpy").zeros((1, 4), dtype="float32")

        def vector_rows(self, ids):
            return [], __import__("numpy").asarray([], dtype=int)

        def vector_of(self, pk):
            return None

    monkeypatch.setattr(query, "_ask_mongo", lambda work, default: work())
    assert query._taste(user, Loaded()).seen == {1} and asked == []
    other = UserFactory()
    query._taste(other, Loaded())
    assert asked == [{"user_id": other.pk}] and recent.read(other.pk) == []
