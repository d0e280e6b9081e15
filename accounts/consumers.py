from channels.db import database_sync_to_async

from accounts.notifications import group_name, unread_count
from ticketing.consumers import ClientFrameConsumer


class NotificationConsumer(ClientFrameConsumer):
    """Pushes a logged-in user's new notifications and unread count to every
    page they have open. Anonymous connections are refused."""

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # A reconnecting page learns what it missed.
        await self.send_json({"unread": await database_sync_to_async(unread_count)(user)})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"error": "this socket only sends"})

    async def notification_created(self, event):
        await self.send_json({"notification": event["notification"], "unread": event["unread"]})
