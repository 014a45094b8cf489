"""Relationships derived from a child's events: who they cover, from when, and until when."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.domain.access import (
    Practitioner,
    RelationshipBasis,
    RelationshipGrant,
    Role,
    macpt_team,
)
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.relationships import (
    RelationshipRules,
    ReviewCommission,
    derive_relationships,
    find_relationship,
)
from hub.domain.taxonomy import AgencyType
from tests.factories import event_dict

ROOT = Path(__file__).resolve().parents[2]
LA = {"id": "shire-county-council", "type": "local-authority"}
OTHER_LA = {"id": "wold-borough-council", "type": "local-authority"}
TEAM = macpt_team("shire-county-council")


def school(urn: int) -> dict[str, str]:
    return {"id": f"school-{urn}", "type": "education"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(
    kind: str,
    event_id: str,
    occurred: str,
    *,
    agency: dict[str, str] = LA,
    details: dict[str, Any] | None = None,
    revision: int = 1,
    supersedes: dict[str, Any] | None = None,
) -> CanonicalEvent:
    occurred_at = at(occurred)
    fields: dict[str, Any] = {
        "event_id": event_id,
        "revision": revision,
        "agency": agency,
        "kind": kind,
        "categories": [],
        "occurred_at": occurred_at.isoformat(),
        "recorded_at": (occurred_at + timedelta(hours=2)).isoformat(),
        "summary": "Test event",
        "details": details or {},
    }
    if supersedes is not None:
        fields["supersedes"] = supersedes
    return CanonicalEvent.model_validate(event_dict(**fields))


def allocated(event_id: str, occurred: str, practitioner_id: str, **kw: Any) -> CanonicalEvent:
    role = kw.pop("role", "social-worker")
    details = {"practitioner_id": practitioner_id, "role": role}
    return event("la.worker-allocated", event_id, occurred, details=details, **kw)


def enrolled(urn: int, event_id: str, occurred: str, starts_on: str) -> CanonicalEvent:
    details = {"school_urn": str(urn), "starts_on": starts_on}
    return event("education.enrolled", event_id, occurred, agency=school(urn), details=details)


def person(
    pid: str,
    role: Role,
    organisation: str = "shire-county-council",
    agency_type: AgencyType = AgencyType.LOCAL_AUTHORITY,
    teams: frozenset[str] = frozenset(),
    active_to: date | None = None,
) -> Practitioner:
    return Practitioner(
        id=pid,
        name="Test Person",
        organisation=organisation,
        agency_type=agency_type,
        role=role,
        teams=teams,
        active_to=active_to,
    )


# --- allocated worker -------------------------------------------------------------------------


def test_an_allocation_lasts_at_most_allocation_max() -> None:
    grants = derive_relationships([allocated("ALLOC-1", "2024-01-10T09:00:00", "sw-0001")])
    assert grants == [
        RelationshipGrant(
            basis=RelationshipBasis.ALLOCATED_WORKER,
            valid_from=at("2024-01-10T09:00:00"),
            valid_to=at("2025-01-09T09:00:00"),
            source_event_id="shire-county-council/ALLOC-1",
            practitioner_id="sw-0001",
            organisation="shire-county-council",
        )
    ]


def test_an_allocation_covers_only_the_authoritys_staff_and_its_teams_members() -> None:
    """However an allocation reached the store, it relates only someone who works for the
    authority that made it (or is on one of its teams): a practitioner id alone is not enough."""
    grants = derive_relationships([allocated("ALLOC-1", "2024-01-10T09:00:00", "po-0001")])
    when = at("2024-02-01T09:00:00")
    police = AgencyType.POLICE
    outsider = person("po-0001", Role.POLICE_OFFICER, "shire-constabulary", police)
    on_macpt = person(
        "po-0001",
        Role.POLICE_OFFICER,
        "shire-constabulary",
        police,
        teams=frozenset({"macpt:shire-county-council"}),
    )
    other_team = person(
        "po-0001",
        Role.POLICE_OFFICER,
        "shire-constabulary",
        police,
        teams=frozenset({"macpt:wold-borough-council"}),
    )
    assert find_relationship(outsider, grants, when) is None
    assert find_relationship(other_team, grants, when) is None
    assert find_relationship(on_macpt, grants, when) == grants[0]


def test_a_handover_of_the_same_role_ends_the_previous_workers_allocation_at_once() -> None:
    grants = derive_relationships(
        [
            allocated("ALLOC-2", "2024-03-01T09:00:00", "sw-0002"),
            allocated("ALLOC-1", "2024-01-10T09:00:00", "sw-0001"),
            allocated("ALLOC-3", "2024-02-01T09:00:00", "fh-0001", role="family-help-worker"),
        ]
    )
    summary = [(g.practitioner_id, g.valid_from, g.valid_to, g.source_event_id) for g in grants]
    assert summary == [
        (
            "sw-0001",
            at("2024-01-10T09:00:00"),
            at("2024-03-01T09:00:00"),
            "shire-county-council/ALLOC-1",
        ),
        # a different role is not a handover: the family help worker keeps the full year
        (
            "fh-0001",
            at("2024-02-01T09:00:00"),
            at("2025-01-31T09:00:00"),
            "shire-county-council/ALLOC-3",
        ),
        (
            "sw-0002",
            at("2024-03-01T09:00:00"),
            at("2025-03-01T09:00:00"),
            "shire-county-council/ALLOC-2",
        ),
    ]


def test_a_corrected_allocation_replaces_the_original_grant() -> None:
    original = allocated("ALLOC-1", "2024-01-10T09:00:00", "sw-0001")
    corrected = allocated("ALLOC-1", "2024-01-10T09:00:00", "sw-0002", revision=2)
    for events in ([original, corrected], [corrected, original]):
        grants = derive_relationships(events)
        assert [(g.practitioner_id, g.source_event_id, g.valid_to) for g in grants] == [
            ("sw-0002", "shire-county-council/ALLOC-1", at("2025-01-09T09:00:00"))
        ]


def test_an_allocation_at_a_british_summer_time_offset_is_kept_in_utc() -> None:
    event_ = CanonicalEvent.model_validate(
        event_dict(
            event_id="ALLOC-9",
            kind="la.worker-allocated",
            categories=[],
            occurred_at="2024-06-03T10:00:00+01:00",
            recorded_at="2024-06-03T12:00:00+01:00",
            details={"practitioner_id": "sw-0001", "role": "social-worker"},
        )
    )
    [grant] = derive_relationships([event_])
    assert grant.valid_from == at("2024-06-03T09:00:00")
    assert grant.valid_from.tzinfo is UTC


# --- MACPT: s47 enquiries and child protection plans ------------------------------------------


def test_an_s47_enquiry_relates_the_macpt_until_its_outcome_plus_grace() -> None:
    grants = derive_relationships(
        [
            event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00"),
            event(
                "la.s47-enquiry-outcome",
                "S47-1-OUT",
                "2024-02-20T16:00:00",
                details={"outcome": "concerns-substantiated-icpc"},
            ),
        ]
    )
    assert grants == [
        RelationshipGrant(
            basis=RelationshipBasis.MACPT_MEMBER,
            valid_from=at("2024-02-01T10:00:00"),
            valid_to=at("2024-03-21T16:00:00"),
            source_event_id="shire-county-council/S47-1",
            team="macpt:shire-county-council",
        )
    ]


def test_an_s47_enquiry_without_an_outcome_expires_after_90_days() -> None:
    grants = derive_relationships(
        [
            event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00"),
            # another authority's outcome does not close this authority's enquiry
            event(
                "la.s47-enquiry-outcome",
                "W-OUT",
                "2024-02-10T10:00:00",
                agency=OTHER_LA,
                details={"outcome": "no-further-action"},
            ),
        ]
    )
    assert [(g.team, g.valid_from, g.valid_to) for g in grants] == [
        (TEAM, at("2024-02-01T10:00:00"), at("2024-05-01T10:00:00"))
    ]


def test_an_outcome_before_the_enquiry_started_does_not_close_it() -> None:
    grants = derive_relationships(
        [
            event(
                "la.s47-enquiry-outcome",
                "OLD-OUT",
                "2023-01-10T10:00:00",
                details={"outcome": "no-further-action"},
            ),
            event("la.s47-enquiry-started", "S47-2", "2024-02-01T10:00:00"),
        ]
    )
    assert [g.valid_to for g in grants] == [at("2024-05-01T10:00:00")]


def test_a_running_cp_plan_relates_the_macpt_open_endedly() -> None:
    plan = event(
        "la.cp-plan-started", "CPP-1", "2024-04-02T14:00:00", details={"category": "neglect"}
    )
    assert derive_relationships([plan]) == [
        RelationshipGrant(
            basis=RelationshipBasis.MACPT_MEMBER,
            valid_from=at("2024-04-02T14:00:00"),
            valid_to=None,
            source_event_id="shire-county-council/CPP-1",
            team=TEAM,
        )
    ]


def test_an_ended_cp_plan_relates_the_macpt_until_the_end_plus_grace() -> None:
    grants = derive_relationships(
        [
            event(
                "la.cp-plan-started",
                "CPP-1",
                "2024-04-02T14:00:00",
                details={"category": "neglect"},
            ),
            event("la.cp-plan-ended", "CPP-1-END", "2024-08-14T15:00:00"),
        ]
    )
    assert [(g.valid_from, g.valid_to) for g in grants] == [
        (at("2024-04-02T14:00:00"), at("2024-09-13T15:00:00"))
    ]


# --- school DSL --------------------------------------------------------------------------------


def test_an_enrolment_relates_the_schools_dsls_from_the_first_day() -> None:
    grants = derive_relationships([enrolled(100001, "ENR-1", "2022-07-12T10:00:00", "2022-09-05")])
    assert grants == [
        RelationshipGrant(
            basis=RelationshipBasis.SCHOOL_DSL,
            valid_from=at("2022-09-05T00:00:00"),
            valid_to=None,
            source_event_id="school-100001/ENR-1",
            organisation="school-100001",
            role=Role.SCHOOL_DSL,
        )
    ]


def test_moving_school_ends_the_old_schools_relationship_after_grace() -> None:
    grants = derive_relationships(
        [
            enrolled(100001, "ENR-1", "2022-09-05T08:30:00", "2022-09-05"),
            # a second record from the same school is not a move
            enrolled(100001, "ENR-1B", "2023-09-04T08:30:00", "2023-09-04"),
            enrolled(100002, "ENR-7", "2024-01-08T08:30:00", "2024-01-08"),
        ]
    )
    assert [(g.organisation, g.valid_from, g.valid_to) for g in grants] == [
        ("school-100001", at("2022-09-05T00:00:00"), at("2024-02-07T08:30:00")),
        ("school-100001", at("2023-09-04T00:00:00"), at("2024-02-07T08:30:00")),
        ("school-100002", at("2024-01-08T00:00:00"), None),
    ]


def test_a_home_education_notice_ends_the_dsl_relationship_after_grace() -> None:
    grants = derive_relationships(
        [
            enrolled(100003, "ENR-3", "2021-09-06T08:30:00", "2021-09-06"),
            event(
                "education.elective-home-education-notice",
                "EHE-1",
                "2024-05-10T11:00:00",
                agency=school(100003),
                details={"la_consent_required": True},
            ),
        ]
    )
    assert [(g.organisation, g.valid_from, g.valid_to) for g in grants] == [
        ("school-100003", at("2021-09-06T00:00:00"), at("2024-06-09T11:00:00"))
    ]


def test_an_enrolment_ended_before_its_first_day_grants_nothing() -> None:
    grants = derive_relationships(
        [
            enrolled(100004, "ENR-4", "2024-07-01T09:00:00", "2024-09-04"),
            event(
                "education.elective-home-education-notice",
                "EHE-4",
                "2024-07-10T09:00:00",
                agency=school(100004),
                details={"la_consent_required": False},
            ),
        ]
    )
    assert grants == []


# --- retractions, commissions, rules -----------------------------------------------------------


def test_a_retracted_record_grants_nothing() -> None:
    enrolment = enrolled(100001, "ENR-1", "2022-09-05T08:30:00", "2022-09-05")
    retraction = event(
        "record.retracted",
        "RET-1",
        "2022-09-06T08:30:00",
        agency=school(100001),
        supersedes={"event_id": "ENR-1"},
    )
    assert derive_relationships([enrolment, retraction]) == []


def test_a_retraction_only_retracts_its_own_agencys_record() -> None:
    start = event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00")
    police_retraction = event(
        "record.retracted",
        "RET-1",
        "2024-02-02T10:00:00",
        agency={"id": "shire-constabulary", "type": "police"},
        supersedes={"event_id": "S47-1"},
    )
    grants = derive_relationships([start, police_retraction])
    assert [g.source_event_id for g in grants] == ["shire-county-council/S47-1"]


def test_a_retracted_outcome_no_longer_closes_the_enquiry() -> None:
    grants = derive_relationships(
        [
            event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00"),
            event(
                "la.s47-enquiry-outcome",
                "S47-1-OUT",
                "2024-02-20T16:00:00",
                details={"outcome": "no-further-action"},
            ),
            event(
                "record.retracted",
                "RET-2",
                "2024-02-21T09:00:00",
                supersedes={"event_id": "S47-1-OUT", "revision": 1},
            ),
        ]
    )
    assert [g.valid_to for g in grants] == [at("2024-05-01T10:00:00")]


def test_a_review_commission_relates_the_reviewer_for_the_review_only() -> None:
    commission = ReviewCommission(
        reviewer_id="rev-0001",
        commissioned_by="shire-safeguarding-partnership",
        reason="Rapid Review following a serious incident notification",
        starts_at=at("2025-01-06T09:00:00"),
        ends_at=at("2025-01-27T17:00:00"),
    )
    assert derive_relationships([], [commission]) == [
        RelationshipGrant(
            basis=RelationshipBasis.REVIEW_COMMISSION,
            valid_from=at("2025-01-06T09:00:00"),
            valid_to=at("2025-01-27T17:00:00"),
            source_event_id="commission:rev-0001",
            practitioner_id="rev-0001",
        )
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"ends_at": at("2025-01-06T09:00:00")}, "must end after it starts"),
        ({"reason": "  "}, "needs a reason"),
        ({"starts_at": datetime(2025, 1, 6, 9)}, "need a time zone"),
    ],
)
def test_a_review_commission_must_be_bounded_and_explained(
    changes: dict[str, Any], problem: str
) -> None:
    fields: dict[str, Any] = {
        "reviewer_id": "rev-0001",
        "commissioned_by": "shire-safeguarding-partnership",
        "reason": "Local Child Safeguarding Practice Review",
        "starts_at": at("2025-01-06T09:00:00"),
        "ends_at": at("2025-03-31T17:00:00"),
        **changes,
    }
    with pytest.raises(ValueError, match=problem):
        ReviewCommission(**fields)


def test_a_partnership_can_change_the_durations() -> None:
    rules = RelationshipRules(
        allocation_max=timedelta(days=180),
        grace=timedelta(days=7),
        s47_without_outcome=timedelta(days=45),
    )
    grants = derive_relationships(
        [
            allocated("ALLOC-1", "2024-01-10T09:00:00", "sw-0001"),
            event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00"),
            event(
                "la.cp-plan-started",
                "CPP-1",
                "2024-03-01T10:00:00",
                details={"category": "neglect"},
            ),
            event("la.cp-plan-ended", "CPP-END", "2024-06-01T10:00:00"),
        ],
        rules=rules,
    )
    assert [(g.source_event_id, g.valid_to) for g in grants] == [
        ("shire-county-council/ALLOC-1", at("2024-07-08T09:00:00")),
        ("shire-county-council/S47-1", at("2024-03-17T10:00:00")),
        ("shire-county-council/CPP-1", at("2024-06-08T10:00:00")),
    ]


def test_rules_refuse_durations_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="grace must not be negative"):
        RelationshipRules(grace=timedelta(days=-1))
    with pytest.raises(ValueError, match="allocation_max must be positive"):
        RelationshipRules(allocation_max=timedelta(0))


def test_events_that_establish_no_relationship_are_ignored() -> None:
    assert derive_relationships([CanonicalEvent.model_validate(event_dict())]) == []


def test_the_docs_state_the_default_durations() -> None:
    text = (ROOT / "docs" / "practitioners.md").read_text()
    defaults = RelationshipRules()
    for name in ("allocation_max", "grace", "s47_without_outcome"):
        days = getattr(defaults, name).days
        assert re.search(rf"`{name}`\s*\|\s*{days} days", text), name


# --- find_relationship ------------------------------------------------------------------------

SW1 = person("sw-0001", Role.SOCIAL_WORKER, teams=frozenset({TEAM}))
PO1 = person(
    "po-0001",
    Role.POLICE_OFFICER,
    "shire-constabulary",
    AgencyType.POLICE,
    teams=frozenset({TEAM}),
)
PO2 = person("po-0002", Role.POLICE_OFFICER, "shire-constabulary", AgencyType.POLICE)
DSL1 = person("dsl-100001", Role.SCHOOL_DSL, "school-100001", AgencyType.EDUCATION)
DSL2 = person("dsl-100002", Role.SCHOOL_DSL, "school-100002", AgencyType.EDUCATION)


def case_grants() -> list[RelationshipGrant]:
    return derive_relationships(
        [
            event("la.s47-enquiry-started", "S47-1", "2024-02-01T10:00:00"),
            allocated("ALLOC-1", "2024-02-02T09:00:00", "sw-0001"),
            enrolled(100001, "ENR-1", "2022-09-05T08:30:00", "2022-09-05"),
        ]
    )


def test_the_most_specific_relationship_is_found() -> None:
    grant = find_relationship(SW1, case_grants(), at("2024-02-05T12:00:00"))
    assert grant is not None
    assert (grant.basis, grant.source_event_id) == (
        RelationshipBasis.ALLOCATED_WORKER,
        "shire-county-council/ALLOC-1",
    )
    # before the allocation, the team membership is what relates them
    grant = find_relationship(SW1, case_grants(), at("2024-02-01T12:00:00"))
    assert grant is not None and grant.basis is RelationshipBasis.MACPT_MEMBER


def test_team_membership_and_school_decide_who_is_covered() -> None:
    when = at("2024-02-05T12:00:00")
    grants = case_grants()
    macpt = find_relationship(PO1, grants, when)
    assert macpt is not None and macpt.source_event_id == "shire-county-council/S47-1"
    assert find_relationship(PO2, grants, when) is None
    dsl = find_relationship(DSL1, grants, when)
    assert dsl is not None and dsl.basis is RelationshipBasis.SCHOOL_DSL
    assert find_relationship(DSL2, grants, when) is None


def test_a_relationship_ends_at_valid_to_exactly() -> None:
    grants = case_grants()
    assert find_relationship(PO1, grants, at("2024-05-01T09:59:59")) is not None
    assert find_relationship(PO1, grants, at("2024-05-01T10:00:00")) is None


def test_a_practitioner_who_has_left_is_not_related_whatever_the_grants_say() -> None:
    leaver = person("sw-0099", Role.SOCIAL_WORKER, active_to=date(2024, 6, 30))
    grants = derive_relationships([allocated("ALLOC-5", "2024-06-01T09:00:00", "sw-0099")])
    assert [g.valid_to for g in grants] == [at("2025-06-01T09:00:00")]
    assert find_relationship(leaver, grants, at("2024-06-15T12:00:00")) == grants[0]
    assert find_relationship(leaver, grants, at("2024-06-30T22:30:00")) == grants[0]
    # 23:30 UTC on 30 June is 00:30 on 1 July in England: they have left
    assert find_relationship(leaver, grants, at("2024-06-30T23:30:00")) is None
    assert find_relationship(leaver, grants, at("2024-07-02T09:00:00")) is None


def test_find_relationship_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        find_relationship(SW1, case_grants(), datetime(2024, 2, 5, 12))
