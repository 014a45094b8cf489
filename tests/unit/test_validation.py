"""Bad input gets a precise, stable rejection; nothing raises, whatever the bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.access import Practitioner, Role
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.taxonomy import AgencyType
from hub.validation import Rejection, parse_message
from tests.factories import TEST_AGENCIES, event_bytes, event_dict

RECEIVED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
STAFF = {
    "sw-0001": Practitioner(
        "sw-0001", "A", "shire-county-council", AgencyType.LOCAL_AUTHORITY, Role.SOCIAL_WORKER
    ),
    "po-0001": Practitioner(
        "po-0001",
        "B",
        "shire-constabulary",
        AgencyType.POLICE,
        Role.POLICE_OFFICER,
        frozenset({"macpt:shire-county-council"}),
    ),
    "po-0002": Practitioner(
        "po-0002", "C", "shire-constabulary", AgencyType.POLICE, Role.POLICE_OFFICER
    ),
}


def parse(value: bytes, owner: str = "shire-county-council") -> CanonicalEvent | Rejection:
    registered = TEST_AGENCIES.get(owner)
    return parse_message(
        value,
        owner_agency=owner,
        owner_type=None if registered is None else AgencyType(registered),
        find_practitioner=STAFF.get,
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
    (
        event_bytes(extra_field=True),
        "invalid-event",
        "(a field the schema does not define): Extra inputs are not permitted",
    ),
    (event_bytes(schema_version=2), "invalid-event", "schema_version: Input should be 1"),
    (
        event_bytes(occurred_at="1970-01-01T00:00:00Z"),
        "invalid-event",
        "occurred_at: Value error, occurred_at is before 1990-01-01; check the date format",
    ),
    (
        event_bytes(agency={"id": "shire-constabulary", "type": "local-authority"}),
        "wrong-agency",
        "agency.id is not 'shire-county-council', the agency whose channel the message arrived on",
    ),
    (
        event_bytes(
            agency={"id": "shire-county-council", "type": "education"},
            kind="education.safeguarding-disclosure",
            details={},
        ),
        "wrong-agency-type",
        "agency.type is education, but 'shire-county-council' is registered as local-authority",
    ),
    (
        event_bytes(
            kind="la.worker-allocated", details={"practitioner_id": "po-0002", "role": "x"}
        ),
        "allocation-outside-authority",
        "details.practitioner_id is not, in the practitioner directory, a member of staff of "
        "'shire-county-council' or of one of its teams",
    ),
    (
        event_bytes(kind="la.worker-allocated", details={"practitioner_id": "nobody", "role": "x"}),
        "allocation-outside-authority",
        "details.practitioner_id is not, in the practitioner directory, a member of staff of "
        "'shire-county-council' or of one of its teams",
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


def test_an_allocation_may_name_the_authoritys_staff_or_its_teams_members() -> None:
    for worker in ("sw-0001", "po-0001"):  # own staff; a police officer on its MACPT
        allocation = event_bytes(
            kind="la.worker-allocated", details={"practitioner_id": worker, "role": "x"}
        )
        assert isinstance(parse(allocation), CanonicalEvent)


def test_a_school_channel_cannot_speak_as_a_local_authority() -> None:
    """The hole this closes: a school declaring itself a local authority to publish an
    allocation that would give any practitioner access to a child."""
    claim = event_bytes(
        agency={"id": "school-100001", "type": "local-authority"},
        kind="la.worker-allocated",
        details={"practitioner_id": "po-0002", "role": "x"},
    )
    result = parse(claim, owner="school-100001")
    assert isinstance(result, Rejection) and result.code == "wrong-agency-type"


def test_nothing_is_accepted_from_an_unregistered_agency() -> None:
    for value in (event_bytes(agency={"id": "rogue-council", "type": "local-authority"}), b"x"):
        assert parse(value, owner="rogue-council") == Rejection(
            "unregistered-agency",
            "agency 'rogue-council' is not in this hub's agency register; register it "
            "(hub agency register) and publish again",
        )


def test_placeholder_nhs_numbers_are_rejected_at_the_edge() -> None:
    for placeholder in ("0000000000", "1111111111", "999 999 9999"):
        result = parse(event_bytes(child={"nhs_number": placeholder}))
        assert isinstance(result, Rejection) and result.code == "invalid-event"
        assert "placeholder" in result.reason and placeholder not in result.reason


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
        assert result.code in {"invalid-event", "wrong-agency", "wrong-agency-type", "future-date"}
        assert result.reason


CANARY = "QCANARYQ"
# Where a publisher's own text can go in a message: any key or string value, at any depth.
_canary_text = st.builds(
    lambda before, after: f"{before}{CANARY}{after}",
    st.text(alphabet="abc-.0123456789 ", max_size=5),
    st.text(alphabet="abc-.0123456789 ", max_size=5),
)


def _plant(document: object, path: list[int], text: str, as_key: bool) -> object:
    """The document with `text` put at a position chosen by `path` (as a key or a value)."""
    if isinstance(document, dict) and document:
        keys = sorted(document)
        key = keys[path[0] % len(keys)] if path else keys[0]
        if not path[1:]:
            copy = dict(document)
            if as_key:
                copy[text] = copy.pop(key)
            else:
                copy[key] = text
            return copy
        return {**document, key: _plant(document[key], path[1:], text, as_key)}
    if isinstance(document, list) and document:
        index = path[0] % len(document) if path else 0
        copy = list(document)
        copy[index] = _plant(document[index], path[1:], text, as_key) if path[1:] else text
        return copy
    return text


@settings(max_examples=400)
@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4),
    _canary_text,
    st.booleans(),
    st.sampled_from(["la.contact", "la.referral", "la.worker-allocated", "la.cp-plan-started"]),
)
def test_a_rejection_never_repeats_what_the_publisher_wrote(
    path: list[int], text: str, as_key: bool, kind: str
) -> None:
    """Quarantine reasons are read by operators and reach logs: whatever a publisher put
    anywhere in a message (a key, a kind, an id, a withholding, a shielded path), the reason
    names fields, never that content."""
    document = event_dict(
        kind=kind,
        details={"practitioner_id": "sw-0001", "role": "social-worker"},
        withheld_from=[{"role": "social-worker", "reason": "r", "decided_by": "d",
                        "review_by": "2030-01-01"}],
        shielded_fields=["summary"],
        supersedes={"event_id": "REF-0000", "revision": 1},
    )  # fmt: skip
    planted = _plant(document, path, text, as_key)
    result = parse(json.dumps(planted).encode())
    if isinstance(result, Rejection):
        assert CANARY not in result.reason, result.reason
