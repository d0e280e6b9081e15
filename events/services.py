"""Every write to events: creation, edits and the review workflow.

Workflow (one table, `TRANSITIONS`): draft → pending → approved | rejected;
rejected → pending again after edits; draft/pending/rejected/approved →
cancelled. Each transition locks the event row, checks the current status,
records an EventTransition and, after commit, notifies the people concerned.

Editing: drafts and rejected events are edited freely. A pending event is
frozen while it is reviewed. An approved (public) event may still be edited by
its publisher — a sold-out concert's venue may change — the edit applies at
once, is recorded in the event's history, and the admins are notified to look
at it again. Cancelled events are final.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from io import BytesIO

import nh3
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

from accounts.models import Role, User
from accounts.notifications import admins, notify
from events.models import TRANSFER_CUTOFF_MAX, Category, Event, EventStatus, EventTransition, Favourite, Tag
from events.refunds import RefundPolicyKind, clean_tiers
from events.search import refresh_search_text
from events.signals import event_cancelled
from events.selectors import may_see
from ticketing import behaviour
from ticketing.errors import Conflict, DomainError, Forbidden, NotFound

S = EventStatus

# (from, to) → roles that may make that move (the publisher must own the event).
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (S.DRAFT, S.PENDING): (Role.PUBLISHER,),
    (S.REJECTED, S.PENDING): (Role.PUBLISHER,),
    (S.PENDING, S.APPROVED): (Role.ADMIN,),
    (S.PENDING, S.REJECTED): (Role.ADMIN,),
    (S.DRAFT, S.CANCELLED): (Role.PUBLISHER, Role.ADMIN),
    (S.PENDING, S.CANCELLED): (Role.PUBLISHER, Role.ADMIN),
    (S.REJECTED, S.CANCELLED): (Role.PUBLISHER, Role.ADMIN),
    (S.APPROVED, S.CANCELLED): (Role.PUBLISHER, Role.ADMIN),
}
EDITABLE = (S.DRAFT, S.REJECTED, S.APPROVED)

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h3", "h4", "blockquote", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _("This event is %(current)s; it cannot become %(target)s.")


class NotEditable(Conflict):
    code = "not_editable"
    default_message = _("This event is %(current)s and cannot be edited now.")


class ReasonRequired(DomainError):
    code = "reason_required"
    default_message = _("Give the publisher a reason for the rejection.")


@dataclass
class EventData:
    """What a publisher fills in (already validated by a form or serializer)."""

    title: str
    start_time: datetime
    end_time: datetime
    venue: str
    city: str
    category: Category
    description: str = ""
    address: str = ""
    tags: list[str] | None = None
    real_name_required: bool = False
    one_ticket_per_id: bool = True
    refund_policy: str = RefundPolicyKind.FREE
    refund_tiers: list | None = None  # (hours, percent) pairs, for the `tiered` policy
    transfers_allowed: bool = True
    transfer_cutoff_hours: int = 2
    cover: object | None = None  # an uploaded file; None keeps the current one


def sanitize_description(html: str) -> str:
    return nh3.clean(html or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener nofollow")


def _check_times(data: EventData) -> None:
    if data.end_time <= data.start_time:
        raise DomainError(_("The event must end after it starts."), code="ends_before_start")


def _refund_tiers(data: EventData) -> list:
    """The tiers as stored; DomainError for a policy the shop does not know or tiers that do not hold."""
    if data.refund_policy not in RefundPolicyKind.values:
        raise DomainError(_("Unknown refund policy."), code="refund_policy_invalid")
    if data.refund_policy != RefundPolicyKind.TIERED:
        return []
    try:
        return clean_tiers(data.refund_tiers or [])
    except ValidationError as error:
        raise DomainError(error.messages[0], code=error.code) from None


COVER_SIZE = (1600, 1200)


def _resized_cover(upload) -> ContentFile:
    """The cover as a JPEG no larger than COVER_SIZE (aspect kept, EXIF rotation
    applied). The upload was validated (validators.validate_cover) already."""
    upload.seek(0)
    with Image.open(upload) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail(COVER_SIZE, Image.Resampling.LANCZOS)
        out = BytesIO()
        image.save(out, format="JPEG", quality=85, optimize=True)
    return ContentFile(out.getvalue(), name="cover.jpg")


def _apply(event: Event, data: EventData) -> None:
    event.title = data.title.strip()
    event.description = sanitize_description(data.description)
    event.start_time, event.end_time = data.start_time, data.end_time
    event.venue, event.city, event.address = data.venue.strip(), data.city.strip(), data.address.strip()
    event.category = data.category
    event.real_name_required = data.real_name_required
    event.one_ticket_per_id = data.one_ticket_per_id
    event.refund_policy, event.refund_tiers = data.refund_policy, _refund_tiers(data)
    if not 0 <= data.transfer_cutoff_hours <= TRANSFER_CUTOFF_MAX:
        raise DomainError(_("Transfers close between 0 and %(max)d hours before the session.")
                          % {"max": TRANSFER_CUTOFF_MAX}, code="transfer_cutoff_invalid")
    event.transfers_allowed, event.transfer_cutoff_hours = data.transfers_allowed, data.transfer_cutoff_hours
    if data.cover is not None:
        event.cover = _resized_cover(data.cover)


def _set_tags(event: Event, names: list[str] | None) -> None:
    if names is None:
        return
    clean = sorted({n.strip()[:32] for n in names if n.strip()})[:20]
    tags = [Tag.objects.get_or_create(name=name)[0] for name in clean]
    event.tags.set(tags)


def _record(event: Event, *, actor: User, from_status: str, to_status: str, reason: str = "", note: str = "") -> None:
    EventTransition.objects.create(event=event, from_status=from_status, to_status=to_status, actor=actor,
                                   reason=reason, note=note)


def _owned_by(event: Event, user: User) -> bool:
    return event.publisher_id == user.pk


@transaction.atomic
def event_create(*, publisher: User, data: EventData) -> Event:
    """A new draft owned by `publisher` (who must have the publisher role)."""
    if publisher.role != Role.PUBLISHER:
        raise Forbidden()
    _check_times(data)
    event = Event(publisher=publisher, status=S.DRAFT)
    _apply(event, data)
    event.save()
    _set_tags(event, data.tags)
    refresh_search_text(event)
    _record(event, actor=publisher, from_status="", to_status=S.DRAFT, note="created")
    return event


@transaction.atomic
def event_update(*, actor: User, event: Event, data: EventData) -> Event:
    """Edit an event of one's own (see the module docstring for which statuses).
    Raises Forbidden for someone else's event, NotEditable for pending/cancelled."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not _owned_by(event, actor):
        raise Forbidden()
    if event.status not in EDITABLE:
        raise NotEditable(current=event.get_status_display())
    _check_times(data)
    _apply(event, data)
    event.save()
    _set_tags(event, data.tags)
    refresh_search_text(event)
    if event.status == S.APPROVED:
        _record(event, actor=actor, from_status=S.APPROVED, to_status=S.APPROVED, note="edited while public")
        url = reverse("events:review_detail", args=[event.pk])
        notify(users=admins(), kind="event.edited", url=url, params={"title": event.title},
               title=_("A published event was edited: %(title)s"),
               body=_("The publisher changed a public event; please look at it again."))
    return event


