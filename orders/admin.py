"""Django admin for orders: read-only. Money, tickets and check-ins change only through orders.services
(the pages and the API), so the ledger and the constraints always agree."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import (
    AccessUse, CheckIn, CheckinConflict, LedgerEntry, Order, Payment, PromoCode, PromoUse, Refund, SavedAttendee, Scan, Ticket, TicketTransfer,
    WaitlistEntry, Wallet,
)
from orders import services, transfers
from ticketing.admin import ReadOnlyMixin


class PaymentInline(ReadOnlyMixin, admin.TabularInline):
    model = Payment
    extra = 0
    fields = ["created_at", "method", "provider", "transaction_id", "amount", "user"]
    readonly_fields = fields


class TicketInline(ReadOnlyMixin, admin.TabularInline):
    model = Ticket
    extra = 0
    fields = ["session", "ticket_type", "seat", "price", "status", "user", "attendee_name", "attendee_id_masked"]
    readonly_fields = fields
    show_change_link = True  # the ticket's page: who held it (transfers)


class LedgerInline(ReadOnlyMixin, admin.TabularInline):
    model = LedgerEntry
    extra = 0
    fields = ["created_at", "kind", "amount", "balance_after", "order", "reason", "actor"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]


# No date_hierarchy anywhere: it needs the database's time-zone tables, which a stock MariaDB lacks.
@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "event", "user", "status", "total", "created_at", "paid_at"]
    list_filter = ["status"]
    search_fields = ["number", "user__username", "user__email", "event__title"]
    list_select_related = ["event", "user"]
    inlines = [PaymentInline, TicketInline]


@admin.register(Wallet)
class WalletAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "balance", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    inlines = [LedgerInline]


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["order", "user", "amount", "fee", "cause", "status", "created_at", "reviewed_by", "reviewed_at",
                    "fee_waived_by"]
    list_filter = ["status", "cause", ("fee_waived_by", admin.EmptyFieldListFilter)]
    search_fields = ["order__number", "user__username", "user__email"]
    list_select_related = ["order", "user", "reviewed_by", "fee_waived_by"]


@admin.register(Scan)
class ScanAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "event", "by", "result", "override_of", "ticket", "gate", "device", "scanned_at",
                    "local_result"]
    list_filter = ["result", "override_of", "local_result"]
    search_fields = ["code", "event__title", "by__username", "gate", "device"]
    list_select_related = ["event", "by", "ticket__event", "ticket__seat", "ticket__ticket_type"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Who let each ticket in and when; `overridden_by` marks an admin's admission on another day."""

    list_display = ["at", "ticket", "by", "gate", "device", "offline", "overridden_by"]
    list_filter = [("overridden_by", admin.EmptyFieldListFilter), "offline"]
    search_fields = ["ticket__code", "ticket__short_code", "ticket__event__title", "by__username",
                     "overridden_by__username", "gate", "device"]
    list_select_related = ["by", "overridden_by", "ticket__event", "ticket__seat", "ticket__ticket_type"]


@admin.register(CheckinConflict)
class CheckinConflictAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Tickets admitted offline that were let in elsewhere first or that the server refuses (orders.services
    .checkin_sync): who, where and when for both admissions. The publisher sees them at /checkin/<event>/conflicts/."""

    list_display = ["created_at", "event", "ticket", "kind", "reason", "second_admission", "first_admission"]
    list_filter = ["kind", "reason"]
    search_fields = ["event__title", "ticket__short_code", "scan__by__username", "scan__gate", "scan__device"]
    list_select_related = ["event", "ticket__event", "ticket__seat", "ticket__ticket_type", "scan__by", "checkin__by"]

    @admin.display(description=_("admitted offline"))
    def second_admission(self, conflict: CheckinConflict) -> str:
        scan = conflict.scan
        return (f"{timezone.localtime(scan.scanned_at or scan.at):%Y-%m-%d %H:%M:%S} · {scan.by} · "
                f"{services.where_label(scan.gate, scan.device)}")

    @admin.display(description=_("first admitted"))
    def first_admission(self, conflict: CheckinConflict) -> str:
        first = conflict.checkin
        if first is None:
            return "—"
        return f"{timezone.localtime(first.at):%Y-%m-%d %H:%M:%S} · {first.by} · {services.where_label(first.gate, first.device)}"


@admin.register(SavedAttendee)
class SavedAttendeeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Buyers' saved attendees (常用观演人): masked ID numbers only; the keyed hash is not shown."""

    list_display = ("name", "id_number_masked", "user", "created_at")
    search_fields = ("name", "user__username", "user__email")
    exclude = ("id_key",)


class PromoUseInline(ReadOnlyMixin, admin.TabularInline):
    model = PromoUse
    extra = 0
    fields = ["created_at", "order", "user", "released_at"]
    readonly_fields = fields


class AccessUseInline(ReadOnlyMixin, admin.TabularInline):
    model = AccessUse
    extra = 0
    fields = ["created_at", "hold", "user", "quantity"]
    readonly_fields = fields


@admin.register(PromoCode)
class PromoCodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Publishers' promo and access codes and who used them (made and switched on the publisher's page or the
    API)."""

    list_display = ["code", "event", "kind", "value", "uses", "max_uses", "max_per_buyer", "active", "valid_until"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "event__title", "batch"]
    list_select_related = ["event"]
    inlines = [PromoUseInline, AccessUseInline]


class TransferInline(ReadOnlyMixin, admin.TabularInline):
    model = TicketTransfer
    extra = 0
    fields = ["created_at", "from_user", "to_user", "status", "decided_at", "expires_at"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]


@admin.register(Ticket)
class TicketAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """E-tickets with the chain of who held each one: its buyer (the order's), then each transfer."""

    list_display = ["pk", "event", "session", "ticket_type", "seat", "status", "user", "order"]
    list_filter = ["status"]
    search_fields = ["order__number", "user__username", "user__email", "event__title", "attendee_name", "short_code"]
    list_select_related = ["event", "session", "ticket_type", "seat", "user", "order"]
    readonly_fields = ["short_code", "holders"]
    exclude = ["code", "id_claim"]
    inlines = [TransferInline]

    @admin.display(description=_("held by, in order"))
    def holders(self, ticket: Ticket) -> str:
        return " → ".join(f"{user} ({timezone.localtime(since):%Y-%m-%d %H:%M})"
                          for user, since in transfers.holders(ticket))


@admin.register(TicketTransfer)
class TicketTransferAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every offer of a ticket to another account (转赠) and its outcome; made on the buyers' pages or the API."""

    list_display = ["created_at", "ticket", "from_user", "to_user", "status", "decided_at"]
    list_filter = ["status"]
    search_fields = ["from_user__username", "from_user__email", "to_user__username", "to_user__email",
                     "ticket__event__title", "ticket__order__number"]
    list_select_related = ["from_user", "to_user", "ticket__event", "ticket__seat", "ticket__ticket_type"]
    exclude = ["old_code"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Waiting lists (候补), in line order; joined, left and offered on the buyers' pages or the API."""

    list_display = ["created_at", "session", "ticket_type", "user", "quantity", "deposit", "status", "offered_at"]
    list_filter = ["status"]
    search_fields = ["user__username", "user__email", "session__event__title"]
    list_select_related = ["session__event", "ticket_type", "user"]
