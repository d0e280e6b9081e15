"""Holds: all-or-nothing, limits, expiry, release — one buyer at a time (races: test_races.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.factories import UserFactory
from tests.tickets.factories import draft, ga_session, seat_ids, seated_session, ticket_types
from tickets import fastpath, services
from tickets.models import Hold, HoldStatus, PriceTier, SeatStatus, SessionSeat, Stock
from tickets.selectors import seatmap_state, session_stock

pytestmark = pytest.mark.django_db


def seat_statuses(session) -> dict[int, str]:
    return {row[0]: row[7] for row in seatmap_state(session)["seats"]}


def expire(hold: Hold) -> None:
    """As if the hold's time ran out: its rows' deadline passes and its Redis claims lapse."""
    past = timezone.now() - timedelta(seconds=1)
    Hold.objects.filter(pk=hold.pk).update(expires_at=past)
    seats = SessionSeat.objects.filter(hold=hold)
    fastpath.forget_seats(hold.session_id, seats.values_list("seat_id", flat=True))
    seats.update(held_until=past)


def test_holding_seats_takes_them_at_the_current_price():
    session, types = seated_session(price=280)
    buyer = UserFactory()
    seats = seat_ids(session)[:2]

    hold = services.hold_create(user=buyer, session=session, seat_ids=seats)

    assert hold.status == HoldStatus.ACTIVE
    assert [i.unit_price for i in hold.items.all()] == [Decimal("280.00")] * 2
    assert hold.expires_at > timezone.now() + timedelta(minutes=9)
    statuses = seat_statuses(session)
    assert [statuses[s] for s in seats] == [SeatStatus.HELD] * 2


def test_second_buyer_of_the_same_seat_gets_seat_taken_and_nothing():
    session, _types = seated_session()
    seats = seat_ids(session)
    services.hold_create(user=UserFactory(), session=session, seat_ids=[seats[1]])
    other = UserFactory()

    with pytest.raises(services.SeatTaken) as error:
        services.hold_create(user=other, session=session, seat_ids=[seats[0], seats[1]])

    assert "row 1 seat 2" in str(error.value)
    assert not Hold.objects.filter(user=other).exists()
    assert seat_statuses(session)[seats[0]] == SeatStatus.FREE  # all or nothing


def test_a_seat_taken_without_redis_is_refused_by_the_database(monkeypatch):
    session, _types = seated_session()
    seat = seat_ids(session)[0]
    monkeypatch.setattr("tickets.fastpath.claim_seats", lambda *args: None)  # Redis "away"
    services.hold_create(user=UserFactory(), session=session, seat_ids=[seat])

    with pytest.raises(services.SeatTaken):
        services.hold_create(user=UserFactory(), session=session, seat_ids=[seat])


def test_general_admission_hold_moves_the_counters():
    session, types = ga_session(stock={"Standard": 10, "VIP": 5}, prices={"Standard": 100, "VIP": 500})
    services.hold_create(user=UserFactory(), session=session,
                         quantities={types["Standard"].pk: 3, types["VIP"].pk: 1})

    rows = {r.ticket_type.name: r for r in session_stock(session)}
    assert (rows["Standard"].available, rows["Standard"].held, rows["Standard"].sold) == (7, 3, 0)
    assert (rows["VIP"].available, rows["VIP"].held) == (4, 1)


def test_asking_for_more_than_is_left_holds_nothing_of_any_type():
    session, types = ga_session(stock={"Standard": 10, "VIP": 2})
    buyer = UserFactory()

    with pytest.raises(services.SoldOut):
        services.hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 2, types["VIP"].pk: 3})

    assert Stock.objects.get(ticket_type=types["Standard"]).available == 10
    assert not Hold.objects.filter(user=buyer).exists()


def test_asking_for_more_than_is_left_does_not_turn_the_next_buyer_away():
    session, types = ga_session(stock={"VIP": 2})
    vip = types["VIP"].pk
    with pytest.raises(services.SoldOut):
        services.hold_create(user=UserFactory(), session=session, quantities={vip: 3})

    assert not fastpath.known_sold_out(session.pk, [vip])  # 2 are left: not sold out
    services.hold_create(user=UserFactory(), session=session, quantities={vip: 2})


def test_the_last_ticket_gone_turns_buyers_away_early_until_stock_returns(django_capture_on_commit_callbacks):
    session, types = ga_session(stock={"VIP": 2})
    vip, first, second = types["VIP"].pk, UserFactory(), UserFactory()
    hold = services.hold_create(user=first, session=session, quantities={vip: 2})
    with pytest.raises(services.SoldOut):
        services.hold_create(user=second, session=session, quantities={vip: 1})
    assert fastpath.known_sold_out(session.pk, [vip]) == ["VIP"]
    with pytest.raises(services.SoldOut, match="VIP"):  # told by Redis, in the same words
        services.hold_create(user=second, session=session, quantities={vip: 1})

    with django_capture_on_commit_callbacks(execute=True):
        services.hold_release(user=first, hold_id=hold.pk)

    assert not fastpath.known_sold_out(session.pk, [vip])
    services.hold_create(user=second, session=session, quantities={vip: 1})


def test_per_buyer_limit_counts_live_holds_and_is_a_clear_error():
    session, types = ga_session(per_user_limit=4)
    buyer, tt = UserFactory(), types["Standard"].pk
    services.hold_create(user=buyer, session=session, quantities={tt: 3})

    with pytest.raises(services.OverLimit) as error:
        services.hold_create(user=buyer, session=session, quantities={tt: 2})

    assert "at most 4 Standard" in str(error.value)
    services.hold_create(user=buyer, session=session, quantities={tt: 1})  # exactly the limit is fine


def test_an_expired_hold_no_longer_counts_against_the_limit():
    session, types = ga_session(per_user_limit=2)
    buyer, tt = UserFactory(), types["Standard"].pk
    expire(services.hold_create(user=buyer, session=session, quantities={tt: 2}))

    services.hold_create(user=buyer, session=session, quantities={tt: 2})


@override_settings(HOLD_MAX_ACTIVE=2)
def test_a_buyer_has_at_most_the_capped_number_of_live_holds():
    session, types = ga_session()
    buyer, tt = UserFactory(), types["Standard"].pk
    services.hold_create(user=buyer, session=session, quantities={tt: 1})
    services.hold_create(user=buyer, session=session, quantities={tt: 1})

    with pytest.raises(services.TooManyHolds):
        services.hold_create(user=buyer, session=session, quantities={tt: 1})


def test_clicked_seats_join_the_buyers_hold_and_share_its_timer():
    session, _types = seated_session()
    buyer, seats = UserFactory(), seat_ids(session)
    first = services.hold_create(user=buyer, session=session, seat_ids=[seats[0]], join=True)
    second = services.hold_create(user=buyer, session=session, seat_ids=[seats[1]], join=True)

    assert first.pk == second.pk
    assert Hold.objects.get(pk=first.pk).items.count() == 2


def test_sales_closed_and_unpublished_sessions_refuse_holds():
    session, types = ga_session()
    session.sales_end = timezone.now() - timedelta(minutes=1)
    session.sales_start = session.sales_end - timedelta(days=1)
    session.save()
    with pytest.raises(services.SalesClosed):
        services.hold_create(user=UserFactory(), session=session, quantities={types["Standard"].pk: 1})

    other, other_types = ga_session()
    draft(other)
    with pytest.raises(services.SalesClosed):
        services.hold_create(user=UserFactory(), session=other, quantities={other_types["Standard"].pk: 1})


@pytest.mark.parametrize("kwargs, message", [
    ({"quantities": {}}, "at least one"),
    ({"seat_ids": [1]}, "no seat map"),
    ({"quantities": {"TT": 21}}, "At most 20"),
    ({"quantities": {"TT": -1}}, "negative"),
])
def test_malformed_requests_change_nothing(kwargs, message):
    session, types = ga_session()
    if "quantities" in kwargs:
        kwargs["quantities"] = {types["Standard"].pk: n for n in kwargs["quantities"].values()}
    with pytest.raises(services.BadHoldRequest) as error:
        services.hold_create(user=UserFactory(), session=session, **kwargs)
    assert message in str(error.value)
    assert Stock.objects.get(session=session).available == 100


def test_expired_seats_are_free_to_reads_and_takers_before_any_sweep():
    session, _types = seated_session()
    seat = seat_ids(session)[0]
    expire(services.hold_create(user=UserFactory(), session=session, seat_ids=[seat]))

    assert seat_statuses(session)[seat] == SeatStatus.FREE
    assert session_stock(session)[0].available == 10
    services.hold_create(user=UserFactory(), session=session, seat_ids=[seat])


def test_expired_ga_stock_is_available_at_once_and_taken_back_by_the_next_buyer():
    session, types = ga_session(stock={"Standard": 3})
    tt = types["Standard"].pk
    old = services.hold_create(user=UserFactory(), session=session, quantities={tt: 3})
    expire(old)

    assert session_stock(session)[0].available == 3
    services.hold_create(user=UserFactory(), session=session, quantities={tt: 3})

    old.refresh_from_db()
    assert old.status == HoldStatus.EXPIRED
    stock = Stock.objects.get(session=session)
    assert (stock.available, stock.held, stock.sold) == (0, 3, 0)


def test_the_sweep_returns_expired_holds_for_good_once():
    session, types = ga_session(stock={"Standard": 5})
    seated, _ = seated_session()
    expire(services.hold_create(user=UserFactory(), session=session, quantities={types["Standard"].pk: 2}))
    expire(services.hold_create(user=UserFactory(), session=seated, seat_ids=seat_ids(seated)[:3]))
    live = services.hold_create(user=UserFactory(), session=session, quantities={types["Standard"].pk: 1})

    assert services.holds_expire_due() == 2
    assert services.holds_expire_due() == 0

    stock = Stock.objects.get(session=session)
    assert (stock.available, stock.held) == (4, 1)
    assert SessionSeat.objects.filter(session=seated, status=SeatStatus.FREE).count() == 10
    assert Hold.objects.get(pk=live.pk).status == HoldStatus.ACTIVE


def test_releasing_returns_everything_and_is_idempotent():
    session, types = ga_session(stock={"Standard": 5})
    buyer = UserFactory()
    hold = services.hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 2})

    services.hold_release(user=buyer, hold_id=hold.pk)
    services.hold_release(user=buyer, hold_id=hold.pk)

    assert Stock.objects.get(session=session).available == 5
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.RELEASED


def test_nobody_releases_another_buyers_hold_or_seat():
    session, _types = seated_session()
    seat = seat_ids(session)[0]
    hold = services.hold_create(user=UserFactory(), session=session, seat_ids=[seat])
    stranger = UserFactory()

    with pytest.raises(services.NotFound):
        services.hold_release(user=stranger, hold_id=hold.pk)
    with pytest.raises(services.NotFound):
        services.seat_release(user=stranger, session=session, seat_id=seat)
    assert seat_statuses(session)[seat] == SeatStatus.HELD


def test_releasing_one_seat_keeps_the_rest_of_the_hold():
    session, _types = seated_session()
    buyer, seats = UserFactory(), seat_ids(session)[:2]
    hold = services.hold_create(user=buyer, session=session, seat_ids=seats)

    services.seat_release(user=buyer, session=session, seat_id=seats[0])

    assert seat_statuses(session)[seats[0]] == SeatStatus.FREE
    assert Hold.objects.get(pk=hold.pk).items.get().seat_id == seats[1]
    services.seat_release(user=buyer, session=session, seat_id=seats[1])
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.RELEASED


def test_early_bird_and_demand_tiers_set_the_held_price():
    session, types = ga_session(stock={"Standard": 10}, prices={"Standard": 100})
    tt = types["Standard"]
    PriceTier.objects.create(ticket_type=tt, kind="time", until=timezone.now() + timedelta(days=1), adjust_percent=-20)
    PriceTier.objects.create(ticket_type=tt, kind="demand", sold_percent=50, adjust_percent=25)

    first = services.hold_create(user=UserFactory(), session=session, quantities={tt.pk: 5})
    second = services.hold_create(user=UserFactory(), session=session, quantities={tt.pk: 1})

    assert first.items.get().unit_price == Decimal("80.00")  # early bird
    assert second.items.get().unit_price == Decimal("100.00")  # early bird, then +25% once half is gone
    assert session_stock(session)[0].price == Decimal("100.00")


def test_publisher_builds_a_seat_map_from_a_layout_with_aisles_and_row_types():
    session, types = seated_session()
    event = session.event
    vip = ticket_types(event, {"VIP": 880})["VIP"]
    layout = {"sections": [{"name": "池座", "ticket_type": types["Standard"].pk, "rows": 3, "seats": 10,
                            "first_row": "A", "aisles": [5], "row_types": {"A": vip.pk}}]}

    seat_map = services.seat_map_create(actor=event.publisher, event=event, name="Main", layout=layout)

    seats = list(seat_map.seats.order_by("pk"))
    assert len(seats) == 30
    assert {s.ticket_type_id for s in seats if s.row == "A"} == {vip.pk}
    row_a = [s for s in seats if s.row == "A"]
    assert row_a[5].x - row_a[4].x == 2 * (row_a[1].x - row_a[0].x)  # the aisle after seat 5


def test_a_bad_layout_lists_every_problem():
    session, types = seated_session()
    layout = {"sections": [{"name": "", "rows": 0, "seats": 10, "aisles": [12]}]}
    with pytest.raises(services.ValidationError) as error:
        services.seat_map_create(actor=session.event.publisher, event=session.event, name="x", layout=layout)
    text = " ".join(error.value.messages)
    assert "needs a name" in text and "between 1 and 60 rows" in text and "ticket type" in text and "aisle" in text


def test_only_the_events_publisher_changes_its_inventory():
    session, _types = ga_session()
    with pytest.raises(services.Forbidden):
        services.ticket_type_create(actor=UserFactory(role="publisher"), event=session.event, name="X",
                                    base_price=Decimal("1"))
