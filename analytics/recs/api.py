"""GET /api/recommend/<userId>: a user's recommendations, for that user or an administrator."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, roles
from accounts.serializers import ErrorSerializer
from analytics.recs import index as recs_index
from analytics.recs.query import recommend_for_user
from analytics.recs.serializers import RecommendParamsSerializer, RecommendResponseSerializer, card
from ticketing.errors import Forbidden, NotFound


class RecommendView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(
        summary="Recommended events for a user",
        description="The user themself or an administrator (anyone else: 403; an unknown user: 404 for "
        "administrators). Events the user may buy now, never past, cancelled, unapproved, sold-out or "
        "already-bought ones; users without history (or who turned personalisation off) get popular and "
        "upcoming events.",
        parameters=[RecommendParamsSerializer,
                    OpenApiParameter("user_id", int, location=OpenApiParameter.PATH, description="The user's id.")],
        responses={200: RecommendResponseSerializer, 400: OpenApiResponse(description="k outside 1–50."),
                   403: ErrorSerializer, 404: ErrorSerializer},
        tags=["recommendations"],
    )
    def get(self, request, user_id: int):
        if request.user.pk != user_id and request.user.role != Role.ADMIN:
            raise Forbidden()
        params = RecommendParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        user = request.user if request.user.pk == user_id else User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        recs = recommend_for_user(user=user, k=params.validated_data["k"],
                                  city=params.validated_data.get("city") or None)
        loaded = recs_index.current()
        # RecommendResponseSerializer's shape, built directly (serializers.card).
        return Response({"user": user.pk, "index_version": loaded.version if loaded else None,
                         "results": [card(rec, request=request) for rec in recs]})
