"""Text messages through a pluggable backend (settings.SMS_BACKEND), sent from the outbox.

`send_sms` queues the text in the outbox (ticketing.outbox), so a slow or absent
provider never holds up the page that sends a code; a Celery worker sends it.
The console backend (the embedded default) logs each message and, with
DEV_OUTBOX on, keeps the latest ones in the cache, where `/dev/sms/` shows them.
A real provider is a class with `send(phone, message)` named by SMS_BACKEND.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from ticketing.outbox import outbox_add, outbox_handler

log = logging.getLogger(__name__)

OUTBOX_KEY = "sms:outbox"
OUTBOX_SIZE = 20


class ConsoleSMSBackend:
    def send(self, phone: str, message: str) -> None:
        log.warning("SMS to %s: %s", phone, message)
        if not settings.DEV_OUTBOX:
            return
        outbox = cache.get(OUTBOX_KEY) or []
        outbox.insert(0, {"phone": phone, "message": message, "sent_at": time.time()})
        cache.set(OUTBOX_KEY, outbox[:OUTBOX_SIZE], timeout=3600)


def send_sms(*, phone: str, message: str) -> None:
    """Sends `message` to `phone` after the current transaction commits (never raises for the provider)."""
    outbox_add(handler="sms.send", payload={"phone": phone, "message": str(message)})


@outbox_handler("sms.send")
def _deliver(*, phone: str, message: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, message)


def outbox() -> list[dict]:
    return cache.get(OUTBOX_KEY) or []
