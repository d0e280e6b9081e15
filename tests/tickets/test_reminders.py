"""开售提醒: who wants an event is told once when a session's sales open and when a session is added, in
their language, in the bell and by email (tickets.reminders; the beat's send_due_reminders)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import Notification
from events.models import EventStatus, Favourite
from events.services import favourite_add, favourite_remove
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.tickets.factories import ga_session
from tickets import reminders, services
from tickets.models import ReminderKind, Session, SessionReminder

pytestmark = pytest.mark.django_db


def opening_session(*, in_: timedelta = timedelta(hours=1)) -> Session:
    """A session on sale from `in_` from now (made now, so it existed before its sales opened)."""
    session, _types = ga_session()
    Session.objects.filter(pk=session.pk).update(sales_start=timezone.now() + in_)
    return Session.objects.select_related("event").get(pk=session.pk)


def wanters(session: Session, count: int, **user_fields) -> list:
    users = UserFactory.create_batch(count, **user_fields)
    for user in users:
        favourite_add(user=user, event_id=session.event_id)
    return users


def after_opening(session: Session, minutes: int = 1):
    return session.sales_start + timedelta(minutes=minutes)


@pytest.mark.django_db(transaction=True)  # the email leaves through the outbox after commit
@pytest.mark.usefixtures("eager_celery")
def test_each_wanter_is_told_once_when_sales_open_in_their_own_language():
    session = opening_session()
    english, chinese = UserFactory(language="en", email="en@example.com"), UserFactory(language="zh-hans")
    for user in (english, chinese):
        favourite_add(user=user, event_id=session.event_id)

    assert reminders.reminders_due(now=session.sales_start - timedelta(minutes=1)) == 0  # not yet
    assert reminders.reminders_due(now=after_opening(session)) == 2
    assert reminders.reminders_due(now=after_opening(session, 2)) == 0  # the next beat: nothing twice

    note = Notification.objects.get(user=english, kind="reminder.sales_open")
    assert note.title == f"On sale now: {session.event.title}" and note.url == f"/sessions/{session.pk}/"
    assert Notification.objects.get(user=chinese, kind="reminder.sales_open").title == f"开售啦：{session.event.title}"
    prefix = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX
    assert [m.subject for m in mail.outbox if m.to == ["en@example.com"]] == [f"{prefix}{note.title}"]


def test_who_marked_after_sales_opened_or_unmarked_before_is_not_told():
    session = opening_session()
    early, gone_off_it = wanters(session, 2)
    favourite_remove(user=gone_off_it, event_id=session.event_id)
    late = UserFactory()
    Favourite.objects.create(user=late, event_id=session.event_id)
    Favourite.objects.filter(user=late).update(created_at=after_opening(session))

    assert reminders.reminders_due(now=after_opening(session, 5)) == 1
    assert list(SessionReminder.objects.values_list("user_id", flat=True)) == [early.pk]


def test_a_beat_down_for_hours_catches_up_but_old_news_is_not_sent():
    session = opening_session()
    wanters(session, 1)
    assert reminders.reminders_due(now=session.sales_start + reminders.WINDOW + timedelta(minutes=1)) == 0
    assert reminders.reminders_due(now=session.sales_start + reminders.WINDOW - timedelta(minutes=1)) == 1


def test_a_session_already_on_sale_when_made_tells_its_news_once_as_a_new_session():
    session, _types = ga_session()  # on sale since an hour before it was made
    buyer = UserFactory(language="en")
    Favourite.objects.create(user=buyer, event_id=session.event_id)
    Favourite.objects.filter(user=buyer).update(created_at=session.created_at - timedelta(days=1))

    assert reminders.reminders_due(now=timezone.now()) == 1
    note = Notification.objects.get(user=buyer)
    assert note.kind == "reminder.session_added" and note.title == f"New session: {session.event.title}"
    assert "it is on sale now" in note.body
    assert not SessionReminder.objects.filter(kind=ReminderKind.SALES_OPEN).exists()


def test_a_session_added_before_its_sales_tells_both_news_at_their_time():
    first, types = ga_session()
    buyer = UserFactory(language="en")
    Favourite.objects.create(user=buyer, event_id=first.event_id)
    Favourite.objects.filter(user=buyer).update(created_at=timezone.now() - timedelta(days=3))
    Session.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2),  # old news
                                               sales_start=timezone.now() - timedelta(days=1))
    opens = timezone.now() + timedelta(hours=2)
    added = services.session_create(actor=first.event.publisher, event=first.event, start_time=first.start_time,
                                    end_time=first.end_time, sales_start=opens, sales_end=first.sales_end,
                                    stock={types["Standard"].pk: 10})

    assert reminders.reminders_due(now=timezone.now()) == 1
    body = Notification.objects.get(user=buyer, kind="reminder.session_added").body
    assert f"Sales open at {timezone.localtime(opens):%Y-%m-%d %H:%M}" in body
    assert reminders.reminders_due(now=opens + timedelta(minutes=1)) == 1
    assert Notification.objects.filter(user=buyer, kind="reminder.sales_open", url=f"/sessions/{added.pk}/").exists()


@pytest.mark.parametrize("status", [EventStatus.CANCELLED, EventStatus.PENDING])
def test_an_event_off_sale_reminds_nobody(status):
    session = opening_session()
    wanters(session, 2)
    session.event.status = status
    session.event.save()
    assert reminders.reminders_due(now=after_opening(session)) == 0
    assert not Notification.objects.filter(kind__startswith="reminder.").exists()


def test_a_closed_account_is_not_written_to():
    session = opening_session()
    closed, = wanters(session, 1, is_active=False)
    assert reminders.reminders_due(now=after_opening(session)) == 0
    assert not Notification.objects.filter(user=closed).exists()


def test_thousands_of_wanters_go_out_in_batches_and_all_of_them(monkeypatch):
    monkeypatch.setattr(reminders, "BATCH", 2)
    session = opening_session()
    users = wanters(session, 5)
    assert reminders.reminders_due(now=after_opening(session)) == 5
    assert set(SessionReminder.objects.values_list("user_id", flat=True)) == {u.pk for u in users}


def test_a_reminder_that_fails_to_commit_is_sent_by_the_next_beat(monkeypatch):
    session = opening_session()
    buyer, = wanters(session, 1)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away mid-batch")

    monkeypatch.setattr(reminders, "notify", broken)
    with pytest.raises(RuntimeError):
        reminders.reminders_due(now=after_opening(session))
    assert not SessionReminder.objects.exists()  # its row went with the failed notification
    monkeypatch.undo()
    assert reminders.reminders_due(now=after_opening(session, 2)) == 1
    assert Notification.objects.filter(user=buyer, kind="reminder.sales_open").count() == 1


def run_beat(moment_iso: str) -> int:
    from datetime import datetime

    from tickets import reminders

    return reminders.reminders_due(now=datetime.fromisoformat(moment_iso))


@pytest.mark.django_db(transaction=True)
def test_four_beats_at_once_tell_each_wanter_exactly_once():
    session = opening_session()
    users = wanters(session, 12)
    sent = run_in_processes(run_beat, [(after_opening(session).isoformat(),)] * 4)
    assert sum(sent) == 12
    for user in users:
        assert Notification.objects.filter(user=user, kind="reminder.sales_open").count() == 1
    assert SessionReminder.objects.count() == 12
