"""Opening a chronology chunk builds each recorded event as it was validated at ingest, without
validating it again (`hub.read_models.chronology_documents.stored_event`): the events built are
the ones validation gives, and anything not in the recorded shape is still validated."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from hub.domain.canonical_event import CanonicalEvent
from hub.read_models.chronology_documents import EVENT_FIELDS, stored_event
from tests.factories import event_dict

WITHHOLDINGS = [
    {
        "agency_type": "police",
        "reason": "would put an investigation at risk",
        "decided_by": "DS Lee",
        "review_by": "2025-01-31",
    },
    {
        "role": "school-designated-safeguarding-lead",
        "reason": "detrimental to the child",
        "decided_by": "Dr Khan",
        "review_by": "2025-02-28",
    },
]

EVENTS = [
    event_dict(),
    event_dict(kind="la.contact", categories=[], details={}),
    event_dict(
        event_id="REF-0001",
        revision=2,
        supersedes={"event_id": "REF-0001", "revision": 1},
        household_ref="HH-77",
        shielded_fields=["summary", "details.referral_source"],
        withheld_from=WITHHOLDINGS,
        sensitivity="sensitive",
        categories=["neglect", "physical-abuse"],
        occurred_at="2024-03-04T09:15:00Z",
        recorded_at="2024-03-04T12:40:00.123456+01:00",
    ),
    event_dict(
        event_id="REF-0002",
        kind="record.retracted",
        supersedes={"event_id": "REF-0001"},
        details={},
    ),
]


def recorded(event: dict[str, Any]) -> dict[str, Any]:
    """The body as ingest records it: the validated event's JSON, without empty options."""
    body: dict[str, Any] = orjson.loads(
        CanonicalEvent.model_validate(event).model_dump_json(exclude_none=True)
    )
    return body


def test_the_reader_knows_every_field_of_the_canonical_event() -> None:
    # A field added to the model must be added to the reader (or its events are validated).
    assert tuple(CanonicalEvent.model_fields) == EVENT_FIELDS


@pytest.mark.parametrize("event", EVENTS)
def test_a_recorded_event_is_built_as_validation_builds_it(event: dict[str, Any]) -> None:
    body = recorded(event)
    built, validated = stored_event(body), CanonicalEvent.model_validate(body)
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    for name in EVENT_FIELDS:
        assert type(getattr(built, name)) is type(getattr(validated, name)), name
    for got, expected in zip(built.withheld_from, validated.withheld_from, strict=True):
        assert got == expected and type(got.review_by) is type(expected.review_by)


def test_what_is_not_in_the_recorded_shape_is_validated_and_refused() -> None:
    body = recorded(event_dict())
    with pytest.raises(ValidationError):
        stored_event(body | {"unexpected": 1})
    with pytest.raises(ValidationError):
        stored_event(body | {"agency": {"id": "x", "type": "no-such-type"}})
    with pytest.raises(ValidationError):
        stored_event({k: v for k, v in body.items() if k != "summary"})
    with pytest.raises(ValidationError):
        stored_event(body | {"child": {"nhs_number": None, "provisional_id": None}})
    with pytest.raises(ValidationError):
        stored_event(body | {"occurred_at": "2024-03-04T09:15:00"})  # not aware
