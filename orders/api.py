"""The JSON API of orders: checkout, payment (points and provider callbacks), refunds, wallets, e-tickets, check-in.

A buyer's own orders, tickets and wallet only: anyone else's answer 404, never
403, so ids cannot be probed. Domain errors become {detail, code} with a 4xx.
"""

import json
import logging

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import HOT_PATH_AUTHENTICATION, AnyBuyer
from accounts.models import Role, User
from accounts.permissions import ANY_ROLE, roles
from accounts.serializers import ErrorSerializer
from events.models import Event
from orders.models import ScanResult
from orders import answers, codes, promo, providers, selectors, services, transfers, waitlist
from orders.serializers import (
    AttendeesSerializer,
    CallbackResultSerializer,
    CallbackSerializer,
    CheckinSerializer,
    CheckinSyncResultSerializer,
    CheckinSyncSerializer,
    DoorTicketListSerializer,
    LedgerEntrySerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    PaySerializer,
    PromoApplySerializer,
    PromoBatchSerializer,
    PromoCodeSerializer,
    PromoWriteSerializer,
    RefundQuoteSerializer,
    RefundRequestSerializer,
    RefundReviewSerializer,
    RefundSerializer,
    RevocationsSerializer,
    SavedAttendeeSerializer,
    SavedAttendeeWriteSerializer,
    ScanResultSerializer,
    TicketSerializer,
    TransferAcceptSerializer,
    TransferOfferSerializer,
    TransferSerializer,
    WaitlistEntrySerializer,
    WaitlistJoinSerializer,
    WalletAdjustSerializer,
    WalletSerializer,
)
from ticketing.errors import NotFound
from ticketing.throttling import FailOpenThrottle
from tickets import waiting_room
from tickets.services import BadHoldRequest

log = logging.getLogger(__name__)
ERRORS = OpenApiResponse(ErrorSerializer)
BUYER = roles(*ANY_ROLE)


class OrderThrottled:
    throttle_classes = [FailOpenThrottle]
    throttle_scope = "orders"


def _own_order(user, order_id: int):
    order = selectors.order_of(user, order_id)
    if order is None:
        raise NotFound(_("No such order."))
    return order


def _detail(order, code=status.HTTP_200_OK) -> Response:
    return Response(OrderDetailSerializer(selectors.order_with_details(order.pk)).data, status=code)


class OrderCreateView(OrderThrottled, APIView):
    authentication_classes = HOT_PATH_AUTHENTICATION
    permission_classes = [AnyBuyer]

    @extend_schema(summary="Order tickets: from your holds, or seats / quantities at once",
                   description="With `holds`: a pending order of those live holds, due when the first lapses; the "
                   "same holds again return the same order. With `session` and `seats` or `quantities`: the "
                   "tickets are held and ordered in one transaction (all or none; the hold's errors: sold_out, "
                   "seat_taken, over_limit …), due when the hold would lapse; while a hot session's waiting "
                   "room is open, only with its admission (`X-Waiting-Room-Token`, else 403 "
                   "`waiting_room_required`).", request=OrderCreateSerializer,
                   responses={201: OrderDetailSerializer, 400: ERRORS, 403: ERRORS, 404: ERRORS, 409: ERRORS},
                   tags=["orders"])
    def post(self, request):
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("holds"):
            checkout = services.order_checkout(user=request.user, hold_ids=v["holds"])
        else:
            try:
                quantities = {int(k): n for k, n in v["quantities"].items()}
            except ValueError as exc:
                raise BadHoldRequest(_("Unknown ticket type for this event.")) from exc
            checkout = services.order_create_direct(user=request.user, session_id=v["session"],
                                                    seat_ids=v["seats"], quantities=quantities,
                                                    access_code=v["access_code"],
                                                    admission=waiting_room.request_token(request, v["session"]))
        return Response(answers.order_detail(checkout), status=status.HTTP_201_CREATED)


