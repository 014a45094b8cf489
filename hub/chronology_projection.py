"""The chronology projection: sealed documents per child stream, following the store.

It reads the store's notification log after its own tracked position, folds each child's new
entries into that child's documents, seals them with the child's data key and writes the
documents and the new position in one transaction. Reading a chronology is then a few rows per
child instead of one decryption per event. It can be rebuilt from zero at any time
(`rebuild`), reporting progress.

A child stream has a small head document (its chunk count and the identity links recorded in
it) and its agency events as recorded (with received-at and version) in sealed chunks of 100,
so folding a new entry rewrites only the last chunk; an NHS number's chronology also takes in a
linked provisional stream's events, and stops doing so once an unlink is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from hub.adapters.chronology_views import ChronologyViewStore, ProjectionConflictError
from hub.adapters.data_keys import DataKeyErasedError, Keyring
from hub.adapters.envelope import open_sealed, seal
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.domain.records import ChildRecordEntry
from hub.store import HubStore

PAGE = 20_000
CHUNK = 100  # entries per sealed chunk of a child's document
_LINK_TYPES = {"identity-linked": "linked", "identity-unlinked": "unlinked"}


@dataclass(frozen=True)
class Progress:
    processed: int
    position: int
    head: int
    rate_per_s: float


ProgressCallback = Callable[[Progress], None]


def _associated(stream: str) -> bytes:
    return b"hub-chronology-v1\x1f" + stream.encode()


class ChronologyProjection:
    def __init__(
        self,
        store: HubStore,
        views: ChronologyViewStore,
        keyring: Keyring,
        pseudonyms: Pseudonymiser,
    ) -> None:
        self._store = store
        self._views = views
        self._keyring = keyring
        self._pseudonyms = pseudonyms
        self._topic = get_topic(ChildRecordEntry)
        self._lock = threading.RLock()

    @staticmethod
    def _scope(name: str) -> str:
        # Household documents name children of several streams: the index key seals them.
        # A child's head (`<stream>`) and chunks (`<stream>:<n>`) use the child's own key.
        return "index" if name.startswith("household:") else f"child:{name.split(':')[0]}"

    def _open(self, name: str, sealed: bytes) -> dict[str, Any]:
        plain = open_sealed(self._keyring, self._scope(name), sealed, _associated(name))
        document: dict[str, Any] = json.loads(plain)
        return document

    def _seal(self, name: str, document: dict[str, Any]) -> bytes:
        plain = json.dumps(document, separators=(",", ":")).encode()
        return seal(self._keyring, self._scope(name), plain, _associated(name))

    def household_name(self, agency_id: str, household_ref: str) -> str:
        key = self._pseudonyms.source_stream("household", f"{agency_id}/{household_ref}")
        return f"household:{key.hex}"

    def household_members(self, agency_id: str, household_ref: str) -> dict[str, str]:
        """Child stream -> child identifier, for every child an agency's household ref names."""
        name = self.household_name(agency_id, household_ref)
        sealed = self._views.get_many([name]).get(name)
        return {} if sealed is None else dict(self._open(name, sealed)["members"])

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
        head = self._store.recorder.max_notification_id() or 0
        processed = 0
        started = time.perf_counter()
        while position < head:
            page = self._store.recorder.select_notifications(
                start=position + 1, limit=PAGE, topics=[self._topic]
            )
            if not page:
                break
            entries: dict[str, list[ChildRecordEntry]] = {}
            households: dict[str, dict[str, str]] = {}
            for notification in page:
                try:
                    record = self._store.mapper.to_domain_event(notification)
                except DataKeyErasedError:
                    continue  # an erased child's entry: never folded, so never resurrected
                assert isinstance(record, ChildRecordEntry)
                entries.setdefault(record.originator_id.hex, []).append(record)
                household = (
                    record.body.get("household_ref")
                    if record.entry_type == "agency-event"
                    else None
                )
                if household:
                    name = self.household_name(record.body["agency"]["id"], household)
                    child = record.body["child"]
                    households.setdefault(name, {})[record.originator_id.hex] = (
                        child.get("nhs_number") or child["provisional_id"]
                    )
            documents = self._fold_households(households)
            documents.update(self._fold_streams(entries))
            self._views.put(documents, page[-1].id, expected=position)
            position = page[-1].id
            processed += sum(len(new) for new in entries.values())
            if on_progress is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                on_progress(Progress(processed, position, head, processed / elapsed))
        return processed

    def _fold_households(self, households: dict[str, dict[str, str]]) -> dict[str, bytes]:
        sealed = self._views.get_many(list(households))
        documents = {}
        for name, members in households.items():
            document = self._open(name, sealed[name]) if name in sealed else {"members": {}}
            document["members"].update(members)
            documents[name] = self._seal(name, document)
        return documents

    def _fold_streams(self, entries: dict[str, list[ChildRecordEntry]]) -> dict[str, bytes]:
        """Append to each stream's last chunk (starting new chunks as they fill), so the cost
        of folding an entry does not grow with the size of the child's record."""
        heads_sealed = self._views.get_many(list(entries))
        heads: dict[str, dict[str, Any]] = {
            stream: self._open(stream, heads_sealed[stream])
            if stream in heads_sealed
            else {"chunks": 0, "links": {}}
            for stream in entries
        }
        last_names = [_chunk(s, h["chunks"] - 1) for s, h in heads.items() if h["chunks"]]
        last_sealed = self._views.get_many(last_names)
        documents: dict[str, bytes] = {}
        for stream, new in entries.items():
            head = heads[stream]
            chunk_index = max(head["chunks"] - 1, 0)
            name = _chunk(stream, chunk_index)
            chunk = self._open(name, last_sealed[name]) if name in last_sealed else {"entries": []}
            for record in new:
                if record.entry_type in _LINK_TYPES:
                    head["links"][record.body["provisional_stream"]] = _LINK_TYPES[
                        record.entry_type
                    ]
                elif record.entry_type == "agency-event":
                    if len(chunk["entries"]) >= CHUNK:
                        documents[_chunk(stream, chunk_index)] = self._seal(
                            _chunk(stream, chunk_index), chunk
                        )
                        chunk_index, chunk = chunk_index + 1, {"entries": []}
                    chunk["entries"].append(
                        [record.originator_version, record.timestamp.isoformat(), record.body]
                    )
                    occurred = (
                        datetime.fromisoformat(record.body["occurred_at"])
                        .astimezone(UTC)
                        .isoformat()
                    )
                    head["last_occurred_at"] = max(head.get("last_occurred_at", occurred), occurred)
            if chunk["entries"]:
                documents[_chunk(stream, chunk_index)] = self._seal(
                    _chunk(stream, chunk_index), chunk
                )
                head["chunks"] = chunk_index + 1
            documents[stream] = self._seal(stream, head)
        return documents

    def rebuild(self, on_progress: ProgressCallback | None = None) -> int:
        self._views.clear()
        return self.catch_up(on_progress)

    def _stream_entries(self, stream: str, head: dict[str, Any]) -> list[ChronologyEntry]:
        names = [_chunk(stream, i) for i in range(head["chunks"])]
        sealed = self._views.get_many(names)
        items = []
        for name in names:
            for version, received_at, body in self._open(name, sealed[name])["entries"]:
                items.append(
                    ChronologyEntry(
                        event=CanonicalEvent.model_validate(body),
                        received_at=datetime.fromisoformat(received_at),
                        stream=stream,
                        version=version,
                    )
                )
        return items

    def _head(self, stream: str) -> dict[str, Any] | None:
        sealed = self._views.get_many([stream]).get(stream)
        return None if sealed is None else self._open(stream, sealed)

    def linked_streams(self, stream: UUID) -> list[str]:
        head = self._head(stream.hex)
        return [] if head is None else [s for s, st in head["links"].items() if st == "linked"]

    def forget(self, stream: str) -> None:
        """Drop everything the projection derived from a stream (before its key is erased):
        its documents, and its membership of household documents."""
        with self._lock:
            self._forget(stream)

    def _forget(self, stream: str) -> None:
        head = self._head(stream)
        households: dict[str, None] = {}
        if head is not None:
            for entry in self._stream_entries(stream, head):
                if entry.event.household_ref:
                    name = self.household_name(entry.event.agency.id, entry.event.household_ref)
                    households[name] = None
        sealed = self._views.get_many(list(households))
        documents = {}
        for name, blob in sealed.items():
            document = self._open(name, blob)
            document["members"].pop(stream, None)
            documents[name] = self._seal(name, document)
        self._views.put(documents, self._views.position())
        names = []
        after = stream
        while batch := [n for n in self._views.names(after, 500) if n.startswith(f"{stream}:")]:
            names += batch
            after = batch[-1]
        self._views.delete([stream, *names])

    def last_activity(self) -> Iterator[tuple[str, str | None]]:
        """(child stream, latest occurred-at) for every child document, for retention."""
        after = ""
        while names := self._views.names(after, 1000):
            for name in names:
                if ":" not in name:
                    head = self._head(name)
                    yield name, None if head is None else head.get("last_occurred_at")
            after = names[-1]

    def entries(self, stream: UUID) -> list[ChronologyEntry]:
        """The merged chronology of a child stream and the streams linked to it."""
        own = stream.hex
        head = self._head(own)
        if head is None:
            return []
        items = self._stream_entries(own, head)
        linked = [s for s, state in head["links"].items() if state == "linked"]
        for other, other_sealed in self._views.get_many(linked).items():
            items += self._stream_entries(other, self._open(other, other_sealed))
        return merge_chronology(items)


def _chunk(stream: str, index: int) -> str:
    return f"{stream}:{index}"
