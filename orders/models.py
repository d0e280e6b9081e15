"""Orders, points wallets, payments, e-tickets, check-ins and refunds.

Invariants the database keeps:
- a wallet's balance is never negative, and it equals the sum of its ledger rows
  (every balance change writes its row in the same transaction);
- an order is paid at most once (one succeeded payment per order), an
  idempotency key or a provider's transaction id is used once;
- a hold is in at most one order; a seat is in at most one valid ticket per session;
- a ticket is checked in at most once; an order has at most one open refund.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Event
from orders.codes import new_short_code, short_code_display
from tickets.models import Hold, HoldItem, HoldStatus, Seat, Session, TicketType


class Wallet(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    balance = models.DecimalField(_("balance"), max_digits=12, decimal_places=2, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_non_negative")]

    def __str__(self) -> str:
        return f"{self.user} · {self.balance}"


class LedgerKind(models.TextChoices):
    GRANT = "grant", _("Welcome grant")
    TOPUP = "topup", _("Top-up")
    ADJUST = "adjust", _("Adjustment")
    PURCHASE = "purchase", _("Purchase")
    REFUND = "refund", _("Refund")
    FEE = "fee", _("Refund fee")
    DEPOSIT = "deposit", _("Waiting-list deposit")


class LedgerEntry(models.Model):
    """Append-only: one row per change of a wallet's balance."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=LedgerKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(_("balance after"), max_digits=12, decimal_places=2)
    order = models.ForeignKey("Order", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger")
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    # "purchase:<order>", "refund:<order>", "grant:<wallet>": each may happen once, whatever the
    # code above does. (A unique column, not a partial index: MariaDB has no partial indexes.)
    once_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_non_negative"),
            models.CheckConstraint(condition=Q(kind__in=LedgerKind.values), name="ledger_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    USED = "used", _("Used")
    REFUND_REQUESTED = "refund_requested", _("Refund requested")
    REFUNDED = "refunded", _("Refunded")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


def new_order_number() -> str:
    """Dated by the product's local day (settings.TIME_ZONE), whichever zone the buyer views in."""
    today = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    return today.strftime("%y%m%d") + secrets.token_hex(4).upper()


class PromoKind(models.TextChoices):
    PERCENT = "percent", _("Percentage off each ticket")
    FIXED = "fixed", _("Amount off each ticket")
    ACCESS = "access", _("Access code: unlocks hidden ticket types")


class PromoCode(models.Model):
    """A publisher's discount code for one event (orders.promo). Never edited once made, only switched off."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="promo_codes")
    code = models.CharField(_("code"), max_length=32)
    kind = models.CharField(_("kind"), max_length=8, choices=PromoKind.choices)
    value = models.DecimalField(_("discount"), max_digits=10, decimal_places=2)
    ticket_types = models.ManyToManyField(TicketType, verbose_name=_("ticket types"), blank=True, related_name="+",
                                          help_text=_("None: every ticket type of the event."))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("uses at most"), null=True, blank=True)
    max_per_buyer = models.PositiveIntegerField(_("uses per buyer at most"), null=True, blank=True)
    uses = models.PositiveIntegerField(_("uses"), default=0)  # live uses: orders pending or paid with it
    active = models.BooleanField(_("active"), default=True)
    batch = models.CharField(_("batch"), max_length=16, blank=True)  # bulk-generated codes: their prefix
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "code"], name="promo_code_unique_per_event"),
            models.CheckConstraint(condition=Q(max_uses__isnull=True) | Q(uses__lte=models.F("max_uses")),
                                   name="promo_uses_within_limit"),
            models.CheckConstraint(condition=Q(kind="access", value=0)
                                   | (Q(value__gt=0) & (Q(kind="fixed") | Q(kind="percent", value__lte=100))),
                                   name="promo_value_valid"),
        ]

    def __str__(self) -> str:
        return self.code

    def describe(self) -> str:
        if self.kind == PromoKind.ACCESS:
            return str(_("Unlocks: %(types)s") % {"types": ", ".join(t.name for t in self.ticket_types.all())})
        if self.kind == PromoKind.PERCENT:
            return str(_("%(value)s%% off each ticket") % {"value": f"{self.value.normalize():f}"})
        return str(_("%(value)s off each ticket") % {"value": self.value})


class PromoUse(models.Model):
    """One order's use of a code; `live` is 1 until the order expires or is cancelled, then NULL."""

    code = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="used")
    order = models.ForeignKey("Order", on_delete=models.CASCADE, related_name="promo_uses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    live = models.PositiveSmallIntegerField(null=True, default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "live"], name="promo_one_live_use_per_order"),
            models.CheckConstraint(condition=Q(live=1, released_at__isnull=True)
                                   | Q(live__isnull=True, released_at__isnull=False), name="promo_use_live_matches"),
        ]
        indexes = [models.Index(fields=["code", "user", "live"], name="promo_use_buyer")]


class AccessUse(models.Model):
    """A hold of hidden tickets an access code unlocked (orders.promo.access_take). A use counts while its
    hold is live or sold (expired and released holds give it back, with no sweep needed)."""

    code = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="access_uses")
    hold = models.OneToOneField(Hold, on_delete=models.CASCADE, related_name="access_use")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="access_use_quantity_positive")]
        indexes = [models.Index(fields=["code", "user"], name="access_use_buyer")]


