"""A child's chronology documents as the projection stores them: sealing, opening, and reading
them back as merged chronologies, with a cache of what was opened.

A child stream has a small head document (its chunk count, the identity links recorded in it
and when its latest event occurred) and its agency events as recorded (with received-at and
version) in sealed chunks; household documents name the children an agency's household
reference covers. Children's documents are sealed with the child's data key, household
documents (which name several children) with the index key. `hub.read_models.
chronology_projection` writes them by folding the log; this module is everything that reads
them.

Opening a chunk (decrypt, JSON, building 100 canonical events) is most of the cost of reading
a chronology, and a busy child's chunks rarely change: only the last one takes new entries. So
opened chunks are kept, each with the exact sealed bytes it was opened from, and reused only
while the stored document is byte-for-byte the same. A reused chunk is still checked against
the keyring (its data key must still be held), so an erased child's cached entries are never
served: they fail as a decryption would.

The events in a chunk are not validated again when it is opened (`stored_event`): each was
validated at ingest and recorded as the validated model's own JSON, and the chunk is sealed
(authenticated) by the projection with the child's key, so what is opened is what the hub
wrote. Validating 1,000 events again was most of the time of reading a chronology whose chunks
were not cached. Anything not in that shape (a field the reader does not know) is validated.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import orjson

from hub.adapters.chronology_views import ChronologyViewStore
from hub.adapters.data_keys import KEY_ID_LENGTH, DataKeyErasedError, Keyring
from hub.adapters.envelope import open_sealed, seal
from hub.domain.access import Role
from hub.domain.canonical_event import Agency, CanonicalEvent, ChildRef, Supersedes, Withholding
from hub.domain.chronology import ChronologyEntry, Origin, merge_chronology
from hub.domain.taxonomy import AgencyType, HarmCategory
from hub.read_models.chronology_snapshot import ChronologySnapshot

_SNAPSHOTS = 64  # merged chronologies kept (the chunks they hold are bounded separately)

EMPTY = ChronologySnapshot(())


_Model = TypeVar("_Model")
# The canonical event's fields in declaration order (a test checks them against the model).
EVENT_FIELDS = (
    "schema_version",
    "event_id",
    "revision",
    "agency",
    "child",
    "kind",
    "categories",
    "occurred_at",
    "recorded_at",
    "summary",
    "details",
    "sensitivity",
    "lawful_basis",
    "withheld_from",
    "shielded_fields",
    "supersedes",
    "household_ref",
)
_EVENT_KEYS = frozenset(EVENT_FIELDS)
_WITHHOLDING_KEYS = frozenset(("agency_type", "role", "reason", "decided_by", "review_by"))
_object_setattr = object.__setattr__
# Agencies and children recur in every chunk of a chronology: each is built once and shared
# (the models are frozen). Bounded: cleared when full.
_SHARED_PARTS = 10_000
_CATEGORIES = {category.value: category for category in HarmCategory}
_agencies: dict[tuple[str, str], Agency] = {}
_children: dict[tuple[str | None, str | None], ChildRef] = {}


def _built(cls: type[_Model], values: dict[str, Any], given: set[str]) -> _Model:
    """A model instance holding `values` as they are (what `model_construct` does, without
    its per-field work): for values already validated, in the model's own types."""
    model = cls.__new__(cls)
    _object_setattr(model, "__dict__", values)
    _object_setattr(model, "__pydantic_fields_set__", given)
    _object_setattr(model, "__pydantic_extra__", None)
    _object_setattr(model, "__pydantic_private__", None)
    return model


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("not an aware datetime")
    return value


def _withholding(body: dict[str, Any]) -> Withholding:
    if not body.keys() <= _WITHHOLDING_KEYS:
        raise ValueError("not a withholding the reader knows")
    agency_type, role = body.get("agency_type"), body.get("role")
    values = {
        "agency_type": None if agency_type is None else AgencyType(agency_type),
        "role": None if role is None else Role(role),
        "reason": body["reason"],
        "decided_by": body["decided_by"],
        "review_by": date.fromisoformat(body["review_by"]),
    }
    return _built(Withholding, values, set(body))


