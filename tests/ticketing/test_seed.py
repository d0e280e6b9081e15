"""seed_demo loads a usable demo once and changes nothing when run again."""

import pytest
from django.core.management import call_command

from accounts.models import User
from analytics.documents import BehaviourLog
from events.models import Category, Event, EventStatus
from events.selectors import event_search
from orders.models import Order, Ticket
from tickets.models import Stock

HISTORY = {"buyers": 20, "history_days": 14}  # smaller than make run's, the same code


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_the_catalogue_is_searchable(capsys):
    call_command("seed_demo", **HISTORY)
    out = capsys.readouterr().out
    assert "admin@demo.local" in out and "demo-customer-pass" in out
    assert "demo history: 14 days, 21 buyers" in out
    counts = (User.objects.count(), Event.objects.count(), Category.objects.count(), Order.objects.count(),
              Ticket.objects.count(), list(Stock.objects.order_by("pk").values_list("sold", flat=True)),
              BehaviourLog._get_collection().count_documents({}))
    assert counts[3] > 0 and counts[6] > 0
    assert counts[1] >= 300 and Category.objects.filter(depth=1).count() >= 4
    assert {u.role for u in User.objects.all()} == {"admin", "publisher", "customer"}
    assert Event.objects.filter(status=EventStatus.PENDING).exists()  # something for the review queue

    call_command("seed_demo", **HISTORY)
    assert "demo history: already there" in capsys.readouterr().out
    assert (User.objects.count(), Event.objects.count(), Category.objects.count(), Order.objects.count(),
            Ticket.objects.count(), list(Stock.objects.order_by("pk").values_list("sold", flat=True)),
            BehaviourLog._get_collection().count_documents({})) == counts
    assert event_search(query="演唱会").exists()
    assert event_search(query="Shanghai").exists()
