"""Publisher pages of inventory: one event's ticket types, seat maps and sessions.

Every page is for the event's own publisher (others' events are not there: 404).
Writes go through tickets.services; a ValidationError they raise is shown on the
form, a domain error by ticketing.errors.DomainErrorMiddleware.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.permissions import role_required
from events.models import Event, EventStatus
from ticketing.errors import Conflict
from tickets import selectors, services
from tickets.forms import (
    SeatMapForm, SessionForm, StockForm, TicketTypeForm, WaitingRoomForm, seat_map_layout, section_formset,
    tier_formset,
)
from tickets.models import Seating, TicketType
from tickets.seatmaps import layout_clean, layout_seats, layout_svg
from tickets.views import tier_text


def _own_event(request, pk: int) -> Event:
    event = get_object_or_404(Event.objects.select_related("category"), pk=pk)
    if event.publisher_id != request.user.pk:
        raise Http404  # another publisher's inventory is not there, as far as you know
    return event


def _editable_event(request, pk: int) -> Event:
    event = _own_event(request, pk)
    if event.status == EventStatus.CANCELLED:
        raise Conflict(_("This event is cancelled."), code="event_cancelled")
    return event


def _needs_ticket_types(request, ticket_types: list) -> bool:
    if ticket_types:
        return False
    messages.warning(request, _("Add a ticket type first."))
    return True


def _show_service_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: on its field when the form has one, else above the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _colours(ticket_types) -> dict[int, str]:
    return {t.pk: t.colour for t in ticket_types}


def inventory_overview(event: Event) -> dict:
    """An event's ticket types (tiers in words), seat maps (with the SVG preview) and sessions (live
    stock, capacity, sales state): what its publisher manages and what an admin reviews."""
    ticket_types = list(event.ticket_types.prefetch_related("tiers"))
    for ticket_type in ticket_types:
        ticket_type.tier_texts = [tier_text(t) for t in ticket_type.tiers.all()]
    colours = _colours(ticket_types)
    seat_maps = list(event.seat_maps.annotate(seat_count=Count("seats")))
    for seat_map in seat_maps:
        seat_map.svg = mark_safe(layout_svg(seat_map.layout, colours))  # layout_svg escapes every text it draws
    sessions = selectors.event_sessions(event)
    now = timezone.now()
    rows = defaultdict(list)
    people = _waiting_people(sessions)
    for row in selectors.stock_rows(sessions, now=now, hidden=True):
        row.tier_labels = [t.label or tier_text(t) for t in row.tiers]
        row.people = people.get((row.session_id, row.ticket_type.pk), 0)
        rows[row.session_id].append(row)
    for session in sessions:
        session.stock = rows[session.pk]
        session.capacity = sum(row.total for row in session.stock)
        session.on_sale = session.sales_open(now)
        session.sales_ended = session.sales_end <= now
        session.over = session.end_time <= now
    return {"ticket_types": ticket_types, "seat_maps": seat_maps, "sessions": sessions,
            "room_opens_minutes": settings.WAITING_ROOM_OPENS_MINUTES}



def _waiting_people(sessions) -> dict[tuple[int, int], int]:
    """(session, ticket type) → buyers in its waiting list (orders.waitlist)."""
    from orders.models import WaitlistEntry, WaitStatus  # orders builds on tickets: asked lazily

    rows = (WaitlistEntry.objects.filter(session__in=sessions, status=WaitStatus.WAITING)
            .values("session_id", "ticket_type_id").annotate(n=Count("pk")))
    return {(r["session_id"], r["ticket_type_id"]): r["n"] for r in rows}

@role_required(Role.PUBLISHER)
@require_GET
def manage(request, pk: int):
    """Ticket types, seat maps and sessions of one event, with live stock. Roles: publisher (owner)."""
    event = _own_event(request, pk)
    context = {"event": event, **inventory_overview(event), "read_only": event.status == EventStatus.CANCELLED}
    return render(request, "tickets/manage.html", context)


# --- ticket types -------------------------------------------------------------------


def _ticket_type_page(request, event: Event, ticket_type: TicketType | None):
    form = TicketTypeForm(request.POST or None, instance=ticket_type)
    tiers = tier_formset(request.POST or None, ticket_type=ticket_type)
    if request.method == "POST" and all([form.is_valid(), tiers.is_valid()]):
        try:
            if ticket_type is None:
                ticket_type = services.ticket_type_create(actor=request.user, event=event, tiers=tiers.tier_data(),
                                                          **form.service_kwargs())
                messages.success(request, _("Ticket type %(name)s added.") % {"name": ticket_type.name})
            else:
                services.ticket_type_update(actor=request.user, ticket_type=ticket_type, tiers=tiers.tier_data(),
                                            **form.service_kwargs())
                messages.success(request, _("Ticket type %(name)s saved.") % {"name": ticket_type.name})
        except ValidationError as exc:
            _show_service_errors(form, exc)
        else:
            return redirect("tickets:manage", pk=event.pk)
    return render(request, "tickets/manage_ticket_type_form.html",
                  {"event": event, "form": form, "tiers": tiers, "ticket_type": ticket_type})


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def ticket_type_create(request, pk: int):
    """Add a ticket type with up to three price tiers. Roles: publisher (owner)."""
    return _ticket_type_page(request, _editable_event(request, pk), None)


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def ticket_type_edit(request, pk: int, type_pk: int):
    """Change a ticket type; its tiers are replaced by the ones on the form. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    ticket_type = get_object_or_404(TicketType.objects.prefetch_related("tiers"), pk=type_pk, event=event)
    return _ticket_type_page(request, event, ticket_type)


