"""The behaviour stats API: the funnel, active visitors and searches, from the behaviour log (MongoDB).

Admins read every event, publishers their own events only (the scope of
analytics.scope.StatsFilterForm keeps them there), everyone else gets 403; searches
are platform-wide, so administrators only. Bad filters answer 400 with the form's
messages in the caller's language; when MongoDB does not answer, 503
(analytics.behaviour.BehaviourUnavailable).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer
from analytics import behaviour
from analytics.api import ERRORS, FILTERS, RANGE, TAGS, stats_scope
from analytics.behaviour_serializers import ActivitySerializer, FunnelSerializer, SearchesSerializer
from analytics.permissions import MayReadPlatformStats, MayReadStats
from analytics.stats import new_users_by_day
from events.models import Event

UNAVAILABLE = OpenApiResponse(ErrorSerializer, description="The behaviour log (MongoDB) does not answer; "
                              "try again later. Sales figures (/api/stats/sales) still answer.")


class FunnelView(APIView):
    permission_classes = [MayReadStats]

    @extend_schema(
        summary="Conversion funnel",
        description="Distinct visitors who viewed an event page, opened a session's seat map or buy page, held "
        "tickets, ordered and paid, in the range (local days); overall and per event (the 20 most viewed). "
        "A visitor is a signed-in user, else a browser (its first-party cookie). "
        "Administrators: every event; publishers: their own events only.",
        parameters=FILTERS,
        responses={200: FunnelSerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS, 503: UNAVAILABLE},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        by_event = behaviour.funnel_by_event(scope=scope)
        titles = dict(Event.objects.filter(pk__in=[row["event_id"] for row in by_event]).values_list("pk", "title"))
        body = {"start": scope.start, "end": scope.end, "steps": behaviour.funnel(scope=scope),
                "by_event": [{**row, "title": titles.get(row["event_id"])} for row in by_event]}
        return Response(FunnelSerializer(body).data)


class ActivityView(APIView):
    permission_classes = [MayReadStats]

    @extend_schema(
        summary="Active visitors and new users per day",
        description="Per local day of the range: distinct visitors and signed-in users in the behaviour log "
        "(of the events in scope, when filtered), and the accounts created that day (only when the figures "
        "cover every event: new accounts belong to no event).",
        parameters=FILTERS,
        responses={200: ActivitySerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS, 503: UNAVAILABLE},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        days = behaviour.active_by_day(scope=scope)
        new = {}
        if scope.event_ids is None:
            new = {row["day"]: row["users"] for row in new_users_by_day(start=scope.start, end=scope.end)}
        body = {"start": scope.start, "end": scope.end,
                "days": [{**row, "new_users": new.get(row["day"])} for row in days]}
        return Response(ActivitySerializer(body).data)


class SearchesView(APIView):
    permission_classes = [MayReadPlatformStats]

    @extend_schema(
        summary="Top searches and searches that found nothing",
        description="What buyers searched for in the range (local days), most frequent first, case folded; "
        "and the searches that found no event: what buyers want and the catalogue lacks. "
        "Administrators only (searches belong to no publisher).",
        parameters=RANGE,
        responses={200: SearchesSerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS, 503: UNAVAILABLE},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        body = {"start": scope.start, "end": scope.end,
                "top": behaviour.searches_top(start=scope.start, end=scope.end),
                "empty": behaviour.searches_empty(start=scope.start, end=scope.end)}
        return Response(SearchesSerializer(body).data)
