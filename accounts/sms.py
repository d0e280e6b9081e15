"""Text messages through a pluggable backend (settings.SMS_BACKEND).

The console backend (the embedded default) logs each message and keeps the
latest ones in the cache, where the dev-only outbox page shows them. A real
provider is a class with `send(phone, message)` named by SMS_BACKEND.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

OUTBOX_KEY = "sms:outbox"
OUTBOX_SIZE = 20


class ConsoleSMSBackend:
    def send(self, phone: str, message: str) -> None:
        log.warning("SMS to %s: %s", phone, message)
        outbox = cache.get(OUTBOX_KEY) or []
        outbox.insert(0, {"phone": phone, "message": message, "sent_at": time.time()})
        cache.set(OUTBOX_KEY, outbox[:OUTBOX_SIZE], timeout=3600)


def send_sms(*, phone: str, message: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, message)


def outbox() -> list[dict]:
    return cache.get(OUTBOX_KEY) or []
