"""Inventory: sessions, ticket types and their prices, seat maps, per-session stock and holds.

Invariants the database keeps (the code relies on them, never on a prior read):
- a seat is one row per session (`SessionSeat`, unique (session, seat)); taking it
  is one conditional UPDATE from free (or held-but-expired) to held;
- GA stock is one row per (session, ticket type) whose counters always add up:
  available + held + sold = total, each ≥ 0 (CHECK constraints);
- a hold is all-or-nothing: its seats/quantities were taken in one transaction.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Event
from ticketing.bounds import PRICE_MAX, validate_time_window


class Seating(models.TextChoices):
    GENERAL = "ga", _("General admission")
    SEATED = "seated", _("Reserved seating")


class TicketType(models.Model):
    """What a ticket is sold as (VIP, standard, student …) for every session of its event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(_("name"), max_length=64)
    description = models.CharField(_("description"), max_length=255, blank=True)
    base_price = models.DecimalField(_("base price"), max_digits=10, decimal_places=2,
                                     validators=[MinValueValidator(Decimal("0")), MaxValueValidator(PRICE_MAX)])
    per_user_limit = models.PositiveSmallIntegerField(
        _("limit per buyer"), default=6, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("How many tickets of this type one buyer may hold and buy per session."))
    colour = models.CharField(_("colour"), max_length=7, default="#0d6efd")
    hidden = models.BooleanField(
        _("hidden"), default=False,
        help_text=_("Shown and sold only to buyers with an access code for it (general admission only)."))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")
        ordering = ["event", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(base_price__gte=0), name="ticket_type_price_non_negative"),
            models.CheckConstraint(condition=Q(per_user_limit__gte=1), name="ticket_type_limit_positive"),
            models.UniqueConstraint(fields=["event", "name"], name="ticket_type_name_unique_per_event"),
        ]

    def __str__(self) -> str:
        return self.name


class PriceTierKind(models.TextChoices):
    TIME = "time", _("Until a date (e.g. early bird)")
    DEMAND = "demand", _("Once a share is sold")


class PriceTier(models.Model):
    """A price adjustment: while now < until (time), or once sold ≥ threshold% (demand).

    The earliest running time tier and the highest reached demand tier apply,
    one after the other, to the base price.
    """

    ticket_type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="tiers")
    kind = models.CharField(_("kind"), max_length=8, choices=PriceTierKind.choices)
    label = models.CharField(_("label"), max_length=64, blank=True)
    until = models.DateTimeField(_("until"), null=True, blank=True, validators=[validate_time_window])
    sold_percent = models.PositiveSmallIntegerField(_("sold at least (%)"), null=True, blank=True,
                                                    validators=[MinValueValidator(1), MaxValueValidator(100)])
    adjust_percent = models.SmallIntegerField(_("price change (%)"),
                                              validators=[MinValueValidator(-90), MaxValueValidator(500)])

    class Meta:
        verbose_name = _("price tier")
        verbose_name_plural = _("price tiers")
        ordering = ["ticket_type", "kind", "until", "sold_percent"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="time", until__isnull=False, sold_percent__isnull=True)
                           | Q(kind="demand", until__isnull=True, sold_percent__gte=1, sold_percent__lte=100)),
                name="price_tier_kind_fields"),
            models.CheckConstraint(condition=Q(adjust_percent__gte=-90, adjust_percent__lte=500),
                                   name="price_tier_adjust_range"),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.kind} {self.adjust_percent:+d}%"


class SeatMap(models.Model):
    """A hall's seating plan for one event, stored as its layout description (JSON).

    Seats are generated from the layout (tickets.seatmaps) and never edited by hand.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="seat_maps")
    name = models.CharField(_("name"), max_length=64)
    layout = models.JSONField(_("layout"))
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("seat map")
        verbose_name_plural = _("seat maps")
        ordering = ["event", "pk"]

    def __str__(self) -> str:
        return self.name


class Seat(models.Model):
    seat_map = models.ForeignKey(SeatMap, on_delete=models.CASCADE, related_name="seats")
    section = models.CharField(_("section"), max_length=32)
    row = models.CharField(_("row"), max_length=8)
    number = models.PositiveSmallIntegerField(_("seat number"))
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="seats")
    x = models.PositiveIntegerField()
    y = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        ordering = ["seat_map", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["seat_map", "section", "row", "number"], name="seat_unique_in_map"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _("%(section)s row %(row)s seat %(number)s") % {
            "section": self.section, "row": self.row, "number": self.number}


class Session(models.Model):
    """One performance (场次) of an event, sold either by seat or as general admission."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions")
    name = models.CharField(_("name"), max_length=64, blank=True)
    start_time = models.DateTimeField(_("starts"), validators=[validate_time_window])
    end_time = models.DateTimeField(_("ends"), validators=[validate_time_window])
    hall = models.CharField(_("hall"), max_length=64, blank=True)
    sales_start = models.DateTimeField(_("sales open"), validators=[validate_time_window])
    sales_end = models.DateTimeField(_("sales close"), validators=[validate_time_window])
    seating = models.CharField(_("seating"), max_length=8, choices=Seating.choices, default=Seating.GENERAL)
    seat_map = models.ForeignKey(SeatMap, verbose_name=_("seat map"), on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="sessions")
    # A hot on-sale (tickets.waiting_room): from WAITING_ROOM_OPENS_MINUTES before sales_start until sales_end,
    # buyers hold only with an admission the room gave them, admit_per_second at a time.
    waiting_room = models.BooleanField(
        _("waiting room"), default=False,
        help_text=_("For a sale that sells out in seconds: buyers queue in a fair waiting room and are let in a "
                    "few at a time."))
    admit_per_second = models.PositiveSmallIntegerField(
        _("buyers admitted per second"), default=20, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("How many buyers the waiting room lets in each second: as many as the sale can serve."))
    # Set once by tickets.services.session_cancel: nothing more is sold, its paid orders are refunded in full.
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancel_reason = models.CharField(_("why it was cancelled"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["event", "start_time", "pk"]
        # The few cancelled sessions, for the sweep that refunds their orders (orders.cancellations).
        indexes = [models.Index(fields=["cancelled_at"], name="session_cancelled")]
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="session_ends_after_start"),
            models.CheckConstraint(condition=Q(sales_end__gt=F("sales_start")), name="session_sales_window_ordered"),
            models.CheckConstraint(condition=Q(sales_end__lte=F("end_time")), name="session_sales_close_by_end"),
            models.CheckConstraint(
                condition=Q(seating="ga", seat_map__isnull=True) | Q(seating="seated", seat_map__isnull=False),
                name="session_seated_has_map"),
            models.CheckConstraint(condition=Q(admit_per_second__gte=1, admit_per_second__lte=1000),
                                   name="session_admit_rate_range"),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.start_time).strftime("%Y-%m-%d %H:%M")
        return f"{self.name} {when}".strip() if self.name else when

    @property
    def is_seated(self) -> bool:
        return self.seating == Seating.SEATED

    def sales_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.cancelled_at is None and self.sales_start <= now < self.sales_end


