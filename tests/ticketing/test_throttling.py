"""The hot path's rate limits (ticketing.throttling): per user, over a sliding minute, in the buyer's
language, with Retry-After; still per process with Redis away; a refused request changes nothing."""

import pytest

from tests.factories import UserFactory
from tests.tickets.factories import ga_session
from tests.tickets.test_api import client_for
from ticketing import throttling
from tickets.models import Hold, Stock

pytestmark = pytest.mark.django_db

MINUTE = 60.0


@pytest.fixture
def three_holds_a_minute(monkeypatch):
    monkeypatch.setattr(throttling.FailOpenThrottle, "THROTTLE_RATES", {"holds": "3/min", "orders": "3/min"})


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, set by the test (seconds since the epoch)."""
    now = {"t": 1_000_000 * MINUTE + 50}  # 50 s into a window
    monkeypatch.setattr(throttling, "clock", lambda: now["t"])
    return now


def hold(api, session, tt):
    return api.post("/api/tickets/holds", {"session": session.pk, "quantities": {str(tt.pk): 1}}, format="json")


def test_a_buyer_over_the_limit_is_told_to_wait_in_their_language_and_others_are_not(three_holds_a_minute, clock):
    session, types = ga_session(stock={"Standard": 10}, per_user_limit=10)
    tt = types["Standard"]
    eager, other = client_for(UserFactory(), language="zh-hans"), client_for(UserFactory())
    assert [hold(eager, session, tt).status_code for _ in range(3)] == [201, 201, 201]

    refused = hold(eager, session, tt)
    assert refused.status_code == 429 and "请求" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 10  # the window ends 10 s later
    assert Hold.objects.count() == 3 and Stock.objects.get(session=session).available == 7  # nothing held
    assert hold(other, session, tt).status_code == 201


def test_the_last_minute_counts_across_the_windows_boundary(three_holds_a_minute, clock):
    session, types = ga_session(stock={"Standard": 10}, per_user_limit=10)
    api = client_for(UserFactory())
    assert [hold(api, session, types["Standard"]).status_code for _ in range(3)] == [201] * 3  # at 0:50

    clock["t"] += 15  # 0:05 into the next window: the three of 0:50 still weigh 55/60 of the limit
    assert hold(api, session, types["Standard"]).status_code == 429
    clock["t"] += 40  # 0:45: they weigh a quarter now; the refused request counts, so 0.75 + 1 + 1 = 2.75
    assert hold(api, session, types["Standard"]).status_code == 201


def test_without_redis_the_limit_still_holds_in_the_process(three_holds_a_minute, redis_outage):
    session, types = ga_session(stock={"Standard": 10}, per_user_limit=10)
    api = client_for(UserFactory())
    assert [hold(api, session, types["Standard"]).status_code for _ in range(4)] == [201, 201, 201, 429]
    assert Hold.objects.count() == 3
