from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        # The catalogue's review page shows what an event sells without importing the inventory.
        from events.selectors import review_inventory_register
        from tickets.publisher_views import inventory_overview

        review_inventory_register(inventory_overview)
