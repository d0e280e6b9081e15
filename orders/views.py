"""Pages of the orders domain: checkout, orders, e-tickets, wallet, refunds, check-in, exports.

Reads come from orders.selectors (plus a few one-line lookups kept here), writes go
through orders.services; a DomainError a service raises becomes a page message in
ticketing.errors.DomainErrorMiddleware. Someone else's order, ticket, QR code or
event is a 404: as far as the caller knows, it is not there.
"""

import csv
import functools
import hashlib
import io
import json
import re
import secrets
import time
from decimal import Decimal
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import Context, Template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, role_required
from events.models import Event
from orders import promo, providers, selectors, services, transfers, waitlist
from orders.forms import (
    AttendeesForm, CheckinEventsForm, PromoApplyForm, PromoForm, RefundRequestForm, RefundReviewForm,
    SavedAttendeeForm, ScanForm, StaffAddForm, TransferAcceptForm, TransferOfferForm, WaitlistJoinForm,
    WalletAdjustForm,
)
from orders.models import (
    EventStaff, Order, OrderStatus, PaymentMethod, ScanResult, Ticket, TicketStatus, TransferStatus,
    Wallet,
)
from ticketing.errors import DomainError, Forbidden

PAGE_SIZE = 20
LEDGER_PAGE_SIZE = 25
SANDBOX = "sandbox"
# JSON endpoints of this domain the pages' scripts call (orders.api).
CHECKIN_API = "/api/checkin"
SANDBOX_CALLBACK = "/api/payments/callback/sandbox"


def _page(request, items, size: int = PAGE_SIZE):
    return Paginator(items, size).get_page(request.GET.get("page"))


def _server_now() -> str:
    return f"{timezone.now().timestamp():.3f}"


# --- checkout and the buyer's orders -----------------------------------------------------


@role_required(*ANY_ROLE)
@require_POST
def checkout(request):
    """The buyer's holds (`hold`, one or more, of one event) become a pending order. Roles: any signed-in user."""
    hold_ids = [int(h) for h in request.POST.getlist("hold") if h.strip().isdigit()]
    order = services.order_create(user=request.user, hold_ids=hold_ids)
    return redirect("orders:detail", pk=order.pk)


@role_required(*ANY_ROLE)
@require_GET
def order_list(request):
    """The buyer's orders, newest first. Roles: any signed-in user (their own)."""
    return render(request, "orders/list.html", {"page": _page(request, selectors.orders_of(request.user))})


def _own_order(request, pk: int) -> Order:
    order = selectors.order_of(request.user, pk)
    if order is None:
        raise Http404
    return order


def _detail_context(request, order: Order, *, attendee_form: AttendeesForm | None = None,
                    refund_form: RefundRequestForm | None = None) -> dict:
    lines = selectors.order_lines(order)
    context = {"order": order, "lines": lines, "server_now": _server_now(), "payable": order.is_payable()}
    if context["payable"]:
        wallet = services.wallet_ensure(user=request.user)
        left = max(int((order.expires_at - timezone.now()).total_seconds()), 0)
        context.update(wallet=wallet, can_afford=wallet.balance >= order.total,
                       countdown=f"{left // 60:02d}:{left % 60:02d}",
                       # One key per rendering of the page: a double click or a resubmitted form charges once.
                       pay_key=secrets.token_urlsafe(24))
        if order.event.real_name_required:
            saved = {(a.hold_item_id, a.index): a for a in order.attendees.all()}
            context["attendee_form"] = attendee_form or AttendeesForm(
                lines=lines, saved=saved, people=selectors.saved_attendees_of(request.user))
            context["attendees_missing"] = len(saved) < sum(item.quantity for item in lines)
    else:
        tickets = list(order.tickets.select_related("session", "ticket_type", "seat", "checkin__by", "user"))
        for t in tickets:  # given to another account: its code is theirs now, not shown here
            t.given_to = transfers.party(t.user) if t.user_id != order.user_id else ""
        context.update(tickets=tickets, payments=list(order.payments.all()),
                       refunds=list(order.refunds.select_related("reviewed_by")))
        if order.status == OrderStatus.PAID:
            context["refund_quote"] = quote = services.refund_quote(order=order)
            if quote.allowed:
                context["refund_form"] = refund_form or RefundRequestForm()
    return context


