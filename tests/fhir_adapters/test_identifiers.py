"""Patient identifiers: NHS and CHI numbers and their modulus 11 check digit; local numbers."""

from __future__ import annotations

import pytest

from fhir_adapters.identifiers import IDENTIFIER_KINDS, modulus_11_valid
from fhir_adapters.vocabulary import CHI_NUMBER_SYSTEM, NHS_NUMBER_SYSTEM


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),  # NHS test number used across the suite
        ("9434765918", False),  # wrong check digit
        ("1111111111", True),  # weights 10..2 sum to 54, remainder 10, check 1
        ("0000000019", True),  # sum 2, remainder 2, check 9
        ("0000000060", False),  # sum 12, remainder 1: check 10, so no valid number starts 000000006
        ("0000000000", True),  # remainder 0: 11 becomes 0
        ("943476591", False),  # nine digits
        ("94347659190", False),  # eleven digits
        ("943 476 5919", False),  # spaces are the caller's to remove
        ("94347659l9", False),  # a letter
    ],
)
def test_modulus_11(number: str, valid: bool) -> None:
    assert modulus_11_valid(number) is valid


def test_kinds_name_their_systems() -> None:
    assert IDENTIFIER_KINDS["nhs-number"].system == NHS_NUMBER_SYSTEM
    assert IDENTIFIER_KINDS["chi-number"].system == CHI_NUMBER_SYSTEM
    assert IDENTIFIER_KINDS["local"].system is None


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("nhs-number", "943 476 5919", None),
        ("nhs-number", "9434765918", "check digit does not match"),
        ("nhs-number", "12345", "is 10 digits"),
        ("chi-number", "1111111111", None),
        ("chi-number", "1111111112", "not a valid CHI number"),
        ("local", "RX1-00042", None),
        ("local", " ", "1 to 64 characters"),
        ("local", "x" * 65, "1 to 64 characters"),
    ],
)
def test_problems_say_what_is_wrong_without_echoing_the_value(
    kind: str, value: str, problem: str | None
) -> None:
    found = IDENTIFIER_KINDS[kind].problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert value.strip() == "" or value not in found
