"""Legitimate relationships to a child, derived from the child's own events, and expiring.

Access to a child's record needs a legitimate relationship (Working Together 2023; the
domain brief's sharing rules). Configuring those by hand goes stale: the worker moves on, the
enquiry closes, the child changes school, and the access stays. Here every relationship is a
pure function of facts agencies have already published (an allocation, an s47 enquiry, a child
protection plan, an enrolment) or of a practice review commission, and each one ends: at the
event that closes it (plus a short grace so the closing work can be done), or at a maximum
duration when nothing closes it. docs/practitioners.md tabulates the rules and their defaults.

Only facts still believed count: the latest revision of each record, and nothing a publisher
has retracted. A corrected allocation therefore moves the relationship to the corrected worker,
and a retracted enrolment gives its school nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hub.domain.access import (
    Practitioner,
    RelationshipBasis,
    RelationshipGrant,
    Role,
    macpt_team,
)
from hub.domain.canonical_event import CanonicalEvent

# Most specific first: a relationship naming the person beats one reaching them through a team
# or their role, so the access record says the strongest reason they had.
_SPECIFICITY = {
    RelationshipBasis.ALLOCATED_WORKER: 0,
    RelationshipBasis.REVIEW_COMMISSION: 1,
    RelationshipBasis.MACPT_MEMBER: 2,
    RelationshipBasis.SCHOOL_DSL: 3,
    RelationshipBasis.NOTICE_ROUTING: 4,
    RelationshipBasis.FRONT_DOOR_SEARCH: 5,
}


@dataclass(frozen=True)
class RelationshipRules:
    """How long relationships last. These are the defaults in docs/practitioners.md; a
    partnership may agree different ones in its information sharing agreement."""

    allocation_max: timedelta = timedelta(days=365)
    """An allocation not handed over within this is treated as stale: allocations are
    reviewed at least yearly, and a forgotten one must not keep a worker's access for ever."""

    grace: timedelta = timedelta(days=30)
    """After an s47 outcome, a plan ending or a child leaving a school: time to write up,
    hand over and answer follow-up questions, without indefinite access."""

    s47_without_outcome: timedelta = timedelta(days=90)
    """An s47 enquiry with no outcome published: well beyond the 15 working days to an initial
    conference, so a late outcome is not cut off, but the team's access still ends."""

    def __post_init__(self) -> None:
        if self.grace < timedelta(0):
            raise ValueError("relationship rule grace must not be negative")
        for name in ("allocation_max", "s47_without_outcome"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"relationship rule {name} must be positive")


@dataclass(frozen=True)
class ReviewCommission:
    """A practice review commissioned by the safeguarding partnership (a Rapid Review or a
    Local Child Safeguarding Practice Review): the reviewer's relationship to the child comes
    from the commission, not from any agency event, and lasts only for the review."""

    reviewer_id: str
    commissioned_by: str
    reason: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        for name in ("reviewer_id", "commissioned_by", "reason"):
            if not getattr(self, name).strip():
                raise ValueError(f"a review commission needs a {name}")
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("a review commission's starts_at and ends_at need a time zone")
        if self.ends_at <= self.starts_at:
            # Also rules out an open-ended commission: reviews end, and so does their access.
            raise ValueError("a review commission must end after it starts")


def derive_relationships(
    events: Iterable[CanonicalEvent],
    commissions: Iterable[ReviewCommission] = (),
    rules: RelationshipRules = RelationshipRules(),  # frozen, so a shared default is safe
) -> list[RelationshipGrant]:
    """The relationships to ONE child that the child's events (from every agency, including a
    linked provisional stream) and the review commissions establish.

    The caller decides what "known" means: pass the events recorded by a date to replay the
    relationships as they stood then. Grants are ordered by `valid_from`, then source; a grant
    that would cover no time at all (closed before it opened) is left out.
    """
    facts = _current_facts(events)
    grants: list[RelationshipGrant] = []
    for index, event in enumerate(facts):
        rule = _RULES.get(event.kind)
        grant = rule(facts, index, rules) if rule is not None else None
        if grant is not None:
            grants.append(grant)
    grants.extend(
        RelationshipGrant(
            basis=RelationshipBasis.REVIEW_COMMISSION,
            valid_from=commission.starts_at.astimezone(UTC),
            valid_to=commission.ends_at.astimezone(UTC),
            source_event_id=f"commission:{commission.reviewer_id}",
            practitioner_id=commission.reviewer_id,
        )
        for commission in commissions
    )
    kept = [g for g in grants if g.valid_to is None or g.valid_to > g.valid_from]
    return sorted(kept, key=lambda g: (g.valid_from, g.source_event_id, g.basis.value))


def find_relationship(
    practitioner: Practitioner, grants: Iterable[RelationshipGrant], at: datetime
) -> RelationshipGrant | None:
    """The grant that relates this practitioner to the child at `at`, or None.

    A practitioner who was not employed on that date (England calendar date) has none, whatever
    the grants say: leaving the authority ends access even if the case was never handed over.
    Of the covering grants, the most specific basis wins (allocated worker, review commission,
    MACPT member, school DSL); among equals, the first given.
    """
    if at.tzinfo is None:
        raise ValueError("find_relationship needs a time-zone-aware time")
    if not practitioner.in_post_at(at):
        return None
    best: RelationshipGrant | None = None
    for grant in grants:
        if not grant.covers(practitioner, at):
            continue
        if best is None or _SPECIFICITY[grant.basis] < _SPECIFICITY[best.basis]:
            best = grant
    return best


