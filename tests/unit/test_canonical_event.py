from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hub.domain.canonical_event import (
    CanonicalEvent,
    canonical_json_schema,
    describe_validation_error,
)
from hub.domain.identity import issue_provisional_id
from hub.domain.taxonomy import KINDS
from tests.factories import VALID_NHS_NUMBER, event_dict


def problems(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        CanonicalEvent.model_validate(event_dict(**overrides))
    return describe_validation_error(caught.value)


def test_valid_event_round_trips() -> None:
    event = CanonicalEvent.model_validate(event_dict(child={"nhs_number": "943 476 5919"}))
    assert event.child.nhs_number == VALID_NHS_NUMBER
    assert event.idempotency_key == "shire-county-council\x1fREF-0001\x1f1"
    again = CanonicalEvent.model_validate_json(event.model_dump_json())
    assert again == event


def test_unknown_top_level_field_rejected_without_repeating_its_name() -> None:
    # A key the schema does not define is the publisher's content: not repeated.
    assert problems(colour="red") == (
        "(a field the schema does not define): Extra inputs are not permitted"
    )


def test_unknown_nested_field_rejected() -> None:
    message = problems(agency={"id": "shire-county-council", "type": "local-authority", "x": 1})
    assert message == "agency.(a field the schema does not define): Extra inputs are not permitted"


def test_a_withholding_names_a_known_role_or_agency_type() -> None:
    """A typo in a withholding would withhold the item from nobody: it is an error."""
    withholding = {"reason": "new address", "decided_by": "DI Hale", "review_by": "2030-01-01"}
    message = problems(withheld_from=[{**withholding, "role": "school-dls"}])
    assert message.startswith("withheld_from.0.role: Input should be ")
    assert "school-dls" not in message.replace("'school-designated-safeguarding-lead'", "")
    assert "withheld_from.0.agency_type: Input should be " in problems(
        withheld_from=[{**withholding, "agency_type": "polce"}]
    )
    event = CanonicalEvent.model_validate(
        event_dict(withheld_from=[{**withholding, "role": "school-designated-safeguarding-lead"}])
    )
    assert event.withheld_from[0].role == "school-designated-safeguarding-lead"


def test_invalid_nhs_number_names_field_and_reason_without_value() -> None:
    message = problems(child={"nhs_number": "9434765918"})
    assert message.startswith("child.nhs_number: Value error, not a valid NHS number")
    assert "9434765918" not in message


def test_child_needs_exactly_one_identifier() -> None:
    both = {"nhs_number": VALID_NHS_NUMBER, "provisional_id": issue_provisional_id()}
    assert "exactly one of nhs_number or provisional_id" in problems(child=both)
    assert "exactly one of nhs_number or provisional_id" in problems(child={})


def test_naive_datetimes_rejected() -> None:
    assert problems(occurred_at="2024-03-04T09:15:00").startswith(
        "occurred_at: Input should have timezone info"
    )


def test_dates_before_1990_rejected() -> None:
    assert "before 1990-01-01" in problems(occurred_at="1989-12-31T23:59:00+00:00")


def test_occurred_after_recorded_rejected() -> None:
    assert "occurred_at is after recorded_at" in problems(occurred_at="2024-03-05T09:15:00+00:00")


def test_unknown_kind_rejected_without_repeating_it() -> None:
    message = problems(kind="la.tea-break")
    assert "kind: Value error, not a kind of schema v1" in message
    assert "tea-break" not in message


def test_kind_details_are_validated_naming_only_the_schemas_fields() -> None:
    message = problems(details={"referral_sourc": "school"})
    assert "referral_source: Field required" in message
    assert "(a field the schema does not define): Extra inputs are not permitted" in message
    assert "referral_sourc:" not in message and "school" not in message


def test_kind_without_shape_accepts_any_object() -> None:
    event = CanonicalEvent.model_validate(
        event_dict(kind="la.contact", details={"channel": "phone", "count": 2})
    )
    assert event.details == {"channel": "phone", "count": 2}


def test_agency_may_publish_only_its_own_kinds() -> None:
    message = problems(agency={"id": "shire-constabulary", "type": "police"})
    assert "kind 'la.referral' is published by local-authority agencies, not police" in message


def test_withholding_needs_recipient_and_review_date() -> None:
    entry = {"reason": "new address", "decided_by": "Team manager", "review_by": "2024-09-01"}
    assert "exactly one of agency_type or role" in problems(withheld_from=[entry])
    event = CanonicalEvent.model_validate(
        event_dict(withheld_from=[{**entry, "agency_type": "education"}])
    )
    assert event.withheld_from[0].agency_type == "education"


def test_shielded_fields_must_name_present_fields() -> None:
    message = problems(shielded_fields=["summary", "details.address"])
    assert "shielded_fields[1] must be 'summary' or 'details.<a field present" in message
    assert "address" not in message.replace("details.<a field present in details>", "")
    event = CanonicalEvent.model_validate(
        event_dict(
            kind="la.contact", details={"address": "refuge"}, shielded_fields=["details.address"]
        )
    )
    assert event.shielded_fields == ["details.address"]


def test_retraction_must_name_what_it_retracts() -> None:
    assert "must name the record it retracts" in problems(kind="record.retracted", details={})


def test_identity_link_is_published_against_the_provisional_id() -> None:
    message = problems(kind="identity.linked", details={"nhs_number": VALID_NHS_NUMBER})
    assert "identity.linked events are published against the provisional id" in message
    event = CanonicalEvent.model_validate(
        event_dict(
            kind="identity.linked",
            child={"provisional_id": issue_provisional_id()},
            details={"nhs_number": "943 476 5919"},
        )
    )
    assert event.details == {"nhs_number": VALID_NHS_NUMBER}


def test_published_schema_covers_every_field_and_kind() -> None:
    schema = canonical_json_schema()
    assert set(schema["properties"]) == set(CanonicalEvent.model_fields)
    assert schema["additionalProperties"] is False
    assert set(schema["x-kinds"]) == set(KINDS)
    assert schema["x-kinds"]["police.home-visit"]["details"]["required"] == [
        "reason",
        "child_seen",
        "child_spoken_to",
    ]


def test_taxonomy_covers_every_agency_type() -> None:
    prefixes = {kind.split(".")[0] for kind in KINDS}
    assert prefixes == {"la", "police", "health", "education", "record", "identity"}


def test_household_ref_is_optional_and_shaped_like_a_record_id() -> None:
    assert CanonicalEvent.model_validate(event_dict()).household_ref is None
    event = CanonicalEvent.model_validate(event_dict(household_ref="FAM-000123"))
    assert event.household_ref == "FAM-000123"
    assert CanonicalEvent.model_validate_json(event.model_dump_json()) == event
    assert problems(household_ref="the Smith family").startswith(
        "household_ref: String should match pattern"
    )
    assert problems(household_ref="").startswith("household_ref: String should match pattern")
    properties = canonical_json_schema()["properties"]
    assert "household/family reference" in properties["household_ref"]["description"]
