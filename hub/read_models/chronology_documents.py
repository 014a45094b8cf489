"""A child's chronology documents as the projection stores them: sealing, opening, and reading
them back as merged chronologies, with a cache of what was opened.

A child stream has a small head document (its chunk count, the identity links recorded in it
and when its latest event occurred) and its agency events as recorded (with received-at and
version) in sealed chunks; household documents name the children an agency's household
reference covers. Children's documents are sealed with the child's data key, household
documents (which name several children) with the index key. `hub.read_models.
chronology_projection` writes them by folding the log; this module is everything that reads
them.

Opening a chunk (decrypt, JSON, validating 100 canonical events) is most of the cost of reading
a chronology, and a busy child's chunks rarely change: only the last one takes new entries. So
opened chunks are kept, each with the exact sealed bytes it was opened from, and reused only
while the stored document is byte-for-byte the same. A reused chunk is still checked against
the keyring (its data key must still be held), so an erased child's cached entries are never
served: they fail as a decryption would.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from hub.adapters.chronology_views import ChronologyViewStore
from hub.adapters.data_keys import KEY_ID_LENGTH, DataKeyErasedError, Keyring
from hub.adapters.envelope import open_sealed, seal
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.read_models.chronology_snapshot import ChronologySnapshot

_SNAPSHOTS = 64  # merged chronologies kept (the chunks they hold are bounded separately)

EMPTY = ChronologySnapshot(())


def chunk_name(stream: str, index: int) -> str:
    """The name of a child stream's `index`th chunk document."""
    return f"{stream}:{index}"


def _associated(name: str) -> bytes:
    return b"hub-chronology-v1\x1f" + name.encode()


def _scope(name: str) -> str:
    # Household documents name children of several streams: the index key seals them.
    # A child's head (`<stream>`) and chunks (`<stream>:<n>`) use the child's own key.
    return "index" if name.startswith("household:") else f"child:{name.split(':')[0]}"


@dataclass(frozen=True, eq=False)
class _Chunk:
    sealed: bytes
    entries: tuple[ChronologyEntry, ...]


class ChronologyDocuments:
    """Seals and opens the projection's documents and reads children's chronologies from them."""

    def __init__(
        self, views: ChronologyViewStore, keyring: Keyring, *, cache_entries: int = 50_000
    ) -> None:
        self._views = views
        self._keyring = keyring
        # Opened, validated chunks by name, each with the exact sealed bytes it came from, and
        # merged snapshots by child stream with the chunks they were merged from (both LRU).
        self._cache_lock = threading.Lock()
        self._cache_entries = cache_entries
        self._cached_entries = 0
        self._chunks: OrderedDict[str, _Chunk] = OrderedDict()
        self._snapshots: OrderedDict[str, tuple[tuple[_Chunk, ...], ChronologySnapshot]] = (
            OrderedDict()
        )

    def open(self, name: str, sealed: bytes) -> dict[str, Any]:
        plain = open_sealed(self._keyring, _scope(name), sealed, _associated(name))
        try:
            document: dict[str, Any] = orjson.loads(plain)
        except orjson.JSONDecodeError:  # written by the standard library (NaN, big integers)
            document = json.loads(plain)
        return document

    def seal(self, name: str, document: dict[str, Any]) -> bytes:
        try:
            plain = orjson.dumps(document)
        except TypeError:  # e.g. an integer beyond 64 bits: the standard library writes it
            plain = json.dumps(document, separators=(",", ":")).encode()
        return seal(self._keyring, _scope(name), plain, _associated(name))

    def head(self, stream: str) -> dict[str, Any] | None:
        sealed = self._views.get_many([stream]).get(stream)
        return None if sealed is None else self.open(stream, sealed)

    def stream_entries(self, stream: str, head: dict[str, Any]) -> list[ChronologyEntry]:
        return [e for chunk in self._stream_chunks(stream, head) for e in chunk.entries]

    def snapshot(self, stream: UUID) -> ChronologySnapshot:
        """The merged chronology of a child stream and the streams linked to it, as a snapshot
        that stays the same object while the child's documents are unchanged."""
        own = stream.hex
        try:
            head = self.head(own)
            if head is None:
                return EMPTY
            chunks = self._stream_chunks(own, head)
            linked = [s for s, state in head["links"].items() if state == "linked"]
            for other, other_sealed in self._views.get_many(linked).items():
                chunks += self._stream_chunks(other, self.open(other, other_sealed))
        except DataKeyErasedError:
            self.drop_cached(own)
            raise
        key = tuple(chunks)
        with self._cache_lock:
            cached = self._snapshots.get(own)
            if (
                cached is not None
                and len(cached[0]) == len(key)
                and all(a is b for a, b in zip(cached[0], key, strict=True))
            ):
                self._snapshots.move_to_end(own)
                return cached[1]
        snapshot = ChronologySnapshot(
            tuple(merge_chronology(e for chunk in chunks for e in chunk.entries))
        )
        with self._cache_lock:
            self._snapshots[own] = (key, snapshot)
            self._snapshots.move_to_end(own)
            while len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return snapshot

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._chunks.clear()
            self._snapshots.clear()
            self._cached_entries = 0

    def drop_cached(self, stream: str) -> None:
        with self._cache_lock:
            self._snapshots.pop(stream, None)
            for name in [n for n in self._chunks if n.split(":")[0] == stream]:
                self._cached_entries -= len(self._chunks.pop(name).entries)

    def _cached_chunk(self, name: str, sealed: bytes) -> _Chunk | None:
        with self._cache_lock:
            chunk = self._chunks.get(name)
            if chunk is None or chunk.sealed != sealed:
                return None
            self._chunks.move_to_end(name)
        # The key must still be held (raises DataKeyErasedError as opening would).
        self._keyring.for_decryption(_scope(name), sealed[1 : 1 + KEY_ID_LENGTH])
        return chunk

    def _remember_chunk(self, name: str, chunk: _Chunk) -> None:
        with self._cache_lock:
            previous = self._chunks.pop(name, None)
            if previous is not None:
                self._cached_entries -= len(previous.entries)
            self._chunks[name] = chunk
            self._cached_entries += len(chunk.entries)
            while self._cached_entries > self._cache_entries and len(self._chunks) > 1:
                _, evicted = self._chunks.popitem(last=False)
                self._cached_entries -= len(evicted.entries)

    def _stream_chunks(self, stream: str, head: dict[str, Any]) -> list[_Chunk]:
        names = [chunk_name(stream, i) for i in range(head["chunks"])]
        sealed = self._views.get_many(names)
        chunks = []
        for name in names:
            blob = sealed[name]
            chunk = self._cached_chunk(name, blob)
            if chunk is None:
                chunk = _Chunk(
                    blob,
                    tuple(
                        ChronologyEntry(
                            event=CanonicalEvent.model_validate(body),
                            received_at=datetime.fromisoformat(received_at),
                            stream=stream,
                            version=version,
                        )
                        for version, received_at, body in self.open(name, blob)["entries"]
                    ),
                )
                self._remember_chunk(name, chunk)
            chunks.append(chunk)
        return chunks
