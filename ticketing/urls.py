from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ticketing import views
from ticketing.errors import Forbidden, NotFound, api_aware

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("events.urls")),
    path("", include("webhooks.urls")),
    path("", include("tickets.urls")),
    path("", include("orders.urls")),
    path("", include("analytics.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.SERVE_MEDIA:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]

handler403 = api_aware(views.error_403, Forbidden)
handler404 = api_aware(views.error_404, NotFound)
handler500 = api_aware(views.error_500)

admin.site.site_header = _("Ticketing administration")
admin.site.site_title = _("Ticketing")
admin.site.index_title = _("Site administration")
