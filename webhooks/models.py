"""A publisher's webhook endpoints and every delivery made to them (webhooks.services)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import Event


class WebhookKind(models.TextChoices):
    ORDER_PAID = "order.paid", _("Order paid")
    ORDER_REFUNDED = "order.refunded", _("Order refunded")
    TICKET_CHECKED_IN = "ticket.checked_in", _("Ticket checked in")
    TICKET_TRANSFERRED = "ticket.transferred", _("Ticket transferred")
    EVENT_APPROVED = "event.approved", _("Event approved")
    EVENT_REJECTED = "event.rejected", _("Event rejected")
    SESSION_SOLD_OUT = "session.sold_out", _("Session sold out")
    PING = "ping", _("Test delivery")


class WebhookEndpoint(models.Model):
    """An HTTPS address that hears of the chosen kinds of happenings of one event, or of all the publisher's."""

    publisher = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("publisher"), on_delete=models.CASCADE,
                                  related_name="webhook_endpoints")
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, null=True, blank=True,
                              related_name="webhook_endpoints", help_text=_("Empty: all your events."))
    url = models.URLField(_("URL"), max_length=500)
    kinds = models.JSONField(_("events sent"), default=list)
    secret = models.CharField(_("signing secret"), max_length=64)
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One happening sent to one endpoint: made once per (endpoint, key) however often the work that makes
    it runs; retried until a 2xx answer or the last attempt. `key` is sent as X-Webhook-Id."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(_("event"), max_length=32, choices=WebhookKind.choices)
    key = models.CharField(_("delivery id"), max_length=100)
    payload = models.JSONField()
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Attempts made before the latest resend: the retry budget counts from there.
    attempts_before = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # The outbox message (ticketing.outbox) that sends it now, so "retry now" can make it due at once.
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next retry"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "key"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values),
                                   name="webhook_delivery_status_valid"),
        ]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.endpoint_id} ({self.status})"
