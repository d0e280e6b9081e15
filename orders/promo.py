"""Promo codes (优惠码): a publisher's discount on some or all of an event's ticket types.

A code takes a percentage off each ticket it covers, or a fixed amount off each (never below 0), between
`valid_from` and `valid_until`, for at most `max_uses` orders in all and `max_per_buyer` per buyer. The
buyer applies it to a pending order: the discount shows before payment and is fixed on the order (its
total is what is charged, and what a refund gives back); each ticket keeps its own price after discount,
so sales figures count what was paid.

Uses are counted under the code's row lock, with a conditional UPDATE (`uses < max_uses`) and a CHECK
as the last line: the last use cannot be taken twice, by any number of processes. A use is released
(the count goes down again) when its order expires or is cancelled; a refunded order keeps its use.
Codes are never edited once made (only switched off), so an order's discount can always be worked out
again from its code.

An access code (kind `access`) takes nothing off: it unlocks hidden ticket types (general admission sold
only to those who have it, e.g. a fan-club presale). The session page shows them once the buyer enters it,
and a hold of them carries it (`access_take`); its limits count tickets, those of its holds live or sold.
"""

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from events.models import Event
from orders.models import AccessUse, Order, OrderStatus, PromoCode, PromoKind, PromoUse
from ticketing.errors import Conflict, DomainError, Forbidden, NotFound
from tickets.models import HoldItem, HoldStatus

CENT = Decimal("0.01")
# Bulk codes: no 0/O, 1/I/L, 2/Z, 5/S, 8/B to misread on paper or a phone.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
BULK_MAX = 5000


class PromoInvalid(DomainError):
    code = "promo_invalid"
    default_message = _("No such promo code for this event.")


class PromoUsedUp(Conflict):
    code = "promo_used_up"
    default_message = _("This promo code has been used up.")


def normalise(code: str) -> str:
    return "".join((code or "").split()).upper()


def _ticket_discount(code: PromoCode, unit_price: Decimal) -> Decimal:
    """What the code takes off one ticket of this price."""
    if code.kind == PromoKind.PERCENT:
        return min(unit_price, (unit_price * code.value / 100).quantize(CENT, rounding=ROUND_HALF_UP))
    return min(unit_price, code.value)


def item_discounts(code: PromoCode, items) -> dict[int, Decimal]:
    """Hold item id → what the code takes off each of its tickets, for the items it covers (one query)."""
    type_ids = set(code.ticket_types.values_list("pk", flat=True))
    return {i.pk: _ticket_discount(code, i.unit_price) for i in items
            if not type_ids or i.ticket_type_id in type_ids}


# --- the publisher's codes --------------------------------------------------------------


@dataclass
class PromoData:
    kind: str
    value: Decimal
    ticket_type_ids: list[int]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses: int | None = None
    max_per_buyer: int | None = None


def _owned(actor: User, event: Event) -> None:
    if not (actor.role == Role.ADMIN or event.publisher_id == actor.pk):
        raise Forbidden(_("Only the event's publisher can manage its promo codes."))


def _check(event: Event, data: PromoData) -> list[int]:
    if data.kind not in PromoKind.values:
        raise DomainError(_("Choose a percentage or a fixed amount."), code="promo_kind")
    if data.kind == PromoKind.ACCESS:
        data.value = Decimal("0")
        hidden = set(event.ticket_types.filter(hidden=True, pk__in=data.ticket_type_ids).values_list("pk", flat=True))
        if not data.ticket_type_ids or hidden != set(data.ticket_type_ids):
            raise DomainError(_("An access code unlocks hidden ticket types: tick at least one, and only hidden "
                                "ones."), code="promo_ticket_types")
    elif data.value is None or data.value <= 0 or (data.kind == PromoKind.PERCENT and data.value > 100):
        raise DomainError(_("A discount is more than 0 (and a percentage at most 100)."), code="promo_value")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        raise DomainError(_("A code is valid until after it starts."), code="promo_window")
    if (data.max_uses is not None and data.max_uses < 1) or (data.max_per_buyer is not None and data.max_per_buyer < 1):
        raise DomainError(_("Limits are at least 1 (leave them empty for none)."), code="promo_limits")
    types = set(event.ticket_types.filter(pk__in=data.ticket_type_ids).values_list("pk", flat=True))
    if types != set(data.ticket_type_ids):
        raise DomainError(_("Unknown ticket type for this event."), code="promo_ticket_types")
    return sorted(types)


