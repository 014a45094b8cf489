"""The keyring: finds or creates the data key for a scope (one per child stream, one each for
the hub's indexes, quarantine, ledger and audit), unwrapping through the KEK provider.

Unwrapped keys are cached (bounded, heavy-tailed access: a few children are hot) for at most
`cache_seconds`, so erasing a key in one process takes effect in every other process within
that time; the erasing process evicts it at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.adapters.kek import KekProvider
from hub.adapters.key_stores import DataKeyStore, WrappedDataKey

DATA_KEY_LENGTH = 32
KEY_ID_LENGTH = 16


class DataKeyMissingError(LookupError):
    """A data key is not in the key store."""


class DataKeyErasedError(DataKeyMissingError):
    """The data key was erased (crypto-shredded): what it sealed is gone for good."""


@dataclass(frozen=True)
class DataKey:
    key_id: bytes
    cipher: AESGCM
    loaded_at: float


class Keyring:
    def __init__(
        self,
        store: DataKeyStore,
        keks: KekProvider,
        cache_size: int = 20_000,
        cache_seconds: float = 300.0,
    ) -> None:
        self._store = store
        self._keks = keks
        self._cache: OrderedDict[str, DataKey] = OrderedDict()
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()

    @property
    def keks(self) -> KekProvider:
        return self._keks

    def _remember(self, scope: str, key: DataKey) -> DataKey:
        with self._lock:
            self._cache[scope] = key
            self._cache.move_to_end(scope)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return key

    def _cached(self, scope: str) -> DataKey | None:
        # Called per sealed row (ingest's hot path), so the hit path takes no lock: single
        # OrderedDict operations are atomic, and a key evicted meanwhile is simply a miss.
        key = self._cache.get(scope)
        if key is None:
            return None
        if time.monotonic() - key.loaded_at > self._cache_seconds:
            with self._lock:
                if self._cache.get(scope) is key:
                    del self._cache[scope]
            return None
        try:
            self._cache.move_to_end(scope)
        except KeyError:
            return key  # evicted or erased by another thread just now; this caller holds it
        return key

    def _unwrap(self, stored: WrappedDataKey) -> DataKey:
        plain = self._keks.unwrap(stored.kek_id, stored.wrapped)
        return self._remember(stored.scope, DataKey(stored.key_id, AESGCM(plain), time.monotonic()))

    def ensure(self, scopes: Iterable[str]) -> dict[str, DataKey]:
        """Make sure each scope has a data key, creating the missing ones in one transaction;
        returns the keys it had to load or create."""
        missing = [scope for scope in scopes if self._cached(scope) is None]
        if not missing:
            return {}
        stored = self._store.get_many(missing)
        new = []
        for scope in missing:
            if scope not in stored:
                kek_id, wrapped = self._keks.wrap(secrets.token_bytes(DATA_KEY_LENGTH))
                new.append(
                    WrappedDataKey(scope, secrets.token_bytes(KEY_ID_LENGTH), kek_id, wrapped)
                )
        if new:
            stored.update(self._store.add_if_absent(new))
        return {scope: self._unwrap(key) for scope, key in stored.items()}

    def for_encryption(self, scope: str) -> DataKey:
        return self._cached(scope) or self.ensure([scope])[scope]

    def for_decryption(self, scope: str, key_id: bytes) -> DataKey:
        key = self._cached(scope)
        if key is None or key.key_id != key_id:
            stored = self._store.get_many([scope]).get(scope)
            key = self._unwrap(stored) if stored is not None else None
        if key is None or key.key_id != key_id:
            if self._store.is_erased(scope, key_id):
                raise DataKeyErasedError("this record was erased (its data key was destroyed)")
            raise DataKeyMissingError(f"no data key for this {scope.split(':')[0]} record")
        return key

    def was_erased(self, scope: str) -> bool:
        return self._store.was_erased(scope)

    def erase(self, scope: str) -> bool:
        """Destroy the scope's data key (crypto-shredding); everything it sealed is gone."""
        with self._lock:
            self._cache.pop(scope, None)
        return self._store.erase(scope)

    def rewrap_all(
        self, kek_id: str, batch: int = 1000, progress: Callable[[int], None] | None = None
    ) -> int:
        """Rewrap every data key not wrapped by `kek_id` under the provider's current KEK, in
        batches of one transaction each, so readers keep working throughout."""
        done = 0
        while True:
            keys = self._store.wrapped_under_other_keks(kek_id, batch)
            if not keys:
                return done
            rewrapped = []
            for key in keys:
                plain = self._keks.unwrap(key.kek_id, key.wrapped)
                new_kek, wrapped = self._keks.wrap(plain)
                if new_kek != kek_id:
                    raise RuntimeError("the current KEK changed during rotation; run it again")
                rewrapped.append(WrappedDataKey(key.scope, key.key_id, new_kek, wrapped))
            self._store.rewrap(rewrapped)
            done += len(rewrapped)
            if progress is not None:
                progress(done)
