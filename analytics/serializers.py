"""Answers of the sales stats API (analytics.api): read-only shapes of analytics.stats rows."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from analytics.stats import GROUPS

MONEY = {"max_digits": 14, "decimal_places": 2}


class SalesRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("The day (YYYY-MM-DD), or the id of the event, ticket type, publisher "
                                            "or category, or the city's name."))
    label = serializers.CharField(help_text=_("What to show for the row."))
    revenue = serializers.DecimalField(**MONEY, help_text=_("Ticket prices of the orders paid (gross)."))
    tickets = serializers.IntegerField(help_text=_("Tickets of the orders paid."))
    orders = serializers.IntegerField(help_text=_("Orders paid."))
    refunds = serializers.IntegerField(help_text=_("Refunds approved (whole orders)."))
    refund_amount = serializers.DecimalField(**MONEY)
    net = serializers.DecimalField(**MONEY, help_text=_("Revenue minus refunds."))
    aov = serializers.DecimalField(**MONEY, help_text=_("Average order value: revenue / orders."))


class SalesTotalsSerializer(serializers.Serializer):
    revenue = serializers.DecimalField(**MONEY)
    tickets = serializers.IntegerField()
    orders = serializers.IntegerField()
    refunds = serializers.IntegerField()
    refund_amount = serializers.DecimalField(**MONEY)
    net = serializers.DecimalField(**MONEY)
    aov = serializers.DecimalField(**MONEY)


class SalesSerializer(serializers.Serializer):
    start = serializers.DateField(help_text=_("First local day (Asia/Shanghai), inclusive."))
    end = serializers.DateField(help_text=_("Last local day, inclusive."))
    group_by = serializers.ChoiceField(choices=GROUPS)
    totals = SalesTotalsSerializer()
    rows = SalesRowSerializer(many=True)


class SessionSellThroughSerializer(serializers.Serializer):
    session_id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    event = serializers.CharField()
    session = serializers.CharField()
    starts = serializers.DateTimeField()
    capacity = serializers.IntegerField(help_text=_("Seats, or GA tickets on sale."))
    sold = serializers.IntegerField()
    held = serializers.IntegerField(help_text=_("In live holds right now."))
    rate = serializers.FloatField(help_text=_("sold / capacity, 0 to 1."))


class SessionsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    sessions = SessionSellThroughSerializer(many=True)


class HeatCellSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=1, max_value=7, help_text=_("1 = Monday … 7 = Sunday (local)."))
    hour = serializers.IntegerField(min_value=0, max_value=23, help_text=_("Local hour of payment."))
    tickets = serializers.IntegerField()
    revenue = serializers.DecimalField(**MONEY)


class HeatSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    cells = HeatCellSerializer(many=True, help_text=_("Only the cells that sold."))
