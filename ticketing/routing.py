"""Every websocket route of the product; each app adds its consumers here."""

from django.urls import path

from accounts.consumers import NotificationConsumer
from ticketing.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
