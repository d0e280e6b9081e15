"""Access tokens on the sale's hot endpoints, without a query for the user row.

`BuyerJWTAuthentication` checks the token as simplejwt does (signature, expiry,
type) and gives the view a `TokenBuyer`: the user id, and the row itself only
if something reads another attribute. The hot services lock the buyer's row as
their first statement anyway (`... WHERE id = %s AND is_active FOR UPDATE`); a
deactivated account is refused there with `AccountInactive` (401, as simplejwt
answers). Every other endpoint keeps simplejwt's own class, which reads the
row, and its role, on every request.
"""

from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts.permissions import ANY_ROLE, has_role
from ticketing.errors import DomainError


class AccountInactive(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "user_inactive"
    default_message = _("User is inactive")


class TokenBuyer:
    """A signed-in buyer known by id; reading anything but `pk`/`id` loads the user row (once)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, pk: int):
        self.pk = self.id = pk

    @cached_property
    def _user(self):
        from accounts.models import User

        user = User.objects.filter(pk=self.pk).first()
        if user is None or not user.is_active:
            raise AccountInactive()
        return user

    def __getattr__(self, name):
        if name.startswith("__") or name == "_user":
            raise AttributeError(name)
        return getattr(self._user, name)

    def __eq__(self, other) -> bool:
        return getattr(other, "pk", None) == self.pk and getattr(other, "is_authenticated", False)

    def __hash__(self) -> int:
        return hash(self.pk)

    def __str__(self) -> str:
        return f"user {self.pk}"


class BuyerJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        try:
            return TokenBuyer(int(validated_token[api_settings.USER_ID_CLAIM]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc


# The hot endpoints' authentication: tokens without the user query; pages' sessions as everywhere.
HOT_PATH_AUTHENTICATION = [BuyerJWTAuthentication, SessionAuthentication]


class AnyBuyer(BasePermission):
    """Any role, signed in and active: a TokenBuyer's `is_active` is checked by the service's first statement."""

    allowed_roles = ANY_ROLE

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, TokenBuyer) or has_role(request.user, ANY_ROLE)


def unwrap(user):
    """The real User behind a TokenBuyer (loads it), for code that needs a model instance."""
    return user._user if isinstance(user, TokenBuyer) else user

