"""An alert as its recipient is shown it, and a recipient's listing: grouped by child, the
most urgent first, with breaches older than a horizon summarised rather than listed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from hub.domain.access import (
    Practitioner,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class ShownAlert:
    child: str | None
    child_stream: str
    source: str  # `agency/event_id` of the record that started the clock
    team: str | None  # the team the alert was routed to (an unallocated child's MACPT)
    clock: str
    authority: str
    started_on: date
    due: date
    working_days_left: int
    status: str
    raised_at: str
    relationship: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "clock": self.clock,
            "authority": self.authority,
            "started_on": self.started_on.isoformat(),
            "due": self.due.isoformat(),
            "working_days_left": self.working_days_left,
            "status": self.status,
            "raised_at": self.raised_at,
        }


DEFAULT_BREACH_HORIZON_WORKING_DAYS = 20
RUNNING = "open"
BREACHED_RUNNING = "breached-open"
_BREACHED = frozenset({BREACHED_RUNNING, "breached-closed"})
# How a summary names each clock kind: (one, many).
CLOCK_NOUNS: dict[str, tuple[str, str]] = {
    "assessment": ("assessment", "assessments"),
    "initial-conference": ("initial conference", "initial conferences"),
    "cp-review": ("review", "reviews"),
    "incident-notification": ("incident notification", "incident notifications"),
    "rapid-review": ("rapid review", "rapid reviews"),
}


def clock_noun(clock: str, count: int) -> str:
    """`3 assessments`, `1 review`: a clock kind counted in plain words."""
    one, many = CLOCK_NOUNS.get(clock, (clock.replace("-", " "),) * 2)
    return f"{count} {one if count == 1 else many}"


def urgency(alert: ShownAlert) -> tuple[int, int]:
    """Sort key, most urgent first: clocks still running before their due date (fewest
    working days left first), then those breached and still running (the most recently
    breached first), then stopped clocks (shown with `include_closed`; the latest due first)."""
    if alert.status == RUNNING:
        return (0, alert.working_days_left)
    if alert.status == BREACHED_RUNNING:
        return (1, -alert.working_days_left)
    return (2, -alert.working_days_left)


def is_older_breach(alert: ShownAlert, horizon_working_days: int | None) -> bool:
    """Breached longer ago than the horizon (None: no horizon, every breach is listed)."""
    return (
        horizon_working_days is not None
        and alert.status in _BREACHED
        and -alert.working_days_left > horizon_working_days
    )


@dataclass(frozen=True)
class ChildAlerts:
    """One child's alerts in a listing, the most urgent first."""

    child: str | None
    child_stream: str
    alerts: list[ShownAlert]

    def as_dict(self) -> dict[str, Any]:
        return {"child": self.child, "alerts": [a.as_dict() for a in self.alerts]}


@dataclass(frozen=True)
class OlderBreaches:
    """Breaches older than the horizon, counted rather than listed (no child is named)."""

    horizon_working_days: int | None
    by_clock: dict[str, int] = field(default_factory=dict)
    oldest_due: date | None = None

    @property
    def count(self) -> int:
        return sum(self.by_clock.values())

    def counts_text(self) -> str:
        """`150 assessments, 113 reviews`: the counts per clock kind, largest first."""
        ordered = sorted(self.by_clock.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(clock_noun(clock, n) for clock, n in ordered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_clock": dict(sorted(self.by_clock.items())),
            "oldest_due": None if self.oldest_due is None else self.oldest_due.isoformat(),
            "horizon_working_days": self.horizon_working_days,
        }


def group_alerts(
    alerts: list[ShownAlert], horizon_working_days: int | None
) -> tuple[list[ChildAlerts], OlderBreaches]:
    """The alerts grouped by child, each child's most urgent first, the children whose most
    urgent alert is most urgent first; breaches older than the horizon are left out of the
    groups and summarised (per clock kind, and the oldest due date)."""
    by_child: dict[str, list[ShownAlert]] = {}
    older: list[ShownAlert] = []
    for alert in alerts:
        if is_older_breach(alert, horizon_working_days):
            older.append(alert)
        else:
            by_child.setdefault(alert.child_stream, []).append(alert)
    groups = [
        ChildAlerts(theirs[0].child, stream, theirs)
        for stream, theirs in (
            (stream, sorted(items, key=lambda a: (urgency(a), a.due, a.clock)))
            for stream, items in by_child.items()
        )
    ]
    groups.sort(
        key=lambda g: (urgency(g.alerts[0]), g.alerts[0].due, g.child or "", g.child_stream)
    )
    summary = OlderBreaches(
        horizon_working_days,
        dict(Counter(a.clock for a in older)),
        min((a.due for a in older), default=None),
    )
    return groups, summary


@dataclass(frozen=True)
class AlertListing:
    """A practitioner's alerts. `alerts` is every alert shown, by due date (oldest first);
    `grouped()` is how people read them: per child, current first, old breaches summarised
    (`breach_horizon_working_days`; None lists every breach)."""

    practitioner: Practitioner
    alerts: list[ShownAlert]
    audit_refs: list[str]
    consumer_lag: int
    breach_horizon_working_days: int | None = DEFAULT_BREACH_HORIZON_WORKING_DAYS

    def grouped(self) -> tuple[list[ChildAlerts], OlderBreaches]:
        return group_alerts(self.alerts, self.breach_horizon_working_days)

    def as_dict(self) -> dict[str, Any]:
        groups, older = self.grouped()
        return {
            "practitioner": self.practitioner.id,
            "alerts": [a.as_dict() for a in self.alerts],
            "groups": [g.as_dict() for g in groups],
            "older_breaches": older.as_dict(),
            "audit_refs": self.audit_refs,
            "consumer_lag": self.consumer_lag,
        }