def promo_create(*, actor: User, event: Event, code: str, data: PromoData) -> PromoCode:
    """One code (letters and digits, 4–32), unique within the event."""
    _owned(actor, event)
    text = normalise(code)
    if not (4 <= len(text) <= 32 and text.isascii() and text.isalnum()):
        raise DomainError(_("A code is 4 to 32 letters and digits."), code="promo_code_format")
    types = _check(event, data)
    try:
        with transaction.atomic():
            promo = PromoCode.objects.create(event=event, code=text, created_by=actor, **_fields(data))
            promo.ticket_types.set(types)
    except IntegrityError:
        raise Conflict(_("This event already has the code %(promo)s."), code="promo_exists", promo=text) from None
    return promo


def promo_generate(*, actor: User, event: Event, count: int, data: PromoData, prefix: str = "") -> list[PromoCode]:
    """`count` single-use codes (prefix + 10 unambiguous characters), for printing or mailing out."""
    _owned(actor, event)
    if not 1 <= count <= BULK_MAX:
        raise DomainError(_("Make between 1 and %(max)d codes at once.") % {"max": BULK_MAX}, code="promo_count")
    prefix = normalise(prefix)[:12]
    if prefix and not (prefix.isascii() and prefix.isalnum()):
        raise DomainError(_("A prefix is letters and digits."), code="promo_code_format")
    data.max_uses, data.max_per_buyer = 1, 1
    types = _check(event, data)
    texts: set[str] = set()
    while len(texts) < count:
        texts.add(prefix + "".join(secrets.choice(ALPHABET) for _ in range(10)))
    with transaction.atomic():
        PromoCode.objects.bulk_create(
            [PromoCode(event=event, code=t, created_by=actor, batch=prefix or "bulk", **_fields(data)) for t in texts],
            batch_size=500)
        # Read back: MySQL's bulk insert gives the objects no ids (MariaDB's and SQLite's do).
        codes = list(PromoCode.objects.filter(event=event, code__in=texts).order_by("pk"))
        PromoCode.ticket_types.through.objects.bulk_create(
            [PromoCode.ticket_types.through(promocode_id=c.pk, tickettype_id=t) for c in codes for t in types],
            batch_size=1000)
    prefetch_related_objects(codes, "ticket_types")  # the API lists each code's types
    return codes


def _fields(data: PromoData) -> dict:
    return {"kind": data.kind, "value": data.value, "valid_from": data.valid_from, "valid_until": data.valid_until,
            "max_uses": data.max_uses, "max_per_buyer": data.max_per_buyer}


def promo_switch(*, actor: User, promo: PromoCode, active: bool) -> PromoCode:
    _owned(actor, promo.event)
    PromoCode.objects.filter(pk=promo.pk).update(active=active)
    promo.active = active
    return promo


def promo_csv(codes) -> str:
    """The codes as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese headers)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([str(_("code")), str(_("discount")), str(_("valid from")), str(_("valid until")),
                     str(_("uses")), str(_("at most"))])
    for c in codes:
        writer.writerow([c.code, c.describe(), _when(c.valid_from), _when(c.valid_until), c.uses, c.max_uses or ""])
    return out.getvalue()


def _when(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


# --- the buyer's order ---------------------------------------------------------------------


def order_apply_promo(*, user: User, order_id: int, code: str) -> Order:
    """Applies a code to the buyer's pending order (replacing any code it had): the discount is fixed on the
    order now. Raises NotFound, PromoInvalid (no such code, off, not yet or no longer valid, not for these
    tickets, the buyer's own limit reached), PromoUsedUp; each changes nothing."""
    now = timezone.now()
    text = normalise(code)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, user_id=user.pk).first()
        if order is None:
            raise NotFound(_("No such order."))
        if order.status != OrderStatus.PENDING or order.expires_at <= now:
            raise Conflict(_("A code can only be applied to an order waiting for payment."), code="promo_not_pending")
        promo = PromoCode.objects.select_for_update().filter(event_id=order.event_id, code=text).first() if text else None
        if promo is None or not promo.active or promo.kind == PromoKind.ACCESS:
            raise PromoInvalid()
        if (promo.valid_from and now < promo.valid_from) or (promo.valid_until and now >= promo.valid_until):
            raise PromoInvalid(_("This promo code is not valid now."))
        items = list(HoldItem.objects.filter(hold__order_hold__order_id=order.pk))
        off = item_discounts(promo, items)
        if not off:
            raise PromoInvalid(_("This promo code is not for these tickets."))
        discount = sum((off[i.pk] * i.quantity for i in items if i.pk in off), Decimal("0"))
        _release(order.pk, now)
        if promo.max_per_buyer is not None and PromoUse.objects.filter(
                code=promo, user_id=user.pk, live=1).count() >= promo.max_per_buyer:
            raise PromoInvalid(_("You have used this promo code as often as it allows."))
        taken = PromoCode.objects.filter(pk=promo.pk).filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
        if not taken.update(uses=F("uses") + 1):
            raise PromoUsedUp()
        PromoUse.objects.create(code=promo, order=order, user_id=user.pk)
        subtotal = order.total + order.discount
        Order.objects.filter(pk=order.pk).update(promo_code=promo, discount=discount, total=subtotal - discount)
    order.refresh_from_db()
    return order


