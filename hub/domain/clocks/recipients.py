"""Who is alerted: the allocated worker, or the authority's MACPT when nobody is allocated."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from hub.domain.access import macpt_team
from hub.domain.clocks.derivation import Clock
from hub.domain.clocks.facts import Fact, current_facts
from hub.domain.clocks.timescales import DEFAULT_RULES, ClockRules


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
    facts: Iterable[Fact], clock: Clock, today: date, rules: ClockRules = DEFAULT_RULES
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
