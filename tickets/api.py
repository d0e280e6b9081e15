"""The JSON API of inventory: publishers build sessions, buyers read stock and hold seats or tickets.

Thin views: serializers for input, tickets.selectors for reads, tickets.services
for writes; domain errors (sold out, taken, over limit, sales closed …) become
{detail, code} with a 4xx status in ticketing.errors.api_exception_handler.
"""

import json
import logging
from time import monotonic

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HOT_PATH_AUTHENTICATION, AnyBuyer, BuyerJWTAuthentication, unwrap
from accounts.models import Role
from accounts.permissions import ANY_ROLE, roles
from accounts.serializers import ErrorSerializer
from events.models import Event
from events.selectors import event_visible_to, may_see
from ticketing.errors import NotFound
from ticketing.throttling import FailOpenThrottle
from tickets import catalogue, selectors, services, snapshots, waiting_room
from tickets.models import SeatMap, Session, TicketType
from tickets.serializers import (
    HoldRequestSerializer,
    HoldSerializer,
    LockSerializer,
    SeatMapSerializer,
    SeatMapStateSerializer,
    SeatMapWriteSerializer,
    SessionCancelSerializer,
    SessionSerializer,
    SessionStockSerializer,
    SessionWaitingRoomSerializer,
    SessionWriteSerializer,
    TicketTypeSerializer,
    TicketTypeWriteSerializer,
    WaitingRoomStateSerializer,
)

log = logging.getLogger(__name__)
ERRORS = OpenApiResponse(ErrorSerializer)
ROOM_REQUIRED = OpenApiResponse(ErrorSerializer, description=(
    "`waiting_room_required`: a hot sale's waiting room is open and you have no admission. The body also "
    "names `room` (its page) and `poll` (POST there to take a place); send the token it gives as the "
    "`X-Waiting-Room-Token` header."))
HOLD_ERRORS = {400: ERRORS, 403: ROOM_REQUIRED, 404: ERRORS,
               409: OpenApiResponse(ErrorSerializer, description="Taken or sold out."), 429: ERRORS}
ROOM_TOKEN = OpenApiParameter(
    "X-Waiting-Room-Token", str, location=OpenApiParameter.HEADER, required=False,
    description="A hot sale's admission (the waiting room's `token`), while its waiting room is open.")


def _own_event(user, event_id: int) -> Event:
    event = Event.objects.filter(pk=event_id, publisher=user).first()
    if event is None:
        raise NotFound(_("No such event among yours."))
    return event


def _validated(fn, **kwargs):
    """Runs a publisher service, turning its ValidationError into a 400 with every message."""
    try:
        return fn(**kwargs)
    except ValidationError as exc:
        from rest_framework.exceptions import ValidationError as DRFValidationError

        raise DRFValidationError({"non_field_errors": exc.messages}) from exc


def _session_for_buyer(session_id: int, user, *, with_map: bool = False) -> Session:
    """The session with its event (one query; holds don't need the seat map's layout)."""
    sessions = Session.objects.select_related("event", "seat_map") if with_map else Session.objects.select_related("event")
    session = sessions.filter(pk=session_id).first()
    if session is None or not may_see(session.event, user):
        raise NotFound(_("No such session."))
    return session


class TicketTypeCreateView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(summary="Add a ticket type to your event", request=TicketTypeWriteSerializer,
                   responses={201: TicketTypeSerializer, 400: ERRORS, 404: ERRORS}, tags=["tickets"])
    def post(self, request):
        data = TicketTypeWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        ticket_type = _validated(
            services.ticket_type_create, actor=request.user, event=_own_event(request.user, v["event"]),
            name=v["name"], base_price=v["base_price"], description=v["description"],
            per_user_limit=v["per_user_limit"], colour=v["colour"], hidden=v["hidden"], tiers=data.tier_data())
        return Response(TicketTypeSerializer(ticket_type).data, status=status.HTTP_201_CREATED)


