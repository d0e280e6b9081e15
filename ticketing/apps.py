from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "ticketing"
    verbose_name = "Ticketing platform"

    def ready(self) -> None:
        from ticketing import heartbeat, mail  # noqa: F401  (worker signals; the mail outbox handler)
