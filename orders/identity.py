"""ID numbers of real-name tickets: checked, masked and turned into a keyed hash; never kept in clear.

A mainland resident identity card number (18 characters: 17 digits and a check character, 0-9 or X) must
carry a real date of birth and the right check character (GB 11643-1999, ISO 7064 MOD 11-2). Anything else
is taken as a passport or another travel document: 5 to 20 letters and digits, spaces and dashes dropped.

`id_key()` is what the database compares (orders.Ticket.id_claim: one live ticket per ID per session): an
HMAC-SHA256 of the normalised number under ID_HASH_KEY (SECRET_KEY unless set), so the same person is the
same key whoever types the number, and the table holds nothing a leak could turn back into an ID number.
Changing the key forgets who holds what; set ID_HASH_KEY once and keep it.
"""

import re
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from ticketing.errors import DomainError

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
MAINLAND = re.compile(r"^\d{17}[\dX]$")
LOOKS_MAINLAND = re.compile(r"^\d{15,18}X?$")  # digits only, the length of an ID card: held to its rules
DOCUMENT = re.compile(r"^[A-Z0-9]{5,20}$")


class BadIdNumber(DomainError):
    code = "bad_id_number"
    default_message = _("Enter an 18-character mainland ID number, or a passport number (5 to 20 letters and digits).")


@dataclass(frozen=True)
class IdNumber:
    number: str  # normalised: upper case, no spaces or dashes
    mainland: bool

    @property
    def masked(self) -> str:
        """"110101199001011234" → "110***********1234"; short numbers keep less, never all of it."""
        head, tail = (3, 4) if len(self.number) >= 12 else (1, 2)
        return self.number[:head] + "*" * (len(self.number) - head - tail) + self.number[-tail:]

    @property
    def key(self) -> str:
        return id_key(self.number)


def check_digit(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def parse(raw: str) -> IdNumber:
    """The number as typed → IdNumber, or BadIdNumber saying what is wrong (in the user's language)."""
    number = re.sub(r"[\s\-]", "", raw or "").upper()
    if LOOKS_MAINLAND.match(number):
        if not MAINLAND.match(number):
            raise BadIdNumber(_("A mainland ID number has 18 characters: 17 digits, then a digit or X."))
        try:
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            born = None
        if born is None or not date(1900, 1, 1) <= born <= date.today():
            raise BadIdNumber(_("This ID number does not hold a real date of birth: check digits 7 to 14."))
        if check_digit(number[:17]) != number[17]:
            raise BadIdNumber(_("This ID number's last character does not match the others: check it for a typo."))
        return IdNumber(number, mainland=True)
    if not DOCUMENT.match(number):
        raise BadIdNumber()
    return IdNumber(number, mainland=False)


def id_key(number: str) -> str:
    secret = settings.ID_HASH_KEY or settings.SECRET_KEY
    return salted_hmac("orders.id_key", number, secret=secret, algorithm="sha256").hexdigest()[:40]
