"""The one ingest core behind every transport (Kafka, file inbox, HTTPS later).

A transport hands over batches of raw messages from one source (a Kafka partition, an inbox
file) with increasing positions. Each batch is validated, pseudonymised and encrypted, and its
records, its ledger entry and the new source position commit in one transaction: after a crash
the transport resumes from the committed position, so nothing is lost and nothing is recorded
twice. Bad messages are quarantined in the same transaction, never dropped.

One piece (about 500 lines): the batch transaction is one unit, and every record it commits
(the events, quarantine, the source position, the withholding and blind indexes) is built for
it here; validation is `hub.validation`, name normalising `hub.domain.name_matching` and the
transports `hub.transports`.
"""

from __future__ import annotations

import base64
import gc
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol
from uuid import UUID

import orjson
import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from pydantic import ValidationError

from hub.adapters import metrics
from hub.adapters.envelope import seal
from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.access import Practitioner
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.name_matching import index_tokens
from hub.domain.records import (
    BatchCommitted,
    BlindIndexed,
    ChildRecordEntry,
    HubRecord,
    IngestKeyClaimed,
    MessageQuarantined,
    WithholdingIndexed,
    blind_index_context,
    blind_index_scope,
)
from hub.domain.taxonomy import CHILD_DETAILS_KINDS, AgencyType
from hub.validation import Rejection, parse_message

log = structlog.get_logger("hub.ingest")

_VERSION_CACHE_SIZE = 50_000
# What is kept of a quarantined message larger than the limit (oversize, or refused earlier for
# another reason, e.g. from an unregistered channel): its first bytes, with its length and
# digest. A row as large as the message made PostgreSQL inserts hang (psycopg's pipeline
# waiting on the server, the server on the rest of the statement), stopping ingest.
OVERSIZE_KEPT_BYTES = 4096
_MAX_ATTEMPTS = 3
_LINK_KINDS = frozenset({"identity.linked", "identity.unlinked"})


@dataclass(frozen=True)
class InboundMessage:
    """Raw bytes from a transport, where they came from, and whom the transport vouches for."""

    source: str
    position: int
    value: bytes
    owner_agency: str


class _Parsed(NamedTuple):
    """A message as parsed, once per batch (a retry reuses it): the event with its canonical
    JSON and content digest, or why it is refused."""

    message: InboundMessage
    result: CanonicalEvent | Rejection
    canonical: bytes = b""
    digest: str = ""


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


@dataclass
class _BatchLookups:
    """What the store already holds for one batch: claims, and the head version of streams."""

    key_streams: dict[str, UUID]
    child_streams: dict[str, UUID]
    linked: dict[str, UUID]
    heads: dict[UUID, int]
    claims: dict[UUID, str]
    # A child-details event's blind index entries (docs/find.md): (stream, match) and the
    # given-name tags, by the event's idempotency key.
    blind: dict[str, tuple[list[tuple[UUID, str]], list[str]]] = field(default_factory=dict)
    # The batch's blind index entries (stream, version, match, what is sealed), sealed once
    # their data keys exist (`IngestService._index_records`).
    index_entries: list[tuple[UUID, int, str, bytes]] = field(default_factory=list)

    def next_version(self, stream: UUID) -> int:
        self.heads[stream] = self.heads.get(stream, 0) + 1
        return self.heads[stream]


class AgencyTypes(Protocol):
    """The agency register, as ingest reads it: which type of agency each channel owner is."""

    def registered_type(self, agency_id: str) -> AgencyType | None:
        """The registered type, or None if the agency is not registered."""
        ...


def quarantined_raw_context(source: str, position: int) -> bytes:
    """What a quarantined message's raw bytes sealed with a child's key are bound to."""
    return f"hub-quarantined-raw-v1\x1f{source}\x1f{position}".encode()


class BatchOrderError(ValueError):
    """A transport handed over a batch that is not one source in increasing position order."""


