"""Pages and API routes of the events domain (mounted at the site root by ticketing.urls)."""

from django.urls import include, path

from events import views

app_name = "events"
urlpatterns = [
    # public
    path("events/", views.event_list, name="list"),
    path("events/suggest/", views.event_suggest, name="suggest"),
    path("events/<int:pk>/", views.event_detail, name="detail"),
    # buyers
    path("events/<int:pk>/want/", views.event_want, name="want"),
    # publisher
    path("publisher/events/", views.my_events, name="mine"),
    path("publisher/events/new/", views.event_create, name="create"),
    path("publisher/events/<int:pk>/edit/", views.event_edit, name="edit"),
    path("publisher/events/<int:pk>/submit/", views.event_submit, name="submit"),
    path("events/<int:pk>/cancel/", views.event_cancel, name="cancel"),
    # admin review
    path("review/events/", views.review_queue, name="review_queue"),
    path("review/events/<int:pk>/", views.review_detail, name="review_detail"),
    # API
    path("", include("events.api_urls")),
]
