"""Ticket transfer (转赠): a buyer gives a paid, unused ticket to another account, which accepts it.

The holder offers the ticket to an account named by its email or mobile number, before the event's cut-off
(`Event.transfer_closes_at`); the offer stays open for TRANSFER_OPEN_HOURS or until the cut-off, whichever
comes first, and the holder may withdraw it, the receiver decline it. On acceptance, in one transaction:
- the ticket gets a new signed code and a new short code, and its old ones go on the event's revocation
  list (`TicketTransfer.old_code`, `old_short_code`): the door refuses them at once, online and offline
  (`revocations`);
- on real-name events the receiver names the attendee (typed or a saved attendee), and on events with one
  ticket per ID number the database's unique (session, id_claim) holds for the new name too;
- the receiver's limit per buyer counts the ticket (tickets.services counts tickets given and received).

Locks, in the order every writer takes them: the receiver's row (its limits, as a hold takes it), the
ticket (the door locks it to admit, then the order to mark it used), the ticket's order (a refund request
updates it, then reads who holds its tickets). So a transfer racing
a check-in of the old code ends one way only: admitted with the old code and the offer refused, or
transferred and the old code refused. A ticket whose order has a ticket held by someone else cannot be
refunded by its buyer (orders.services.refund_request); cancellations still refund the buyer.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.notifications import notify
from accounts.phone import looks_like_mobile, mask_mobile, normalize_mobile
from orders import announce, codes, identity
from orders.services import IdNumberTaken
from orders.models import (
    Order, OrderStatus, SavedAttendee, Ticket, TicketStatus, TicketTransfer, TransferStatus,
)
from ticketing.errors import Conflict, DomainError, NotFound
from tickets import services as inventory

TRANSFER_OPEN_HOURS = 72
T = TransferStatus


class TransferNotAllowed(Conflict):
    code = "transfer_not_allowed"
    default_message = _("This ticket cannot be transferred.")


class TransferClosed(Conflict):
    code = "transfer_closed"
    default_message = _("This offer is no longer open (%(status)s).")


def contact_masked(user: User) -> str:
    """How an account is shown to the other side of a transfer: enough to recognise, not to read."""
    if user.mobile:
        return mask_mobile(user.mobile)
    if user.email:
        name, _at, domain = user.email.partition("@")
        return f"{name[:1]}***@{domain}"
    return user.username[:1] + "***"


def party(user: User) -> str:
    """The other side of a transfer as a user sees it: their display name, else their masked contact."""
    return user.display_name or contact_masked(user)


def _receiver(to: str) -> User | None:
    to = (to or "").strip()
    if "@" in to:
        return User.objects.filter(email__iexact=to, is_active=True).first()
    if looks_like_mobile(to):
        return User.objects.filter(mobile=normalize_mobile(to), is_active=True).first()
    return None


def _closes_at(ticket: Ticket) -> datetime | None:
    return ticket.event.transfer_closes_at(ticket.session.start_time)


def _refuse_untransferable(ticket: Ticket, now) -> datetime:
    """When transfers of this ticket close; TransferNotAllowed (with why) if it cannot move now."""
    if ticket.status != TicketStatus.VALID:
        raise TransferNotAllowed(_("Only a valid ticket that has not been used can be transferred."))
    if ticket.order.status != OrderStatus.PAID:
        raise TransferNotAllowed(_("This ticket's order is being refunded or is closed: it cannot be transferred."))
    if ticket.session.cancelled_at:
        raise TransferNotAllowed(_("This session was cancelled."))
    closes = _closes_at(ticket)
    if closes is None:
        raise TransferNotAllowed(_("Tickets of this event cannot be transferred."))
    if now >= closes:
        raise TransferNotAllowed(_("Transfers for this session closed at %(when)s.")
                                 % {"when": formats.date_format(timezone.localtime(closes), "DATETIME_FORMAT")})
    return closes


def transfer_closes(ticket: Ticket) -> datetime | None:
    """Until when the holder may offer this ticket (the ticket page's form); None if it cannot move now."""
    try:
        return _refuse_untransferable(ticket, timezone.now())
    except TransferNotAllowed:
        return None


def _ticket_of(user: User, ticket_id: int) -> Ticket:
    ticket = (Ticket.objects.select_related("event", "session", "order").filter(pk=ticket_id, user=user).first())
    if ticket is None:
        raise NotFound(_("No such ticket."))
    return ticket


def transfer_offer(*, user: User, ticket_id: int, to: str) -> TicketTransfer:
    """The holder offers their ticket to the account with this email or mobile number; it is notified
    (in-app, websocket, email). One open offer per ticket; NotFound, TransferNotAllowed, Conflict."""
    now = timezone.now()
    ticket = _ticket_of(user, ticket_id)
    closes = _refuse_untransferable(ticket, now)
    receiver = _receiver(to)
    if receiver is None:
        raise NotFound(_("No account with that email or mobile number."), code="no_such_account")
    if receiver.pk == user.pk:
        raise DomainError(_("This ticket is already yours."), code="transfer_to_self")
    with transaction.atomic():
        # An offer past its time still holds the ticket's open claim until something marks it lapsed.
        TicketTransfer.objects.filter(ticket=ticket, status=T.PENDING, expires_at__lte=now).update(
            status=T.LAPSED, open_claim=None, decided_at=now)
        try:
            with transaction.atomic():
                transfer = TicketTransfer.objects.create(
                    ticket=ticket, from_user=user, to_user=receiver,
                    expires_at=min(now + timedelta(hours=TRANSFER_OPEN_HOURS), closes))
        except IntegrityError:
            raise Conflict(_("This ticket already has an offer waiting: withdraw it first."),
                           code="transfer_pending") from None
        notify(users=[receiver], kind="transfer_offered", url=reverse("orders:transfers"),
               title=_("%(from)s is giving you a ticket: %(event)s"),
               body=_("Accept it by %(until)s to get your own e-ticket."),
               params={"from": party(user), "event": ticket.event.title,
                       "until": formats.date_format(timezone.localtime(transfer.expires_at), "DATETIME_FORMAT")})
    return transfer


def _close(user: User, transfer_id: int, *, side: str, to: str) -> TicketTransfer:
    transfer = TicketTransfer.objects.filter(pk=transfer_id, **{side: user}).first()
    if transfer is None:
        raise NotFound(_("No such transfer."))
    now = timezone.now()
    if not TicketTransfer.objects.filter(pk=transfer.pk, status=T.PENDING).update(
            status=to, open_claim=None, decided_at=now):
        raise TransferClosed(status=transfer.get_shown_status_display())
    transfer.refresh_from_db()
    return transfer


def transfer_cancel(*, user: User, transfer_id: int) -> TicketTransfer:
    """The holder withdraws an offer nobody has accepted yet."""
    return _close(user, transfer_id, side="from_user", to=T.CANCELLED)


def transfer_decline(*, user: User, transfer_id: int) -> TicketTransfer:
    """The receiver says no; the ticket stays where it is and its holder is told."""
    with transaction.atomic():
        transfer = _close(user, transfer_id, side="to_user", to=T.DECLINED)
        notify(users=[transfer.from_user], kind="transfer_declined", url=reverse("orders:transfers"),
               title=_("%(to)s declined the ticket you offered"), body=_("The ticket is still yours."),
               params={"to": party(user)}, email=False)
    return transfer


@dataclass
class Attendee:
    """Who the receiver names on a real-name ticket: typed, or one of their saved attendees."""

    name: str = ""
    id_number: str = ""
    saved_id: int | None = None


def _attendee_of(user: User, ticket: Ticket, attendee: Attendee) -> tuple[str, str, str | None]:
    """(name, masked ID, id_claim) for the receiver's ticket; empty for events without real names."""
    if not ticket.event.real_name_required:
        return "", "", None
    if attendee.saved_id:
        person = SavedAttendee.objects.filter(user=user, pk=attendee.saved_id).first()
        if person is None:
            raise DomainError(_("That is not one of your saved attendees."), code="bad_attendee")
        name, masked, key = person.name, person.id_number_masked, person.id_key
    else:
        name = (attendee.name or "").strip()[:64]
        if not name:
            raise DomainError(_("Each attendee needs a name and an ID number."), code="bad_attendee")
        number = identity.parse(attendee.id_number)
        masked, key = number.masked, number.key
    return name, masked, key if ticket.event.one_ticket_per_id else None


def transfer_accept(*, user: User, transfer_id: int, attendee: Attendee | None = None) -> Ticket:
    """The receiver takes the ticket: it is theirs with a new code, the old code is refused at the door from
    this commit on, and the giver is told. Raises NotFound, TransferClosed, TransferNotAllowed (used,
    refunding, cut-off passed), OverLimit (the receiver's limit per buyer), BadIdNumber, IdNumberTaken."""
    attendee = attendee or Attendee()
    now = timezone.now()
    transfer = (TicketTransfer.objects.select_related("ticket__event", "ticket__session", "ticket__ticket_type",
                                                      "from_user").filter(pk=transfer_id, to_user=user).first())
    if transfer is None:
        raise NotFound(_("No such transfer."))
    ticket = transfer.ticket
    name, masked, id_claim = _attendee_of(user, ticket, attendee)
    with transaction.atomic():
        held = inventory.buyer_lock_and_count(user_id=user.pk, session_id=ticket.session_id,
                                              ticket_type_id=ticket.ticket_type_id)
        locked = (Ticket.objects.select_for_update()
                  .filter(pk=ticket.pk, user_id=transfer.from_user_id, status=TicketStatus.VALID).first())
        ticket.order = Order.objects.select_for_update().get(pk=ticket.order_id)
        transfer.refresh_from_db(fields=["status", "expires_at"])
        if transfer.shown_status != T.PENDING:
            raise TransferClosed(status=transfer.get_shown_status_display())
        if locked is None:
            raise TransferNotAllowed(_("The ticket has been used or is no longer theirs to give."))
        _refuse_untransferable(ticket, now)
        limit = ticket.ticket_type.per_user_limit
        if held + 1 > limit:
            raise inventory.OverLimit(limit=limit, name=ticket.ticket_type.name)
        new_code = codes.ticket_code(event_id=ticket.event_id, session_id=ticket.session_id)
        try:
            with transaction.atomic():
                Ticket.objects.filter(pk=ticket.pk).update(user=user, code=new_code, short_code=codes.new_short_code(),
                                                           attendee_name=name, attendee_id_masked=masked,
                                                           id_claim=id_claim)
        except IntegrityError:  # unique (session, id_claim): that ID already holds a ticket for the session
            raise IdNumberTaken(masked=masked) from None
        TicketTransfer.objects.filter(pk=transfer.pk, status=T.PENDING).update(
            status=T.ACCEPTED, open_claim=None, decided_at=now, old_code=locked.code,
            old_short_code=locked.short_code)
        ticket.attendee_name = name  # as the update above wrote it
        announce.ticket_transferred(ticket, transfer_id=transfer.pk, from_user=transfer.from_user_id,
                                    to_user=user.pk, at=now)
        notify(users=[transfer.from_user], kind="transfer_accepted", url=reverse("orders:transfers"),
               title=_("%(to)s accepted your ticket for %(event)s"),
               body=_("Its old QR code no longer admits anyone; the new holder has their own."),
               params={"to": party(user), "event": ticket.event.title})
    return Ticket.objects.select_related("event", "session", "ticket_type", "seat").get(pk=ticket.pk)


def holders(ticket: Ticket) -> list[tuple[User, datetime]]:
    """Who held the ticket, in order, since when: its buyer from payment, then each accepted transfer."""
    chain = [(ticket.order.user, ticket.order.paid_at or ticket.created_at)]
    for transfer in ticket.transfers.filter(status=T.ACCEPTED).select_related("to_user").order_by("decided_at", "pk"):
        chain.append((transfer.to_user, transfer.decided_at))
    return chain


def revocations(event_id: int) -> list[dict]:
    """The event's codes the door must refuse though their signature is good: tickets refunded or cancelled
    (void) and codes replaced by a transfer. By serial (orders.codes.serial) and short code, for scanners
    offline (a transfer made before the short codes has none for its old code)."""
    rows = [{"serial": codes.serial(code), "short_code": short, "reason": "void", "session": session}
            for code, short, session in Ticket.objects.filter(event_id=event_id, status=TicketStatus.VOID)
            .values_list("code", "short_code", "session_id")]
    rows += [{"serial": codes.serial(code), "short_code": short or "", "reason": "transferred", "session": session}
             for code, short, session in TicketTransfer.objects.filter(ticket__event_id=event_id, status=T.ACCEPTED)
             .values_list("old_code", "old_short_code", "ticket__session_id")]
    return rows
