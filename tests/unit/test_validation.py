"""Bad input gets a precise, stable rejection; nothing raises, whatever the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.canonical_event import CanonicalEvent
from hub.validation import Rejection, parse_message
from tests.factories import event_bytes, event_dict

RECEIVED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def parse(value: bytes, owner: str = "shire-county-council") -> CanonicalEvent | Rejection:
    return parse_message(
        value,
        owner_agency=owner,
        received_at=RECEIVED_AT,
        max_bytes=64 * 1024,
        clock_skew=timedelta(minutes=5),
    )


def test_valid_message_parses() -> None:
    assert isinstance(parse(event_bytes()), CanonicalEvent)


CORPUS = [
    (
        b'{"schema_version": 1, "event_id": ',
        "malformed-json",
        "message is not JSON: Expecting value (line 1, column 35)",
    ),
    (b"\xff\xfe{}", "invalid-utf8", "message is not UTF-8 (bad byte at offset 0)"),
    (b"[1, 2]", "not-an-object", "message is a JSON list, not an object"),
    (b"", "malformed-json", "message is not JSON: Expecting value (line 1, column 1)"),
    (
        event_bytes(revision="two"),
        "invalid-event",
        "revision: Input should be a valid integer, unable to parse string as an integer",
    ),
    (event_bytes(extra_field=True), "invalid-event", "extra_field: Extra inputs are not permitted"),
    (event_bytes(schema_version=2), "invalid-event", "schema_version: Input should be 1"),
    (
        event_bytes(occurred_at="1970-01-01T00:00:00Z"),
        "invalid-event",
        "occurred_at: Value error, occurred_at is before 1990-01-01; check the date format",
    ),
    (
        event_bytes(agency={"id": "shire-constabulary", "type": "local-authority"}),
        "wrong-agency",
        "message claims agency 'shire-constabulary' "
        "but arrived on the channel of 'shire-county-council'",
    ),
    (
        event_bytes(
            recorded_at="2024-06-01T12:06:00+00:00", occurred_at="2024-06-01T12:01:00+00:00"
        ),
        "future-date",
        "recorded_at is in the future (after the hub received it)",
    ),
    (b" " * (64 * 1024 + 1), "oversize", "message is 65,537 bytes; the limit is 65,536"),
]


@pytest.mark.parametrize(("value", "code", "reason"), CORPUS)
def test_hand_made_corpus(value: bytes, code: str, reason: str) -> None:
    assert parse(value) == Rejection(code, reason)


def test_invalid_check_digit_reason_names_field_not_value() -> None:
    result = parse(event_bytes(child={"nhs_number": "9434765918"}))
    assert isinstance(result, Rejection) and result.code == "invalid-event"
    assert result.reason.startswith("child.nhs_number: Value error, not a valid NHS number")
    assert "9434765918" not in result.reason


def test_truncated_message_is_malformed_json() -> None:
    full = event_bytes()
    result = parse(full[: len(full) // 2])
    assert isinstance(result, Rejection) and result.code == "malformed-json"


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(value: bytes) -> None:
    assert isinstance(parse(value), Rejection | CanonicalEvent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.sampled_from(sorted(event_dict())), json_values)
def test_any_field_replaced_by_any_json_is_accepted_or_rejected_cleanly(
    field: str, value: object
) -> None:
    document = event_dict()
    document[field] = value
    result = parse(json.dumps(document).encode())
    if isinstance(result, Rejection):
        assert result.code in {"invalid-event", "wrong-agency", "future-date"}
        assert result.reason