class OrderPayView(OrderThrottled, APIView):
    authentication_classes = HOT_PATH_AUTHENTICATION
    permission_classes = [AnyBuyer]

    @extend_schema(summary="Pay an order with points", description="Idempotent on `idempotency_key`: a retried "
                   "or doubled request charges once and returns the same payment.", request=PaySerializer,
                   responses={200: OrderDetailSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, order_id: int):
        data = PaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        checkout = services.order_pay_checkout(user=request.user, order_id=order_id,
                                               idempotency_key=data.validated_data["idempotency_key"])
        return Response(answers.order_detail(checkout))


class OrderRefundView(OrderThrottled, APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Ask for a refund", description="A paid order none of whose tickets is used, while "
                   "the event's refund policy allows it; the fee it names is fixed now (see the refund quote). An "
                   "administrator decides.", request=RefundRequestSerializer,
                   responses={200: OrderDetailSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def put(self, request, order_id: int):
        data = RefundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.refund_request(user=request.user, order_id=order_id, reason=data.validated_data["reason"],
                                expected_fee=data.validated_data["expected_fee"])
        return _detail(_own_order(request.user, order_id))


class OrderRefundQuoteView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="What a refund would give back now", description="By the event's refund policy: the "
                   "fee, the amount, or why no refund is possible. Your own orders only.",
                   responses={200: RefundQuoteSerializer, 404: ERRORS}, tags=["orders"])
    def get(self, request, order_id: int):
        order = _own_order(request.user, order_id)
        return Response(RefundQuoteSerializer(services.refund_quote(order=order)).data)


class OrderCancelView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Cancel a pending order", request=None,
                   responses={200: OrderDetailSerializer, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, order_id: int):
        services.order_cancel(user=request.user, order_id=order_id)
        return _detail(_own_order(request.user, order_id))


class OrderAttendeesView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Name the attendees of a real-name order", request=AttendeesSerializer,
                   responses={200: OrderDetailSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, order_id: int):
        data = AttendeesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = _own_order(request.user, order_id)
        services.order_set_attendees(user=request.user, order=order, save=data.validated_data["save"], attendees=[
            (a["hold_item"], a["index"], a["name"], a["id_number"], a["saved"])
            for a in data.validated_data["attendees"]])
        return _detail(order)


class SavedAttendeesView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(summary="Your saved attendees (常用观演人)", description="ID numbers masked only.",
                   responses={200: SavedAttendeeSerializer(many=True), 401: ERRORS}, tags=["attendees"])
    def get(self, request):
        return Response(SavedAttendeeSerializer(selectors.saved_attendees_of(request.user), many=True).data)

    @extend_schema(summary="Save an attendee", description="Checked as at checkout; the same ID number again "
                   "renames that attendee. At most 20.", request=SavedAttendeeWriteSerializer,
                   responses={201: SavedAttendeeSerializer, 400: ERRORS, 401: ERRORS}, tags=["attendees"])
    def post(self, request):
        data = SavedAttendeeWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = services.saved_attendee_add(user=request.user, **data.validated_data)
        return Response(SavedAttendeeSerializer(person).data, status=status.HTTP_201_CREATED)


class SavedAttendeeView(APIView):
    permission_classes = [roles(*ANY_ROLE)]

    @extend_schema(summary="Forget a saved attendee", description="204 whether or not it was yours to forget.",
                   request=None, responses={204: None, 401: ERRORS}, tags=["attendees"])
    def delete(self, request, attendee_id: int):
        services.saved_attendee_remove(user=request.user, attendee_id=attendee_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderListView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Your orders", responses={200: OrderSerializer(many=True)}, tags=["orders"])
    def get(self, request):
        return Response(OrderSerializer(selectors.orders_of(request.user)[:200], many=True).data)


class OrderDetailView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="One of your orders", responses={200: OrderDetailSerializer, 404: ERRORS},
                   tags=["orders"])
    def get(self, request, order_id: int):
        return _detail(_own_order(request.user, order_id))


class EventOrdersView(APIView):
    permission_classes = [roles(Role.PUBLISHER)]

    @extend_schema(summary="Orders of your event", responses={200: OrderSerializer(many=True), 404: ERRORS},
                   tags=["orders"])
    def get(self, request, event_id: int):
        event = Event.objects.filter(pk=event_id, publisher=request.user).first()
        if event is None:
            raise NotFound()
        return Response(OrderSerializer(selectors.orders_for_publisher(request.user, event=event), many=True).data)


class OrderPromoView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Apply a promo code to your pending order", description="The discount is fixed on the "
                   "order at once (`total` is what will be charged); a code already on it is replaced. 400 "
                   "`promo_invalid` (no such code, not valid now, not for these tickets, your own limit reached), "
                   "409 `promo_used_up`.", request=PromoApplySerializer,
                   responses={200: OrderDetailSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, order_id: int):
        data = PromoApplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _detail(promo.order_apply_promo(user=request.user, order_id=order_id, code=data.validated_data["code"]))

    @extend_schema(summary="Take the promo code off your pending order", request=None,
                   responses={200: OrderDetailSerializer, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def delete(self, request, order_id: int):
        return _detail(promo.order_remove_promo(user=request.user, order_id=order_id))


class EventPromoCodesView(APIView):
    permission_classes = [roles(Role.PUBLISHER, Role.ADMIN)]

    def _event(self, request, event_id: int) -> Event:
        event = Event.objects.filter(pk=event_id).first()
        if event is None or not (request.user.role == Role.ADMIN or event.publisher_id == request.user.pk):
            raise NotFound()
        return event

    @extend_schema(summary="Your event's promo codes", responses={200: PromoCodeSerializer(many=True), 404: ERRORS},
                   tags=["orders"])
    def get(self, request, event_id: int):
        codes = self._event(request, event_id).promo_codes.prefetch_related("ticket_types")
        return Response(PromoCodeSerializer(promo.with_access_uses(codes), many=True).data)

    @extend_schema(summary="Make promo codes", description="One code named `code`, or `count` single-use codes "
                   "made up for you (letters and digits that are hard to misread, after `prefix`).",
                   request=PromoWriteSerializer,
                   responses={201: PromoCodeSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, event_id: int):
        event = self._event(request, event_id)
        data = PromoWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        terms = promo.PromoData(kind=v["kind"], value=v["value"], ticket_type_ids=v["ticket_types"],
                                valid_from=v["valid_from"], valid_until=v["valid_until"], max_uses=v["max_uses"],
                                max_per_buyer=v["max_per_buyer"])
        if v["code"].strip():
            code = promo.promo_create(actor=request.user, event=event, code=v["code"], data=terms)
            return Response(PromoCodeSerializer(code).data, status=status.HTTP_201_CREATED)
        codes = promo.promo_generate(actor=request.user, event=event, count=v["count"], prefix=v["prefix"], data=terms)
        return Response(PromoBatchSerializer({"codes": codes}).data, status=status.HTTP_201_CREATED)


class MyTicketsView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Your e-tickets", responses={200: TicketSerializer(many=True)}, tags=["orders"])
    def get(self, request):
        return Response(TicketSerializer(selectors.tickets_of(request.user)[:500], many=True).data)


class MyTicketView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="One of your e-tickets", responses={200: TicketSerializer, 404: ERRORS}, tags=["orders"])
    def get(self, request, ticket_id: int):
        ticket = selectors.ticket_of(request.user, ticket_id)
        if ticket is None:
            raise NotFound(_("No such ticket."))
        return Response(TicketSerializer(ticket).data)


class TicketTransferView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Offer your ticket to another account (转赠)", description="A paid, unused ticket, "
                   "before the event's cut-off, to the account with this email or mobile number, which is told and "
                   "must accept (POST /api/transfers/<id>/accept). One open offer per ticket (409 "
                   "`transfer_pending`); 409 `transfer_not_allowed` says why a ticket cannot move.",
                   request=TransferOfferSerializer, responses={201: TransferSerializer, 400: ERRORS, 404: ERRORS,
                                                               409: ERRORS}, tags=["transfers"])
    def post(self, request, ticket_id: int):
        data = TransferOfferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = transfers.transfer_offer(user=request.user, ticket_id=ticket_id, to=data.validated_data["to"])
        return Response(TransferSerializer(transfer, context={"user_id": request.user.pk}).data,
                        status=status.HTTP_201_CREATED)


class TransferListView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Transfers offered to you, and those you made or received",
                   responses={200: TransferSerializer(many=True)}, tags=["transfers"])
    def get(self, request):
        incoming, history = selectors.transfers_of(request.user)
        return Response(TransferSerializer(incoming + history, many=True, context={"user_id": request.user.pk}).data)


class TransferAcceptView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Accept a ticket offered to you", description="The ticket becomes yours with a new "
                   "code; its old code is refused at the door from now on. Real-name events: name the attendee "
                   "(`saved`, or `name` and `id_number`). Errors: `transfer_closed`, `transfer_not_allowed`, "
                   "`over_limit` (your limit per buyer counts it), `bad_id_number`, `id_number_taken`.",
                   request=TransferAcceptSerializer, responses={200: TicketSerializer, 400: ERRORS, 404: ERRORS,
                                                                409: ERRORS}, tags=["transfers"])
    def post(self, request, transfer_id: int):
        data = TransferAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        ticket = transfers.transfer_accept(user=request.user, transfer_id=transfer_id, attendee=transfers.Attendee(
            name=v["name"], id_number=v["id_number"], saved_id=v["saved"]))
        return Response(TicketSerializer(ticket).data)


class TransferDeclineView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Decline a ticket offered to you", request=None,
                   responses={200: TransferSerializer, 404: ERRORS, 409: ERRORS}, tags=["transfers"])
    def post(self, request, transfer_id: int):
        transfer = transfers.transfer_decline(user=request.user, transfer_id=transfer_id)
        return Response(TransferSerializer(transfer, context={"user_id": request.user.pk}).data)