@role_required(*ANY_ROLE)
@require_GET
def order_detail(request, pk: int):
    """One order: lines, total, status; paying (points or the sandbox provider), attendees of real-name
    events, cancelling; once paid its e-tickets, payments, refunds. Roles: its buyer (404 for anyone else)."""
    order = _own_order(request, pk)
    return render(request, "orders/detail.html", _detail_context(request, order))


@role_required(*ANY_ROLE)
@require_POST
def order_attendees(request, pk: int):
    """Names every ticket of a pending real-name order. Roles: its buyer."""
    order = _own_order(request, pk)
    lines = selectors.order_lines(order)
    saved = {(a.hold_item_id, a.index): a for a in order.attendees.all()}
    form = AttendeesForm(request.POST, lines=lines, saved=saved, people=selectors.saved_attendees_of(request.user))
    if not form.is_valid():
        return render(request, "orders/detail.html", _detail_context(request, order, attendee_form=form))
    services.order_set_attendees(user=request.user, order=order, attendees=form.attendees(),
                                 save=form.cleaned_data["save_people"])
    messages.success(request, _("Attendees saved."))
    return redirect("orders:detail", pk=order.pk)


@role_required(*ANY_ROLE)
@require_POST
def order_pay(request, pk: int):
    """Pays with points, once per idempotency key (the page renders a fresh key). Roles: its buyer."""
    order = _own_order(request, pk)
    services.order_pay(user=request.user, order_id=order.pk, idempotency_key=request.POST.get("idempotency_key", ""))
    messages.success(request, _("Paid. Your e-tickets are below: show their QR codes at the door."))
    return redirect("orders:detail", pk=order.pk)


@role_required(*ANY_ROLE)
@require_POST
def order_cancel(request, pk: int):
    """Drops a pending order; its tickets go back on sale. Roles: its buyer."""
    order = _own_order(request, pk)
    services.order_cancel(user=request.user, order_id=order.pk)
    messages.success(request, _("The order was cancelled and its tickets are back on sale."))
    return redirect("orders:detail", pk=order.pk)


@role_required(*ANY_ROLE)
@require_POST
def order_refund(request, pk: int):
    """Asks for a paid order's money back, with a reason. Roles: its buyer."""
    order = _own_order(request, pk)
    form = RefundRequestForm(request.POST)
    if not form.is_valid():
        return render(request, "orders/detail.html", _detail_context(request, order, refund_form=form))
    services.refund_request(user=request.user, order_id=order.pk, reason=form.cleaned_data["reason"],
                            expected_fee=form.cleaned_data["expected_fee"])
    messages.success(request, _("Your refund request was sent; an administrator will review it."))
    return redirect("orders:detail", pk=order.pk)


@role_required(*ANY_ROLE)
@require_POST
def order_promo(request, pk: int):
    """Applies a promo code to a pending order (or takes it off, with `remove`). Roles: its buyer."""
    order = _own_order(request, pk)
    if request.POST.get("remove"):
        promo.order_remove_promo(user=request.user, order_id=order.pk)
        messages.success(request, _("The promo code was taken off."))
        return redirect("orders:detail", pk=order.pk)
    form = PromoApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type a promo code."))
        return redirect("orders:detail", pk=order.pk)
    order = promo.order_apply_promo(user=request.user, order_id=order.pk, code=form.cleaned_data["code"])
    messages.success(request, _("Promo code applied: %(discount)s off.") % {"discount": order.discount})
    return redirect("orders:detail", pk=order.pk)


# --- the sandbox payment provider ----------------------------------------------------------


