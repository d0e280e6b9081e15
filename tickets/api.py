"""The JSON API of inventory: publishers build sessions, buyers read stock and hold seats or tickets.

Thin views: serializers for input, tickets.selectors for reads, tickets.services
for writes; domain errors (sold out, taken, over limit, sales closed …) become
{detail, code} with a 4xx status in ticketing.errors.api_exception_handler.
"""

import json
import logging
from time import monotonic

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HOT_PATH_AUTHENTICATION, AnyBuyer, unwrap
from accounts.models import Role
from accounts.permissions import ANY_ROLE, roles
from accounts.serializers import ErrorSerializer
from events.models import Event
from events.selectors import event_visible_to, may_see
from ticketing.errors import NotFound
from ticketing.throttling import FailOpenThrottle
from tickets import selectors, services, snapshots
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
    SessionWriteSerializer,
    TicketTypeSerializer,
    TicketTypeWriteSerializer,
)

log = logging.getLogger(__name__)
ERRORS = OpenApiResponse(ErrorSerializer)
HOLD_ERRORS = {400: ERRORS, 404: ERRORS, 409: OpenApiResponse(ErrorSerializer, description="Taken or sold out."),
               429: ERRORS}


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

    @extend_schema(summary="Seat map of a session", description="Every seat with its position and state; the "
                   "seat-map socket (/ws/seatmap/<id>/) sends the same shape and then every change. Public "
                   "events are answered from a snapshot at most a second old (with an `ETag`; `Cache-Control: "
                   "public, max-age=1` when anonymous, `private, max-age=1` when signed in).",
                   parameters=[IF_NONE_MATCH],
                   responses={200: SeatMapStateSerializer, 304: NOT_MODIFIED, 404: ERRORS}, tags=["tickets"])
    def get(self, request, session_id: int):
        user = request.user
        me = services.owner_token(user.pk) if user.is_authenticated else None
        kept = snapshots.seatmap(session_id)
        if kept is None:
            read_at = monotonic()
            session = _session_for_buyer(session_id, user, with_map=True)
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
                   "timer), or starts one.", request=LockSerializer,
                   responses={201: HoldSerializer, **HOLD_ERRORS}, tags=["tickets"])
    def put(self, request, seat_id: int):
        data = LockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        taken = services.hold_take(user=request.user, session_id=data.validated_data["session"], seat_ids=[seat_id],
                                   join=True, check_visible=True)
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
                   responses={201: HoldSerializer, **HOLD_ERRORS}, tags=["tickets"])
    def post(self, request):
        data = HoldRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            quantities = {int(k): n for k, n in v["quantities"].items()}
        except ValueError as exc:
            raise services.BadHoldRequest(_("Unknown ticket type for this event.")) from exc
        taken = services.hold_take(user=request.user, session_id=v["session"], seat_ids=v["seats"],
                                   quantities=quantities, check_visible=True, access_code=v["access_code"])
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