class Order(models.Model):
    """What a buyer pays and gets refunded: the holds of one event, at their held prices."""

    number = models.CharField(_("order number"), max_length=20, unique=True, default=new_order_number)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)  # what is charged: after discount
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    promo_code = models.ForeignKey(PromoCode, verbose_name=_("promo code"), on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="orders")
    expires_at = models.DateTimeField(_("pay by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    holds = models.ManyToManyField(Hold, through="OrderHold", related_name="+")

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="order_discount_non_negative"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="order_user_status"),
            models.Index(fields=["event", "status"], name="order_event_status"),
            models.Index(fields=["status", "expires_at"], name="order_status_expires"),
            models.Index(fields=["paid_at"], name="order_paid_at"),  # sales by day (analytics.stats)
        ]

    def __str__(self) -> str:
        return self.number

    def is_payable(self, now=None) -> bool:
        return self.status == OrderStatus.PENDING and self.expires_at > (now or timezone.now())

    @property
    def shown_status(self) -> str:
        """A pending order past its deadline is expired to every reader, before the sweep marks it."""
        if self.status == OrderStatus.PENDING and self.expires_at <= timezone.now():
            return OrderStatus.EXPIRED
        return self.status

    def get_shown_status_display(self) -> str:
        return str(OrderStatus(self.shown_status).label)


class OrderHold(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="order_holds")
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="order_hold")


class Attendee(models.Model):
    """The named person for one ticket of a real-name event, given before payment."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attendees")
    hold_item = models.ForeignKey(HoldItem, on_delete=models.PROTECT, related_name="+")
    index = models.PositiveSmallIntegerField(default=0)  # n-th ticket of a GA quantity
    name = models.CharField(_("attendee name"), max_length=64)
    id_number_masked = models.CharField(_("ID number"), max_length=32)
    id_key = models.CharField(max_length=40, blank=True, editable=False)  # orders.identity.id_key, never the number

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hold_item", "index"], name="attendee_one_per_ticket")]


class SavedAttendee(models.Model):
    """A person a buyer often buys for (常用观演人): picked at checkout instead of typing; the ID number is
    kept only masked and as its keyed hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_attendees")
    name = models.CharField(_("attendee name"), max_length=64)
    id_number_masked = models.CharField(_("ID number"), max_length=32)
    id_key = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField(_("saved at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved attendee")
        verbose_name_plural = _("saved attendees")
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "id_key"], name="saved_attendee_once_per_user")]

    def __str__(self) -> str:
        return f"{self.name} {self.id_number_masked}"