def _canonical_json(event: CanonicalEvent) -> bytes:
    """The event's canonical JSON: its content digest is the SHA-256 of these bytes, and the
    body recorded in the child's stream is these bytes parsed (one serialisation, not two)."""
    return event.model_dump_json(exclude_none=True).encode()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while one batch is prepared and committed.

    A batch allocates tens of thousands of short-lived, acyclic objects (parsed events,
    records, rows), which trigger many collections that find nothing, each scanning every
    tracked object in the process: about a tenth of ingest's CPU time. Reference counting
    still frees them at once; the collector runs again as soon as the batch is done."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class IngestService:
    def __init__(
        self,
        store: HubStore,
        pseudonyms: Pseudonymiser,
        *,
        agencies: AgencyTypes,
        find_practitioner: Callable[[str], Practitioner | None],
        max_message_bytes: int,
        clock_skew: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._pseudonyms = pseudonyms
        self._agencies = agencies
        self._find_practitioner = find_practitioner
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
        received_at = self._clock()
        # The parsed batch stays alive across the attempts: the collector stays paused with it.
        with _collector_paused():
            return self._ingest_parsed(source, batch, self._parse(batch, received_at), received_at)

    def _ingest_parsed(
        self,
        source: str,
        batch: Sequence[InboundMessage],
        parsed: list[_Parsed],
        received_at: datetime,
    ) -> BatchOutcome:
        """Commit a parsed batch (parsed once: a retry only re-reads the store)."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            committed = self._store.position(source)
            fresh = [p for p in parsed if committed is None or p.message.position > committed]
            if not fresh:
                return BatchOutcome(source, skipped_already_recorded=len(batch))
            try:
                outcome = self._commit(source, fresh, received_at)
            except IntegrityError:
                # Another worker recorded some of these first; forget cached versions, re-check.
                self._versions.clear()
                log.warning("ingest_conflict_retrying", source=source, attempt=attempt)
                continue
            outcome.skipped_already_recorded = len(batch) - len(fresh)
            metrics.record_ingest(
                batch[0].owner_agency, outcome.accepted, outcome.duplicates, outcome.quarantined
            )
            log.info(
                "batch_committed",
                source=source,
                first_position=fresh[0].message.position,
                last_position=fresh[-1].message.position,
                accepted=outcome.accepted,
                duplicates=outcome.duplicates,
                quarantined=dict(outcome.quarantined),
            )
            return outcome
        raise IntegrityError(f"could not commit batch from {source} after {_MAX_ATTEMPTS} attempts")

    def _parse(self, batch: Sequence[InboundMessage], received_at: datetime) -> list[_Parsed]:
        owner_types = {
            owner: self._agencies.registered_type(owner)
            for owner in {message.owner_agency for message in batch}
        }
        parsed = []
        for message in batch:
            result = parse_message(
                message.value,
                owner_agency=message.owner_agency,
                owner_type=owner_types[message.owner_agency],
                find_practitioner=self._find_practitioner,
                received_at=received_at,
                max_bytes=self._max_bytes,
                clock_skew=self._skew,
            )
            if isinstance(result, CanonicalEvent):
                canonical = _canonical_json(result)
                digest = hashlib.sha256(canonical).hexdigest()
                parsed.append(_Parsed(message, result, canonical, digest))
            else:
                parsed.append(_Parsed(message, result))
        return parsed

    def _commit(
        self, source: str, parsed: Sequence[_Parsed], received_at: datetime
    ) -> BatchOutcome:
        batch = [p.message for p in parsed]
        lookups = self._look_up([p.result for p in parsed if isinstance(p.result, CanonicalEvent)])
        outcome = BatchOutcome(source)
        records: list[HubRecord] = []
        by_agency: Counter[str] = Counter()
        for item in parsed:
            result: CanonicalEvent | Rejection | None = item.result
            if isinstance(result, CanonicalEvent):
                result = self._accept(item, received_at, lookups, records)
            if result is None:
                outcome.duplicates += 1
            elif isinstance(result, Rejection):
                outcome.quarantined[result.code] += 1
                records.append(self._quarantine(item.message, result, received_at))
            else:
                outcome.accepted += 1
                by_agency[result.agency.id] += 1
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
        scopes = {record.encryption_scope() for record in records}
        self._store.keyring.ensure(
            scopes | {blind_index_scope(s, v) for s, v, _, _ in lookups.index_entries}
        )
        records += self._index_records(lookups.index_entries, received_at)
        self._store.append(records, Tracking(source, batch[-1].position))
        self._remember(lookups.heads)
        return outcome

    def _look_up(self, events: list[CanonicalEvent]) -> _BatchLookups:
        """Claims and stream heads for a whole batch in a few queries, not one per event."""
        ingest_key = self._pseudonyms.ingest_key
        key_streams = {key: ingest_key(key) for key in (e.idempotency_key for e in events)}
        child_streams = {e.child.identifier: self._pseudonyms.child_stream(e.child) for e in events}
        linked = {
            str(e.details["nhs_number"]): self._pseudonyms.nhs_stream(str(e.details["nhs_number"]))
            for e in events
            if e.kind in _LINK_KINDS
        }
        blind = {e.idempotency_key: self._blind_entries(e) for e in events}
        blind = {key: entries for key, entries in blind.items() if entries[0]}
        wanted = set(child_streams.values()) | set(linked.values())
        wanted |= {stream for streams, _ in blind.values() for stream, _ in streams}
        heads = {stream: self._versions[stream] for stream in wanted if stream in self._versions}
        heads.update(self._store.heads(wanted - heads.keys()))
        claims = {
            stream: claim.content_digest
            for stream, claim in self._store.first_records(key_streams.values()).items()
            if isinstance(claim, IngestKeyClaimed)
        }
        return _BatchLookups(key_streams, child_streams, linked, heads, claims, blind)

    def _index_records(
        self, entries: list[tuple[UUID, int, str, bytes]], received_at: datetime
    ) -> list[HubRecord]:
        """Blind index entries, each sealed with its own data key (created with the batch's
        other keys), so erasing a child can erase exactly theirs (docs/find.md)."""
        keyring = self._store.keyring
        return [
            BlindIndexed(
                originator_id=stream,
                originator_version=version,
                timestamp=received_at,
                match=match,
                sealed=base64.b64encode(
                    seal(
                        keyring,
                        blind_index_scope(stream, version),
                        payload,
                        blind_index_context(stream, version),
                    )
                ).decode(),
            )
            for stream, version, match, payload in entries
        ]

    def _blind_entries(self, event: CanonicalEvent) -> tuple[list[tuple[UUID, str]], list[str]]:
        """The blind index streams (keyed hashes of name-and-date-of-birth tokens) and given
        name tags of a child-details event; none for any other kind, or when the publisher
        shielded the family name or date of birth."""
        tokens = (
            index_tokens(event.details, event.shielded_fields)
            if event.kind in CHILD_DETAILS_KINDS
            else None
        )
        if tokens is None:
            return [], []
        streams = {self._pseudonyms.blind_stream(t): str(m) for m, t in reversed(tokens.family)}
        return list(streams.items()), [self._pseudonyms.blind_tag(t) for t in tokens.given]

    def _remember(self, heads: dict[UUID, int]) -> None:
        for stream, version in heads.items():
            self._versions[stream] = version
            self._versions.move_to_end(stream)
        while len(self._versions) > _VERSION_CACHE_SIZE:
            self._versions.popitem(last=False)

    def _accept(
        self,
        parsed: _Parsed,
        received_at: datetime,
        lookups: _BatchLookups,
        records: list[HubRecord],
    ) -> CanonicalEvent | Rejection | None:
        """Records for an accepted event; None for a duplicate; a Rejection for a conflict."""
        event, message = parsed.result, parsed.message
        assert isinstance(event, CanonicalEvent)
        idempotency_key = event.idempotency_key
        key_stream = lookups.key_streams[idempotency_key]
        canonical, digest = parsed.canonical, parsed.digest
        earlier = lookups.claims.get(key_stream)
        if earlier is not None:
            if earlier == digest:
                return None
            return Rejection(
                "conflicting-duplicate",
                "the agency already published this event_id and revision with different "
                "content; publish a correction as a new revision",
            )
        child_stream = lookups.child_streams[event.child.identifier]
        if event.child.provisional_id is not None and lookups.heads.get(child_stream, 0) == 0:
            return Rejection(
                "unknown-provisional-id",
                "child.provisional_id was not issued by this hub (hub identity issue)",
            )
        lookups.claims[key_stream] = digest
        version = lookups.next_version(child_stream)
        records.append(
            ChildRecordEntry(
                originator_id=child_stream,
                originator_version=version,
                timestamp=received_at,
                entry_type="agency-event",
                body=orjson.loads(canonical),
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
        if event.withheld_from:
            records.append(
                WithholdingIndexed(
                    originator_id=self._pseudonyms.source_stream("withheld", idempotency_key),
                    originator_version=1,
                    timestamp=received_at,
                    child_stream=child_stream.hex,
                    ref=f"{event.agency.id}/{event.event_id}@{event.revision}",
                    kind=event.kind,
                )
            )
        streams, tags = lookups.blind.get(idempotency_key, ([], []))
        if streams:
            payload = orjson.dumps(
                {
                    "child": child_stream.hex,
                    "given": tags,
                    "ref": f"{event.agency.id}/{event.event_id}@{event.revision}",
                }
            )
            lookups.index_entries += [
                (stream, lookups.next_version(stream), match, payload) for stream, match in streams
            ]
        if event.kind in _LINK_KINDS:
            nhs_stream = lookups.linked[str(event.details["nhs_number"])]
            records.append(
                ChildRecordEntry(
                    originator_id=nhs_stream,
                    originator_version=lookups.next_version(nhs_stream),
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
        raw, child = message.value, self._named_child(message.value)
        whole: tuple[int, str] | None = None
        if len(raw) > self._max_bytes:  # whatever the reason (an unregistered channel's too)
            whole = (len(raw), hashlib.sha256(raw).hexdigest())
            raw = raw[:OVERSIZE_KEPT_BYTES]
        if child is not None:  # erased with the child: sealed again with the child's key
            raw = seal(
                self._store.keyring,
                f"child:{child}",
                raw,
                quarantined_raw_context(message.source, message.position),
            )
        return MessageQuarantined(
            originator_id=self._pseudonyms.source_stream("quarantine", message.source),
            originator_version=message.position + 1,
            timestamp=received_at,
            source=message.source,
            position=message.position,
            raw=base64.b64encode(raw).decode(),
            reason=rejection.reason,
            reason_code=rejection.code,
            raw_child=child,
            raw_length=None if whole is None else whole[0],
            raw_sha256=None if whole is None else whole[1],
        )

    def _named_child(self, value: bytes) -> str | None:
        """The stream of the child a rejected message names validly, if it is readable enough
        to say (an invalid identifier names nobody)."""
        try:
            document = orjson.loads(value)
            child = document.get("child") if isinstance(document, dict) else None
            return self._pseudonyms.child_stream(ChildRef.model_validate(child)).hex
        except (orjson.JSONDecodeError, ValidationError, TypeError, ValueError):
            return None
