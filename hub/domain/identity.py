"""Child identifiers: the NHS number (the Single Unique Identifier) and hub-issued
provisional identifiers for children who do not have one yet.

Both are validated here, at the edge, so that a bad identifier never reaches the store.
"""

from __future__ import annotations

import operator
import secrets

NHS_NUMBER_LENGTH = 10
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_ZERO_CODES_WEIGHTED = ord("0") * sum(_NHS_WEIGHTS)

# Provisional ids: "PRV-" then 10 characters of Crockford base 32 and one check character.
PROVISIONAL_PREFIX = "PRV-"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The check alphabet adds five symbols so that the check is mod 37, as in ISO 7064.
_CHECK_SYMBOLS = _CROCKFORD + "*~$=U"
_PROVISIONAL_BODY_LENGTH = 10


class InvalidIdentifierError(ValueError):
    """An identifier failed validation; the message says why, for the publisher to fix."""


def normalise_nhs_number(raw: str) -> str:
    """Strip the spaces and hyphens people write NHS numbers with ("943 476 5919")."""
    return raw.replace(" ", "").replace("-", "")


def nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None where no valid digit exists."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("the check digit is computed over nine digits")
    # Weighted sum of the digits' ASCII codes, less what the code of "0" adds (run per event
    # at ingest: about a third of the cost of the generator over int() it replaced).
    codes = first_nine.encode("ascii")
    total: int = sum(map(operator.mul, codes, _NHS_WEIGHTS)) - _ZERO_CODES_WEIGHTED
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def validate_nhs_number(raw: str) -> str:
    """Return the normalised NHS number or raise InvalidIdentifierError saying what is wrong."""
    number = normalise_nhs_number(raw)
    if len(number) != NHS_NUMBER_LENGTH or not number.isascii() or not number.isdigit():
        raise InvalidIdentifierError(
            f"an NHS number is 10 digits (spaces allowed); got {len(number)} characters"
            if number.isascii() and number.isdigit()
            else "an NHS number is 10 digits (spaces allowed); it contains other characters"
        )
    if number.count(number[0]) == NHS_NUMBER_LENGTH:
        # 0000000000 and 1111111111 pass the check digit, but are what systems put in when
        # the number is unknown: accepting them would merge unrelated children into one record.
        raise InvalidIdentifierError(
            "not a valid NHS number: one digit repeated ten times is a placeholder, "
            "not a child's number"
        )
    expected = nhs_check_digit(number[:9])
    if expected is None:
        raise InvalidIdentifierError(
            "not a valid NHS number: its first nine digits can have no Modulus 11 check digit"
        )
    if int(number[9]) != expected:
        raise InvalidIdentifierError(
            "not a valid NHS number: the Modulus 11 check digit does not match "
            "(check for a mistyped or transposed digit)"
        )
    return number


def _provisional_check(body: str) -> str:
    total = 0
    for char in body:
        total = (total * 32 + _CROCKFORD.index(char)) % 37
    return _CHECK_SYMBOLS[total]


def issue_provisional_id() -> str:
    """A new random provisional identifier with a check character (about 50 bits of entropy)."""
    body = "".join(secrets.choice(_CROCKFORD) for _ in range(_PROVISIONAL_BODY_LENGTH))
    return f"{PROVISIONAL_PREFIX}{body}{_provisional_check(body)}"


def validate_provisional_id(raw: str) -> str:
    """Return the normalised provisional id or raise InvalidIdentifierError."""
    value = raw.strip().upper()
    if not value.startswith(PROVISIONAL_PREFIX):
        raise InvalidIdentifierError(f"a provisional id starts with {PROVISIONAL_PREFIX!r}")
    body, check = value[len(PROVISIONAL_PREFIX) : -1], value[-1:]
    if len(body) != _PROVISIONAL_BODY_LENGTH or any(c not in _CROCKFORD for c in body):
        raise InvalidIdentifierError(
            f"a provisional id is {PROVISIONAL_PREFIX} then {_PROVISIONAL_BODY_LENGTH} "
            "characters of 0-9 and A-Z (no I, L, O, U) and a check character"
        )
    if _provisional_check(body) != check:
        raise InvalidIdentifierError(
            "not a valid provisional id: the check character does not match"
        )
    return value
