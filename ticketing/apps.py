from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "ticketing"
    verbose_name = "Ticketing platform"

    def ready(self) -> None:
        from ticketing import heartbeat  # noqa: F401  (connects the worker signals)
