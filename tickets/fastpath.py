"""Redis in front of the seat rows: turns away most losers of a race before they reach the database.

Only ever an early "no": the database's conditional UPDATE decides every sale.
A claim is short (CLAIM_MS) until the database has committed the hold, then
stretched to the hold's expiry; a process that dies between the two leaves a
claim that lapses within seconds, never a seat that looks taken for long.
When Redis does not answer, every call returns "don't know", the product goes
on through the database alone, and a warning says Redis is away (the process's
one back-off, shared with the cache: ticketing.cache.redis_down).
"""

import logging

from django.conf import settings
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from ticketing.cache import redis_down, redis_is_down, writes_unsent

log = logging.getLogger(__name__)

CLAIM_MS = 5000
SOLD_OUT_MS = 2000

# All-or-nothing: if any seat key exists, return the taken indexes (1-based); else set them all.
_CLAIM = """
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then taken[#taken + 1] = i end
end
if #taken > 0 then return taken end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return taken
"""
# Stretch or drop only the keys this claim still owns.
_OWNED = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    if ARGV[2] == '0' then redis.call('DEL', key) else redis.call('PEXPIRE', key, ARGV[2]) end
    n = n + 1
  end
end
return n
"""


def _redis():
    if redis_is_down():
        return None
    return get_redis_connection("default")


def _seat_keys(session_id: int, seat_ids) -> list[str]:
    return [f"{settings.CACHE_KEY_PREFIX}:seat:{session_id}:{seat_id}" for seat_id in seat_ids]


def claim_seats(session_id: int, seat_ids: list[int], token: str) -> list[int] | None:
    """Seats of `seat_ids` someone else has claimed ([] = all claimed for us now); None if Redis is away."""
    try:
        client = _redis()
        if client is None:
            return None
        taken = client.eval(_CLAIM, len(seat_ids), *_seat_keys(session_id, seat_ids), token, CLAIM_MS)
    except RedisError as exc:
        redis_down(exc)
        return None
    return [seat_ids[i - 1] for i in taken]


def confirm_seats(session_id: int, seat_ids: list[int], token: str, ms: int) -> None:
    _owned(session_id, seat_ids, token, max(ms, 1))


def unclaim_seats(session_id: int, seat_ids: list[int], token: str) -> None:
    _owned(session_id, seat_ids, token, 0)


def _owned(session_id, seat_ids, token, ms) -> None:
    if not seat_ids:
        return
    try:
        client = _redis()
        if client is not None:
            client.eval(_OWNED, len(seat_ids), *_seat_keys(session_id, seat_ids), token, ms)
    except RedisError as exc:
        redis_down(exc)


def forget_seats(session_id: int, seat_ids, ticket_type_ids=()) -> None:
    """Seats (and GA tickets of these types) returned to sale: drop their claims and sold-out marks."""
    keys = _seat_keys(session_id, list(seat_ids)) + [_sold_out_key(session_id, t) for t in ticket_type_ids]
    if not keys:
        return
    try:
        client = _redis()
        if client is not None:
            client.delete(*keys)
    except RedisError as exc:
        redis_down(exc)


def _sold_out_key(session_id: int, ticket_type_id: int) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:soldout:{session_id}:{ticket_type_id}"


def mark_sold_out(session_id: int, ticket_type_id: int, name: str) -> None:
    """None of this type is left: for a moment, turn buyers away before the database (the mark keeps its name
    for the message)."""
    try:
        client = _redis()
        if client is not None:
            client.set(_sold_out_key(session_id, ticket_type_id), name, px=SOLD_OUT_MS)
    except RedisError as exc:
        redis_down(exc)


def known_sold_out(session_id: int, ticket_type_ids) -> list[str]:
    """Names of those of these types that were sold out a moment ago (none when unsure)."""
    try:
        client = _redis()
        if client is None:
            return []
        return [v.decode() for v in client.mget([_sold_out_key(session_id, t) for t in ticket_type_ids]) if v]
    except RedisError as exc:
        redis_down(exc)
        return []


def known_sold_out_and(session_id: int, ticket_type_ids, cache_key: str) -> tuple[list[str], object] | None:
    """known_sold_out, and the default cache's value under `cache_key` (made with cache.make_key; None if
    absent), in one round trip: a GA hold's sold-out marks and its session's catalogue version. None when
    Redis is away or may still hold keys written while it was away: the caller then reads each as usual."""
    from django.core.cache import cache

    if writes_unsent():
        return None
    try:
        client = _redis()
        if client is None:
            return None
        raw, *marks = client.mget([cache_key] + [_sold_out_key(session_id, t) for t in ticket_type_ids])
    except RedisError as exc:
        redis_down(exc)
        return None
    return [v.decode() for v in marks if v], None if raw is None else cache.client.decode(raw)
