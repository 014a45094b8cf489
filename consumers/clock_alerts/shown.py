"""An alert as its recipient is shown it, and a recipient's listing."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class AlertListing:
    practitioner: Practitioner
    alerts: list[ShownAlert]
    audit_refs: list[str]
    consumer_lag: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "practitioner": self.practitioner.id,
            "alerts": [a.as_dict() for a in self.alerts],
            "audit_refs": self.audit_refs,
            "consumer_lag": self.consumer_lag,
        }
