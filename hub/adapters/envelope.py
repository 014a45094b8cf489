"""Envelope encryption of stored events, as a custom `eventsourcing` Mapper.

eventsourcing's own cipher has one global key and no associated data. This mapper seals each
row with the data key of its scope (a child's own key for child entries) using AES-256-GCM,
with associated data binding the row to its stream id, version, topic and key id: a row moved
to another stream, renumbered or relabelled fails to open instead of being misread.

Ciphertext format v1: 0x01 | key id (16 bytes) | nonce (12 bytes) | ciphertext and GCM tag.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from hub.adapters.data_keys import KEY_ID_LENGTH, DataKey, Keyring
from hub.domain.records import HubRecord

FORMAT_VERSION = 1
_NONCE_LENGTH = 12
_HEADER_LENGTH = 1 + KEY_ID_LENGTH + _NONCE_LENGTH


class SealedRowError(ValueError):
    """A stored row cannot be opened: tampered, moved, or sealed with a key no longer held."""


def _associated_data(stored: StoredEvent) -> bytes:
    return b"\x1f".join(
        (
            b"hub-row-v1",
            str(stored.originator_id).encode(),
            str(stored.originator_version).encode(),
            stored.topic.encode(),
        )
    )


@functools.cache
def _key_scope(topic: str) -> str:
    """The key scope of a stored topic's record class (resolved once per topic)."""
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and issubclass(cls, HubRecord)):
        raise SealedRowError(f"topic {topic!r} is not a hub record class")
    return cls.key_scope


def scope_of(topic: str, originator_id: UUID | str) -> str:
    scope = _key_scope(topic)
    if scope != "child":
        return scope
    stream = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
    return f"child:{stream.hex}"


def seal(keyring: Keyring, scope: str, plaintext: bytes, associated: bytes) -> bytes:
    """Seal bytes for a key scope in format v1; the key id is bound into the associated data."""
    return _seal_with(
        keyring.for_encryption(scope), os.urandom(_NONCE_LENGTH), plaintext, associated
    )


_FORMAT_BYTE = bytes([FORMAT_VERSION])


def _seal_with(key: DataKey, nonce: bytes, plaintext: bytes, associated: bytes) -> bytes:
    sealed = key.cipher.encrypt(nonce, plaintext, associated + b"\x1f" + key.key_id)
    return _FORMAT_BYTE + key.key_id + nonce + sealed


def open_sealed(keyring: Keyring, scope: str, sealed: bytes, associated: bytes) -> bytes:
    """Open bytes sealed by `seal` (raises SealedRowError or DataKeyMissingError)."""
    if len(sealed) < _HEADER_LENGTH + 16 or sealed[0] != FORMAT_VERSION:
        raise SealedRowError("sealed data is not in format v1")
    key_id = sealed[1 : 1 + KEY_ID_LENGTH]
    nonce = sealed[1 + KEY_ID_LENGTH : _HEADER_LENGTH]
    key = keyring.for_decryption(scope, key_id)
    try:
        return key.cipher.decrypt(nonce, sealed[_HEADER_LENGTH:], associated + b"\x1f" + key_id)
    except InvalidTag as error:
        raise SealedRowError(
            "sealed data failed authentication: changed, or moved from another stream or version"
        ) from error


_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_RECORDS_MODULE = HubRecord.__module__


class _NotOrjsonSafeError(TypeError):
    """A value orjson would not write as the eventsourcing transcoder does."""


class _Wrapper:
    """orjson's `default`: wraps datetimes and decimals (top-level or nested) exactly as the
    eventsourcing JSONTranscoder does ({"_type_": ..., "_data_": ...}) and refuses anything
    else. A batch's records share one timestamp, so the last datetime's ISO form is kept."""

    def __init__(self) -> None:
        # One tuple, assigned at once: threads sharing the mapper never see a mismatched pair.
        self._last: tuple[datetime | None, dict[str, str]] = (None, {})

    def __call__(self, value: object) -> object:
        if type(value) is datetime:
            last, wrapped = self._last
            if value is not last:
                wrapped = {"_type_": "datetime_iso", "_data_": value.isoformat()}
                self._last = (value, wrapped)
            return wrapped
        if type(value) is Decimal:
            return {"_type_": "decimal_str", "_data_": str(value)}
        raise _NotOrjsonSafeError(type(value).__name__)


class EnvelopeMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keyring: Keyring) -> None:
        super().__init__(transcoder=transcoder)
        self.keyring = keyring
        self._topics: dict[type, str] = {}
        self._wrap = _Wrapper()
        self._fast = isinstance(transcoder, JSONTranscoder) and {"datetime_iso", "decimal_str"} <= (
            transcoder.names.keys()
        )

    def _encode_state(self, domain_event: DomainEventProtocol[UUID]) -> bytes:
        """The transcoder's JSON for a hub record, written by orjson (ingest's hot path).

        The output decodes with the same transcoder as before (datetimes and decimals get its
        `{"_type_", "_data_"}` wrapping, wherever they are). orjson writes UUIDs natively
        rather than wrapped, so only the record classes of hub.domain.records, none of which
        holds a UUID (streams are named by hex strings), take this path; anything else orjson
        cannot write as the transcoder would (a str/int/dict subclass, a dataclass, an integer
        beyond 64 bits) falls back to the transcoder itself. One difference: a float NaN or
        infinity (not JSON) is written as null, as pydantic writes it in the event bodies.
        """
        state = dict(vars(domain_event))
        del state["originator_id"], state["originator_version"]
        if self._fast and type(domain_event).__module__ == _RECORDS_MODULE:
            try:
                return orjson.dumps(state, default=self._wrap, option=_ORJSON_OPTIONS)
            except TypeError:  # orjson.JSONEncodeError is a TypeError
                pass
        return self.transcoder.encode(state)

    def to_stored_events(self, records: Sequence[HubRecord]) -> list[StoredEvent]:
        """`to_stored_event` for a batch (ingest's hot path): each scope's data key is looked up
        once, and the nonces (12 random bytes per row, from the OS as before) in one call."""
        keys: dict[str, DataKey] = {}
        nonces = os.urandom(_NONCE_LENGTH * len(records))
        rows = []
        for index, record in enumerate(records):
            cls = type(record)
            if getattr(cls, "class_version", 1) > 1:
                rows.append(self.to_stored_event(record))
                continue
            topic = self._topics.get(cls) or self._topics.setdefault(cls, get_topic(cls))
            originator_id, version = record.originator_id, record.originator_version
            scope = record.encryption_scope()
            key = keys.get(scope)
            if key is None:
                key = keys[scope] = self.keyring.for_encryption(scope)
            nonce = nonces[index * _NONCE_LENGTH : (index + 1) * _NONCE_LENGTH]
            associated = f"hub-row-v1\x1f{originator_id}\x1f{version}\x1f{topic}".encode()
            state = _seal_with(key, nonce, self._encode_state(record), associated)
            rows.append(StoredEvent(originator_id, version, topic, state))
        return rows

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        cls = type(domain_event)
        if getattr(cls, "class_version", 1) > 1:  # not used by hub records; keep the contract
            plain = super().to_stored_event(domain_event)
            originator_id, version, topic, state = (
                plain.originator_id,
                plain.originator_version,
                plain.topic,
                plain.state,
            )
        else:
            topic = self._topics.get(cls) or self._topics.setdefault(cls, get_topic(cls))
            originator_id, version = domain_event.originator_id, domain_event.originator_version
            state = self._encode_state(domain_event)
        scope = cast(HubRecord, domain_event).encryption_scope()
        associated = f"hub-row-v1\x1f{originator_id}\x1f{version}\x1f{topic}".encode()
        return StoredEvent(
            originator_id=originator_id,
            originator_version=version,
            topic=topic,
            state=seal(self.keyring, scope, state, associated),
        )

    def open_state(self, stored: StoredEvent) -> bytes:
        """Decrypt a stored row's state (raises SealedRowError or DataKeyMissingError)."""
        scope = scope_of(stored.topic, stored.originator_id)
        return open_sealed(self.keyring, scope, stored.state, _associated_data(stored))

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        opened = StoredEvent(
            originator_id=stored_event.originator_id,
            originator_version=stored_event.originator_version,
            topic=stored_event.topic,
            state=self.open_state(stored_event),
        )
        return super().to_domain_event(opened)
