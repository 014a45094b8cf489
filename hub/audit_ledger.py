"""The audit ledger: an event-sourced, encrypted record of every access decision.

It is its own `eventsourcing` application (its own SQLite file, or its own tables in
PostgreSQL) sealed under the hub's audit key, so it can be kept, backed up and verified apart
from the event log, and so a DPO's record of who saw a child survives that child's erasure.
Each entry is written to the child's audit stream and indexed under the practitioner in the
same transaction; break-glass grants also go to the review queue stream. The governance
decisions DPOs record are here too: review commissions, withholding reviews and subject access
cases (each in its own stream, with a partnership-wide list where one is needed).

One piece (about 440 lines): one eventsourcing application, with one writer (`_put`) and one
reader per stream it keeps; the queries data protection officers run over it are
`hub.audit_queries`, and what a child's grants stream says is `hub.domain.grants`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder
from eventsourcing.utils import resolve_topic

from hub.adapters import metrics
from hub.adapters.data_keys import Keyring
from hub.adapters.envelope import EnvelopeMapper
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.grants import AccessGrants
from hub.domain.records import (
    AuditEntry,
    AuditPointer,
    BreakGlassEnded,
    BreakGlassGranted,
    BreakGlassReviewed,
    DisclosureAudited,
    ErasureRecorded,
    HubRecord,
    ReviewCommissioned,
    SubjectAccessOpened,
    WithholdingReviewed,
)
from hub.domain.relationships import ReviewCommission

_ATTEMPTS = 8
# SQLite's page cache per ledger connection (filled only as pages are read; at most 15
# connections in eventsourcing's pool): a busy child's stream of 1,000 rows is 4-8 MB of pages.
_PAGE_CACHE_KIB = 32 * 1024
_UNAVAILABLE = "the audit ledger could not be written; nothing is disclosed"
BREAK_GLASS_QUEUE = "break-glass-queue"
WITHHOLDING_REVIEWS = "withholding-reviews"
SUBJECT_ACCESS_REQUESTS = "subject-access-requests"


class AuditUnavailableError(RuntimeError):
    """The audit entry could not be written, so nothing may be disclosed."""


class AuditLedger(Application[UUID]):
    name = "audit"

    def __init__(
        self,
        env: dict[str, str],
        keyring: Keyring,
        pseudonyms: Pseudonymiser,
        *,
        cache_records: int = 20_000,
    ) -> None:
        self._keyring = keyring
        self._pseudonyms = pseudonyms
        self._write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        # (stream id as an int, version) -> (sealed state, record)
        self._cache: OrderedDict[tuple[int, int], tuple[bytes, HubRecord]] = OrderedDict()
        self._cache_size = cache_records
        super().__init__(env)

    def construct_mapper(self) -> Mapper[UUID]:
        return EnvelopeMapper(self.construct_transcoder(), self._keyring)

    @property
    def envelope(self) -> EnvelopeMapper:
        assert isinstance(self.mapper, EnvelopeMapper)
        return self.mapper

    # Streams -------------------------------------------------------------------------------

    def child_stream(self, child_stream: str) -> UUID:
        return self._pseudonyms.source_stream("audit-child", child_stream)

    def grants_stream(self, child_stream: str) -> UUID:
        """Break-glass grants and review commissions for a child: kept apart from the (long)
        disclosure stream so that checking access reads only a few rows."""
        return self._pseudonyms.source_stream("audit-grants", child_stream)

    def practitioner_stream(self, practitioner_id: str) -> UUID:
        return self._pseudonyms.source_stream("audit-practitioner", practitioner_id)

    def queue_stream(self) -> UUID:
        return self._pseudonyms.source_stream("audit-queue", BREAK_GLASS_QUEUE)

    def reviews_stream(self) -> UUID:
        """Every withholding review in the partnership (each also in its child's grants)."""
        return self._pseudonyms.source_stream("audit-queue", WITHHOLDING_REVIEWS)

    def _last_version(self, stream: UUID) -> int:
        rows = self.recorder.select_events(stream, desc=True, limit=1)
        return rows[0].originator_version if rows else 0

    def _read(self, stream: UUID) -> list[HubRecord]:
        recorder = self.recorder
        if not isinstance(recorder, SQLiteAggregateRecorder):
            return [self._decoded(row) for row in recorder.select_events(stream)]
        # SQLite: the stream's rows straight from the table (as HubStore batches look-ups),
        # so a row whose record is already decoded costs no StoredEvent or UUID.
        statement = (
            "SELECT originator_version, topic, state FROM "  # noqa: S608
            f"{recorder.events_table_name} WHERE originator_id = ? ORDER BY originator_version"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            # A busy child's rows are spread through the file, a page each: SQLite's default
            # 2 MB page cache held too few of them, so every read fetched each page again.
            cursor.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
            cursor.execute(statement, (stream.hex,))
            rows = cursor.fetchall()
        # The cached records, looked up under one hold of the lock (a "who saw" query reads a
        # busy child's stream whole, every row already decoded).
        found: list[HubRecord | None] = []
        with self._cache_lock:
            get, touch, base = self._cache.get, self._cache.move_to_end, stream.int
            for row in rows:
                key = (base, row[0])
                cached = get(key)
                if cached is not None and cached[0] == row[2]:
                    touch(key)
                    found.append(cached[1])
                else:
                    found.append(None)
        return [
            self._decoded(StoredEvent(stream, row[0], row[1], row[2])) if record is None else record
            for row, record in zip(rows, found, strict=True)
        ]

    def _decoded(self, row: StoredEvent) -> HubRecord:
        """The record a stored row holds. Ledger rows never change, and a busy child's
        stream is read whole by every "who saw" query, so decoded records are kept (LRU)
        with the exact sealed bytes they came from and reused only while the stored row is
        byte-for-byte the same (so a changed row is still opened, and fails, as before)."""
        stream = row.originator_id
        key = ((stream if isinstance(stream, UUID) else UUID(stream)).int, row.originator_version)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == row.state:
                self._cache.move_to_end(key)
                return cached[1]
        record = self._decode(row)
        with self._cache_lock:
            self._cache[key] = (row.state, record)
            self._cache.move_to_end(key)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return record

    def _decode(self, row: StoredEvent) -> HubRecord:
        """The record a stored row holds, as the mapper would make it.

        Audit records are the transcoder's JSON with one wrapped value, the timestamp; when
        the decrypted bytes show just that one (`"_type_"` once), they are read with orjson
        and the record is made as the mapper makes it (no __init__), without the standard
        library decoder's per-object hook, which is most of the cost of reading a child's
        audit stream. Anything else (another wrapped value, a number orjson refuses, an
        upcast class) goes through the mapper."""
        plain = self.envelope.open_state(row)
        if plain.count(b'"_type_"') == 1:
            try:
                state = orjson.loads(plain)
            except orjson.JSONDecodeError:
                state = None
            stamp = state.get("timestamp") if isinstance(state, dict) else None
            cls = resolve_topic(row.topic)
            if (
                isinstance(stamp, dict)
                and len(stamp) == 2
                and stamp.get("_type_") == "datetime_iso"
                and isinstance(stamp.get("_data_"), str)
                and isinstance(cls, type)
                and issubclass(cls, HubRecord)
                and getattr(cls, "class_version", 1) == 1
                and "class_version" not in state
            ):
                assert isinstance(state, dict)
                state["timestamp"] = datetime.fromisoformat(stamp["_data_"])
                stream = row.originator_id
                state["originator_id"] = stream if isinstance(stream, UUID) else UUID(stream)
                state["originator_version"] = row.originator_version
                record = object.__new__(cls)
                object.__setattr__(record, "__dict__", state)
                return record
        decoded = self.mapper.to_domain_event(row)
        assert isinstance(decoded, HubRecord)
        return decoded

    # Writing -------------------------------------------------------------------------------

    def _put(self, build: Callable[[], list[HubRecord]]) -> None:
        """Write what `build` makes (it reads the current stream versions), retrying when a
        concurrent writer took a version; any other failure means nothing was written.

        Writers in one process take turns (a practitioner's or a busy child's streams would
        otherwise be contended by every request thread); other processes are handled by the
        retry with a short, growing pause."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._write_lock:
                    self.events.put(build())
                return
            except IntegrityError as error:
                if attempt == _ATTEMPTS:
                    raise AuditUnavailableError(_UNAVAILABLE) from error
                time.sleep(0.005 * attempt)  # back off from another process's write
            except Exception as error:
                raise AuditUnavailableError(_UNAVAILABLE) from error

    def _pointer(self, index: UUID, target: UUID, version: int, at: datetime) -> AuditPointer:
        return AuditPointer(
            originator_id=index,
            originator_version=self._last_version(index) + 1,
            timestamp=at,
            audit_stream=target.hex,
            audit_version=version,
        )

    def record_access(
        self, audited: AuditEntry, at: datetime, grant: tuple[str, timedelta] | None = None
    ) -> DisclosureAudited:
        """Write the audit entry (and a break-glass grant) durably, or raise
        AuditUnavailableError. The disclosure gate discloses only after this returns."""
        child = audited.child_stream
        practitioner = audited.practitioner_id
        written: list[DisclosureAudited] = []

        def build() -> list[HubRecord]:
            records: list[HubRecord] = []
            if grant is not None:
                grants = self.grants_stream(child)
                granted = BreakGlassGranted(
                    originator_id=grants,
                    originator_version=self._last_version(grants) + 1,
                    timestamp=at,
                    practitioner_id=practitioner,
                    child_stream=child,
                    reason=grant[0],
                    expires_at=at + grant[1],
                )
                records += [
                    granted,
                    self._pointer(self.queue_stream(), grants, granted.originator_version, at),
                ]
            stream = self.child_stream(child)
            entry = DisclosureAudited(
                originator_id=stream,
                originator_version=self._last_version(stream) + 1,
                timestamp=at,
                **vars(audited),  # the entry's own fields: its lists are not shared elsewhere
            )
            written[:] = [entry]
            index = self.practitioner_stream(practitioner)
            return [*records, entry, self._pointer(index, stream, entry.originator_version, at)]

        self._put(build)
        metrics.count_access(audited.action, audited.outcome, grant is not None)
        return written[0]

    def commission_review(
        self, child_stream: str, commission: ReviewCommission, at: datetime
    ) -> None:
        self._append_grants(
            child_stream,
            lambda stream, version: ReviewCommissioned(
                originator_id=stream,
                originator_version=version,
                timestamp=at,
                reviewer_id=commission.reviewer_id,
                commissioned_by=commission.commissioned_by,
                reason=commission.reason,
                starts_at=commission.starts_at,
                ends_at=commission.ends_at,
            ),
        )

    def review_withholding(
        self,
        child_stream: str,
        record: str,
        revision: int,
        reviewer_id: str,
        outcome: str,
        until: str | None,
        notes: str,
        at: datetime,
    ) -> None:
        """Record a withholding's review in the child's grants (which the gate reads) and in
        the partnership's list of reviews (which the indicators count), in one transaction."""
        grants, everyone = self.grants_stream(child_stream), self.reviews_stream()

        def reviewed(stream: UUID) -> WithholdingReviewed:
            return WithholdingReviewed(
                originator_id=stream,
                originator_version=self._last_version(stream) + 1,
                timestamp=at,
                record=record,
                revision=revision,
                reviewer_id=reviewer_id,
                outcome=outcome,
                until=until,
                notes=notes,
            )

        self._put(lambda: [reviewed(grants), reviewed(everyone)])

    def withholding_reviews(self) -> list[WithholdingReviewed]:
        """Every withholding review in the partnership, in the order they were recorded."""
        return [r for r in self._read(self.reviews_stream()) if isinstance(r, WithholdingReviewed)]

    def subject_access_stream(self, case_id: str) -> UUID:
        return self._pseudonyms.source_stream("audit-sar", case_id)

    def record_subject_access(
        self, case_id: str, record: Callable[[UUID, int], HubRecord], *, register: bool = False
    ) -> None:
        """Append a subject access case's event to its stream (and, when the case is opened,
        to the partnership's list of cases), in one transaction."""
        stream, cases = self.subject_access_stream(case_id), self._cases_stream()

        def build() -> list[HubRecord]:
            records = [record(stream, self._last_version(stream) + 1)]
            if register:
                records.append(record(cases, self._last_version(cases) + 1))
            return records

        self._put(build)

    def _cases_stream(self) -> UUID:
        return self._pseudonyms.source_stream("audit-queue", SUBJECT_ACCESS_REQUESTS)

    def subject_access_case(self, case_id: str) -> list[HubRecord]:
        """A subject access case's events, in the order they were recorded."""
        return self._read(self.subject_access_stream(case_id))

    def subject_access_cases(self) -> list[SubjectAccessOpened]:
        """Every subject access case opened in the partnership, oldest first."""
        return [r for r in self._read(self._cases_stream()) if isinstance(r, SubjectAccessOpened)]

    def record_erasure(
        self, child_stream: str, streams: list[str], reason: str, erased_by: str, at: datetime
    ) -> None:
        self._append_grants(
            child_stream,
            lambda stream, version: ErasureRecorded(
                originator_id=stream,
                originator_version=version,
                timestamp=at,
                child_stream=child_stream,
                streams=streams,
                reason=reason,
                erased_by=erased_by,
            ),
        )

    def end_break_glass(self, grant: BreakGlassGranted, at: datetime) -> None:
        self._append_grants(
            grant.child_stream,
            lambda stream, version: BreakGlassEnded(
                originator_id=stream,
                originator_version=version,
                timestamp=at,
                practitioner_id=grant.practitioner_id,
                child_stream=grant.child_stream,
                grant_version=grant.originator_version,
            ),
        )

    def _append_grants(self, child_stream: str, record: Callable[[UUID, int], HubRecord]) -> None:
        """Append one record to the child's grants stream, at the version after its last."""
        stream = self.grants_stream(child_stream)
        self._put(lambda: [record(stream, self._last_version(stream) + 1)])

    def grants(self, child_stream: str) -> AccessGrants:
        """The child's break-glass grants, review commissions and erasures, read once."""
        return AccessGrants(self._read(self.grants_stream(child_stream)))

    def review_break_glass(
        self, grant: BreakGlassGranted, reviewer_id: str, outcome: str, notes: str, at: datetime
    ) -> None:
        queue = self.queue_stream()
        self._put(
            lambda: [
                BreakGlassReviewed(
                    originator_id=queue,
                    originator_version=self._last_version(queue) + 1,
                    timestamp=at,
                    grant_stream=grant.originator_id.hex,
                    grant_version=grant.originator_version,
                    reviewer_id=reviewer_id,
                    outcome=outcome,
                    notes=notes,
                )
            ]
        )

    # Reading -------------------------------------------------------------------------------

    def for_child(self, child_stream: str) -> list[HubRecord]:
        """The child's disclosures, then their grants (break-glass, review commissions)."""
        return self._read(self.child_stream(child_stream)) + self._read(
            self.grants_stream(child_stream)
        )

    def _resolve(self, pointers: Sequence[HubRecord]) -> Iterator[HubRecord]:
        for pointer in pointers:
            if isinstance(pointer, AuditPointer):
                rows = self.recorder.select_events(
                    UUID(pointer.audit_stream),
                    gt=pointer.audit_version - 1,
                    lte=pointer.audit_version,
                )
                for row in rows:
                    yield self._decoded(row)

    def for_practitioner(self, practitioner_id: str) -> list[HubRecord]:
        return list(self._resolve(self._read(self.practitioner_stream(practitioner_id))))

    def break_glass(self) -> list[tuple[BreakGlassGranted, BreakGlassReviewed | None]]:
        queue = self._read(self.queue_stream())
        reviews = {
            (r.grant_stream, r.grant_version): r for r in queue if isinstance(r, BreakGlassReviewed)
        }
        grants = [g for g in self._resolve(queue) if isinstance(g, BreakGlassGranted)]
        return [(g, reviews.get((g.originator_id.hex, g.originator_version))) for g in grants]

    def disclosures_after(
        self, position: int, limit: int = 500
    ) -> tuple[list[DisclosureAudited], int]:
        """The disclosures recorded after this position in the ledger's log (a follower's
        own tracking, e.g. the inbox's access notifications), and the position reached."""
        page = self.recorder.select_notifications(start=position + 1, limit=limit)
        found = []
        for notification in page:
            record = self._decoded(notification)
            if isinstance(record, DisclosureAudited):
                found.append(record)
        return found, (page[-1].id if page else position)

    def all_disclosures(self) -> Iterator[DisclosureAudited]:
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=500)
            for notification in page:
                record = self._decoded(notification)
                if isinstance(record, DisclosureAudited):
                    yield record
            if len(page) < 500:
                return
            start = page[-1].id + 1
