"""Every write to orders, wallets, tickets, check-ins and refunds.

Order states (one service per move; an illegal move raises and changes nothing):
    pending → paid → used (every ticket checked in)
    paid → refund_requested → refunded | back to paid (rejected)
    pending → expired | cancelled

Money: a wallet changes only through `_ledger()`, a conditional UPDATE
(balance ≥ debit) plus its ledger row in the caller's transaction, so the sum of
a wallet's ledger is its balance. A purchase, a refund and a welcome grant each
carry a unique `once_key`: the database refuses a second one.

Payment is idempotent on (buyer, idempotency key): a retried or doubled request,
even from two processes at the same instant, charges once and returns the same
Payment. Row locks are taken in one order everywhere: order, wallet, holds/seats.

Each order made, payment, approved refund and admission is a line of the behaviour log
(ticketing.behaviour: `order`, `pay`, `refund`, `checkin`), written after commit from what is at hand.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Min, Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.notifications import admins, notify
from events.models import Event
from events.refunds import RefundPolicy, RefundPolicyKind, fee_of
from orders import announce, codes, identity, promo, selectors
from orders.models import (
    Attendee, CheckIn, CheckinConflict, ConflictKind, EventStaff, LedgerEntry, LedgerKind, Order, OrderHold, OrderStatus, Payment, PaymentMethod,
    Refund, RefundStatus, SavedAttendee, Scan, ScanResult, Ticket, TicketStatus, TicketTransfer, Wallet,
)
from ticketing import behaviour
from ticketing.errors import Conflict, DomainError, Forbidden, NotFound
from ticketing.outbox import outbox_add, outbox_handler
from tickets import services as inventory
from tickets.models import HoldItem, HoldStatus

log = logging.getLogger(__name__)
S = OrderStatus


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    default_message = _("Not enough points: this costs %(amount)s and your wallet holds %(balance)s. Nothing was charged.")


class IllegalTransition(Conflict):
    code = "illegal_transition"
    default_message = _("This order is %(current)s; it cannot become %(target)s.")


class OrderExpired(Conflict):
    code = "order_expired"
    default_message = _("This order was not paid in time and has expired; its tickets are back on sale.")


class AttendeesMissing(DomainError):
    code = "attendees_missing"
    default_message = _("This event has real-name tickets: give each ticket's attendee name and ID number first.")


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"


# --- wallets ------------------------------------------------------------------------


def wallet_ensure(*, user: User) -> Wallet:
    """The user's wallet, created on first use with the demo grant (once, by the database)."""
    wallet = Wallet.objects.filter(user=user).first()
    if wallet is not None:
        return wallet
    try:
        with transaction.atomic():
            wallet = Wallet.objects.create(user=user)
            if settings.WALLET_DEMO_GRANT > 0:
                _ledger(wallet.pk, LedgerKind.GRANT, Decimal(settings.WALLET_DEMO_GRANT),
                        reason="", once_key=f"grant:{wallet.pk}")
    except IntegrityError:  # another request made it first
        pass
    return Wallet.objects.get(user=user)


def _ledger(wallet_id: int, kind: str, amount: Decimal, *, order: Order | None = None, reason: str = "",
            actor: User | None = None, once_key: str | None = None) -> LedgerEntry:
    """Moves `amount` (negative = debit) and writes its row; InsufficientPoints if the balance would go below 0."""
    wallets = Wallet.objects.filter(pk=wallet_id)
    if amount < 0:
        wallets = wallets.filter(balance__gte=-amount)
    if not wallets.update(balance=F("balance") + amount, updated_at=timezone.now()):
        balance = Wallet.objects.filter(pk=wallet_id).values_list("balance", flat=True).get()
        raise InsufficientPoints(amount=-amount, balance=balance)
    balance = Wallet.objects.filter(pk=wallet_id).values_list("balance", flat=True).get()  # ours: row is locked
    return LedgerEntry.objects.create(wallet_id=wallet_id, kind=kind, amount=amount, balance_after=balance,
                                      order=order, reason=reason, actor=actor, once_key=once_key)


def wallet_adjust(*, actor: User, user: User, amount: Decimal, reason: str) -> LedgerEntry:
    """An admin tops up (amount > 0) or corrects a wallet, with a reason kept in the ledger."""
    if actor.role != Role.ADMIN:
        raise Forbidden()
    if not reason.strip():
        raise DomainError(_("Give a reason: it is kept in the ledger."), code="reason_required")
    if amount == 0:
        raise DomainError(_("The amount cannot be zero."), code="zero_amount")
    wallet = wallet_ensure(user=user)
    with transaction.atomic():
        entry = _ledger(wallet.pk, LedgerKind.TOPUP if amount > 0 else LedgerKind.ADJUST, amount,
                        reason=reason.strip(), actor=actor)
        notify(users=[user], kind="wallet", url=reverse("orders:wallet"), params={"amount": amount,
               "balance": entry.balance_after, "reason": reason.strip()},
               title=_("Your points changed by %(amount)s"), body=_("Balance %(balance)s. Reason: %(reason)s"),
               email=False)
    log.info("wallet %s adjusted by %s by admin %s: %s", wallet.pk, amount, actor.pk, reason)
    return entry


# --- orders -------------------------------------------------------------------------


@dataclass
class Checkout:
    """An order as a hot step left it, with what its answer needs (orders.answers renders it, no re-read)."""

    order: Order
    lines: list | None  # (HoldItem with its hold, tickets.catalogue.SessionInfo); None: read it again
    tickets: list = field(default_factory=list)
    payment: Payment | None = None


def order_create(*, user: User, hold_ids: list[int]) -> Order:
    """A pending order from the buyer's live holds of one event, due when the first hold lapses.

    Asking again for the same holds returns the same pending order.
    """
    return order_checkout(user=user, hold_ids=hold_ids).order


