"""An event's refund policy (退票规则): what a buyer gets back, by the time left before their session.

Three kinds, chosen by the publisher per event:
- `free`: refunds until the session starts, no fee (the default; what the shop did before policies);
- `tiered`: up to MAX_TIERS tiers, each "until H hours before the session, a fee of P %"; a refund
  asked for with less time left than the last tier allows is refused;
- `none`: no refunds (a cancelled event or session is refunded in full all the same).

Stored as `Event.refund_policy` and `Event.refund_tiers` ([[hours, percent], …], most hours first).
The fee is a percentage of what the order cost, rounded to the cent; orders.services.refund_quote
applies it.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

MAX_TIERS = 4
MAX_HOURS = 24 * 365


class RefundPolicyKind(models.TextChoices):
    FREE = "free", _("Refunds until the session starts, no fee")
    TIERED = "tiered", _("Fees by time before the session")
    NONE = "none", _("No refunds")


@dataclass(frozen=True)
class Tier:
    hours: int  # refundable while at least this many hours are left before the session
    percent: Decimal  # the fee, 0–100 % of what was paid


@dataclass(frozen=True)
class RefundPolicy:
    kind: str
    tiers: tuple[Tier, ...] = ()

    @classmethod
    def of(cls, event) -> "RefundPolicy":
        if event.refund_policy == RefundPolicyKind.TIERED:
            return cls(RefundPolicyKind.TIERED, tiers_from_rows(event.refund_tiers or []))
        return cls(event.refund_policy or RefundPolicyKind.FREE)

    def tier_for(self, hours_left: float) -> Tier | None:
        """The tier that applies with `hours_left` before the session; None: no refund."""
        if hours_left <= 0 or self.kind == RefundPolicyKind.NONE:
            return None
        if self.kind == RefundPolicyKind.FREE:
            return Tier(0, Decimal(0))
        return next((t for t in self.tiers if hours_left >= t.hours), None)

    def lines(self) -> list[str]:
        """The policy as a buyer reads it, one line per tier, in the current language."""
        if self.kind == RefundPolicyKind.NONE:
            return [str(_("No refunds once paid (a cancelled event or session is refunded in full)."))]
        if self.kind == RefundPolicyKind.FREE:
            return [str(_("Free refunds until the session starts."))]
        lines = []
        for tier in self.tiers:
            values = {"until": _until(tier.hours), "percent": _percent(tier.percent)}
            if tier.hours == 0:
                line = (_("Until the session starts: free.") if tier.percent == 0
                        else _("Until the session starts: a %(percent)s%% fee."))
            else:
                line = (_("Until %(until)s before the session: free.") if tier.percent == 0
                        else _("Until %(until)s before the session: a %(percent)s%% fee."))
            lines.append(str(line) % values)
        last = self.tiers[-1].hours if self.tiers else 0
        lines.append(str(_("After that: no refunds.")) if last else str(_("Once the session starts: no refunds.")))
        return lines


def _until(hours: int) -> str:
    if hours % 24 == 0:
        days = hours // 24
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


def tiers_from_rows(rows) -> tuple[Tier, ...]:
    """Stored rows ([[hours, percent], …]) as tiers, most hours first."""
    return tuple(sorted((Tier(int(h), Decimal(str(p))) for h, p in rows), key=lambda t: -t.hours))


def clean_tiers(rows) -> list[list]:
    """Validates tiers given as (hours, percent) pairs and returns them as stored: most hours first,
    each hours value once, fees that never fall as the session nears. ValidationError otherwise."""
    tiers = []
    for row in rows:
        try:
            hours, percent = row
            hours, percent = int(hours), Decimal(str(percent))
        except (TypeError, ValueError, InvalidOperation):
            raise ValidationError(_("Each tier is a number of hours and a fee in percent."), code="tier_invalid")
        if not 0 <= hours <= MAX_HOURS:
            raise ValidationError(_("Hours before the session are between 0 and %(max)d.") % {"max": MAX_HOURS},
                                  code="tier_hours")
        if not percent.is_finite() or not 0 <= percent <= 100 or percent != percent.quantize(Decimal("0.1")):
            raise ValidationError(_("A fee is between 0 and 100 %, with at most one decimal."), code="tier_percent")
        tiers.append(Tier(hours, percent))
    if not tiers:
        raise ValidationError(_("Give at least one tier, or choose another policy."), code="tiers_missing")
    if len(tiers) > MAX_TIERS:
        raise ValidationError(_("At most %(max)d tiers.") % {"max": MAX_TIERS}, code="tiers_too_many")
    tiers.sort(key=lambda t: -t.hours)
    if len({t.hours for t in tiers}) < len(tiers):
        raise ValidationError(_("Two tiers name the same number of hours."), code="tier_twice")
    if any(later.percent < earlier.percent for earlier, later in zip(tiers, tiers[1:])):
        raise ValidationError(_("A fee cannot fall as the session comes nearer."), code="tier_order")
    return [[t.hours, float(t.percent)] for t in tiers]


def fee_of(paid: Decimal, percent: Decimal) -> Decimal:
    return (paid * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