class TransferCancelView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Withdraw your offer of a ticket", description="While nobody has accepted it.",
                   request=None, responses={200: TransferSerializer, 404: ERRORS, 409: ERRORS}, tags=["transfers"])
    def post(self, request, transfer_id: int):
        transfer = transfers.transfer_cancel(user=request.user, transfer_id=transfer_id)
        return Response(TransferSerializer(transfer, context={"user_id": request.user.pk}).data)


class CheckinRevocationsView(APIView):
    permission_classes = [roles(*ANY_ROLE)]  # door staff may be customer accounts; the event decides

    @extend_schema(summary="Codes the door refuses for an event, for scanners that verify offline",
                   description="The event's public key (codes are Ed25519-signed, see orders.codes) and every "
                   "serial whose code is genuine but must be refused: `void` (refunded or cancelled) and "
                   "`transferred` (replaced by a new code when a transfer was accepted). The event's publisher, "
                   "its staff and admins; anyone else 404.",
                   responses={200: RevocationsSerializer, 404: ERRORS}, tags=["checkin"])
    def get(self, request, event_id: int):
        event = Event.objects.filter(pk=event_id).first()
        if event is None or not services.can_check_in(request.user, event):
            raise NotFound(_("No such event among those you check in."))
        return Response(RevocationsSerializer({"event": event.pk, "public_key": codes.public_key_b64(),
                                               "revoked": transfers.revocations(event.pk)}).data)


