"""Email leaves through the outbox, so no request waits for (or fails with) a mail server.

The default mailer (`settings.MAILERS["default"]`, or EMAIL_BACKEND before Django
6.1) is `OutboxEmailBackend`: every message — allauth's confirmations and
password resets, notification emails — becomes an outbox row in the sender's
transaction, and a Celery worker sends it through the real backend configured by
EMAIL_URL (the "deliver" mailer). `DevConsoleEmailBackend` is the embedded
default's real backend: it prints each mail and, with DEV_OUTBOX on, keeps the
latest ones for the `/dev/mail/` page.
"""

import base64
import time

import django
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

from ticketing.outbox import outbox_add, outbox_handler

DEV_OUTBOX_KEY = "mail:outbox"
DEV_OUTBOX_SIZE = 20


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            outbox_add(handler="mail.send", payload=_to_payload(message))
        return len(email_messages)


def _to_payload(message: mail.EmailMessage) -> dict:
    attachments = []
    for attachment in message.attachments:
        if isinstance(attachment, tuple):  # (filename, content, mimetype); MIME parts are not queued
            filename, content, mimetype = attachment
            data = content.encode() if isinstance(content, str) else content
            attachments.append([filename, base64.b64encode(data).decode(), mimetype])
    return {
        "subject": str(message.subject), "body": str(message.body), "from_email": message.from_email,
        "to": list(message.to), "cc": list(message.cc), "bcc": list(message.bcc),
        "reply_to": list(message.reply_to), "headers": dict(message.extra_headers),
        "alternatives": [[str(content), mimetype] for content, mimetype in getattr(message, "alternatives", [])],
        "attachments": attachments,
    }


@outbox_handler("mail.send")
def _deliver(*, subject, body, from_email, to, cc, bcc, reply_to, headers, alternatives, attachments) -> None:
    message = mail.EmailMultiAlternatives(subject, body, from_email, to, bcc=bcc, cc=cc, reply_to=reply_to,
                                          headers=headers)
    for content, mimetype in alternatives:
        message.attach_alternative(content, mimetype)
    for filename, data, mimetype in attachments:
        message.attach(filename, base64.b64decode(data), mimetype)
    delivery_mailer().send_messages([message])


def delivery_mailer() -> BaseEmailBackend:
    """The backend that really sends (EMAIL_URL)."""
    if django.VERSION >= (6, 1):
        return mail.mailers["deliver"]
    return mail.get_connection(settings.DELIVERY_EMAIL_BACKEND, **settings.DELIVERY_EMAIL_OPTIONS)


class DevConsoleEmailBackend(ConsoleEmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = super().send_messages(email_messages) or 0
        if settings.DEV_OUTBOX:
            outbox = cache.get(DEV_OUTBOX_KEY) or []
            for message in email_messages:
                outbox.insert(0, {"to": ", ".join(message.to), "subject": str(message.subject),
                                  "body": str(message.body), "sent_at": time.time()})
            cache.set(DEV_OUTBOX_KEY, outbox[:DEV_OUTBOX_SIZE], timeout=3600)
        return sent


def dev_outbox() -> list[dict]:
    return cache.get(DEV_OUTBOX_KEY) or []
