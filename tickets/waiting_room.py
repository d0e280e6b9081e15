"""A fair waiting room for hot on-sales (a session with `waiting_room` on).

From WAITING_ROOM_OPENS_MINUTES before the session's sales_start until its
sales_end the room is *active*: the session page, its seat map (JSON and
socket), the hold API, the page's GA hold and order create with seats or
quantities all refuse a buyer without an admission (`WaitingRoomRequired`,
403 `waiting_room_required` with the room's URLs; pages redirect to the room).

State lives in Redis, shared by every web process (keys under the cache prefix,
one hash tag per session):
- `cfg`  a hash: what the room needs of the session (written after every commit
  that changes the session or its event, read by the room and its poll instead
  of the database);
- `q`    the queue, a sorted set of visitors. Whoever joins before sales_start
  gets a random score in [0, 1) (ZADD NX: refreshing, a second tab or arriving
  earlier never changes it), so at sale start they stand in a random order;
  later arrivals get 1 + INCR(`n`) and join the back in order of arrival;
- `in`   admitted visitors → when they were admitted;
- `b`    a token bucket: `credit` grows by admit_per_second from sales_start,
  capped at one second's worth (a quiet hour does not pile up a flood), and each
  whole credit lets the front of the queue in (ZPOPMIN).
One Lua script joins, admits and answers a visitor's place, atomically: it runs
on every poll, so no periodic job is needed, and it is idempotent for a given
time, so many processes polling at once admit exactly at the configured rate.

A visitor is a signed-in account (`u<user id>`): one account holds one place,
however many tabs or devices it uses. The room and its poll know the account
from a signed cookie the gated pages set (`tk_room`), or from an API access
token, never from the database. An admission is a signed, expiring token
(django.core.signing, bound to the session and the account; a cookie, or the
`X-Waiting-Room-Token` header for API callers), checked without Redis.

Unlike the rest of the product, the room fails *closed*: with Redis away no
one is admitted (the poll answers 503 `waiting_room_unavailable` and the room
page says so); admissions already given stay valid until they expire.
"""

import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_redis import get_redis_connection
from rest_framework import status

from ticketing.cache import CACHE_ERRORS, redis_down, redis_is_down, redis_up
from ticketing.errors import DomainError

log = logging.getLogger(__name__)

SALT = "tickets.waiting_room.admission"
VISITOR_SALT = "tickets.waiting_room.visitor"
VISITOR_COOKIE = "tk_room"
VISITOR_MAX_AGE = 24 * 3600
TOKEN_HEADER = "HTTP_X_WAITING_ROOM_TOKEN"  # X-Waiting-Room-Token
KEEP_AFTER_SALE = 3600  # the room's keys outlive sales_end by this (its last answers)
CONFIG_SECONDS_IDLE = 24 * 3600  # a session without a room: its "no room" entry, read again daily

clock = time.time  # the room's clock (epoch seconds); tests set it
_random = secrets.SystemRandom()