@role_required(*ANY_ROLE)
@require_http_methods(["GET", "POST"])
def sandbox_pay(request, number: str):
    """Plays an external payment provider for one order: shows the amount and confirms it with a signed
    callback, as a real provider would. Roles: the order's buyer (404 for anyone else)."""
    order = Order.objects.filter(number=number, user=request.user).select_related("event").first()
    if order is None:
        raise Http404
    if request.method == "POST":
        # Without JavaScript the browser cannot send the provider's X-Timestamp/X-Signature headers to
        # /api/payments/callback/sandbox, so this view plays the callback itself, with no HTTP hop:
        # the same signature check (orders.providers.verify), then the same service.
        body = request.POST.get("body", "").encode()
        if not providers.verify(SANDBOX, body, request.POST.get("timestamp"), request.POST.get("signature")):
            raise DomainError(_("This confirmation is not signed correctly or is too old; open the payment page "
                                "again."), code="bad_signature")
        data = json.loads(body)  # signed by us a moment ago, so well-formed
        if data.get("order") != order.number:
            raise DomainError(_("This confirmation is for another order."), code="wrong_order")
        services.payment_confirm_external(provider=SANDBOX, transaction_id=str(data.get("transaction_id", "")),
                                          order_number=order.number, amount=Decimal(str(data.get("amount"))))
        messages.success(request, _("Paid with the sandbox provider. Your e-tickets are below."))
        return redirect("orders:detail", pk=order.pk)
    body = json.dumps({"order": order.number, "amount": str(order.total),
                       "transaction_id": "SBX-" + secrets.token_hex(10)}, separators=(",", ":"))
    timestamp = int(time.time())
    return render(request, "orders/sandbox.html", {
        "order": order, "payable": order.is_payable(), "body": body, "timestamp": timestamp,
        "signature": providers.sign(SANDBOX, body.encode(), timestamp), "callback_url": SANDBOX_CALLBACK,
        "strings": {"failed": _("The provider could not confirm the payment: %(reason)s"),
                    "network": _("The request failed; please try again."), "paying": _("Confirming…")}})


# --- e-tickets ---------------------------------------------------------------------------


def _own_ticket(request, pk: int) -> Ticket:
    ticket = selectors.ticket_of(request.user, pk)
    if ticket is None:
        raise Http404
    return ticket


@role_required(*ANY_ROLE)
@require_GET
def ticket_list(request):
    """The buyer's e-tickets, latest session first. Roles: any signed-in user (their own)."""
    return render(request, "orders/tickets.html", {"page": _page(request, selectors.tickets_of(request.user))})


@role_required(*ANY_ROLE)
@require_GET
def ticket_detail(request, pk: int):
    """One e-ticket with its big QR code, and the form that gives it to another account. Roles: its holder
    (its buyer, or whoever accepted it; 404 for anyone else)."""
    ticket = _own_ticket(request, pk)
    return render(request, "orders/ticket.html", _ticket_context(request, ticket))


def _ticket_context(request, ticket: Ticket, transfer_form=None) -> dict:
    checkin = getattr(ticket, "checkin", None) if ticket.status == TicketStatus.USED else None
    offer = ticket.transfers.filter(status=TransferStatus.PENDING).select_related("to_user").first()
    closes = transfers.transfer_closes(ticket)
    return {"ticket": ticket, "checkin": checkin, "own_order": ticket.order.user_id == request.user.pk,
            "offer": offer if offer and offer.shown_status == TransferStatus.PENDING else None,
            "offer_to": transfers.party(offer.to_user) if offer else "",
            "transfer_closes": closes, "transfer_form": (transfer_form or TransferOfferForm()) if closes else None}


@role_required(*ANY_ROLE)
@require_POST
def ticket_transfer(request, pk: int):
    """Offers the ticket to another account (email or mobile number). Roles: its holder."""
    ticket = _own_ticket(request, pk)
    form = TransferOfferForm(request.POST)
    if not form.is_valid():
        return render(request, "orders/ticket.html", _ticket_context(request, ticket, form), status=400)
    transfer = transfers.transfer_offer(user=request.user, ticket_id=ticket.pk, to=form.cleaned_data["to"])
    messages.success(request, _("Offered to %(to)s. The ticket stays yours until they accept.")
                     % {"to": transfers.party(transfer.to_user)})
    return redirect("orders:ticket", pk=ticket.pk)


@role_required(*ANY_ROLE)
@require_GET
def transfer_list(request):
    """Tickets offered to the user (accept, with the attendee on real-name events, or decline) and the
    transfers they made or received. Roles: any signed-in user (their own)."""
    incoming, history = selectors.transfers_of(request.user)
    people = selectors.saved_attendees_of(request.user)
    offers = [(t, TransferAcceptForm(people=people, prefix=f"t{t.pk}") if t.ticket.event.real_name_required else None,
               transfers.party(t.from_user)) for t in incoming]
    return render(request, "orders/transfers.html", {
        "offers": offers, "history": [(t, transfers.party(t.to_user if t.from_user_id == request.user.pk
                                                          else t.from_user)) for t in history]})


@role_required(*ANY_ROLE)
@require_POST
def transfer_accept(request, pk: int):
    """Takes a ticket offered to the user: a new code, the old one refused at the door. Roles: its receiver."""
    form = TransferAcceptForm(request.POST, people=selectors.saved_attendees_of(request.user), prefix=f"t{pk}")
    if not form.is_valid():
        raise DomainError(_("Check the attendee's name and ID number."), code="bad_attendee")
    ticket = transfers.transfer_accept(user=request.user, transfer_id=pk, attendee=form.attendee())
    messages.success(request, _("The ticket is yours. This is your own QR code: the one it had before no longer "
                                "admits anyone."))
    return redirect("orders:ticket", pk=ticket.pk)


