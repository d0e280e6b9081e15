"""Availability reads from Redis: an event's stock and a session's seat map, kept as rendered JSON.

A snapshot is what the stock or seat-map endpoint answers anybody about a public
(approved) event — for the seat map, with `"me": null` — rendered once, with an
ETag (a hash of the bytes), and kept in the cache for at most SECONDS counted from
the moment its rows were read: no snapshot shows the database older than that.
After every committed hold, release, sale, refund and expiry, broadcast_changes
calls `forget(session_id)`, which drops the session's seat map and its event's
stock in one Redis round trip (the session → event link is kept in Redis next to
them), so the next read renders them again from the database.

Only public events get snapshots: a key that exists says the event was public
less than SECONDS ago, and a hit needs no query to know the viewer may see it.
With Redis away every read misses and is rendered from the database: slower,
never stale.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from time import monotonic

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from django_redis import get_redis_connection
from rest_framework.renderers import JSONRenderer

from ticketing.cache import CACHE_ERRORS, redis_down, redis_is_down, writes_unsent

log = logging.getLogger(__name__)

SECONDS = 1.0  # the longest a snapshot is served after its rows were read
MIN_KEEP = 0.05  # a snapshot whose reading took longer than SECONDS - MIN_KEEP is not kept
LINK_SECONDS = 24 * 3600  # session → event links (they never change)
PUBLIC = "public, max-age=1"
PRIVATE = "private, max-age=1"
UNCACHED = "private, no-store"
ME_NULL = b'"me":null'

_renderer = JSONRenderer()
# Drop the seat map, then the stock of the event the link names (if any): one round trip.
_FORGET = """
local n = redis.call('DEL', KEYS[1])
local event = redis.call('GET', KEYS[2])
if event then n = n + redis.call('DEL', ARGV[1] .. event) end
return n
"""
_scripts: dict[int, object] = {}


@dataclass(frozen=True)
class Snapshot:
    body: bytes
    etag: str  # quoted, as the ETag header carries it

    @classmethod
    def of(cls, data) -> "Snapshot":
        """Renders data as DRF's JSONRenderer does for the API's answers (the same bytes)."""
        body = _renderer.render(data)
        return cls(body, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')

    def for_viewer(self, me: str | None) -> "Snapshot":
        """The seat map with the viewer's owner mark in `"me"` (anonymous: as kept)."""
        if me is None:
            return self
        at = self.body.index(ME_NULL)  # the first one is the key: only numbers and booleans come before it
        body = self.body[:at] + b'"me":' + json.dumps(me).encode() + self.body[at + len(ME_NULL):]
        return Snapshot(body, f'{self.etag[:-1]}.{me}"')


STOCK_PREFIX = "snap:stock:"


def _stock_key(event_id: int) -> str:
    return f"{STOCK_PREFIX}{event_id}"


def _seatmap_key(session_id: int) -> str:
    return f"snap:seatmap:{session_id}"


def _link_key(session_id: int) -> str:
    return f"snap:event:{session_id}"


def _get(key: str) -> Snapshot | None:
    if redis_is_down():
        return None
    value = cache.get(key)
    return Snapshot(*value) if isinstance(value, tuple) else None


def _keep(key: str, snapshot: Snapshot, read_at: float, links: dict[int, int]) -> None:
    """Keeps a snapshot for what is left of SECONDS since `read_at` (monotonic), with its sessions' links."""
    ttl = SECONDS - (monotonic() - read_at)
    if ttl < MIN_KEEP or redis_is_down():
        return
    # The links first: a snapshot is never in Redis without the link that lets forget() find it.
    cache.set_many({_link_key(s): e for s, e in links.items()}, timeout=LINK_SECONDS)
    cache.set(key, (snapshot.body, snapshot.etag), timeout=ttl)


def stock(event_id: int) -> Snapshot | None:
    """The kept stock of a public event, or None (not kept, expired, or Redis away)."""
    return _get(_stock_key(event_id))


def keep_stock(event_id: int, session_ids, snapshot: Snapshot, read_at: float) -> None:
    _keep(_stock_key(event_id), snapshot, read_at, {s: event_id for s in session_ids})


def seatmap(session_id: int) -> Snapshot | None:
    """The kept seat map of a session of a public event (`"me": null`), or None."""
    return _get(_seatmap_key(session_id))


def seatmap_and_fields(session_id: int, hash_key: str, fields: list[str]) -> tuple[Snapshot | None, list | None]:
    """seatmap(), and these fields of the Redis hash at `hash_key` (a raw key; None when Redis is away or may
    hold keys written while it was away), in one round trip: the seat-map read asks its session's waiting
    room (tickets.waiting_room) with it."""
    if redis_is_down() or writes_unsent():
        return seatmap(session_id), None
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.get(cache.make_key(_seatmap_key(session_id)))
        pipe.hmget(hash_key, fields)
        raw, values = pipe.execute()
    except CACHE_ERRORS as exc:
        redis_down(exc)
        return None, None
    value = None if raw is None else cache.client.decode(raw)
    return (Snapshot(*value) if isinstance(value, tuple) else None), values


def keep_seatmap(session_id: int, event_id: int, snapshot: Snapshot, read_at: float) -> None:
    _keep(_seatmap_key(session_id), snapshot, read_at, {session_id: event_id})


def forget(session_id: int) -> None:
    """Drops the session's seat map and its event's stock (after a committed change). Never raises;
    with Redis away there is nothing to drop (and what was kept before expires within SECONDS)."""
    if redis_is_down():
        return
    try:
        client = get_redis_connection("default")
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(_FORGET)
        script(keys=[cache.make_key(_seatmap_key(session_id)), cache.make_key(_link_key(session_id))],
               args=[cache.make_key(STOCK_PREFIX)])
    except CACHE_ERRORS as exc:
        redis_down(exc)
    except Exception:  # a snapshot left in place expires within SECONDS; the change itself has committed
        log.exception("could not drop the snapshots of session %s", session_id)


# --- answers ---------------------------------------------------------------------------------------
def anonymous_json(request) -> bool:
    """No credential (token or session cookie), no query string, and JSON is what DRF would render."""
    meta = request.META
    if "HTTP_AUTHORIZATION" in meta or meta.get("QUERY_STRING"):
        return False
    if f"{settings.SESSION_COOKIE_NAME}=" in meta.get("HTTP_COOKIE", ""):
        return False
    accept = meta.get("HTTP_ACCEPT", "")
    return not accept or ("html" not in accept and ("json" in accept or "*/*" in accept))


def _matches(request, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    if header.strip() == "*":
        return True
    return etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in parse_etags(header)}


def answer(request, snapshot: Snapshot, *, cache_control: str, vary: str) -> HttpResponse:
    """200 with the JSON bytes, or 304 without a body when If-None-Match names its ETag."""
    if _matches(request, snapshot.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(snapshot.body, content_type="application/json")
    response["ETag"] = snapshot.etag
    response["Cache-Control"] = cache_control
    response["Vary"] = vary
    return response
