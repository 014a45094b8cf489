"""Per-scope data keys (one per child stream, one each for the hub's own indexes), stored
wrapped by a KEK in a small mutable key store kept apart from the immutable event log.

Keeping keys out of the log is what makes crypto-shredding possible: destroying a child's row
here makes their events unreadable while the log itself stays intact and verifiable.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.adapters.kek import KekProvider

DATA_KEY_LENGTH = 32
_CHUNK = 500
KEY_ID_LENGTH = 16


class DataKeyMissingError(LookupError):
    """A data key is not in the key store (never created, or destroyed by shredding)."""


@dataclass(frozen=True)
class WrappedDataKey:
    scope: str
    key_id: bytes
    kek_id: str
    wrapped: bytes


class DataKeyStore(Protocol):
    def get_many(self, scopes: Sequence[str]) -> dict[str, WrappedDataKey]: ...

    def add_if_absent(self, keys: Sequence[WrappedDataKey]) -> dict[str, WrappedDataKey]:
        """Store each key unless its scope already has one (in one transaction); return the
        keys that are stored for those scopes, which may be another writer's."""
        ...

    def count(self) -> int: ...


class SqliteDataKeyStore:
    """The embedded default: `keys.sqlite` beside the event store (backed up separately)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        with self._connection() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS data_keys ("
                "scope TEXT PRIMARY KEY, key_id BLOB NOT NULL, "
                "kek_id TEXT NOT NULL, wrapped BLOB NOT NULL, "
                "created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
                ") WITHOUT ROWID"
            )

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def get_many(self, scopes: Sequence[str]) -> dict[str, WrappedDataKey]:
        found: dict[str, WrappedDataKey] = {}
        db = self._connection()
        for start in range(0, len(scopes), _CHUNK):
            chunk = list(scopes[start : start + _CHUNK])
            rows = db.execute(
                "SELECT scope, key_id, kek_id, wrapped FROM data_keys "  # noqa: S608 (placeholders)
                f"WHERE scope IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({r[0]: WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows})
        return found

    def add_if_absent(self, keys: Sequence[WrappedDataKey]) -> dict[str, WrappedDataKey]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO data_keys (scope, key_id, kek_id, wrapped) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope) DO NOTHING",
                [(k.scope, k.key_id, k.kek_id, k.wrapped) for k in keys],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return self.get_many([k.scope for k in keys])

    def count(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM data_keys").fetchone()[0])


class PostgresDataKeyStore:
    """Deployment: a `hub_data_keys` table in the hub's PostgreSQL schema."""

    def __init__(self, conninfo: str, schema: str = "public") -> None:
        import psycopg
        from psycopg import sql

        self._psycopg = psycopg
        self._conninfo = conninfo
        self._local = threading.local()
        self._table = sql.Identifier(schema, "hub_data_keys")
        self._sql = sql
        self._execute(
            "CREATE TABLE IF NOT EXISTS {} (scope text PRIMARY KEY, key_id bytea NOT NULL, "
            "kek_id text NOT NULL, wrapped bytea NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )

    def _execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        db = getattr(self._local, "db", None)
        if db is None or db.closed:
            db = self._psycopg.connect(self._conninfo, autocommit=True)
            self._local.db = db
        with db.cursor() as cursor:
            cursor.execute(self._sql.SQL(statement).format(self._table), params)
            return list(cursor.fetchall()) if cursor.description else []

    def get_many(self, scopes: Sequence[str]) -> dict[str, WrappedDataKey]:
        rows = self._execute(
            "SELECT scope, key_id, kek_id, wrapped FROM {} WHERE scope = ANY(%s)", (list(scopes),)
        )
        return {r[0]: WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows}

    def add_if_absent(self, keys: Sequence[WrappedDataKey]) -> dict[str, WrappedDataKey]:
        self._execute(
            "INSERT INTO {} (scope, key_id, kek_id, wrapped) "
            "SELECT * FROM unnest(%s::text[], %s::bytea[], %s::text[], %s::bytea[]) "
            "ON CONFLICT (scope) DO NOTHING",
            (
                [k.scope for k in keys],
                [k.key_id for k in keys],
                [k.kek_id for k in keys],
                [k.wrapped for k in keys],
            ),
        )
        return self.get_many([k.scope for k in keys])

    def count(self) -> int:
        return int(self._execute("SELECT count(*) FROM {}")[0][0])


@dataclass(frozen=True)
class DataKey:
    key_id: bytes
    cipher: AESGCM


class Keyring:
    """Finds or creates the data key for a scope, unwrapping through the KEK provider and
    caching a bounded number of unwrapped keys (heavy-tailed access: a few children are hot)."""

    def __init__(self, store: DataKeyStore, keks: KekProvider, cache_size: int = 20_000) -> None:
        self._store = store
        self._keks = keks
        self._cache: OrderedDict[str, DataKey] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _remember(self, scope: str, key: DataKey) -> DataKey:
        with self._lock:
            self._cache[scope] = key
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return key

    def _cached(self, scope: str) -> DataKey | None:
        with self._lock:
            key = self._cache.get(scope)
            if key is not None:
                self._cache.move_to_end(scope)
            return key

    def _unwrap(self, stored: WrappedDataKey) -> DataKey:
        plain = self._keks.unwrap(stored.kek_id, stored.wrapped)
        return self._remember(stored.scope, DataKey(stored.key_id, AESGCM(plain)))

    def ensure(self, scopes: Iterable[str]) -> None:
        """Make sure each scope has a data key, creating the missing ones in one transaction."""
        missing = [scope for scope in scopes if self._cached(scope) is None]
        if not missing:
            return
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
        for key in stored.values():
            self._unwrap(key)

    def for_encryption(self, scope: str) -> DataKey:
        cached = self._cached(scope)
        if cached is not None:
            return cached
        self.ensure([scope])
        key = self._cached(scope)
        assert key is not None
        return key

    def for_decryption(self, scope: str, key_id: bytes) -> DataKey:
        key = self._cached(scope)
        if key is None:
            stored = self._store.get_many([scope]).get(scope)
            if stored is None:
                raise DataKeyMissingError(f"no data key for {scope.split(':')[0]} scope (erased?)")
            key = self._unwrap(stored)
        if key.key_id != key_id:
            raise DataKeyMissingError("the data key this row was sealed with is no longer held")
        return key
