"""What a child's grants stream in the audit ledger says, for one access decision: the
break-glass grants (and their early ends), practice review commissions, withholding reviews and
erasure. Pure: `hub.audit_ledger` reads the stream; the disclosure gate asks this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.domain.records import (
    BreakGlassEnded,
    BreakGlassGranted,
    ErasureRecorded,
    HubRecord,
    ReviewCommissioned,
    WithholdingReviewed,
)
from hub.domain.relationships import ReviewCommission


@dataclass(frozen=True)
class AccessGrants:
    """What the small per-child grants stream says, for one access decision."""

    records: list[HubRecord]

    def commissions(self, started_by: datetime | None = None) -> list[ReviewCommission]:
        return [
            ReviewCommission(r.reviewer_id, r.commissioned_by, r.reason, r.starts_at, r.ends_at)
            for r in self.records
            if isinstance(r, ReviewCommissioned)
            and (started_by is None or r.starts_at <= started_by)
        ]

    def ended_at(self, grant: BreakGlassGranted) -> datetime | None:
        """When the practitioner ended the grant before it expired, if they did."""
        for record in self.records:
            if (
                isinstance(record, BreakGlassEnded)
                and record.grant_version == grant.originator_version
            ):
                return record.timestamp
        return None

    def active_break_glass(self, practitioner_id: str, at: datetime) -> BreakGlassGranted | None:
        """The practitioner's grant in force at `at`: not expired, and not ended by them
        before `at`."""
        for record in reversed(self.records):
            if (
                isinstance(record, BreakGlassGranted)
                and record.practitioner_id == practitioner_id
                and record.timestamp <= at < record.expires_at
                and at < (self.ended_at(record) or record.expires_at)
            ):
                return record
        return None

    def withholding_reviews(self, by: datetime | None = None) -> dict[str, WithholdingReviewed]:
        """Each record's latest withholding review (recorded by `by`, if given)."""
        return {
            r.record: r
            for r in self.records
            if isinstance(r, WithholdingReviewed) and (by is None or r.timestamp <= by)
        }

    @property
    def erased_at(self) -> datetime | None:
        erasures = [r for r in self.records if isinstance(r, ErasureRecorded)]
        return erasures[-1].timestamp if erasures else None