def order_checkout(*, user, hold_ids: list[int]) -> Checkout:
    """order_create's work, answering with a Checkout: one read of the holds and their items, two inserts."""
    hold_ids = sorted(set(int(h) for h in hold_ids))
    if not hold_ids:
        raise DomainError(_("Choose some tickets first."), code="no_holds")
    now = timezone.now()
    items = list(HoldItem.objects.filter(hold_id__in=hold_ids, hold__user_id=user.pk)
                 .select_related("hold").annotate(in_order=F("hold__order_hold__order_id")).order_by("pk"))
    if {i.hold_id for i in items} != set(hold_ids):
        _refuse_unknown_holds(user)
    if any(i.in_order for i in items):
        return _order_of_holds_again(user, hold_ids, {i.in_order for i in items})
    holds = {i.hold_id: i.hold for i in items}
    if any(not h.is_live(now) for h in holds.values()):
        raise inventory.HoldExpired()
    infos = {s: inventory.catalogue.session_info(s) for s in {h.session_id for h in holds.values()}}
    if len({info.event_id for info in infos.values()}) != 1:
        raise DomainError(_("One order covers one event; check out each event on its own."), code="mixed_events")
    total = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    event_id = next(iter(infos.values())).event_id
    try:
        with transaction.atomic():
            order = Order.objects.create(user_id=user.pk, event_id=event_id, total=total,
                                         expires_at=min(h.expires_at for h in holds.values()))
            OrderHold.objects.bulk_create(OrderHold(order=order, hold_id=h) for h in hold_ids)
    except IntegrityError as exc:  # the same holds, ordered at the same instant elsewhere
        raise Conflict(_("Some of these tickets are already in another order."), code="hold_in_order") from exc
    behaviour.track_on_commit("order", user=user, event_id=event_id, session_id=_one_session(infos), details={
        "order": order.pk, "tickets": sum(i.quantity for i in items), "amount": float(total)})
    return Checkout(order=order, lines=_lines(items, infos))


def _one_session(session_ids) -> int | None:
    """The session of a behaviour line about an order: its only one, else none (the event says enough)."""
    ids = set(session_ids)
    return next(iter(ids)) if len(ids) == 1 else None


def _lines(items, infos) -> list:
    """Lines in the order the order page shows them: by session start, then as held."""
    lines = [(i, infos[i.hold.session_id]) for i in items]
    return sorted(lines, key=lambda line: (line[1].start_time, line[0].pk))


def _refuse_unknown_holds(user):
    from accounts.authentication import AccountInactive

    if not User.objects.filter(pk=user.pk, is_active=True).exists():
        raise AccountInactive()
    raise NotFound(_("No such hold."))


def _order_of_holds_again(user, hold_ids: list[int], order_ids: set) -> Checkout:
    """The same holds again return the same pending order; holds of another order are refused."""
    same = Order.objects.filter(pk__in=order_ids - {None}).first()
    if len(order_ids) == 1 and same is not None and set(_hold_ids(same)) == set(hold_ids):
        if same.shown_status in (S.EXPIRED, S.CANCELLED):
            raise inventory.HoldExpired()  # that order ended, and its holds with it
        return Checkout(order=same, lines=None)
    raise Conflict(_("Some of these tickets are already in another order."), code="hold_in_order")


def order_create_direct(*, user, session_id: int, seat_ids=(), quantities=None, access_code: str = "",
                        admission: str = "") -> Checkout:
    """Seats or GA quantities straight into a pending order: the hold and the order in one transaction
    (tickets.services.hold_take's rules and errors; NotFound for a session the buyer may not see;
    WaitingRoomRequired without a hot sale's `admission`)."""
    def make_order(taken) -> Order:
        order = Order.objects.create(user_id=user.pk, event_id=taken.info.event_id, total=taken.total,
                                     expires_at=taken.hold.expires_at)
        OrderHold.objects.create(order=order, hold=taken.hold)
        return order

    taken = inventory.hold_take(user=user, session_id=session_id, seat_ids=seat_ids, quantities=quantities,
                                then=make_order, check_visible=True, access_code=access_code, admission=admission)
    for item in taken.items:
        item.hold = taken.hold
    behaviour.track_on_commit("order", user=user, event_id=taken.info.event_id, session_id=session_id, details={
        "order": taken.result.pk, "tickets": sum(i.quantity for i in taken.items), "amount": float(taken.total)})
    return Checkout(order=taken.result, lines=[(i, taken.info) for i in taken.items])


def _hold_ids(order: Order) -> list[int]:
    return list(order.order_holds.values_list("hold_id", flat=True))


def order_set_attendees(*, user: User, order: Order, attendees: list[tuple], save: bool = False) -> Order:
    """Names each ticket of a pending real-name order. Each entry is (hold item id, n-th of its quantity, name,
    ID number) or (hold item id, n-th, "", "", saved attendee id) for one of the buyer's saved attendees.

    ID numbers are checked (orders.identity: a mainland number's date and check character) and kept only
    masked and as a keyed hash. On an event with one ticket per ID number, one order may not name an ID twice
    for a session, nor an ID that already holds a live ticket there (the database refuses it again at payment,
    whoever pays first). `save`: the people typed in join the buyer's saved attendees. All or nothing.
    """
    if order.user_id != user.pk:
        raise NotFound()
    if not order.is_payable():
        raise IllegalTransition(current=order.get_shown_status_display(), target=S.PAID.label)
    items = {i.pk: i for i in HoldItem.objects.filter(hold_id__in=_hold_ids(order)).select_related("hold")}
    saved = {s.pk: s for s in SavedAttendee.objects.filter(user=user)}
    rows, typed = [], []
    for item_id, index, name, id_number, *chosen in attendees:
        item = items.get(item_id)
        if item is None or not 0 <= index < item.quantity:
            raise DomainError(_("This ticket is not in the order."), code="bad_attendee")
        if chosen and chosen[0]:
            person = saved.get(chosen[0])
            if person is None:
                raise DomainError(_("That is not one of your saved attendees."), code="bad_attendee")
            name, masked, key = person.name, person.id_number_masked, person.id_key
        else:
            name = name.strip()
            if not name:
                raise DomainError(_("Each attendee needs a name and an ID number."), code="bad_attendee")
            number = identity.parse(id_number)
            masked, key = number.masked, number.key
            typed.append((name[:64], masked, key))
        rows.append(Attendee(order=order, hold_item=item, index=index, name=name[:64], id_number_masked=masked,
                             id_key=key))
    _check_one_per_id(rows)
    with transaction.atomic():
        order.attendees.all().delete()
        Attendee.objects.bulk_create(rows)
        if save:
            for name, masked, key in typed:
                SavedAttendee.objects.update_or_create(user=user, id_key=key,
                                                       defaults={"name": name, "id_number_masked": masked})
    return order