@role_required(*ANY_ROLE)
@require_POST
def transfer_decline(request, pk: int):
    """Says no to a ticket offered to the user. Roles: its receiver."""
    transfers.transfer_decline(user=request.user, transfer_id=pk)
    messages.success(request, _("Declined. The ticket stays with the person who offered it."))
    return redirect("orders:transfers")


@role_required(*ANY_ROLE)
@require_POST
def transfer_cancel(request, pk: int):
    """Withdraws the user's offer of a ticket nobody has accepted yet. Roles: the ticket's holder."""
    transfer = transfers.transfer_cancel(user=request.user, transfer_id=pk)
    messages.success(request, _("Offer withdrawn. The ticket is yours as before."))
    return redirect("orders:ticket", pk=transfer.ticket_id)


def qr_png(text: str, caption: str = "") -> bytes:
    """The QR code as a PNG; with `caption` (the short code) printed under it, for a ticket saved or printed."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    if caption:
        font = ImageFont.load_default(size=44)
        width, height = image.size
        framed = Image.new("RGB", (width, height + 70), "white")
        framed.paste(image, (0, 0))
        ImageDraw.Draw(framed).text((width // 2, height + 10), caption, fill="black", font=font, anchor="mt")
        image = framed
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@role_required(*ANY_ROLE)
@require_GET
def ticket_qr(request, pk: int):
    """The ticket's code as a QR PNG (`?download=1` to save it, with the short code printed under it). Roles: its
    buyer (404 for anyone else)."""
    ticket = _own_ticket(request, pk)
    download = bool(request.GET.get("download"))
    response = HttpResponse(qr_png(ticket.code, ticket.short_code_shown if download else ""), content_type="image/png")
    response["Cache-Control"] = "private, no-store"  # never from a shared browser's cache to the next user
    if download:
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"ticket-{ticket.order.number}-{ticket.pk}.png")
    return response


# --- waiting lists -------------------------------------------------------------------------


@role_required(*ANY_ROLE)
@require_POST
def waitlist_join(request, pk: int):
    """Joins the waiting list of a sold-out ticket type of the session (`ticket_type`, `quantity`, `prepaid`).
    Roles: any signed-in user who may see the event."""
    form = WaitlistJoinForm(request.POST)
    if not form.is_valid():
        raise DomainError(_("Choose how many tickets to wait for."), code="waitlist_quantity")
    c = form.cleaned_data
    entry = waitlist.waitlist_join(user=request.user, session_id=pk, ticket_type_id=c["ticket_type"],
                                   quantity=c["quantity"], prepaid=c["prepaid"])
    messages.success(request, _("You are number %(place)d in line. We will tell you when tickets come back.")
                     % {"place": selectors.place_in_line(entry)})
    return redirect("tickets:session", pk=pk)


@role_required(*ANY_ROLE)
@require_GET
def waitlist_list(request):
    """我的候补: the user's waiting lists, their place in each line, offers and what came of them.
    Roles: any signed-in user (their own)."""
    return render(request, "orders/waitlist.html", {"entries": selectors.waitlist_of(request.user)})


@role_required(*ANY_ROLE)
@require_POST
def waitlist_leave(request, pk: int):
    """Leaves a waiting list (a deposit comes back). Roles: the entry's buyer."""
    entry = waitlist.waitlist_leave(user=request.user, entry_id=pk)
    messages.success(request, _("You have left the waiting list."))
    if request.POST.get("next") == "session":
        return redirect("tickets:session", pk=entry.session_id)
    return redirect("orders:waitlist")


# --- wallets -----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
@require_GET
def wallet(request):
    """The user's points balance and every ledger entry. Roles: any signed-in user (their own)."""
    own = services.wallet_ensure(user=request.user)
    page = _page(request, selectors.wallet_entries(own), LEDGER_PAGE_SIZE)
    return render(request, "orders/wallet.html", {"wallet": own, "page": page})


