"""Shapes of the accounts API: what comes in, what goes out. No business rules here."""

from allauth.account.adapter import get_adapter
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import LANGUAGE_CHOICES, Role, User
from accounts.phone import normalize_mobile
from ticketing.bounds import PASSWORD_MAX

class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer that is not a field error."""

    detail = serializers.CharField(help_text=_("In the caller's language."))
    code = serializers.CharField(help_text=_("Stable, for programs: e.g. not_found, sold_out, throttled."))


# --- tokens -------------------------------------------------------------------------
class RoleRefreshToken(RefreshToken):
    """A refresh token (and the access tokens made from it) carrying the user's role.

    The claim is informational for clients: permissions read the role from the
    database on every request, so a stale claim never grants anything."""

    @classmethod
    def for_user(cls, user: User) -> "RoleRefreshToken":
        token = super().for_user(user)
        token["role"] = user.role
        return token


class AccountSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="mobile", read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "phone", "role", "display_name"]
        read_only_fields = fields


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = AccountSerializer()


class RoleTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh with rotation, plus: the new tokens carry the role the
    user has *now*, and a token that was already rotated (even by a concurrent
    request) is refused."""

    token_class = RoleRefreshToken

    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])  # checks signature, expiry, blacklist
        user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: refresh.get(jwt_settings.USER_ID_CLAIM)}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        refresh["role"] = user.role
        data = {"access": str(refresh.access_token)}
        if jwt_settings.ROTATE_REFRESH_TOKENS:
            if jwt_settings.BLACKLIST_AFTER_ROTATION:
                _blacklisted, newly = refresh.blacklist()
                if not newly:  # another request rotated it a moment ago
                    raise InvalidToken(_("Token is blacklisted"))
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh.outstand()
            data["refresh"] = str(refresh)
        return data


class TokenRefreshResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


# --- sign-up, login, logout -----------------------------------------------------------
class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, max_length=254)
    phone = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=32,
        help_text=_("Mainland China mobile number, e.g. 13812345678 or +86 138 1234 5678; stored as +8613812345678."),
    )
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX,
                                     style={"input_type": "password"})

    def validate_email(self, value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip().lower()
        if User.objects.filter(email__iexact=value).exists():
            raise serializers.ValidationError(get_adapter().error_messages["email_taken"], code="email_taken")
        return value

    def validate_phone(self, value: str | None) -> str | None:
        if not value:
            return None
        value = normalize_mobile(value)
        if User.objects.filter(mobile=value).exists():
            raise serializers.ValidationError(get_adapter().error_messages["phone_taken"], code="phone_taken")
        return value

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError(
                _("Enter an email address or a mobile number."), code="email_or_phone"
            )
        # The similarity check compares the password with the email address.
        candidate = User(email=attrs.get("email"), mobile=attrs.get("phone"))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}, code="password") from None
        return attrs


class LoginSerializer(serializers.Serializer):
    login = serializers.CharField(max_length=254, help_text=_("Email address or mainland China mobile number."))
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX,
                                     style={"input_type": "password"})


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, help_text=_("The refresh token to revoke (your own)."))


# --- profile and roles ----------------------------------------------------------------
class ProfileSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(source="mobile", read_only=True, allow_null=True)
    avatar = serializers.ImageField(read_only=True, use_url=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "phone", "role", "display_name", "language", "avatar", "personalised"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent as multipart; whether it is an image is the service's to judge."""


class ProfileUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=64)
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, required=False, allow_blank=True)
    avatar = UploadField(required=False, allow_empty_file=False)
    personalised = serializers.BooleanField(required=False, help_text=_(
        "Use what you view and buy to recommend events. Off: your activity is recorded anonymously."))


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
