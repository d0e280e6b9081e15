"""Dynamic prices: base price, then the earliest running time tier, then the highest demand tier reached.

Pure functions of their inputs so that the event page, the stock API and the
hold service agree; a hold stores the price it computed and the buyer pays that.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def active_tiers(tiers: Iterable, *, now: datetime, sold_ratio: float) -> list:
    """The tiers that apply now: at most one time tier and one demand tier."""
    time_tiers = sorted((t for t in tiers if t.kind == "time" and t.until > now), key=lambda t: t.until)
    demand = sorted((t for t in tiers if t.kind == "demand" and sold_ratio * 100 >= t.sold_percent),
                    key=lambda t: t.sold_percent)
    return ([time_tiers[0]] if time_tiers else []) + ([demand[-1]] if demand else [])


def price_for(base_price: Decimal, tiers: Iterable, *, now: datetime, sold_ratio: float) -> Decimal:
    price = Decimal(base_price)
    for tier in active_tiers(tiers, now=now, sold_ratio=sold_ratio):
        price = price * (100 + tier.adjust_percent) / 100
    return max(price, Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)