@role_required(*ANY_ROLE)
@require_http_methods(["GET", "POST"])
def saved_attendees(request):
    """常用观演人: the people the user buys real-name tickets for, to pick at checkout; add one, or remove one
    (`remove=<id>`). ID numbers show masked only. Roles: any signed-in user (their own)."""
    if "remove" in request.POST:
        services.saved_attendee_remove(user=request.user, attendee_id=_int(request.POST["remove"]))
        messages.success(request, _("Attendee removed."))
        return redirect("orders:people")
    form = SavedAttendeeForm(request.POST or None)
    if form.is_valid():
        services.saved_attendee_add(user=request.user, name=form.cleaned_data["name"],
                                    id_number=form.cleaned_data["id_number"])
        messages.success(request, _("Attendee saved."))
        return redirect("orders:people")
    return render(request, "orders/people.html", {"people": selectors.saved_attendees_of(request.user), "form": form,
                                                  "limit": services.MAX_SAVED_ATTENDEES})


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def user_wallet(request, user_id: int):
    """A user's wallet, and adjusting it with a reason kept in the ledger. Roles: admin."""
    target = get_object_or_404(User, pk=user_id)
    form = WalletAdjustForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entry = services.wallet_adjust(actor=request.user, user=target, amount=form.cleaned_data["amount"],
                                       reason=form.cleaned_data["reason"])
        messages.success(request, _("Done: %(user)s now has %(balance)s points.") % {
            "user": target, "balance": entry.balance_after})
        return redirect("orders:user_wallet", user_id=target.pk)
    existing = Wallet.objects.filter(user=target).first()  # looking does not create it (nor its grant)
    page = _page(request, selectors.wallet_entries(existing), LEDGER_PAGE_SIZE) if existing else None
    return render(request, "orders/user_wallet.html", {"target": target, "wallet": existing, "page": page,
                                                       "form": form})


# --- refunds -----------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_GET
def refund_queue(request):
    """Requested refunds, oldest first, to approve or reject. Roles: admin."""
    return render(request, "orders/refund_queue.html", {"page": _page(request, selectors.refund_queue())})


@role_required(Role.ADMIN)
@require_POST
def refund_decide(request, pk: int):
    """Approve (points back, tickets void, stock on sale) or reject (with a reason) one refund. Roles: admin."""
    form = RefundReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or to reject."))
        return redirect("orders:refund_queue")
    approve = form.cleaned_data["decision"] == "approve"
    refund = services.refund_review(actor=request.user, refund_id=pk, approve=approve,
                                    waive_fee=approve and form.cleaned_data["waive_fee"],
                                    reason=form.cleaned_data["reason"])
    payment = refund.order.payments.first()
    if approve and payment is not None and payment.method != PaymentMethod.POINTS:
        # No provider offers a refund API here: the admin returns the money in the provider's own console.
        messages.warning(request, _("Refund of order %(number)s approved. It was paid through %(provider)s "
                                    "(transaction %(transaction)s): return %(amount)s there; no points were "
                                    "credited.") % {"number": refund.order.number, "provider": payment.provider,
                                                    "transaction": payment.transaction_id, "amount": refund.amount})
    elif approve and payment is not None and refund.amount > 0:
        messages.success(request, _("Refund of order %(number)s approved; %(amount)s points went back.") % {
            "number": refund.order.number, "amount": refund.amount})
    elif approve:
        messages.success(request, _("Refund of order %(number)s approved") % {"number": refund.order.number})
    else:
        messages.success(request, _("Refund of order %(number)s rejected; the buyer was told why.") % {
            "number": refund.order.number})
    return redirect("orders:refund_queue")


# --- check-in ----------------------------------------------------------------------------


@role_required(*ANY_ROLE)
@require_GET
def checkin_events(request):
    """Events the user may check tickets in for (their own, those they staff, all for admins): today's by
    default (`when=all` for every one still to come, today's first), searched by title, venue or city (`q`),
    in pages. Roles: any signed-in user (a customer named door staff included); the list is empty for others."""
    form = CheckinEventsForm(request.GET)
    filters = form.filters()
    page = _page(request, selectors.events_for_checkin(request.user, **filters))
    # An empty page says why: nothing today or no match (with a way out), or no event to check in at all.
    has_events = bool(page.object_list) or selectors.events_for_checkin(request.user).exists()
    return render(request, "orders/checkin_events.html", {"form": form, "page": page, "has_events": has_events,
                                                          **filters})


def _checkin_event(request, pk: int) -> Event:
    event = get_object_or_404(Event, pk=pk)
    if not services.can_check_in(request.user, event):
        raise Forbidden(_("You are not door staff of this event."))
    return event


