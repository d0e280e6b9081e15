"""Every websocket route of the product; each app adds its consumers here."""

from django.urls import path, re_path

from accounts.consumers import NotificationConsumer
from analytics.consumers import LiveSalesConsumer
from ticketing.consumers import NotFoundConsumer, PingConsumer
from tickets.consumers import SeatMapConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/seatmap/<int:session_id>/", SeatMapConsumer.as_asgi()),
    path("ws/stats/events/<int:event_id>/live/", LiveSalesConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),  # last: any other path is refused, not a 500
]
