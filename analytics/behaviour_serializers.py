"""What the behaviour stats API answers (analytics.behaviour_api): shapes for the OpenAPI schema."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from analytics.behaviour import FUNNEL_STEPS


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=FUNNEL_STEPS, help_text=_(
        "view: event page; seatmap: session page or seat map; hold; order; paid."))
    visitors = serializers.IntegerField(help_text=_("Distinct visitors (a signed-in user, else a browser cookie)."))


class EventFunnelSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()
    title = serializers.CharField(allow_null=True)
    view = serializers.IntegerField()
    seatmap = serializers.IntegerField()
    hold = serializers.IntegerField()
    order = serializers.IntegerField()
    paid = serializers.IntegerField()


class FunnelSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    steps = FunnelStepSerializer(many=True)
    by_event = EventFunnelSerializer(many=True, help_text=_("The most viewed events first (at most 20)."))


class ActiveDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text=_("A local day."))
    visitors = serializers.IntegerField(help_text=_("Distinct visitors that day."))
    users = serializers.IntegerField(help_text=_("Distinct signed-in users that day."))
    new_users = serializers.IntegerField(allow_null=True, help_text=_(
        "Accounts created that day; null unless the figures cover every event (administrators without filters)."))


class ActivitySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    days = ActiveDaySerializer(many=True)


class EmptySearchSerializer(serializers.Serializer):
    query = serializers.CharField(help_text=_("The query as typed, in lower case."))
    count = serializers.IntegerField()


class SearchSerializer(EmptySearchSerializer):
    avg_results = serializers.FloatField(allow_null=True, help_text=_("Average number of results found."))


class SearchesSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    top = SearchSerializer(many=True, help_text=_("The most frequent searches, with their average result count."))
    empty = EmptySearchSerializer(many=True, help_text=_("The most frequent searches that found nothing."))