class Stock(models.Model):
    """Counters of one ticket type in one session. GA holds move them; seated sessions have none."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="stocks")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="stocks")
    total = models.PositiveIntegerField(_("tickets"))
    available = models.IntegerField()
    held = models.IntegerField(default=0)
    sold = models.IntegerField(default=0)
    # Tickets the waiting list (orders.waitlist) waits for: of `available`, the open sale may take only the rest.
    waiting = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        constraints = [
            models.UniqueConstraint(fields=["session", "ticket_type"], name="stock_unique_per_session_type"),
            models.CheckConstraint(condition=Q(available__gte=0), name="stock_available_non_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="stock_held_non_negative"),
            models.CheckConstraint(condition=Q(sold__gte=0), name="stock_sold_non_negative"),
            models.CheckConstraint(condition=Q(waiting__gte=0), name="stock_waiting_non_negative"),
            models.CheckConstraint(condition=Q(total=F("available") + F("held") + F("sold")),
                                   name="stock_counters_add_up"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.ticket_type_id}: {self.available}/{self.total}"


class HoldStatus(models.TextChoices):
    ACTIVE = "active", _("Held")
    CONSUMED = "consumed", _("Bought")
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")


class Hold(models.Model):
    """Seats or GA tickets one buyer took at once, at a fixed price, until `expires_at`.

    ACTIVE past `expires_at` counts as free everywhere; the sweep marks it EXPIRED.
    An order consumes holds (CONSUMED = sold); a refund releases consumed ones.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="holds")
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "status", "session"], name="hold_user_status_session"),
            models.Index(fields=["status", "expires_at"], name="hold_status_expires"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=HoldStatus.values), name="hold_status_valid"),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk} ({self.status})"

    def is_live(self, now=None) -> bool:
        return self.status == HoldStatus.ACTIVE and self.expires_at > (now or timezone.now())

    @property
    def total_price(self) -> Decimal:
        return sum((item.unit_price * item.quantity for item in self.items.all()), Decimal("0"))

    @property
    def quantity(self) -> int:
        return sum(item.quantity for item in self.items.all())


class HoldItem(models.Model):
    """One seat (quantity 1) or a GA quantity of one ticket type, at the price fixed when held."""

    hold = models.ForeignKey(Hold, on_delete=models.CASCADE, related_name="items")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="+")
    seat = models.ForeignKey(Seat, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.PositiveSmallIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="hold_item_quantity_positive"),
            models.CheckConstraint(condition=Q(seat__isnull=True) | Q(quantity=1), name="hold_item_seat_is_one"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="hold_item_price_non_negative"),
        ]


class SeatStatus(models.TextChoices):
    FREE = "free", _("Free")
    HELD = "held", _("Held")
    SOLD = "sold", _("Sold")


class SessionSeat(models.Model):
    """A seat in one session: the row a buyer takes with one conditional UPDATE.

    `held` with `held_until` in the past is free to every read and to the next taker.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="seats")
    seat = models.ForeignKey(Seat, on_delete=models.PROTECT, related_name="+")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=4, choices=SeatStatus.choices, default=SeatStatus.FREE)
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="seats")
    held_until = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "seat"], name="session_seat_unique"),
            models.CheckConstraint(condition=Q(status__in=SeatStatus.values), name="session_seat_status_valid"),
            models.CheckConstraint(
                condition=Q(status="free", hold__isnull=True) | Q(status__in=["held", "sold"], hold__isnull=False),
                name="session_seat_taken_has_hold"),
        ]
        indexes = [models.Index(fields=["session", "status"], name="session_seat_status")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.seat_id} {self.status}"


class ReminderKind(models.TextChoices):
    SALES_OPEN = "sales_open", _("Sales open")
    SESSION_ADDED = "session_added", _("Session added")


class SessionReminder(models.Model):
    """One reminder a buyer got about one session of an event they want (tickets.reminders): the unique
    constraint is what makes it once, however many beats run and however often."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(_("kind"), max_length=16, choices=ReminderKind.choices)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("on-sale reminder")
        verbose_name_plural = _("on-sale reminders")
        constraints = [models.UniqueConstraint(fields=["session", "kind", "user"], name="reminder_once")]

    def __str__(self) -> str:
        return f"{self.session_id} {self.kind} → {self.user_id}"
