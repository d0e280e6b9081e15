"""In-app notifications (the bell), pushed live over a websocket and sent by email.

`notify()` is the one entry point. Rows — the notification and its email's
outbox message (ticketing.mail) — are written in the caller's transaction; the
websocket push and the email go out only after it commits.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation

from accounts.models import Notification, Role, User
from ticketing.push import push


def group_name(user_id: int) -> str:
    return f"notifications.user.{user_id}"


def unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def admins() -> list[User]:
    return list(User.objects.filter(role=Role.ADMIN, is_active=True))


def notify(*, users: Iterable[User], kind: str, title, body="", url: str = "", params: dict | None = None,
           email: bool = True) -> list[Notification]:
    """Create one notification per user, each in that user's language (`title`
    and `body` are lazy translations, formatted with `params`). After commit:
    a websocket push to each user's open pages and, if `email`, a mail per user
    with an address (queued in the outbox with the rows, sent by a worker)."""
    params = params or {}
    notes = []
    for user in users:  # a handful: the publisher, or the admins
        with translation.override(user.language or settings.LANGUAGE_CODE):
            note = Notification.objects.create(
                user=user, kind=kind, title=str(title) % params, body=str(body) % params if body else "", url=url,
            )
        notes.append(note)
        if email and user.email:
            link = f"\n\n{settings.SITE_URL}{note.url}" if note.url else ""
            send_mail(f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{note.title}", f"{note.body}{link}",
                      settings.DEFAULT_FROM_EMAIL, [user.email])

    transaction.on_commit(lambda: _push(notes))
    return notes


def _push(notes: list[Notification]) -> None:
    for note in notes:
        push(group_name(note.user_id), {
            "type": "notification.created",
            "notification": {"id": note.pk, "title": note.title, "body": note.body, "url": note.url,
                             "created_at": note.created_at.isoformat()},
            "unread": unread_count(note.user),
        })


def mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of `user` read."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
