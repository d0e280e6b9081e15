from channels.generic.websocket import AsyncJsonWebsocketConsumer


class PingConsumer(AsyncJsonWebsocketConsumer):
    """Echoes a message back through the channel layer (Redis), not in-process.

    Used by the smoke test and by operators to prove that the websocket server
    and its Redis layer work end to end. Anyone may connect.
    """

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not isinstance(content.get("message"), str):
            await self.send_json({"error": "expected {\"message\": \"...\"}"})
            return
        await self.channel_layer.send(self.channel_name, {"type": "echo.message", "message": content["message"][:1000]})

    async def echo_message(self, event):
        await self.send_json({"echo": event["message"]})
