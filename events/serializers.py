"""Shapes of the events API: what comes in, what goes out. No business rules here:
the workflow, the times and the description's sanitising belong to events.services."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.models import TRANSFER_CUTOFF_MAX, Category, Event
from events.refunds import MAX_TIERS, RefundPolicyKind
from events.services import EventData
from events.validators import validate_cover
from ticketing.bounds import DESCRIPTION_MAX, REASON_MAX, validate_time_window

SORTS = [
    ("start", _("Soonest first")),
    ("price", _("Cheapest first")),
    ("-price", _("Most expensive first")),
    ("newest", _("Newest first")),
    ("relevance", _("Best match")),
]


# --- categories -----------------------------------------------------------------------
class CategoryBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True, help_text=_("In the language of the request."))


class CategoryNodeSerializer(serializers.Serializer):
    """One category with its subcategories, nested to any depth."""

    id = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True, help_text=_("In the language of the request."))
    name_zh = serializers.CharField(read_only=True)
    name_en = serializers.CharField(read_only=True)

    def get_fields(self):
        # Declared here rather than on the class because it refers to this very class.
        fields = super().get_fields()
        fields["children"] = CategoryNodeSerializer(many=True, read_only=True, source="tree_children")
        return fields


def category_forest(nodes: Iterable[Category]) -> list[Category]:
    """Nest the nodes of `Category.objects.get_tree()` (depth-first, path order) under
    their parents as `tree_children`; returns the roots."""
    roots: list[Category] = []
    by_path: dict[str, Category] = {}
    for node in nodes:
        node.tree_children = []
        by_path[node.path] = node
        parent = by_path.get(node.path[: -node.steplen])
        (parent.tree_children if parent else roots).append(node)
    return roots


# --- events out ------------------------------------------------------------------------
class EventCardSerializer(serializers.ModelSerializer):
    """An event in a list: what a search result or a card shows."""

    category = CategoryBriefSerializer(read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    cover = serializers.ImageField(read_only=True, allow_null=True, use_url=True)
    url = serializers.SerializerMethodField(help_text=_("The event's page on this site."))

    class Meta:
        model = Event
        fields = ["id", "title", "start_time", "end_time", "venue", "city", "category", "tags", "price_min",
                  "price_max", "tickets_left", "cover", "url"]
        read_only_fields = fields

    def get_url(self, event: Event) -> str:
        return reverse("events:detail", args=[event.pk])


class EventSerializer(EventCardSerializer):
    """The whole event. The reviewer's reason is shown only where the view says
    the reader may see it (context `show_review`: the publisher and admins)."""

    status_display = serializers.CharField(source="get_status_display", read_only=True)
    review_reason = serializers.SerializerMethodField(
        help_text=_("The reviewer's reason; empty unless you are the publisher or an administrator."))
    refund_tiers = serializers.JSONField(
        help_text=_("The `tiered` policy's tiers, most hours first: [[hours before the session, fee %], …]."))
    refund_rules = serializers.ListField(child=serializers.CharField(), read_only=True,
                                         help_text=_("The refund policy as a buyer reads it."))

    class Meta(EventCardSerializer.Meta):
        fields = [*EventCardSerializer.Meta.fields, "description", "address", "real_name_required",
                  "one_ticket_per_id", "refund_policy", "refund_tiers", "refund_rules", "transfers_allowed",
                  "transfer_cutoff_hours", "status",
                  "status_display", "review_reason", "submitted_at", "reviewed_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_review_reason(self, event: Event) -> str:
        return event.review_reason if self.context.get("show_review") else ""


class WantedEventSerializer(EventCardSerializer):
    """An event on the caller's wanted list (想看), with its status (a wanted event may be cancelled since)."""

    wanted_at = serializers.DateTimeField(read_only=True, help_text=_("When you marked it."))

    class Meta(EventCardSerializer.Meta):
        fields = [*EventCardSerializer.Meta.fields, "status", "wanted_at"]
        read_only_fields = fields


class FavouriteStateSerializer(serializers.Serializer):
    wanted = serializers.BooleanField(help_text=_("Whether you want this event."))
    wanted_count = serializers.IntegerField(help_text=_("How many people want it."))


