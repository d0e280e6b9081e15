"""tickets.catalogue: what a sale keeps of a session per process, and when it reads it again."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.tickets.factories import ga_session
from tickets import catalogue
from tickets.models import Session

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_process_keeps_its_copy_until_the_version_is_dropped_as_another_process_commit_does():
    session, _types = ga_session()
    assert catalogue.session_info(session.pk).sales_open(timezone.now())
    closed = timezone.now() - timedelta(minutes=1)
    Session.objects.filter(pk=session.pk).update(sales_start=closed - timedelta(hours=1), sales_end=closed)

    kept = catalogue.session_info(session.pk)  # behind the ORM's back: nobody said, the copy stands
    cache.delete(catalogue._version_key(session.pk))  # what a publisher's commit in another process does
    fresh = catalogue.session_info(session.pk)

    assert kept.sales_open(timezone.now()) and not fresh.sales_open(timezone.now())


def test_a_publisher_write_drops_the_version_for_every_process_once_it_commits():
    session, types = ga_session(prices={"Standard": 100})
    catalogue.session_info(session.pk)
    assert cache.get(catalogue._version_key(session.pk)) is not None

    standard = types["Standard"]
    standard.base_price = 120
    standard.save()  # autocommit: committed at once

    assert cache.get(catalogue._version_key(session.pk)) is None
    assert catalogue.session_info(session.pk).ticket_types[standard.pk].base_price == 120


def test_without_redis_every_read_goes_to_the_database(redis_outage):
    session, _types = ga_session()
    catalogue.session_info(session.pk)
    closed = timezone.now() - timedelta(minutes=1)
    Session.objects.filter(pk=session.pk).update(sales_start=closed - timedelta(hours=1), sales_end=closed)

    assert not catalogue.session_info(session.pk).sales_open(timezone.now())


def test_a_ga_hold_reads_the_version_with_the_sold_out_marks_and_still_sees_a_dropped_one(monkeypatch):
    from django_redis import get_redis_connection

    from tests.factories import UserFactory
    from tickets import services

    session, types = ga_session(prices={"Standard": 100})
    standard = types["Standard"]
    buyer = UserFactory()
    services.hold_take(user=buyer, session_id=session.pk, quantities={standard.pk: 1})  # the copy is kept
    standard.base_price = 150
    standard.save()  # the publisher's write drops the version once it commits

    client = get_redis_connection("default")
    reads = []
    for name in ("get", "mget"):
        real = getattr(client, name)
        monkeypatch.setattr(client, name, lambda *a, _real=real, _name=name, **kw: reads.append(_name) or _real(*a, **kw))
    taken = services.hold_take(user=buyer, session_id=session.pk, quantities={standard.pk: 1})

    assert taken.items[0].unit_price == 150  # the new price: the dropped version was seen
    assert reads[:1] == ["mget"] and "get" not in reads  # one round trip for the version and the marks
