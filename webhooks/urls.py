"""The publisher's webhook pages (mounted at the site root by ticketing.urls)."""

from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("publisher/webhooks/", views.endpoint_list, name="list"),
    path("publisher/webhooks/<int:pk>/", views.endpoint_detail, name="detail"),
    path("publisher/webhooks/<int:pk>/rotate/", views.endpoint_rotate, name="rotate"),
    path("publisher/webhooks/<int:pk>/ping/", views.endpoint_ping, name="ping"),
    path("publisher/webhooks/<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path("publisher/webhooks/deliveries/<int:pk>/", views.delivery_detail, name="delivery"),
    path("publisher/webhooks/deliveries/<int:pk>/resend/", views.delivery_resend, name="resend"),
]
