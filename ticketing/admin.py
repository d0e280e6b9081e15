"""Pieces shared by the apps' Django admin modules, and the outbox's own admin."""

from django.contrib import admin

from ticketing.models import OutboxMessage


class ReadOnlyMixin:
    """An admin (or inline) that shows rows but never adds, changes or deletes them: those rows
    change only through their app's services, so constraints, ledgers and broadcasts stay right."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "handler", "state", "attempts", "created_at", "due_at", "delivered_at")
    list_filter = ("state", "handler")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
