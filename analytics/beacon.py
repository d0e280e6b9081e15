"""POST /api/track: what a visitor's browser reports of their clicks (static/js/track.js).

Only the actions the server cannot see for itself are accepted (`Action.CLIENT`: the seat
map opened, a ticket type chosen, a recommendation clicked), each about one event. Anyone
may send them, anonymous visitors too; a signed-in page's session names the user (with its
CSRF token, as every page-driven API call) and an access token does for apps.

The success path reads nothing from the database: the event id is only checked to be a
positive number (the pipelines ignore ids that name no event), the session names the user
by id without loading the row (as accounts.authentication.TokenBuyer does for tokens), and
the line is queued for the writer thread (analytics.tracking), never written here.
"""

import math
import re

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.authentication import BuyerJWTAuthentication, TokenBuyer
from accounts.serializers import ErrorSerializer
from analytics import tracking
from analytics.documents import Action

MAX_DETAILS = 10
MAX_TEXT = 100
MAX_INT = 2**53  # exact in JavaScript and in MongoDB's int64
MAX_ID = 2**31 - 1
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class SessionVisitorAuthentication(SessionAuthentication):
    """The signed-in visitor of a page session, by the user id their session keeps, without reading the
    user row; CSRF is enforced as by SessionAuthentication. (A session outlived by a password change may
    still name its user here until the next page signs it out: a click line is all that follows.)"""

    def authenticate(self, request):
        session = getattr(request._request, "session", None)
        user_id = session.get(SESSION_KEY) if session is not None else None
        if not user_id or not session.get(BACKEND_SESSION_KEY):
            return None
        try:
            user = TokenBuyer(int(user_id))
        except (TypeError, ValueError):
            return None
        self.enforce_csrf(request)
        return user, None


class VisitorThrottle(SimpleRateThrottle):
    """Per visitor: the user, else the visitor cookie, else the address (counters in Redis, or kept
    in the process while it is away: ticketing.cache)."""

    scope = "track"

    def get_cache_key(self, request, view):
        if request.user is not None and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        elif getattr(request, "anon_id", None):
            ident = f"a{request.anon_id}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AddressThrottle(SimpleRateThrottle):
    """Per address, higher: a client that makes up a new visitor cookie for each call still stops here."""

    scope = "track_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class DetailsField(serializers.DictField):
    """A flat JSON object of a few short scalars, as MongoDB can always store it."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if len(data) > MAX_DETAILS:
            raise serializers.ValidationError(_("Send at most %(max)s details.") % {"max": MAX_DETAILS})
        for key, value in data.items():
            if not KEY.match(key):
                raise serializers.ValidationError(
                    _("Detail names are lower-case letters, digits and _ (at most 32), starting with a letter."))
            if not _short_scalar(value):
                raise serializers.ValidationError(
                    _("Each detail is a number, true/false, null or a text of at most %(max)s characters.")
                    % {"max": MAX_TEXT})
        return data


def _short_scalar(value) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= MAX_INT
    return isinstance(value, str) and len(value) <= MAX_TEXT


class TrackSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=Action.CLIENT, help_text=_("What the visitor did."))
    event = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("The event it was about."))
    session = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True,
                                       help_text=_("The session, where there is one."))
    details = DetailsField(required=False, default=dict, help_text=_(
        "A flat object of at most 10 short values. rec_click: list and position (from 1); "
        "ticket_type_chosen: ticket_type; seatmap_open: source."))

    def validate(self, attrs):
        details, action = attrs["details"], attrs["action"]
        if action == Action.REC_CLICK:
            if not isinstance(details.get("list"), str) or not details["list"]:
                raise serializers.ValidationError({"details": [_("A recommendation click names its list.")]})
            if not _positive_int(details.get("position")):
                raise serializers.ValidationError({"details": [
                    _("A recommendation click gives the card's position, a whole number from 1.")]})
        if action == Action.TICKET_TYPE_CHOSEN and not _positive_int(details.get("ticket_type")):
            raise serializers.ValidationError({"details": [_("Say which ticket type was chosen (its id).")]})
        return attrs


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


class TrackView(APIView):
    authentication_classes = [BuyerJWTAuthentication, SessionVisitorAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [VisitorThrottle, AddressThrottle]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Report a click (the behaviour log)",
        description="Anyone, signed in or not (a page's session sends its CSRF token). Accepts the actions only "
        "a browser sees: `seatmap_open`, `ticket_type_chosen`, `rec_click` (which needs `list` and `position` "
        "in `details`). The line is queued and written to the behaviour log later; nothing is checked against "
        "the catalogue. 120 a minute per visitor.",
        request=TrackSerializer,
        responses={204: OpenApiResponse(description="Recorded."),
                   400: OpenApiResponse(description="Field errors, in the caller's language."),
                   401: OpenApiResponse(ErrorSerializer, description="A token that is invalid or expired."),
                   403: OpenApiResponse(ErrorSerializer, description="A signed-in page without its CSRF token."),
                   429: OpenApiResponse(ErrorSerializer)},
        examples=[OpenApiExample("A recommendation clicked", request_only=True, value={
            "action": "rec_click", "event": 42, "details": {"list": "home", "position": 3}})],
        tags=["analytics"],
    )
    def post(self, request):
        data = TrackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        tracking.track(v["action"], request=request, event_id=v["event"], session_id=v.get("session"),
                       details=v["details"])
        return Response(status=status.HTTP_204_NO_CONTENT)
