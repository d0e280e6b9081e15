"""Pages and API routes of the analytics domain (mounted at the site root by ticketing.urls)."""

app_name = "analytics"
urlpatterns: list = []
