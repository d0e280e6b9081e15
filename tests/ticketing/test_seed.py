"""seed_demo loads a usable demo once and changes nothing when run again."""

import pytest
from django.core.management import call_command

from accounts.models import User
from events.models import Category, Event, EventStatus
from events.selectors import event_search


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_the_catalogue_is_searchable(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "admin@demo.local" in out and "demo-customer-pass" in out
    counts = (User.objects.count(), Event.objects.count(), Category.objects.count())
    assert counts[1] >= 300 and Category.objects.filter(depth=1).count() >= 4
    assert {u.role for u in User.objects.all()} == {"admin", "publisher", "customer"}
    assert Event.objects.filter(status=EventStatus.PENDING).exists()  # something for the review queue

    call_command("seed_demo")
    assert (User.objects.count(), Event.objects.count(), Category.objects.count()) == counts
    assert event_search(query="演唱会").exists()
    assert event_search(query="Shanghai").exists()
