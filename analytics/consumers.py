"""The publisher's live counter: tickets sold and held right now in each session of one event.

It listens to the seat-map groups the sale already announces to (tickets.broadcast, one
group per session), so the hold and pay path do no extra work for it. A change only marks
the counts stale; they are read again (one statement, analytics.stats.live_counts) at most
once per LIVE_EVERY seconds per socket, however busy the sale.
"""

import asyncio
import time

from channels.db import database_sync_to_async

from accounts.models import Role
from analytics.stats import live_counts
from events.models import Event
from ticketing.consumers import ClientFrameConsumer
from tickets.broadcast import group_name
from tickets.models import Session

FORBIDDEN = 4403
LIVE_EVERY = 1.0  # seconds between two counts sent to one socket


class LiveSalesConsumer(ClientFrameConsumer):
    """ws/stats/events/<event_id>/live/: its publisher or an administrator; anyone else is closed with 4403.

    Sends {"type": "counts", "event_id", "sessions": [{session_id, session, sold, held, capacity}]}
    on connect and after changes (throttled). Nothing is expected from the page.
    """

    async def connect(self):
        self.event_id = int(self.scope["url_route"]["kwargs"]["event_id"])
        self.groups_joined: list[str] = []
        self.last_sent = 0.0
        self.pending: asyncio.Task | None = None
        session_ids = await database_sync_to_async(self._allowed_sessions)()
        if session_ids is None:
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        for session_id in session_ids:
            group = group_name(session_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self._send_counts()

    def _allowed_sessions(self) -> list[int] | None:
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_active and user.role in (Role.ADMIN, Role.PUBLISHER)):
            return None
        publisher_id = Event.objects.filter(pk=self.event_id).values_list("publisher_id", flat=True).first()
        if publisher_id is None or (user.role != Role.ADMIN and publisher_id != user.pk):
            return None
        return list(Session.objects.filter(event_id=self.event_id).values_list("pk", flat=True))

    async def disconnect(self, code):
        if self.pending:
            self.pending.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the counter only listens

    async def seatmap_changed(self, message):
        if self.pending is None or self.pending.done():
            self.pending = asyncio.ensure_future(self._send_later())

    async def _send_later(self):
        await asyncio.sleep(max(0.0, self.last_sent + LIVE_EVERY - time.monotonic()))
        await self._send_counts()

    async def _send_counts(self):
        self.last_sent = time.monotonic()
        sessions = await database_sync_to_async(live_counts)(event_id=self.event_id)
        await self.send_json({"type": "counts", "event_id": self.event_id, "sessions": sessions})