# --- events in -------------------------------------------------------------------------
@extend_schema_field(OpenApiTypes.BINARY)
class ImageUploadField(serializers.FileField):
    """A multipart image upload, opened with Pillow: a real JPEG, PNG or WebP
    within the size limits, or a field error."""

    def to_internal_value(self, data):
        upload = super().to_internal_value(data)
        try:
            validate_cover(upload)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code=error.code) from None
        return upload


class EventWriteSerializer(serializers.Serializer):
    """What a publisher sends to create an event (PATCH: any subset of it)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                        max_length=DESCRIPTION_MAX,
                                        help_text=_("Basic HTML formatting is kept; scripts are removed."))
    start_time = serializers.DateTimeField(
        validators=[validate_time_window],
        help_text=_("ISO 8601 with its UTC offset, e.g. 2026-05-01T19:30:00+08:00; "
                    "a time without an offset is read in the site's time zone."))
    end_time = serializers.DateTimeField(validators=[validate_time_window], help_text=_("After the start."))
    venue = serializers.CharField(max_length=200)
    city = serializers.CharField(max_length=64)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), help_text=_("A category id."))
    tags = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=20,
                                 help_text=_("Tag names; a tag that does not exist yet is created."))
    real_name_required = serializers.BooleanField(required=False)
    one_ticket_per_id = serializers.BooleanField(
        required=False, help_text=_("Real-name events: one ticket per ID number per session (the default)."))
    refund_policy = serializers.ChoiceField(choices=RefundPolicyKind.choices, required=False)
    refund_tiers = serializers.ListField(
        child=serializers.ListField(child=serializers.DecimalField(max_digits=6, decimal_places=1), min_length=2,
                                    max_length=2),
        required=False, max_length=MAX_TIERS,
        help_text=_("For the `tiered` policy: [[hours before the session, fee %], …], e.g. [[168, 0], [24, 20]]: "
                    "free until 7 days before, a 20 % fee until 24 hours before, then no refunds."))
    transfers_allowed = serializers.BooleanField(required=False,
                                                 help_text=_("Buyers may give a paid ticket to another account."))
    transfer_cutoff_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=TRANSFER_CUTOFF_MAX,
        help_text=_("Transfers close this many hours before the session (0: at its start)."))
    cover = ImageUploadField(required=False, allow_empty_file=False,
                             help_text=_("JPEG, PNG or WebP, at most 5 MB and 6000 × 6000 pixels (multipart only)."))


def event_data(values: dict, *, current: Event | None = None) -> EventData:
    """EventData from validated input; for a partial update the event's current
    values fill in what was not sent (tags and cover then stay as they are)."""
    if current is None:
        return EventData(**values)
    return EventData(**{
        "title": current.title,
        "description": current.description,
        "start_time": current.start_time,
        "end_time": current.end_time,
        "venue": current.venue,
        "city": current.city,
        "address": current.address,
        "category": current.category,
        "real_name_required": current.real_name_required,
        "one_ticket_per_id": current.one_ticket_per_id,
        "refund_policy": current.refund_policy,
        "refund_tiers": current.refund_tiers,
        "transfers_allowed": current.transfers_allowed,
        "transfer_cutoff_hours": current.transfer_cutoff_hours,
        **values,
    })


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=REASON_MAX,
                                   help_text=_("Required when rejecting; shown to the publisher."))


class EventSearchParamsSerializer(serializers.Serializer):
    """The query string of GET /api/events/search, named as events.selectors.event_search wants it."""

    q = serializers.CharField(source="query", required=False, allow_blank=True, max_length=200,
                              help_text=_("Words to look for in title, description, venue and tags (Chinese or English)."))
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), required=False,
                                                  help_text=_("A category id; its subcategories are included."))
    city = serializers.CharField(required=False, allow_blank=True, max_length=64)
    date_from = serializers.DateField(required=False, validators=[validate_time_window],
                                      help_text=_("YYYY-MM-DD, the first day."))
    date_to = serializers.DateField(required=False, validators=[validate_time_window],
                                    help_text=_("YYYY-MM-DD, the last day (included)."))
    price_min = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    price_max = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    available = serializers.BooleanField(source="available_only", required=False,
                                         help_text=_("Only events with tickets left."))
    sort = serializers.ChoiceField(choices=SORTS, required=False, allow_blank=True)