# --- seat maps ----------------------------------------------------------------------


@dataclass
class Preview:
    """What the builder shows under the form: the drawn map and its seats per type, or the problems."""

    svg: SafeString | None = None
    counts: list = field(default_factory=list)
    total: int = 0
    problems: list[str] = field(default_factory=list)


def _form_problems(form, sections) -> list[str]:
    problems = [str(e) for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            problems += [f"{form.fields[name].label}: {e}" for e in errors]
    problems += [str(e) for e in sections.non_form_errors()]
    for n, section in enumerate(sections.forms, start=1):
        for name, errors in section.errors.items():
            where = _("Section %(n)s") % {"n": n}
            label = section.fields[name].label if name in section.fields else ""
            problems += [f"{where} · {label}: {e}" if label else f"{where}: {e}" for e in errors]
    return problems


def _check_layout(form, sections, ticket_types) -> tuple[dict | None, Preview]:
    """The builder's layout and its preview; the layout is None when anything is wrong."""
    if not all([form.is_valid(), sections.is_valid()]):
        return None, Preview(problems=_form_problems(form, sections))
    layout = seat_map_layout(form, sections)
    try:
        clean = layout_clean(layout, {t.pk for t in ticket_types})
    except ValidationError as exc:
        return None, Preview(problems=exc.messages)
    per_type = Counter(seat.ticket_type for seat in layout_seats(clean))
    counts = [(t, per_type[t.pk]) for t in ticket_types if per_type[t.pk]]
    svg = mark_safe(layout_svg(clean, _colours(ticket_types)))  # layout_svg escapes every text it draws
    return layout, Preview(svg=svg, counts=counts, total=sum(per_type.values()))


def _builder_with_another_section(request, ticket_types):
    """The builder as typed, one blank section longer (the no-JavaScript "Add a section")."""
    typed = section_formset(request.POST, ticket_types=ticket_types)
    count = typed.total_form_count()
    names = list(typed.form.base_fields)
    initial = [{name: request.POST.get(f"sections-{i}-{name}", "") for name in names} for i in range(count)]
    sections = section_formset(ticket_types=ticket_types, initial=initial, extra=count + 1)
    form = SeatMapForm(initial={"name": request.POST.get("name", ""), "stage": request.POST.get("stage", "")})
    return form, sections


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def seat_map_create(request, pk: int):
    """Build a seat map from sections, preview it, save it. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    ticket_types = list(event.ticket_types.all())
    if _needs_ticket_types(request, ticket_types):
        return redirect("tickets:manage", pk=event.pk)
    preview = None
    if request.method == "POST" and "add_section" in request.POST:
        form, sections = _builder_with_another_section(request, ticket_types)
    elif request.method == "POST":
        form = SeatMapForm(request.POST)
        sections = section_formset(request.POST, ticket_types=ticket_types)
        layout, preview = _check_layout(form, sections, ticket_types)
        if layout is not None and "preview" not in request.POST:
            try:
                seat_map = services.seat_map_create(actor=request.user, event=event, name=form.cleaned_data["name"],
                                                    layout=layout)
            except ValidationError as exc:
                preview = Preview(problems=exc.messages)
            else:
                messages.success(request, _("Seat map %(name)s saved with %(count)s seats.")
                                 % {"name": seat_map.name, "count": preview.total})
                return redirect("tickets:manage", pk=event.pk)
    else:
        form = SeatMapForm()
        sections = section_formset(ticket_types=ticket_types, initial=[{"ticket_type": ticket_types[0].pk}])
    return render(request, "tickets/manage_seatmap_form.html",
                  {"event": event, "form": form, "sections": sections, "preview": preview,
                   "ticket_types": ticket_types})


@role_required(Role.PUBLISHER)
@require_POST
def seat_map_preview(request, pk: int):
    """The builder's preview (htmx): the drawn map, or its problems. Saves nothing. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    ticket_types = list(event.ticket_types.all())
    form = SeatMapForm(request.POST)
    sections = section_formset(request.POST, ticket_types=ticket_types)
    _layout, preview = _check_layout(form, sections, ticket_types)
    return render(request, "tickets/partials/seatmap_preview.html", {"preview": preview})


# --- sessions -----------------------------------------------------------------------


def _session_initial(event: Event, seat_map) -> dict:
    now = timezone.localtime().replace(second=0, microsecond=0)
    return {"start_time": event.start_time, "end_time": event.end_time, "sales_start": now,
            "sales_end": event.start_time, "seating": Seating.SEATED if seat_map else Seating.GENERAL,
            "seat_map": seat_map}


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def session_create(request, pk: int):
    """Add a session sold by seat (one of the event's maps) or as general admission. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    ticket_types = list(event.ticket_types.all())
    if _needs_ticket_types(request, ticket_types):
        return redirect("tickets:manage", pk=event.pk)
    seat_maps = event.seat_maps.all()
    form = SessionForm(request.POST or None, seat_maps=seat_maps,
                       initial=_session_initial(event, seat_maps.first()))
    stock = StockForm(request.POST or None, ticket_types=ticket_types, prefix="stock")
    if request.method == "POST" and all([form.is_valid(), stock.is_valid()]):
        c = form.cleaned_data
        try:
            services.session_create(
                actor=request.user, event=event, name=c["name"], hall=c["hall"], start_time=c["start_time"],
                end_time=c["end_time"], sales_start=c["sales_start"], sales_end=c["sales_end"],
                seat_map=c["seat_map"] if form.seated else None, stock=None if form.seated else stock.stock(),
                waiting_room=c["waiting_room"], admit_per_second=c["admit_per_second"] or 20)
        except ValidationError as exc:
            _show_service_errors(form, exc)
        else:
            messages.success(request, _("Session added."))
            return redirect("tickets:manage", pk=event.pk)
    return render(request, "tickets/manage_session_form.html", {"event": event, "form": form, "stock": stock})


@role_required(Role.PUBLISHER)
@require_POST
def session_cancel(request, pk: int, session_pk: int):
    """Cancels one session of the event for good; its orders are refunded in full. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    session = get_object_or_404(event.sessions.select_related("event"), pk=session_pk)
    services.session_cancel(actor=request.user, session=session, reason=request.POST.get("reason", "")[:500])
    messages.success(request, _("The session was cancelled. Its buyers are being refunded in full and told."))
    return redirect("tickets:manage", pk=event.pk)


@role_required(Role.PUBLISHER)
@require_POST
def session_waiting_room(request, pk: int, session_pk: int):
    """Turns a session's waiting room on or off, with its rate. Roles: publisher (owner)."""
    event = _editable_event(request, pk)
    session = get_object_or_404(event.sessions.select_related("event"), pk=session_pk)
    form = WaitingRoomForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("tickets:manage", pk=event.pk)
    session = services.session_waiting_room_set(actor=request.user, session=session, **form.cleaned_data)
    if session.waiting_room:
        messages.success(request, _("Waiting room on: buyers queue from %(minutes)s minutes before sales open and are "
                                    "let in %(rate)s per second.") % {
            "minutes": settings.WAITING_ROOM_OPENS_MINUTES, "rate": session.admit_per_second})
    else:
        messages.success(request, _("Waiting room off: buyers go straight to the tickets."))
    return redirect("tickets:manage", pk=event.pk)
