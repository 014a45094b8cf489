"""The chronology projection: one sealed document per child stream, following the store.

It reads the store's notification log after its own tracked position, folds each child's new
entries into that child's document, seals it with the child's data key and writes the
documents and the new position in one transaction. Reading a chronology is then one row per
stream instead of one decryption per event. It can be rebuilt from zero at any time
(`rebuild`), reporting progress.

A document holds the stream's agency events as recorded (with received-at and version) and the
identity links recorded in it, so an NHS number's chronology also takes in a linked provisional
stream's events, and stops doing so once an unlink is recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from hub.adapters.chronology_views import ChronologyViewStore
from hub.adapters.data_keys import Keyring
from hub.adapters.envelope import open_sealed, seal
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.domain.records import ChildRecordEntry
from hub.store import HubStore

PAGE = 5000
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

    @staticmethod
    def _scope(name: str) -> str:
        # Household documents name children of several streams: the index key seals them.
        return "index" if name.startswith("household:") else f"child:{name}"

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

    def position(self) -> int:
        return self._views.position()

    def catch_up(self, on_progress: ProgressCallback | None = None) -> int:
        """Fold every new child entry into the documents; returns how many were processed."""
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
                record = self._store.mapper.to_domain_event(notification)
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
            sealed = self._views.get_many([*entries, *households])
            documents = {}
            for name, members in households.items():
                document = self._open(name, sealed[name]) if name in sealed else {"members": {}}
                document["members"].update(members)
                documents[name] = self._seal(name, document)
            for stream, new in entries.items():
                document = (
                    self._open(stream, sealed[stream])
                    if stream in sealed
                    else {"entries": [], "links": {}}
                )
                for record in new:
                    _fold(document, record)
                documents[stream] = self._seal(stream, document)
            position = page[-1].id
            self._views.put(documents, position)
            processed += len(page)
            if on_progress is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                on_progress(Progress(processed, position, head, processed / elapsed))
        return processed

    def rebuild(self, on_progress: ProgressCallback | None = None) -> int:
        self._views.clear()
        return self.catch_up(on_progress)

    def entries(self, stream: UUID) -> list[ChronologyEntry]:
        """The merged chronology of a child stream and the streams linked to it."""
        own = stream.hex
        sealed = self._views.get_many([own]).get(own)
        if sealed is None:
            return []
        opened = {own: self._open(own, sealed)}
        linked = [s for s, state in opened[own]["links"].items() if state == "linked"]
        for other, sealed in self._views.get_many(linked).items():
            opened[other] = self._open(other, sealed)
        items = []
        for source_stream, document in opened.items():
            for version, received_at, body in document["entries"]:
                items.append(
                    ChronologyEntry(
                        event=CanonicalEvent.model_validate(body),
                        received_at=datetime.fromisoformat(received_at),
                        stream=source_stream,
                        version=version,
                    )
                )
        return merge_chronology(items)


def _fold(document: dict[str, Any], record: ChildRecordEntry) -> None:
    if record.entry_type == "agency-event":
        document["entries"].append(
            [record.originator_version, record.timestamp.isoformat(), record.body]
        )
    elif record.entry_type in _LINK_TYPES:
        document["links"][record.body["provisional_stream"]] = _LINK_TYPES[record.entry_type]