def _transition(*, actor: User, event: Event, to_status: str, reason: str = "") -> tuple[Event, str]:
    event = Event.objects.select_for_update().get(pk=event.pk)
    current = event.status
    allowed = TRANSITIONS.get((current, to_status))
    if allowed is None:
        raise IllegalTransition(current=event.get_status_display(), target=EventStatus(to_status).label)
    if actor.role not in allowed or (actor.role == Role.PUBLISHER and not _owned_by(event, actor)):
        raise Forbidden()
    event.status = to_status
    event.review_reason = reason if to_status in (S.APPROVED, S.REJECTED) else event.review_reason
    now = timezone.now()
    if to_status == S.PENDING:
        event.submitted_at = now
    if to_status in (S.APPROVED, S.REJECTED):
        event.reviewed_at = now
    event.save(update_fields=["status", "review_reason", "submitted_at", "reviewed_at", "updated_at"])
    _record(event, actor=actor, from_status=current, to_status=to_status, reason=reason)
    return event, current


@transaction.atomic
def event_submit(*, actor: User, event: Event) -> Event:
    """Send a draft (or a rejected event after edits) for review; admins are notified."""
    event, _previous = _transition(actor=actor, event=event, to_status=S.PENDING)
    notify(users=admins(), kind="event.submitted", url=reverse("events:review_detail", args=[event.pk]),
           params={"title": event.title}, title=_("New event to review: %(title)s"),
           body=_("A publisher submitted an event for review."))
    return event