class WaitingRoomRequired(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "waiting_room_required"
    default_message = _("This sale has a waiting room: take your place in the queue and you will be let in "
                        "when it is your turn.")

    def __init__(self, session_id: int, message=None):
        super().__init__(message)
        self.session_id = session_id

    @property
    def extra(self) -> dict:
        """What the API's error body adds: where to queue (ticketing.errors.api_exception_handler)."""
        return {"room": room_url(self.session_id), "poll": poll_url(self.session_id)}


class RoomUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "waiting_room_unavailable"
    default_message = _("The waiting room cannot be reached right now, so nobody is let in until it is back. "
                        "Keep this page open: it carries on by itself.")


def room_url(session_id: int) -> str:
    return reverse("tickets:waiting_room", args=[session_id])


def poll_url(session_id: int) -> str:
    return reverse("tickets:api_waiting_room", args=[session_id])


def admission_seconds() -> int:
    return settings.WAITING_ROOM_ADMISSION_MINUTES * 60


def opens_at(sales_start: datetime) -> datetime:
    return sales_start - timedelta(minutes=settings.WAITING_ROOM_OPENS_MINUTES)


def is_active(*, waiting_room: bool, sales_start: datetime, sales_end: datetime, cancelled: bool = False,
              now: datetime | None = None) -> bool:
    """Whether a session's room stands between buyers and its tickets now."""
    now = now or moment(clock())
    return waiting_room and not cancelled and opens_at(sales_start) <= now < sales_end


def session_room_active(session, now: datetime | None = None) -> bool:
    """is_active for a tickets.models.Session or a tickets.catalogue.SessionInfo."""
    cancelled = getattr(session, "cancelled", None)
    if cancelled is None:
        cancelled = session.cancelled_at is not None
    return is_active(waiting_room=session.waiting_room, sales_start=session.sales_start,
                     sales_end=session.sales_end, cancelled=cancelled, now=now)


# --- admissions: signed tokens ---------------------------------------------------------------------


def token_issue(*, session_id: int, user_id: int, admitted_at: float) -> tuple[str, float]:
    """The admission of an account to a session, valid until admitted_at + WAITING_ROOM_ADMISSION_MINUTES
    (the same token however often it is asked for). Returns (token, expires at, epoch seconds)."""
    expires = int(admitted_at + admission_seconds())
    return signing.dumps({"s": session_id, "u": user_id, "x": expires}, salt=SALT, compress=False), expires


def token_valid(token: str, *, session_id: int, user_id: int | None, now: float | None = None) -> bool:
    """A genuine admission to this session, of this account, not yet expired."""
    if not token or user_id is None:
        return False
    try:
        claim = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return False
    if not isinstance(claim, dict):
        return False
    return (claim.get("s") == session_id and claim.get("u") == user_id
            and isinstance(claim.get("x"), int) and claim["x"] > (clock() if now is None else now))


def token_expires(token: str, *, session_id: int, user_id: int | None) -> datetime | None:
    """Until when a valid admission lets its holder in (None: it is none)."""
    if not token_valid(token, session_id=session_id, user_id=user_id):
        return None
    return datetime.fromtimestamp(signing.loads(token, salt=SALT)["x"], tz=UTC)


def token_cookie(session_id: int) -> str:
    return f"tk_room_{session_id}"


def request_token(request, session_id: int) -> str:
    """The admission a request carries for a session: the X-Waiting-Room-Token header, else its cookie."""
    return request.META.get(TOKEN_HEADER) or request.COOKIES.get(token_cookie(session_id), "")


def check(session, *, user_id: int | None, token: str, now: datetime | None = None) -> None:
    """Raises WaitingRoomRequired while the session's room is active and `token` is no admission of this
    account to it. `session`: a Session or a catalogue SessionInfo."""
    if not session_room_active(session, now):
        return
    if not token_valid(token, session_id=session.id, user_id=user_id):
        raise WaitingRoomRequired(session.id)


def sees_without_queue(user, publisher_id: int) -> bool:
    """The event's publisher and administrators look at a hot session's pages without queueing (they
    cannot buy past the room either: holds still need an admission)."""
    from accounts.models import Role

    return bool(getattr(user, "is_authenticated", False)
                and (user.pk == publisher_id or getattr(user, "role", "") == Role.ADMIN))


def allowed(session, request, *, user) -> bool:
    """A page, a seat-map read or a socket may show the session to this viewer now."""
    if not session_room_active(session):
        return True
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    if token_valid(request_token(request, session.id), session_id=session.id, user_id=user_id):
        return True
    event = getattr(session, "event", None)  # a Session; a catalogue SessionInfo has publisher_id
    return sees_without_queue(user, event.publisher_id if event is not None else session.publisher_id)


# --- the visitor: a signed cookie naming the account, so the room needs no query ---------------


def visitor_cookie_set(response, *, user_id: int, secure: bool = False) -> None:
    response.set_cookie(VISITOR_COOKIE, signing.dumps(user_id, salt=VISITOR_SALT), max_age=VISITOR_MAX_AGE,
                        httponly=True, samesite="Lax", secure=secure or settings.SESSION_COOKIE_SECURE)


def visitor_of(request) -> int | None:
    """The account the room's cookie names (None: none, forged or older than a day)."""
    raw = request.COOKIES.get(VISITOR_COOKIE, "")
    if not raw:
        return None
    try:
        user_id = signing.loads(raw, salt=VISITOR_SALT, max_age=VISITOR_MAX_AGE)
    except signing.BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None


# --- the room's view of the session: a hash in Redis --------------------------------------------


@dataclass(frozen=True)
class RoomConfig:
    session_id: int
    event_id: int
    hot: bool  # waiting_room on, session not cancelled
    public: bool  # its event is approved
    rate: int
    opens: float  # epoch seconds
    start: float
    end: float
    event_title: str
    session_name: str
    starts: float  # the performance
    venue: str

    def active(self, now: float) -> bool:
        return self.hot and self.opens <= now < self.end


def moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _key(session_id: int, part: str) -> str:
    return cache.make_key(f"room:{{{session_id}}}:{part}")


def _keys(session_id: int) -> list[str]:
    return [_key(session_id, part) for part in ("cfg", "q", "n", "in", "b")]


def _client():
    if redis_is_down():
        raise RoomUnavailable()
    return get_redis_connection("default")


def _fail(exc: BaseException) -> RoomUnavailable:
    redis_down(exc)
    return RoomUnavailable()


def config_write(session_id: int) -> RoomConfig | None:
    """Reads the session from the database and writes what the room needs into Redis (None: no such
    session). Raises RoomUnavailable when Redis is away."""
    from tickets.models import Session

    session = Session.objects.select_related("event").filter(pk=session_id).first()
    return None if session is None else config_store(config_of(session))


def config_of(session) -> "RoomConfig":
    """The room's view of a Session loaded with its event."""
    event = session.event
    return RoomConfig(
        session_id=session.pk, event_id=event.pk, hot=session.waiting_room and session.cancelled_at is None,
        public=event.is_public, rate=session.admit_per_second, opens=opens_at(session.sales_start).timestamp(),
        start=session.sales_start.timestamp(), end=session.sales_end.timestamp(), event_title=event.title,
        session_name=session.name, starts=session.start_time.timestamp(), venue=event.venue)


def config_store(config: RoomConfig) -> RoomConfig:
    """Writes the room's view of a session into Redis (config_write; the bench). Raises RoomUnavailable."""
    fields = {"hot": int(config.hot), "public": int(config.public), "event": config.event_id, "rate": config.rate,
              "opens": repr(config.opens), "start": repr(config.start), "end": repr(config.end),
              "title": config.event_title, "name": config.session_name, "starts": repr(config.starts),
              "venue": config.venue}
    key = _key(config.session_id, "cfg")
    try:
        pipe = _client().pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        if config.hot:
            pipe.expireat(key, int(config.end) + KEEP_AFTER_SALE)
        else:
            pipe.expire(key, CONFIG_SECONDS_IDLE)
        pipe.execute()
    except CACHE_ERRORS as exc:
        raise _fail(exc) from exc
    redis_up()
    return config


def config_read(session_id: int) -> RoomConfig | None:
    """The room's view of the session from Redis (None: not written yet). Raises RoomUnavailable."""
    try:
        raw = _client().hgetall(_key(session_id, "cfg"))
    except CACHE_ERRORS as exc:
        raise _fail(exc) from exc
    if not raw:
        return None
    f = {k.decode(): v.decode() for k, v in raw.items()}
    return RoomConfig(session_id=session_id, event_id=int(f["event"]), hot=f["hot"] == "1", public=f["public"] == "1",
                      rate=int(f["rate"]), opens=float(f["opens"]), start=float(f["start"]), end=float(f["end"]),
                      event_title=f["title"], session_name=f["name"], starts=float(f["starts"]), venue=f["venue"])


def config(session_id: int) -> RoomConfig | None:
    """config_read, written from the database first when Redis has none (the one case with a query)."""
    return config_read(session_id) or config_write(session_id)


WINDOW_FIELDS = ["hot", "opens", "end"]


def window_key(session_id: int) -> str:
    """The raw Redis hash whose WINDOW_FIELDS say when the session's room is active (for a caller that reads
    them in one round trip with other keys)."""
    return _key(session_id, "cfg")


def active_from(session_id: int, fields: list | None) -> bool:
    """Whether the room is active now, from WINDOW_FIELDS as read (any None: read the settings again, from
    the database if Redis has none, where an unknown session has no room). Raises RoomUnavailable."""
    if fields is not None and None not in fields:
        hot, opens, end = (f.decode() for f in fields)
        return hot == "1" and float(opens) <= clock() < float(end)
    found = config(session_id)
    return found is not None and found.active(clock())


def config_sync(session_ids) -> None:
    """After the transaction commits, the room's view of these sessions is written again (a publisher's
    change, a cancellation, the event's review). A failure is logged: the room then reads it again."""
    ids = list(session_ids)

    def write():
        for session_id in ids:
            try:
                config_write(session_id)
            except RoomUnavailable:
                log.warning("waiting room: could not write session %s's settings (Redis away)", session_id)
                return

    if ids:
        transaction.on_commit(write)


# --- the queue -------------------------------------------------------------------------------------

# KEYS: cfg, q, n, in, b. ARGV: visitor, now (epoch seconds), a random score in [0, 1), admission seconds.
# Returns {"nocfg"} | {"off"} | {"early"} | {"closed"} | {"in", admitted at} |
#         {"wait", rank (0 = next), queue length, rejoined (1: an admission lapsed, back of the queue)}.
_POLL = """
local cfg = redis.call('HMGET', KEYS[1], 'hot', 'opens', 'start', 'end', 'rate')
if not cfg[1] then return {'nocfg'} end
if cfg[1] ~= '1' then return {'off'} end
local now = tonumber(ARGV[2])
local opens, start, stop, rate = tonumber(cfg[2]), tonumber(cfg[3]), tonumber(cfg[4]), tonumber(cfg[5])
if now < opens then return {'early'} end
if now >= stop then return {'closed'} end
local member, ttl = ARGV[1], tonumber(ARGV[4])
local keep = math.ceil(stop) + 3600
local rejoined, inside = 0, false
local at = redis.call('HGET', KEYS[4], member)
if at then
  if tonumber(at) + ttl > now then inside = true else
    redis.call('HDEL', KEYS[4], member)
    rejoined = 1
  end
end
if not inside and not redis.call('ZSCORE', KEYS[2], member) then
  local score = ARGV[3]
  if now >= start or rejoined == 1 then score = 1 + redis.call('INCR', KEYS[3]) end
  redis.call('ZADD', KEYS[2], 'NX', score, member)
  for i = 2, 4 do redis.call('EXPIREAT', KEYS[i], keep) end
end
-- Whoever asks, the room moves on: every poll lets in the turns that came due since the last one.
if now >= start then
  local b = redis.call('HMGET', KEYS[5], 'last', 'credit')
  local last, credit = tonumber(b[1]) or start, tonumber(b[2]) or 0
  if now > last then
    credit = math.min(credit + (now - last) * rate, math.max(rate, 1))
    last = now
  end
  local n = math.floor(credit + 1e-3)  -- a whole credit short by clock rounding (µs) still counts
  if n > 0 then
    local popped = redis.call('ZPOPMIN', KEYS[2], n)
    local k = #popped / 2
    for i = 1, #popped, 2 do redis.call('HSET', KEYS[4], popped[i], ARGV[2]) end
    if k > 0 then
      credit = credit - k
      redis.call('HINCRBY', KEYS[5], 'admitted', k)
      redis.call('EXPIREAT', KEYS[4], keep)
    end
  end
  redis.call('HSET', KEYS[5], 'last', string.format('%.6f', last), 'credit', string.format('%.6f', credit))
  redis.call('EXPIREAT', KEYS[5], keep)
end
if inside then return {'in', at} end
local rank = redis.call('ZRANK', KEYS[2], member)
if not rank then return {'in', redis.call('HGET', KEYS[4], member)} end
return {'wait', rank, redis.call('ZCARD', KEYS[2]), rejoined}
"""
_scripts: dict[int, object] = {}


@dataclass(frozen=True)
class Place:
    state: str  # waiting | admitted | early (the room is not open yet) | closed (sales ended) | off (no room)
    position: int | None = None  # 1 = next in
    waiting: int = 0  # people in the queue
    admitted_at: float | None = None
    rejoined: bool = False  # the admission lapsed unused: back of the queue


def visitor_key(user_id: int) -> str:
    return f"u{user_id}"


def _script(client):
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_POLL)
    return script


