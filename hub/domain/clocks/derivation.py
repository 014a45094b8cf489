"""Clocks from facts: each statutory clock's start, due date, stop and status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hub.domain.clocks.facts import Fact, current_facts
from hub.domain.clocks.timescales import (
    DEFAULT_RULES,
    LATER_REVIEW_MONTHS,
    TIMESCALES,
    ClockKind,
    ClockRules,
    ClockStatus,
)
from hub.domain.uk_time import add_months
from hub.domain.working_days import add_working_days


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


def derive_clocks(facts: Iterable[Fact], rules: ClockRules = DEFAULT_RULES) -> list[Clock]:
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
