"""Pages and API routes of the events domain (mounted at the site root by ticketing.urls)."""

app_name = "events"
urlpatterns: list = []