def _scan_strings(event: Event, sessions) -> dict:
    """What checkin.js says, translated here so the script carries no language of its own."""
    return {
        "labels": {value: str(label) for value, label in ScanResult.choices},
        "sessions": {session.pk: str(session) for session in sessions},
        "start": _("Start camera"), "stop": _("Stop camera"), "checking": _("Checking…"),
        "retrying": _("No connection; trying again…"), "retry": _("Try again"),
        "offline": _("The scan did not reach the server. Check the connection and try again."),
        "no_camera": _("This browser cannot open the camera here (it needs HTTPS or 127.0.0.1); type the code "
                       "instead."),
        "camera_denied": _("The camera could not be opened: %(reason)s"),
        "failed": _("The request failed; please try again."),
        "override": _("Admit anyway (admin override)"),
        # Offline check-in (the page's "Offline" card and the local answers).
        "online": _("Online"), "offline_state": _("Offline"), "never": _("never"),
        "downloading": _("Downloading…"), "download_failed": _("The download failed: %(reason)s"),
        "downloaded": _("Downloaded %(when)s: %(count)s tickets."),
        "not_downloaded": _("Not downloaded yet: download this session before the network goes."),
        "syncing": _("Sending…"), "sync_failed": _("Sending failed: %(reason)s. The scans stay queued."),
        "synced": _("%(count)s scans sent."), "conflicts_found": _("%(count)s conflicts reported to the organiser."),
        "local_ok": _("Admitted (checked on this device; sent when online)."),
        "local_unlisted": _("Admitted: a genuine ticket issued after the last download (no details on this "
                            "device)."),
        "local_used": _("Refused: already admitted on this device at %(when)s."),
        "local_used_server": _("Refused: already used at %(when)s (when downloaded)."),
        "local_wrong_day": _("Refused: this ticket is for the session of %(when)s, not today's."),
        "local_session_over": _("Refused: this ticket is for the session of %(when)s, which is over."),
        "local_other_session": _("Refused: this ticket is for the session of %(when)s; this device has only "
                                 "downloaded %(here)s."),
        "local_unknown_short": _("Not a valid code: no ticket of the downloaded session has this short code."),
        "local_refused": _("Refused: %(reason)s."),
        "no_data": _("No connection, and this session is not downloaded on this device: the scan cannot be "
                     "checked."),
        "no_crypto": _("This browser cannot verify signatures offline (Ed25519); use a current Chrome or Edge."),
        "queued": _("queued"), "sent": _("sent"),
    }


@role_required(*ANY_ROLE)
@require_http_methods(["GET", "POST"])
def checkin_page(request, pk: int):
    """The door: camera scanning (static/js/checkin.js, through /api/checkin) and a manual code form that
    works without JavaScript. Roles: the event's publisher, its named staff, admins (403 for others)."""
    event = _checkin_event(request, pk)
    outcome = None
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The nonce was rendered with the form: the same form sent twice gets the same answer.
        outcome = services.checkin_scan(staff=request.user, event=event, code=form.cleaned_data["code"],
                                        nonce=form.cleaned_data["nonce"], override=form.cleaned_data["override"])
    if request.method == "GET" or outcome is not None:
        form = ScanForm(initial={"nonce": secrets.token_hex(16)})
    sessions = list(event.sessions.all())
    return render(request, "orders/checkin.html", {
        "event": event, "form": form, "outcome": outcome, "counts": selectors.checkin_counts(event),
        # An admin's "admit anyway" on a refusal for the session's day is a new scan: a fresh nonce.
        "override_nonce": secrets.token_hex(16) if outcome and outcome.overridable_by(request.user) else None,
        "api_url": CHECKIN_API, "strings": _scan_strings(event, sessions),
        "is_publisher": event.publisher_id == request.user.pk,
        "sessions": sessions, "door_session": _door_session(sessions),
        "conflict_count": event.checkin_conflicts.count(),
        "offline_urls": {"sync": reverse("orders:api_checkin_sync"),
                         "revocations": reverse("orders:api_checkin_revocations", args=[event.pk]),
                         "tickets": reverse("orders:api_checkin_tickets", args=[event.pk, 0]).replace("/0/", "/{session}/"),
                         "sw": reverse("orders:checkin_sw")}})


