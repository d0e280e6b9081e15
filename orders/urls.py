"""Pages and API routes of the orders domain (mounted at the site root by ticketing.urls)."""

app_name = "orders"
urlpatterns: list = []