class PaymentMethod(models.TextChoices):
    POINTS = "points", _("Points")
    PROVIDER = "provider", _("External provider")


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    transaction_id = models.CharField(_("transaction id"), max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["order"], name="payment_one_per_order"),
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="payment_idempotency_key_unique"),
            models.UniqueConstraint(fields=["provider", "transaction_id"], name="payment_provider_txn_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.order} {self.amount} {self.method}"


class TicketStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    USED = "used", _("Used")
    VOID = "void", _("Void")


class Ticket(models.Model):
    """An e-ticket: one seat or one GA admission, with a signed code for the door."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="tickets")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="tickets")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="tickets")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.PROTECT, related_name="tickets")
    seat = models.ForeignKey(Seat, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets")
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    status = models.CharField(_("status"), max_length=8, choices=TicketStatus.choices, default=TicketStatus.VALID)
    code = models.CharField(max_length=200, unique=True)
    # What door staff type when the QR code will not scan (orders.codes.short_code); a transfer replaces it too.
    short_code = models.CharField(_("short code"), max_length=10, unique=True, default=new_short_code, editable=False)
    # 1 while the ticket holds its seat, NULL once void: unique (session, seat, seat_claim) lets a seat
    # be in one live ticket per session (NULLs never collide; MariaDB has no partial indexes).
    seat_claim = models.PositiveSmallIntegerField(null=True, blank=True, default=1, editable=False)
    attendee_name = models.CharField(_("attendee"), max_length=64, blank=True)
    attendee_id_masked = models.CharField(_("ID number"), max_length=32, blank=True)
    # The attendee's keyed ID hash while the ticket admits them on an event with one ticket per ID, NULL
    # otherwise and once void: unique (session, id_claim) is the rule "one ticket per ID number per session".
    id_claim = models.CharField(max_length=40, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seat", "seat_claim"], name="ticket_seat_sold_once_per_session"),
            models.CheckConstraint(condition=Q(status="void", seat_claim__isnull=True) | Q(status__in=["valid", "used"], seat_claim=1),
                                   name="ticket_seat_claim_matches_status"),
            models.CheckConstraint(condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"),
            models.UniqueConstraint(fields=["session", "id_claim"], name="ticket_one_per_id_per_session"),
            models.CheckConstraint(condition=~Q(status="void") | Q(id_claim__isnull=True),
                                   name="ticket_void_claims_no_id"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="ticket_user_status"),
            # Sales figures (analytics.stats) read tickets by order from this index alone, not the wide rows.
            models.Index(fields=["order", "event", "ticket_type", "price"], name="ticket_order_sales"),
        ]

    def __str__(self) -> str:
        return f"{self.event} · {self.seat.label if self.seat else self.ticket_type.name}"

    @property
    def short_code_shown(self) -> str:
        """The short code as printed under the QR code (XXXXX-XXXXX)."""
        return short_code_display(self.short_code)


class CheckIn(models.Model):
    """A ticket let in at the door. One per ticket, by the database."""

    ticket = models.OneToOneField(Ticket, on_delete=models.PROTECT, related_name="checkin")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("checked in by"), on_delete=models.PROTECT,
                           related_name="+")
    at = models.DateTimeField(_("checked in at"), auto_now_add=True)  # an offline scan's: the device's time
    gate = models.CharField(_("gate"), max_length=64, blank=True)
    device = models.CharField(_("device"), max_length=64, blank=True)
    offline = models.BooleanField(_("offline"), default=False)  # admitted by a scanner offline, synced later
    # The admin who let it in although its session was not at the door that day (`at` says when).
    overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("override by"),
                                      on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.ticket} · {timezone.localtime(self.at):%Y-%m-%d %H:%M}"


class ScanResult(models.TextChoices):
    OK = "ok", _("Admitted")
    ALREADY_USED = "already_used", _("Already used")
    FORGED = "forged", _("Not a valid code")
    OTHER_EVENT = "other_event", _("Ticket for another event")
    VOID = "void", _("Ticket refunded or void")
    SESSION_OVER = "session_over", _("This ticket's session is over")
    WRONG_DAY = "wrong_day", _("Not today's session")
    TRANSFERRED = "transferred", _("Ticket transferred: this code was replaced")
    NOT_ALLOWED = "not_allowed", _("Not staff of this event")
    # Offline scanners only: a genuine ticket of a session this device has not downloaded.
    OTHER_SESSION = "other_session", _("Ticket for another session")
    # A ticket a scanner admitted offline that the server had already let in, or would have refused.
    CONFLICT = "conflict", _("Admitted offline: conflict")


class Scan(models.Model):
    """Every scan at the door, admitted or refused; `nonce` makes a re-sent scan get the same answer."""

    nonce = models.CharField(max_length=64)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="scans")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="scans")
    code = models.CharField(max_length=255)
    result = models.CharField(max_length=16, choices=ScanResult.choices)
    # On a scan an admin admitted by override: the refusal it would have had (wrong day, session over).
    override_of = models.CharField(_("override of"), max_length=16, choices=ScanResult.choices, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)  # when the server recorded it
    gate = models.CharField(_("gate"), max_length=64, blank=True)
    device = models.CharField(_("device"), max_length=64, blank=True)
    # Scans made offline and synced later (orders.services.checkin_sync): the device's time and answer.
    scanned_at = models.DateTimeField(_("scanned at"), null=True, blank=True)
    local_result = models.CharField(_("answer on the device"), max_length=16, choices=ScanResult.choices, blank=True)

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["by", "nonce"], name="scan_nonce_unique_per_scanner")]


class ConflictKind(models.TextChoices):
    TWICE = "twice", _("Admitted twice")
    REFUSED = "refused", _("Admitted offline, refused by the server")


class CheckinConflict(models.Model):
    """A ticket a scanner admitted while offline that the server, at sync, had already let in elsewhere
    (`checkin`: who, where, when first) or would have refused (`reason`). Reported to the publisher."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="checkin_conflicts")
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="conflicts")
    scan = models.OneToOneField(Scan, verbose_name=_("offline admission"), on_delete=models.PROTECT,
                                related_name="conflict")
    kind = models.CharField(_("kind"), max_length=8, choices=ConflictKind.choices)
    reason = models.CharField(_("the server's answer"), max_length=16, choices=ScanResult.choices)
    checkin = models.ForeignKey(CheckIn, verbose_name=_("first admission"), on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    created_at = models.DateTimeField(_("reported"), auto_now_add=True)

    class Meta:
        verbose_name = _("check-in conflict")
        verbose_name_plural = _("check-in conflicts")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["event", "created_at"], name="checkin_conflict_event")]

    def __str__(self) -> str:
        return f"{self.ticket} · {self.get_kind_display()}"


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the receiver")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Withdrawn")
    LAPSED = "lapsed", _("Lapsed")


