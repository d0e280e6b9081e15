"""Pages and API routes of the orders domain (mounted at the site root by ticketing.urls)."""

from django.urls import include, path

app_name = "orders"
urlpatterns = [
    path("", include("orders.page_urls")),
    path("", include("orders.api_urls")),
]
