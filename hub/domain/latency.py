"""Sharing latency: how long each event took from happening, to being recorded by its agency,
to reaching the hub, and whether that was later than the partnership expects.

Pure domain. Expectations are configurable; the defaults are a day from recording to sharing,
and for Operation Encompass (a police domestic abuse incident where a child lives) receipt
before the start of the next school day (08:30 UK time on the next working day: weekends and
English bank holidays are never school days, see `working_days`).

**Backfilled, not late.** An agency can share through the hub only once it has joined it (its
registration in the agency register, `registered_at`). What it had recorded before then reaches
the hub in one go when its history is loaded (a backfill), months or years after it was
recorded: that is not late sharing, and counting it as such would swamp every figure (the
demo's history would be "47,516 hours late"). So the rule, one definition: an entry is
**backfilled** when its agency recorded it before the agency joined the hub. A backfilled entry
is never late and is left out of the agency's latency figures (it is counted separately); an
agency the register does not know has no joining date, so none of its entries is backfilled.

Durations are written for a person (`duration_text`): minutes or hours under a day, working days
(England's, `working_days`) beyond that, with the calendar span when it differs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from hub.domain.chronology import ChronologyEntry
from hub.domain.uk_time import uk_date
from hub.domain.working_days import (
    SCHOOL_DAY_STARTS,
    next_school_day_start,
    working_days_between,
)


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
    backfilled: bool = False  # recorded before its agency joined the hub (module docstring)
    sharing_working_days: int = 0  # working days from the recording's UK day to the receipt's
    recording_text: str = ""  # occurred -> recorded, for a person
    sharing_text: str = ""  # recorded -> received, for a person ("backfilled" when it was)


def is_backfilled(entry: ChronologyEntry, joined_at: datetime | None) -> bool:
    """Recorded by its agency before the agency joined the hub (module docstring)."""
    return joined_at is not None and entry.event.recorded_at < joined_at


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def duration_text(start: datetime, end: datetime) -> str:
    """How long from `start` to `end`, as a person reads it: `under a minute`, `40 minutes`,
    `5 hours` under a day; beyond, England's working days between the two UK dates, with the
    calendar span where it differs (`1 working day (3 calendar days)`, `250 working days
    (about 12 months)`). A negative span says `before` (`2 hours before`)."""
    if end < start:
        return f"{duration_text(end, start)} before"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return _plural(int(seconds // 60), "minute")
    if seconds < 24 * 3600:
        return _plural(int(seconds // 3600), "hour")
    first, last = uk_date(start), uk_date(end)
    working = working_days_between(first, last)
    days = (last - first).days
    text = _plural(working, "working day")
    if days >= 730:
        return f"{text} (about {days // 365} years)"
    if days >= 61:
        return f"{text} (about {round(days / 30.44)} months)"
    return text if days == working else f"{text} ({_plural(days, 'calendar day')})"


def event_latency(
    entry: ChronologyEntry, rules: LatencyRules, joined_at: datetime | None = None
) -> EventLatency:
    """The entry's latency; `joined_at` is when its agency joined the hub (None: unknown)."""
    event = entry.event
    deadline, expectation = rules.deadline(entry)
    backfilled = is_backfilled(entry, joined_at)
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
        late=not backfilled and entry.received_at > deadline,
        backfilled=backfilled,
        sharing_working_days=working_days_between(
            uk_date(event.recorded_at), uk_date(entry.received_at)
        ),
        recording_text=duration_text(event.occurred_at, event.recorded_at),
        sharing_text="backfilled"
        if backfilled
        else duration_text(event.recorded_at, entry.received_at),
    )


def _typical_text(hours: float, working_days: float) -> str:
    """A median for a person: hours under a day, working days beyond."""
    if hours < 1:
        return "under an hour"
    if hours < 24:
        return _plural(round(hours), "hour")
    return _plural(round(working_days), "working day")


def latency_by_agency(latencies: Iterable[EventLatency]) -> dict[str, dict[str, object]]:
    """Per agency: every entry counted, backfilled ones apart; the median, longest and late
    figures are over what the agency shared through the hub (none: they are None)."""
    by_agency: dict[str, list[EventLatency]] = {}
    for item in latencies:
        by_agency.setdefault(item.agency, []).append(item)
    summary: dict[str, dict[str, object]] = {}
    for agency, items in sorted(by_agency.items()):
        shared = [i for i in items if not i.backfilled]
        figures: dict[str, object] = {
            "events": len(items),
            "backfilled": len(items) - len(shared),
            "shared_through_hub": len(shared),
            "median_sharing_hours": None,
            "max_sharing_hours": None,
            "median_sharing_text": None,
            "longest_sharing_text": None,
            "late": sum(1 for i in shared if i.late),
        }
        if shared:
            hours = statistics.median(i.sharing_hours for i in shared)
            days = statistics.median(i.sharing_working_days for i in shared)
            longest = max(shared, key=lambda i: i.received_at - i.recorded_at)
            figures |= {
                "median_sharing_hours": round(hours, 1),
                "max_sharing_hours": longest.sharing_hours,
                "median_sharing_text": _typical_text(hours, days),
                "longest_sharing_text": longest.sharing_text,
            }
        summary[agency] = figures
    return summary
