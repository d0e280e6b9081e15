"""Tells every open seat map of a session what changed, over the channel layer (Redis).

Called after commit only (services pass committed changes). The message goes
out through ticketing.push (queued, sent in order by a background thread); one
that cannot be delivered is logged and dropped: pages resync from the database
when their socket reconnects, and held seats carry their expiry so pages free
them on time by themselves.
"""

from dataclasses import dataclass
from datetime import datetime

from ticketing.push import push


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
    if not changes:
        return
    seats = [seat_message(c) for c in changes if c.seat is not None]
    types = {c.ticket_type for c in changes if c.ticket_type is not None}
    if not types:
        push(group_name(session_id), {"type": "seatmap.changed", "seats": seats, "stock": {}})
        return
    # GA counters are read on the push thread, after this commit, not by the request.
    push(group_name(session_id), lambda: _with_stock(session_id, seats, types))


def _with_stock(session_id: int, seats: list, types: set[int]) -> dict:
    from tickets.selectors import stock_available  # reads the committed counters

    # msgpack (channels-redis) refuses non-string map keys: ticket type ids go as strings.
    stock = {str(tt): n for tt, n in stock_available(session_id, types).items()}
    return {"type": "seatmap.changed", "seats": seats, "stock": stock}