def order_remove_promo(*, user: User, order_id: int) -> Order:
    """Takes the code off the buyer's pending order: the full price again, the use released."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, user_id=user.pk).first()
        if order is None:
            raise NotFound(_("No such order."))
        if order.status != OrderStatus.PENDING:
            raise Conflict(_("A code can only be applied to an order waiting for payment."), code="promo_not_pending")
        _release(order.pk, timezone.now())
        Order.objects.filter(pk=order.pk).update(promo_code=None, discount=0, total=order.total + order.discount)
    order.refresh_from_db()
    return order


# --- access codes: hidden ticket types -------------------------------------------------------


class AccessCodeNeeded(DomainError):
    status_code = 403
    code = "access_code_required"
    default_message = _("These tickets are sold only with an access code.")


def _access_code(event_id: int, code: str, now, *, lock: bool = False) -> PromoCode:
    text = normalise(code)
    codes = PromoCode.objects.filter(event_id=event_id, code=text, kind=PromoKind.ACCESS)
    promo = (codes.select_for_update() if lock else codes).first() if text else None
    if promo is None or not promo.active:
        raise PromoInvalid(_("No such access code for this event."))
    if (promo.valid_from and now < promo.valid_from) or (promo.valid_until and now >= promo.valid_until):
        raise PromoInvalid(_("This access code is not valid now."))
    return promo


def access_unlocks(*, event_id: int, code: str) -> set[int]:
    """The hidden ticket types this access code shows (the session page, the types API); PromoInvalid."""
    return set(_access_code(event_id, code, timezone.now()).ticket_types.values_list("pk", flat=True))


def access_take(*, user_id: int, event_id: int, code: str, wanted: dict[int, int], hold_id: int, now) -> AccessUse:
    """Inside the hold's transaction (tickets.services), for the hidden ticket types it holds (type → n): the
    code must unlock them all, and it has tickets left in all and for this buyer (its uses count tickets:
    those of its live and sold holds). Counted under the code's row lock, so the last ticket a code allows
    goes once however many buyers ask at the same instant. AccessCodeNeeded, PromoInvalid, PromoUsedUp."""
    if not normalise(code):
        raise AccessCodeNeeded()
    promo = _access_code(event_id, code, now, lock=True)
    if not set(wanted) <= set(promo.ticket_types.values_list("pk", flat=True)):
        raise PromoInvalid(_("This access code does not unlock these tickets."))
    count = sum(wanted.values())
    live = AccessUse.objects.filter(code=promo).filter(_counted(now))
    if promo.max_per_buyer is not None and _tickets(live.filter(user_id=user_id)) + count > promo.max_per_buyer:
        raise PromoInvalid(_("You have used this access code as often as it allows."))
    if promo.max_uses is not None and _tickets(live) + count > promo.max_uses:
        raise PromoUsedUp(_("This access code has been used up."))
    return AccessUse.objects.create(code=promo, hold_id=hold_id, user_id=user_id, quantity=count)


def _counted(now) -> Q:
    """The uses an access code's limits count: those of holds live or sold."""
    return Q(hold__status=HoldStatus.CONSUMED) | Q(hold__status=HoldStatus.ACTIVE, hold__expires_at__gt=now)


def _tickets(uses) -> int:
    return uses.aggregate(n=Sum("quantity"))["n"] or 0


def with_access_uses(codes) -> list[PromoCode]:
    """The codes, each access code's `uses` set to the tickets it unlocked that are held or sold now (what
    the publisher reads; a discount code's `uses` is its counter)."""
    codes = list(codes)
    rows = (AccessUse.objects.filter(code__in=[c.pk for c in codes if c.kind == PromoKind.ACCESS])
            .filter(_counted(timezone.now())).values("code_id").annotate(n=Sum("quantity")))
    used = {r["code_id"]: r["n"] for r in rows}
    for code in codes:
        if code.kind == PromoKind.ACCESS:
            code.uses = used.get(code.pk, 0)
    return codes


def promo_release(*, order_id: int) -> None:
    """Inside the transaction that expired or cancelled the order: its code's use goes back."""
    _release(order_id, timezone.now())


def _release(order_id: int, now) -> None:
    use = PromoUse.objects.filter(order_id=order_id, live=1).values_list("pk", "code_id").first()
    if use and PromoUse.objects.filter(pk=use[0], live=1).update(live=None, released_at=now):
        PromoCode.objects.filter(pk=use[1], uses__gt=0).update(uses=F("uses") - 1)
