"""The sales stats API: figures from the orders tables (analytics.stats).

Admins read every event, publishers their own events only (the scope of
analytics.scope.StatsFilterForm keeps them there), everyone else gets 403.
Bad filters answer 400 with the form's messages in the caller's language.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer
from analytics import stats
from analytics.permissions import MayReadStats
from analytics.scope import StatsFilterForm, StatsScope
from analytics.serializers import HeatSerializer, SalesSerializer, SessionsSerializer

ERRORS = OpenApiResponse(ErrorSerializer)
TAGS = ["stats"]
RANGE = [
    OpenApiParameter("date", OpenApiTypes.DATE, description="One local day, YYYY-MM-DD (instead of from/to)."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First local day (Asia/Shanghai), YYYY-MM-DD; default: 29 days before `to`."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last local day, YYYY-MM-DD, inclusive; default: today."),
]
FILTERS = [
    *RANGE,
    OpenApiParameter("event", int, description="Only this event (a publisher: one of theirs)."),
    OpenApiParameter("publisher", int, description="Only this publisher's events (administrators only)."),
    OpenApiParameter("category", int, description="Only events in this category or below it."),
]
GROUP_BY = OpenApiParameter("group_by", str, enum=list(stats.GROUPS), default="day",
                            description="One row per local day (every day of the range), or per event, ticket type, "
                            "publisher, city or category (most revenue first).")


def stats_scope(request) -> StatsScope:
    """The scope of a stats request's filters, or a 400 with the form's messages (`from`, not `from_`)."""
    form = StatsFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        names = {"from_": "from", "__all__": "non_field_errors"}
        raise ValidationError({names.get(field, field): list(messages) for field, messages in form.errors.items()})
    return form.scope()


def group_by_of(request) -> str:
    group_by = request.GET.get("group_by") or "day"
    if group_by not in stats.GROUPS:
        raise ValidationError({"group_by": [_("Group by one of: %(choices)s.") % {"choices": ", ".join(stats.GROUPS)}]})
    return group_by


class SalesView(APIView):
    permission_classes = [MayReadStats]

    @extend_schema(
        summary="Sales figures",
        description="Revenue, tickets, orders, refunds (count and amount), net revenue and average order value, "
        "by local day or by event, ticket type, publisher, city or category, with the totals of the range. "
        "A sale counts on the day its order was paid, a refund on the day it was approved; figures may be "
        "up to a minute old (kept for repeated calls). "
        "Administrators: every event; publishers: their own events only.",
        parameters=[*FILTERS, GROUP_BY],
        responses={200: SalesSerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        group_by = group_by_of(request)
        days = stats.cached("sales:day", scope, lambda: stats.sales(scope=scope, group_by="day"))
        rows = days if group_by == "day" else stats.cached(f"sales:{group_by}:500", scope, lambda: stats.sales(
            scope=scope, group_by=group_by, limit=500))
        body = {"start": scope.start, "end": scope.end, "group_by": group_by,
                "totals": stats.sales_totals(days=days), "rows": rows}
        return Response(SalesSerializer(body).data)


class SessionsView(APIView):
    permission_classes = [MayReadStats]

    @extend_schema(
        summary="Sell-through per session",
        description="Tickets sold / capacity of each session whose sales window overlaps the range, "
        "best sold first (at most 100), with the tickets in live holds right now.",
        parameters=FILTERS,
        responses={200: SessionsSerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        body = {"start": scope.start, "end": scope.end, "sessions": stats.sell_through(scope=scope)}
        return Response(SessionsSerializer(body).data)


class HeatView(APIView):
    permission_classes = [MayReadStats]

    @extend_schema(
        summary="Sales heat: local weekday × hour",
        description="Tickets sold and revenue per local weekday and hour of payment (热门时段); "
        "cells without sales are left out.",
        parameters=FILTERS,
        responses={200: HeatSerializer, 400: ERRORS, 401: ERRORS, 403: ERRORS},
        tags=TAGS,
    )
    def get(self, request):
        scope = stats_scope(request)
        return Response(HeatSerializer({"start": scope.start, "end": scope.end,
                                        "cells": stats.cached("heat", scope, lambda: stats.sales_heat(scope=scope))}).data)