def _door_event(user, event_id: int) -> Event:
    event = Event.objects.filter(pk=event_id).first()
    if event is None or not services.can_check_in(user, event):
        raise NotFound(_("No such event among those you check in."))
    return event


class CheckinTicketListView(APIView):
    permission_classes = [roles(*ANY_ROLE)]  # door staff may be customer accounts; the event decides

    @extend_schema(summary="A session's tickets, for scanners that check in offline",
                   description="Every valid or used ticket of the session by serial (orders.codes.serial) with its "
                   "short code, type, seat, attendee (real-name events) and check-in time if used; the event's "
                   "sessions with the window in which the door admits each. With the public key and the "
                   "revocation list (…/revocations) a scanner can verify codes without the network. The event's "
                   "publisher, its staff and admins; anyone else (and a session of another event) 404.",
                   responses={200: DoorTicketListSerializer, 404: ERRORS}, tags=["checkin"])
    def get(self, request, event_id: int, session_id: int):
        event = _door_event(request.user, event_id)
        sessions = selectors.door_sessions(event)
        session = next((s for s in sessions if s["id"] == session_id), None)
        if session is None:
            raise NotFound(_("No such session of this event."))
        tickets = selectors.session_ticket_list(event.sessions.get(pk=session_id))
        return Response(DoorTicketListSerializer({
            "event": event.pk, "session": session, "sessions": sessions, "real_name": event.real_name_required,
            "generated_at": timezone.now(), "tickets": tickets}).data)