def _door_session(sessions) -> int | None:
    """The session the door most likely checks in now: one at the door, else the next to come, else the last."""
    now = timezone.now()
    live = [s for s in sessions if selectors.session_at_the_door(s, now) and not s.cancelled_at]
    coming = [s for s in sessions if s.start_time > now]
    chosen = (live or coming or sessions[-1:] or [None])[0]
    return chosen.pk if chosen else None


@role_required(*ANY_ROLE)
@require_GET
def checkin_conflicts(request, pk: int):
    """Tickets admitted offline that were already let in elsewhere or that the server refuses: the ticket,
    both admissions' staff, gate, device and time. Roles: as the check-in page (publisher, staff, admins)."""
    event = _checkin_event(request, pk)
    page = _page(request, selectors.checkin_conflicts(event))
    return render(request, "orders/checkin_conflicts.html", {"event": event, "page": page,
                                                             "is_publisher": event.publisher_id == request.user.pk})


# The PWA's files: the service worker lives under /checkin/ so that its scope covers the door's pages.
CHECKIN_ASSETS = ["vendor/bootstrap-5.3.9/bootstrap.min.css", "css/app.css", "vendor/bootstrap-5.3.9/bootstrap.bundle.min.js",
                  "js/app.js", "js/search.js", "js/track.js", "vendor/jsqr-1.4.0/jsQR.js", "js/checkin-offline.js", "js/checkin.js",
                  "img/favicon.svg", "img/checkin-192.png", "img/checkin-512.png"]


@functools.cache
def _checkin_precache() -> tuple[list[str], str]:
    """The assets the service worker keeps, and a version that changes with any of them (its cache's name)."""
    htmx = re.findall(r'src="([^"]+)"', Template("{% load django_htmx %}{% htmx_script %}").render(Context()))
    urls = [static(path) for path in CHECKIN_ASSETS] + htmx
    digest = hashlib.sha256(render_to_string("orders/checkin_sw.js").encode())
    for path in CHECKIN_ASSETS + [url.removeprefix(settings.STATIC_URL) for url in htmx]:
        found = finders.find(path)
        digest.update(path.encode() + (Path(found).read_bytes() if found else b""))
    return urls, digest.hexdigest()[:12]