def poll(*, session_id: int, user_id: int, now: float | None = None) -> Place:
    """Takes (or keeps) the account's place in the session's queue, lets in whoever's turn it is by now and
    answers the account's place: one round trip to Redis. Raises RoomUnavailable when Redis is away."""
    now = clock() if now is None else now
    for _attempt in range(2):
        try:
            answer = _script(_client())(keys=_keys(session_id), args=[
                visitor_key(user_id), f"{now:.6f}", f"{_random.random():.17f}", admission_seconds()])
        except CACHE_ERRORS as exc:
            raise _fail(exc) from exc
        state = answer[0].decode()
        if state != "nocfg":
            break
        if config_write(session_id) is None:
            return Place("off")
    else:
        return Place("off")
    redis_up()
    if state == "in":
        return Place("admitted", admitted_at=float(answer[1]))
    if state == "wait":
        return Place("waiting", position=int(answer[1]) + 1, waiting=int(answer[2]), rejoined=bool(int(answer[3])))
    return Place(state)


def eta_seconds(place: Place, config: RoomConfig, now: float) -> int | None:
    """About how long until the account is let in: its place at the rate, after the sale starts."""
    if place.position is None:
        return None
    return math.ceil(place.position / config.rate + max(config.start - now, 0))


def stats(session_id: int) -> dict:
    """The room's counters (bench, tests): queue length, admitted so far."""
    try:
        client = _client()
        queue, admitted = client.zcard(_key(session_id, "q")), client.hget(_key(session_id, "b"), "admitted")
    except CACHE_ERRORS as exc:
        raise _fail(exc) from exc
    return {"waiting": queue, "admitted": int(admitted or 0)}


def scores(session_id: int) -> dict[str, float]:
    """Every queued visitor's score (tests: fairness)."""
    try:
        pairs = _client().zrange(_key(session_id, "q"), 0, -1, withscores=True)
    except CACHE_ERRORS as exc:
        raise _fail(exc) from exc
    return {member.decode(): score for member, score in pairs}


def room_forget(session_id: int) -> None:
    """Drops the session's queue, admissions and settings (tests, bench)."""
    try:
        _client().delete(*_keys(session_id))
    except CACHE_ERRORS as exc:
        raise _fail(exc) from exc
