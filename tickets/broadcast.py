"""Tells every open seat map of a session what changed, over the channel layer (Redis).

Called after commit only (services pass committed changes). The message goes
out through ticketing.push (queued, sent in order by a background thread;
changes that arrive while a session's message waits join it); one
that cannot be delivered is logged and dropped: pages resync from the database
when their socket reconnects, and held seats carry their expiry so pages free
them on time by themselves.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from time import monotonic

from django.db import connection
from django.utils import timezone

from ticketing.push import push
from tickets import snapshots
from tickets.models import Hold, HoldItem, HoldStatus, Stock


@dataclass(frozen=True)
class SeatChange:
    seat: int | None = None  # a seat (map seat id) changed state …
    status: str | None = None
    owner: str | None = None  # tickets.services.owner_token of the holder
    until: datetime | None = None
    ticket_type: int | None = None  # … or a GA stock counter changed


def group_name(session_id: int) -> str:
    return f"seatmap.{session_id}"


def seat_message(change: SeatChange) -> list:
    return [change.seat, change.status, change.owner, int(change.until.timestamp()) if change.until else None]


def broadcast_changes(session_id: int, changes: list[SeatChange]) -> None:
    snapshots.forget(session_id)  # availability reads (tickets.snapshots) render again from the database
    if not changes:
        return
    seats = [seat_message(c) for c in changes if c.seat is not None]
    types = {c.ticket_type for c in changes if c.ticket_type is not None}
    with _lock:
        waiting = _waiting.get(session_id)
        if waiting is not None and monotonic() - waiting[2] < BATCH_LOST_AFTER:
            waiting[0].extend(seats)  # a message for this map is queued and not built yet: it carries these too
            waiting[1].update(types)
            return
        _waiting[session_id] = (seats, types, monotonic())
    push(group_name(session_id), lambda: _collect(session_id))


# Changes of each session waiting for the push thread. A busy map (hundreds of holds a second) gets at
# most one message per BATCH_WINDOW from each process, whatever its rate of holds, with the changes of
# that moment in it; its GA counters are read once per message, after these commits, on the push thread.
BATCH_WINDOW = 0.05
# A queued message not built after this long was dropped (the push queue full, the layer away): start anew.
BATCH_LOST_AFTER = 2.0
_waiting: dict[int, tuple[list, set, float]] = {}
_sent_at: dict[int, float] = {}  # when each session's last message was built (the push thread's clock)
_lock = threading.Lock()


def _collect(session_id: int) -> dict | None:
    # A map that had a message less than BATCH_WINDOW ago waits out the rest of it, so the changes of
    # that moment join this one; a quiet map's change goes at once.
    time.sleep(max(0.0, _sent_at.get(session_id, 0.0) + BATCH_WINDOW - monotonic()))
    with _lock:
        waiting = _waiting.pop(session_id, None)
        _sent_at[session_id] = monotonic()
        if len(_sent_at) > 10_000:  # sessions long quiet
            _sent_at.clear()
    if waiting is None:  # an earlier message of this map, thought lost, carried these changes already
        return None
    seats, types, _queued = waiting
    # msgpack (channels-redis) refuses non-string map keys: ticket type ids go as strings.
    stock = {str(tt): n for tt, n in _available(session_id, sorted(types))} if types else {}
    return {"type": "seatmap.changed", "seats": seats, "stock": stock}


def _available(session_id: int, ticket_type_ids: list[int]) -> list[tuple[int, int]]:
    """GA tickets available now per type, counting those in holds past their expiry (one statement:
    it runs once per message of a busy sale)."""
    q = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(ticket_type_ids))
    sql = (f"SELECT s.ticket_type_id, s.available + COALESCE((SELECT SUM(i.quantity) FROM {q(HoldItem._meta.db_table)} i"
           f" JOIN {q(Hold._meta.db_table)} h ON h.id = i.hold_id WHERE h.session_id = s.session_id"
           f" AND i.ticket_type_id = s.ticket_type_id AND i.seat_id IS NULL AND h.status = %s AND h.expires_at <= %s), 0)"
           f" FROM {q(Stock._meta.db_table)} s WHERE s.session_id = %s AND s.ticket_type_id IN ({marks})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [HoldStatus.ACTIVE.value, connection.ops.adapt_datetimefield_value(timezone.now()),
                             session_id, *ticket_type_ids])
        return [(int(tt), int(n)) for tt, n in cursor.fetchall()]
