"""Ticket codes: signed with Ed25519, so a scanner can tell a real code from a made-up one
without asking the database, and read which event and session it admits.

    TK1.<base64url(version | event id | session id | 8 random bytes | 64-byte signature)>

The key is settings.TICKET_SIGNING_KEY (32 bytes, base64); the public half can be
given to offline scanners (`public_key_b64()`). Changing the key voids every code.

Each ticket also has a short code for door staff to type when a QR code will not scan: 10 random
characters of Crockford's base32 (no I, L, O, U), shown as `XXXXX-XXXXX`. It is not signed: it names a
ticket through the database (online) or the downloaded ticket list (offline), never on its own.
"""

import base64
import binascii
import hashlib
import secrets
import struct
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

PREFIX = "TK1."
SHORT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
SHORT_LENGTH = 10  # 50 random bits: a mistyped code is as good as never another ticket's
_SHORT_READ = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None, "\t": None})
_PAYLOAD = struct.Struct(">BII8s")  # version, event id, session id, serial
VERSION = 1


@dataclass(frozen=True)
class CodeClaims:
    event_id: int
    session_id: int


@cache
def _private_key(seed_b64: str, secret_key: str) -> Ed25519PrivateKey:
    seed = base64.b64decode(seed_b64) if seed_b64 else hashlib.sha256(f"ticket-codes:{secret_key}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _key() -> Ed25519PrivateKey:
    return _private_key(settings.TICKET_SIGNING_KEY, settings.SECRET_KEY)


def public_key_b64() -> str:
    raw = _key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def ticket_code(*, event_id: int, session_id: int) -> str:
    payload = _PAYLOAD.pack(VERSION, event_id, session_id, secrets.token_bytes(8))
    return PREFIX + base64.urlsafe_b64encode(payload + _key().sign(payload)).decode().rstrip("=")


def _decode(code: str) -> bytes | None:
    code = (code or "").strip()
    if not code.startswith(PREFIX) or len(code) > 200:
        return None
    body = code[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _PAYLOAD.size + 64 else None


def serial(code: str) -> str:
    """The code's 8 random bytes as hex: what a revocation list names (the code itself need not travel)."""
    raw = _decode(code)
    return _PAYLOAD.unpack(raw[:_PAYLOAD.size])[3].hex() if raw else ""


def verify(code: str) -> CodeClaims | None:
    """The event and session a genuine code admits; None for anything forged, altered or malformed."""
    raw = _decode(code)
    if raw is None:
        return None
    payload, signature = raw[:_PAYLOAD.size], raw[_PAYLOAD.size:]
    try:
        _key().public_key().verify(signature, payload)
    except InvalidSignature:
        return None
    version, event_id, session_id, _serial = _PAYLOAD.unpack(payload)
    return CodeClaims(event_id, session_id) if version == VERSION else None


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))


def short_code(text: str) -> str:
    """What was typed as a short code, as stored (upper case, no spaces or dashes, O read as 0 and I/L as 1);
    "" if it cannot be one."""
    text = (text or "").strip().upper().translate(_SHORT_READ)
    if len(text) != SHORT_LENGTH or any(c not in SHORT_ALPHABET for c in text):
        return ""
    return text


def short_code_display(code: str) -> str:
    """A short code as printed under the QR code: two groups of five."""
    return f"{code[:5]}-{code[5:]}" if code else ""
