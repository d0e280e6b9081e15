"""One permission layer for pages and API: each endpoint names its roles here.

Pages:  @role_required(Role.ADMIN) on a function view, RoleRequiredMixin on a
        class view. Anonymous users go to the login page; a wrong role gets 403.
API:    permission_classes = [roles(Role.PUBLISHER, Role.ADMIN)].
The role is read from the database on every request (JWTAuthentication loads
the user), so a role change applies at once, also to tokens already issued.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts.models import Role

ANY_ROLE = tuple(Role.values)


def has_role(user, roles) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role in roles)


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


class RoleRequiredMixin:
    allowed_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_role(request.user, self.allowed_roles):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def roles(*allowed: str) -> type[BasePermission]:
    """A DRF permission class admitting only these roles (403 for the others)."""

    class HasRole(BasePermission):
        allowed_roles = allowed

        def has_permission(self, request, view) -> bool:
            return has_role(request.user, allowed)

    HasRole.__name__ = "HasRole_" + "_".join(allowed)
    return HasRole
