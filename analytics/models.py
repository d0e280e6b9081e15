"""The sales roll-up: what analytics.stats reads for complete local days instead of the orders tables.

`SalesDay` holds one row per (local day, local hour, ticket type) that sold or refunded: the sales of
orders paid in that hour and the refunds approved in that hour (a refund counts on the day it was
approved, like the live figures). The event, publisher, city and category are copied from the event
when the day is rolled up, so a filter or a GROUP BY needs no join.

Orders without double counting: an order belongs to one event but may hold several ticket types.
`type_orders` counts the orders that hold this ticket type (what the ticket-type figure shows);
`orders` counts each order once, on the row of its smallest ticket type id, so summing `orders` over
the rows of a day, an event, a publisher, a city or a category gives their distinct orders. The same
for `type_refunds` / `refunds`.

`SalesRollupDay` says when a day was last rolled up: stats reads the roll-up for a day only when that
refresh started after the day had ended (analytics.services.sales_rollup_refresh).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesDay(models.Model):
    day = models.DateField(_("day"))  # local day (settings.TIME_ZONE)
    hour = models.PositiveSmallIntegerField(_("hour"))  # local hour, 0-23
    ticket_type_id = models.BigIntegerField()
    event_id = models.BigIntegerField()
    publisher_id = models.BigIntegerField()
    city = models.CharField(max_length=64)
    category_id = models.BigIntegerField()
    tickets = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    type_orders = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    refunded_tickets = models.PositiveIntegerField(default=0)
    refund_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    type_refunds = models.PositiveIntegerField(default=0)
    refunds = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("sales roll-up row")
        constraints = [models.UniqueConstraint(fields=["day", "hour", "ticket_type_id"], name="salesday_one_per_hour_type")]
        # Covering: every figure reads a range of days from this index alone, whatever it groups by
        # (an index led by event_id made MariaDB scan the whole table to group by event).
        indexes = [models.Index(fields=["day", "event_id", "ticket_type_id", "hour", "publisher_id", "category_id", "city",
                                        "tickets", "revenue", "orders", "type_orders", "refunds", "type_refunds",
                                        "refund_amount"], name="salesday_day_cover")]


class SalesRollupDay(models.Model):
    day = models.DateField(primary_key=True)
    refreshed_at = models.DateTimeField()  # when the refresh that wrote the day's rows began

    class Meta:
        verbose_name = _("rolled-up sales day")
