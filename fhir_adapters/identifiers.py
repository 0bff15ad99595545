"""Patient identifiers Careloop accepts, and their check digits.

NHS number (England and Wales) and CHI number (Scotland) are both ten digits whose last digit is a modulus 11
check over the first nine (weights 10 down to 2; 11 - remainder, 11 -> 0, 10 -> no valid number). A local
hospital number has no check digit and needs the system of the hospital that issued it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_adapters.vocabulary import CHI_NUMBER_SYSTEM, NHS_NUMBER_SYSTEM

_TEN_DIGITS = re.compile(r"^\d{10}$")


def modulus_11_valid(number: str) -> bool:
    """True for ten digits whose tenth is the modulus 11 check digit of the first nine."""
    if not _TEN_DIGITS.fullmatch(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


@dataclass(frozen=True)
class IdentifierKind:
    """A kind of patient identifier a care bundle may accept (``patient_identifiers`` in the format)."""

    code: str
    label: str
    system: str | None  # None: the issuing hospital's own system, given with the value
    check_digit: bool

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not a valid identifier of this kind, or None. Never echoes the value."""
        compact = value.replace(" ", "")
        if self.check_digit:
            if not _TEN_DIGITS.fullmatch(compact):
                return f"a {self.label} is 10 digits"
            if not modulus_11_valid(compact):
                return f"this is not a valid {self.label}: the check digit does not match"
        elif not compact or len(value) > 64:
            return f"a {self.label} is 1 to 64 characters"
        return None


IDENTIFIER_KINDS: dict[str, IdentifierKind] = {
    "nhs-number": IdentifierKind("nhs-number", "NHS number", NHS_NUMBER_SYSTEM, check_digit=True),
    # CHI numbers use the same modulus 11 check digit; their first six digits are the date of birth
    # (DDMMYY), which is not checked here (some valid CHI numbers were issued with other dates).
    "chi-number": IdentifierKind("chi-number", "CHI number", CHI_NUMBER_SYSTEM, check_digit=True),
    "local": IdentifierKind("local", "local hospital number", None, check_digit=False),
}
