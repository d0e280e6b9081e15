"""The one signature scheme of our signed HTTP messages, both ways: payment providers' callbacks to us
(orders.providers) and our webhooks to publishers.

    X-Timestamp: <unix seconds>
    X-Signature: hex(HMAC-SHA256(secret, "<timestamp>." + raw body))

A receiver recomputes the signature over the raw body it got and refuses a stale timestamp.
"""

import hashlib
import hmac
import time


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, timestamp: str | None, given: str | None, *, max_age: float,
                    now: float | None = None) -> bool:
    """True for a timestamp within `max_age` seconds and a matching signature (compared in constant time)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - ts) > max_age:
        return False
    return hmac.compare_digest(signature(secret, ts, body), (given or "").strip().lower())
