"""External payment providers' callbacks: HMAC-SHA256 over "<timestamp>.<raw body>", fresh for a few minutes.

A provider posts JSON {"order": <order number>, "amount": "<decimal>", "transaction_id": "..."}
with headers X-Timestamp (unix seconds) and X-Signature (hex). `sign()` is what the
sandbox provider page uses to play a provider; `verify()` is what the callback checks.
"""

import hashlib
import hmac
import time

from django.conf import settings


def secret_for(provider: str) -> str | None:
    return settings.PAYMENT_PROVIDER_SECRETS.get(provider)


def sign(provider: str, body: bytes, timestamp: int) -> str:
    secret = secret_for(provider)
    if secret is None:
        raise KeyError(provider)
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(provider: str, body: bytes, timestamp: str, signature: str, *, now: float | None = None) -> bool:
    """True only for a known provider, a timestamp within PAYMENT_CALLBACK_MAX_AGE and a matching signature."""
    if secret_for(provider) is None:
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - ts) > settings.PAYMENT_CALLBACK_MAX_AGE:
        return False
    return hmac.compare_digest(sign(provider, body, ts), (signature or "").strip().lower())