class TicketTransfer(models.Model):
    """One offer of a ticket from its holder to another account (转赠), and once accepted one link of the
    ticket's chain of holders (orders.transfers). Append-only but for the status of a pending offer."""

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="transfers")
    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("from"), on_delete=models.PROTECT,
                                  related_name="transfers_given")
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("to"), on_delete=models.PROTECT,
                                related_name="transfers_received")
    status = models.CharField(_("status"), max_length=10, choices=TransferStatus.choices,
                              default=TransferStatus.PENDING)
    # 1 while pending, NULL once decided: one pending offer per ticket (see Ticket.seat_claim).
    open_claim = models.PositiveSmallIntegerField(null=True, blank=True, default=1, editable=False)
    # On acceptance: the code the ticket had, which the door refuses from then on (its revocation list).
    old_code = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)
    old_short_code = models.CharField(max_length=10, null=True, blank=True, unique=True, editable=False)
    expires_at = models.DateTimeField(_("open until"))
    created_at = models.DateTimeField(_("offered"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket transfer")
        verbose_name_plural = _("ticket transfers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "open_claim"], name="transfer_one_open_per_ticket"),
            models.CheckConstraint(condition=Q(status="pending", open_claim=1, decided_at__isnull=True)
                                   | (~Q(status="pending") & Q(open_claim__isnull=True, decided_at__isnull=False)),
                                   name="transfer_open_claim_matches_status"),
            models.CheckConstraint(condition=Q(old_code__isnull=True) | Q(status="accepted"),
                                   name="transfer_old_code_only_when_accepted"),
            models.CheckConstraint(condition=Q(old_short_code__isnull=True) | Q(status="accepted"),
                                   name="transfer_old_short_code_only_when_accepted"),
            models.CheckConstraint(condition=~Q(from_user=models.F("to_user")), name="transfer_to_someone_else"),
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="transfer_status_valid"),
        ]
        indexes = [models.Index(fields=["to_user", "status"], name="transfer_to_status"),
                   models.Index(fields=["from_user", "status"], name="transfer_from_status")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.from_user} → {self.to_user}"

    @property
    def shown_status(self) -> str:
        """A pending offer past its time reads as lapsed before anything marks it."""
        if self.status == TransferStatus.PENDING and self.expires_at <= timezone.now():
            return TransferStatus.LAPSED
        return self.status

    def get_shown_status_display(self) -> str:
        return str(TransferStatus(self.shown_status).label)


class WaitStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Tickets offered")
    BOUGHT = "bought", _("Bought")
    LAPSED = "lapsed", _("Offer lapsed")
    LEFT = "left", _("Left the list")
    CLOSED = "closed", _("Closed: the session started")


class WaitlistEntry(models.Model):
    """One buyer in the waiting list (候补) of a session's general-admission ticket type (orders.waitlist)."""

    session = models.ForeignKey(Session, verbose_name=_("session"), on_delete=models.CASCADE, related_name="+")
    ticket_type = models.ForeignKey(TicketType, verbose_name=_("ticket type"), on_delete=models.PROTECT,
                                    related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="waitlist_entries")
    quantity = models.PositiveSmallIntegerField(_("tickets"))
    # Pre-paid: the price per ticket when joining, and what was taken from the wallet (0: not pre-paid).
    unit_price = models.DecimalField(_("price"), max_digits=10, decimal_places=2, default=0)
    deposit = models.DecimalField(_("paid in advance"), max_digits=12, decimal_places=2, default=0)
    status = models.CharField(_("status"), max_length=8, choices=WaitStatus.choices, default=WaitStatus.WAITING)
    # 1 while waiting, NULL after: one place in a line per buyer (see Ticket.seat_claim).
    live = models.PositiveSmallIntegerField(null=True, blank=True, default=1, editable=False)
    hold = models.OneToOneField(Hold, on_delete=models.SET_NULL, null=True, blank=True, related_name="waitlist_entry")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)
    offered_at = models.DateTimeField(_("offered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("waiting-list entry")
        verbose_name_plural = _("waiting list")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "session", "ticket_type", "live"], name="waitlist_once_per_buyer"),
            models.CheckConstraint(condition=Q(status="waiting", live=1) | (~Q(status="waiting") & Q(live__isnull=True)),
                                   name="waitlist_live_matches_status"),
            models.CheckConstraint(condition=Q(quantity__gte=1) & Q(deposit__gte=0), name="waitlist_amounts_valid"),
            models.CheckConstraint(condition=Q(status__in=WaitStatus.values), name="waitlist_status_valid"),
        ]
        indexes = [models.Index(fields=["session", "ticket_type", "status", "created_at"], name="waitlist_line")]

    def __str__(self) -> str:
        return f"{self.user} × {self.quantity}"

    @property
    def shown_status(self) -> str:
        """An offer reads as bought once its hold is sold, as lapsed once it ended unsold."""
        if self.status == WaitStatus.OFFERED and self.hold is not None:
            if self.hold.status == HoldStatus.CONSUMED:
                return WaitStatus.BOUGHT
            if self.hold.status != HoldStatus.ACTIVE or self.hold.expires_at <= timezone.now():
                return WaitStatus.LAPSED
        return self.status

    def get_shown_status_display(self) -> str:
        return str(WaitStatus(self.shown_status).label)