@transaction.atomic
def event_approve(*, actor: User, event: Event, reason: str = "") -> Event:
    """Publish a pending event (admins). The publisher is notified."""
    event, _previous = _transition(actor=actor, event=event, to_status=S.APPROVED, reason=reason.strip())
    notify(users=[event.publisher], kind="event.approved", url=reverse("events:mine"),
           params={"title": event.title, "reason": reason.strip()}, title=_("Approved: %(title)s"),
           body=_("Your event is now public.") if not reason.strip() else _("Your event is now public. Reviewer's note: %(reason)s"))
    return event


@transaction.atomic
def event_reject(*, actor: User, event: Event, reason: str) -> Event:
    """Send a pending event back to its publisher with a reason (required)."""
    if not reason.strip():
        raise ReasonRequired()
    event, _previous = _transition(actor=actor, event=event, to_status=S.REJECTED, reason=reason.strip())
    notify(users=[event.publisher], kind="event.rejected", url=reverse("events:edit", args=[event.pk]),
           params={"title": event.title, "reason": reason.strip()}, title=_("Not approved: %(title)s"),
           body=_("Reason: %(reason)s. Edit the event and submit it again."))
    return event


@transaction.atomic
def event_cancel(*, actor: User, event: Event, reason: str = "") -> Event:
    """Cancel an event (its publisher or an admin); final. The other side is notified; the sessions still
    to come are cancelled with it, and their orders refunded in full (see orders.cancellations)."""
    event, previous = _transition(actor=actor, event=event, to_status=S.CANCELLED, reason=reason.strip())
    # Its sessions stop and its paid orders are refunded in full (tickets, orders: after commit).
    event_cancelled.send(sender=Event, event_id=event.pk, reason=reason.strip())
    if actor.pk != event.publisher_id:
        recipients = [event.publisher]
    else:
        recipients = admins() if previous in (S.PENDING, S.APPROVED) else []
    notify(users=recipients, kind="event.cancelled", url=reverse("events:detail", args=[event.pk]),
           params={"title": event.title, "reason": reason.strip() or "—"}, title=_("Cancelled: %(title)s"),
           body=_("Reason: %(reason)s"))
    return event


def event_review(*, actor: User, event: Event, approve: bool, reason: str = "") -> Event:
    """Approve or reject in one call (the review page and PUT /api/events/<id>/approve)."""
    if approve:
        return event_approve(actor=actor, event=event, reason=reason)
    return event_reject(actor=actor, event=event, reason=reason)


# --- the behaviour log ----------------------------------------------------------------

# event_search's filters, as a search line names them (the query goes on its own, as `q`).
SEARCH_FILTERS = ("category", "city", "date_from", "date_to", "price_min", "price_max", "available_only")


class NotWantable(Conflict):
    code = "not_public"
    default_message = _("Only events on sale to the public can be marked as wanted.")


def favourite_add(*, user: User, event_id: int) -> tuple[Favourite, bool]:
    """Mark an approved event as wanted (想看) by `user`; returns the row and whether it is new.
    Idempotent, also for two calls at the same instant (the unique constraint decides which one writes).
    NotFound for an event the user may not see, NotWantable for one they see but the public does not."""
    event = Event.objects.filter(pk=event_id).only("status", "publisher_id").first()
    if event is None or not may_see(event, user):
        raise NotFound(_("No such event."))
    if not event.is_public:
        raise NotWantable()
    favourite, created = Favourite.objects.get_or_create(user=user, event_id=event_id)
    if created:
        behaviour.track_on_commit("favourite", user=user, event_id=event_id)
    return favourite, created


def favourite_remove(*, user: User, event_id: int) -> bool:
    """Unmark an event (any status: a cancelled event can still be taken off the list). Idempotent;
    returns whether there was a mark."""
    deleted, _rows = Favourite.objects.filter(user=user, event_id=event_id).delete()
    return bool(deleted)


def search_record(*, user, filters: dict, results: int) -> None:
    """A `search` line for the first page of a search with a query or a filter (the list page, the API):
    {q, filters (the non-empty ones, as JSON scalars), results (the total found), page: 1}; sorting alone
    or another page of the same search is not a search."""
    query = (filters.get("query") or "").strip()
    chosen = {}
    for name in SEARCH_FILTERS:
        value = filters.get(name)
        if value in (None, "", False):
            continue
        chosen[name] = _scalar(value)
    if not query and not chosen:
        return
    details = {"q": query, "filters": chosen, "results": int(results), "page": 1}
    if filters.get("sort"):
        details["sort"] = filters["sort"]
    behaviour.track("search", user=user, details=details)


def _scalar(value):
    """A filter's value as MongoDB keeps it: a category by id, a day as YYYY-MM-DD, a price as a number."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
