"""The statutory timescales and the clock rules a partnership sets (alert lead times)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from hub.domain.relationships import RelationshipRules


class ClockKind(StrEnum):
    ASSESSMENT = "assessment"
    INITIAL_CONFERENCE = "initial-conference"
    CP_REVIEW = "cp-review"
    INCIDENT_NOTIFICATION = "incident-notification"
    RAPID_REVIEW = "rapid-review"


class ClockStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    BREACHED_OPEN = "breached-open"  # past due and still not stopped
    BREACHED_CLOSED = "breached-closed"  # stopped, but after the due date
    CANCELLED = "cancelled"  # no longer required (see `Clock.cancel_reason`)


BREACHED = frozenset({ClockStatus.BREACHED_OPEN, ClockStatus.BREACHED_CLOSED})


@dataclass(frozen=True)
class Timescale:
    description: str
    source: str
    working_days: int | None = None
    months: int | None = None


TIMESCALES: dict[ClockKind, Timescale] = {
    ClockKind.ASSESSMENT: Timescale(
        "child and family assessment completed within 45 working days of the referral",
        "Working Together to Safeguard Children 2023, chapter 3 (assessment timescales)",
        working_days=45,
    ),
    ClockKind.INITIAL_CONFERENCE: Timescale(
        "initial child protection conference within 15 working days of the strategy "
        "discussion (the last one, if more than one was held)",
        "Working Together to Safeguard Children 2023, chapter 4 (initial conferences)",
        working_days=15,
    ),
    ClockKind.CP_REVIEW: Timescale(
        "first review conference within 3 months of the initial conference, then at least "
        "every 6 months while the child protection plan lasts",
        "Working Together to Safeguard Children 2023, chapter 4 (review conferences)",
        months=3,  # the first review; later ones use `LATER_REVIEW_MONTHS`
    ),
    ClockKind.INCIDENT_NOTIFICATION: Timescale(
        "serious incident notified to the Child Safeguarding Practice Review Panel within 5 "
        "working days of the local authority becoming aware of it",
        "Children Act 2004 s16C; Working Together 2023, chapter 5; brief 000:410",
        working_days=5,
    ),
    ClockKind.RAPID_REVIEW: Timescale(
        "Rapid Review sent to the Panel within 15 working days of becoming aware of the "
        "serious incident",
        "Working Together to Safeguard Children 2023, chapter 5; brief 000:414",
        working_days=15,
    ),
}
LATER_REVIEW_MONTHS = 6

DEFAULT_ALERT_LEAD: dict[ClockKind, int] = {
    ClockKind.ASSESSMENT: 5,
    ClockKind.CP_REVIEW: 5,
    ClockKind.INITIAL_CONFERENCE: 3,
    ClockKind.RAPID_REVIEW: 3,
    ClockKind.INCIDENT_NOTIFICATION: 2,
}
"""Working days before the due date on which the allocated worker is alerted. A week for the
long clocks (45 working days, 3 and 6 months): time to finish and sign off an assessment or to
convene a review conference. For the short clocks about a fifth of the timescale, but never
less than two working days, so there is at least one whole working day to act on the alert:
3 of 15 (a conference needs invitations out to partner agencies), 2 of 5."""


@dataclass(frozen=True)
class ClockRules:
    """What a partnership may tune: how early alerts come. The timescales are statutory."""

    alert_lead: Mapping[ClockKind, int] = field(default_factory=lambda: dict(DEFAULT_ALERT_LEAD))
    allocation_max: timedelta = RelationshipRules().allocation_max
    """An allocation older than this is stale, as for access (`RelationshipRules`): the worker
    could not open the child's record, so an alert goes to the team instead."""

    def __post_init__(self) -> None:
        for kind in ClockKind:
            lead = self.alert_lead.get(kind)
            if lead is None or lead < 0:
                raise ValueError(f"clock rule alert_lead needs a non-negative value for {kind}")
            days = TIMESCALES[kind].working_days
            if days is not None and lead > days:
                raise ValueError(
                    f"clock rule alert_lead for {kind} ({lead}) is longer than its timescale "
                    f"({days} working days)"
                )

    def lead(self, kind: ClockKind) -> int:
        return self.alert_lead[kind]


DEFAULT_RULES = ClockRules()  # the statutory timescales with the default alert lead times
