"""Buyer pages of the tickets domain."""

from django.urls import path

from tickets import views

urlpatterns = [
    path("events/wanted/", views.wanted_list, name="wanted"),
    path("sessions/<int:pk>/", views.session_detail, name="session"),
    path("sessions/<int:pk>/hold/", views.session_hold, name="hold"),
    path("sessions/<int:pk>/access/", views.session_access, name="access"),
    path("sessions/<int:pk>/hold-panel/", views.hold_panel, name="hold_panel"),
    path("waiting-room/<int:pk>/", views.waiting_room_page, name="waiting_room"),
    path("holds/<int:hold_id>/release/", views.hold_release, name="hold_release"),
]
