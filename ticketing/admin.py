"""Pieces shared by the apps' Django admin modules."""


class ReadOnlyMixin:
    """An admin (or inline) that shows rows but never adds, changes or deletes them: those rows
    change only through their app's services, so constraints, ledgers and broadcasts stay right."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
