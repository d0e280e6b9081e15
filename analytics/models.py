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

`SalesDayEvent` holds the same day's rows summed per event (no hour, no ticket type): about a third as many
rows, which is what the figures by day, event, publisher, city and category read (a year's range: ~90,000
rows instead of ~266,000 at a million tickets); `SalesDayType` per ticket type (no hour; about half as
many), what the figure by ticket type reads. Only the heat map (weekday × hour) reads SalesDay itself. Both
are written with SalesDay, from the same rows.

`SalesRollupDay` says when a day was last rolled up: stats reads the roll-up for a day only when that
refresh started after the day had ended (analytics.services.sales_rollup_refresh).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SalesRow(models.Model):
    """What every roll-up row holds: the day, the event and what a filter or a GROUP BY reads of it, and
    the sums of its sales and refunds."""

    day = models.DateField(_("day"))  # local day (settings.TIME_ZONE)
    event_id = models.BigIntegerField()
    publisher_id = models.BigIntegerField()
    city = models.CharField(max_length=64)
    category_id = models.BigIntegerField()
    tickets = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    refunded_tickets = models.PositiveIntegerField(default=0)
    refund_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        abstract = True


class SalesDay(SalesRow):
    hour = models.PositiveSmallIntegerField(_("hour"))  # local hour, 0-23
    ticket_type_id = models.BigIntegerField()
    type_orders = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
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


class SalesDayEvent(SalesRow):
    orders = models.PositiveIntegerField(default=0)
    refunds = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("sales roll-up row per event")
        constraints = [models.UniqueConstraint(fields=["day", "event_id"], name="salesdayevent_one_per_event")]
        indexes = [models.Index(fields=["day", "event_id", "publisher_id", "category_id", "city", "tickets", "revenue",
                                        "orders", "refunds", "refund_amount"], name="salesdayevent_day_cover")]


class SalesDayType(SalesRow):
    ticket_type_id = models.BigIntegerField()
    type_orders = models.PositiveIntegerField(default=0)
    type_refunds = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("sales roll-up row per ticket type")
        constraints = [models.UniqueConstraint(fields=["day", "ticket_type_id"], name="salesdaytype_one_per_type")]
        indexes = [models.Index(fields=["day", "event_id", "ticket_type_id", "tickets", "revenue", "type_orders",
                                        "type_refunds", "refund_amount"], name="salesdaytype_day_cover")]


class SalesRollupDay(models.Model):
    day = models.DateField(primary_key=True)
    refreshed_at = models.DateTimeField()  # when the refresh that wrote the day's rows began

    class Meta:
        verbose_name = _("rolled-up sales day")
