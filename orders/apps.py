from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from orders import cancellations, services, waitlist  # noqa: F401  (their outbox handlers)

        cancellations.connect()
