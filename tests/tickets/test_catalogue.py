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
