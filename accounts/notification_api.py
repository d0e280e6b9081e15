"""The JSON API of the in-app inbox (the bell): list and mark read, one's own only.

New notifications also arrive live over the websocket /ws/notifications/
(accounts.consumers); these endpoints are for catching up and for reading.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Notification
from accounts.notifications import mark_read, unread_count
from accounts.permissions import ANY_ROLE, roles


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, min_value=1,
                                  help_text=_("One notification of yours; without it, all of them."))


class MarkReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many were unread and are read now."))
    unread = serializers.IntegerField(help_text=_("Your unread notifications left."))


class NotificationPagination(PageNumberPagination):
    """Pages of notifications that also say how many are unread in all."""

    page_size = 20

    def get_paginated_response(self, data, *, unread: int = 0):
        response = super().get_paginated_response(data)
        response.data["unread"] = unread
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["unread"] = {"type": "integer", "example": 3}
        paginated["required"] = [*paginated.get("required", []), "unread"]
        return paginated


class NotificationListView(APIView):
    permission_classes = [roles(*ANY_ROLE)]
    pagination_class = NotificationPagination

    @extend_schema(
        summary="Your notifications, newest first",
        description="With `unread`, the number of your unread notifications.",
        responses={200: NotificationSerializer(many=True)},
        tags=["notifications"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Notification.objects.filter(user=request.user), request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data,
                                                unread=unread_count(request.user))


class NotificationReadView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(
        summary="Mark your notifications read",
        description="One (`id`) or, with an empty body, all of them. An id that is not one of yours "
        "changes nothing.",
        request=MarkReadSerializer,
        responses={200: MarkReadResultSerializer},
        tags=["notifications"],
    )
    def post(self, request):
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = mark_read(user=request.user, notification_id=serializer.validated_data.get("id"))
        return Response({"marked": marked, "unread": unread_count(request.user)})
