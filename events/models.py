from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import IsNull
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

from events.refunds import RefundPolicy, RefundPolicyKind
from ticketing.bounds import validate_description_length, validate_reason_length, validate_time_window

TRANSFER_CUTOFF_MAX = 720  # hours: 30 days


class Category(MP_Node):
    """Two-level (or deeper) tree: 演出 › 演唱会. Names in both languages."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    node_order_by = ["slug"]

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    # For templates, which cannot pass the node to the manager (treebeard 7 moved get_children and
    # get_ancestors there and deprecates them on the node).
    def children(self):
        return type(self).objects.get_children(self)

    def ancestors(self):
        return type(self).objects.get_ancestors(self)


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


MAX_ALIAS_NAMES = 12
MAX_ALIAS_NAME = 64


class SearchAlias(models.Model):
    """Names a buyer uses for one thing: an artist's other names (周杰伦 / Jay Chou / 周董), a city's
    English or older name (北京 / Beijing / Peking). An event whose title, venue, city, tags or category
    holds one of them is found by every one of them (events.search indexes the others with it)."""

    names = models.TextField(_("names"), help_text=_("One name per line: at least two, at most 12."))
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("search alias")
        verbose_name_plural = _("search aliases")

    def __str__(self) -> str:
        return " / ".join(self.name_list())

    def name_list(self) -> list[str]:
        return list(dict.fromkeys(" ".join(line.split()) for line in self.names.splitlines() if line.strip()))

    def clean(self) -> None:
        names = self.name_list()
        if len(names) < 2:
            raise ValidationError({"names": _("Give at least two names, one per line.")})
        if len(names) > MAX_ALIAS_NAMES:
            raise ValidationError({"names": _("At most %(count)s names.") % {"count": MAX_ALIAS_NAMES}})
        if too_long := [name for name in names if len(name) > MAX_ALIAS_NAME]:
            raise ValidationError({"names": _("A name may have at most %(count)s characters: %(name)s")
                                   % {"count": MAX_ALIAS_NAME, "name": too_long[0]}})
        self.names = "\n".join(names)


class EventStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


# What the list's filters read besides status and start_time (events.selectors.event_search).
_BROWSE_FILTERED = ["end_time", "city", "category", "tickets_left", "price_min", "price_max", "start_time"]


def _browse_index(*order: str, name: str) -> models.Index:
    """status, the sort's columns, then the filtered columns the sort does not already hold."""
    taken = {field.lstrip("-") for field in order}
    return models.Index(fields=["status", *order, *(f for f in _BROWSE_FILTERED if f not in taken)], name=name)


