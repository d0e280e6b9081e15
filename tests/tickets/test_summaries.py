"""An event's price range and "tickets left" (what the list filters, sorts and cards read) follow time
alone too: a time price tier that ends, a sale that closes, a session that ends (tickets.services
.event_summaries_due, the beat's refresh_due_summaries)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from events.models import Event
from events.selectors import event_search
from tickets import services
from tickets.models import PriceTier, PriceTierKind, Session
from tests.tickets.factories import ga_session

pytestmark = pytest.mark.django_db


def early_bird(ticket_type, *, until):
    return PriceTier.objects.create(ticket_type=ticket_type, kind=PriceTierKind.TIME, until=until, adjust_percent=-20)


def test_when_an_early_bird_ends_the_list_shows_and_filters_by_the_full_price():
    session, types = ga_session(prices={"Standard": 100})
    tier = early_bird(types["Standard"], until=timezone.now() + timedelta(minutes=5))
    services.event_summary_refresh(event_id=session.event_id)
    assert Event.objects.get(pk=session.event_id).price_min == Decimal("80.00")
    PriceTier.objects.filter(pk=tier.pk).update(until=timezone.now() - timedelta(minutes=1))  # time passes

    assert services.event_summaries_due() == 1

    event = Event.objects.get(pk=session.event_id)
    assert event.price_min == event.price_max == Decimal("100.00")
    assert session.event_id in {e.pk for e in event_search(price_min=Decimal("90"))}
    assert session.event_id not in {e.pk for e in event_search(price_max=Decimal("85"))}


def test_when_the_last_sale_closes_the_event_has_no_tickets_left():
    session, _types = ga_session()
    services.event_summary_refresh(event_id=session.event_id)
    assert Event.objects.get(pk=session.event_id).tickets_left
    Session.objects.filter(pk=session.pk).update(sales_end=timezone.now() - timedelta(minutes=2))

    services.event_summaries_due()

    assert not Event.objects.get(pk=session.event_id).tickets_left
    assert session.event_id not in {e.pk for e in event_search(available_only=True)}


def test_boundaries_older_than_the_window_or_still_ahead_are_left_alone(django_assert_max_num_queries):
    session, types = ga_session()
    early_bird(types["Standard"], until=timezone.now() - timedelta(hours=3))
    early_bird(types["Standard"], until=timezone.now() + timedelta(hours=3))
    with django_assert_max_num_queries(2):
        assert services.event_summaries_due() == 0
