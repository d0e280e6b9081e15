"""API routes of events (and of the notification inbox), included at the site root by events.urls."""

from django.urls import path

from accounts import notification_api
from events import api

urlpatterns = [
    path("api/events/create", api.EventCreateView.as_view(), name="api_event_create"),
    path("api/events/search", api.EventSearchView.as_view(), name="api_event_search"),
    path("api/events/mine", api.MyEventsView.as_view(), name="api_my_events"),
    path("api/events/review-queue", api.ReviewQueueView.as_view(), name="api_review_queue"),
    path("api/events/<int:event_id>", api.EventDetailView.as_view(), name="api_event"),
    path("api/events/<int:event_id>/submit", api.EventSubmitView.as_view(), name="api_event_submit"),
    path("api/events/<int:event_id>/cancel", api.EventCancelView.as_view(), name="api_event_cancel"),
    path("api/events/<int:event_id>/approve", api.EventApproveView.as_view(), name="api_event_approve"),
    path("api/events/<int:event_id>/want", api.EventWantView.as_view(), name="api_event_want"),
    path("api/events/wanted", api.WantedListView.as_view(), name="api_wanted"),
    path("api/categories", api.CategoryTreeView.as_view(), name="api_categories"),
    path("api/notifications", notification_api.NotificationListView.as_view(), name="api_notifications"),
    path("api/notifications/read", notification_api.NotificationReadView.as_view(), name="api_notifications_read"),
]
