"""The one ingest core behind every transport (Kafka, file inbox, HTTPS later).

A transport hands over batches of raw messages from one source (a Kafka partition, an inbox
file) with increasing positions. Each batch is validated, pseudonymised and encrypted, and its
records, its ledger entry and the new source position commit in one transaction: after a crash
the transport resumes from the committed position, so nothing is lost and nothing is recorded
twice. Bad messages are quarantined in the same transaction, never dropped.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, Tracking

from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.records import (
    BatchCommitted,
    ChildRecordEntry,
    HubRecord,
    IngestKeyClaimed,
    MessageQuarantined,
)
from hub.store import HubStore
from hub.validation import Rejection, parse_message

log = structlog.get_logger("hub.ingest")

_VERSION_CACHE_SIZE = 50_000
_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class InboundMessage:
    """Raw bytes from a transport, where they came from, and whom the transport vouches for."""

    source: str
    position: int
    value: bytes
    owner_agency: str


@dataclass
class BatchOutcome:
    source: str
    accepted: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    skipped_already_recorded: int = 0

    @property
    def consumed(self) -> int:
        return self.accepted + self.duplicates + sum(self.quarantined.values())


class BatchOrderError(ValueError):
    """A transport handed over a batch that is not one source in increasing position order."""


def _digest(event: CanonicalEvent) -> str:
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


class IngestService:
    def __init__(
        self,
        store: HubStore,
        pseudonyms: Pseudonymiser,
        *,
        max_message_bytes: int,
        clock_skew: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._pseudonyms = pseudonyms
        self._max_bytes = max_message_bytes
        self._skew = clock_skew
        self._clock = clock
        self._versions: OrderedDict[UUID, int] = OrderedDict()

    def resume_after(self, source: str) -> int | None:
        """The last committed position of `source`; a transport starts after it."""
        return self._store.position(source)

    def ingest(self, batch: Sequence[InboundMessage]) -> BatchOutcome:
        if not batch:
            raise BatchOrderError("empty batch")
        source = batch[0].source
        positions = [m.position for m in batch]
        if any(m.source != source for m in batch) or positions != sorted(set(positions)):
            raise BatchOrderError("a batch must be one source with strictly increasing positions")
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            committed = self._store.position(source)
            fresh = [m for m in batch if committed is None or m.position > committed]
            if not fresh:
                return BatchOutcome(source, skipped_already_recorded=len(batch))
            try:
                outcome = self._commit(source, fresh)
            except IntegrityError:
                # Another worker recorded some of these first; forget cached versions, re-check.
                self._versions.clear()
                log.warning("ingest_conflict_retrying", source=source, attempt=attempt)
                continue
            outcome.skipped_already_recorded = len(batch) - len(fresh)
            log.info(
                "batch_committed",
                source=source,
                first_position=fresh[0].position,
                last_position=fresh[-1].position,
                accepted=outcome.accepted,
                duplicates=outcome.duplicates,
                quarantined=dict(outcome.quarantined),
            )
            return outcome
        raise IntegrityError(f"could not commit batch from {source} after {_MAX_ATTEMPTS} attempts")

    def _current_version(self, stream: UUID) -> int:
        last = self._versions.get(stream)
        if last is None:
            last = self._store.last_version(stream)
            if last == 0:
                return 0  # not cached: another writer (identity issuance) may open the stream
        self._remember(stream, last)
        return last

    def _next_version(self, stream: UUID) -> int:
        version = self._current_version(stream) + 1
        self._remember(stream, version)
        return version

    def _remember(self, stream: UUID, version: int) -> None:
        self._versions[stream] = version
        self._versions.move_to_end(stream)
        if len(self._versions) > _VERSION_CACHE_SIZE:
            self._versions.popitem(last=False)

    def _commit(self, source: str, batch: Sequence[InboundMessage]) -> BatchOutcome:
        received_at = self._clock()
        outcome = BatchOutcome(source)
        records: list[HubRecord] = []
        claimed_in_batch: dict[UUID, str] = {}
        by_agency: Counter[str] = Counter()
        versions_before = OrderedDict(self._versions)
        try:
            for message in batch:
                parsed = parse_message(
                    message.value,
                    owner_agency=message.owner_agency,
                    received_at=received_at,
                    max_bytes=self._max_bytes,
                    clock_skew=self._skew,
                )
                if isinstance(parsed, CanonicalEvent):
                    parsed = self._accept(parsed, message, received_at, claimed_in_batch, records)
                if parsed is None:
                    outcome.duplicates += 1
                elif isinstance(parsed, Rejection):
                    outcome.quarantined[parsed.code] += 1
                    records.append(self._quarantine(message, parsed, received_at))
                else:
                    outcome.accepted += 1
                    by_agency[parsed.agency.id] += 1
            records.append(
                BatchCommitted(
                    originator_id=self._pseudonyms.source_stream("ledger", source),
                    originator_version=batch[-1].position + 1,
                    timestamp=received_at,
                    source=source,
                    first_position=batch[0].position,
                    last_position=batch[-1].position,
                    accepted=outcome.accepted,
                    duplicates=outcome.duplicates,
                    quarantined=sum(outcome.quarantined.values()),
                    accepted_by_agency=dict(by_agency),
                )
            )
            self._store.append(records, Tracking(source, batch[-1].position))
        except BaseException:
            self._versions = versions_before
            raise
        return outcome

    def _accept(
        self,
        event: CanonicalEvent,
        message: InboundMessage,
        received_at: datetime,
        claimed_in_batch: dict[UUID, str],
        records: list[HubRecord],
    ) -> CanonicalEvent | Rejection | None:
        """Records for an accepted event; None for a duplicate; a Rejection for a conflict."""
        key_stream = self._pseudonyms.ingest_key(event.idempotency_key)
        digest = _digest(event)
        earlier = claimed_in_batch.get(key_stream)
        if earlier is None:
            claim = self._store.first_record(key_stream)
            earlier = claim.content_digest if isinstance(claim, IngestKeyClaimed) else None
        if earlier is not None:
            if earlier == digest:
                return None
            return Rejection(
                "conflicting-duplicate",
                f"agency {event.agency.id!r} already published record {event.event_id!r} revision "
                f"{event.revision} with different content; publish a correction as a new revision",
            )
        child_stream = self._pseudonyms.child_stream(event.child)
        if event.child.provisional_id is not None and self._current_version(child_stream) == 0:
            return Rejection(
                "unknown-provisional-id",
                "child.provisional_id was not issued by this hub (hub identity issue)",
            )
        claimed_in_batch[key_stream] = digest
        version = self._next_version(child_stream)
        records.append(
            ChildRecordEntry(
                originator_id=child_stream,
                originator_version=version,
                timestamp=received_at,
                entry_type="agency-event",
                body=event.model_dump(mode="json", exclude_none=True),
                source=message.source,
                position=message.position,
            )
        )
        records.append(
            IngestKeyClaimed(
                originator_id=key_stream,
                originator_version=1,
                timestamp=received_at,
                content_digest=digest,
                child_stream=child_stream.hex,
                child_version=version,
            )
        )
        if event.kind in ("identity.linked", "identity.unlinked"):
            nhs_stream = self._pseudonyms.nhs_stream(str(event.details["nhs_number"]))
            records.append(
                ChildRecordEntry(
                    originator_id=nhs_stream,
                    originator_version=self._next_version(nhs_stream),
                    timestamp=received_at,
                    entry_type=event.kind.replace(".", "-"),
                    body={
                        "provisional_stream": child_stream.hex,
                        "agency": event.agency.id,
                        "event_id": event.event_id,
                        "revision": event.revision,
                        "occurred_at": event.occurred_at.isoformat(),
                    },
                    source=message.source,
                    position=message.position,
                )
            )
        return event

    def _quarantine(
        self, message: InboundMessage, rejection: Rejection, received_at: datetime
    ) -> MessageQuarantined:
        log.warning(
            "message_quarantined",
            source=message.source,
            position=message.position,
            reason_code=rejection.code,
        )
        return MessageQuarantined(
            originator_id=self._pseudonyms.source_stream("quarantine", message.source),
            originator_version=message.position + 1,
            timestamp=received_at,
            source=message.source,
            position=message.position,
            raw=base64.b64encode(message.value).decode(),
            reason=rejection.reason,
            reason_code=rejection.code,
        )
