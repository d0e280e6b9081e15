"""A publisher's webhook pages: endpoints (add, edit, rotate the secret, test, delete) and the delivery log
with resend. Roles: publishers, each of their own endpoints only (another's is 404)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.permissions import role_required
from ticketing.errors import DomainError
from webhooks import services
from webhooks.forms import EndpointForm
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookKind

LOG_PAGE = 25


def _own_endpoint(request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint.objects.select_related("event"), pk=pk, publisher=request.user)


def _save(request, form: EndpointForm, endpoint: WebhookEndpoint | None):
    data = form.cleaned_data
    try:
        if endpoint is None:
            return services.endpoint_create(publisher=request.user, url=data["url"], kinds=data["kinds"],
                                            event=data["event"], description=data["description"])
        return services.endpoint_update(publisher=request.user, endpoint=endpoint, url=data["url"],
                                        kinds=data["kinds"], event=data["event"], description=data["description"],
                                        active=data["active"])
    except DomainError as error:  # shown on the form, with what was typed kept
        form.add_error(None, str(error))
        return None


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def endpoint_list(request):
    """The publisher's endpoints with their latest delivery and failures, and the form for a new one."""
    form = EndpointForm(request.POST or None, publisher=request.user, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        endpoint = _save(request, form, None)
        if endpoint is not None:
            messages.success(request, _("Endpoint added. Copy its signing secret to your receiver."))
            return redirect("webhooks:detail", pk=endpoint.pk)
    endpoints = (WebhookEndpoint.objects.filter(publisher=request.user).select_related("event")
                 .annotate(sent=Count("deliveries"),
                           failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
                           last_at=Max("deliveries__created_at")))
    endpoints = list(endpoints)
    for endpoint in endpoints:
        endpoint.kind_labels = pgettext("list separator", ", ").join(str(WebhookKind(k).label) for k in endpoint.kinds)
    return render(request, "webhooks/list.html", {"endpoints": endpoints, "form": form})


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, pk: int):
    """One endpoint: its secret, its settings (editable) and its deliveries, newest first (?status= filters)."""
    endpoint = _own_endpoint(request, pk)
    initial = {"url": endpoint.url, "event": endpoint.event, "kinds": endpoint.kinds,
               "description": endpoint.description, "active": endpoint.active}
    form = EndpointForm(request.POST or None, publisher=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        if _save(request, form, endpoint) is not None:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhooks:detail", pk=endpoint.pk)
    deliveries = endpoint.deliveries.defer("payload")
    shown = request.GET.get("status", "")
    if shown in DeliveryStatus.values:
        deliveries = deliveries.filter(status=shown)
    page = Paginator(deliveries, LOG_PAGE).get_page(request.GET.get("page"))
    return render(request, "webhooks/detail.html", {
        "endpoint": endpoint, "form": form, "page": page, "shown": shown, "statuses": DeliveryStatus.choices})


@role_required(Role.PUBLISHER)
@require_POST
def endpoint_rotate(request, pk: int):
    endpoint = services.endpoint_rotate_secret(publisher=request.user, endpoint=_own_endpoint(request, pk))
    messages.success(request, _("New signing secret made: deliveries from now on are signed with it."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@role_required(Role.PUBLISHER)
@require_POST
def endpoint_ping(request, pk: int):
    services.endpoint_ping(publisher=request.user, endpoint=_own_endpoint(request, pk))
    messages.success(request, _("Test delivery queued: it appears in the log below."))
    return redirect("webhooks:detail", pk=pk)


@role_required(Role.PUBLISHER)
@require_POST
def endpoint_delete(request, pk: int):
    services.endpoint_delete(publisher=request.user, endpoint=_own_endpoint(request, pk))
    messages.success(request, _("Endpoint deleted."))
    return redirect("webhooks:list")


@role_required(Role.PUBLISHER)
@require_GET
def delivery_detail(request, pk: int):
    """One delivery: what was sent (the JSON body) and the last answer."""
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk,
                                 endpoint__publisher=request.user)
    return render(request, "webhooks/delivery.html", {"delivery": delivery,
                                                      "body": services.body_of(delivery).decode()})


@role_required(Role.PUBLISHER)
@require_POST
def delivery_resend(request, pk: int):
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk,
                                 endpoint__publisher=request.user)
    services.delivery_resend(publisher=request.user, delivery=delivery)
    messages.success(request, _("Delivery queued again."))
    return redirect("webhooks:detail", pk=delivery.endpoint_id)
