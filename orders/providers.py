"""External payment providers' callbacks: HMAC-SHA256 over "<timestamp>.<raw body>", fresh for a few minutes.

A provider posts JSON {"order": <order number>, "amount": "<decimal>", "transaction_id": "..."}
with headers X-Timestamp (unix seconds) and X-Signature (hex). `sign()` is what the
sandbox provider page uses to play a provider; `verify()` is what the callback checks.
"""

from django.conf import settings

from webhooks import signing


def secret_for(provider: str) -> str | None:
    return settings.PAYMENT_PROVIDER_SECRETS.get(provider)


def sign(provider: str, body: bytes, timestamp: int) -> str:
    secret = secret_for(provider)
    if secret is None:
        raise KeyError(provider)
    return signing.signature(secret, timestamp, body)


def verify(provider: str, body: bytes, timestamp: str, signature: str, *, now: float | None = None) -> bool:
    """True only for a known provider, a timestamp within PAYMENT_CALLBACK_MAX_AGE and a matching signature."""
    secret = secret_for(provider)
    if secret is None:
        return False
    return signing.signature_valid(secret, body, timestamp, signature, max_age=settings.PAYMENT_CALLBACK_MAX_AGE,
                                   now=now)
