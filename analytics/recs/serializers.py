"""What GET /api/recommend/<userId> takes and answers."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

MAX_K = 50


class RecommendParamsSerializer(serializers.Serializer):
    k = serializers.IntegerField(min_value=1, max_value=MAX_K, default=10,
                                 help_text=_("How many events, 1 to 50."))
    city = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                 help_text=_("Only events in this city."))


class RecommendationSerializer(serializers.Serializer):
    """One recommended event, its score and why it is there."""

    id = serializers.IntegerField(source="event.pk")
    title = serializers.CharField(source="event.title")
    start = serializers.DateTimeField(source="event.start_time")
    city = serializers.CharField(source="event.city")
    price_min = serializers.DecimalField(source="event.price_min", max_digits=10, decimal_places=2, allow_null=True)
    cover = serializers.SerializerMethodField(help_text=_("The cover image's address, or null."))
    url = serializers.SerializerMethodField(help_text=_("The event's page on this site."))
    score = serializers.FloatField(help_text=_("Higher is closer to the user's taste (popularity for cold starts)."))
    reason = serializers.CharField(help_text=_("Why it is recommended, in the caller's language."))

    def get_cover(self, rec) -> str | None:
        if not rec.event.cover:
            return None
        request = self.context.get("request")
        url = rec.event.cover.url
        return request.build_absolute_uri(url) if request is not None else url

    def get_url(self, rec) -> str:
        return reverse("events:detail", args=[rec.event.pk])


class RecommendResponseSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text=_("The user the events are for."))
    index_version = serializers.CharField(allow_null=True, help_text=_("The index the answer came from (null: none yet)."))
    results = RecommendationSerializer(many=True)
