"""Pages and API routes of the tickets domain (mounted at the site root by ticketing.urls)."""

from django.urls import include, path

app_name = "tickets"
urlpatterns = [
    path("", include("tickets.publisher_urls")),  # publishers build inventory
    path("", include("tickets.buyer_urls")),  # buyers choose and hold
    path("", include("tickets.api_urls")),
]