@require_GET
def checkin_service_worker(request):
    """The check-in PWA's service worker (static/js in a template, so it can name the hashed assets it keeps).
    Public: it holds no data; the pages it caches are the signed-in user's."""
    urls, version = _checkin_precache()
    offline = {"title": _("No connection"), "link": _("Check-in"),
               "text": _("This page was not opened on this device while online, so it cannot be shown offline. "
                         "Open the event's check-in page while online first.")}
    response = render(request, "orders/checkin_sw.js", {"assets": json.dumps(urls), "version": version,
                                                        "scope": reverse("orders:checkin_events"), "offline": offline},
                      content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"  # the browser asks again each time it checks for an update
    response["Service-Worker-Allowed"] = reverse("orders:checkin_events")
    return response


@require_GET
def checkin_manifest(request):
    """The check-in PWA's web app manifest, in the visitor's language. Public."""
    manifest = {
        "name": _("Ticket check-in"), "short_name": _("Check-in"), "lang": request.LANGUAGE_CODE,
        "description": _("Scan tickets at the door, also without a connection."),
        "start_url": reverse("orders:checkin_events"), "scope": reverse("orders:checkin_events"),
        "display": "standalone", "orientation": "portrait", "background_color": "#ffffff", "theme_color": "#c2185b",
        "icons": [{"src": static("img/checkin-192.png"), "sizes": "192x192", "type": "image/png"},
                  {"src": static("img/checkin-512.png"), "sizes": "512x512", "type": "image/png"},
                  {"src": static("img/checkin-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"}],
    }
    return JsonResponse(manifest, content_type="application/manifest+json",
                        json_dumps_params={"ensure_ascii": False})


@role_required(*ANY_ROLE)
@require_GET
def checkin_counts(request, pk: int):
    """Checked in / total per session, for htmx to poll. Roles: as the check-in page."""
    event = _checkin_event(request, pk)
    return render(request, "orders/partials/checkin_counts.html", {"event": event,
                                                                   "counts": selectors.checkin_counts(event)})


# --- publishers: door staff and orders ---------------------------------------------------


def _own_event(request, pk: int) -> Event:
    event = get_object_or_404(Event, pk=pk)
    if event.publisher_id != request.user.pk:
        raise Http404  # another publisher's event is not there, as far as you know
    return event


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def staff_list(request, pk: int):
    """The event's door staff: add by username or email, remove. Roles: the event's publisher."""
    event = _own_event(request, pk)
    form = StaffAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        staff = services.staff_add(actor=request.user, event=event, login=form.cleaned_data["login"])
        messages.success(request, _("%(user)s can now check tickets in for this event.") % {"user": staff.user})
        return redirect("orders:staff", pk=event.pk)
    staff = EventStaff.objects.filter(event=event).select_related("user").order_by("added_at", "pk")
    return render(request, "orders/staff.html", {"event": event, "staff": staff, "form": form})


@role_required(Role.PUBLISHER)
@require_POST
def staff_remove(request, pk: int, user_id: int):
    """Takes one account off the event's door staff. Roles: the event's publisher."""
    event = _own_event(request, pk)
    services.staff_remove(actor=request.user, event=event, user_id=user_id)
    messages.success(request, _("Removed from the door staff."))
    return redirect("orders:staff", pk=event.pk)


@role_required(Role.PUBLISHER)
@require_http_methods(["GET", "POST"])
def promo_codes(request, pk: int):
    """The event's promo codes: make one or many, switch them off, export them (?format=csv).
    Roles: the event's publisher."""
    event = _own_event(request, pk)
    codes = event.promo_codes.prefetch_related("ticket_types")
    if request.GET.get("format") == "csv":
        response = HttpResponse(promo.promo_csv(promo.with_access_uses(codes)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, f"promo-codes-{event.pk}.csv")
        return response
    form = PromoForm(request.POST or None, event=event)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip()
        try:
            if code:
                made = [promo.promo_create(actor=request.user, event=event, code=code, data=form.terms())]
            else:
                made = promo.promo_generate(actor=request.user, event=event, count=form.cleaned_data["count"],
                                            prefix=form.cleaned_data["prefix"], data=form.terms())
        except DomainError as error:  # shown on the form, with what was typed kept
            form.add_error(None, str(error))
        else:
            messages.success(request, _("%(n)d promo code(s) made.") % {"n": len(made)})
            return redirect("orders:promo_codes", pk=event.pk)
    page = _page(request, codes)
    for code in promo.with_access_uses(page):
        code.type_names = ", ".join(t.name for t in code.ticket_types.all())
    return render(request, "orders/promo_codes.html", {"event": event, "page": page, "form": form})


@role_required(Role.PUBLISHER)
@require_POST
def promo_switch(request, pk: int, code_pk: int):
    """Switches one of the event's codes off (or on again). Roles: the event's publisher."""
    event = _own_event(request, pk)
    code = get_object_or_404(event.promo_codes, pk=code_pk)
    promo.promo_switch(actor=request.user, promo=code, active=request.POST.get("active") == "1")
    return redirect("orders:promo_codes", pk=event.pk)


@role_required(Role.PUBLISHER)
@require_GET
def publisher_orders(request, pk: int):
    """The event's sold orders with buyer, tickets, total, status. Roles: the event's publisher."""
    event = _own_event(request, pk)
    page = _page(request, selectors.orders_for_publisher(request.user, event=event))
    return render(request, "orders/publisher_orders.html", {"event": event, "page": page})


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (buyers choose their names)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


@role_required(Role.PUBLISHER)
@require_GET
def publisher_orders_csv(request, pk: int):
    """The event's sold tickets, one row each, as CSV (UTF-8 with BOM so Excel reads Chinese). Roles: its publisher."""
    event = _own_event(request, pk)
    orders = selectors.orders_for_publisher(request.user, event=event).prefetch_related("tickets__checkin")
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Order number"), _("Order status"), _("Buyer"), _("Email"), _("Paid at"), _("Session"),
                     _("Ticket type"), _("Seat"), _("Price"), _("Attendee"), _("ID number"), _("Ticket status"),
                     _("Checked in at")])
    for order in orders:
        for ticket in order.tickets.all():
            checkin = getattr(ticket, "checkin", None)
            writer.writerow([order.number, order.get_shown_status_display(), _cell(order.user.username),
                             _cell(order.user.email or ""), _when(order.paid_at), _cell(ticket.session),
                             _cell(ticket.ticket_type.name), _cell(ticket.seat.label if ticket.seat_id else ""),
                             ticket.price, _cell(ticket.attendee_name), _cell(ticket.attendee_id_masked),
                             ticket.get_status_display(), _when(checkin.at if checkin else None)])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True,
                                                                 filename=f"orders-event-{event.pk}.csv")
    return response
