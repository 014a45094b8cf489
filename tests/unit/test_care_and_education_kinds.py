"""The kinds issue 23's indicators need (children in care, care leavers, leaving home education
or compulsory school age, moving away, core groups): each accepts its typed details and refuses
bad ones naming the field, never the value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hub.domain.canonical_event import CanonicalEvent, describe_validation_error
from hub.domain.taxonomy import KINDS, SpecialCategory, classify
from tests.factories import event_dict

AGENCIES = {
    "local-authority": {"id": "shire-county-council", "type": "local-authority"},
    "health": {"id": "shire-icb", "type": "health"},
    "education": {"id": "school-100001", "type": "education"},
}
# recorded 2024-03-04: every date below is on or before it.
VALID: dict[str, tuple[str, dict[str, Any]]] = {
    "la.ceased-looked-after": ("local-authority", {"reason": "E4A", "ceased_on": "2024-03-01"}),
    "health.looked-after-health-assessment": ("health", {"completed_on": "2024-02-28"}),
    "health.looked-after-dental-check": ("health", {"completed_on": "2024-02-28"}),
    "la.care-leaver-accommodation": (
        "local-authority",
        {"accommodation": "U", "suitable": True, "recorded_on": "2024-03-01"},
    ),
    "la.care-leaver-activity": ("local-authority", {"activity": "F4", "recorded_on": "2024-03-01"}),
    "education.elective-home-education-ended": (
        "education",
        {"ended_on": "2024-03-01", "reason": "returned-to-school"},
    ),
    "education.compulsory-school-age-ended": ("education", {"on": "2023-06-30"}),
    "la.moved-out-of-area": (
        "local-authority",
        {"moved_on": "2024-03-01", "receiving_authority": "Wessex County Council"},
    ),
    "la.core-group-meeting": ("local-authority", {"held_on": "2024-03-04"}),
}
# kind -> (details, the field the refusal must name, a value that must not be repeated)
INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    "la.ceased-looked-after": ({"reason": "X1", "ceased_on": "2024-03-01"}, "reason", "X1"),
    "health.looked-after-health-assessment": (
        {"completed_on": "2024-03-09"},
        "completed_on",
        "2024-03-09",
    ),
    "health.looked-after-dental-check": ({"completed_on": "1 March"}, "completed_on", "1 March"),
    "la.care-leaver-accommodation": (
        {"accommodation": "U1", "suitable": True, "recorded_on": "2024-03-01"},
        "accommodation",
        "U1",
    ),
    "la.care-leaver-activity": ({"activity": "0", "recorded_on": "2024-03-01"}, "activity", "'0'"),
    "education.elective-home-education-ended": (
        {"ended_on": "2024-03-01", "reason": "bored"},
        "reason",
        "bored",
    ),
    "education.compulsory-school-age-ended": ({"on": "2024-06-28"}, "on", "2024-06-28"),
    "la.moved-out-of-area": ({"moved_on": "2024-03-01", "receiving_authority": ""}, "", ""),
    "la.core-group-meeting": ({}, "held_on", ""),
}


def event(kind: str, details: dict[str, Any]) -> dict[str, Any]:
    publisher = VALID[kind][0]
    return event_dict(
        kind=kind, agency=AGENCIES[publisher], details=details, categories=[], summary="Recorded"
    )


def test_every_new_kind_is_in_the_taxonomy_with_a_details_shape() -> None:
    assert set(VALID) == set(INVALID)
    for kind in VALID:
        assert KINDS[kind].details is not None, kind


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_event_is_accepted_with_its_typed_details(kind: str) -> None:
    details = VALID[kind][1]
    accepted = CanonicalEvent.model_validate(event(kind, details))
    for field, value in details.items():
        assert accepted.details[field] == value


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_an_invalid_event_is_refused_naming_the_field_not_the_value(kind: str) -> None:
    details, field, value = INVALID[kind]
    if kind == "la.moved-out-of-area":
        field = "receiving_authority"
    with pytest.raises(ValidationError) as caught:
        CanonicalEvent.model_validate(event(kind, details))
    reason = describe_validation_error(caught.value)
    assert reason.startswith(f"details: Value error, details do not fit kind {kind!r}: "), reason
    assert f"{field}:" in reason
    if value:
        assert value not in reason


def test_the_activity_gives_whether_the_care_leaver_is_in_education_employment_or_training() -> (
    None
):
    def eet(**details: Any) -> object:
        accepted = CanonicalEvent.model_validate(
            event("la.care-leaver-activity", {"recorded_on": "2024-03-01", **details})
        )
        return accepted.details["in_education_employment_or_training"]

    assert eet(activity="F1") is True
    assert eet(activity="P5") is True
    assert eet(activity="G6") is False
    assert eet(activity="G4", in_education_employment_or_training=False) is False
    with pytest.raises(ValidationError) as caught:
        eet(activity="G5", in_education_employment_or_training=True)
    assert "in_education_employment_or_training: does not agree with the activity code" in (
        describe_validation_error(caught.value)
    )


def test_a_health_assessment_published_before_it_had_a_shape_is_still_accepted() -> None:
    """Schema v1 compatibility: the kind took any object, so yesterday's event is valid today
    (no details, or keys the shape does not define, kept as they are)."""
    for details in ({}, {"assessment_type": "review", "outcome": "completed"}):
        accepted = CanonicalEvent.model_validate(
            event("health.looked-after-health-assessment", details)
        )
        assert accepted.details == details


def test_a_core_group_meeting_is_not_a_review_conference() -> None:
    assert KINDS["la.core-group-meeting"].details is not KINDS["la.review-cp-conference"].details
    # A review conference's details do not fit a core group meeting, and the reverse.
    with pytest.raises(ValidationError):
        CanonicalEvent.model_validate(event("la.core-group-meeting", {"decision": "continue-plan"}))


def test_kinds_that_may_say_custody_or_illness_are_classified_as_such() -> None:
    assert classify("la.ceased-looked-after", []).criminal_offence
    assert classify("la.care-leaver-accommodation", []).criminal_offence
    assert SpecialCategory.HEALTH in classify("la.care-leaver-activity", []).special_categories
    assert (
        SpecialCategory.HEALTH
        in classify("health.looked-after-dental-check", []).special_categories
    )
    assert not classify("la.core-group-meeting", []).special_category


def test_chronology_key_facts_say_the_codes_in_words() -> None:
    from hub.reports.key_facts import key_facts_text

    assert key_facts_text(
        "la.ceased-looked-after", {"reason": "E11", "ceased_on": "2025-02-03"}
    ) == (
        "Reason: Adopted - application for an adoption order unopposed (E11); "
        "ceased: 3 February 2025"
    )
    assert (
        key_facts_text(
            "la.care-leaver-accommodation",
            {"accommodation": "S", "suitable": False, "recorded_on": "2025-02-03"},
        )
        == "Accommodation: No fixed abode or homeless (S); suitable: no"
    )
    assert key_facts_text(
        "la.care-leaver-activity",
        {"activity": "F2", "in_education_employment_or_training": True},
    ) == (
        "Activity: Full time in education other than higher education (F2); "
        "in education, employment or training: yes"
    )
    assert key_facts_text("la.core-group-meeting", {"held_on": "2025-02-03"}) == (
        "Held: 3 February 2025"
    )
    assert (
        key_facts_text(
            "education.elective-home-education-ended",
            {"ended_on": "2025-06-27", "reason": "end-of-compulsory-school-age"},
        )
        == "Ended: 27 June 2025; reason: Reached the end of compulsory school age"
    )
