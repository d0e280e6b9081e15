from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.permissions import ANY_ROLE, role_required
from events import selectors, services
from events.forms import CancelForm, EventForm, ReviewForm, SearchForm
from events.models import Event, EventStatus
from ticketing import behaviour

PAGE_SIZE = 20


def _filters(form: SearchForm) -> dict:
    c = form.cleaned_data
    return {
        "query": c.get("q") or "", "category": c.get("category"), "city": c.get("city") or "",
        "date_from": c.get("date_from"), "date_to": c.get("date_to"), "price_min": c.get("price_min"),
        "price_max": c.get("price_max"), "available_only": bool(c.get("available")), "sort": c.get("sort") or "",
    }


@require_GET
def event_list(request):
    """Approved events with search, filters, sorting and pages. Roles: anyone."""
    form = SearchForm(request.GET)
    if not form.is_valid():
        messages.warning(request, _("Some filters were not understood and were ignored."))
        form = SearchForm({k: v for k, v in request.GET.items() if k not in form.errors})
        form.is_valid()
    filters = _filters(form)
    events = selectors.event_search(**filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    if page.number == 1:
        services.search_record(user=request.user, filters=filters, results=page.paginator.count)
    query_string = request.GET.copy()
    query_string.pop("page", None)
    context = {"form": form, "page": page, "query_string": query_string.urlencode(),
               "categories": selectors.category_roots(), "filters": filters,
               "capped": bool(filters["query"]) and page.paginator.count >= selectors.SEARCH_RESULT_LIMIT}
    help_ = selectors.empty_search_help(filters=filters, count=page.paginator.count)
    context["no_search_characters"] = help_["no_search_characters"]
    if (correction := help_["did_you_mean"]) is not None:
        corrected = query_string.copy()
        corrected["q"] = correction
        context.update(did_you_mean=correction, did_you_mean_query=corrected.urlencode())
    template = "events/partials/results.html" if request.htmx and not request.htmx.boosted else "events/list.html"
    return render(request, template, context)


@require_GET
def event_suggest(request):
    """The search box's suggestions as one types (htmx partial; empty below two characters). Roles: anyone."""
    query = request.GET.get("q", "")[:SearchForm.base_fields["q"].max_length]
    suggestions = selectors.event_suggestions(query=query)
    return render(request, "events/partials/suggestions.html",
                  {"query": query.strip(), "suggestions": suggestions, "any": any(suggestions.values())})


@require_GET
def event_detail(request, pk: int):
    """An approved event for anyone; any status for its publisher and admins."""
    event = selectors.event_visible_to(event_id=pk, user=request.user)
    if event is None:
        raise Http404
    if event.is_public:  # a publisher's look at a draft is no visitor's interest
        behaviour.track("event_view", request=request, event_id=event.pk)
    context = {"event": event, "cancel_form": CancelForm(),
               "server_now": f"{timezone.now().timestamp():.3f}",  # sales countdowns count from the server's clock
               **selectors.favourite_state(event_id=event.pk, user=request.user)}
    for provider in _detail_context:  # the tickets app's sessions, analytics' similar events
        context.update(provider(request, event))
    return render(request, "events/detail.html", context)


# What higher apps add to the event page (tickets: its sessions; analytics: similar events), registered
# at their start-up.
_detail_context: list = []


def event_detail_context_register(provider) -> None:
    """provider(request, event) -> dict, merged into the event page's context."""
    if provider not in _detail_context:
        _detail_context.append(provider)


@role_required(*ANY_ROLE)
@require_POST
def event_want(request, pk: int):
    """Mark or unmark an event as wanted (想看): `want=1` or `want=0`. With htmx the button is redrawn in
    place, otherwise the page it was pressed on comes back (refusals: ticketing.errors.DomainErrorMiddleware).
    Roles: any signed-in user."""
    want = request.POST.get("want") != "0"
    if want:
        services.favourite_add(user=request.user, event_id=pk)
    else:
        services.favourite_remove(user=request.user, event_id=pk)
    if request.htmx:
        context = {"event_id": pk, "next_url": _back(request, reverse("events:detail", args=[pk])),
                   **selectors.favourite_state(event_id=pk, user=request.user)}
        return render(request, "events/partials/want_button.html", context)
    if want:
        messages.success(request, _("Added to your wanted events. We will tell you when sales open."))
    return redirect(_back(request, reverse("events:detail", args=[pk])))


def _back(request, default: str) -> str:
    """The page a form was posted from, if it is one of ours."""
    target = request.POST.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else default


@role_required(Role.PUBLISHER)
@require_GET
def my_events(request):
    """The publisher's own events with status and the reviewer's reason. Roles: publisher."""
    events = selectors.event_list_for_publisher(publisher=request.user)
    return render(request, "events/mine.html", {"events": events})


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def event_create(request):
    """New event form; saves a draft. Roles: publisher."""
    form = EventForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        event = services.event_create(publisher=request.user, data=form.event_data())
        if "submit" in request.POST:
            services.event_submit(actor=request.user, event=event)
            messages.success(request, _("Your event was sent for review."))
        else:
            messages.success(request, _("Draft saved."))
        return redirect("events:mine")
    return render(request, "events/form.html", {"form": form})


def _own_event(request, pk: int) -> Event:
    event = get_object_or_404(Event, pk=pk)
    if event.publisher_id != request.user.pk:
        raise Http404  # someone else's drafts are not there, as far as you know
    return event


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def event_edit(request, pk: int):
    """Edit one of one's events (drafts, rejected, approved). Roles: publisher (owner)."""
    event = _own_event(request, pk)
    form = EventForm(request.POST or None, request.FILES or None, instance=event)
    if request.method == "POST" and form.is_valid():
        event = services.event_update(actor=request.user, event=event, data=form.event_data())
        if "submit" in request.POST:
            services.event_submit(actor=request.user, event=event)
            messages.success(request, _("Your event was sent for review."))
        else:
            messages.success(request, _("Changes saved."))
        return redirect("events:mine")
    return render(request, "events/form.html", {"form": form, "event": event})


@role_required(Role.PUBLISHER)
@require_POST
def event_submit(request, pk: int):
    """Send for review. Roles: publisher (owner)."""
    services.event_submit(actor=request.user, event=_own_event(request, pk))
    messages.success(request, _("Your event was sent for review."))
    return redirect("events:mine")


@role_required(Role.PUBLISHER, Role.ADMIN)
@require_POST
def event_cancel(request, pk: int):
    """Cancel an event. Roles: its publisher, admins."""
    event = get_object_or_404(Event, pk=pk) if request.user.role == Role.ADMIN else _own_event(request, pk)
    form = CancelForm(request.POST)
    form.is_valid()
    services.event_cancel(actor=request.user, event=event, reason=form.cleaned_data.get("reason", ""))
    messages.success(request, _("The event was cancelled."))
    if request.user.role == Role.ADMIN:
        return redirect("events:review_detail", pk=event.pk)
    return redirect("events:mine")


@role_required(Role.ADMIN)
@require_GET
def review_queue(request):
    """Events waiting for review, oldest first. Roles: admin."""
    return render(request, "events/review_queue.html", {"events": selectors.review_queue()})


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def review_detail(request, pk: int):
    """One event with its history; approve or reject with a reason. Roles: admin."""
    event = get_object_or_404(Event.objects.select_related("category", "publisher"), pk=pk)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        services.event_review(actor=request.user, event=event, approve=approve, reason=form.cleaned_data["reason"])
        messages.success(request, _("Approved.") if approve else _("Rejected; the publisher was told why."))
        return redirect("events:review_queue")
    history = event.transitions.select_related("actor")
    return render(request, "events/review_detail.html", {"event": event, "form": form, "history": history,
                                                         "cancel_form": CancelForm(), "is_pending": event.status == EventStatus.PENDING,
                                                         "inventory": selectors.event_review_inventory(event)})
