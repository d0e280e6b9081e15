"""The JSON API of accounts: sign-up, JWT login/refresh/logout, own profile, roles.

Thin views: input through serializers, writes through accounts.services, domain
errors left to ticketing.errors.api_exception_handler. Login goes through
allauth's adapter so the API and the login page share one brute-force limiter.
"""

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenRefreshView

from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, roles
from accounts.phone import looks_like_mobile, normalize_mobile
from accounts.serializers import (
    AccountSerializer,
    ErrorSerializer,
    LoginSerializer,
    LogoutSerializer,
    ProfileSerializer,
    ProfileUpdateSerializer,
    RegisterSerializer,
    RoleRefreshToken,
    RoleSerializer,
    RoleTokenRefreshSerializer,
    TokenPairSerializer,
    TokenRefreshResponseSerializer,
)
from accounts.services import profile_update, user_register, user_set_role
from ticketing.errors import NotFound

ERRORS = OpenApiResponse(ErrorSerializer)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []  # a stale token or a page session must not get in the way

    @extend_schema(
        summary="Create an account",
        description="Email, mobile number or both; a confirmation link goes to the email address. "
        "The mobile number stays unverified until confirmed by code on the site.",
        request=RegisterSerializer,
        responses={201: AccountSerializer, 400: OpenApiResponse(description="Field errors."), 429: ERRORS},
        tags=["auth"],
    )
    def post(self, request):
        # The sign-up page's limiter (ACCOUNT_RATE_LIMITS["signup"]), per client IP.
        if not ratelimit.consume(request._request, action="signup"):
            raise Throttled()
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = user_register(request=request._request, email=data.get("email"), mobile=data.get("phone"),
                             password=data["password"])
        return Response(AccountSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request) -> str:
        # Without it DRF would turn our 401 into a 403.
        return f'{jwt_settings.AUTH_HEADER_TYPES[0]} realm="api"'

    @extend_schema(
        summary="Log in with email or mobile number and password",
        description="Returns a JWT pair; the access token carries `user_id` and `role`. "
        "Five failed attempts for one account within five minutes (or ten per minute from one IP) "
        "lock logins, the correct password included, with 429 — the same limiter as the login page.",
        request=LoginSerializer,
        responses={200: TokenPairSerializer, 400: OpenApiResponse(description="Field errors."), 401: ERRORS, 429: ERRORS},
        tags=["auth"],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login, password = serializer.validated_data["login"].strip(), serializer.validated_data["password"]
        method = "phone" if looks_like_mobile(login) else "email"
        credentials = {"phone": normalize_mobile(login)} if method == "phone" else {"email": login}
        adapter = get_adapter(request._request)
        try:
            user = adapter.authenticate(request._request, password=password, **credentials)
        except DjangoValidationError as error:
            if error.code == "too_many_login_attempts":
                raise Throttled(detail=error.messages[0], code=error.code) from None
            raise
        if user is None:
            raise AuthenticationFailed(adapter.error_messages[f"{method}_password_mismatch"], code="invalid_credentials")
        if not user.is_active:
            raise AuthenticationFailed(adapter.error_messages["account_inactive"], code="account_inactive")
        refresh = RoleRefreshToken.for_user(user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)
        return Response({
            "access": str(refresh.access_token),
            "refresh": str(refresh),
            "user": AccountSerializer(user).data,
        })


class RefreshView(TokenRefreshView):
    """simplejwt's refresh: rotates the refresh token (the old one is refused from
    now on) and puts the user's current role into the new tokens."""

    permission_classes = [AllowAny]
    serializer_class = RoleTokenRefreshSerializer

    @extend_schema(
        summary="Exchange a refresh token for a new pair",
        description="Refresh tokens live for the idle timeout (30 minutes) and are single-use.",
        responses={200: TokenRefreshResponseSerializer, 401: ERRORS},
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(
        summary="Revoke a refresh token",
        request=LogoutSerializer,
        responses={205: OpenApiResponse(description="Revoked."), 400: OpenApiResponse(description="Not a valid refresh token of yours.")},
        tags=["auth"],
    )
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # simplejwt's own wording, so its catalogue translates it.
        refused = ValidationError({"refresh": [gettext("Token is invalid")]}, code="token_not_valid")
        try:
            token = RoleRefreshToken(serializer.validated_data["refresh"])
        except TokenError:
            raise refused from None
        if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(getattr(request.user, jwt_settings.USER_ID_FIELD)):
            raise refused
        token.blacklist()
        return Response(status=status.HTTP_205_RESET_CONTENT)


class ProfileView(APIView):
    """The requesting user's own profile; there is no way to name another user here."""

    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(summary="Read your profile", responses={200: ProfileSerializer}, tags=["profile"])
    def get(self, request):
        return Response(ProfileSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        summary="Change your display name, language, avatar or personalisation",
        description="Send the avatar as a multipart file (JPEG, PNG or WebP, at most 2 MB); "
        "it is stored as a 256×256 JPEG. `personalised` false: what you do from now on is recorded "
        "without your id, and recommendations are no longer personal. Email, phone and role cannot be changed here.",
        request={"multipart/form-data": ProfileUpdateSerializer, "application/json": ProfileUpdateSerializer},
        responses={200: ProfileSerializer, 400: ERRORS},
        tags=["profile"],
    )
    def patch(self, request):
        # partial: a multipart form that leaves `personalised` out does not turn it off
        serializer = ProfileUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = profile_update(user=request.user, **serializer.validated_data)
        return Response(ProfileSerializer(user, context={"request": request}).data)


class UserRoleView(APIView):
    permission_classes = [roles(Role.ADMIN)]

    @extend_schema(
        summary="Give a user a role (administrators only)",
        description="Takes effect on the user's next request, including access tokens already issued.",
        request=RoleSerializer,
        responses={200: AccountSerializer, 400: ERRORS, 403: ERRORS, 404: ERRORS},
        tags=["users"],
    )
    def put(self, request, user_id: int):
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        user = user_set_role(actor=request.user, user=user, role=serializer.validated_data["role"])
        return Response(AccountSerializer(user).data)
