"""Pattern rules on one child's chronology: exact flags, windows and wording, current entries
only, and descriptions that never carry what an agency wrote."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, EntryStatus, PatternFlag
from hub.domain.identity import issue_provisional_id
from hub.domain.patterns import PatternRules, detect_patterns
from hub.domain.taxonomy import KINDS
from tests.factories import VALID_NHS_NUMBER, event_dict

AGENCIES = {
    "la": ("shire-county-council", "local-authority"),
    "police": ("shire-constabulary", "police"),
    "health": ("shire-icb", "health"),
    "education": ("school-100001", "education"),
}
SECRET_SUMMARY = "Pupil said Uncle Bob hits them at 14 Example Road"
DETAILS: dict[str, dict[str, Any]] = {
    "health.was-not-brought": {"service": "Community paediatrics", "appointment_type": "Review"},
    "la.referral": {"referral_source": "school"},
    "la.cp-plan-started": {"category": "neglect"},
    "police.domestic-abuse-incident": {"child_present": True, "police_reference": "SC-1"},
    "education.elective-home-education-notice": {"la_consent_required": False},
    "education.enrolled": {"school_urn": "100001", "starts_on": "2024-09-02"},
}


def at(day: str, hhmm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def entry(
    event_id: str,
    kind: str,
    day: str,
    hhmm: str = "10:00",
    *,
    details: dict[str, Any] | None = None,
    status: EntryStatus = EntryStatus.CURRENT,
    revision: int = 1,
    **overrides: Any,
) -> ChronologyEntry:
    """An entry for kind `kind`, published by the demo agency of the kind's type."""
    agency_id, agency_type = AGENCIES.get(kind.split(".")[0], AGENCIES["la"])
    occurred = at(day, hhmm)
    fields = {
        "event_id": event_id,
        "revision": revision,
        "agency": {"id": agency_id, "type": agency_type},
        "kind": kind,
        "categories": [],
        "occurred_at": occurred.isoformat(),
        "recorded_at": (occurred + timedelta(hours=2)).isoformat(),
        "summary": SECRET_SUMMARY,
        "details": DETAILS.get(kind, {}) if details is None else details,
    } | overrides
    event = CanonicalEvent.model_validate(event_dict(**fields))
    return ChronologyEntry(
        event=event,
        received_at=occurred + timedelta(hours=3),
        stream="ab" * 16,
        version=1,
        status=status,
    )


def retraction(event_id: str, agency: str, day: str, retracts: str) -> ChronologyEntry:
    agency_id, agency_type = AGENCIES[agency]
    return entry(
        event_id,
        "record.retracted",
        day,
        agency={"id": agency_id, "type": agency_type},
        supersedes={"event_id": retracts},
    )


def visit(
    event_id: str,
    day: str,
    hhmm: str = "10:00",
    *,
    status: EntryStatus = EntryStatus.CURRENT,
    **seen: bool,
) -> ChronologyEntry:
    facts = {"reason": "Concern for welfare", "child_seen": True, "child_spoken_to": True}
    return entry(event_id, "police.home-visit", day, hhmm, details=facts | seen, status=status)


def codes(flags: list[PatternFlag]) -> list[str]:
    return [flag.code for flag in flags]


# --- nothing to see ----------------------------------------------------------------------


def test_no_entries_no_flags() -> None:
    assert detect_patterns([]) == []


