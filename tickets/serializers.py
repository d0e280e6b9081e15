"""Shapes of the inventory API. Rules (limits, windows, stock) live in tickets.services."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ticketing.bounds import PRICE_MAX, validate_time_window
from tickets.models import Hold, PriceTierKind, Seating, Session, TicketType
from tickets.services import MAX_PER_REQUEST, TierData


class TierSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PriceTierKind.choices)
    label = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    until = serializers.DateTimeField(required=False, allow_null=True, default=None, validators=[validate_time_window])
    sold_percent = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True, default=None)
    adjust_percent = serializers.IntegerField(min_value=-90, max_value=500)


class TicketTypeWriteSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    name = serializers.CharField(max_length=64)
    base_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, max_value=PRICE_MAX)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    per_user_limit = serializers.IntegerField(min_value=1, max_value=50, default=6)
    colour = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, default="#0d6efd")
    hidden = serializers.BooleanField(required=False, default=False, help_text=_(
        "Sold only with an access code (general admission; the publisher makes the codes)."))
    tiers = TierSerializer(many=True, required=False, default=list, max_length=10)

    def tier_data(self) -> list[TierData]:
        return [TierData(**tier) for tier in self.validated_data["tiers"]]


class TicketTypeSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = TicketType
        fields = ["id", "event", "name", "description", "base_price", "per_user_limit", "colour", "hidden", "tiers"]


class SeatMapWriteSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    name = serializers.CharField(max_length=64)
    layout = serializers.JSONField(help_text=_("Sections, rows, seats per row, aisles, ticket types (tickets.seatmaps)."))


class SeatMapSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.IntegerField(source="event_id")
    name = serializers.CharField()
    layout = serializers.JSONField()
    seats = serializers.IntegerField(source="seats.count")


class SessionWriteSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    hall = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    start_time = serializers.DateTimeField(validators=[validate_time_window])
    end_time = serializers.DateTimeField(validators=[validate_time_window])
    sales_start = serializers.DateTimeField(validators=[validate_time_window])
    sales_end = serializers.DateTimeField(validators=[validate_time_window])
    seat_map = serializers.IntegerField(required=False, allow_null=True, default=None)
    stock = serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=100000), required=False,
                                  default=dict, help_text=_("General admission: ticket type id → number of tickets."))
    waiting_room = serializers.BooleanField(
        required=False, default=False,
        help_text=_("A hot sale: from a few minutes before sales open, buyers queue in a fair waiting room."))
    admit_per_second = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, default=20,
        help_text=_("How many buyers the waiting room lets in each second."))


class SessionWaitingRoomSerializer(serializers.Serializer):
    waiting_room = serializers.BooleanField()
    admit_per_second = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=20)


class WaitingRoomStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["waiting", "admitted", "login_required", "not_open", "open", "closed"],
        help_text=_("waiting: in the queue; admitted: your turn (see token); login_required: a place needs a "
                    "signed-in account; not_open: the room opens later; open: no queue now, go ahead; closed: "
                    "sales are over."))
    position = serializers.IntegerField(allow_null=True, help_text=_("Your place, 1 = next (after sales open)."))
    waiting = serializers.IntegerField(help_text=_("People in the queue."))
    eta_seconds = serializers.IntegerField(allow_null=True, help_text=_("About how long until you are let in."))
    sales_start = serializers.DateTimeField()
    opens_at = serializers.DateTimeField(help_text=_("When the waiting room opens."))
    rejoined = serializers.BooleanField(help_text=_("Your admission lapsed unused: you joined the back."))
    token = serializers.CharField(allow_null=True, help_text=_(
        "admitted: your admission, also set as a cookie; send it as the X-Waiting-Room-Token header."))
    admitted_until = serializers.DateTimeField(allow_null=True)
    next_poll_ms = serializers.IntegerField(help_text=_("Ask again after this many milliseconds."))
    session_url = serializers.CharField()
    login_url = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Session
        fields = ["id", "event", "name", "hall", "start_time", "end_time", "sales_start", "sales_end", "seating",
                  "seat_map", "waiting_room", "admit_per_second", "cancelled_at", "cancel_reason"]
        read_only_fields = ["cancelled_at", "cancel_reason"]


class SessionCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text=_("Why: the buyers read it."))


class StockSerializer(serializers.Serializer):
    session = serializers.IntegerField(source="session_id")
    ticket_type = serializers.IntegerField(source="ticket_type.pk")
    name = serializers.CharField(source="ticket_type.name")
    total = serializers.IntegerField()
    available = serializers.IntegerField()
    held = serializers.IntegerField()
    sold = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text=_("What a hold made now would cost."))


class SessionStockSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="session.pk")
    name = serializers.CharField(source="session.name")
    start_time = serializers.DateTimeField(source="session.start_time")
    seating = serializers.ChoiceField(source="session.seating", choices=Seating.choices)
    on_sale = serializers.BooleanField()
    ticket_types = StockSerializer(many=True)


class LockSerializer(serializers.Serializer):
    session = serializers.IntegerField(help_text=_("The session whose seat to hold or release."))


class HoldRequestSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    seats = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=50)
    quantities = serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=MAX_PER_REQUEST),
                                       required=False, default=dict,
                                       help_text=_("General admission: ticket type id → how many."))
    access_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="",
                                        help_text=_("For a hidden ticket type: the access code that unlocks it."))


class HoldItemSerializer(serializers.Serializer):
    ticket_type = serializers.IntegerField(source="ticket_type_id")
    ticket_type_name = serializers.CharField(source="ticket_type.name")
    seat = serializers.IntegerField(source="seat_id", allow_null=True)
    seat_label = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)

    def get_seat_label(self, item) -> str | None:
        return str(item.seat.label) if item.seat_id else None


class HoldSerializer(serializers.ModelSerializer):
    items = HoldItemSerializer(many=True, read_only=True)
    total_price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Hold
        fields = ["id", "session", "status", "expires_at", "items", "total_price"]


class SeatMapStateSerializer(serializers.Serializer):
    """Documented shape of the seat map JSON (built by tickets.selectors.seatmap_state)."""

    session = serializers.IntegerField()
    seated = serializers.BooleanField()
    on_sale = serializers.BooleanField()
    me = serializers.CharField(allow_null=True, help_text=_("Your owner mark: seats with it are yours."))
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    stage = serializers.CharField()
    sections = serializers.ListField(child=serializers.ListField(), help_text="[name, x, y]")
    ticket_types = serializers.ListField(child=serializers.DictField())
    seats = serializers.ListField(
        child=serializers.ListField(),
        help_text="[seat id, section, row, number, x, y, ticket type id, free|held|sold, owner mark, held-until epoch]")
