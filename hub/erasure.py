"""Crypto-shredding and retention: erasing a child's record by destroying its data keys.

The events stay in the log (so the Merkle tree still verifies) but can never be opened again.
Before the keys go, the projection forgets what it derived (the child's documents and their
membership of household documents) and the keys of the child's blind index entries go (so no
name-and-date-of-birth token leads to the child any more, docs/find.md); afterwards every read
path says "erased". Clear copies the hub can reach under its data directory (inbox files kept
there) have every line naming the child overwritten. The erasure is a data protection
officer's action and is written to the audit ledger first: if that fails, nothing is erased.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog

from hub.adapters.data_keys import DataKeyErasedError, Keyring
from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import DisclosureGate
from hub.domain.access import Role
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.read_models.chronology_projection import ChronologyProjection

log = structlog.get_logger("hub.erasure")


class NotPermittedError(PermissionError):
    """Erasure is for data protection officers."""


@dataclass(frozen=True)
class Erasure:
    child_stream: str
    streams: list[str]
    reason: str
    at: datetime
    purged_lines: int = 0  # clear copies overwritten under the data directory


@dataclass(frozen=True)
class RetentionCandidate:
    child_stream: str
    last_occurred_at: str


class ErasureService:
    def __init__(
        self,
        gate: DisclosureGate,
        projection: ChronologyProjection,
        keyring: Keyring,
        audit: AuditLedger,
        *,
        clear_copies: Callable[[Iterable[str]], int] = lambda _: 0,
        forget_index: Callable[[str, list[CanonicalEvent]], int] = lambda *_: 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._clear_copies = clear_copies
        self._forget_index = forget_index
        self._projection = projection
        self._keyring = keyring
        self._audit = audit
        self._clock = clock

    def _dpo(self, practitioner_id: str) -> str:
        practitioner = self._gate.practitioner(practitioner_id)
        if practitioner.role is not Role.DATA_PROTECTION_OFFICER:
            raise NotPermittedError("erasure is for data protection officers only")
        if not self._gate.acts_for_partnership(practitioner):
            # Crypto-shredding a child erases every agency's record of them.
            raise NotPermittedError(
                "erasure removes every agency's record of the child: it is for the "
                "partnership's lead data protection officers, named in the agreement"
            )
        return practitioner.id

    def erase_child(self, dpo_id: str, child: ChildRef, reason: str) -> Erasure:
        return self.erase_stream(dpo_id, self._gate.child_stream(child), reason)

    def erase_stream(self, dpo_id: str, stream: str, reason: str) -> Erasure:
        if not reason.strip():
            raise ValueError("an erasure needs a reason")
        dpo = self._dpo(dpo_id)
        self._projection.catch_up()
        streams = [stream, *self._projection.linked_streams(UUID(stream))]
        identifiers = self._identifiers(stream)
        events = self._events(stream)
        now = self._clock()
        self._audit.record_erasure(stream, streams, reason.strip(), dpo, now)  # audit first
        forgotten = 0
        for erased in streams:
            forgotten += self._forget_index(erased, events)  # while the details are readable
            self._projection.forget(erased)
            self._keyring.erase(f"child:{erased}")
        purged = self._clear_copies(identifiers)
        log.info(
            "child_record_erased",
            streams=len(streams),
            index_entries_forgotten=forgotten,
            clear_lines_purged=purged,
        )
        return Erasure(stream, streams, reason.strip(), now, purged)

    def _events(self, stream: str) -> list[CanonicalEvent]:
        """Every event of the child's record (their linked records' too), while readable."""
        try:
            return [entry.event for entry in self._projection.entries(UUID(stream))]
        except DataKeyErasedError:
            return []

    def _identifiers(self, stream: str) -> set[str]:
        """The child's identifiers as the record holds them (an NHS number, linked provisional
        ids), in the forms people write them, to find clear copies by."""
        try:
            entries = self._projection.entries(UUID(stream))
        except DataKeyErasedError:
            return set()
        found: set[str] = set()
        for entry in entries:
            event = entry.event
            found.add(event.child.identifier)
            if event.kind.startswith("identity."):
                found.add(str(event.details.get("nhs_number", "")))
        spaced = {f"{n[:3]} {n[3:6]} {n[6:]}" for n in found if len(n) == 10 and n.isdigit()}
        hyphened = {n.replace(" ", "-") for n in spaced}
        return {n for n in found | spaced | hyphened if n}

    def retention_due(self, years_after_last_event: int) -> list[RetentionCandidate]:
        """Children whose latest event occurred more than N years ago. Provisional streams
        linked into an NHS number's record go with that record, never on their own."""
        self._projection.catch_up()
        cutoff = self._clock() - timedelta(days=365.25 * years_after_last_event)
        activity = dict(self._projection.last_activity())
        linked = {s for stream in activity for s in self._projection.linked_streams(UUID(stream))}
        return [
            RetentionCandidate(stream, last)
            for stream, last in sorted(activity.items())
            if stream not in linked and last is not None and datetime.fromisoformat(last) < cutoff
        ]

    def apply_retention(self, dpo_id: str, years_after_last_event: int) -> list[Erasure]:
        reason = f"retention: {years_after_last_event} years after the last event"
        return [
            self.erase_stream(dpo_id, candidate.child_stream, reason)
            for candidate in self.retention_due(years_after_last_event)
        ]
