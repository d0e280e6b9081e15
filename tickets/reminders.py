"""On-sale reminders (开售提醒): a buyer who wants an event (events.Favourite, 想看) is told, once, when a
session's sales open and when a session is added to it: in the bell, live on their open pages, and by email.

Beat runs `reminders_due()` every minute (CELERY_BEAT_SCHEDULE "on-sale-reminders"). For a session of an
approved event, a reminder is due
- "sales open": its sales opened within the last WINDOW, the session existed before they opened, and they
  have not closed; to those who marked the event before the sales opened;
- "session added": it was created within the last WINDOW and has not ended; to those who marked the event
  before the session was made.

Once: the SessionReminder row is written in the same transaction as the notification and its email's
outbox message, and its unique constraint turns any second writer (a run that overlaps the last, two beats)
into a skip. A beat down for less than WINDOW misses nothing; sales that opened longer ago are not news.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.notifications import notify
from events.models import EventStatus
from tickets.models import ReminderKind, Session, SessionReminder
from tickets.services import retry_deadlocks

WINDOW = timedelta(hours=6)
BATCH = 200  # buyers a transaction: a popular event's thousands of wanters go out in several

SALES_OPEN = (_("On sale now: %(event)s"), _("Sales for the session of %(session)s have opened."))
SESSION_ADDED = _("New session: %(event)s")
ADDED_ON_SALE = _("A session on %(session)s was added, and it is on sale now.")
ADDED_OPENS = _("A session on %(session)s was added. Sales open at %(opens)s.")


def reminders_due(*, now: datetime | None = None) -> int:
    """Send every reminder that is due now and was not sent yet; returns how many were sent. Safe to run
    at any time and in any number of processes at once (see the module's docstring)."""
    now = now or timezone.now()
    since = now - WINDOW
    public = Session.objects.filter(event__status=EventStatus.APPROVED).select_related("event")
    sent = 0
    for session in public.filter(sales_start__gt=since, sales_start__lte=now, sales_end__gt=now,
                                 created_at__lt=F("sales_start")).order_by("pk"):
        sent += _remind(session, ReminderKind.SALES_OPEN, marked_before=session.sales_start)
    for session in public.filter(created_at__gt=since, created_at__lte=now, end_time__gt=now).order_by("pk"):
        sent += _remind(session, ReminderKind.SESSION_ADDED, marked_before=session.created_at)
    return sent


def _remind(session: Session, kind: str, *, marked_before: datetime) -> int:
    reminded = SessionReminder.objects.filter(session=session, kind=kind).values("user_id")
    wanters = (User.objects.filter(is_active=True, favourites__event_id=session.event_id,
                                   favourites__created_at__lt=marked_before)
               .exclude(pk__in=reminded).order_by("pk"))
    sent = 0
    while batch := list(wanters[:BATCH]):  # each pass starts a fresh read: those just reminded are gone
        sent += retry_deadlocks(lambda: _send(batch, session, kind))
    return sent


def _send(users: list[User], session: Session, kind: str) -> int:
    try:  # the usual case: nobody else is at it, so the batch's rows go in with one statement
        with transaction.atomic():
            SessionReminder.objects.bulk_create([SessionReminder(user=u, session=session, kind=kind) for u in users])
            for user in users:
                _notify(user, session, kind)
        return len(users)
    except IntegrityError:
        pass  # another run took some of them first: one by one, skipping theirs
    sent = 0
    with transaction.atomic():
        for user in users:
            try:
                with transaction.atomic():
                    SessionReminder.objects.create(user=user, session=session, kind=kind)
            except IntegrityError:
                continue  # another run reminded them first (this insert waited for its commit, then lost)
            _notify(user, session, kind)
            sent += 1
    return sent


def _notify(user: User, session: Session, kind: str) -> None:
    if kind == ReminderKind.SALES_OPEN:
        title, body = SALES_OPEN
    else:
        title, body = SESSION_ADDED, ADDED_ON_SALE if session.sales_start <= timezone.now() else ADDED_OPENS
    opens = timezone.localtime(session.sales_start).strftime("%Y-%m-%d %H:%M")
    notify(users=[user], kind=f"reminder.{kind}", url=reverse("tickets:session", args=[session.pk]),
           title=title, body=body, params={"event": session.event.title, "session": str(session), "opens": opens})