class CheckinSyncView(APIView):
    permission_classes = [roles(*ANY_ROLE)]  # door staff may be customer accounts; the event decides

    @extend_schema(summary="Send the scans a scanner made offline",
                   description="Up to 500 scans of one event, each with the nonce, time and answer the device "
                   "gave. Each is recorded by the door's rules at its time: refusals as given; admissions checked in "
                   "then, or reported as a `conflict` when the ticket had already been let in elsewhere (who, "
                   "where, when: the event's check-in conflicts page) or the server would have refused it. "
                   "Idempotent: scans already sent (same nonce) answer as the first time, so a batch may be sent "
                   "again whole. The event's publisher, its staff and admins; anyone else 404.",
                   request=CheckinSyncSerializer, responses={200: CheckinSyncResultSerializer, 400: ERRORS,
                                                              404: ERRORS}, tags=["checkin"])
    def post(self, request):
        data = CheckinSyncSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = _door_event(request.user, data.validated_data["event"])
        scans = [services.OfflineScan(**scan) for scan in data.validated_data["scans"]]
        outcomes = services.checkin_sync(staff=request.user, event=event, scans=scans)
        return Response(CheckinSyncResultSerializer({"event": event.pk, "synced_at": timezone.now(), "scans": [
            {"nonce": outcome.scan.nonce, "result": outcome.scan.result, "admitted": outcome.admitted,
             "conflict": outcome.scan.result == ScanResult.CONFLICT, "message": outcome.message}
            for outcome in outcomes]}).data)


class WaitlistView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Your waiting lists (候补)", responses={200: WaitlistEntrySerializer(many=True)},
                   tags=["waitlist"])
    def get(self, request):
        return Response(WaitlistEntrySerializer(selectors.waitlist_of(request.user), many=True).data)

    @extend_schema(summary="Join the waiting list of a sold-out ticket type",
                   description="General admission only. Tickets that come back go to the line first, in order: "
                   "held in your name for WAITLIST_OFFER_MINUTES (order them as any hold), or with `prepaid` "
                   "ordered and paid at once from the points taken now. 409 `not_sold_out` while enough is on "
                   "sale, `waitlist_joined` if you are in that line.", request=WaitlistJoinSerializer,
                   responses={201: WaitlistEntrySerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS},
                   tags=["waitlist"])
    def post(self, request):
        data = WaitlistJoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        entry = waitlist.waitlist_join(user=request.user, session_id=v["session"], ticket_type_id=v["ticket_type"],
                                       quantity=v["quantity"], prepaid=v["prepaid"])
        entry.place = selectors.place_in_line(entry)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistEntryView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Leave a waiting list", description="A deposit comes back in full.", request=None,
                   responses={200: WaitlistEntrySerializer, 404: ERRORS, 409: ERRORS}, tags=["waitlist"])
    def delete(self, request, entry_id: int):
        entry = waitlist.waitlist_leave(user=request.user, entry_id=entry_id)
        entry.place = None
        return Response(WaitlistEntrySerializer(entry).data)


class WalletView(APIView):
    permission_classes = [BUYER]

    @extend_schema(summary="Your points wallet and its ledger (latest 200 entries)",
                   responses={200: WalletSerializer}, tags=["orders"])
    def get(self, request):
        wallet = services.wallet_ensure(user=request.user)
        return Response(WalletSerializer({"balance": wallet.balance,
                                          "entries": selectors.wallet_entries(wallet)[:200]}).data)


class WalletAdjustView(APIView):
    permission_classes = [roles(Role.ADMIN)]

    @extend_schema(summary="Top up or correct a user's wallet", request=WalletAdjustSerializer,
                   responses={201: LedgerEntrySerializer, 400: ERRORS, 404: ERRORS}, tags=["orders"])
    def post(self, request, user_id: int):
        data = WalletAdjustSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        entry = services.wallet_adjust(actor=request.user, user=user, **data.validated_data)
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class RefundQueueView(APIView):
    permission_classes = [roles(Role.ADMIN)]

    @extend_schema(summary="Refunds waiting for a decision", responses={200: RefundSerializer(many=True)},
                   tags=["orders"])
    def get(self, request):
        return Response(RefundSerializer(selectors.refund_queue(), many=True).data)


