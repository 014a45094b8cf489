"""Statutory clocks: the timescales a safeguarding partnership is judged on, from its events.

Each clock is a pure function of facts a local authority has already published about a child
(a referral, a strategy discussion, a conference, a plan, a serious incident) and it starts,
stops, is cancelled or breaches exactly as those facts say. Nothing is entered by hand, so a
clock cannot be forgotten, and a clock is never "reset": a correction to the referral date
moves its clock, a retraction removes it, and what happened to it is recomputed from the
facts every time. `docs/clocks.md` tabulates the rules with their sources; in short:

- assessment: from a referral (unless no further action or early help), 45 working days,
  stopped by the assessment's completion;
- initial conference: from a strategy discussion, 15 working days, stopped by the initial
  child protection conference; cancelled by an s47 outcome calling for no conference, or by a
  later strategy discussion held before it was due (the timescale runs from the last one);
- child protection review: from the initial conference deciding a plan (else the plan's
  start), 3 calendar months to the first review, then 6 months from each review, stopped by
  the review conference; cancelled when the plan ends before the review is due;
- serious incident notification and Rapid Review: from the day the authority became aware of
  the incident, 5 and 15 working days, stopped by the notification and the completed review.

Working days are English working days (`working_days`); every date is the England calendar
date of the event (or the date its details give: an assessment's `completed_on`, an incident's
`aware_on`). A clock belongs to the local authority that started it: only that authority's
events stop it, and its alerts go to that authority's allocated worker.

Only facts still believed count, as for relationships: the latest revision of each record,
less what its publisher retracted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from hub.domain.access import macpt_team
from hub.domain.relationships import RelationshipRules
from hub.domain.uk_time import add_months, uk_date
from hub.domain.working_days import add_working_days


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


# Facts -----------------------------------------------------------------------------------

FACT_KINDS = frozenset(
    {
        "la.referral",
        "la.assessment-completed",
        "la.strategy-discussion",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.review-cp-conference",
        "la.cp-plan-started",
        "la.cp-plan-ended",
        "la.serious-incident-notifiable",
        "la.serious-incident-notified",
        "la.rapid-review-completed",
        "la.worker-allocated",
        "record.retracted",
    }
)
"""The kinds whose records a clock reads (retractions: only a local authority's matter)."""

_KEPT_DETAILS = frozenset(
    {
        "outcome",
        "decision",
        "completed_on",
        "aware_on",
        "notified_on",
        "practitioner_id",
        "role",
    }
)
"""The only details a clock needs; nothing else of the event is kept (no summary, no names)."""


@dataclass(frozen=True)
class Fact:
    """One local authority record as its publisher last stated it, reduced to what clocks need.

    `kind` is None for a record whose latest revision is of a kind no clock reads: a
    correction can change a record's kind, and the earlier revision must stop counting.
    """

    agency: str
    event_id: str
    revision: int
    kind: str | None
    occurred_at: datetime
    stream: str
    details: Mapping[str, Any] = field(default_factory=dict)
    retracts: str | None = None  # a retraction: the event_id it names

    @property
    def ref(self) -> str:
        return f"{self.agency}/{self.event_id}"

    @property
    def occurred_on(self) -> date:
        return uk_date(self.occurred_at)

    def text(self, name: str) -> str | None:
        value = self.details.get(name)
        return value if isinstance(value, str) and value else None

    def day(self, name: str) -> date:
        """The date a details field gives (e.g. `completed_on`), else the occurred date."""
        value = self.text(name)
        if value is not None:
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return self.occurred_on

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "agency": self.agency,
            "event_id": self.event_id,
            "revision": self.revision,
            "kind": self.kind,
            "occurred_at": self.occurred_at.isoformat(),
            "stream": self.stream,
            "details": dict(self.details),
        }
        if self.retracts is not None:
            document["retracts"] = self.retracts
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Fact:
        return cls(
            agency=document["agency"],
            event_id=document["event_id"],
            revision=document["revision"],
            kind=document["kind"],
            occurred_at=datetime.fromisoformat(document["occurred_at"]),
            stream=document["stream"],
            details=dict(document.get("details", {})),
            retracts=document.get("retracts"),
        )


