"""Pages and API routes of the analytics domain (mounted at the site root by ticketing.urls)."""

from django.urls import path

from analytics import api as stats_api
from analytics import beacon
from analytics import views as stats_views
from analytics import behaviour_api
from analytics.recs import api as recs_api

app_name = "analytics"
urlpatterns: list = [
    path("api/recommend/<int:user_id>", recs_api.RecommendView.as_view(), name="api_recommend"),
    path("api/track", beacon.TrackView.as_view(), name="api_track"),
    path("api/stats/sales", stats_api.SalesView.as_view(), name="api_stats_sales"),
    path("api/stats/sessions", stats_api.SessionsView.as_view(), name="api_stats_sessions"),
    path("api/stats/heat", stats_api.HeatView.as_view(), name="api_stats_heat"),
    path("manage/stats/", stats_views.admin_stats, name="admin_stats"),
    path("publisher/stats/", stats_views.publisher_stats, name="publisher_stats"),
    path("api/stats/funnel", behaviour_api.FunnelView.as_view(), name="api_stats_funnel"),
    path("api/stats/activity", behaviour_api.ActivityView.as_view(), name="api_stats_activity"),
    path("api/stats/searches", behaviour_api.SearchesView.as_view(), name="api_stats_searches"),
]