def test_default_rules_are_the_agreed_thresholds_and_cannot_be_changed_in_place() -> None:
    rules = PatternRules()
    assert (rules.was_not_brought_count, rules.was_not_brought_within) == (3, timedelta(365))
    assert rules.home_education_lookback == timedelta(days=180)
    assert (rules.multi_agency_types, rules.multi_agency_within) == (3, timedelta(days=30))
    assert rules.home_education_concerns == {
        "education.safeguarding-disclosure",
        "la.referral",
        "la.s47-enquiry-started",
        "la.cp-plan-started",
        "police.domestic-abuse-incident",
        "health.non-mobile-infant-injury",
    }
    # The kinds the taxonomy marks routine (case administration, routine checks, the record).
    assert rules.not_concerns == {kind for kind, spec in KINDS.items() if spec.routine}
    assert rules.not_concerns == {
        "identity.linked",
        "identity.unlinked",
        "record.retracted",
        "la.worker-allocated",
        "education.enrolled",
        "la.child-details",
        "health.child-details",
        "la.cp-plan-reviewed",
        "la.core-group-meeting",
        "la.cp-plan-ended",
        "la.ceased-looked-after",
        "la.placement-started",
        "la.placement-moved",
        "la.placement-ended",
        "la.care-leaver-status",
        "la.care-leaver-accommodation",
        "la.care-leaver-activity",
        "la.moved-out-of-area",
        "health.looked-after-health-assessment",
        "health.looked-after-dental-check",
        "education.elective-home-education-ended",
        "education.compulsory-school-age-ended",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.multi_agency_types = 2  # type: ignore[misc]


# --- repeated-was-not-brought ------------------------------------------------------------


def test_three_missed_appointments_within_a_year_are_one_flag() -> None:
    entries = [
        entry("appt-1", "health.was-not-brought", "2023-01-10"),
        entry("appt-2", "health.was-not-brought", "2023-05-10"),
        entry("appt-3", "health.was-not-brought", "2023-12-20"),
    ]
    assert detect_patterns(entries) == [
        PatternFlag(
            code="repeated-was-not-brought",
            description="The child was not brought to 3 health appointments between "
            "10 January 2023 and 20 December 2023 (at least 3 within 365 days).",
            refs=("shire-icb/appt-1@1", "shire-icb/appt-2@1", "shire-icb/appt-3@1"),
            window_start=at("2023-01-10"),
            window_end=at("2023-12-20"),
        )
    ]


@pytest.mark.parametrize(("third", "flagged"), [("2023-01-01", True), ("2023-01-02", False)])
def test_the_year_is_365_days_inclusive(third: str, flagged: bool) -> None:
    entries = [
        entry("appt-1", "health.was-not-brought", "2022-01-01"),
        entry("appt-2", "health.was-not-brought", "2022-06-01"),
        entry("appt-3", "health.was-not-brought", third),
    ]
    assert codes(detect_patterns(entries)) == (["repeated-was-not-brought"] if flagged else [])


def test_overlapping_clusters_merge_and_distant_ones_do_not() -> None:
    entries = [
        entry("appt-1", "health.was-not-brought", "2023-01-10"),
        entry("appt-2", "health.was-not-brought", "2023-05-10"),
        entry("appt-3", "health.was-not-brought", "2023-12-20"),
        # 2023-05-10 .. 2024-03-01 is a second qualifying year sharing two appointments
        entry("appt-4", "health.was-not-brought", "2024-03-01"),
        entry("appt-5", "health.was-not-brought", "2025-09-01"),
        entry("appt-6", "health.was-not-brought", "2025-10-01"),
        entry("appt-7", "health.was-not-brought", "2025-11-01"),
    ]
    flags = detect_patterns(list(reversed(entries)))  # input order does not matter
    assert [(f.refs, f.window_start, f.window_end) for f in flags] == [
        (
            tuple(f"shire-icb/appt-{n}@1" for n in (1, 2, 3, 4)),
            at("2023-01-10"),
            at("2024-03-01"),
        ),
        (
            tuple(f"shire-icb/appt-{n}@1" for n in (5, 6, 7)),
            at("2025-09-01"),
            at("2025-11-01"),
        ),
    ]
    assert flags[0].description == (
        "The child was not brought to 4 health appointments between 10 January 2023 and "
        "1 March 2024 (at least 3 within 365 days)."
    )


def test_only_current_entries_count() -> None:
    entries = [
        entry("appt-1", "health.was-not-brought", "2023-01-10"),
        entry("appt-2", "health.was-not-brought", "2023-02-10", status=EntryStatus.SUPERSEDED),
        entry("appt-2", "health.was-not-brought", "2023-02-11", revision=2),
        entry("appt-3", "health.was-not-brought", "2023-03-10", status=EntryStatus.RETRACTED),
    ]
    assert detect_patterns(entries) == []
    flags = detect_patterns(entries, PatternRules(was_not_brought_count=2))
    assert [f.refs for f in flags] == [("shire-icb/appt-1@1", "shire-icb/appt-2@2")]
    assert flags[0].description == (
        "The child was not brought to 2 health appointments between 10 January 2023 and "
        "11 February 2023 (at least 2 within 365 days)."
    )


# --- child-not-seen-on-visit -------------------------------------------------------------


def test_each_visit_where_the_child_was_not_seen_or_not_spoken_to_is_flagged() -> None:
    entries = [
        visit("SC-1/N-1", "2024-01-05"),
        visit("SC-2/N-1", "2024-02-05", child_spoken_to=False),
        visit("SC-3/N-1", "2024-03-05", child_seen=False),
        visit("SC-4/N-1", "2024-04-05", child_seen=False, child_spoken_to=False),
        # 23:30 UTC on 1 July is 00:30 on 2 July in the UK: the date a social worker knows
        visit("SC-5/N-1", "2024-07-01", "23:30", child_spoken_to=False),
        visit("SC-6/N-1", "2024-08-05", child_spoken_to=False, status=EntryStatus.RETRACTED),
    ]
    flags = detect_patterns(entries)
    assert [(f.code, f.refs, f.window_start, f.window_end) for f in flags] == [
        ("child-not-seen-on-visit", (f"shire-constabulary/SC-{n}/N-1@1",), when, when)
        for n, when in [
            (2, at("2024-02-05")),
            (3, at("2024-03-05")),
            (4, at("2024-04-05")),
            (5, at("2024-07-01", "23:30")),
        ]
    ]
    assert [f.description for f in flags] == [
        "Police visited the home on 5 February 2024: the child was seen but not spoken to.",
        "Police visited the home on 5 March 2024: the child was not seen.",
        "Police visited the home on 5 April 2024: the child was neither seen nor spoken to.",
        "Police visited the home on 2 July 2024: the child was seen but not spoken to.",
    ]


# --- sudden-home-education ---------------------------------------------------------------


def test_home_education_soon_after_safeguarding_concerns_is_flagged() -> None:
    entries = [
        entry("LCS-1", "la.referral", "2024-05-07"),  # 181 days before: outside
        entry("LCS-2", "la.referral", "2024-06-01"),
        entry("CP-1", "education.attendance-concern", "2024-09-20",
              details={"attendance_percent": 80.0, "period": "Autumn"}),  # not a concern here
        entry("CP-2", "education.safeguarding-disclosure", "2024-10-14"),
        entry("CP-3", "education.safeguarding-disclosure", "2024-10-21",
              status=EntryStatus.RETRACTED),
        entry("CP-4", "education.elective-home-education-notice", "2024-11-04"),
    ]  # fmt: skip
    flags = [f for f in detect_patterns(entries) if f.code == "sudden-home-education"]
    assert flags == [
        PatternFlag(
            code="sudden-home-education",
            description="Elective home education notice on 4 November 2024: 2 safeguarding "
            "concerns in the 180 days before it (1 referral to children's social care and "
            "1 safeguarding disclosure at school).",
            refs=(
                "shire-county-council/LCS-2@1",
                "school-100001/CP-2@1",
                "school-100001/CP-4@1",
            ),
            window_start=at("2024-06-01"),
            window_end=at("2024-11-04"),
        )
    ]


def test_home_education_needing_la_consent_is_flagged_without_a_concern() -> None:
    notice = entry(
        "CP-9",
        "education.elective-home-education-notice",
        "2025-01-27",
        details={"la_consent_required": True, "reason_given": "Parent dissatisfied"},
    )
    assert detect_patterns([notice]) == [
        PatternFlag(
            code="sudden-home-education",
            description="Elective home education notice on 27 January 2025: the notice says "
            "home education needs the local authority's consent.",
            refs=("school-100001/CP-9@1",),
            window_start=at("2025-01-27"),
            window_end=at("2025-01-27"),
        )
    ]
    concern = entry("SC-7/N-1", "police.domestic-abuse-incident", "2025-01-20")
    (flag,) = [f for f in detect_patterns([concern, notice]) if f.code == "sudden-home-education"]
    assert flag.description == (
        "Elective home education notice on 27 January 2025: 1 safeguarding concern in the "
        "180 days before it (1 domestic abuse incident); the notice says home education needs "
        "the local authority's consent."
    )
    assert flag.refs == ("shire-constabulary/SC-7/N-1@1", "school-100001/CP-9@1")


def test_home_education_without_concern_or_consent_is_not_flagged() -> None:
    entries = [
        entry("CP-1", "education.enrolled", "2024-09-02"),
        entry("CP-2", "education.elective-home-education-notice", "2024-11-04"),
    ]
    assert detect_patterns(entries) == []


# --- multi-agency-concerns ---------------------------------------------------------------


def test_concerns_from_three_agency_types_within_30_days() -> None:
    entries = [
        visit("SC-1/N-1", "2024-03-07", "07:40"),
        entry("mh-1", "health.parental-mental-health-crisis", "2024-03-07", "08:30"),
        entry("LCS-1", "la.contact", "2024-03-08"),
        retraction("LCS-2", "la", "2024-03-09", "LCS-0"),  # about the record, not the child
        entry("LCS-3", "la.decision", "2024-03-11",
              details={"decision": "NFA", "rationale": "Father caring", "decided_by": "TM-1"}),
    ]  # fmt: skip
    assert detect_patterns(entries) == [
        PatternFlag(
            code="multi-agency-concerns",
            description="Concerns from 3 agency types (local authority, police and health) "
            "between 7 March 2024 and 11 March 2024: 4 entries, with at least 3 agency types "
            "within 30 days.",
            refs=(
                "shire-constabulary/SC-1/N-1@1",
                "shire-icb/mh-1@1",
                "shire-county-council/LCS-1@1",
                "shire-county-council/LCS-3@1",
            ),
            window_start=at("2024-03-07", "07:40"),
            window_end=at("2024-03-11"),
        )
    ]


def test_two_agency_types_or_a_third_too_late_is_not_a_pattern() -> None:
    entries = [
        entry("LCS-1", "la.contact", "2024-01-01"),
        entry("mh-1", "health.health-visitor-concern", "2024-01-15"),
        entry("CP-1", "education.safeguarding-disclosure", "2024-02-01"),  # 31 days after
    ]
    assert detect_patterns(entries) == []
    assert codes(detect_patterns(entries, PatternRules(multi_agency_within=timedelta(31)))) == [
        "multi-agency-concerns"
    ]


def test_identity_entries_are_not_concerns() -> None:
    provisional = {"provisional_id": issue_provisional_id()}
    entries = [
        entry("LCS-1", "identity.linked", "2025-01-28", child=provisional,
              details={"nhs_number": VALID_NHS_NUMBER}),
        entry("mh-1", "health.health-visitor-concern", "2025-02-01"),
        entry("CP-1", "education.safeguarding-disclosure", "2025-02-03"),
    ]  # fmt: skip
    assert detect_patterns(entries) == []


ROUTINE_RECORDS: list[tuple[str, str, dict[str, Any]]] = [
    ("LCS-10", "la.ceased-looked-after", {"reason": "E45", "ceased_on": "2025-02-03"}),
    ("LCS-11", "la.care-leaver-accommodation",
     {"accommodation": "D", "suitable": True, "recorded_on": "2025-02-03"}),
    ("LCS-12", "la.care-leaver-activity", {"activity": "F2", "recorded_on": "2025-02-03"}),
    ("LCS-13", "la.core-group-meeting", {"held_on": "2025-02-03"}),
    ("LCS-14", "la.placement-moved", {}),
    ("LCS-15", "la.moved-out-of-area", {"moved_on": "2025-02-03"}),
    ("hc-1", "health.looked-after-dental-check", {"completed_on": "2025-02-03"}),
    ("hc-2", "health.looked-after-health-assessment", {"completed_on": "2025-02-03"}),
    ("CP-10", "education.elective-home-education-ended",
     {"ended_on": "2025-02-03", "reason": "returned-to-school"}),
    ("CP-11", "education.compulsory-school-age-ended", {"on": "2025-02-03"}),
]  # fmt: skip


def routine_records() -> list[ChronologyEntry]:
    """Routine records from the local authority, health and education within a week."""
    return [
        entry(event_id, kind, f"2025-02-{3 + n // 2:02d}", f"1{n}:00", details=details)
        for n, (event_id, kind, details) in enumerate(ROUTINE_RECORDS)
    ]


def test_routine_records_from_three_agency_types_are_not_concerns() -> None:
    """Case administration and health checks for a child in care say nothing about risk."""
    entries = routine_records()
    assert {e.event.agency.type for e in entries} == {"local-authority", "health", "education"}
    assert detect_patterns(entries) == []


def test_real_concerns_beside_routine_records_still_raise_the_flag_naming_only_them() -> None:
    concerns = [
        entry("LCS-1", "la.referral", "2025-02-04"),
        entry("mh-1", "health.health-visitor-concern", "2025-02-05"),
        entry("CP-1", "education.safeguarding-disclosure", "2025-02-06"),
    ]
    entries = sorted([*routine_records(), *concerns], key=lambda e: e.event.occurred_at)
    [flag] = detect_patterns(entries)
    assert flag.code == "multi-agency-concerns"
    assert flag.refs == (
        "shire-county-council/LCS-1@1",
        "shire-icb/mh-1@1",
        "school-100001/CP-1@1",
    )
    assert flag.description.startswith(
        "Concerns from 3 agency types (local authority, health and education)"
    )


def test_a_partnership_may_count_a_routine_kind_as_a_concern() -> None:
    entries = routine_records()
    counted = {
        "la.moved-out-of-area",
        "health.looked-after-dental-check",
        "education.compulsory-school-age-ended",
    }
    rules = PatternRules(not_concerns=PatternRules().not_concerns - counted)
    [flag] = detect_patterns(entries, rules)
    assert len(flag.refs) == 3


def test_child_details_are_not_concerns() -> None:
    """Who the child is, from the local authority and health, says nothing happened."""
    who = {
        "given_names": ["Ada"],
        "family_name": "Example",
        "sex": "female",
        "date_of_birth": "2019-05-04",
    }
    entries = [
        entry("LCS-1", "la.child-details", "2025-02-01", details=who),
        entry("Patient/p-1", "health.child-details", "2025-02-02", details=who),
        entry("CP-1", "education.safeguarding-disclosure", "2025-02-03"),
    ]  # fmt: skip
    assert detect_patterns(entries) == []
    concern = entry("mh-1", "health.health-visitor-concern", "2025-02-04")
    assert codes(detect_patterns([*entries, concern])) == []  # still two agency types
    police = visit("SC-1/N-1", "2025-02-05", "07:40")
    assert codes(detect_patterns([*entries, concern, police])) == ["multi-agency-concerns"]


def test_overlapping_windows_are_one_flag_listing_every_entry() -> None:
    entries = [
        entry("LCS-1", "la.contact", "2024-01-01"),
        entry("SC-1/N-1", "police.household-arrest", "2024-01-11"),
        entry("hv-1", "health.health-visitor-concern", "2024-01-21"),
        entry("LCS-2", "la.contact", "2024-02-10"),
        entry("CP-1", "education.safeguarding-disclosure", "2024-02-15"),
        # a second episode, months later
        entry("LCS-3", "la.contact", "2024-09-01"),
        entry("SC-2/N-1", "police.missing-episode", "2024-09-02", details={"returned": True}),
        entry("hv-2", "health.urgent-care-attendance", "2024-09-03"),
    ]
    flags = detect_patterns(entries)
    assert [(f.code, f.refs, f.window_start, f.window_end) for f in flags] == [
        (
            "multi-agency-concerns",
            (
                "shire-county-council/LCS-1@1",
                "shire-constabulary/SC-1/N-1@1",
                "shire-icb/hv-1@1",
                "shire-county-council/LCS-2@1",
                "school-100001/CP-1@1",
            ),
            at("2024-01-01"),
            at("2024-02-15"),
        ),
        (
            "multi-agency-concerns",
            (
                "shire-county-council/LCS-3@1",
                "shire-constabulary/SC-2/N-1@1",
                "shire-icb/hv-2@1",
            ),
            at("2024-09-01"),
            at("2024-09-03"),
        ),
    ]
    assert flags[0].description == (
        "Concerns from 4 agency types (local authority, police, health and education) "
        "between 1 January 2024 and 15 February 2024: 5 entries, with at least 3 agency "
        "types within 30 days."
    )


# --- all together ------------------------------------------------------------------------


def test_flags_are_sorted_by_window_start_then_code_and_never_quote_a_record() -> None:
    entries = [
        entry("appt-1", "health.was-not-brought", "2024-02-01"),
        visit("SC-1/N-1", "2024-03-07", "07:40", child_spoken_to=False),
        entry("mh-1", "health.parental-mental-health-crisis", "2024-03-07", "08:30"),
        entry("LCS-1", "la.referral", "2024-03-08"),
        entry("appt-2", "health.was-not-brought", "2024-05-01"),
        entry("appt-3", "health.was-not-brought", "2024-08-01"),
        entry("CP-1", "education.elective-home-education-notice", "2024-08-20"),
    ]
    flags = detect_patterns(entries)
    assert [(f.code, f.window_start) for f in flags] == [
        ("repeated-was-not-brought", at("2024-02-01")),
        ("child-not-seen-on-visit", at("2024-03-07", "07:40")),
        ("multi-agency-concerns", at("2024-03-07", "07:40")),
        ("sudden-home-education", at("2024-03-08")),
    ]
    for flag in flags:
        assert flag.window_start <= flag.window_end
        assert flag.window_end.utcoffset() == timedelta(0)
        for text in ("Uncle Bob", "Example Road", "Concern for welfare", "Community paediatrics"):
            assert text not in flag.description