def fact_from_event(body: Mapping[str, Any], stream: str) -> Fact | None:
    """The fact a canonical event (as recorded, JSON) gives, or None if it is not a local
    authority's. Kinds no clock reads give a fact with `kind` None (see `Fact`)."""
    agency = body.get("agency") or {}
    if agency.get("type") != "local-authority":
        return None
    kind = body["kind"]
    details = body.get("details") or {}
    supersedes = body.get("supersedes") or {}
    relevant = kind in FACT_KINDS
    return Fact(
        agency=agency["id"],
        event_id=body["event_id"],
        revision=int(body["revision"]),
        kind=kind if relevant else None,
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        stream=stream,
        details={k: v for k, v in details.items() if k in _KEPT_DETAILS} if relevant else {},
        retracts=supersedes.get("event_id") if kind == "record.retracted" else None,
    )


def current_facts(facts: Iterable[Fact]) -> list[Fact]:
    """The latest revision of each record, less retracted records, retractions and records
    no clock reads, in occurred-at order (then agency, record id) so "the next" is defined.

    A retraction is read from its own latest revision, so a corrected retraction retracts what
    it now names; it retracts the whole record, whichever revision it names.
    """
    latest: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        key = (fact.agency, fact.event_id)
        current = latest.get(key)
        if current is None or fact.revision > current.revision:
            latest[key] = fact
    retracted = {
        (fact.agency, fact.retracts)
        for fact in latest.values()
        if fact.kind == "record.retracted" and fact.retracts is not None
    }
    kept = [
        fact
        for key, fact in latest.items()
        if key not in retracted and fact.kind is not None and fact.kind != "record.retracted"
    ]
    return sorted(kept, key=lambda f: (f.occurred_at, f.agency, f.event_id))


