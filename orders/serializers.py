"""Shapes of the orders API. Rules live in orders.services."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders import codes
from orders.models import (
    LedgerEntry, Order, Payment, PromoCode, PromoKind, Refund, SavedAttendee, ScanResult, Ticket, TicketTransfer,
    WaitlistEntry,
)
from orders.services import LOCAL_RESULTS
from orders.transfers import party
from ticketing.bounds import POINTS_MAX, REASON_MAX
from tickets.services import MAX_PER_REQUEST


# A scanner's clock may run a little ahead of the server's.
SCAN_CLOCK_SLACK = timedelta(minutes=5)


class OrderCreateSerializer(serializers.Serializer):
    """Either holds you made (`holds`), or a `session` with `seats` or GA `quantities`: then the hold and the
    order are made together, in one request."""

    holds = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10, required=False,
                                  help_text=_("Ids of your live holds, all for one event."))
    session = serializers.IntegerField(required=False, help_text=_(
        "Instead of holds: the session to buy in, with seats or quantities (held and ordered at once)."))
    seats = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=50)
    quantities = serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=MAX_PER_REQUEST),
                                       required=False, default=dict,
                                       help_text=_("General admission: ticket type id → how many."))
    access_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="",
                                        help_text=_("For a hidden ticket type: the access code that unlocks it."))

    def validate(self, data):
        if bool(data.get("holds")) == (data.get("session") is not None):
            raise serializers.ValidationError(_("Send either your holds, or a session with seats or quantities."))
        return data


class PaySerializer(serializers.Serializer):
    idempotency_key = serializers.CharField(max_length=64, help_text=_(
        "Any unique string per payment attempt (e.g. a UUID); resending it returns the same payment."))


class RefundRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)
    expected_fee = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True, default=None,
        help_text=_("The fee you were shown (GET /api/orders/<id>/refund-quote): if it has changed since, the "
                    "request is refused with 409 `refund_fee_changed` and nothing is asked."))


class RefundReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")
    waive_fee = serializers.BooleanField(default=False, help_text=_(
        "Approve with the whole amount back, no fee; `reason` says why (kept with who waived it)."))


class RefundQuoteSerializer(serializers.Serializer):
    allowed = serializers.BooleanField(help_text=_("Whether a refund can be asked for now."))
    paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    fee = serializers.DecimalField(max_digits=12, decimal_places=2, help_text=_("Kept by the organiser."))
    fee_percent = serializers.DecimalField(max_digits=4, decimal_places=1, source="percent", allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text=_("What would come back."))
    why_not = serializers.CharField(help_text=_("When not allowed: why, in your language."))
    rules = serializers.ListField(child=serializers.CharField(), help_text=_("The event's refund policy."))


class AttendeeSerializer(serializers.Serializer):
    hold_item = serializers.IntegerField()
    index = serializers.IntegerField(min_value=0, max_value=MAX_PER_REQUEST - 1, default=0)
    saved = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     help_text=_("One of your saved attendees (GET /api/attendees), instead of a "
                                                 "name and an ID number."))
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    id_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                      help_text=_("Mainland ID card (18 characters) or passport number."))

    def validate(self, data):
        if data["saved"] is None and not (data["name"].strip() and data["id_number"].strip()):
            raise serializers.ValidationError(_("Give a name and an ID number, or a saved attendee."))
        return data


class AttendeesSerializer(serializers.Serializer):
    attendees = AttendeeSerializer(many=True, max_length=10 * MAX_PER_REQUEST)
    save = serializers.BooleanField(default=False, help_text=_("Add the people typed in to your saved attendees."))


class SavedAttendeeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedAttendee
        fields = ["id", "name", "id_number_masked", "created_at"]
        read_only_fields = fields


class SavedAttendeeWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    id_number = serializers.CharField(max_length=32, help_text=_("Mainland ID card (18 characters) or passport number."))


class WalletAdjustSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=-POINTS_MAX, max_value=POINTS_MAX)
    reason = serializers.CharField(max_length=255)


class CheckinSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    code = serializers.CharField(max_length=255, trim_whitespace=True, help_text=_(
        "The QR code's text, or the ticket's short code as typed (any case; spaces and dashes ignored)."))
    nonce = serializers.CharField(max_length=64, help_text=_("Unique per scan; a re-sent scan gets the same answer."))
    override = serializers.BooleanField(default=False, help_text=_(
        "Admins only: admit a ticket refused for its session's day (wrong_day, session_over); recorded."))
    gate = serializers.CharField(max_length=64, required=False, default="", allow_blank=True,
                                 help_text=_("The entrance this scanner stands at, as its staff named it."))
    device = serializers.CharField(max_length=64, required=False, default="", allow_blank=True,
                                   help_text=_("The scanner's own id (the check-in page makes one per browser)."))


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "order", "amount", "method", "provider", "transaction_id", "created_at"]


class TicketSerializer(serializers.ModelSerializer):
    event_title = serializers.CharField(source="event.title")
    session_start = serializers.DateTimeField(source="session.start_time")
    ticket_type_name = serializers.CharField(source="ticket_type.name")
    seat_label = serializers.SerializerMethodField()
    checked_in_at = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField(help_text=_("For the door; null on a ticket you gave away."))
    short_code = serializers.SerializerMethodField(help_text=_(
        "What door staff may type instead of scanning (XXXXX-XXXXX); null on a ticket you gave away."))
    given_away = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = ["id", "order", "event", "event_title", "session", "session_start", "ticket_type",
                  "ticket_type_name", "seat", "seat_label", "price", "status", "code", "short_code", "given_away", "attendee_name",
                  "attendee_id_masked", "checked_in_at"]

    def get_seat_label(self, ticket) -> str | None:
        return str(ticket.seat.label) if ticket.seat_id else None

    def get_given_away(self, ticket) -> bool:
        """In an order's tickets (context `buyer_id`): given to another account, whose code it is now."""
        buyer = self.context.get("buyer_id")
        return buyer is not None and ticket.user_id != buyer

    def get_code(self, ticket) -> str | None:
        return None if self.get_given_away(ticket) else ticket.code

    def get_short_code(self, ticket) -> str | None:
        return None if self.get_given_away(ticket) else codes.short_code_display(ticket.short_code)

    def get_checked_in_at(self, ticket) -> datetime | None:
        checkin = getattr(ticket, "checkin", None) if hasattr(ticket, "checkin") else None
        return checkin.at if checkin else None


class RefundSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")

    class Meta:
        model = Refund
        fields = ["id", "order", "order_number", "amount", "fee", "fee_waiver_reason", "cause", "reason", "status",
                  "review_reason", "created_at", "reviewed_at"]


class OrderLineSerializer(serializers.Serializer):
    hold_item = serializers.IntegerField(source="pk")
    session = serializers.IntegerField(source="hold.session_id")
    ticket_type = serializers.CharField(source="ticket_type.name")
    seat = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)

    def get_seat(self, item) -> str | None:
        return str(item.seat.label) if item.seat_id else None


class OrderSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="shown_status")
    event_title = serializers.CharField(source="event.title")

    class Meta:
        model = Order
        fields = ["id", "number", "event", "event_title", "status", "total", "discount", "promo_code", "expires_at",
                  "created_at", "paid_at"]


class OrderDetailSerializer(OrderSerializer):
    lines = serializers.SerializerMethodField()
    tickets = serializers.SerializerMethodField()
    payments = PaymentSerializer(many=True, read_only=True)
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines", "tickets", "payments", "refunds"]

    @extend_schema_field(TicketSerializer(many=True))
    def get_tickets(self, order) -> list[dict]:
        return TicketSerializer(order.tickets.all(), many=True, context={"buyer_id": order.user_id}).data

    def get_lines(self, order) -> list[dict]:
        from orders.selectors import order_lines

        return OrderLineSerializer(order_lines(order), many=True).data


class LedgerEntrySerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", default=None, allow_null=True,
                                         help_text=_("Empty for entries of no order (grants, corrections)."))

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "order", "order_number", "reason", "created_at"]


class WalletSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=12, decimal_places=2)
    entries = LedgerEntrySerializer(many=True)


class ScanResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=ScanResult.choices)
    admitted = serializers.BooleanField()
    message = serializers.CharField()
    ticket = serializers.DictField(allow_null=True)
    checked_in_at = serializers.DateTimeField(allow_null=True)
    checked_in_by = serializers.CharField(allow_null=True)
    override_of = serializers.CharField(allow_blank=True, help_text=_(
        "On a ticket admitted by an admin's override: the refusal overridden."))
    overridable = serializers.BooleanField(help_text=_("Whether you may send this scan again with override."))


class CallbackSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=20)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    transaction_id = serializers.CharField(max_length=64)



class CallbackResultSerializer(serializers.Serializer):
    order = serializers.CharField(help_text=_("The order number."))
    status = serializers.CharField()
    payment = PaymentSerializer()


class PromoApplySerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40, help_text=_("The promo code, as printed (case and spaces ignored)."))


class PromoCodeSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="describe", read_only=True)

    class Meta:
        model = PromoCode
        fields = ["id", "code", "kind", "value", "description", "ticket_types", "valid_from", "valid_until",
                  "max_uses", "max_per_buyer", "uses", "active", "batch", "created_at"]
        read_only_fields = fields


class PromoWriteSerializer(serializers.Serializer):
    """One code (`code`), or `count` single-use codes made up for you (`prefix` optional)."""

    code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    count = serializers.IntegerField(min_value=1, max_value=5000, default=1)
    prefix = serializers.CharField(max_length=12, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=PromoKind.choices)
    value = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, default=Decimal("0"),
                                     help_text=_("The percentage or amount off; none for an access code."))
    ticket_types = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                         help_text=_("Ticket type ids; none: every ticket type of the event."))
    valid_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    max_uses = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    max_per_buyer = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class PromoBatchSerializer(serializers.Serializer):
    codes = PromoCodeSerializer(many=True)


class TransferOfferSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=254, help_text=_("The receiving account's email or mobile number."))


class TransferAcceptSerializer(serializers.Serializer):
    """Real-name events only: the attendee the receiver names (a saved attendee, or a name and an ID number)."""

    saved = serializers.IntegerField(required=False, allow_null=True, default=None)
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    id_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class TransferSerializer(serializers.ModelSerializer):
    direction = serializers.SerializerMethodField(help_text=_("`out`: you offered it; `in`: offered to you."))
    other = serializers.SerializerMethodField(help_text=_("The other side: display name or masked contact."))
    status = serializers.CharField(source="shown_status")
    event_title = serializers.CharField(source="ticket.event.title")
    session_start = serializers.DateTimeField(source="ticket.session.start_time")

    class Meta:
        model = TicketTransfer
        fields = ["id", "ticket", "event_title", "session_start", "direction", "other", "status", "expires_at",
                  "created_at", "decided_at"]
        read_only_fields = fields

    def get_direction(self, transfer) -> str:
        return "out" if transfer.from_user_id == self.context["user_id"] else "in"

    def get_other(self, transfer) -> str:
        return party(transfer.to_user if self.get_direction(transfer) == "out" else transfer.from_user)


class RevokedSerializer(serializers.Serializer):
    serial = serializers.CharField(help_text=_("The code's 8-byte serial, hex (orders.codes.serial)."))
    short_code = serializers.CharField(allow_blank=True, help_text=_(
        "The short code that went with it (empty for a code replaced before tickets had short codes)."))
    reason = serializers.ChoiceField(choices=[("void", _("Refunded or cancelled")),
                                              ("transferred", _("Replaced by a transfer"))])
    session = serializers.IntegerField()


class RevocationsSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    public_key = serializers.CharField(help_text=_("Ed25519 public key, base64 (raw 32 bytes)."))
    revoked = RevokedSerializer(many=True)


class DoorSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    label = serializers.CharField(help_text=_("Its name and start, in the caller's language and time zone."))
    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField()
    admits_from = serializers.DateTimeField(help_text=_(
        "The door admits its tickets from this moment (its local day, or 4 hours before) until `end_time`."))
    cancelled = serializers.BooleanField()


class DoorTicketSerializer(serializers.Serializer):
    serial = serializers.CharField(help_text=_("The code's 8-byte serial, hex (orders.codes.serial)."))
    short_code = serializers.CharField()
    type = serializers.CharField(help_text=_("The ticket type's name."))
    seat = serializers.CharField(allow_blank=True, help_text=_("The seat's label; empty for general admission."))
    attendee_name = serializers.CharField(allow_blank=True, help_text=_("Real-name events: the attendee."))
    attendee_id_masked = serializers.CharField(allow_blank=True)
    checked_in_at = serializers.DateTimeField(allow_null=True, help_text=_("Set once the ticket has been used."))


class DoorTicketListSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    session = DoorSessionSerializer()
    sessions = DoorSessionSerializer(many=True, help_text=_("Every session of the event, for its door window."))
    real_name = serializers.BooleanField(help_text=_("Whether the door checks the attendee's name."))
    generated_at = serializers.DateTimeField()
    tickets = DoorTicketSerializer(many=True)


class OfflineScanSerializer(serializers.Serializer):
    nonce = serializers.CharField(max_length=64, help_text=_("Made by the scanner, unique per scan."))
    code = serializers.CharField(max_length=255, trim_whitespace=True)
    scanned_at = serializers.DateTimeField(help_text=_("When the device scanned it (not in the future)."))
    local_result = serializers.ChoiceField(choices=[c for c in ScanResult.choices if c[0] in LOCAL_RESULTS],
                                           help_text=_("What the device answered offline."))
    gate = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    device = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    def validate_scanned_at(self, value: datetime) -> datetime:
        if value > timezone.now() + SCAN_CLOCK_SLACK:
            raise serializers.ValidationError(_("A scan cannot have been made in the future: check the device's "
                                                "clock."))
        return value


class CheckinSyncSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    scans = OfflineScanSerializer(many=True, min_length=1, max_length=500)


class SyncedScanSerializer(serializers.Serializer):
    nonce = serializers.CharField()
    result = serializers.ChoiceField(choices=ScanResult.choices, help_text=_(
        "What the server recorded: the device's refusal, `ok` (checked in at the device's time), or `conflict` "
        "(admitted by the device, but already let in elsewhere or refused by the server: reported)."))
    admitted = serializers.BooleanField()
    conflict = serializers.BooleanField()
    message = serializers.CharField()


class CheckinSyncResultSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    synced_at = serializers.DateTimeField()
    scans = SyncedScanSerializer(many=True)


class WaitlistJoinSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    ticket_type = serializers.IntegerField(help_text=_("A sold-out general-admission ticket type of the session."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_PER_REQUEST)
    prepaid = serializers.BooleanField(default=False, help_text=_(
        "Pay the price now from the wallet: the tickets are yours the moment they come back (and the points back "
        "if none do before the session)."))


class WaitlistEntrySerializer(serializers.ModelSerializer):
    event_title = serializers.CharField(source="session.event.title")
    ticket_type_name = serializers.CharField(source="ticket_type.name")
    status = serializers.CharField(source="shown_status", help_text=_(
        "waiting, offered (held for you: order it), bought, lapsed, left, closed."))
    place = serializers.IntegerField(allow_null=True, help_text=_("Your place in line while waiting (1: next)."))
    offer_until = serializers.SerializerMethodField()

    class Meta:
        model = WaitlistEntry
        fields = ["id", "session", "event_title", "ticket_type", "ticket_type_name", "quantity", "status", "place",
                  "deposit", "hold", "offer_until", "order", "created_at", "offered_at"]
        read_only_fields = fields

    def get_offer_until(self, entry) -> datetime | None:
        return entry.hold.expires_at if entry.hold_id and entry.shown_status == "offered" else None
