"""Read-only views of inventory for operators: changes go through tickets.services only."""

from django.contrib import admin

from ticketing.admin import ReadOnlyMixin
from tickets.models import Hold, HoldItem, Session, SessionReminder, Stock, TicketType


class ReadOnly(ReadOnlyMixin, admin.ModelAdmin):
    pass


@admin.register(TicketType)
class TicketTypeAdmin(ReadOnly):
    list_display = ("name", "event", "base_price", "per_user_limit", "hidden")
    list_filter = ("hidden",)
    search_fields = ("name", "event__title")


class StockInline(ReadOnlyMixin, admin.TabularInline):
    model = Stock
    fields = ("ticket_type", "total", "available", "held", "sold")
    readonly_fields = fields
    extra = 0


@admin.register(Session)
class SessionAdmin(ReadOnly):
    list_display = ("event", "name", "start_time", "seating", "sales_start", "sales_end", "cancelled_at")
    list_filter = ("seating",)
    search_fields = ("event__title", "name")
    inlines = [StockInline]


class HoldItemInline(ReadOnlyMixin, admin.TabularInline):
    model = HoldItem
    fields = ("ticket_type", "seat", "quantity", "unit_price")
    readonly_fields = fields
    extra = 0


@admin.register(Hold)
class HoldAdmin(ReadOnly):
    list_display = ("pk", "user", "session", "status", "expires_at", "created_at")
    list_filter = ("status",)
    search_fields = ("user__username", "user__email")
    inlines = [HoldItemInline]


@admin.register(SessionReminder)
class SessionReminderAdmin(ReadOnly):
    """The on-sale and new-session reminders sent (tickets.reminders), one per buyer, session and kind."""

    list_display = ("session", "kind", "user", "created_at")
    list_filter = ("kind",)
    list_select_related = ("session__event", "user")
    search_fields = ("session__event__title", "user__username", "user__email")