class EventStaff(models.Model):
    """A door-staff account the publisher named for one event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_of")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="event_staff_unique")]


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class RefundCause(models.TextChoices):
    REQUEST = "request", _("Asked for by the buyer")
    CANCELLATION = "cancellation", _("Event or session cancelled")


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds")
    # What goes back to the buyer: the order's total less `fee`, the event's refund policy's fee at the
    # time of the request (events.refunds), fixed then; waived by an admin (with a reason) or a cancellation.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    fee = models.DecimalField(_("fee"), max_digits=12, decimal_places=2, default=0)
    fee_waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("fee waived by"),
                                      on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    fee_waiver_reason = models.CharField(_("why the fee was waived"), max_length=500, blank=True)
    cause = models.CharField(_("cause"), max_length=12, choices=RefundCause.choices, default=RefundCause.REQUEST)
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=RefundStatus.choices,
                              default=RefundStatus.REQUESTED)
    review_reason = models.TextField(_("reviewer's reason"), blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    # 1 while requested or approved, NULL once rejected: one open refund per order (see Ticket.seat_claim).
    open_claim = models.PositiveSmallIntegerField(null=True, blank=True, default=1, editable=False)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "open_claim"], name="refund_one_open_per_order"),
            models.CheckConstraint(condition=Q(fee__gte=0, amount__gte=0), name="refund_amounts_non_negative"),
            models.CheckConstraint(condition=Q(status="rejected", open_claim__isnull=True)
                                   | Q(status__in=["requested", "approved"], open_claim=1),
                                   name="refund_open_claim_matches_status"),
        ]
        indexes = [models.Index(fields=["status", "reviewed_at"], name="refund_status_reviewed")]  # refunds by day
