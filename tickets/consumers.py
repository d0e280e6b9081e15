import logging

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from events.selectors import event_visible_to
from ticketing.consumers import NOT_FOUND, POLICY_VIOLATION, ClientFrameConsumer, TokenBucket
from tickets import waiting_room
from tickets.broadcast import group_name
from tickets.models import Session
from tickets.selectors import seatmap_state

# A snapshot is the whole map (kilobytes): a page resyncs after a reconnect or a gap, a few
# times a minute at most. A client that keeps asking after being told to slow down is closed.
RESYNC_BURST, RESYNC_PER_SECONDS = 5, 10
RESYNC_REFUSALS_BEFORE_CLOSE = 20
WAITING_ROOM_REQUIRED = 4403  # a hot sale's room is active and the viewer has no admission (tickets.waiting_room)


class SeatMapConsumer(ClientFrameConsumer):
    """Live seat map of one session: a full snapshot on connect (and on {"action": "resync"},
    RESYNC_BURST per RESYNC_PER_SECONDS), then every change as it is committed. Anyone who
    may see the event may watch; while a hot session's waiting room is active, only with an admission
    (its cookie), or as the event's publisher or an administrator."""

    async def connect(self):
        self.resyncs = TokenBucket(capacity=RESYNC_BURST, per_seconds=RESYNC_PER_SECONDS)
        self.resyncs_refused = 0
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        verdict = await database_sync_to_async(self._verdict)()
        if verdict == "hidden":
            await self.close(code=NOT_FOUND)
            return
        if verdict == "queue":  # accepted, to say why: the page goes to the waiting room on this code
            await self.accept()
            await self.close(code=WAITING_ROOM_REQUIRED)
            return
        self.group = group_name(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._snapshot()

    def _verdict(self) -> str:
        """ok, hidden (no such session for this viewer) or queue (its waiting room first)."""
        session = Session.objects.filter(pk=self.session_id).only(
            "event_id", "waiting_room", "sales_start", "sales_end", "cancelled_at").first()
        user = self.scope.get("user")
        event = event_visible_to(event_id=session.event_id, user=user) if session is not None else None
        if event is None:
            return "hidden"
        if not waiting_room.session_room_active(session):
            return "ok"
        token = self.scope.get("cookies", {}).get(waiting_room.token_cookie(self.session_id), "")
        user_id = user.pk if getattr(user, "is_authenticated", False) else None
        if waiting_room.token_valid(token, session_id=self.session_id, user_id=user_id):
            return "ok"
        return "ok" if waiting_room.sees_without_queue(user, event.publisher_id) else "queue"

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _snapshot(self):
        state = await database_sync_to_async(self._state)()
        await self.send_json({"type": "snapshot", **state})

    def _state(self) -> dict:
        session = Session.objects.select_related("event", "seat_map").get(pk=self.session_id)
        return seatmap_state(session, user=self.scope.get("user"))

    async def receive_json(self, content, **kwargs):
        if not (isinstance(content, dict) and content.get("action") == "resync"):
            await self.send_json({"type": "error", "detail": _('Send {"action": "resync"} or nothing.')})
        elif self.resyncs.take():
            self.resyncs_refused = 0
            await self._snapshot()
        else:
            self.resyncs_refused += 1
            if self.resyncs_refused == 1:  # said once per streak: the answer must stay smaller than the asking
                await self.send_json({"type": "error", "code": "slow_down",
                                      "detail": _("Too many refreshes of the seat map: wait a few seconds.")})
            elif self.resyncs_refused > RESYNC_REFUSALS_BEFORE_CLOSE:
                await self.refuse(POLICY_VIOLATION, f"{self.resyncs_refused} resyncs refused in a row",
                                  level=logging.WARNING)

    async def dispatch(self, message):
        # Channels runs close_old_connections before every message, through the process's single
        # sync thread: with hundreds of maps open, one change queued behind hundreds of thread hops
        # (bench/seatmap_fanout.py). A change is only forwarded; it never touches the database.
        if message["type"] == "seatmap.changed":
            await self.seatmap_changed(message)
        else:
            await super().dispatch(message)

    async def seatmap_changed(self, event):
        await self.send_json({"type": "changes", "seats": event["seats"], "stock": event["stock"]})
