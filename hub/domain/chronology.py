"""The consolidated multi-agency chronology of one child, as a pure function of their events.

Entries are merged across agencies (and across a provisional stream linked to the NHS number)
in occurred-at order, keeping recorded-at and received-at so the chronology is bitemporal.
Corrections (a later revision of the same record) and retractions (`record.retracted` naming a
record) are shown as such: the earlier entry stays, marked, because what was believed at the
time matters to a review.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.uk_time import uk_date


class EntryStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"  # a later revision of the same record exists
    RETRACTED = "retracted"  # the publisher retracted it


@dataclass(frozen=True)
class Origin:
    """Where an entry received from a partner hub came from (a transfer, docs/federation.md):
    the partner hub and its partnership, whom to contact there, when this hub received it
    from theirs, and what the sending hub called it."""

    hub: str  # the partner hub's id
    partnership: str  # its partnership's name, as people read it
    contact: str
    received_from_hub_at: datetime
    sender_ref: str = ""  # agency/event_id@revision at the sending hub
    transfer_id: str = ""

    def label(self, agency: str) -> str:
        """`From Wessex Safeguarding Children Partnership (wessex-county-council), received
        from their hub on 7 March 2026`: the date in England."""
        day = uk_date(self.received_from_hub_at)
        return (
            f"From {self.partnership} ({agency}), received from their hub on {day.day} {day:%B %Y}"
        )


@dataclass(frozen=True)
class ChronologyEntry:
    event: CanonicalEvent
    received_at: datetime
    stream: str  # hex of the child stream it was recorded in
    version: int  # its version in that stream
    status: EntryStatus = EntryStatus.CURRENT
    replaced_by: str | None = None  # "event_id@revision" of the correction or retraction
    origin: Origin | None = None  # set when received from a partner hub (a transfer)

    @property
    def ref(self) -> str:
        """The publisher's reference: agency, record id and revision; for an entry from a
        partner hub, prefixed with that hub's id (`wessex:agency/id@1`), so it never names
        a local agency's record."""
        local = f"{self.event.agency.id}/{self.event.event_id}@{self.event.revision}"
        return local if self.origin is None else f"{self.origin.hub}:{local}"

    @property
    def record(self) -> tuple[str, str, str]:
        """Which record this is a revision of: (partner hub or "", agency, record id)."""
        hub = "" if self.origin is None else self.origin.hub
        return (hub, self.event.agency.id, self.event.event_id)


@dataclass(frozen=True)
class PatternFlag:
    """A multi-agency pattern worth a human look; never a conclusion."""

    code: str
    description: str
    refs: tuple[str, ...]  # ChronologyEntry.ref of the entries that make the pattern
    window_start: datetime
    window_end: datetime


def merge_chronology(entries: Iterable[ChronologyEntry]) -> list[ChronologyEntry]:
    """Order by occurred-at (then recorded-at, received-at) and mark corrections and
    retractions. Identity-link entries are not chronology entries and are not passed in."""
    items = list(entries)
    # Records are keyed with the partner hub they came from (if any): a partner's record and
    # a local agency's with the same ids are different records.
    latest_revision: dict[tuple[str, str, str], ChronologyEntry] = {}
    for entry in items:
        key = entry.record
        current = latest_revision.get(key)
        if current is None or entry.event.revision > current.event.revision:
            latest_revision[key] = entry
    retracted: dict[tuple[str, str, str], ChronologyEntry] = {}
    for entry in items:
        target = entry.event.supersedes
        if entry.event.kind == "record.retracted" and target is not None:
            retracted[(entry.record[0], entry.event.agency.id, target.event_id)] = entry
    marked = []
    for entry in items:
        key = entry.record
        newest = latest_revision[key]
        if key in retracted:
            by = retracted[key].event
            entry = replace(
                entry, status=EntryStatus.RETRACTED, replaced_by=f"{by.event_id}@{by.revision}"
            )
        elif newest is not entry:
            entry = replace(
                entry,
                status=EntryStatus.SUPERSEDED,
                replaced_by=f"{newest.event.event_id}@{newest.event.revision}",
            )
        elif entry.status is not EntryStatus.CURRENT or entry.replaced_by is not None:
            # marks from an earlier merge (of more entries) do not carry over
            entry = replace(entry, status=EntryStatus.CURRENT, replaced_by=None)
        marked.append(entry)
    return sorted(
        marked,
        key=lambda e: (e.event.occurred_at, e.event.recorded_at, e.received_at, e.ref),
    )