class SeatMapCreateView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(summary="Add a seat map to your event", description="The seats are generated from the layout.",
                   request=SeatMapWriteSerializer, responses={201: SeatMapSerializer, 400: ERRORS, 404: ERRORS},
                   tags=["tickets"])
    def post(self, request):
        data = SeatMapWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        seat_map = _validated(services.seat_map_create, actor=request.user,
                              event=_own_event(request.user, v["event"]), name=v["name"], layout=v["layout"])
        return Response(SeatMapSerializer(seat_map).data, status=status.HTTP_201_CREATED)


class SessionCreateView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(summary="Add a session to your event",
                   description="Sold by seat (`seat_map`: one of the event's seat maps) or as general admission "
                   "(`stock`: ticket type id → number of tickets).",
                   request=SessionWriteSerializer, responses={201: SessionSerializer, 400: ERRORS, 404: ERRORS},
                   tags=["tickets"])
    def post(self, request):
        data = SessionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        event = _own_event(request.user, v.pop("event"))
        seat_map_id = v.pop("seat_map")
        seat_map = SeatMap.objects.filter(pk=seat_map_id, event=event).first() if seat_map_id else None
        if seat_map_id and seat_map is None:
            raise NotFound(_("No such seat map for this event."))
        try:
            v["stock"] = {int(k): n for k, n in v["stock"].items()}
        except ValueError as exc:
            raise NotFound(_("Unknown ticket type for this event.")) from exc
        session = _validated(services.session_create, actor=request.user, event=event, seat_map=seat_map, **v)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionCancelView(APIView):
    permission_classes = [roles(Role.PUBLISHER, Role.ADMIN)]

    @extend_schema(summary="Cancel a session",
                   description="For good: sales stop, every open order of the session is refunded in full (or "
                   "cancelled, if unpaid) by a worker, its buyers are told and the door refuses its tickets. The "
                   "event's publisher or an administrator.",
                   request=SessionCancelSerializer, responses={200: SessionSerializer, 400: ERRORS, 403: ERRORS,
                                                               404: ERRORS, 409: ERRORS}, tags=["tickets"])
    def post(self, request, session_id: int):
        data = SessionCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = Session.objects.select_related("event").filter(pk=session_id).first()
        if session is None or not (request.user.role == Role.ADMIN or session.event.publisher_id == request.user.pk):
            raise NotFound(_("No such session."))
        session = services.session_cancel(actor=request.user, session=session, reason=data.validated_data["reason"])
        return Response(SessionSerializer(session).data)


# Availability reads (tickets.snapshots): a public event's answers come from Redis, rendered once a
# second at most and dropped by every committed change; no query and no serializer on a hit.
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, location=OpenApiParameter.HEADER, required=False,
    description="The ETag of an answer you have: 304 without a body while it is still the current one.")
NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag you sent is still the current one.")
STOCK_VARY = "Accept, Accept-Language"  # the same for every viewer who may see the event
SEATMAP_VARY = "Accept, Accept-Language, Authorization, Cookie"  # "me" is the viewer's


def _snapshot_answer(request, snapshot: snapshots.Snapshot, cache_control: str, vary: str):
    if request.accepted_renderer.format != "json":  # the browsable API, as before
        return Response(json.loads(snapshot.body), headers={"Cache-Control": snapshots.UNCACHED})
    return snapshots.answer(request, snapshot, cache_control=cache_control, vary=vary)


