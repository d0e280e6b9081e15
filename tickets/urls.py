"""Pages and API routes of the tickets domain (mounted at the site root by ticketing.urls)."""

app_name = "tickets"
urlpatterns: list = []
