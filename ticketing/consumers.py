"""What every websocket of the product shares: strict parsing of client frames, a per-socket
rate limit, a clean refusal of unknown paths, and the ping consumer."""

import json
import logging
from time import monotonic

from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

log = logging.getLogger(__name__)

# Client frames are small commands ({"action": "resync"}); uvicorn's --ws-max-size caps frames
# on the server too (Procfile, deploy/Procfile.services), this also covers other servers and tests.
MAX_FRAME_BYTES = 4096
MAX_FRAME_DEPTH = 4  # {"message": "..."} is 1

# Close codes (RFC 6455 §7.4.1, and 4000-4999 for the application).
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
NOT_FOUND = 4404


def scope_language(scope: dict) -> str:
    """The socket's language as LocaleMiddleware picks a page's: the language cookie, else
    Accept-Language, else the site's default."""
    candidates = [scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")]
    accept = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _quality in parse_accept_lang_header(accept)]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class BadFrame(Exception):
    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code


def parse_client_frame(text_data: str | None, bytes_data: bytes | None) -> object:
    """The JSON document of a text frame; BadFrame (with its close code) for anything else."""
    if text_data is None:
        raise BadFrame(UNSUPPORTED_DATA, f"binary frame of {len(bytes_data or b'')} bytes")
    try:
        size = len(text_data.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: the server let through bytes that were not UTF-8
        raise BadFrame(INVALID_PAYLOAD, "text that is not UTF-8") from None
    if size > MAX_FRAME_BYTES:
        raise BadFrame(MESSAGE_TOO_BIG, f"frame of {size} bytes, over {MAX_FRAME_BYTES}")
    try:
        content = json.loads(text_data)
    except RecursionError:
        raise BadFrame(INVALID_PAYLOAD, "JSON nested too deep") from None
    except ValueError:
        raise BadFrame(INVALID_PAYLOAD, "text that is not JSON") from None
    if json_depth(content) > MAX_FRAME_DEPTH:
        raise BadFrame(INVALID_PAYLOAD, f"JSON nested deeper than {MAX_FRAME_DEPTH}")
    return content


def json_depth(content: object) -> int:
    """How deeply lists and objects nest in a parsed document (a scalar is 0), without recursion."""
    deepest, pending = 0, [(content, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in children)
    return deepest


class TokenBucket:
    """`capacity` actions at once, given back at `capacity` per `per_seconds`."""

    def __init__(self, *, capacity: int, per_seconds: float):
        self.capacity, self.rate = capacity, capacity / per_seconds
        self.tokens, self.stamp = float(capacity), monotonic()

    def take(self) -> bool:
        now = monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ClientFrameConsumer(AsyncJsonWebsocketConsumer):
    """Base of every JSON socket: a frame that is binary, not UTF-8, not JSON, too deep or too big
    closes the socket with its code and one log line (never a traceback); receive_json() gets only
    parsed documents, and nothing is sent once the socket is closing."""

    closing = False

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return
        try:
            content = parse_client_frame(text_data, bytes_data)
        except BadFrame as bad:
            await self.refuse(bad.code, str(bad))
            return
        with translation.override(scope_language(self.scope)):  # replies in the page's language
            await self.receive_json(content, **kwargs)

    async def refuse(self, code: int, why: str, level: int = logging.INFO) -> None:
        log.log(level, "websocket %s closed with %s: %s", self.scope.get("path"), code, why)
        await self.close(code=code)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if not self.closing:  # the server refuses anything sent after the close
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code=None, reason=None):
        if not self.closing:
            self.closing = True
            await super().close(code=code, reason=reason)


class NotFoundConsumer(AsyncWebsocketConsumer):
    """The last route: any other path is refused with a 404 (4404 where the server cannot say
    404 before the handshake), not the router's "No route found" 500."""

    async def connect(self):
        log.info("websocket %s refused: no such route", self.scope.get("path"))
        if "websocket.http.response" in self.scope.get("extensions", {}):
            await self.base_send({"type": "websocket.http.response.start", "status": 404,
                                  "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await self.base_send({"type": "websocket.http.response.body", "body": b"Not Found"})
        else:
            await self.close(code=NOT_FOUND)


class PingConsumer(ClientFrameConsumer):
    """Echoes a message back through the channel layer (Redis), not in-process.

    Used by the smoke test and by operators to prove that the websocket server
    and its Redis layer work end to end. Anyone may connect.
    """

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not isinstance(content.get("message"), str):
            await self.send_json({"error": "expected {\"message\": \"...\"}"})
            return
        await self.channel_layer.send(self.channel_name, {"type": "echo.message", "message": content["message"][:1000]})

    async def echo_message(self, event):
        await self.send_json({"echo": event["message"]})
