"""Envelope encryption of stored events, as a custom `eventsourcing` Mapper.

eventsourcing's own cipher has one global key and no associated data. This mapper seals each
row with the data key of its scope (a child's own key for child entries) using AES-256-GCM,
with associated data binding the row to its stream id, version, topic and key id: a row moved
to another stream, renumbered or relabelled fails to open instead of being misread.

Ciphertext format v1: 0x01 | key id (16 bytes) | nonce (12 bytes) | ciphertext and GCM tag.
"""

from __future__ import annotations

import os
from typing import cast
from uuid import UUID

from cryptography.exceptions import InvalidTag
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from hub.adapters.data_keys import KEY_ID_LENGTH, Keyring
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


def scope_of(topic: str, originator_id: UUID | str) -> str:
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and issubclass(cls, HubRecord)):
        raise SealedRowError(f"topic {topic!r} is not a hub record class")
    scope = cls.key_scope
    return f"child:{UUID(str(originator_id)).hex}" if scope == "child" else scope


def seal(keyring: Keyring, scope: str, plaintext: bytes, associated: bytes) -> bytes:
    """Seal bytes for a key scope in format v1; the key id is bound into the associated data."""
    key = keyring.for_encryption(scope)
    nonce = os.urandom(_NONCE_LENGTH)
    sealed = key.cipher.encrypt(nonce, plaintext, associated + b"\x1f" + key.key_id)
    return bytes([FORMAT_VERSION]) + key.key_id + nonce + sealed


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


class EnvelopeMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keyring: Keyring) -> None:
        super().__init__(transcoder=transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        plain = super().to_stored_event(domain_event)
        scope = cast(HubRecord, domain_event).encryption_scope()
        return StoredEvent(
            originator_id=plain.originator_id,
            originator_version=plain.originator_version,
            topic=plain.topic,
            state=seal(self.keyring, scope, plain.state, _associated_data(plain)),
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
