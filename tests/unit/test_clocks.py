"""The statutory clock rules, as pure functions of a child's local authority facts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.clocks import (
    Clock,
    ClockKind,
    ClockRules,
    ClockStatus,
    Fact,
    alert_recipient,
    current_facts,
    derive_clocks,
    fact_from_event,
)
from tests.factories import event_dict

LA = {"id": "shire-county-council", "type": "local-authority"}
OTHER_LA = {"id": "wold-borough-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}


def fact(
    event_id: str,
    kind: str,
    on: str,
    *,
    revision: int = 1,
    agency: dict[str, str] = LA,
    stream: str = "s1",
    **fields: Any,
) -> Fact:
    """A fact as the consumer derives it from a validated, recorded event."""
    details = fields.pop("details", {"referral_source": "school"} if kind == "la.referral" else {})
    body = CanonicalEvent.model_validate(
        event_dict(
            event_id=event_id,
            revision=revision,
            agency=agency,
            kind=kind,
            occurred_at=f"{on}T10:00:00+00:00",
            recorded_at=f"{on}T12:00:00+00:00",
            details=details,
            **fields,
        )
    ).model_dump(mode="json", exclude_none=True)
    made = fact_from_event(body, stream)
    assert made is not None
    return made


def retraction(event_id: str, target: str, on: str, revision: int = 1) -> Fact:
    return fact(
        event_id, "record.retracted", on, revision=revision, supersedes={"event_id": target}
    )


def only(clocks: list[Clock], kind: ClockKind) -> Clock:
    (clock,) = [c for c in clocks if c.kind is kind]
    return clock


# Assessment ------------------------------------------------------------------------------


def test_assessment_is_due_45_working_days_after_the_referral_skipping_bank_holidays() -> None:
    (clock,) = derive_clocks([fact("REF-1", "la.referral", "2024-03-04")])
    assert (clock.kind, clock.started_on, clock.due) == (
        ClockKind.ASSESSMENT,
        date(2024, 3, 4),
        date(2024, 5, 9),  # Good Friday, Easter Monday and May Day do not count
    )
    assert clock.alert_on == date(2024, 5, 1)  # 5 working days before (6 May is a holiday)
    assert (clock.authority, clock.source, clock.stream) == (
        "shire-county-council",
        "shire-county-council/REF-1",
        "s1",
    )
    assert clock.status(date(2024, 5, 9)) is ClockStatus.OPEN
    assert clock.status(date(2024, 5, 10)) is ClockStatus.BREACHED_OPEN
    assert clock.breached_on == date(2024, 5, 10)


@pytest.mark.parametrize(
    ("completed_on", "status"),
    [("2024-05-09", ClockStatus.MET), ("2024-05-10", ClockStatus.BREACHED_CLOSED)],
)
def test_assessment_completed_on_the_due_date_is_met_and_a_day_later_breached(
    completed_on: str, status: ClockStatus
) -> None:
    clocks = derive_clocks(
        [
            fact("REF-1", "la.referral", "2024-03-04"),
            fact(
                "ASS-1",
                "la.assessment-completed",
                "2024-05-20",  # recorded later: the details say when it was completed
                details={"started_on": "2024-03-05", "completed_on": completed_on},
            ),
        ]
    )
    clock = only(clocks, ClockKind.ASSESSMENT)
    assert clock.stopped_on == date.fromisoformat(completed_on)
    assert clock.stopped_by == "shire-county-council/ASS-1"
    assert clock.status(date(2025, 1, 1)) is status


def test_a_completion_without_completed_on_uses_its_occurred_date() -> None:
    clock = only(
        derive_clocks(
            [
                fact("REF-1", "la.referral", "2024-03-04"),
                fact(
                    "ASS-1",
                    "la.assessment-completed",
                    "2024-04-02",
                    details={"started_on": "2024-03-05"},
                ),
            ]
        ),
        ClockKind.ASSESSMENT,
    )
    assert clock.stopped_on == date(2024, 4, 2)
    assert clock.status(date(2024, 6, 1)) is ClockStatus.MET


@pytest.mark.parametrize("outcome", ["no-further-action", "early-help"])
def test_a_referral_closed_with_no_further_action_or_early_help_starts_no_assessment_clock(
    outcome: str,
) -> None:
    details = {"referral_source": "police", "outcome": outcome}
    assert derive_clocks([fact("REF-1", "la.referral", "2024-03-04", details=details)]) == []
    details["outcome"] = "assessment"
    assert len(derive_clocks([fact("REF-1", "la.referral", "2024-03-04", details=details)])) == 1


def test_a_completion_before_the_referral_does_not_stop_it() -> None:
    clock = only(
        derive_clocks(
            [
                fact(
                    "ASS-0",
                    "la.assessment-completed",
                    "2024-02-01",
                    details={"started_on": "2024-01-02"},
                ),
                fact("REF-1", "la.referral", "2024-03-04"),
            ]
        ),
        ClockKind.ASSESSMENT,
    )
    assert clock.stopped_on is None


def test_only_the_clocks_own_authority_stops_it() -> None:
    clocks = derive_clocks(
        [
            fact("REF-1", "la.referral", "2024-03-04"),
            fact(
                "ASS-9",
                "la.assessment-completed",
                "2024-03-20",
                agency=OTHER_LA,
                details={"started_on": "2024-03-05"},
            ),
        ]
    )
    assert only(clocks, ClockKind.ASSESSMENT).stopped_on is None


# Initial child protection conference -----------------------------------------------------


def test_initial_conference_is_due_15_working_days_after_the_strategy_discussion() -> None:
    (clock,) = derive_clocks([fact("SD-1", "la.strategy-discussion", "2026-12-10")])
    assert clock.kind is ClockKind.INITIAL_CONFERENCE
    assert clock.due == date(2027, 1, 5)  # not 31 December: three bank holidays in between
    assert clock.alert_on == date(2026, 12, 30)  # 3 working days before
    met = derive_clocks(
        [
            fact("SD-1", "la.strategy-discussion", "2026-12-10"),
            fact(
                "ICPC-1", "la.initial-cp-conference", "2027-01-05", details={"decision": "cp-plan"}
            ),
        ]
    )
    assert only(met, ClockKind.INITIAL_CONFERENCE).status(date(2027, 2, 1)) is ClockStatus.MET


@pytest.mark.parametrize("outcome", ["concerns-not-substantiated", "no-further-action"])
def test_an_s47_outcome_not_calling_for_a_conference_cancels_the_clock(outcome: str) -> None:
    (clock,) = derive_clocks(
        [
            fact("SD-1", "la.strategy-discussion", "2024-06-03"),
            fact("S47-1", "la.s47-enquiry-outcome", "2024-06-12", details={"outcome": outcome}),
        ]
    )
    assert clock.status(date(2024, 9, 1)) is ClockStatus.CANCELLED
    assert clock.cancel_reason == "the section 47 enquiry did not call for a conference"
    assert not clock.needs_alert(date(2024, 9, 1))


def test_an_s47_outcome_calling_for_a_conference_keeps_the_clock_running() -> None:
    (clock,) = derive_clocks(
        [
            fact("SD-1", "la.strategy-discussion", "2024-06-03"),
            fact(
                "S47-1",
                "la.s47-enquiry-outcome",
                "2024-06-12",
                details={"outcome": "concerns-substantiated-icpc"},
            ),
        ]
    )
    assert clock.status(date(2024, 6, 20)) is ClockStatus.OPEN
    assert clock.status(date(2024, 9, 1)) is ClockStatus.BREACHED_OPEN


def test_a_later_strategy_discussion_before_due_restarts_the_timescale() -> None:
    first, second = derive_clocks(
        [
            fact("SD-1", "la.strategy-discussion", "2024-06-03"),
            fact("SD-2", "la.strategy-discussion", "2024-06-10"),
        ]
    )
    assert first.status(date(2024, 9, 1)) is ClockStatus.CANCELLED
    assert first.cancel_reason == "superseded by a later strategy discussion"
    assert (second.started_on, second.due) == (date(2024, 6, 10), date(2024, 7, 1))
    assert second.status(date(2024, 7, 1)) is ClockStatus.OPEN


def test_a_strategy_discussion_after_a_breach_does_not_hide_it() -> None:
    first, second = derive_clocks(
        [
            fact("SD-1", "la.strategy-discussion", "2024-06-03"),
            fact("SD-2", "la.strategy-discussion", "2024-07-01"),  # first was due 24 June
            fact(
                "ICPC-1", "la.initial-cp-conference", "2024-07-08", details={"decision": "no-plan"}
            ),
        ]
    )
    assert first.status(date(2024, 9, 1)) is ClockStatus.BREACHED_CLOSED
    assert second.status(date(2024, 9, 1)) is ClockStatus.MET


# Child protection reviews ----------------------------------------------------------------


def test_reviews_are_due_3_months_after_the_plan_then_6_months_after_each_review() -> None:
    clocks = derive_clocks(
        [
            fact(
                "ICPC-1", "la.initial-cp-conference", "2024-01-15", details={"decision": "cp-plan"}
            ),
            fact("PLAN-1", "la.cp-plan-started", "2024-01-15", details={"category": "neglect"}),
            fact(
                "RCPC-1",
                "la.review-cp-conference",
                "2024-04-10",
                details={"decision": "continue-plan"},
            ),
        ]
    )
    reviews = [c for c in clocks if c.kind is ClockKind.CP_REVIEW]
    assert [(c.started_on, c.due, c.stopped_on) for c in reviews] == [
        (date(2024, 1, 15), date(2024, 4, 15), date(2024, 4, 10)),
        (date(2024, 4, 10), date(2024, 10, 10), None),
    ]
    assert reviews[0].id == "cp-review:shire-county-council/ICPC-1#1"
    assert reviews[1].id == "cp-review:shire-county-council/ICPC-1#2"
    assert reviews[1].alert_on == date(2024, 10, 3)  # 5 working days before
    assert reviews[0].status(date(2024, 5, 1)) is ClockStatus.MET


def test_a_plan_started_without_a_conference_anchors_on_the_plan_and_a_conference_moves_it() -> (
    None
):
    (alone,) = derive_clocks(
        [fact("PLAN-1", "la.cp-plan-started", "2024-02-01", details={"category": "neglect"})]
    )
    assert (alone.started_on, alone.due) == (date(2024, 2, 1), date(2024, 5, 1))
    later_conference = [
        c
        for c in derive_clocks(
            [
                fact("PLAN-1", "la.cp-plan-started", "2024-02-01", details={"category": "neglect"}),
                fact(
                    "ICPC-1",
                    "la.initial-cp-conference",
                    "2024-02-05",
                    details={"decision": "cp-plan"},
                ),
            ]
        )
        if c.kind is ClockKind.CP_REVIEW
    ]
    assert [(c.started_on, c.due) for c in later_conference] == [
        (date(2024, 2, 5), date(2024, 5, 5))
    ]


@pytest.mark.parametrize(
    ("ended", "status"),
    [("2024-04-01", ClockStatus.CANCELLED), ("2024-04-16", ClockStatus.BREACHED_CLOSED)],
)
def test_a_plan_ending_cancels_a_review_not_yet_due_but_not_a_missed_one(
    ended: str, status: ClockStatus
) -> None:
    (clock,) = [
        c
        for c in derive_clocks(
            [
                fact(
                    "ICPC-1",
                    "la.initial-cp-conference",
                    "2024-01-15",
                    details={"decision": "cp-plan"},
                ),
                fact("END-1", "la.cp-plan-ended", ended),
            ]
        )
        if c.kind is ClockKind.CP_REVIEW
    ]
    assert clock.status(date(2024, 12, 1)) is status
    assert clock.closed


def test_a_review_ending_the_plan_stops_the_reviews() -> None:
    clocks = derive_clocks(
        [
            fact(
                "ICPC-1", "la.initial-cp-conference", "2024-01-15", details={"decision": "cp-plan"}
            ),
            fact(
                "RCPC-1", "la.review-cp-conference", "2024-04-22", details={"decision": "end-plan"}
            ),
            fact(
                "RCPC-2",
                "la.review-cp-conference",
                "2024-10-01",
                details={"decision": "continue-plan"},
            ),
        ]
    )
    (review,) = [c for c in clocks if c.kind is ClockKind.CP_REVIEW]
    assert review.stopped_on == date(2024, 4, 22)
    assert review.status(date(2025, 1, 1)) is ClockStatus.BREACHED_CLOSED  # due 15 April


def test_a_conference_deciding_no_plan_starts_no_reviews() -> None:
    clocks = derive_clocks(
        [fact("ICPC-1", "la.initial-cp-conference", "2024-01-15", details={"decision": "no-plan"})]
    )
    assert [c for c in clocks if c.kind is ClockKind.CP_REVIEW] == []


# Serious incidents -----------------------------------------------------------------------


def test_serious_incident_clocks_run_from_awareness_in_working_days() -> None:
    clocks = derive_clocks(
        [
            fact(
                "SI-1",
                "la.serious-incident-notifiable",
                "2024-03-27",
                details={"aware_on": "2024-03-25"},
            ),
            fact("SIN-1", "la.serious-incident-notified", "2024-04-03"),
            fact(
                "RR-1",
                "la.rapid-review-completed",
                "2024-04-19",
                details={"completed_on": "2024-04-18"},
            ),
        ]
    )
    notification = only(clocks, ClockKind.INCIDENT_NOTIFICATION)
    review = only(clocks, ClockKind.RAPID_REVIEW)
    assert (notification.started_on, notification.due) == (date(2024, 3, 25), date(2024, 4, 3))
    assert notification.alert_on == date(2024, 3, 28)  # 2 working days before (over Easter)
    assert notification.status(date(2024, 5, 1)) is ClockStatus.MET
    assert (review.started_on, review.due, review.stopped_on) == (
        date(2024, 3, 25),
        date(2024, 4, 17),
        date(2024, 4, 18),
    )
    assert review.alert_on == date(2024, 4, 12)
    assert review.status(date(2024, 5, 1)) is ClockStatus.BREACHED_CLOSED


# Corrections and retractions -------------------------------------------------------------


def test_a_corrected_referral_moves_its_clock_and_keeps_its_id() -> None:
    first = derive_clocks([fact("REF-1", "la.referral", "2024-03-04")])
    corrected = derive_clocks(
        [
            fact("REF-1", "la.referral", "2024-03-11", revision=2),
            fact("REF-1", "la.referral", "2024-03-04", revision=1),  # the older one, later
        ]
    )
    assert corrected[0].id == first[0].id == "assessment:shire-county-council/REF-1"
    assert corrected[0].started_on == date(2024, 3, 11)
    assert corrected[0].due == date(2024, 5, 16)


def test_a_correction_to_a_kind_no_clock_reads_removes_the_clock() -> None:
    contact = fact("REF-1", "la.contact", "2024-03-04", revision=2)
    assert contact.kind is None
    assert derive_clocks([fact("REF-1", "la.referral", "2024-03-04"), contact]) == []


def test_a_retracted_referral_cancels_its_clock_entirely() -> None:
    facts = [fact("REF-1", "la.referral", "2024-03-04"), retraction("RET-1", "REF-1", "2024-03-06")]
    assert derive_clocks(facts) == []
    assert current_facts(facts) == []


def test_a_retracted_completion_reopens_the_assessment() -> None:
    facts = [
        fact("REF-1", "la.referral", "2024-03-04"),
        fact(
            "ASS-1", "la.assessment-completed", "2024-04-02", details={"started_on": "2024-03-05"}
        ),
        retraction("RET-1", "ASS-1", "2024-04-03"),
    ]
    clock = only(derive_clocks(facts), ClockKind.ASSESSMENT)
    assert clock.stopped_on is None
    assert clock.status(date(2024, 5, 10)) is ClockStatus.BREACHED_OPEN


def test_a_corrected_retraction_retracts_what_it_now_names() -> None:
    facts = [
        fact("REF-1", "la.referral", "2024-03-04"),
        fact("REF-2", "la.referral", "2024-03-05"),
        retraction("RET-1", "REF-1", "2024-03-06"),
        retraction("RET-1", "REF-2", "2024-03-06", revision=2),
    ]
    assert [c.source for c in derive_clocks(facts)] == ["shire-county-council/REF-1"]


def test_records_of_other_agencies_are_not_facts() -> None:
    assert (
        fact_from_event(
            event_dict(
                agency=POLICE,
                kind="record.retracted",
                event_id="RET-1",
                supersedes={"event_id": "REF-1"},
            ),
            "s1",
        )
        is None
    )  # only local authority records are facts at all


# Alerts ----------------------------------------------------------------------------------


def test_alert_timing_and_next_action() -> None:
    (clock,) = derive_clocks([fact("REF-1", "la.referral", "2024-03-04")])
    assert not clock.needs_alert(date(2024, 4, 30))
    assert clock.next_action(date(2024, 4, 30)) == date(2024, 5, 1)
    assert clock.needs_alert(date(2024, 5, 1))
    assert clock.next_action(date(2024, 5, 1)) == date(2024, 5, 10)
    assert clock.needs_alert(date(2024, 6, 1))  # overdue and still running: still owed
    assert clock.next_action(date(2024, 5, 10)) is None  # breached: only an event changes it
    stopped = Clock.from_dict({**clock.as_dict(), "stopped_on": "2024-04-30"})
    assert not stopped.needs_alert(date(2024, 5, 2))
    assert stopped.next_action(date(2024, 4, 1)) is None


def test_alert_lead_times_are_configurable_and_validated() -> None:
    rules = ClockRules(alert_lead={**ClockRules().alert_lead, ClockKind.ASSESSMENT: 10})
    (clock,) = derive_clocks([fact("REF-1", "la.referral", "2024-03-04")], rules)
    assert clock.alert_on == date(2024, 4, 24)
    with pytest.raises(ValueError, match="longer than its timescale"):
        ClockRules(alert_lead={**ClockRules().alert_lead, ClockKind.INCIDENT_NOTIFICATION: 6})
    with pytest.raises(ValueError, match="non-negative"):
        ClockRules(alert_lead={**ClockRules().alert_lead, ClockKind.RAPID_REVIEW: -1})


def allocation(event_id: str, worker: str, on: str, **fields: Any) -> Fact:
    return fact(
        event_id,
        "la.worker-allocated",
        on,
        details={"practitioner_id": worker, "role": "social-worker"},
        **fields,
    )


def test_the_alert_goes_to_the_latest_allocated_worker_of_the_clocks_authority() -> None:
    referral = fact("REF-1", "la.referral", "2024-03-04")
    (clock,) = derive_clocks([referral])
    facts = [
        referral,
        allocation("ALLOC-1", "sw-0001", "2024-03-05"),
        allocation("ALLOC-2", "sw-0002", "2024-04-01"),
        allocation("ALLOC-9", "sw-9999", "2024-04-02", agency=OTHER_LA),
        allocation("ALLOC-3", "sw-0003", "2024-06-01"),  # after today
    ]
    recipient = alert_recipient(facts, clock, date(2024, 5, 1))
    assert (recipient.practitioner_id, recipient.team, recipient.key) == (
        "sw-0002",
        None,
        "practitioner:sw-0002",
    )
    assert recipient.relationship == "allocated-worker via shire-county-council/ALLOC-2"


def test_a_corrected_or_retracted_allocation_is_honoured() -> None:
    referral = fact("REF-1", "la.referral", "2024-03-04")
    (clock,) = derive_clocks([referral])
    corrected = [
        referral,
        allocation("ALLOC-1", "sw-0001", "2024-03-05"),
        fact(
            "ALLOC-1",
            "la.worker-allocated",
            "2024-03-05",
            revision=2,
            details={"practitioner_id": "sw-0007", "role": "social-worker"},
        ),
    ]
    assert alert_recipient(corrected, clock, date(2024, 5, 1)).practitioner_id == "sw-0007"
    retracted = [*corrected, retraction("RET-1", "ALLOC-1", "2024-03-06")]
    recipient = alert_recipient(retracted, clock, date(2024, 5, 1))
    assert (recipient.practitioner_id, recipient.team) == (None, "macpt:shire-county-council")
    assert recipient.relationship == "macpt-member via shire-county-council/REF-1"


def test_without_a_current_allocation_the_team_is_alerted() -> None:
    referral = fact("REF-1", "la.referral", "2024-03-04")
    (clock,) = derive_clocks([referral])
    assert alert_recipient([referral], clock, date(2024, 5, 1)).key == (
        "team:macpt:shire-county-council"
    )
    stale = [referral, allocation("ALLOC-1", "sw-0001", "2023-04-01")]
    assert alert_recipient(stale, clock, date(2024, 5, 1)).team == "macpt:shire-county-council"
    fresh_enough = ClockRules(allocation_max=timedelta(days=800))
    assert alert_recipient(stale, clock, date(2024, 5, 1), fresh_enough).practitioner_id == (
        "sw-0001"
    )


# Stored shapes ---------------------------------------------------------------------------


def test_facts_keep_only_what_clocks_need_and_round_trip() -> None:
    referral = fact("REF-1", "la.referral", "2024-03-04", details={"referral_source": "school"})
    assert referral.details == {}  # the referral source is not a clock's business
    contact = fact("C-1", "la.contact", "2024-03-04", details={"note": "x"})
    assert (contact.kind, contact.details) == (None, {})
    allocated = allocation("ALLOC-1", "sw-0001", "2024-03-05")
    assert Fact.from_dict(allocated.as_dict()) == allocated
    assert Fact.from_dict(retraction("R", "X", "2024-03-05").as_dict()).retracts == "X"
    clocks = derive_clocks([fact("SD-1", "la.strategy-discussion", "2024-06-03"), referral])
    assert [Clock.from_dict(c.as_dict()) for c in clocks] == clocks