class RefundReviewView(APIView):
    permission_classes = [roles(Role.ADMIN)]

    @extend_schema(summary="Approve or reject a refund", request=RefundReviewSerializer,
                   responses={200: RefundSerializer, 400: ERRORS, 404: ERRORS, 409: ERRORS}, tags=["orders"])
    def put(self, request, refund_id: int):
        data = RefundReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_review(actor=request.user, refund_id=refund_id,
                                        approve=data.validated_data["decision"] == "approve",
                                        reason=data.validated_data["reason"],
                                        waive_fee=data.validated_data["waive_fee"])
        return Response(RefundSerializer(refund).data)


class CheckinView(APIView):
    permission_classes = [roles(*ANY_ROLE)]  # door staff may be customer accounts; the service checks the event

    @extend_schema(summary="Check a ticket in at the door", description="The event's publisher, its named staff "
                   "and admins. Every scan is recorded; the same nonce returns the same answer. A ticket for a "
                   "session on another day is refused (`wrong_day`, `session_over`) with the session's date; an "
                   "admin may send it again with a new nonce and `override: true` to admit it (recorded); "
                   "`override` from anyone else is 403 `override_not_allowed`.",
                   request=CheckinSerializer, responses={200: ScanResultSerializer, 403: ERRORS, 404: ERRORS},
                   tags=["orders"])
    def post(self, request):
        data = CheckinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        event = Event.objects.filter(pk=v["event"]).first()
        if event is None or not services.can_check_in(request.user, event):
            raise NotFound(_("No such event among those you check in."))
        outcome = services.checkin_scan(staff=request.user, event=event, code=v["code"], nonce=v["nonce"],
                                        override=v["override"], gate=v["gate"], device=v["device"])
        ticket = outcome.ticket
        return Response(ScanResultSerializer({
            "result": outcome.scan.result, "admitted": outcome.admitted, "message": outcome.message,
            "ticket": {"id": ticket.pk, "type": ticket.ticket_type.name,
                       "seat": str(ticket.seat.label) if ticket.seat_id else None,
                       "session": ticket.session_id, "session_start": ticket.session.start_time.isoformat(),
                       "attendee_name": ticket.attendee_name,
                       "attendee_id_masked": ticket.attendee_id_masked} if ticket else None,
            "checked_in_at": outcome.checkin.at if outcome.checkin else None,
            "checked_in_by": str(outcome.checkin.by) if outcome.checkin else None,
            "override_of": outcome.scan.override_of, "overridable": outcome.overridable_by(request.user),
        }).data)


class PaymentCallbackView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []  # providers sign their requests; no session, no CSRF

    @extend_schema(summary="Payment provider callback", description="JSON {order, amount, transaction_id}, "
                   "headers X-Timestamp (unix seconds) and X-Signature = hex HMAC-SHA256 of "
                   "\"<timestamp>.<raw body>\" with the provider's secret. Idempotent on transaction_id.",
                   request=CallbackSerializer, responses={200: CallbackResultSerializer, 400: ERRORS, 403: ERRORS,
                                                          404: ERRORS, 409: ERRORS}, tags=["orders"])
    def post(self, request, provider: str):
        body = request.body
        if not providers.verify(provider, body, request.headers.get("X-Timestamp"),
                                request.headers.get("X-Signature")):
            log.warning("payment callback refused: bad signature or stale timestamp (provider %r, from %s)",
                        provider[:32], request.META.get("REMOTE_ADDR"))
            return Response({"detail": str(_("Bad signature.")), "code": "bad_signature"},
                            status=status.HTTP_403_FORBIDDEN)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ParseError() from exc
        data = CallbackSerializer(data=payload)
        data.is_valid(raise_exception=True)
        payment = services.payment_confirm_external(
            provider=provider, transaction_id=data.validated_data["transaction_id"],
            order_number=data.validated_data["order"], amount=data.validated_data["amount"])
        return Response(CallbackResultSerializer({"order": payment.order.number, "status": payment.order.status,
                                                  "payment": payment}).data)
