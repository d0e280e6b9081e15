"""Many OS processes race for the same seats and stock against the real database (and Redis, or none).

Each child is a fresh interpreter with its own connection; they are released at
the same instant (tests/helpers/processes.py). The database must hand each seat
to one hold and never let held + sold pass the stock, whatever Redis does.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.tickets.factories import ga_session, seat_ids, seated_session
from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, SessionSeat, Stock

pytestmark = pytest.mark.django_db(transaction=True)

PROCESSES = 8
NO_REDIS = {"REDIS_URL": "redis://127.0.0.1:1/0", "CHANNEL_LAYER_URL": "redis://127.0.0.1:1/0"}


def try_hold(user_id: int, session_id: int, seats: list[int], quantities: dict) -> str:
    from accounts.models import User
    from tickets import services
    from tickets.models import Session

    session = Session.objects.select_related("event").get(pk=session_id)
    try:
        services.hold_create(user=User.objects.get(pk=user_id), session=session, seat_ids=seats,
                             quantities=quantities)
    except (services.SeatTaken, services.SoldOut) as exc:
        return exc.code
    return "held"


def sweep() -> int:
    from tickets.services import holds_expire_due

    return holds_expire_due()


def live_seat_items(session) -> list[int]:
    return list(HoldItem.objects.filter(hold__session=session, hold__status=HoldStatus.ACTIVE, seat__isnull=False)
                .values_list("seat_id", flat=True))


def assert_stock_adds_up(session) -> Stock:
    stock = Stock.objects.get(session=session)
    in_holds = (HoldItem.objects.filter(hold__session=session, hold__status=HoldStatus.ACTIVE)
                .aggregate(n=Sum("quantity"))["n"] or 0)
    assert stock.held == in_holds
    assert stock.available + stock.held + stock.sold == stock.total
    assert stock.available >= 0
    return stock


@pytest.mark.parametrize("env", [{}, NO_REDIS], ids=["redis", "redis-down"])
def test_one_process_wins_the_same_four_seats_and_gets_all_four(env):
    session, _types = seated_session(rows=2, seats=5)
    wanted = seat_ids(session)[:4]
    users = [UserFactory().pk for _ in range(PROCESSES)]

    results = run_in_processes(try_hold, [(u, session.pk, wanted, {}) for u in users], env=env)

    assert Counter(results) == {"held": 1, "seat_taken": PROCESSES - 1}
    assert sorted(live_seat_items(session)) == sorted(wanted)
    assert SessionSeat.objects.filter(session=session, status=SeatStatus.HELD).count() == 4
    assert Hold.objects.filter(session=session).count() == 1  # the losers left nothing behind


@pytest.mark.parametrize("env", [{}, NO_REDIS], ids=["redis", "redis-down"])
def test_overlapping_multi_seat_holds_never_share_a_seat_and_are_whole(env):
    session, _types = seated_session(rows=1, seats=10)
    seats = seat_ids(session)
    asks = [seats[i:i + 3] for i in range(PROCESSES)]  # neighbours overlap by two seats
    users = [UserFactory().pk for _ in asks]

    results = run_in_processes(try_hold, [(u, session.pk, ask, {}) for u, ask in zip(users, asks)], env=env)

    held = live_seat_items(session)
    assert len(held) == len(set(held))
    for hold in Hold.objects.filter(session=session, status=HoldStatus.ACTIVE):
        assert hold.items.count() == 3  # all or nothing
    assert results.count("held") * 3 == len(held) >= 3
    assert SessionSeat.objects.filter(session=session, status=SeatStatus.HELD).count() == len(held)


@pytest.mark.parametrize("env", [{}, NO_REDIS], ids=["redis", "redis-down"])
def test_general_admission_never_sells_past_its_stock(env):
    session, types = ga_session(stock={"Standard": 20})
    tt = types["Standard"].pk
    users = [UserFactory().pk for _ in range(PROCESSES + 2)]

    results = run_in_processes(try_hold, [(u, session.pk, [], {tt: 3}) for u in users], env=env)

    assert results.count("held") == 6  # 6 × 3 = 18 of 20; the rest are told it is sold out
    assert results.count("sold_out") == len(users) - 6
    stock = assert_stock_adds_up(session)
    assert (stock.available, stock.held) == (2, 18)


def test_sweeps_in_several_processes_return_each_expired_hold_once():
    session, types = ga_session(stock={"Standard": 30})
    tt = types["Standard"].pk
    for _ in range(10):
        try_hold(UserFactory().pk, session.pk, [], {tt: 2})
    Hold.objects.filter(session=session).update(expires_at=timezone.now() - timedelta(seconds=1))

    done = run_in_processes(sweep, [()] * 4)

    assert sum(done) == 10
    stock = assert_stock_adds_up(session)
    assert (stock.available, stock.held) == (30, 0)


def test_buyers_racing_a_sweep_for_expired_stock_never_oversell():
    session, types = ga_session(stock={"Standard": 6})
    tt = types["Standard"].pk
    for _ in range(3):
        try_hold(UserFactory().pk, session.pk, [], {tt: 2})
    Hold.objects.filter(session=session).update(expires_at=timezone.now() - timedelta(seconds=1))
    users = [UserFactory().pk for _ in range(5)]

    results = run_in_processes(_hold_or_sweep, [(u, session.pk, tt) for u in users] + [(None, 0, 0)] * 2)

    assert results.count("held") == 3  # 6 tickets came back; 3 buyers of 2 got them
    stock = assert_stock_adds_up(session)
    assert (stock.available, stock.held) == (0, 6)


def _hold_or_sweep(user_id, session_id, tt):
    if user_id is None:
        sweep()
        return "swept"
    return try_hold(user_id, session_id, [], {tt: 2})
