"""Mainland China mobile numbers: what we accept and how we store them."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MAINLAND = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")

INVALID_MOBILE = _("Enter a mainland China mobile number: 11 digits starting with 1, optionally with +86.")


def normalize_mobile(value: str) -> str:
    """'138 1234 5678', '+86-13812345678' → '+8613812345678'; anything else is refused."""
    compact = re.sub(r"[\s\-()]", "", value or "")
    match = _MAINLAND.match(compact)
    if not match:
        raise ValidationError(INVALID_MOBILE, code="invalid_phone")
    return "+86" + match.group(1)


def looks_like_mobile(value: str) -> bool:
    try:
        normalize_mobile(value)
    except ValidationError:
        return False
    return True


def mask_mobile(value: str) -> str:
    """'+8613812345678' → '138****5678': enough for its owner to recognise, not for others to read."""
    national = value.removeprefix("+86")
    return f"{national[:3]}****{national[-4:]}"
