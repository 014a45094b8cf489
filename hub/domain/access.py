"""Who is asking and why: practitioners, roles, purposes, and legitimate relationships.

Sharing rules key on these. Relationships are not configured by hand: they are derived from
the child's own events (an allocation, an s47 enquiry or CP plan, a school enrolment, a review
commission) and they expire, so access follows the case rather than outliving it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from hub.domain.taxonomy import AgencyType
from hub.domain.uk_time import uk_date


class Role(StrEnum):
    LEAD_CHILD_PROTECTION_PRACTITIONER = "lead-child-protection-practitioner"
    SOCIAL_WORKER = "social-worker"
    FAMILY_HELP_WORKER = "family-help-worker"
    POLICE_OFFICER = "police-officer"
    HEALTH_PRACTITIONER = "health-practitioner"
    SCHOOL_DSL = "school-designated-safeguarding-lead"
    DATA_PROTECTION_OFFICER = "data-protection-officer"
    PRACTICE_REVIEWER = "practice-reviewer"
    PARTNER_HUB = "partner-hub"
    """Another partnership's hub, receiving a transfer (a system, never a person)."""


class Purpose(StrEnum):
    CHILD_PROTECTION_ENQUIRY = "child-protection-enquiry"
    CHILD_PROTECTION_PLANNING = "child-protection-planning"
    FAMILY_HELP = "family-help"
    PRACTICE_REVIEW = "practice-review"
    DATA_PROTECTION_AUDIT = "data-protection-audit"
    OPERATION_ENCOMPASS = "operation-encompass"
    INTER_PARTNERSHIP_TRANSFER = "inter-partnership-transfer"


# What a person may declare when they look a child up (the CLI, the API's X-Hub-Purpose, the
# sign-in page). Operation Encompass is not one: only its consumer delivers notices under it;
# nor is a transfer to another partnership's hub: only the transfer service sends one.
CHRONOLOGY_PURPOSES: tuple[Purpose, ...] = tuple(
    p for p in Purpose if p not in (Purpose.OPERATION_ENCOMPASS, Purpose.INTER_PARTNERSHIP_TRANSFER)
)


@dataclass(frozen=True)
class Practitioner:
    id: str
    name: str
    organisation: str  # the hub's agency id of their employer
    agency_type: AgencyType
    role: Role
    teams: frozenset[str] = field(default_factory=frozenset)
    active_from: date = date(1990, 1, 1)
    active_to: date | None = None

    def is_active(self, on: date) -> bool:
        return self.active_from <= on and (self.active_to is None or on <= self.active_to)

    def in_post_at(self, at: datetime) -> bool:
        """Whether they are employed at `at` (a time-zone-aware time), judged by the date in
        England: employment runs in calendar days where they work."""
        return self.is_active(uk_date(at))


def works_for(practitioner: Practitioner, agency_id: str) -> bool:
    """Whether the practitioner is the agency's own staff, or a member of one of its teams
    (a team id ends with the agency it belongs to: `macpt:<local authority>`, as
    `macpt_team` names it)."""
    return practitioner.organisation == agency_id or any(
        team.rpartition(":")[2] == agency_id for team in practitioner.teams
    )


class RelationshipBasis(StrEnum):
    ALLOCATED_WORKER = "allocated-worker"
    MACPT_MEMBER = "macpt-member"
    SCHOOL_DSL = "school-dsl"
    REVIEW_COMMISSION = "review-commission"
    NOTICE_ROUTING = "notice-routing"
    """Only for receiving one notice (Operation Encompass to a front door): no access to the
    chronology comes from it."""
    FRONT_DOOR_SEARCH = "front-door-search"
    """Only for one search's results (a front-door or MACPT member finding a child by name and
    date of birth for child protection): the names, date of birth and sex to pick the right
    child by, and no access to the chronology."""
    INTER_PARTNERSHIP_TRANSFER = "inter-partnership-transfer"
    """Only for one transfer to a partner partnership's hub: the move the local authority
    published, naming an authority the partner covers, is the relationship."""


@dataclass(frozen=True)
class RelationshipGrant:
    """A legitimate relationship to one child, derived from one event, for a period.

    Exactly one of `practitioner_id`, `team` or (`organisation`, `role`) says who it covers:
    an allocated worker or commissioned reviewer by id; the area's multi-agency child
    protection team by team id (`macpt:<local-authority agency id>`); a school's designated
    safeguarding leads by organisation and role. An allocation also names the authority that
    made it (`organisation`): it covers the worker only while they work for that authority or
    one of its teams, so no publisher can give access to someone who is not theirs.
    """

    basis: RelationshipBasis
    valid_from: datetime
    valid_to: datetime | None
    source_event_id: str
    practitioner_id: str | None = None
    team: str | None = None
    organisation: str | None = None
    role: Role | None = None

    def covers(self, practitioner: Practitioner, at: datetime) -> bool:
        if at < self.valid_from or (self.valid_to is not None and at >= self.valid_to):
            return False
        if self.practitioner_id is not None:
            return practitioner.id == self.practitioner_id and (
                self.organisation is None or works_for(practitioner, self.organisation)
            )
        if self.team is not None:
            return self.team in practitioner.teams
        return practitioner.organisation == self.organisation and practitioner.role == self.role


def macpt_team(local_authority_agency_id: str) -> str:
    """The team id of the multi-agency child protection team led by that local authority."""
    return f"macpt:{local_authority_agency_id}"
