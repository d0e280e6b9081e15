from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from events.selectors import event_visible_to
from tickets.broadcast import group_name
from tickets.models import Session
from tickets.selectors import seatmap_state


class SeatMapConsumer(AsyncJsonWebsocketConsumer):
    """Live seat map of one session: a full snapshot on connect (and on {"action": "resync"}),
    then every change as it is committed. Anyone who may see the event may watch."""

    async def connect(self):
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        if not await database_sync_to_async(self._visible)():
            await self.close(code=4404)
            return
        self.group = group_name(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._snapshot()

    def _visible(self) -> bool:
        event_id = Session.objects.filter(pk=self.session_id).values_list("event_id", flat=True).first()
        return event_id is not None and event_visible_to(event_id=event_id, user=self.scope.get("user")) is not None

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
        if isinstance(content, dict) and content.get("action") == "resync":
            await self._snapshot()
        else:
            await self.send_json({"type": "error", "detail": _('Send {"action": "resync"} or nothing.')})

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