class Event(models.Model):
    """An event a publisher sells tickets for. Only approved events are public."""

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, validators=[validate_description_length],
                                   help_text=_("Basic formatting is kept; scripts are removed."))
    start_time = models.DateTimeField(_("starts"), validators=[validate_time_window])
    end_time = models.DateTimeField(_("ends"), validators=[validate_time_window])
    venue = models.CharField(_("venue"), max_length=200)
    city = models.CharField(_("city"), max_length=64, db_index=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    cover = models.ImageField(_("cover image"), upload_to="covers/%Y/%m/", blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="events")
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="events")
    real_name_required = models.BooleanField(_("real-name tickets"), default=False,
                                             help_text=_("Each ticket names its attendee, checked at the door."))
    one_ticket_per_id = models.BooleanField(
        _("one ticket per ID number"), default=True,
        help_text=_("Real-name tickets only: an ID number may hold one ticket per session, whoever buys it."))
    # events.refunds: the kind, and for `tiered` its [[hours, percent], …] (most hours first).
    refund_policy = models.CharField(_("refund policy"), max_length=8, choices=RefundPolicyKind.choices,
                                     default=RefundPolicyKind.FREE)
    refund_tiers = models.JSONField(_("refund tiers"), default=list, blank=True)
    transfers_allowed = models.BooleanField(_("ticket transfers"), default=True,
                                            help_text=_("Buyers may give a paid ticket to another account (转赠)."))
    transfer_cutoff_hours = models.PositiveSmallIntegerField(
        _("transfers close (hours before the session)"), default=2,
        validators=[MinValueValidator(0), MaxValueValidator(TRANSFER_CUTOFF_MAX)],
        help_text=_("0 = until the session starts."))
    status = models.CharField(_("status"), max_length=16, choices=EventStatus.choices, default=EventStatus.DRAFT)
    review_reason = models.TextField(_("reviewer's reason"), blank=True, validators=[validate_reason_length])
    publisher = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("publisher"), on_delete=models.PROTECT,
                                  related_name="events")
    # Kept up to date by the inventory (tickets app) as ticket types change and sell.
    price_min = models.DecimalField(_("lowest price"), max_digits=10, decimal_places=2, null=True, blank=True)
    price_max = models.DecimalField(_("highest price"), max_digits=10, decimal_places=2, null=True, blank=True)
    tickets_left = models.BooleanField(_("tickets left"), default=False)
    # The price sorts put events without a price last both ways: ORDER BY price_missing, price_min
    # (or -price_min) walks an index, where "price_min IS NULL" as an expression cannot. Computed by
    # the database, so no writer (services, bulk loaders, update()) has to keep it in step.
    price_missing = models.GeneratedField(expression=IsNull(F("price_min"), True),
                                          output_field=models.BooleanField(), db_persist=True)
    # Encoded words of the searchable fields (events.search), behind a full-text index.
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["start_time", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="event_ends_after_start"),
            models.CheckConstraint(condition=Q(status__in=EventStatus.values), name="event_status_valid"),
            models.CheckConstraint(condition=Q(price_min__isnull=True) | Q(price_min__gte=0), name="event_price_min_non_negative"),
            models.CheckConstraint(
                condition=Q(price_min__isnull=True) | Q(price_max__isnull=True) | Q(price_max__gte=F("price_min")),
                name="event_price_range_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "city", "start_time"], name="event_status_city_start"),
            # The list without a text query (events.selectors.event_search): one index per sort, in
            # the sort's exact order (id included, so ties need no filesort), then every column a
            # filter reads (end_time: "not ended"), so the server tests the filters inside the index
            # and reads only the rows of the page; the count is answered from the same index alone.
            # events.selectors names the sort's index to MariaDB (see _TableUsingIndex). bench/search.py,
            # kind "browse".
            _browse_index("start_time", "id", name="event_browse_start"),
            _browse_index("price_missing", "price_min", "start_time", "id", name="event_browse_price"),
            _browse_index("price_missing", "-price_min", "start_time", "id", name="event_browse_price_desc"),
            _browse_index("created_at", "id", name="event_browse_newest"),
            models.Index(fields=["publisher", "status"], name="event_publisher_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.status == EventStatus.APPROVED

    def transfer_closes_at(self, session_start):
        """When transfers of a session's tickets stop: None where the event allows none."""
        return session_start - timedelta(hours=self.transfer_cutoff_hours) if self.transfers_allowed else None

    @property
    def refund_rules(self) -> list[str]:
        """The refund policy as a buyer reads it (events.refunds)."""
        return RefundPolicy.of(self).lines()


class EventTransition(models.Model):
    """Every status change: who, when, why. Append-only."""

    NOTES = {"created": _("Event created"), "edited while public": _("Edited while public")}

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=EventStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=EventStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True, validators=[validate_reason_length])
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.from_status or '∅'} → {self.to_status}"

    @property
    def note_display(self) -> str:
        return str(self.NOTES.get(self.note, self.note))


class Favourite(models.Model):
    """An event a buyer wants to see (想看): listed on their "wanted" page, and the reason they are told
    when its sales open or a session is added (tickets.reminders)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(_("marked"), auto_now_add=True)

    class Meta:
        verbose_name = _("wanted event")
        verbose_name_plural = _("wanted events")
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="favourite_once_per_user")]
        # The reminders read the wanters of one event marked before a moment; the page counts them.
        # A user's own list reads the unique constraint's index (user first).
        indexes = [models.Index(fields=["event", "created_at"], name="favourite_event_marked")]

    def __str__(self) -> str:
        return f"{self.user_id} ♥ {self.event_id}"
