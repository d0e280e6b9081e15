"""The JSON API of events: create and edit, the review workflow, search, categories.

Thin views: input through serializers, reads through events.selectors, writes
through events.services, domain errors left to ticketing.errors.api_exception_handler.
An event a caller may not act on is answered 404, never 403, so that nobody
learns of another publisher's drafts.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, roles
from accounts.serializers import ErrorSerializer
from events.models import Category, Event
from events.selectors import (
    empty_search_help,
    event_list_for_publisher,
    event_search,
    event_visible_to,
    favourite_state,
    favourites_of,
    review_queue,
)
from events.serializers import (
    CancelSerializer,
    CategoryNodeSerializer,
    EventCardSerializer,
    EventSearchParamsSerializer,
    EventSerializer,
    EventWriteSerializer,
    FavouriteStateSerializer,
    ReviewSerializer,
    WantedEventSerializer,
    category_forest,
    event_data,
)
from events.services import (
    event_cancel,
    event_create,
    event_review,
    event_submit,
    event_update,
    favourite_add,
    favourite_remove,
    search_record,
)
from ticketing.errors import NotFound

ERRORS = OpenApiResponse(ErrorSerializer)
FIELD_ERRORS = OpenApiResponse(description="Field errors, or a domain error as {detail, code}.")
WRITE_BODY = {"multipart/form-data": EventWriteSerializer, "application/json": EventWriteSerializer}


class EventPagination(PageNumberPagination):
    page_size = 20


class EventSearchPagination(EventPagination):
    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["hint"] = {
            "type": "string", "description": "Why nothing was found: the query has nothing searchable in it."}
        answer["properties"]["did_you_mean"] = {
            "type": "string", "description": "A corrected query that finds something (only when `q` found nothing)."}
        return answer


def _event_to_manage(user: User, event_id: int) -> Event:
    """The event `user` may act on: one of their own (publishers), any (admins)."""
    if user.role == Role.ADMIN:
        event = event_visible_to(event_id=event_id, user=user)
    else:
        event = event_list_for_publisher(publisher=user).filter(pk=event_id).first()
    if event is None:
        raise NotFound()
    return event


def _shown(request, event: Event, status_code: int = status.HTTP_200_OK) -> Response:
    """The whole event, as its publisher and the admins see it."""
    serializer = EventSerializer(event, context={"request": request, "show_review": True})
    return Response(serializer.data, status=status_code)


def _page(view: APIView, request, events, serializer_class, **context) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(events, request, view=view)
    serializer = serializer_class(page, many=True, context={"request": request, **context})
    return paginator.get_paginated_response(serializer.data)


class EventCreateView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(
        summary="Create an event (a draft)",
        description="Publishers only. Send JSON, or multipart to include a cover image. "
        "The event stays a draft, visible to its publisher and the administrators, until submitted and approved.",
        request=WRITE_BODY,
        responses={201: EventSerializer, 400: FIELD_ERRORS, 403: ERRORS},
        tags=["events"],
    )
    def post(self, request):
        serializer = EventWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_create(publisher=request.user, data=event_data(serializer.validated_data))
        return _shown(request, event, status.HTTP_201_CREATED)


class EventSearchView(APIView):
    permission_classes = [AllowAny]
    pagination_class = EventSearchPagination

    @extend_schema(
        summary="Search the public events",
        description="Approved events that have not ended, filtered and sorted; 20 a page. A text search "
        "returns at most the 500 best matches (then `count` is 500 and sorting applies to those). A query of "
        "punctuation or emoji only finds nothing, and the answer carries a `hint` saying why; a text search that "
        "finds nothing carries `did_you_mean`, a corrected query that does find something, when there is one.",
        parameters=[EventSearchParamsSerializer],
        responses={200: EventCardSerializer(many=True), 400: FIELD_ERRORS, 404: ERRORS},
        tags=["events"],
    )
    def get(self, request):
        params = EventSearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        response = _page(self, request, event_search(**params.validated_data), EventCardSerializer)
        help_ = empty_search_help(filters=params.validated_data, count=response.data["count"])
        if help_["no_search_characters"]:
            response.data["hint"] = _("Your search has no letters, digits or Chinese characters: "
                                      "type a word, a name or a city.")
        elif help_["did_you_mean"] is not None:
            response.data["did_you_mean"] = help_["did_you_mean"]
        if request.query_params.get("page") in (None, "", "1"):  # another page is not another search
            search_record(user=request.user, filters=params.validated_data, results=response.data["count"])
        return response


class EventDetailView(APIView):
    def get_permissions(self):
        if self.request.method == "GET":
            return [AllowAny()]
        return [roles(Role.PUBLISHER)()]

    @extend_schema(
        summary="Read an event",
        description="Approved events for everyone; drafts, pending, rejected and cancelled events only for "
        "their publisher and the administrators (404 for anyone else). `review_reason` is filled in "
        "for those two only.",
        responses={200: EventSerializer, 404: ERRORS},
        tags=["events"],
    )
    def get(self, request, event_id: int):
        event = event_visible_to(event_id=event_id, user=request.user)
        if event is None:
            raise NotFound()
        user = request.user
        show_review = user.is_authenticated and (user.role == Role.ADMIN or event.publisher_id == user.pk)
        return Response(EventSerializer(event, context={"request": request, "show_review": show_review}).data)

    @extend_schema(
        summary="Change your event",
        description="Its publisher only; send just the fields that change (JSON, or multipart with a new cover). "
        "Drafts, rejected and approved events can be edited; a pending event is frozen while it is reviewed "
        "(409) and a cancelled one for good. Editing an approved event notifies the administrators.",
        request=WRITE_BODY,
        responses={200: EventSerializer, 400: FIELD_ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS},
        tags=["events"],
    )
    def patch(self, request, event_id: int):
        event = _event_to_manage(request.user, event_id)
        serializer = EventWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        event = event_update(actor=request.user, event=event, data=event_data(serializer.validated_data, current=event))
        return _shown(request, event)


class EventSubmitView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(
        summary="Submit your event for review",
        description="A draft, or a rejected event after changes, becomes pending; the administrators are notified.",
        request=None,
        responses={200: EventSerializer, 403: ERRORS, 404: ERRORS, 409: ERRORS},
        tags=["events"],
    )
    def post(self, request, event_id: int):
        event = event_submit(actor=request.user, event=_event_to_manage(request.user, event_id))
        return _shown(request, event)


class EventCancelView(APIView):
    permission_classes = [roles(Role.PUBLISHER, Role.ADMIN)]

    @extend_schema(
        summary="Cancel an event",
        description="Its publisher or an administrator; final. The other side is notified with the reason.",
        request=CancelSerializer,
        responses={200: EventSerializer, 400: FIELD_ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS},
        tags=["events"],
    )
    def post(self, request, event_id: int):
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = _event_to_manage(request.user, event_id)
        event = event_cancel(actor=request.user, event=event, reason=serializer.validated_data["reason"])
        return _shown(request, event)


class EventApproveView(APIView):
    permission_classes = [roles(Role.ADMIN)]

    @extend_schema(
        summary="Approve or reject a pending event (administrators)",
        description="`decision` approve publishes the event; reject sends it back to its publisher and needs "
        "a `reason` (400 without one). An event that is not pending is answered 409. The publisher is notified.",
        request=ReviewSerializer,
        responses={200: EventSerializer, 400: FIELD_ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS},
        tags=["events"],
    )
    def put(self, request, event_id: int):
        serializer = ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = _event_to_manage(request.user, event_id)
        event = event_review(actor=request.user, event=event, approve=serializer.validated_data["decision"] == "approve",
                             reason=serializer.validated_data["reason"])
        return _shown(request, event)


class MyEventsView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]
    pagination_class = EventPagination

    @extend_schema(
        summary="Your events, in every status",
        description="With each event's status and the reviewer's reason.",
        responses={200: EventSerializer(many=True), 403: ERRORS},
        tags=["events"],
    )
    def get(self, request):
        return _page(self, request, event_list_for_publisher(publisher=request.user), EventSerializer,
                     show_review=True)


class ReviewQueueView(APIView):
    permission_classes = [roles(Role.ADMIN)]
    pagination_class = EventPagination

    @extend_schema(
        summary="Events waiting for review (administrators)",
        description="Pending events, the longest waiting first.",
        responses={200: EventSerializer(many=True), 403: ERRORS},
        tags=["events"],
    )
    def get(self, request):
        return _page(self, request, review_queue(), EventSerializer, show_review=True)


class CategoryTreeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The category tree",
        description="Top-level categories with their subcategories nested under `children`.",
        responses={200: CategoryNodeSerializer(many=True)},
        tags=["events"],
    )
    def get(self, request):
        return Response(CategoryNodeSerializer(category_forest(Category.objects.get_tree()), many=True).data)


class WantedListView(APIView):
    permission_classes = [roles(*ANY_ROLE)]
    pagination_class = EventPagination

    @extend_schema(
        summary="Your wanted events (想看)",
        description="The events you marked, newest mark first, whatever became of them since (see `status`).",
        responses={200: WantedEventSerializer(many=True), 401: ERRORS},
        tags=["wanted"],
    )
    def get(self, request):
        return _page(self, request, favourites_of(user=request.user), WantedEventSerializer)


class EventWantView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(
        summary="Want an event (想看)",
        description="Marks an approved event; you are told when its sales open and when a session is added. "
                    "Idempotent: 201 the first time, 200 after.",
        request=None,
        responses={200: FavouriteStateSerializer, 201: FavouriteStateSerializer, 401: ERRORS, 404: ERRORS,
                   409: ERRORS},
        tags=["wanted"],
    )
    def put(self, request, event_id: int):
        _favourite, created = favourite_add(user=request.user, event_id=event_id)
        return Response(favourite_state(event_id=event_id, user=request.user),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Stop wanting an event",
        description="Idempotent: 204 whether or not it was marked.",
        request=None,
        responses={204: None, 401: ERRORS},
        tags=["wanted"],
    )
    def delete(self, request, event_id: int):
        favourite_remove(user=request.user, event_id=event_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