# Clocks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """One statutory timescale for one child. `id` is stable for as long as the record that
    started it stands (corrections keep it), so effects recorded against it are not repeated."""

    id: str
    kind: ClockKind
    authority: str  # the local authority whose clock it is
    source: str  # `agency/event_id` of the record that started it
    stream: str  # the child stream that record was recorded in
    started_on: date
    due: date
    alert_on: date
    stopped_on: date | None = None
    stopped_by: str | None = None  # `agency/event_id`
    cancelled: bool = False
    cancel_reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.stopped_on is not None

    def status(self, today: date) -> ClockStatus:
        if self.cancelled:
            return ClockStatus.CANCELLED
        if self.stopped_on is not None:
            return ClockStatus.MET if self.stopped_on <= self.due else ClockStatus.BREACHED_CLOSED
        return ClockStatus.OPEN if today <= self.due else ClockStatus.BREACHED_OPEN

    @property
    def breached_on(self) -> date:
        """The first day the timescale was exceeded (if it was)."""
        return self.due + timedelta(days=1)

    def needs_alert(self, today: date) -> bool:
        """Open and within its alert lead of the due date, or past it. A clock that first
        becomes known when already late (a late-published referral) is alerted at once."""
        return not self.closed and today >= self.alert_on

    def next_action(self, today: date) -> date | None:
        """The next day after `today` on which time alone changes what is owed for this
        clock (its alert comes due, or it breaches); None if only a new event can."""
        if self.closed:
            return None
        if today < self.alert_on:
            return self.alert_on
        if today < self.breached_on:
            return self.breached_on
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "authority": self.authority,
            "source": self.source,
            "stream": self.stream,
            "started_on": self.started_on.isoformat(),
            "due": self.due.isoformat(),
            "alert_on": self.alert_on.isoformat(),
            "stopped_on": None if self.stopped_on is None else self.stopped_on.isoformat(),
            "stopped_by": self.stopped_by,
            "cancelled": self.cancelled,
            "cancel_reason": self.cancel_reason,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Clock:
        stopped = document.get("stopped_on")
        return cls(
            id=document["id"],
            kind=ClockKind(document["kind"]),
            authority=document["authority"],
            source=document["source"],
            stream=document["stream"],
            started_on=date.fromisoformat(document["started_on"]),
            due=date.fromisoformat(document["due"]),
            alert_on=date.fromisoformat(document["alert_on"]),
            stopped_on=None if stopped is None else date.fromisoformat(stopped),
            stopped_by=document.get("stopped_by"),
            cancelled=bool(document.get("cancelled", False)),
            cancel_reason=document.get("cancel_reason"),
        )


def derive_clocks(facts: Iterable[Fact], rules: ClockRules = ClockRules()) -> list[Clock]:
    """Every statutory clock ONE child's facts (all their streams) start, with how each ended.

    The caller passes every fact it holds; revisions and retractions are resolved here. Clocks
    are ordered by start date, then kind and id.
    """
    current = current_facts(facts)
    by_authority: dict[str, list[Fact]] = {}
    for fact in current:
        by_authority.setdefault(fact.agency, []).append(fact)
    clocks: list[Clock] = []
    for authority_facts in by_authority.values():
        clocks += _assessments(authority_facts, rules)
        clocks += _initial_conferences(authority_facts, rules)
        clocks += _reviews(authority_facts, rules)
        clocks += _serious_incidents(authority_facts, rules)
    return sorted(clocks, key=lambda c: (c.started_on, c.kind.value, c.id))


def _working_day_clock(
    kind: ClockKind, start: Fact, started_on: date, rules: ClockRules, suffix: str = ""
) -> Clock:
    days = TIMESCALES[kind].working_days
    assert days is not None
    due = add_working_days(started_on, days)
    return Clock(
        id=f"{kind.value}:{start.ref}{suffix}",
        kind=kind,
        authority=start.agency,
        source=start.ref,
        stream=start.stream,
        started_on=started_on,
        due=due,
        alert_on=add_working_days(due, -rules.lead(kind)),
    )


def _first_stop(clock: Clock, stops: Sequence[tuple[date, Fact]]) -> Clock:
    """Stopped by the earliest stopping record dated on or after the clock's start: one
    completed assessment (or notification, or Rapid Review) answers every clock of that kind
    the authority had open by then."""
    for day, fact in sorted(stops, key=lambda s: (s[0], s[1].occurred_at)):
        if day >= clock.started_on:
            return replace(clock, stopped_on=day, stopped_by=fact.ref)
    return clock


def _assessments(facts: Sequence[Fact], rules: ClockRules) -> list[Clock]:
    completions = [(f.day("completed_on"), f) for f in facts if f.kind == "la.assessment-completed"]
    return [
        _first_stop(_working_day_clock(ClockKind.ASSESSMENT, f, f.occurred_on, rules), completions)
        for f in facts
        if f.kind == "la.referral" and f.text("outcome") not in ("no-further-action", "early-help")
    ]


def _initial_conferences(facts: Sequence[Fact], rules: ClockRules) -> list[Clock]:
    """From each strategy discussion to the initial conference. The timescale runs from the
    last strategy discussion if more than one was held, so a later discussion before the due
    date supersedes the earlier clock; once past due, the earlier clock's breach stands and a
    later discussion cannot hide it. An s47 outcome that does not call for a conference
    cancels the clock: no conference is owed."""
    discussions = [f for f in facts if f.kind == "la.strategy-discussion"]
    clocks = []
    for index, start in enumerate(discussions):
        clock = _working_day_clock(ClockKind.INITIAL_CONFERENCE, start, start.occurred_on, rules)
        ends: list[tuple[date, int, Fact, str | None]] = []  # (day, precedence, fact, cancel)
        for fact in facts:
            day = fact.occurred_on
            if day < clock.started_on:
                continue
            if fact.kind == "la.initial-cp-conference":
                ends.append((day, 0, fact, None))
            elif (
                fact.kind == "la.s47-enquiry-outcome"
                and fact.text("outcome") != "concerns-substantiated-icpc"
            ):
                ends.append((day, 1, fact, "the section 47 enquiry did not call for a conference"))
        for later in discussions[index + 1 :]:
            if later.occurred_on <= clock.due:
                ends.append(
                    (later.occurred_on, 2, later, "superseded by a later strategy discussion")
                )
                break
        if ends:
            day, _, fact, reason = min(ends, key=lambda e: (e[0], e[1], e[2].occurred_at))
            clock = replace(
                clock,
                stopped_on=day,
                stopped_by=fact.ref,
                cancelled=reason is not None,
                cancel_reason=reason,
            )
        clocks.append(clock)
    return clocks


_PLAN_ENDING_REVIEW = frozenset({"end-plan", "no-plan"})


def _reviews(facts: Sequence[Fact], rules: ClockRules) -> list[Clock]:
    """Review conferences while a child protection plan lasts. A plan starts at an initial
    conference deciding `cp-plan` (or, if the authority publishes no such conference, at
    `la.cp-plan-started`); the first review is due 3 calendar months after that, and each
    review conference that keeps the plan makes the next due 6 months after it. A review
    deciding `end-plan` (or `no-plan`) or `la.cp-plan-ended` ends the plan: a review clock
    still running then is cancelled if it was not yet due, and breached if it was."""
    clocks: list[Clock] = []
    current: Clock | None = None  # the running review clock of the plan in progress
    episode: Fact | None = None  # the record that started the plan in progress
    number = 0

    def review_clock(start: Fact, started_on: date, months: int) -> Clock:
        due = add_months(started_on, months)
        assert episode is not None
        return Clock(
            id=f"{ClockKind.CP_REVIEW.value}:{episode.ref}#{number}",
            kind=ClockKind.CP_REVIEW,
            authority=start.agency,
            source=start.ref,
            stream=start.stream,
            started_on=started_on,
            due=due,
            alert_on=add_working_days(due, -rules.lead(ClockKind.CP_REVIEW)),
        )

    first_months = TIMESCALES[ClockKind.CP_REVIEW].months
    assert first_months is not None
    for fact in facts:
        day = fact.occurred_on
        starts_plan = fact.kind == "la.cp-plan-started" or (
            fact.kind == "la.initial-cp-conference" and fact.text("decision") == "cp-plan"
        )
        if starts_plan:
            if current is None:
                episode, number = fact, 1
                current = review_clock(fact, day, first_months)
            elif (
                fact.kind == "la.initial-cp-conference"
                and number == 1
                and current.source != fact.ref
                and day <= current.due
                and episode is not None
                and episode.kind == "la.cp-plan-started"
            ):
                # The plan was recorded before its conference: the conference is the anchor.
                current = review_clock(fact, day, first_months)
            continue
        if current is None or day < current.started_on:
            continue
        if fact.kind == "la.review-cp-conference":
            clocks.append(replace(current, stopped_on=day, stopped_by=fact.ref))
            if fact.text("decision") in _PLAN_ENDING_REVIEW:
                current, episode = None, None
            else:
                number += 1
                current = review_clock(fact, day, LATER_REVIEW_MONTHS)
        elif fact.kind == "la.cp-plan-ended":
            not_yet_due = day <= current.due
            clocks.append(
                replace(
                    current,
                    stopped_on=day,
                    stopped_by=fact.ref,
                    cancelled=not_yet_due,
                    cancel_reason="the plan ended before the review was due"
                    if not_yet_due
                    else None,
                )
            )
            current, episode = None, None
    if current is not None:
        clocks.append(current)
    return clocks


def _serious_incidents(facts: Sequence[Fact], rules: ClockRules) -> list[Clock]:
    """Both clocks run from the day the authority became aware of the incident."""
    notified = [
        (f.day("notified_on"), f) for f in facts if f.kind == "la.serious-incident-notified"
    ]
    reviewed = [(f.day("completed_on"), f) for f in facts if f.kind == "la.rapid-review-completed"]
    clocks = []
    for fact in facts:
        if fact.kind != "la.serious-incident-notifiable":
            continue
        aware = fact.day("aware_on")
        clocks.append(
            _first_stop(
                _working_day_clock(ClockKind.INCIDENT_NOTIFICATION, fact, aware, rules), notified
            )
        )
        clocks.append(
            _first_stop(_working_day_clock(ClockKind.RAPID_REVIEW, fact, aware, rules), reviewed)
        )
    return clocks


# Who is alerted --------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who an alert goes to: a practitioner by id, or a team (`macpt:<authority>`), and why
    (`<basis> via <agency/event_id>`, as the access record states relationships)."""

    practitioner_id: str | None
    team: str | None
    relationship: str

    @property
    def key(self) -> str:
        return (
            f"practitioner:{self.practitioner_id}"
            if self.practitioner_id is not None
            else f"team:{self.team}"
        )


def alert_recipient(
    facts: Iterable[Fact], clock: Clock, today: date, rules: ClockRules = ClockRules()
) -> Recipient:
    """The clock's authority's most recent allocation of a worker to the child (as now
    stated: corrections and retractions honoured) that is not stale; without one, the
    authority's multi-agency child protection team, whose lead child protection practitioner
    holds the decisions and must see that an unallocated child's timescale is running out."""
    allocations = [
        f
        for f in current_facts(facts)
        if f.kind == "la.worker-allocated"
        and f.agency == clock.authority
        and f.text("practitioner_id") is not None
        and f.occurred_on <= today
    ]
    if allocations:
        latest = allocations[-1]
        worker = latest.text("practitioner_id")
        if worker is not None and today - latest.occurred_on < rules.allocation_max:
            return Recipient(worker, None, f"allocated-worker via {latest.ref}")
    return Recipient(None, macpt_team(clock.authority), f"macpt-member via {clock.source}")
