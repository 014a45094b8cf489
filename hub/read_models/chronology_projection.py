"""The chronology projection: sealed documents per child stream, following the store.

It reads the store's notification log after its own tracked position, folds each child's new
entries into that child's documents, seals them with the child's data key and writes the
documents and the new position in one transaction. Reading a chronology is then a few rows per
child instead of one decryption per event. It can be rebuilt from zero at any time
(`rebuild`), reporting progress.

A child stream has a small head document (its chunk count and the identity links recorded in
it) and its agency events as recorded (with received-at and version) in sealed chunks of 100,
so folding a new entry rewrites only the last chunk; an NHS number's chronology also takes in a
linked provisional stream's events, and stops doing so once an unlink is recorded. Sealing,
opening and reading the documents back (with the cache of opened chunks) is
`hub.read_models.chronology_documents`; this module is folding: catch-up and rebuild, which
share the projection's lock (about 400 lines, one piece).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from hub.adapters.chronology_views import (
    ChronologyViewStore,
    ProjectionConflictError,
    Rebuild,
)
from hub.adapters.data_keys import DataKeyErasedError, Keyring
from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.chronology import ChronologyEntry
from hub.domain.records import ChildRecordEntry, WithholdingIndexed
from hub.read_models.chronology_documents import ChronologyDocuments, chunk_name
from hub.read_models.chronology_snapshot import ChronologySnapshot, Progress, ProgressCallback
from hub.read_models.log_follower import LogFollower

PAGE = 50_000  # rows folded per transaction (fewer rewrites of a busy child's last chunk)
CHUNK = 100  # entries per sealed chunk of a child's document
REBUILD_PAGE = 5_000  # rows read per query by a rebuild (in stream order)
_LINK_TYPES = {"identity-linked": "linked", "identity-unlinked": "unlinked"}
# Entries that are chronology events: a local agency's, and one received from a partner hub in
# a transfer (`hub.federation_ingest`), kept in the chunk with its provenance.
_EVENT_TYPES = frozenset({"agency-event", "federated-event"})


class _Row(NamedTuple):
    """A child entry as folding needs it."""

    stream: str
    version: int
    entry_type: str
    received_at: str  # ISO 8601, as the chunk keeps it
    body: dict[str, Any]


class ChronologyProjection:
    def __init__(
        self,
        store: HubStore,
        views: ChronologyViewStore,
        keyring: Keyring,
        pseudonyms: Pseudonymiser,
        *,
        cache_entries: int = 50_000,
    ) -> None:
        self._store = store
        self._views = views
        self._keyring = keyring
        self._pseudonyms = pseudonyms
        self._topic = get_topic(ChildRecordEntry)
        self._follower = LogFollower(store, self._row, PAGE)
        self._lock = threading.RLock()
        self._documents = ChronologyDocuments(views, keyring, cache_entries=cache_entries)

    def household_name(self, agency_id: str, household_ref: str) -> str:
        key = self._pseudonyms.source_stream("household", f"{agency_id}/{household_ref}")
        return f"household:{key.hex}"

    def household_members(self, agency_id: str, household_ref: str) -> dict[str, str]:
        """Child stream -> child identifier, for every child an agency's household ref names."""
        name = self.household_name(agency_id, household_ref)
        sealed = self._views.get_many([name]).get(name)
        return {} if sealed is None else dict(self._documents.open(name, sealed)["members"])

    @property
    def store(self) -> HubStore:
        return self._store

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def position(self) -> int:
        return self._views.position()

    def catch_up(self, on_progress: ProgressCallback | None = None) -> int:
        """Fold every new child entry into the documents; returns how many were folded
        (entries of erased children are skipped). Safe to run from several threads and
        processes at once: a fold commits only if nobody advanced the position meanwhile."""
        with self._lock:
            while True:
                try:
                    return self._catch_up(on_progress)
                except ProjectionConflictError:
                    continue  # another process folded first: continue from its position

    def _catch_up(self, on_progress: ProgressCallback | None) -> int:
        position = self._views.position()
        head = self._follower.head()
        if position >= head:
            return 0  # (every read checks: nothing to fold, no further query)
        processed = 0
        started = time.perf_counter()
        while True:
            # Taken before any row is decrypted: a child forgotten (and its key erased) after
            # this may already be in the page's documents, so their write is then refused.
            forgotten = self._views.forgotten_mark()
            page = self._follower.next_page(position, head)
            if page is None:
                break
            entries: dict[str, list[_Row]] = {}
            households: dict[str, dict[str, str]] = {}
            for _, row in page.entries:
                entries.setdefault(row.stream, []).append(row)
                self._note_household(row, households)
            documents = self._fold_households(households, self._views)
            documents.update(self._fold_streams(entries))
            self._views.put(documents, page.position, expected=position, forgotten_mark=forgotten)
            position = page.position
            processed += len(page.entries)
            if on_progress is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                on_progress(
                    Progress(processed, position, head, processed / elapsed, position / head)
                )
        return processed

    def _rows(self, page: Iterable[Notification]) -> Iterator[_Row]:
        """A rebuild's page of child entries as folding needs them, without an erased
        child's (never folded, so never resurrected)."""
        for notification in page:
            try:
                yield self._row(notification)
            except DataKeyErasedError:
                continue

    def _row(self, notification: Notification) -> _Row:
        """What folding needs of a stored child entry. Its state is the eventsourcing
        transcoder's JSON, whose only wrapped value in a child entry is the timestamp; when
        that is so (checked on the bytes) it is read with orjson, skipping the transcoder's
        per-object hook and the record object. Anything else goes through the mapper."""
        plain = self._store.envelope.open_state(notification)
        if plain.count(b'"_type_"') == 1:
            try:
                state = orjson.loads(plain)
                stamp = state["timestamp"]
                if stamp["_type_"] == "datetime_iso" and len(stamp) == 2:
                    stream = notification.originator_id
                    return _Row(
                        stream.hex if isinstance(stream, UUID) else UUID(stream).hex,
                        notification.originator_version,
                        state["entry_type"],
                        # The transcoder wrote `timestamp.isoformat()`, which reads back to
                        # the same datetime and so writes back to the same text.
                        stamp["_data_"],
                        state["body"],
                    )
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
        record = self._store.mapper.to_domain_event(notification)
        assert isinstance(record, ChildRecordEntry)
        return _Row(
            record.originator_id.hex,
            record.originator_version,
            record.entry_type,
            record.timestamp.isoformat(),
            record.body,
        )

    def _fold_households(
        self, households: dict[str, dict[str, str]], views: ChronologyViewStore | Rebuild
    ) -> dict[str, bytes]:
        sealed = views.get_many(list(households))
        documents = {}
        for name, members in households.items():
            document = (
                self._documents.open(name, sealed[name]) if name in sealed else {"members": {}}
            )
            document["members"].update(members)
            documents[name] = self._documents.seal(name, document)
        return documents

    def _fold_streams(self, entries: dict[str, list[_Row]]) -> dict[str, bytes]:
        heads_sealed = self._views.get_many(list(entries))
        heads: dict[str, dict[str, Any]] = {
            stream: self._documents.open(stream, heads_sealed[stream])
            if stream in heads_sealed
            else {"chunks": 0, "links": {}}
            for stream in entries
        }
        last_names = [chunk_name(s, h["chunks"] - 1) for s, h in heads.items() if h["chunks"]]
        last_sealed = self._views.get_many(last_names)
        documents: dict[str, bytes] = {}
        for stream, new in entries.items():
            head = heads[stream]
            name = chunk_name(stream, max(head["chunks"] - 1, 0))
            chunk = (
                self._documents.open(name, last_sealed[name])
                if name in last_sealed
                else {"entries": []}
            )
            self._fold(stream, head, chunk, new, documents, stored=stream in heads_sealed)
        return documents

    def _fold(
        self,
        stream: str,
        head: dict[str, Any],
        chunk: dict[str, Any],
        new: list[_Row],
        documents: dict[str, bytes],
        *,
        stored: bool,
    ) -> dict[str, Any]:
        """Append a stream's new entries to its last chunk (`chunk`, starting new chunks as
        they fill), so the cost of folding an entry does not grow with the size of the
        child's record; seal what changed into `documents` and return the last chunk."""
        before = (head["chunks"], dict(head["links"]), head.get("last_occurred_at"))
        chunk_index = max(head["chunks"] - 1, 0)
        added = False
        for record in new:
            if record.entry_type in _LINK_TYPES:
                head["links"][record.body["provisional_stream"]] = _LINK_TYPES[record.entry_type]
            elif record.entry_type in _EVENT_TYPES:
                if len(chunk["entries"]) >= CHUNK:
                    name = chunk_name(stream, chunk_index)
                    documents[name] = self._documents.seal(name, chunk)
                    chunk_index, chunk = chunk_index + 1, {"entries": []}
                if record.entry_type == "agency-event":
                    event = record.body
                    chunk["entries"].append([record.version, record.received_at, event])
                else:  # from a partner hub: the event, and where it came from
                    event = record.body["event"]
                    chunk["entries"].append(
                        [record.version, record.received_at, event, record.body["provenance"]]
                    )
                added = True
                occurred = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC).isoformat()
                head["last_occurred_at"] = max(head.get("last_occurred_at", occurred), occurred)
        if added:  # (a chunk that only link entries passed through is unchanged)
            name = chunk_name(stream, chunk_index)
            documents[name] = self._documents.seal(name, chunk)
        if chunk["entries"]:
            head["chunks"] = chunk_index + 1
        after = (head["chunks"], head["links"], head.get("last_occurred_at"))
        if not stored or after != before:
            documents[stream] = self._documents.seal(stream, head)
        return chunk

    def rebuild(self, on_progress: ProgressCallback | None = None) -> int:
        """Build every document afresh beside the live ones and swap them in at once (readers
        are served the old documents until then), then catch up with what arrived meanwhile.
        Returns how many entries were folded.

        The store is read in stream order, so each child's entries come together and its
        documents are sealed and written once, rather than reopened and resealed for every
        page of the log its entries are spread over, as catching up must. What is forgotten
        (erased) while the rebuild runs is purged from the new documents before the swap."""
        with self._lock:
            head = self._store.recorder.max_notification_id() or 0
            build = self._views.begin_rebuild()
            processed = self._build(build, head, on_progress)
            purged = 0
            while True:
                forgotten = build.forgotten(purged)
                for stream in dict.fromkeys(stream for _, stream, _ in forgotten):
                    self._delete_stream_documents(build, stream)
                members: dict[str, list[str]] = {}
                for _, stream, household in forgotten:
                    if household:
                        members.setdefault(household, []).append(stream)
                build.put(self._without_members(build, members))
                purged = forgotten[-1][0] if forgotten else purged
                if build.replace_live(head, purged):
                    break
            self._documents.clear_cache()
        return processed + self.catch_up(on_progress)

    def _build(self, build: Rebuild, head: int, on_progress: ProgressCallback | None) -> int:
        """Fold each stream's entries as soon as the next stream's begin: one stream's rows
        are held at a time (holding a page of parsed entries makes the garbage collector
        rescan them over and over), and its documents are sealed once. A page's documents
        are written by a second thread while the next page is decrypted and folded."""
        processed = 0
        started = time.perf_counter()
        stream, pending, stored = "", list[_Row](), False
        top: dict[str, Any] = {}
        chunk: dict[str, Any] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="projection-writer") as writer:
            writing: Future[None] | None = None
            for page in self._store.notifications_by_stream(self._topic, head, REBUILD_PAGE):
                documents: dict[str, bytes] = {}
                households: dict[str, dict[str, str]] = {}
                for row in self._rows(page):
                    if row.stream != stream:
                        if pending:
                            self._fold(stream, top, chunk, pending, documents, stored=stored)
                        stream, top = row.stream, {"chunks": 0, "links": {}}
                        chunk, pending, stored = {"entries": []}, [], False
                    pending.append(row)
                    self._note_household(row, households)
                    processed += 1
                if pending:  # the stream may go on into the next page: keep its head and chunk
                    chunk = self._fold(stream, top, chunk, pending, documents, stored=stored)
                    pending, stored = [], True
                if writing is not None:
                    writing.result()  # (household documents are read back: wait for them)
                documents.update(self._fold_households(households, build))
                writing = writer.submit(build.put, documents)
                if on_progress is not None:
                    elapsed = max(time.perf_counter() - started, 1e-9)
                    # Stream ids are pseudonyms (uniform): the last one read says how far.
                    done = int(stream[:8], 16) / 0x1_0000_0000 if stream else 0.0
                    on_progress(Progress(processed, page[-1].id, head, processed / elapsed, done))
            if writing is not None:
                writing.result()
        return processed

    def _note_household(self, row: _Row, households: dict[str, dict[str, str]]) -> None:
        household = row.body.get("household_ref") if row.entry_type == "agency-event" else None
        if household:
            name = self.household_name(row.body["agency"]["id"], household)
            child = row.body["child"]
            households.setdefault(name, {})[row.stream] = (
                child.get("nhs_number") or child["provisional_id"]
            )

    def _without_members(
        self, views: ChronologyViewStore | Rebuild, members: dict[str, list[str]]
    ) -> dict[str, bytes]:
        """Household documents with these child streams taken out of them."""
        documents = {}
        for name, blob in views.get_many(list(members)).items():
            document = self._documents.open(name, blob)
            for stream in members[name]:
                document["members"].pop(stream, None)
            documents[name] = self._documents.seal(name, document)
        return documents

    @staticmethod
    def _delete_stream_documents(views: ChronologyViewStore | Rebuild, stream: str) -> None:
        names = []
        after = stream
        while batch := [n for n in views.names(after, 500) if n.startswith(f"{stream}:")]:
            names += batch
            after = batch[-1]
        views.delete([stream, *names])

    def withheld_refs(self) -> Iterator[tuple[str, str]]:
        """(child stream, item reference) of every item a publisher withheld from someone, from
        the store's withholding index (no content)."""
        for record in self._store.records(WithholdingIndexed):
            if isinstance(record, WithholdingIndexed):
                yield record.child_stream, record.ref

    def documents_erased(self, stream: str) -> bool:
        """True when the child's key was erased (crypto-shredded)."""
        return self._keyring.was_erased(f"child:{stream}")

    def linked_streams(self, stream: UUID) -> list[str]:
        head = self._documents.head(stream.hex)
        return [] if head is None else [s for s, st in head["links"].items() if st == "linked"]

    def forget(self, stream: str) -> None:
        """Drop everything the projection derived from a stream (before its key is erased):
        its documents, its membership of household documents, and what is cached of it."""
        with self._lock:
            self._forget(stream)
            self._documents.drop_cached(stream)

    def _forget(self, stream: str) -> None:
        head = self._documents.head(stream)
        households: dict[str, None] = {}
        if head is not None:
            for entry in self._documents.stream_entries(stream, head):
                if entry.event.household_ref:
                    name = self.household_name(entry.event.agency.id, entry.event.household_ref)
                    households[name] = None
        # First, so that a rebuild under way (in any process) purges it from what it built.
        self._views.record_forgotten(stream, list(households))
        members = {name: [stream] for name in households}
        self._views.put(self._without_members(self._views, members), None)
        self._delete_stream_documents(self._views, stream)

    def last_activity(self) -> Iterator[tuple[str, str | None]]:
        """(child stream, latest occurred-at) for every child document, for retention."""
        after = ""
        while names := self._views.names(after, 1000):
            for name in names:
                if ":" not in name:
                    head = self._documents.head(name)
                    yield name, None if head is None else head.get("last_occurred_at")
            after = names[-1]

    def entries(self, stream: UUID) -> list[ChronologyEntry]:
        """The merged chronology of a child stream and the streams linked to it."""
        return list(self.snapshot(stream).entries)

    def snapshot(self, stream: UUID) -> ChronologySnapshot:
        """The merged chronology of a child stream and the streams linked to it, as a snapshot
        that stays the same object while the child's documents are unchanged."""
        return self._documents.snapshot(stream)

    def clear_cache(self) -> None:
        self._documents.clear_cache()
