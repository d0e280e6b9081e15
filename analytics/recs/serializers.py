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

    def to_representation(self, rec) -> dict:
        return card(rec, request=self.context.get("request"))

    def get_cover(self, rec) -> str | None:
        return _cover(rec.event, self.context.get("request"))

    def get_url(self, rec) -> str:
        return reverse("events:detail", args=[rec.event.pk])


def _cover(event, request) -> str | None:
    if not event.cover:
        return None
    return request.build_absolute_uri(event.cover.url) if request is not None else event.cover.url


_START = RecommendationSerializer._declared_fields["start"]
_PRICE = RecommendationSerializer._declared_fields["price_min"]


def card(rec, *, request=None) -> dict:
    """One result as RecommendationSerializer's fields make it (a test holds the two equal), built directly:
    DRF's field-by-field walk cost more than the rest of the answer's serialising."""
    event = rec.event
    return {"id": event.pk, "title": event.title, "start": _START.to_representation(event.start_time), "city": event.city,
            "price_min": None if event.price_min is None else _PRICE.to_representation(event.price_min),
            "cover": _cover(event, request), "url": reverse("events:detail", args=[event.pk]),
            "score": float(rec.score), "reason": str(rec.reason)}


class RecommendResponseSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text=_("The user the events are for."))
    index_version = serializers.CharField(allow_null=True, help_text=_("The index the answer came from (null: none yet)."))
    results = RecommendationSerializer(many=True)
