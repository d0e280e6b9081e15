"""The API's rate limits on the hot path (holds, orders, payments), per user or per IP, in Redis.

DRF's own throttle keeps each client's request times as a pickled list in the cache: a read and a
write per request (two round trips, and a list that grows to the rate). This one keeps a counter per
window and weighs the previous window's counter by how much of it still overlaps the last
`duration` seconds (a sliding-window estimate): one pipelined round trip (INCR, EXPIRE, GET) per
request. Requests over the limit count too, so a client that keeps hammering stays limited until
it slows down.

With Redis away (ticketing.cache's back-off) it falls back to DRF's list, which the failover cache
keeps in the process: the limit then holds per process, and no request waits on a dead Redis.
"""

import math
import time

from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from ticketing.cache import CACHE_ERRORS, redis_down, redis_is_down, redis_up

clock = time.time  # the windows' clock (tests set it)


class FailOpenThrottle(ScopedRateThrottle):
    """ScopedRateThrottle (the view's `throttle_scope`, DEFAULT_THROTTLE_RATES) counted as the module says."""

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        self.estimate = None
        counts = _window_counts(key, self.duration)
        if counts is None:  # Redis away: DRF's history, in this process
            return SimpleRateThrottle.allow_request(self, request, view)
        current, previous, elapsed = counts
        self.counts = counts
        self.estimate = previous * (1 - elapsed) + current
        return self.estimate <= self.num_requests

    def wait(self) -> float | None:
        if self.estimate is None:
            return super().wait()
        current, previous, elapsed = self.counts
        left_in_window = self.duration * (1 - elapsed)
        if current > self.num_requests or not previous:
            return left_in_window  # this window alone is over the limit: until the next one begins
        # The previous window's weight falls as time passes: until the estimate is back at the limit.
        return min(left_in_window, (self.estimate - self.num_requests) * self.duration / previous)


def _window_counts(key: str, duration: int) -> tuple[int, int, float] | None:
    """(requests in this window with this one, requests in the previous window, part of this window
    gone), or None with Redis away."""
    if redis_is_down():
        return None
    window, into = divmod(clock(), duration)
    current, previous = cache.make_key(f"{key}:{int(window)}"), cache.make_key(f"{key}:{int(window) - 1}")
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, math.ceil(2 * duration))
        pipe.get(previous)
        now, _expiry, before = pipe.execute()
    except CACHE_ERRORS as exc:
        redis_down(exc)
        return None
    redis_up()
    return int(now), int(before or 0), into / duration