def _agency(agency_id: str, agency_type: str) -> Agency:
    found = _agencies.get((agency_id, agency_type))
    if found is None:
        if len(_agencies) >= _SHARED_PARTS:
            _agencies.clear()
        values = {"id": agency_id, "type": AgencyType(agency_type)}
        found = _agencies[(agency_id, agency_type)] = _built(Agency, values, {"id", "type"})
    return found


def _child(nhs_number: str | None, provisional_id: str | None) -> ChildRef:
    found = _children.get((nhs_number, provisional_id))
    if found is None:
        if (nhs_number is None) == (provisional_id is None):
            raise ValueError("a child names exactly one identifier")
        if len(_children) >= _SHARED_PARTS:
            _children.clear()
        values = {"nhs_number": nhs_number, "provisional_id": provisional_id}
        given = {"nhs_number"} if provisional_id is None else {"provisional_id"}
        found = _children[(nhs_number, provisional_id)] = _built(ChildRef, values, given)
    return found


def stored_event(body: dict[str, Any]) -> CanonicalEvent:
    """A canonical event as the projection recorded it: the validated event's JSON (without
    its empty optional fields), sealed with the child's key. It is built as it was validated,
    without validating it again; a body not in that shape is validated (and so refused if it
    is not a canonical event)."""
    try:
        if not body.keys() <= _EVENT_KEYS or body["schema_version"] != 1:
            raise ValueError("not an event of the shape the reader knows")
        agency, child = body["agency"], body["child"]
        if agency.keys() != {"id", "type"} or not child.keys() <= {"nhs_number", "provisional_id"}:
            raise ValueError("not an agency or child the reader knows")
        supersedes = body.get("supersedes")
        if supersedes is not None and not supersedes.keys() <= {"event_id", "revision"}:
            raise ValueError("not a supersedes the reader knows")
        values = {
            "schema_version": 1,
            "event_id": body["event_id"],
            "revision": body["revision"],
            "agency": _agency(agency["id"], agency["type"]),
            "child": _child(child.get("nhs_number"), child.get("provisional_id")),
            "kind": body["kind"],
            "categories": [_CATEGORIES[c] for c in body.get("categories", ())],
            "occurred_at": _aware(body["occurred_at"]),
            "recorded_at": _aware(body["recorded_at"]),
            "summary": body["summary"],
            "details": body.get("details", {}),
            "sensitivity": body["sensitivity"],
            "lawful_basis": body["lawful_basis"],
            "withheld_from": [_withholding(w) for w in body.get("withheld_from", ())],
            "shielded_fields": list(body.get("shielded_fields", ())),
            "supersedes": None
            if supersedes is None
            else _built(
                Supersedes,
                {"event_id": supersedes["event_id"], "revision": supersedes.get("revision")},
                set(supersedes),
            ),
            "household_ref": body.get("household_ref"),
        }
    except (KeyError, ValueError, TypeError, AttributeError):
        return CanonicalEvent.model_validate(body)
    return _built(CanonicalEvent, values, set(body))


def stored_origin(provenance: dict[str, Any]) -> Origin:
    """Where an entry received from a partner hub came from, as `hub.federation_ingest`
    recorded it."""
    return Origin(
        hub=provenance["hub"],
        partnership=provenance["partnership"],
        contact=provenance["contact"],
        received_from_hub_at=datetime.fromisoformat(provenance["received_from_hub_at"]),
        sender_ref=provenance.get("sender_ref", ""),
        transfer_id=provenance.get("transfer_id", ""),
    )


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
                            event=stored_event(body),
                            received_at=datetime.fromisoformat(received_at),
                            stream=stream,
                            version=version,
                            origin=stored_origin(provenance[0]) if provenance else None,
                        )
                        for version, received_at, body, *provenance in self.open(name, blob)[
                            "entries"
                        ]
                    ),
                )
                self._remember_chunk(name, chunk)
            chunks.append(chunk)
        return chunks