class SnapshotReadView(APIView):
    """An availability read. An anonymous JSON read of a kept snapshot is answered before DRF wraps the
    request (nothing to authenticate, permit, throttle or negotiate: 0.08 of 0.45 ms in-process);
    every other request goes through DRF as usual."""

    permission_classes = [AllowAny]
    vary = STOCK_VARY
    kept = staticmethod(snapshots.stock)  # the kept snapshot for the URL's arguments, or None

    def dispatch(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD") and snapshots.anonymous_json(request):
            kept = self.kept(**kwargs)
            if kept is not None:
                response = snapshots.answer(request, kept, cache_control=snapshots.PUBLIC, vary=self.vary)
                response["Allow"] = ", ".join(self.allowed_methods)  # as DRF's answers say
                return response
        return super().dispatch(request, *args, **kwargs)


class StockView(SnapshotReadView):
    @extend_schema(summary="Stock of an event",
                   description="Per session and ticket type: total, available, held, sold and the price a hold "
                   "made now would get. Expired holds count as available. Public events are answered from a "
                   "snapshot at most a second old (`Cache-Control: public, max-age=1`, with an `ETag`).",
                   parameters=[IF_NONE_MATCH],
                   responses={200: SessionStockSerializer(many=True), 304: NOT_MODIFIED, 404: ERRORS},
                   tags=["tickets"])
    def get(self, request, event_id: int):
        kept = snapshots.stock(event_id)
        if kept is not None:
            return _snapshot_answer(request, kept, snapshots.PUBLIC, STOCK_VARY)
        read_at = monotonic()
        event = Event.objects.only("status", "publisher_id").filter(pk=event_id).first()
        if event is None or not may_see(event, request.user):
            raise NotFound()
        sessions = selectors.event_sessions(event)
        rows = selectors.stock_rows(sessions)
        body = [{"session": s, "on_sale": s.sales_open() and event.is_public,
                 "ticket_types": [r for r in rows if r.session_id == s.pk]} for s in sessions]
        snapshot = snapshots.Snapshot.of(SessionStockSerializer(body, many=True).data)
        if not event.is_public:  # its publisher or an admin: not for anybody else, nor for later
            return _snapshot_answer(request, snapshot, snapshots.UNCACHED, STOCK_VARY)
        snapshots.keep_stock(event.pk, [s.pk for s in sessions], snapshot, read_at)
        return _snapshot_answer(request, snapshot, snapshots.PUBLIC, STOCK_VARY)


class SeatMapStateView(SnapshotReadView):
    vary = SEATMAP_VARY
    kept = staticmethod(snapshots.seatmap)

    def dispatch(self, request, *args, **kwargs):
        """As SnapshotReadView's, with the session's catalogue version read in the same round trip: while a
        hot session's waiting room is active, the map is only for admitted buyers (no anonymous shortcut)."""
        self.room_info, self.kept_read, self.window_unknown = None, None, False
        if request.method in ("GET", "HEAD"):
            session_id = kwargs["session_id"]
            kept, window = snapshots.seatmap_and_fields(session_id, waiting_room.window_key(session_id),
                                                        waiting_room.WINDOW_FIELDS)
            self.window_unknown = window is not None and None in window
            if kept is not None:  # else get() reads the session from the database, and asks it
                try:
                    active = waiting_room.active_from(session_id, window)
                except waiting_room.RoomUnavailable:
                    active, kept = False, None  # Redis went away just now: the database's answer, in get()
                if active:
                    self.room_info = catalogue.session_info(session_id)
                elif kept is not None and snapshots.anonymous_json(request):
                    response = snapshots.answer(request, kept, cache_control=snapshots.PUBLIC, vary=self.vary)
                    response["Allow"] = ", ".join(self.allowed_methods)
                    return response
            self.kept_read = kept
        return APIView.dispatch(self, request, *args, **kwargs)

    @extend_schema(summary="Seat map of a session", description="Every seat with its position and state; the "
                   "seat-map socket (/ws/seatmap/<id>/) sends the same shape and then every change. Public "
                   "events are answered from a snapshot at most a second old (with an `ETag`; `Cache-Control: "
                   "public, max-age=1` when anonymous, `private, max-age=1` when signed in). While a hot "
                   "session's waiting room is open, only with its admission.",
                   parameters=[IF_NONE_MATCH, ROOM_TOKEN],
                   responses={200: SeatMapStateSerializer, 304: NOT_MODIFIED, 403: ROOM_REQUIRED, 404: ERRORS},
                   tags=["tickets"])
    def get(self, request, session_id: int):
        user = request.user
        if self.room_info is not None and (not waiting_room.session_room_active(self.room_info)
                                           or waiting_room.allowed(self.room_info, request, user=user)):
            self.room_info = None  # let through (the catalogue's copy says whether the room still stands)
        if self.room_info is not None:
            if not self.room_info.visible_to(user):
                raise NotFound(_("No such session."))
            raise waiting_room.WaitingRoomRequired(session_id)
        me = services.owner_token(user.pk) if user.is_authenticated else None
        kept = self.kept_read
        if kept is None:
            read_at = monotonic()
            session = _session_for_buyer(session_id, user, with_map=True)
            if not waiting_room.allowed(session, request, user=user):
                raise waiting_room.WaitingRoomRequired(session_id)
            if self.window_unknown:  # Redis has not heard of this session's room: tell it, so that kept reads
                try:  # can answer without the database
                    waiting_room.config_store(waiting_room.config_of(session))
                except waiting_room.RoomUnavailable:
                    pass
            kept = snapshots.Snapshot.of(selectors.seatmap_state(session))
            if not session.event.is_public:
                return _snapshot_answer(request, kept.for_viewer(me), snapshots.UNCACHED, SEATMAP_VARY)
            snapshots.keep_seatmap(session.pk, session.event_id, kept, read_at)
        cache_control = snapshots.PUBLIC if me is None else snapshots.PRIVATE
        return _snapshot_answer(request, kept.for_viewer(me), cache_control, SEATMAP_VARY)


class LockView(APIView):
    authentication_classes = HOT_PATH_AUTHENTICATION
    permission_classes = [AnyBuyer]
    throttle_classes = [FailOpenThrottle]
    throttle_scope = "holds"

    @extend_schema(summary="Hold one seat", description="Adds the seat to your live hold for that session (one "
                   "timer), or starts one.", request=LockSerializer, parameters=[ROOM_TOKEN],
                   responses={201: HoldSerializer, **HOLD_ERRORS}, tags=["tickets"])
    def put(self, request, seat_id: int):
        data = LockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session_id = data.validated_data["session"]
        taken = services.hold_take(user=request.user, session_id=session_id, seat_ids=[seat_id],
                                   join=True, check_visible=True,
                                   admission=waiting_room.request_token(request, session_id))
        # A seat added to a live hold answers with the whole hold (read back); a new hold from what it wrote.
        body = HoldSerializer(selectors.hold_with_items(taken.hold.pk)).data if taken.joined else hold_answer(taken)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Let go of one seat you hold",
                   description="Name the session in the query string (`?session=`) or, as with PUT, in the body.",
                   parameters=[OpenApiParameter("session", int, required=True,
                                                description="The session whose seat to release.")],
                   request=None, responses={204: None, 400: ERRORS, 404: ERRORS}, tags=["tickets"])
    def delete(self, request, seat_id: int):
        data = LockSerializer(data=request.data or request.query_params)
        data.is_valid(raise_exception=True)
        user = unwrap(request.user)
        session = _session_for_buyer(data.validated_data["session"], user)
        services.seat_release(user=user, session=session, seat_id=seat_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HoldsView(APIView):
    authentication_classes = HOT_PATH_AUTHENTICATION
    permission_classes = [AnyBuyer]
    throttle_classes = [FailOpenThrottle]
    throttle_scope = "holds"

    @extend_schema(summary="Your live holds", responses={200: HoldSerializer(many=True)}, tags=["tickets"])
    def get(self, request):
        return Response(HoldSerializer(selectors.holds_live(request.user), many=True).data)

    @extend_schema(summary="Hold several seats or GA tickets, all or none", request=HoldRequestSerializer,
                   parameters=[ROOM_TOKEN], responses={201: HoldSerializer, **HOLD_ERRORS}, tags=["tickets"])
    def post(self, request):
        data = HoldRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            quantities = {int(k): n for k, n in v["quantities"].items()}
        except ValueError as exc:
            raise services.BadHoldRequest(_("Unknown ticket type for this event.")) from exc
        taken = services.hold_take(user=request.user, session_id=v["session"], seat_ids=v["seats"],
                                   quantities=quantities, check_visible=True, access_code=v["access_code"],
                                   admission=waiting_room.request_token(request, v["session"]))
        return Response(hold_answer(taken), status=status.HTTP_201_CREATED)


_time = serializers.DateTimeField()
_money = serializers.DecimalField(max_digits=12, decimal_places=2)


def hold_answer(taken: services.Taken) -> dict:
    """HoldSerializer's shape for a hold just made, from what the write knows (no query)."""
    info = taken.info
    return {"id": taken.hold.pk, "session": info.id, "status": taken.hold.status,
            "expires_at": _time.to_representation(taken.hold.expires_at),
            "items": [{"ticket_type": i.ticket_type_id, "ticket_type_name": info.ticket_types[i.ticket_type_id].name,
                       "seat": i.seat_id, "seat_label": info.seat_label(i.seat_id) if i.seat_id else None,
                       "quantity": i.quantity, "unit_price": _money.to_representation(i.unit_price)}
                      for i in taken.items],
            "total_price": _money.to_representation(taken.total)}


class HoldDetailView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(summary="Let go of a hold", responses={204: None, 404: ERRORS, 409: ERRORS}, tags=["tickets"])
    def delete(self, request, hold_id: int):
        services.hold_release(user=request.user, hold_id=hold_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventTicketTypesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="Ticket types of an event, with their price tiers",
                   description="Hidden ticket types only with `?access_code=` naming a code that unlocks them (then "
                   "hold them with the same `access_code`); a wrong code is 400 `promo_invalid`.",
                   parameters=[OpenApiParameter("access_code", str, required=False)],
                   responses={200: TicketTypeSerializer(many=True), 400: ERRORS, 404: ERRORS}, tags=["tickets"])
    def get(self, request, event_id: int):
        from orders.promo import access_unlocks  # orders builds on tickets: asked lazily

        event = event_visible_to(event_id=event_id, user=request.user)
        if event is None:
            raise NotFound()
        code = request.query_params.get("access_code", "")
        unlocked = access_unlocks(event_id=event.pk, code=code) if code else set()
        types = (TicketType.objects.filter(event=event).filter(Q(hidden=False) | Q(pk__in=unlocked))
                 .prefetch_related("tiers"))
        return Response(TicketTypeSerializer(types, many=True).data)



class SessionWaitingRoomView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(summary="Turn a session's waiting room on or off",
                   description="A hot sale: from WAITING_ROOM_OPENS_MINUTES before sales open until they close, "
                   "buyers take a place in a fair queue (a random order for everyone who came before sales "
                   "open, then first come, first served) and are let in `admit_per_second` at a time; only "
                   "admitted buyers open the seat map or hold. Your own events' sessions.",
                   request=SessionWaitingRoomSerializer,
                   responses={200: SessionSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["tickets"])
    def put(self, request, session_id: int):
        data = SessionWaitingRoomSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = Session.objects.select_related("event").filter(pk=session_id, event__publisher=request.user).first()
        if session is None:
            raise NotFound(_("No such session."))
        session = _validated(services.session_waiting_room_set, actor=request.user, session=session,
                             **data.validated_data)
        return Response(SessionSerializer(session).data)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else _time.to_representation(waiting_room.moment(epoch))


def _next_poll_ms(place: waiting_room.Place, config: waiting_room.RoomConfig, eta: int | None, now: float) -> int:
    """Every 2–5 s, jittered so that thousands of pages do not ask at the same instant; before sales open,
    again shortly after they do (the order does not depend on who asks first)."""
    jitter = waiting_room._random.randint(0, 1500)
    if now < config.start:
        return int(min(5000, max(config.start - now, 0) * 1000 + 200)) + jitter
    return (2000 if eta is not None and eta < 10 else 3500) + jitter


class WaitingRoomView(APIView):
    """The waiting room's poll: reads Redis and signed cookies only (no query: the user row is not read)."""

    authentication_classes = [BuyerJWTAuthentication]  # API callers; pages are known by the room's cookie
    permission_classes = [AllowAny]
    throttle_classes = []  # polling faster gains nothing: a place is drawn once

    @extend_schema(
        summary="Take or keep your place in a hot sale's waiting room",
        description="Joins the queue of the session's waiting room (once: asking again keeps your place) and "
        "answers your place, the people waiting and an estimated wait. Before sales open everyone gets a random "
        "place, drawn once; after, later arrivals join the back. When it is your turn the answer is `admitted` "
        "with a `token` (also set as a cookie): send it as the `X-Waiting-Room-Token` header to open the seat map "
        "and hold until `admitted_until`; unused, it lapses and a later ask puts you at the back. A place needs a "
        "signed-in account (an access token, or the cookie the session page sets). 503 "
        "`waiting_room_unavailable`: the room cannot reach its store and lets nobody in; ask again later.",
        request=None, responses={200: WaitingRoomStateSerializer, 404: ERRORS, 503: ERRORS}, tags=["tickets"])
    def post(self, request, session_id: int):
        config = waiting_room.config(session_id)
        if config is None or not config.public:
            raise NotFound(_("No such session."))
        now = waiting_room.clock()
        user_id = request.user.pk if request.user.is_authenticated else waiting_room.visitor_of(request)
        session_url = reverse("tickets:session", args=[session_id])
        body = {"state": "open", "position": None, "waiting": 0, "eta_seconds": None, "rejoined": False,
                "sales_start": _iso(config.start), "opens_at": _iso(config.opens), "token": None,
                "admitted_until": None, "next_poll_ms": 0, "session_url": session_url, "login_url": None}
        place = None
        if not config.hot:
            body["message"] = _("This session has no waiting room: go ahead.")
        elif now < config.opens:
            body.update(state="not_open", next_poll_ms=int(min(config.opens - now, 30) * 1000),
                        message=_("The waiting room opens %(minutes)s minutes before sales open.") % {
                            "minutes": settings.WAITING_ROOM_OPENS_MINUTES})
        elif now >= config.end:
            body.update(state="closed", message=_("Sales for this session are over."))
        elif user_id is None:
            body.update(state="login_required", login_url=f"{reverse('account_login')}?{urlencode({'next': session_url})}",
                        message=_("Log in to take your place in the queue: one place per account."))
        else:
            place = waiting_room.poll(session_id=session_id, user_id=user_id, now=now)
            body.update(self._place(place, config, user_id, now))
        seconds_left = body.pop("_seconds_left", 0)
        response = Response(body)
        response["Cache-Control"] = "private, no-store"
        if body["token"]:
            response.set_cookie(waiting_room.token_cookie(session_id), body["token"], max_age=max(int(seconds_left), 1),
                                httponly=True, samesite="Lax",
                                secure=request.is_secure() or settings.SESSION_COOKIE_SECURE)
        return response

    @staticmethod
    def _place(place: waiting_room.Place, config: waiting_room.RoomConfig, user_id: int, now: float) -> dict:
        if place.state == "admitted":
            token, expires = waiting_room.token_issue(session_id=config.session_id, user_id=user_id,
                                                      admitted_at=place.admitted_at)
            until = timezone.localtime(waiting_room.moment(expires)).strftime("%H:%M")
            return {"state": "admitted", "token": token, "admitted_until": _iso(expires), "_seconds_left": expires - now,
                    "message": _("It is your turn! Your admission is valid until %(time)s.") % {"time": until}}
        if place.state == "waiting":
            eta = waiting_room.eta_seconds(place, config, now)
            message = (_("You are in the queue. Your place is drawn when sales open.") if now < config.start
                       else _("You are number %(position)s in the queue.") % {"position": place.position})
            return {"state": "waiting", "position": place.position if now >= config.start else None,
                    "waiting": place.waiting, "eta_seconds": eta if now >= config.start else None,
                    "rejoined": place.rejoined, "next_poll_ms": _next_poll_ms(place, config, eta, now),
                    "message": message}
        if place.state == "closed":
            return {"state": "closed", "message": _("Sales for this session are over.")}
        if place.state == "early":
            return {"state": "not_open", "next_poll_ms": 5000,
                    "message": _("The waiting room opens %(minutes)s minutes before sales open.") % {
                        "minutes": settings.WAITING_ROOM_OPENS_MINUTES}}
        return {"state": "open", "message": _("This session has no waiting room: go ahead.")}
