"""Who may read stats through the API (DRF permission classes; pages use accounts.permissions).

Admins read every figure, publishers those of their own events (the scope from
analytics.scope.StatsFilterForm keeps them there); everyone else is refused, 403.
"""

from rest_framework.permissions import BasePermission

from accounts.models import Role
from accounts.permissions import has_role
from analytics.scope import may_read_stats


class MayReadStats(BasePermission):
    """Admins and publishers (a publisher's figures are limited to their events by the scope)."""

    allowed_roles = (Role.ADMIN, Role.PUBLISHER)

    def has_permission(self, request, view) -> bool:
        return may_read_stats(request.user) and has_role(request.user, self.allowed_roles)


class MayReadPlatformStats(BasePermission):
    """Admins only: figures that are not about one publisher's events (e.g. what buyers search for)."""

    allowed_roles = (Role.ADMIN,)

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, self.allowed_roles)
