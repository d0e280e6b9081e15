"""The default cache: Redis (django-redis), and what happens when Redis is away.

Nothing a person does may fail because the cache did. When Redis refuses,
times out or errors, `FailoverRedisCache` marks it down for RETRY_AFTER seconds
(so a hung Redis costs one socket timeout per process per window, not one per
request), logs once a minute, and meanwhile:

- rate-limit counters (allauth's login and sign-up limits, DRF throttles: keys
  under LOCAL_PREFIXES) live in a process-local memory cache, so brute force is
  still slowed — per process instead of across them;
- every other read is a miss and every other write is skipped: sessions
  (cached_db) read and write the database, dev outboxes stay empty. The keys
  whose writes were skipped are deleted from Redis as soon as it answers again,
  so no entry outlives a change made meanwhile (a logout, a changed session).

`redis_down(exc)` and `redis_is_down()` are the one back-off of the process;
the inventory fast path (tickets.fastpath) shares it.
"""

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_AFTER = 5.0
LOG_EVERY = 60.0
LOCAL_PREFIXES = ("allauth:rl", "throttle_")
FALLBACK_CACHE_NAME = "redis-failover"  # LocMemCache instances of one name share their store

_state = {"down_until": 0.0, "logged_at": 0.0, "since": None}
WRITES = {"set", "add", "delete", "incr", "touch"}
UNSENT_MAX = 10_000
_unsent: set[str] = set()  # keys written while Redis was away: stale there until deleted
_unsent_lock = threading.Lock()
CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)


def redis_down(exc: BaseException) -> None:
    """Redis failed: callers leave it alone for RETRY_AFTER seconds."""
    now = time.monotonic()
    _state["down_until"] = now + RETRY_AFTER
    if _state["since"] is None:
        _state["since"] = time.time()
    if now - _state["logged_at"] >= LOG_EVERY:
        _state["logged_at"] = now
        log.warning("Redis unavailable (%s): cache reads miss, rate limits are per process, "
                    "the inventory fast path is off; retrying every %.0f s", exc, RETRY_AFTER)


def redis_is_down() -> bool:
    return time.monotonic() < _state["down_until"]


def redis_up() -> None:
    """A Redis call succeeded: note the recovery once."""
    if _state["since"] is not None and not redis_is_down():
        log.warning("Redis is back after %.0f s", time.time() - _state["since"])
        _state["since"] = None


def degraded_since() -> float | None:
    """When this process last lost Redis (epoch seconds), or None while it has it."""
    return _state["since"] if redis_is_down() else None


def writes_unsent() -> bool:
    """Writes made while Redis was away are still to be dropped there: a raw read may see stale keys
    (the cache's own next call drops them first)."""
    return bool(_unsent)


def _local(key: str) -> bool:
    return isinstance(key, str) and key.startswith(LOCAL_PREFIXES)


class FailoverRedisCache(RedisCache):
    """django-redis with the fallbacks above (the module docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._memory = LocMemCache(FALLBACK_CACHE_NAME, {"MAX_ENTRIES": 100_000})

    def _call(self, method: str, key, miss, *args, **kwargs):
        if not redis_is_down():
            try:
                if _unsent:
                    self._forget_unsent()
                result = getattr(RedisCache, method)(self, key, *args, **kwargs)
            except CACHE_ERRORS as exc:
                redis_down(exc)
            else:
                redis_up()
                return result
        if not _local(key):
            if method in WRITES and kwargs.get("version") is None:
                self._remember_unsent(key)
            return miss
        if method == "set" and kwargs.get("nx"):
            method = "add"
        kwargs = {name: value for name, value in kwargs.items() if name in ("timeout", "version", "default", "delta")}
        return getattr(self._memory, method)(key, *args, **kwargs)

    @staticmethod
    def _remember_unsent(key) -> None:
        with _unsent_lock:
            if len(_unsent) < UNSENT_MAX:
                _unsent.add(key)
                if len(_unsent) == UNSENT_MAX:
                    log.warning("%d cache keys written while Redis was away: later ones may stay stale there "
                                "until they expire", UNSENT_MAX)

    def _forget_unsent(self) -> None:
        """Deletes from Redis what was written (or deleted) while it was away (raises if it is still away)."""
        with _unsent_lock:
            keys = list(_unsent)
            _unsent.clear()
        try:
            RedisCache.delete_many(self, keys)
        except CACHE_ERRORS:
            with _unsent_lock:
                _unsent.update(keys)
            raise

    def get(self, key, default=None, version=None, client=None):
        return self._call("get", key, default, default=default, version=version)

    def set(self, key, *args, **kwargs):
        return self._call("set", key, False, *args, **kwargs)

    def add(self, key, *args, **kwargs):
        return self._call("add", key, False, *args, **kwargs)

    def delete(self, key, *args, **kwargs):
        return self._call("delete", key, False, *args, **kwargs)

    def incr(self, key, *args, **kwargs):
        return self._call("incr", key, None, *args, **kwargs)

    def touch(self, key, *args, **kwargs):
        return self._call("touch", key, False, *args, **kwargs)

    def has_key(self, key, *args, **kwargs):
        return self._call("has_key", key, False, *args, **kwargs)

    def _many(self, method, miss, written, *args, **kwargs):
        if not redis_is_down():
            try:
                if _unsent:
                    self._forget_unsent()
                result = method(self, *args, **kwargs)
            except CACHE_ERRORS as exc:
                redis_down(exc)
            else:
                redis_up()
                return result
        for key in written:
            self._remember_unsent(key)
        return miss

    def get_many(self, *args, **kwargs):
        return self._many(RedisCache.get_many, {}, (), *args, **kwargs)

    def set_many(self, data, *args, **kwargs):
        return self._many(RedisCache.set_many, list(data), list(data), data, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        return self._many(RedisCache.delete_many, 0, list(keys), keys, *args, **kwargs)

    def iter_keys(self, *args, **kwargs):
        # A list, so that a failure mid-scan is caught here rather than in the caller's loop.
        return iter(self._many(lambda cache, *a, **kw: list(RedisCache.iter_keys(cache, *a, **kw)), [], (), *args, **kwargs))
