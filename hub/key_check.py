"""Do this hub's keys belong with this store? Checked at every start, before anything is read
or written.

A data directory with fresh keys pointed at a PostgreSQL schema holding another hub's data
would ingest into it under other pseudonyms (the same child in two streams) and later fail to
write the audit ledger (its data keys are wrapped by another KEK). So the key store holds one
check: a data key under scope `hub:key-check`, wrapped by the KEK (unwrapping it proves the
KEK), whose key id is a keyed digest under the pseudonym key (proving the pseudonym key). A
store that has events but no check yet (written before this) is checked against its own rows
once: its first rows must open with these keys, and a child entry's stream must be the
pseudonym of the child it names; then the check is written.
"""

from __future__ import annotations

import secrets

from hub.adapters.data_keys import DATA_KEY_LENGTH, DataKeyErasedError, Keyring
from hub.adapters.event_store import HubStore
from hub.adapters.key_stores import DataKeyStore, WrappedDataKey
from hub.adapters.pseudonyms import Pseudonymiser
from hub.adapters.secrets import SecretConfigurationError
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry

CHECK_SCOPE = "hub:key-check"
_ROWS_CHECKED = 200


class KeysDoNotMatchStoreError(SecretConfigurationError):
    """The keys this hub was given are not the ones the store's data was sealed with."""


def check_keys(
    store: HubStore,
    key_store: DataKeyStore,
    keyring: Keyring,
    pseudonyms: Pseudonymiser,
    where: str,
) -> None:
    """Refuse to start (KeysDoNotMatchStoreError) unless these keys are the store's; `where`
    names the store and the keys for the message."""
    fingerprint = pseudonyms.source_stream("hub-key-check", "store").bytes
    stored = key_store.get_many([CHECK_SCOPE]).get(CHECK_SCOPE)
    if stored is None:
        if store.recorder.max_notification_id():
            _check_rows(store, pseudonyms, where)
        kek_id, wrapped = keyring.keks.wrap(secrets.token_bytes(DATA_KEY_LENGTH))
        added = key_store.add_if_absent([WrappedDataKey(CHECK_SCOPE, fingerprint, kek_id, wrapped)])
        stored = added.get(CHECK_SCOPE) or key_store.get_many([CHECK_SCOPE])[CHECK_SCOPE]
    if stored.key_id != fingerprint:
        raise _mismatch("pseudonym key", where)
    try:
        keyring.keks.unwrap(stored.kek_id, stored.wrapped)
    except Exception as error:
        raise _mismatch("key-encryption key (KEK)", where) from error


def _check_rows(store: HubStore, pseudonyms: Pseudonymiser, where: str) -> None:
    """A store from before the check: its first rows must open with these keys, and a child
    entry's stream must be the pseudonym of the child it names."""
    for notification in store.recorder.select_notifications(start=1, limit=_ROWS_CHECKED):
        try:
            record = store.mapper.to_domain_event(notification)
        except DataKeyErasedError:
            continue  # an erased child's row opens for nobody
        except Exception as error:
            raise _mismatch("key-encryption key (KEK)", where) from error
        if isinstance(record, ChildRecordEntry) and record.entry_type == "agency-event":
            child = ChildRef.model_validate(record.body["child"])
            if pseudonyms.child_stream(child) != record.originator_id:
                raise _mismatch("pseudonym key", where)
            return


def _mismatch(which: str, where: str) -> KeysDoNotMatchStoreError:
    return KeysDoNotMatchStoreError(
        f"this hub's {which} is not the one {where} was sealed with: it holds another hub's "
        "data, or these are new keys. Nothing was read or written. Point the hub at this "
        "store's keys (HUB_KEYS_DIR, HUB_DATA_DIR, HUB_KEK, HUB_PSEUDONYM_KEY), or at an "
        "empty store (HUB_POSTGRES_SCHEMA, HUB_DATA_DIR)"
    )
