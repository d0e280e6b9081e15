"""Pages and API routes of the accounts domain (mounted at the site root by ticketing.urls)."""

app_name = "accounts"
urlpatterns: list = []