class IdNumberTaken(Conflict):
    code = "id_number_taken"
    default_message = _("ID number %(masked)s already holds a ticket for this session: one ticket per ID number.")


def _check_one_per_id(rows: list[Attendee]) -> None:
    """Refuses an ID named twice for a session, or one with a live ticket there, where the event limits it."""
    limited = {}
    for row in rows:
        session_id = row.hold_item.hold.session_id
        info = inventory.catalogue.session_info(session_id)
        if info is not None and info.one_ticket_per_id:
            if (session_id, row.id_key) in limited:
                raise DomainError(_("Two tickets of this order name ID number %(masked)s: one ticket per ID "
                                    "number per session.") % {"masked": row.id_number_masked}, code="id_number_twice")
            limited[(session_id, row.id_key)] = row
    if limited and (taken := _live_claims(limited)):
        raise IdNumberTaken(masked=limited[taken[0]].id_number_masked)


def _live_claims(wanted: dict) -> list[tuple[int, str]]:
    """Which of these (session, ID key) pairs already hold a live ticket."""
    claims = Ticket.objects.filter(session_id__in={s for s, _k in wanted}, id_claim__in={k for _s, k in wanted})
    return [pair for pair in claims.values_list("session_id", "id_claim") if pair in wanted]


def _refuse_taken_id(order_id: int) -> None:
    """After a payment's transaction failed on a constraint: IdNumberTaken if another buyer's ticket took one
    of this order's ID numbers first (the unique (session, id_claim) of orders.Ticket)."""
    attendees = Attendee.objects.filter(order_id=order_id).exclude(id_key="").select_related("hold_item__hold")
    wanted = {(a.hold_item.hold.session_id, a.id_key): a for a in attendees}
    if wanted and (taken := _live_claims(wanted)):
        raise IdNumberTaken(masked=wanted[taken[0]].id_number_masked)


MAX_SAVED_ATTENDEES = 20


def saved_attendee_add(*, user: User, name: str, id_number: str) -> SavedAttendee:
    """Adds a person to the buyer's saved attendees (or renames the one with that ID number). BadIdNumber as
    at checkout; at most MAX_SAVED_ATTENDEES each."""
    name = name.strip()[:64]
    if not name:
        raise DomainError(_("Each attendee needs a name and an ID number."), code="bad_attendee")
    number = identity.parse(id_number)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one count per buyer at a time
        existing = SavedAttendee.objects.filter(user=user, id_key=number.key).first()
        if existing is None and SavedAttendee.objects.filter(user=user).count() >= MAX_SAVED_ATTENDEES:
            raise DomainError(_("You can keep at most %(count)s saved attendees: remove one first.")
                              % {"count": MAX_SAVED_ATTENDEES}, code="too_many_attendees")
        person, _created = SavedAttendee.objects.update_or_create(
            user=user, id_key=number.key, defaults={"name": name, "id_number_masked": number.masked})
    return person


def saved_attendee_remove(*, user: User, attendee_id: int) -> bool:
    """Forgets one of the buyer's saved attendees (orders already named keep their attendee)."""
    deleted, _rows = SavedAttendee.objects.filter(user=user, pk=attendee_id).delete()
    return bool(deleted)


def order_pay(*, user: User, order_id: int, idempotency_key: str) -> Payment:
    """Pays a pending order with points, once. Same key again → the same Payment, nothing charged twice.

    Raises NotFound (not the buyer's), OrderExpired, IllegalTransition (paid with
    another key, cancelled …), InsufficientPoints, AttendeesMissing; each changes nothing.
    """
    return order_pay_checkout(user=user, order_id=order_id, idempotency_key=idempotency_key).payment


def order_pay_checkout(*, user, order_id: int, idempotency_key: str) -> Checkout:
    """order_pay's work, answering with a Checkout. The first statement moves the order pending → paid (the
    row lock: a second request for it waits there); a retry or a lost race is answered from the Payment
    row its key wrote."""
    key = (idempotency_key or "").strip()[:64]
    if not key:
        raise DomainError(_("An idempotency key is required."), code="idempotency_key_required")
    try:
        return _pay(user, order_id, key)
    except _NoWallet:  # a first purchase before the wallet was ever opened: made (with its grant), then again
        wallet_ensure(user=User(pk=user.pk))
        return _pay(user, order_id, key)


class _NoWallet(Exception):
    """The buyer has no wallet yet (rolls the payment back; it is made outside the payment, and kept)."""


def _pay(user, order_id: int, key: str) -> Checkout:
    try:
        with transaction.atomic():
            now = timezone.now()
            if not Order.objects.filter(pk=order_id, user_id=user.pk, status=S.PENDING, expires_at__gt=now).update(
                    status=S.PAID, paid_at=now):
                raise _NotPayable()
            items = list(HoldItem.objects.filter(hold__order_hold__order_id=order_id)
                         .select_related("hold__order_hold__order__promo_code").order_by("pk"))
            order = items[0].hold.order_hold.order
            infos = {s: inventory.catalogue.session_info(s) for s in {i.hold.session_id for i in items}}
            if any(info.cancelled for info in infos.values()):
                raise inventory.SessionCancelled()
            attendees = _attendees_of(order, items, infos)
            payment = Payment.objects.create(order=order, user_id=user.pk, amount=order.total,
                                             method=PaymentMethod.POINTS, idempotency_key=key)
            if order.total > 0:
                _charge(user, order, now)
            tickets = _fulfil(order, items, infos, attendees)
    except (_NotPayable, IntegrityError) as failure:  # a retry, a lost race, or not payable at all
        done = Payment.objects.filter(user_id=user.pk, idempotency_key=key).select_related("order").first()
        if done is None:
            if isinstance(failure, IntegrityError):
                _refuse_taken_id(order_id)
            _refuse_payment(user, order_id)
            raise
        _same_order(done, order_id)
        return Checkout(order=done.order, lines=None, payment=done)
    behaviour.track_on_commit("pay", user=user, event_id=order.event_id, session_id=_one_session(infos), details={
        "order": order.pk, "amount": float(order.total), "tickets": len(tickets)})
    return Checkout(order=order, lines=_lines(items, infos), tickets=tickets, payment=payment)


class _NotPayable(Exception):
    """The order was not pending and due when the payment tried it (rolls the payment's transaction back)."""


