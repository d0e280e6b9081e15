from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from analytics.mongo import connect

        connect()
        # The event page's similar-events block, handed to events.views (no import upward from events).
        from analytics.recs.pages import event_page_context
        from events.views import event_detail_context_register

        event_detail_context_register(event_page_context)
