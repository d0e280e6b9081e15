"""Django admin for webhooks: read-only (publishers manage their endpoints on their pages); the secret is
not shown."""

from django.contrib import admin

from ticketing.admin import ReadOnlyMixin
from webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["url", "publisher", "event", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "publisher__username", "event__title"]
    fields = ["url", "publisher", "event", "kinds", "description", "active", "created_at"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "endpoint", "status", "attempts", "response_code", "next_attempt_at"]
    list_filter = ["status", "kind"]
    search_fields = ["key", "endpoint__url"]
    fields = ["endpoint", "kind", "key", "status", "attempts", "response_code", "error", "created_at",
              "last_attempt_at", "next_attempt_at", "delivered_at", "payload"]
    readonly_fields = fields
    list_select_related = ["endpoint"]