def _attendees_of(order: Order, items, infos) -> dict:
    """The named attendee of each ticket of a real-name order, (hold item, index) → Attendee; {} otherwise."""
    if not any(info.real_name_required for info in infos.values()):
        return {}
    attendees = {(a.hold_item_id, a.index): a for a in order.attendees.all()}
    if len(attendees) != sum(i.quantity for i in items):
        raise AttendeesMissing()
    return attendees


def _charge(user, order: Order, now) -> None:
    """The purchase's debit and its ledger row (balance after, read by the same INSERT): two statements."""
    debit = {"balance": F("balance") - order.total, "updated_at": now}
    if not Wallet.objects.filter(user_id=user.pk, balance__gte=order.total).update(**debit):
        wallet = Wallet.objects.filter(user_id=user.pk).first()
        if wallet is None:
            raise _NoWallet()
        raise InsufficientPoints(amount=order.total, balance=wallet.balance)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(LedgerEntry._meta.db_table)} (wallet_id, kind, amount, balance_after, order_id, reason,"
            f" actor_id, once_key, created_at) SELECT id, %s, %s, balance, %s, '', NULL, %s, %s"
            f" FROM {q(Wallet._meta.db_table)} WHERE user_id = %s",
            [LedgerKind.PURCHASE.value, -order.total, order.pk, f"purchase:{order.pk}",
             connection.ops.adapt_datetimefield_value(now), user.pk])


def _same_order(payment: Payment, order_id: int) -> Payment:
    if payment.order_id != int(order_id):
        raise Conflict(_("This idempotency key was used for another order."), code="idempotency_key_reused")
    return payment


def _refuse_payment(user, order_id: int):
    order = Order.objects.filter(pk=order_id, user_id=user.pk).first()
    if order is None:
        raise NotFound(_("No such order."))
    if order.shown_status == S.EXPIRED:
        raise OrderExpired()
    raise IllegalTransition(current=order.get_shown_status_display(), target=S.PAID.label)


def _fulfil(order: Order, items, infos, attendees) -> list[Ticket]:
    """Inside the payment's transaction: holds become sold and each seat/ticket gets an e-ticket; the buyer
    hears of it through the outbox (orders.paid), after commit."""
    tickets = []
    prices = _prices_after_discount(order, items)
    for item in items:
        for index in range(item.quantity):
            attendee = attendees.get((item.pk, index))
            tickets.append(Ticket(
                order=order, user_id=order.user_id, event_id=order.event_id, session_id=item.hold.session_id,
                ticket_type_id=item.ticket_type_id, seat_id=item.seat_id, price=prices[item.pk],
                code=codes.ticket_code(event_id=order.event_id, session_id=item.hold.session_id),
                attendee_name=attendee.name if attendee else "",
                attendee_id_masked=attendee.id_number_masked if attendee else "",
                id_claim=attendee.id_key or None if attendee and infos[item.hold.session_id].one_ticket_per_id
                else None))
    Ticket.objects.bulk_create(tickets)
    outbox_add(handler="orders.paid", payload={"order": order.pk})
    # Last: the seat and stock rows every buyer contends for are locked just before the commit.
    inventory.holds_consume(user=order.user_id, hold_ids=sorted({i.hold_id for i in items}), items=items)
    return tickets


def _prices_after_discount(order: Order, items) -> dict:
    """Each hold item's price per ticket, less the order's promo code (so the tickets sum to its total)."""
    if not order.promo_code_id:
        return {i.pk: i.unit_price for i in items}
    off = promo.item_discounts(order.promo_code, items)
    return {i.pk: i.unit_price - off.get(i.pk, 0) for i in items}


@outbox_handler("orders.paid")
def order_paid_notice(*, order: int) -> None:
    """After a payment commits: the buyer's notification (and its mail, through the outbox again)."""
    order = Order.objects.select_related("user", "event").get(pk=order)
    with transaction.atomic():
        notify(users=[order.user], kind="order_paid", url=reverse("orders:detail", args=[order.pk]),
               title=_("Order %(number)s is paid: %(count)s e-tickets"),
               body=_("%(event)s. Show the QR codes at the door; they are on the order page."),
               params={"number": order.number, "count": order.tickets.count(), "event": order.event.title})
        announce.order_paid(order)


def _items_of(order: Order):
    items = list(HoldItem.objects.filter(hold__order_hold__order=order).select_related("hold").order_by("pk"))
    return items, {s: inventory.catalogue.session_info(s) for s in {i.hold.session_id for i in items}}


def payment_confirm_external(*, provider: str, transaction_id: str, order_number: str, amount: Decimal) -> Payment:
    """A provider's signed callback says an order was paid outside: idempotent on its transaction id."""
    done = Payment.objects.filter(provider=provider, transaction_id=transaction_id).first()
    if done is not None:
        return done
    order = Order.objects.filter(number=order_number).first()
    if order is None:
        raise NotFound(_("No such order."))
    if Decimal(amount) != order.total:
        raise DomainError(_("The amount paid does not match the order."), code="amount_mismatch")
    try:
        with transaction.atomic():
            now = timezone.now()
            if not Order.objects.filter(pk=order.pk, status=S.PENDING, expires_at__gt=now).update(
                    status=S.PAID, paid_at=now):
                _refuse_payment(order.user, order.pk)
            order = Order.objects.get(pk=order.pk)
            items, infos = _items_of(order)
            if any(info.cancelled for info in infos.values()):
                raise inventory.SessionCancelled()
            attendees = _attendees_of(order, items, infos)
            payment = Payment.objects.create(order=order, user=order.user, amount=order.total,
                                             method=PaymentMethod.PROVIDER, provider=provider,
                                             transaction_id=transaction_id)
            tickets = _fulfil(order, items, infos, attendees)
    except IntegrityError:
        done = Payment.objects.filter(provider=provider, transaction_id=transaction_id).first()
        if done is None:
            _refuse_taken_id(order.pk)  # the provider is told 409; the order stays unpaid for support to settle
            raise
        return done
    # The provider's server calls: the line is the buyer's, never a visitor cookie of this request.
    behaviour.track_on_commit("pay", user=User(pk=order.user_id), anon_id="", event_id=order.event_id,
                              session_id=_one_session(infos), details={
                                  "order": order.pk, "amount": float(order.total), "tickets": len(tickets),
                                  "provider": provider})
    return payment


