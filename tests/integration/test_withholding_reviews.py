"""Withholding reviews (issue 18): items past their review date are in the queue of the
publishing agency's DPO (every agency's for a lead DPO) and of whoever decided them, oldest
first; a review records "still withheld until" or "now shared" as an event, and the gate honours
it until the publisher states a withholding again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.bootstrap import Hub
from hub.disclosure_withholdings import NOW_SHARED, STILL_WITHHELD
from hub.domain.access import Purpose
from hub.domain.records import DisclosureAudited, WithholdingReviewed
from hub.withholding_reviews import ReviewRefusedError
from tests.integration.test_gate import LA, NOW, POLICE, Case, shown

INCIDENT, DECISION = "shire-constabulary/DA-1", "shire-county-council/DEC-1"
LONG_AGO = (NOW - timedelta(days=60)).date()
RECENTLY = (NOW - timedelta(days=5)).date()
LATER = (NOW + timedelta(days=40)).date()
DETAILS = {"child_present": True, "police_reference": "OE-7"}


def withheld(agency_type: str, decided_by: str, review_by: object) -> list[dict[str, str]]:
    return [
        {
            "agency_type": agency_type,
            "reason": "live investigation",
            "decided_by": decided_by,
            "review_by": str(review_by),
        }
    ]


@pytest.fixture
def hub(partnership_hub: Hub) -> Hub:
    return partnership_hub


@pytest.fixture
def case(hub: Hub) -> Case:
    case = Case(hub, 8201)
    case.on_plan()
    # The police withheld an incident from education (decided by officer po-0001), review
    # overdue; the council a decision from the police, review overdue for longer.
    case.publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        9,
        details=DETAILS,
        withheld_from=withheld("education", "po-0001", RECENTLY),
    )
    case.publish(
        LA,
        "DEC-1",
        "la.decision",
        7,
        details={"decision": "strategy", "rationale": "r", "decided_by": "TM"},
        withheld_from=withheld("police", "Team Manager Oyelaran", LONG_AGO),
    )
    return case


def dsl_sees_incident(case: Case) -> bool:
    view = case.view("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    return shown(view, f"{INCIDENT}@1") is not None


def test_the_queue_is_the_publishers_dpos_the_deciders_and_the_lead_dpos(case: Case) -> None:
    reviews = case.hub.withholding_reviews
    lead = reviews.queue("dpo-0001")
    assert [r.record for r in lead.due] == [DECISION, INCIDENT]  # oldest review date first
    assert lead.due[0].review_by == LONG_AGO and lead.upcoming == []
    police = reviews.queue("dpo-0002")
    assert [r.record for r in police.due] == [INCIDENT]
    (row,) = police.due
    assert (row.kind, row.child, row.withheld_from[0]["reason"]) == (
        "police.domestic-abuse-incident",
        case.nhs,
        "live investigation",
    )
    assert [r.record for r in reviews.queue("po-0001").due] == [INCIDENT]  # who decided it
    assert reviews.queue("po-0002").due == []  # the same force, but not the decider
    assert reviews.queue("dpo-0004").due == []  # a school's DPO: not theirs to review
    # Reading the queue is audited, as a disclosure of no content.
    (entry,) = [
        r
        for r in case.hub.audit.for_practitioner("dpo-0002")
        if isinstance(r, DisclosureAudited) and r.action == "review-withholdings"
    ]
    assert entry.disclosed == [f"{INCIDENT}@1"]
    assert entry.redacted == {f"{INCIDENT}@1": ["summary", "details"]}


def test_still_withheld_sets_the_next_review_date_and_keeps_it_withheld(case: Case) -> None:
    reviews = case.hub.withholding_reviews
    reviews.review("dpo-0002", INCIDENT, STILL_WITHHELD, "charge decision pending", LATER)
    queue = reviews.queue("dpo-0002")
    assert queue.due == [] and [r.review_by for r in queue.upcoming] == [LATER]
    assert queue.upcoming[0].last_review is not None
    assert queue.upcoming[0].last_review.outcome == STILL_WITHHELD
    assert not dsl_sees_incident(case)
    (review,) = [
        r
        for r in case.hub.audit.grants(case.hub.gate.child_stream(case.child)).records
        if isinstance(r, WithholdingReviewed)
    ]
    assert (review.record, review.revision, review.reviewer_id, review.until) == (
        INCIDENT,
        1,
        "dpo-0002",
        LATER.isoformat(),
    )
    # A DPO of the school sees the new review date in the stand-in.
    stand_in = shown(case.view("dpo-0004", Purpose.DATA_PROTECTION_AUDIT), f"{INCIDENT}@1")
    assert stand_in.details["review_by"] == LATER.isoformat()


def test_now_shared_releases_it_until_the_publisher_withholds_it_again(case: Case) -> None:
    reviews = case.hub.withholding_reviews
    assert not dsl_sees_incident(case)
    reviews.review("po-0001", INCIDENT, NOW_SHARED, "investigation closed")
    assert dsl_sees_incident(case)
    assert INCIDENT not in {r.record for r in reviews.queue("dpo-0002").due}
    # The force sends a new revision that withholds it again: that governs.
    case.publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        9,
        revision=2,
        details=DETAILS,
        withheld_from=withheld("education", "po-0001", LONG_AGO),
    )
    assert not dsl_sees_incident(case)
    assert [r.record for r in reviews.queue("dpo-0002").due] == [INCIDENT]


def test_a_review_needs_an_answerable_reviewer_a_reason_and_a_later_date(case: Case) -> None:
    reviews = case.hub.withholding_reviews
    with pytest.raises(ReviewRefusedError, match="record: you do not answer"):
        reviews.review("dpo-0004", INCIDENT, NOW_SHARED, "school thinks so")
    with pytest.raises(ValueError, match=r"^until: "):
        reviews.review("dpo-0002", INCIDENT, STILL_WITHHELD, "pending", RECENTLY)
    with pytest.raises(ValueError, match=r"^notes: "):
        reviews.review("dpo-0002", INCIDENT, NOW_SHARED, "  ")
    with pytest.raises(ValueError, match=r"^outcome: "):
        reviews.review("dpo-0002", INCIDENT, "maybe", "x")
    assert not dsl_sees_incident(case)


def test_a_retracted_record_leaves_the_queue_and_says_nothing(case: Case) -> None:
    """Found by the leak property test: a retracted record's withholding reason reached the
    lead DPO of another organisation through the queue."""
    case.publish(POLICE, "RETRACT-1", "record.retracted", 2, supersedes={"event_id": "DA-1"})
    for reviewer in ("dpo-0001", "dpo-0002", "po-0001"):
        queue = case.hub.withholding_reviews.queue(reviewer)
        assert INCIDENT not in {r.record for r in [*queue.due, *queue.upcoming]}
        assert "live investigation" not in repr(
            [r for r in queue.due if r.agency == "shire-constabulary"]
        )
