"""Sharing latency: how long each event took from happening, to being recorded by its agency,
to reaching the hub, and whether that was later than the partnership expects.

Pure domain. Expectations are configurable; the defaults are a day from recording to sharing,
and for Operation Encompass (a police domestic abuse incident where a child lives) receipt
before the start of the next school day (08:30 UK time on the next working day: weekends and
English bank holidays are never school days, see `working_days`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from hub.domain.chronology import ChronologyEntry
from hub.domain.working_days import SCHOOL_DAY_STARTS, next_school_day_start


@dataclass(frozen=True)
class LatencyRules:
    share_within: timedelta = timedelta(hours=24)
    next_school_day_kinds: frozenset[str] = field(
        default_factory=lambda: frozenset({"police.domestic-abuse-incident"})
    )
    school_day_starts: time = SCHOOL_DAY_STARTS

    def deadline(self, entry: ChronologyEntry) -> tuple[datetime, str]:
        event = entry.event
        if event.kind in self.next_school_day_kinds:
            deadline = next_school_day_start(event.occurred_at, self.school_day_starts)
            return deadline, "before the next school day"
        hours = int(self.share_within.total_seconds() // 3600)
        return event.recorded_at + self.share_within, f"within {hours} hours of recording"


@dataclass(frozen=True)
class EventLatency:
    ref: str
    agency: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    received_at: datetime
    recording_hours: float  # occurred -> recorded
    sharing_hours: float  # recorded -> received
    expectation: str
    late: bool


def event_latency(entry: ChronologyEntry, rules: LatencyRules) -> EventLatency:
    event = entry.event
    deadline, expectation = rules.deadline(entry)
    return EventLatency(
        ref=entry.ref,
        agency=event.agency.id,
        kind=event.kind,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        received_at=entry.received_at,
        recording_hours=round((event.recorded_at - event.occurred_at).total_seconds() / 3600, 1),
        sharing_hours=round((entry.received_at - event.recorded_at).total_seconds() / 3600, 1),
        expectation=expectation,
        late=entry.received_at > deadline,
    )


def latency_by_agency(latencies: Iterable[EventLatency]) -> dict[str, dict[str, float | int]]:
    by_agency: dict[str, list[EventLatency]] = {}
    for item in latencies:
        by_agency.setdefault(item.agency, []).append(item)
    summary: dict[str, dict[str, float | int]] = {}
    for agency, items in sorted(by_agency.items()):
        hours = sorted(i.sharing_hours for i in items)
        summary[agency] = {
            "events": len(items),
            "median_sharing_hours": round(statistics.median(hours), 1),
            "max_sharing_hours": hours[-1],
            "late": sum(1 for i in items if i.late),
        }
    return summary