def order_cancel(*, user: User, order_id: int) -> Order:
    """The buyer drops a pending order; its tickets go back on sale at once."""
    with transaction.atomic():
        if not Order.objects.filter(pk=order_id, user=user, status=S.PENDING, expires_at__gt=timezone.now()).update(
                status=S.CANCELLED, closed_at=timezone.now()):
            order = Order.objects.filter(pk=order_id, user=user).first()
            if order is None:
                raise NotFound(_("No such order."))
            raise IllegalTransition(current=order.get_shown_status_display(), target=S.CANCELLED.label)
        order = Order.objects.get(pk=order_id)
        inventory.holds_release(hold_ids=_hold_ids(order))
        release_promo(order)
    return order


def orders_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Pending orders past their deadline become expired and their holds go back on sale (beat, every 30 s)."""
    now = now or timezone.now()
    done = 0
    for order_id in Order.objects.filter(status=S.PENDING, expires_at__lte=now).values_list("pk", flat=True)[:limit]:
        done += inventory.retry_deadlocks(transaction.atomic(lambda o=order_id: _expire_order(o, now)))
    return done


def _expire_order(order_id: int, now) -> bool:
    if not Order.objects.filter(pk=order_id, status=S.PENDING, expires_at__lte=now).update(
            status=S.EXPIRED, closed_at=now):
        return False
    order = Order.objects.get(pk=order_id)
    inventory.holds_release(hold_ids=_hold_ids(order), status=HoldStatus.EXPIRED)
    release_promo(order)
    return True


def release_promo(order: Order) -> None:
    """Inside the transaction that expired or cancelled an unpaid order: its promo code's use goes back."""
    if order.promo_code_id:
        promo.promo_release(order_id=order.pk)


# --- refunds ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundQuote:
    """What a refund of the order would give back now, by its event's refund policy (events.refunds)."""

    paid: Decimal
    fee: Decimal
    percent: Decimal | None  # the fee's rate; None when no refund is possible
    why_not: str = ""  # why no refund is possible, in the buyer's language
    rules: list = field(default_factory=list)  # the policy, as the buyer reads it

    @property
    def allowed(self) -> bool:
        return self.percent is not None

    @property
    def amount(self) -> Decimal:
        return self.paid - self.fee


GIVEN_AWAY = _("A ticket of this order was given to another account; the order can no longer be refunded.")


def refund_quote(*, order: Order, now: datetime | None = None) -> RefundQuote:
    """The refund the buyer would get if they asked now (two statements); `allowed` False says why not."""
    now = now or timezone.now()
    policy = RefundPolicy.of(order.event)
    rules = policy.lines()
    zero = Decimal("0.00")
    if order.status != S.PAID:
        return RefundQuote(order.total, zero, None, str(_("Only a paid order can be refunded.")), rules)
    tickets = order.tickets.aggregate(start=Min("session__start_time"), used=Count("pk", filter=Q(status=TicketStatus.USED)),
                                      given=Count("pk", filter=~Q(user_id=order.user_id) & ~Q(status=TicketStatus.VOID)))
    if tickets["used"]:
        return RefundQuote(order.total, zero, None,
                           str(_("A ticket of this order has been used; it can no longer be refunded.")), rules)
    if tickets["given"]:
        return RefundQuote(order.total, zero, None, str(GIVEN_AWAY), rules)
    hours_left = (tickets["start"] - now).total_seconds() / 3600 if tickets["start"] else 0
    tier = policy.tier_for(hours_left)
    if tier is None:
        why = (_("The event has started; tickets can no longer be refunded.") if hours_left <= 0
               else _("This event's tickets cannot be refunded.") if policy.kind == RefundPolicyKind.NONE
               or not policy.tiers
               else _("Refunds closed %(hours)s hours before the session.") % {"hours": policy.tiers[-1].hours})
        return RefundQuote(order.total, zero, None, str(why), rules)
    return RefundQuote(order.total, fee_of(order.total, tier.percent), tier.percent, "", rules)


class RefundFeeChanged(Conflict):
    code = "refund_fee_changed"
    default_message = _("The refund fee is now %(fee)s (the session is nearer than when you looked); "
                        "nothing was asked. Look at the new amount and ask again.")


