from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, StoredEvent, UUIDAsHex
from eventsourcing.utils import get_topic

from hub.adapters.data_keys import DataKeyMissingError, Keyring
from hub.adapters.envelope import FORMAT_VERSION, EnvelopeMapper, SealedRowError
from hub.adapters.kek import FileKekProvider, KekUnavailableError
from hub.adapters.key_stores import SqliteDataKeyStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry, IngestKeyClaimed
from tests.factories import VALID_NHS_NUMBER


@pytest.fixture
def mapper(tmp_path: Path) -> EnvelopeMapper:
    keyring = Keyring(
        SqliteDataKeyStore(tmp_path / "keys.sqlite"), FileKekProvider(tmp_path / "kek")
    )
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return EnvelopeMapper(transcoder, keyring)


def entry(
    stream: UUID, version: int = 1, summary: str = "Referral from school"
) -> ChildRecordEntry:
    return ChildRecordEntry(
        originator_id=stream,
        originator_version=version,
        timestamp=datetime(2024, 3, 4, tzinfo=UTC),
        entry_type="agency-event",
        body={"summary": summary},
        source="inbox:x/y.jsonl",
        position=version,
    )


def test_round_trip_and_no_clear_text(mapper: EnvelopeMapper) -> None:
    stream = uuid4()
    stored = mapper.to_stored_event(entry(stream))
    assert stored.state[0] == FORMAT_VERSION
    assert b"Referral" not in stored.state and b"agency-event" not in stored.state
    restored = mapper.to_domain_event(stored)
    assert isinstance(restored, ChildRecordEntry)
    assert restored.body == {"summary": "Referral from school"}


def test_each_child_has_its_own_data_key(mapper: EnvelopeMapper) -> None:
    first = mapper.to_stored_event(entry(uuid4()))
    second = mapper.to_stored_event(entry(uuid4()))
    assert first.state[1:17] != second.state[1:17]  # different key ids
    same_child = uuid4()
    a, b = (
        mapper.to_stored_event(entry(same_child, 1)),
        mapper.to_stored_event(entry(same_child, 2)),
    )
    assert a.state[1:17] == b.state[1:17]


def test_row_renumbered_fails_to_open(mapper: EnvelopeMapper) -> None:
    stream = uuid4()
    stored = mapper.to_stored_event(entry(stream, 1))
    with pytest.raises(SealedRowError, match="moved from another stream or version"):
        mapper.to_domain_event(StoredEvent(stream, 2, stored.topic, stored.state))


def test_row_relabelled_with_another_topic_fails_to_open(mapper: EnvelopeMapper) -> None:
    stream = uuid4()
    stored = mapper.to_stored_event(entry(stream, 1))
    with pytest.raises((SealedRowError, DataKeyMissingError)):
        mapper.to_domain_event(StoredEvent(stream, 1, get_topic(IngestKeyClaimed), stored.state))


def test_row_moved_to_another_child_fails_to_open(mapper: EnvelopeMapper) -> None:
    stored = mapper.to_stored_event(entry(uuid4()))
    other_child = uuid4()
    mapper.to_stored_event(entry(other_child))  # the other child has a key of its own
    with pytest.raises(DataKeyMissingError):
        mapper.to_domain_event(StoredEvent(other_child, 1, stored.topic, stored.state))


def test_changed_byte_fails_authentication(mapper: EnvelopeMapper) -> None:
    stored = mapper.to_stored_event(entry(uuid4()))
    state = bytearray(stored.state)
    state[-1] ^= 0x01
    with pytest.raises(SealedRowError, match="failed authentication"):
        mapper.to_domain_event(StoredEvent(stored.originator_id, 1, stored.topic, bytes(state)))


def test_data_keys_are_stored_wrapped(tmp_path: Path, mapper: EnvelopeMapper) -> None:
    mapper.to_stored_event(entry(uuid4()))
    store = SqliteDataKeyStore(tmp_path / "keys.sqlite")
    assert store.count() == 1


def test_other_kek_cannot_unwrap(tmp_path: Path) -> None:
    store = SqliteDataKeyStore(tmp_path / "keys.sqlite")
    Keyring(store, FileKekProvider(tmp_path / "kek-a")).for_encryption("child:abc")
    stranger = Keyring(store, FileKekProvider(tmp_path / "kek-b"))
    with pytest.raises(KekUnavailableError):
        stranger.for_encryption("child:abc")


def test_pseudonyms_are_keyed_and_stable() -> None:
    key = secrets.token_bytes(32)
    child = ChildRef(nhs_number=VALID_NHS_NUMBER)
    stream = Pseudonymiser(key).child_stream(child)
    assert stream == Pseudonymiser(key).child_stream(ChildRef(nhs_number="943 476 5919"))
    assert stream != Pseudonymiser(secrets.token_bytes(32)).child_stream(child)
    unkeyed = hashlib.sha256(VALID_NHS_NUMBER.encode()).hexdigest()
    assert stream.hex not in unkeyed and VALID_NHS_NUMBER not in str(stream)
    assert Pseudonymiser(key).ingest_key("a\x1fb\x1f1") != stream


def test_erasing_a_key_in_one_process_reaches_another_within_the_cache_time(tmp_path: Path) -> None:
    from hub.adapters.data_keys import DataKeyErasedError

    kek = FileKekProvider(tmp_path / "kek")
    first = Keyring(SqliteDataKeyStore(tmp_path / "keys.sqlite"), kek, cache_seconds=0.0)
    second = Keyring(SqliteDataKeyStore(tmp_path / "keys.sqlite"), kek, cache_seconds=3600)
    key = first.for_encryption("child:abc")
    assert second.for_decryption("child:abc", key.key_id).key_id == key.key_id
    assert second.erase("child:abc") is True
    with pytest.raises(DataKeyErasedError, match="erased"):
        first.for_decryption("child:abc", key.key_id)  # its cache entry has expired
    with pytest.raises(DataKeyErasedError):
        second.for_decryption("child:abc", key.key_id)  # the eraser evicted at once
    assert first.for_encryption("child:abc").key_id != key.key_id  # a new record gets a new key


def test_a_process_follows_a_kek_rotation_made_by_another(tmp_path: Path) -> None:
    """`current` is re-read when the file is replaced (it is cached against its stat)."""
    serving = FileKekProvider(tmp_path / "kek")
    before = serving.wrap(b"k" * 32)[0]
    assert serving.wrap(b"k" * 32)[0] == before  # unchanged file: the cached name
    rotated = FileKekProvider(tmp_path / "kek").rotate()  # another process rotates
    kek_id, wrapped = serving.wrap(b"k" * 32)
    assert kek_id == rotated != before
    assert serving.unwrap(kek_id, wrapped) == b"k" * 32