def _current_facts(events: Iterable[CanonicalEvent]) -> list[CanonicalEvent]:
    """The latest revision of each (agency, record), less retracted records and the
    retractions themselves, in occurred-at order (then recorded-at, agency, record) so that
    "the next event" is well defined when two share a time.

    A retraction is read from its own latest revision, so a corrected retraction retracts what
    it now names. It retracts the whole record, whichever revision it names, as the chronology
    does: the publisher no longer stands behind it.
    """
    latest: dict[tuple[str, str], CanonicalEvent] = {}
    for event in events:
        key = (event.agency.id, event.event_id)
        current = latest.get(key)
        if current is None or event.revision > current.revision:
            latest[key] = event
    retracted = {
        (event.agency.id, event.supersedes.event_id)
        for event in latest.values()
        if event.kind == "record.retracted" and event.supersedes is not None
    }
    facts = [
        event
        for key, event in latest.items()
        if key not in retracted and event.kind != "record.retracted"
    ]
    return sorted(
        facts,
        key=lambda e: (e.occurred_at, e.recorded_at, e.agency.id, e.event_id),
    )


def _next(
    facts: Sequence[CanonicalEvent], index: int, matches: Callable[[CanonicalEvent], bool]
) -> CanonicalEvent | None:
    return next((event for event in facts[index + 1 :] if matches(event)), None)


def _source(event: CanonicalEvent) -> str:
    return f"{event.agency.id}/{event.event_id}"


def _text(event: CanonicalEvent, field: str) -> str | None:
    value = event.details.get(field)
    return value if isinstance(value, str) and value else None


def _allocation(
    facts: Sequence[CanonicalEvent], index: int, rules: RelationshipRules
) -> RelationshipGrant | None:
    """`la.worker-allocated`: the named worker, until the same role is handed to someone else
    (no grace: the new worker holds the case) or `allocation_max` passes."""
    event = facts[index]
    practitioner_id, role = _text(event, "practitioner_id"), _text(event, "role")
    if practitioner_id is None or role is None:
        return None
    start = event.occurred_at.astimezone(UTC)
    end = start + rules.allocation_max
    handover = _next(
        facts, index, lambda e: e.kind == "la.worker-allocated" and _text(e, "role") == role
    )
    if handover is not None:
        end = min(end, handover.occurred_at.astimezone(UTC))
    return RelationshipGrant(
        basis=RelationshipBasis.ALLOCATED_WORKER,
        valid_from=start,
        valid_to=end,
        source_event_id=_source(event),
        practitioner_id=practitioner_id,
        organisation=event.agency.id,
    )


def _s47_enquiry(
    facts: Sequence[CanonicalEvent], index: int, rules: RelationshipRules
) -> RelationshipGrant | None:
    """`la.s47-enquiry-started`: the area's MACPT, until that authority's outcome plus grace,
    or `s47_without_outcome` after the start if no outcome has been published."""
    event = facts[index]
    authority = event.agency.id
    start = event.occurred_at.astimezone(UTC)
    outcome = _next(
        facts,
        index,
        lambda e: e.kind == "la.s47-enquiry-outcome" and e.agency.id == authority,
    )
    end = (
        outcome.occurred_at.astimezone(UTC) + rules.grace
        if outcome is not None
        else start + rules.s47_without_outcome
    )
    return RelationshipGrant(
        basis=RelationshipBasis.MACPT_MEMBER,
        valid_from=start,
        valid_to=end,
        source_event_id=_source(event),
        team=macpt_team(authority),
    )


def _cp_plan(
    facts: Sequence[CanonicalEvent], index: int, rules: RelationshipRules
) -> RelationshipGrant | None:
    """`la.cp-plan-started`: the area's MACPT while the plan runs (open-ended), until that
    authority ends it plus grace. Plans are reviewed by conference, so no maximum applies."""
    event = facts[index]
    authority = event.agency.id
    ended = _next(facts, index, lambda e: e.kind == "la.cp-plan-ended" and e.agency.id == authority)
    return RelationshipGrant(
        basis=RelationshipBasis.MACPT_MEMBER,
        valid_from=event.occurred_at.astimezone(UTC),
        valid_to=ended.occurred_at.astimezone(UTC) + rules.grace if ended is not None else None,
        source_event_id=_source(event),
        team=macpt_team(authority),
    )


def _enrolment(
    facts: Sequence[CanonicalEvent], index: int, rules: RelationshipRules
) -> RelationshipGrant | None:
    """`education.enrolled`: the school's DSLs from the first day, until the child enrols at a
    different school or is notified as home educated, plus grace (open-ended otherwise)."""
    event = facts[index]
    school = event.agency.id
    starts_on = _text(event, "starts_on")
    if starts_on is None:
        return None
    left = _next(
        facts,
        index,
        lambda e: (
            (e.kind == "education.enrolled" and e.agency.id != school)
            or e.kind == "education.elective-home-education-notice"
        ),
    )
    return RelationshipGrant(
        basis=RelationshipBasis.SCHOOL_DSL,
        valid_from=datetime.combine(date.fromisoformat(starts_on), time(), UTC),
        valid_to=left.occurred_at.astimezone(UTC) + rules.grace if left is not None else None,
        source_event_id=_source(event),
        organisation=school,
        role=Role.SCHOOL_DSL,
    )


_Rule = Callable[[Sequence[CanonicalEvent], int, RelationshipRules], RelationshipGrant | None]

_RULES: dict[str, _Rule] = {
    "la.worker-allocated": _allocation,
    "la.s47-enquiry-started": _s47_enquiry,
    "la.cp-plan-started": _cp_plan,
    "education.enrolled": _enrolment,
}
