"""Bounds of free input, shared by models, page forms and API serializers.

Every free-text field has a length and every time a window, so neither a megabyte of text nor a time
in the year 1 gets in (the latter also breaks time-zone arithmetic and MariaDB's DATETIME range).
"""

from datetime import date, datetime, time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DESCRIPTION_MAX = 20_000  # characters of an event's description
REASON_MAX = 2_000  # characters of a reviewer's, buyer's or publisher's reason
PASSWORD_MAX = 128  # characters; hashing a longer one is work for nothing
PRICE_MAX = Decimal("1000000")  # a ticket's base price, in points
POINTS_MAX = Decimal("1000000")  # one wallet top-up or correction, either way
FIRST_YEAR = 2000
YEARS_AHEAD = 5

validate_description_length = MaxLengthValidator(DESCRIPTION_MAX)
validate_reason_length = MaxLengthValidator(REASON_MAX)


def time_window() -> tuple[datetime, datetime]:
    """The times the platform takes: from 1 January 2000 to five years from now."""
    now = timezone.now()
    first = timezone.make_aware(datetime(FIRST_YEAR, 1, 1), timezone.get_default_timezone())
    try:
        last = now.replace(year=now.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        last = now.replace(year=now.year + YEARS_AHEAD, day=28)
    return first, last


def validate_time_window(value: datetime | date | None) -> None:
    """A time (or a date) between 1 January 2000 and five years from now."""
    if value is None:
        return
    first, last = time_window()
    if not isinstance(value, datetime):
        value = timezone.make_aware(datetime.combine(value, time.min), timezone.get_default_timezone())
    elif timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if not first <= value <= last:
        raise ValidationError(
            _("Enter a time between %(first)s and %(last)s."),
            code="out_of_range",
            params={"first": timezone.localtime(first).date().isoformat(), "last": timezone.localtime(last).date().isoformat()},
        )
