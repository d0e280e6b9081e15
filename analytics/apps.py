import logging

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

log = logging.getLogger(__name__)


def mongo_indexes_after_migrate(*, app_config, plan=None, **kwargs) -> None:
    """The behaviour log's MongoDB indexes, once per `migrate` (after its last app; `flush`, which sends the
    signal too but no plan, is left alone). MongoDB away never fails a migrate: a warning says so, and
    seed_demo (or the next migrate) makes them."""
    last = [c for c in apps.get_app_configs() if c.models_module is not None][-1]
    if app_config is not last or plan is None:
        return
    from analytics.documents import ensure_indexes

    try:
        ensure_indexes()
    except Exception as exc:  # noqa: BLE001 - the relational database is migrated whatever MongoDB does
        log.warning("MongoDB indexes not made (MongoDB does not answer: %s); migrate or seed_demo makes them later",
                    exc)


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from analytics import tracking
        from analytics.mongo import connect
        from ticketing.behaviour import behaviour_recorder_register

        connect()
        post_migrate.connect(mongo_indexes_after_migrate, dispatch_uid="analytics-mongo-indexes")
        # The event page's similar-events block, handed to events.views (no import upward from events).
        from analytics.recs.pages import event_page_context
        from events.views import event_detail_context_register

        event_detail_context_register(event_page_context)
        # events, tickets and orders log behaviour through ticketing.behaviour (no import upward).
        behaviour_recorder_register(track=tracking.track, track_on_commit=tracking.track_on_commit)
