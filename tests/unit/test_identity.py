from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.identity import (
    InvalidIdentifierError,
    issue_provisional_id,
    nhs_check_digit,
    validate_nhs_number,
    validate_provisional_id,
)


def test_valid_nhs_number_is_normalised() -> None:
    assert validate_nhs_number("943 476 5919") == "9434765919"
    assert validate_nhs_number("943-476-5919") == "9434765919"


def test_wrong_check_digit_is_rejected_with_reason() -> None:
    with pytest.raises(InvalidIdentifierError, match="check digit does not match"):
        validate_nhs_number("9434765918")


def test_number_whose_check_would_be_ten_is_invalid() -> None:
    # 000000006: sum = 6*2 = 12, 12 % 11 = 1, 11 - 1 = 10 -> no valid check digit exists.
    assert nhs_check_digit("000000006") is None
    with pytest.raises(InvalidIdentifierError, match="can have no Modulus 11 check digit"):
        validate_nhs_number("0000000060")


def test_check_of_eleven_means_zero() -> None:
    assert nhs_check_digit("000000000") == 0
    assert validate_nhs_number("9000000009") == "9000000009"


@pytest.mark.parametrize("digit", "0123456789")
def test_placeholder_numbers_are_rejected_although_their_check_digit_fits(digit: str) -> None:
    """Every repeated-digit number passes Modulus 11, and each is a placeholder ("not
    known"): accepting them would merge unrelated children into one stream."""
    number = digit * 10
    assert nhs_check_digit(number[:9]) == int(digit)
    with pytest.raises(InvalidIdentifierError, match="placeholder") as raised:
        validate_nhs_number(number)
    assert number not in str(raised.value)


@pytest.mark.parametrize(
    "raw",
    [
        "94347659",
        "94347659190",
        "943476591X",
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",
    ],
)
def test_wrong_length_or_characters_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="10 digits"):
        validate_nhs_number(raw)


@given(st.integers(min_value=0, max_value=999_999_999), st.integers(0, 8), st.integers(1, 9))
def test_every_single_digit_error_is_caught(serial: int, position: int, shift: int) -> None:
    first_nine = f"{serial:09d}"
    check = nhs_check_digit(first_nine)
    if check is None:
        return
    digits = list(first_nine + str(check))
    digits[position] = str((int(digits[position]) + shift) % 10)
    with pytest.raises(InvalidIdentifierError):
        validate_nhs_number("".join(digits))


def test_issued_provisional_ids_validate_and_differ() -> None:
    issued = {issue_provisional_id() for _ in range(200)}
    assert len(issued) == 200
    for value in issued:
        assert validate_provisional_id(value.lower()) == value


def test_provisional_id_with_changed_character_is_rejected() -> None:
    value = issue_provisional_id()
    body_char = value[5]
    replacement = "0" if body_char != "0" else "1"
    tampered = value[:5] + replacement + value[6:]
    with pytest.raises(InvalidIdentifierError, match="check character"):
        validate_provisional_id(tampered)


@pytest.mark.parametrize("raw", ["PRV-123", "XYZ-0123456789A", "PRV-0123456789IL"])
def test_malformed_provisional_ids_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        validate_provisional_id(raw)


def test_check_digit_is_modulus_11_over_the_digit_values() -> None:
    """The fast sum over ASCII codes agrees with the textbook formula on every kind of input."""
    import random

    rng = random.Random(8)
    for _ in range(20_000):
        first_nine = "".join(rng.choice("0123456789") for _ in range(9))
        total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
        textbook = {11: 0, 10: None}.get(11 - total % 11, 11 - total % 11)
        assert nhs_check_digit(first_nine) == textbook


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"])
def test_check_digit_needs_nine_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        nhs_check_digit(bad)