def refund_request(*, user: User, order_id: int, reason: str, expected_fee: Decimal | None = None) -> Refund:
    """The buyer asks for their paid, unused order back while the event's refund policy allows it. The fee
    is fixed now; `expected_fee` (what the buyer was shown) refuses with RefundFeeChanged if it differs."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Tell us why you want a refund."), code="reason_required")
    order = Order.objects.select_related("event").filter(pk=order_id, user=user).first()
    if order is None:
        raise NotFound(_("No such order."))
    quote = refund_quote(order=order)
    if order.status == S.PAID and not quote.allowed:
        raise RefundNotAllowed(quote.why_not)
    if expected_fee is not None and quote.allowed and quote.fee != expected_fee:
        raise RefundFeeChanged(fee=quote.fee)
    with transaction.atomic():
        if not Order.objects.filter(pk=order.pk, status=S.PAID).update(status=S.REFUND_REQUESTED):
            raise IllegalTransition(current=order.get_shown_status_display(), target=S.REFUND_REQUESTED.label)
        # Under the order's row lock, which an accepted transfer takes too (orders.transfers).
        if order.tickets.exclude(user_id=order.user_id).exclude(status=TicketStatus.VOID).exists():
            raise RefundNotAllowed(GIVEN_AWAY)
        refund = Refund.objects.create(order=order, user=user, amount=quote.amount, fee=quote.fee,
                                       reason=reason[:2000])
        notify(users=admins(), kind="refund_requested", url=reverse("orders:refund_queue"),
               title=_("Refund requested for order %(number)s"), body=_("%(event)s: %(reason)s"),
               params={"number": order.number, "event": order.event.title, "reason": reason[:200]}, email=False)
    return refund


def refund_review(*, actor: User, refund_id: int, approve: bool, reason: str = "", waive_fee: bool = False) -> Refund:
    """An admin approves (points back through the ledger less the fee, tickets void, seats and stock on sale
    again) or rejects (the order is paid again) a requested refund, exactly once. `waive_fee` (with a
    reason, kept on the refund with who waived it) returns the whole amount."""
    if actor.role != Role.ADMIN:
        raise Forbidden()
    reason = (reason or "").strip()
    if not approve and not reason:
        raise DomainError(_("Give the buyer a reason for the rejection."), code="reason_required")
    if waive_fee and not (approve and reason):
        raise DomainError(_("Waiving the fee approves the refund: give the reason for the waiver."),
                          code="waiver_reason_required")
    now = timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_related("order__event").filter(pk=refund_id).first()
        if refund is None:
            raise NotFound(_("No such refund."))
        target = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
        changes = {"status": target, "review_reason": reason, "reviewed_by": actor, "reviewed_at": now}
        if not approve:
            changes["open_claim"] = None
        if waive_fee and refund.fee:
            changes.update(fee=0, amount=refund.order.total, fee_waived_by=actor, fee_waiver_reason=reason[:500])
        if not Refund.objects.filter(pk=refund.pk, status=RefundStatus.REQUESTED).update(**changes):
            raise Conflict(_("This refund has already been decided."), code="refund_decided")
        refund.refresh_from_db()
        order = refund.order
        if approve and order.tickets.filter(status=TicketStatus.USED).exists():
            raise RefundNotAllowed(_("A ticket of this order has been used; it can no longer be refunded."))
        if not Order.objects.filter(pk=order.pk, status=S.REFUND_REQUESTED).update(
                status=S.REFUNDED if approve else S.PAID, closed_at=now if approve else None):
            raise IllegalTransition(current=order.get_shown_status_display(), target=S.REFUNDED.label)
        if approve:
            order_refund_money(order=order, refund=refund, actor=actor, reason=reason)
        if approve and refund.fee:
            body = _("%(amount)s points back, less a fee of %(fee)s. %(reason)s")
        elif approve:
            body = _("%(amount)s points back. %(reason)s")
        else:
            body = _("Reason: %(reason)s")
        notify(users=[order.user], kind="refund_" + target, url=reverse("orders:detail", args=[order.pk]),
               title=_("Refund of order %(number)s approved") if approve else _("Refund of order %(number)s rejected"),
               body=body, params={"number": order.number, "reason": reason, "amount": refund.amount, "fee": refund.fee})
    return refund


def order_refund_money(*, order: Order, refund: Refund, actor: User | None, reason: str) -> None:
    """Inside the refund's transaction, once its order is refunded: a points payment comes back through the
    ledger (the whole price in, the fee out: the fee stays the publisher's revenue), the tickets go void
    (the door refuses them), seats and stock go back on sale and the buyer's behaviour line is written."""
    if order.payments.filter(method=PaymentMethod.POINTS).exists() and order.total > 0:
        wallet = wallet_ensure(user=order.user).pk
        _ledger(wallet, LedgerKind.REFUND, order.total, order=order, reason=reason, actor=actor,
                once_key=f"refund:{order.pk}")
        if refund.fee:
            _ledger(wallet, LedgerKind.FEE, -refund.fee, order=order, actor=actor, once_key=f"fee:{order.pk}",
                    reason=_("Refund fee, %(event)s") % {"event": order.event.title})
    order.tickets.filter(status=TicketStatus.VALID).update(status=TicketStatus.VOID, seat_claim=None, id_claim=None)
    inventory.holds_refund(hold_ids=_hold_ids(order))
    announce.order_refunded(order, refund)
    # The buyer's behaviour, though an admin's request or a cancellation decides it.
    behaviour.track_on_commit("refund", user=User(pk=order.user_id), anon_id="", event_id=order.event_id,
                              details={"order": order.pk, "amount": float(refund.amount), "refund": refund.pk})


# --- check-in -----------------------------------------------------------------------


def can_check_in(user: User, event: Event) -> bool:
    return (user.role == Role.ADMIN or event.publisher_id == user.pk
            or EventStaff.objects.filter(event=event, user=user).exists())


def staff_add(*, actor: User, event: Event, login: str) -> EventStaff:
    """The publisher names a door-staff account (by username or email) for one event."""
    if event.publisher_id != actor.pk:
        raise Forbidden(_("Only the event's publisher names its staff."))
    login = (login or "").strip()
    user = User.objects.filter(username=login).first() or User.objects.filter(email__iexact=login).first()
    if user is None or not user.is_active:
        raise NotFound(_("No account with that username or email."))
    staff, _created = EventStaff.objects.get_or_create(event=event, user=user)
    return staff


def staff_remove(*, actor: User, event: Event, user_id: int) -> None:
    if event.publisher_id != actor.pk:
        raise Forbidden(_("Only the event's publisher names its staff."))
    EventStaff.objects.filter(event=event, user_id=user_id).delete()


class OverrideNotAllowed(Forbidden):
    code = "override_not_allowed"
    default_message = _("Only an administrator may admit a ticket outside its session's day.")


# Refusals for the time of the scan, not for the ticket itself: an admin may admit such a ticket anyway.
OVERRIDABLE = (ScanResult.WRONG_DAY, ScanResult.SESSION_OVER)


def can_override(user: User) -> bool:
    return user.role == Role.ADMIN


@dataclass
class ScanOutcome:
    scan: Scan
    ticket: Ticket | None
    checkin: CheckIn | None
    conflict: CheckinConflict | None = None

    @property
    def admitted(self) -> bool:
        return self.scan.result == ScanResult.OK

    def overridable_by(self, user: User) -> bool:
        """Whether `user` may admit this refused ticket anyway (a second scan with `override`)."""
        return self.scan.result in OVERRIDABLE and can_override(user)

    @property
    def message(self) -> str:
        """What the door staff read, in their language."""
        result = self.scan.result
        session = self.ticket.session if self.ticket else None
        when = formats.date_format(timezone.localtime(session.start_time), "DATETIME_FORMAT") if session else ""
        if result == ScanResult.OK and self.scan.override_of:
            return str(_("Admitted by an administrator's override: this ticket is for the session of %(when)s.")) % {
                "when": when}
        if result == ScanResult.OK:
            return str(_("Admitted."))
        if result == ScanResult.CONFLICT and self.conflict and self.conflict.checkin:
            first = self.conflict.checkin
            return str(_("Conflict: admitted offline, but already checked in at %(when)s by %(by)s (%(where)s). "
                         "Reported to the organiser.")) % {
                "when": timezone.localtime(first.at).strftime("%Y-%m-%d %H:%M:%S"), "by": _who(first.by),
                "where": where_label(first.gate, first.device)}
        if result == ScanResult.CONFLICT and self.conflict:
            return str(_("Conflict: admitted offline, but the server refuses this ticket (%(reason)s). Reported to "
                         "the organiser.")) % {"reason": ScanResult(self.conflict.reason).label}
        if result == ScanResult.ALREADY_USED and self.checkin:
            when = timezone.localtime(self.checkin.at).strftime("%Y-%m-%d %H:%M:%S")
            return str(_("Refused: already used at %(when)s, checked in by %(by)s.")) % {
                "when": when, "by": _who(self.checkin.by)}
        if result == ScanResult.TRANSFERRED:
            return str(_("Refused: this ticket was given to another account and this code replaced; the new "
                         "holder has their own code."))
        if result == ScanResult.VOID and session and session.cancelled_at:
            return str(_("Refused: this session was cancelled and the ticket refunded."))
        if result == ScanResult.WRONG_DAY and session:
            return str(_("Refused: this ticket is for the session of %(when)s, not today's.")) % {"when": when}
        if result == ScanResult.SESSION_OVER and session:
            return str(_("Refused: this ticket is for the session of %(when)s, which is over.")) % {"when": when}
        return str(_("Refused: %(reason)s.")) % {"reason": ScanResult(result).label}


def _who(user: User) -> str:
    return user.display_name or user.username


def where_label(gate: str, device: str) -> str:
    """Where a scan happened, as the conflict report and the door say it."""
    if gate and device:
        return f"{gate} · {device}"
    return gate or device or str(_("unnamed device"))


@dataclass
class _Judgement:
    """What the rules say of a code at a moment, before anything is written: OK means it may be admitted."""

    result: str
    ticket: Ticket | None = None
    code: str = ""  # as recorded: the signed code, or the short code as stored


_TICKET_RELATED = ("order", "seat", "ticket_type", "session")


def _judge(event: Event, code: str, now: datetime) -> _Judgement:
    """The rules of the door for one code (signed, or a short code typed), at `now`."""
    typed = (code or "").strip()
    short = "" if typed.upper().startswith(codes.PREFIX) else codes.short_code(typed)
    if short:
        ticket = Ticket.objects.filter(short_code=short).select_related(*_TICKET_RELATED).first()
        replaced = None if ticket else (TicketTransfer.objects.filter(old_short_code=short)
                                        .select_related(*(f"ticket__{r}" for r in _TICKET_RELATED)).first())
        found = ticket or (replaced.ticket if replaced else None)
        if found is None:
            return _Judgement(ScanResult.FORGED, code=short)
        if found.event_id != event.pk:
            return _Judgement(ScanResult.OTHER_EVENT, code=short)
        if replaced is not None:
            return _Judgement(ScanResult.TRANSFERRED, replaced.ticket, short)
        return _ticket_judgement(ticket, now, short)
    typed = typed[:255]
    claims = codes.verify(typed)
    if claims is None:
        return _Judgement(ScanResult.FORGED, code=typed)
    if claims.event_id != event.pk:
        return _Judgement(ScanResult.OTHER_EVENT, code=typed)
    ticket = Ticket.objects.filter(code=typed).select_related(*_TICKET_RELATED).first()
    if ticket is None:  # a code a transfer replaced?
        replaced = (TicketTransfer.objects.filter(old_code=typed)
                    .select_related(*(f"ticket__{r}" for r in _TICKET_RELATED)).first())
        if replaced is None:
            return _Judgement(ScanResult.FORGED, code=typed)
        return _Judgement(ScanResult.TRANSFERRED, replaced.ticket, typed)
    return _ticket_judgement(ticket, now, typed)


def _ticket_judgement(ticket: Ticket, now: datetime, code: str) -> _Judgement:
    if ticket.status == TicketStatus.VOID:
        return _Judgement(ScanResult.VOID, ticket, code)
    if not selectors.session_at_the_door(ticket.session, now):
        # Yesterday's ticket does not admit to today's session, nor next week's (but an admin may say so).
        over = ticket.session.end_time <= now
        return _Judgement(ScanResult.SESSION_OVER if over else ScanResult.WRONG_DAY, ticket, code)
    return _Judgement(ScanResult.OK, ticket, code)


def checkin_scan(*, staff: User, event: Event, code: str, nonce: str, override: bool = False, gate: str = "",
                 device: str = "") -> ScanOutcome:
    """Checks a code in at the door of `event`: the signed code, or the ticket's short code typed (any case,
    spaces and dashes ignored). A ticket is admitted once (by the database); a second scan, a forged code,
    another event's ticket or a void one is refused, and every scan is recorded (with the gate and device
    the scanner names, if any).
    A ticket whose session is not at the door today (`selectors.session_at_the_door`) is refused with its
    session's date, unless an admin scans it with `override`: then it is admitted and the check-in and the
    scan record the override. `override` from anyone else raises OverrideNotAllowed and records nothing.
    The same `nonce` from the same scanner gets the same answer again (a re-sent scan)."""
    if not can_check_in(staff, event):
        raise Forbidden(_("You are not door staff of this event."))
    if override and not can_override(staff):
        raise OverrideNotAllowed()
    nonce = (nonce or "").strip()[:64]
    if not nonce:
        raise DomainError(_("A scan needs a nonce."), code="nonce_required")
    previous = Scan.objects.filter(by=staff, nonce=nonce).select_related("ticket__session").first()
    if previous is not None:
        return _outcome(previous)
    gate, device = (gate or "").strip()[:64], (device or "").strip()[:64]
    judged = _judge(event, code, timezone.now())
    result, ticket, override_of = judged.result, judged.ticket, ""
    if result == ScanResult.OK:
        result = _admit(ticket, staff, gate=gate, device=device)
    elif result in OVERRIDABLE and override:
        refusal = result
        result = _admit(ticket, staff, overridden=True, gate=gate, device=device)
        override_of = refusal if result == ScanResult.OK else ""
    try:
        scan = Scan.objects.create(by=staff, nonce=nonce, event=event, ticket=ticket, code=judged.code,
                                   result=result, override_of=override_of, gate=gate, device=device)
    except IntegrityError:  # the same scan re-sent while this one ran
        return _outcome(Scan.objects.select_related("ticket__session").get(by=staff, nonce=nonce))
    if result == ScanResult.OK:
        _track_admission(ticket, staff, event, override_of=override_of)
    return _outcome(scan)


def _track_admission(ticket: Ticket, staff: User, event: Event, *, override_of: str = "",
                     offline: bool = False) -> None:
    # The attendance is the buyer's behaviour; the door staff only record it.
    details = {"ticket": ticket.pk, "staff": staff.pk, **({"override": override_of} if override_of else {}),
               **({"offline": True} if offline else {})}
    behaviour.track_on_commit("checkin", user=User(pk=ticket.user_id), anon_id="", event_id=event.pk,
                              session_id=ticket.session_id, details=details)


# What a scanner may say it answered offline (orders.api CheckinSyncView); the server's own answers aside.
LOCAL_RESULTS = [r for r in ScanResult.values if r not in (ScanResult.CONFLICT, ScanResult.NOT_ALLOWED)]


@dataclass(frozen=True)
class OfflineScan:
    """One scan a scanner made offline, as it queued it."""

    nonce: str
    code: str
    scanned_at: datetime
    local_result: str
    gate: str = ""
    device: str = ""


def checkin_sync(*, staff: User, event: Event, scans: list[OfflineScan]) -> list[ScanOutcome]:
    """Records scans a scanner made offline, in the order they were made, each by the door's rules at the
    moment it was made (`scanned_at`): a refusal on the device is recorded as it was given; a ticket the
    device admitted is checked in then, unless the server had already let it in elsewhere (online or from
    another device's sync) or would have refused it (void, transferred, not that day): then the admission
    is recorded as a CheckinConflict (who, gate, device, when, and the first admission) for the organiser.
    Idempotent: a scan whose nonce this scanner already sent gets its first answer, so a batch may be sent
    again whole. Each scan is its own transaction. Raises Forbidden for anyone not door staff of the event."""
    if not can_check_in(staff, event):
        raise Forbidden(_("You are not door staff of this event."))
    outcomes = {}
    for item in sorted(scans, key=lambda s: s.scanned_at):
        nonce = (item.nonce or "").strip()[:64]
        if not nonce:
            raise DomainError(_("A scan needs a nonce."), code="nonce_required")
        outcomes[item.nonce] = _sync_one(staff, event, item, nonce)
    return [outcomes[item.nonce] for item in scans]


def _sync_one(staff: User, event: Event, item: OfflineScan, nonce: str) -> ScanOutcome:
    previous = Scan.objects.filter(by=staff, nonce=nonce).select_related("ticket__session").first()
    if previous is not None:
        return _outcome(previous)
    gate, device = (item.gate or "").strip()[:64], (item.device or "").strip()[:64]
    judged = _judge(event, item.code, item.scanned_at)
    result, ticket, conflict = item.local_result, judged.ticket, None
    try:
        with transaction.atomic():
            if item.local_result == ScanResult.OK and ticket is not None:
                result = judged.result
                if result == ScanResult.OK:
                    result = _admit(ticket, staff, gate=gate, device=device, at=item.scanned_at, offline=True)
                if result != ScanResult.OK:  # let in at this door all the same: the organiser must hear of it
                    conflict = result
                    result = ScanResult.CONFLICT
            elif item.local_result == ScanResult.OK:  # nothing genuine to admit: the server's refusal stands
                result = judged.result
            scan = Scan.objects.create(by=staff, nonce=nonce, event=event, ticket=ticket, code=judged.code,
                                       result=result, gate=gate, device=device, scanned_at=item.scanned_at,
                                       local_result=item.local_result)
            if conflict:
                first = CheckIn.objects.filter(ticket=ticket).first() if conflict == ScanResult.ALREADY_USED else None
                CheckinConflict.objects.create(
                    event=event, ticket=ticket, scan=scan, reason=conflict, checkin=first,
                    kind=ConflictKind.TWICE if first else ConflictKind.REFUSED)
    except IntegrityError:  # the same scan sent twice at once: the first one's answer
        return _outcome(Scan.objects.select_related("ticket__session").get(by=staff, nonce=nonce))
    if result == ScanResult.OK:
        _track_admission(ticket, staff, event, offline=True)
    if conflict:
        log.warning("check-in conflict: ticket %s admitted offline by %s (%s) at %s: %s", ticket.pk, staff.pk,
                    where_label(gate, device), item.scanned_at.isoformat(), conflict)
    return _outcome(scan)


def _admit(ticket: Ticket, staff: User, *, overridden: bool = False, gate: str = "", device: str = "",
           at: datetime | None = None, offline: bool = False) -> str:
    try:
        with transaction.atomic():
            # The ticket's row lock first: doors scanning one code queue here. Racing straight for the
            # CheckIn insert deadlocked InnoDB (each waiter's foreign-key check share-locks the ticket
            # row that the winner must then update). The code scanned must still be the ticket's: a
            # transfer accepted since it was read replaced it (orders.transfers locks the same row).
            now = Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("status", "code").first()
            if now is not None and now[1] != ticket.code:
                return ScanResult.TRANSFERRED
            if now is None or now[0] != TicketStatus.VALID:
                return ScanResult.ALREADY_USED
            checkin = CheckIn.objects.create(ticket=ticket, by=staff, overridden_by=staff if overridden else None,
                                             gate=gate, device=device, offline=offline)
            if at is not None:  # an offline scan: admitted when the device said so, not when it synced
                CheckIn.objects.filter(pk=checkin.pk).update(at=at)
            Ticket.objects.filter(pk=ticket.pk, status=TicketStatus.VALID).update(status=TicketStatus.USED)
            if not ticket.order.tickets.filter(status=TicketStatus.VALID).exists():
                Order.objects.filter(pk=ticket.order_id, status=S.PAID).update(status=S.USED)
            announce.ticket_checked_in(ticket, at=at or checkin.at, gate=gate)
    except IntegrityError:  # checked in already, maybe this very instant at another door
        return ScanResult.ALREADY_USED
    return ScanResult.OK


def _outcome(scan: Scan) -> ScanOutcome:
    if scan.result == ScanResult.TRANSFERRED:  # recorded against the ticket, but it is its new holder's now
        return ScanOutcome(scan=scan, ticket=None, checkin=None)
    checkin = CheckIn.objects.select_related("by").filter(ticket_id=scan.ticket_id).first() if scan.ticket_id else None
    conflict = (CheckinConflict.objects.select_related("checkin__by").filter(scan=scan).first()
                if scan.result == ScanResult.CONFLICT else None)
    return ScanOutcome(scan=scan, ticket=scan.ticket, checkin=checkin, conflict=conflict)
