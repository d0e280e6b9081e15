"""Publisher pages of the tickets domain: one event's ticket types, seat maps and sessions."""

from django.urls import path

from tickets import publisher_views as views

urlpatterns = [
    path("publisher/events/<int:pk>/tickets/", views.manage, name="manage"),
    path("publisher/events/<int:pk>/tickets/types/new/", views.ticket_type_create,
         name="manage_ticket_type_create"),
    path("publisher/events/<int:pk>/tickets/types/<int:type_pk>/edit/", views.ticket_type_edit,
         name="manage_ticket_type_edit"),
    path("publisher/events/<int:pk>/tickets/seatmaps/new/", views.seat_map_create, name="manage_seat_map_create"),
    path("publisher/events/<int:pk>/tickets/seatmaps/preview/", views.seat_map_preview,
         name="manage_seat_map_preview"),
    path("publisher/events/<int:pk>/tickets/sessions/new/", views.session_create, name="manage_session_create"),
    path("publisher/events/<int:pk>/tickets/sessions/<int:session_pk>/cancel/", views.session_cancel,
         name="manage_session_cancel"),
    path("publisher/events/<int:pk>/tickets/sessions/<int:session_pk>/waiting-room/", views.session_waiting_room,
         name="manage_session_waiting_room"),
]
