"""Where wrapped data keys live: a small mutable store kept apart from the immutable log.

Keeping keys out of the log is what makes crypto-shredding possible: `erase` deletes a scope's
key row and leaves a tombstone (scope, key id, when), so the events it sealed stay in the log,
still verifiable, but can never be opened again, and readers can say "erased" rather than
"missing". A later event for the same scope gets a new key (a new key id).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hub.adapters.sql import PostgresSchema, SqliteFile, Statement

_CHUNK = 500


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

    def erase(self, scope: str) -> bool:
        """Delete the scope's key and leave a tombstone, atomically; False if it had none."""
        ...

    def is_erased(self, scope: str, key_id: bytes) -> bool: ...

    def was_erased(self, scope: str) -> bool:
        """Whether any key of this scope was ever erased."""
        ...

    def wrapped_under_other_keks(self, kek_id: str, limit: int) -> list[WrappedDataKey]:
        """Up to `limit` keys not wrapped by `kek_id` (for KEK rotation)."""
        ...

    def rewrap(self, keys: Sequence[WrappedDataKey]) -> None:
        """Replace the wrapping of these keys (matched by scope and key id) in one transaction."""
        ...

    def count(self) -> int: ...


class SqliteDataKeyStore:
    """The embedded default: `keys.sqlite` beside the event store (backed up separately)."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        db = self._file.db()
        db.execute(
            "CREATE TABLE IF NOT EXISTS data_keys ("
            "scope TEXT PRIMARY KEY, key_id BLOB NOT NULL, kek_id TEXT NOT NULL, "
            "wrapped BLOB NOT NULL, "
            "created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
            ") WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS erased_keys (scope TEXT NOT NULL, key_id BLOB NOT NULL, "
            "erased_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
            "PRIMARY KEY (scope, key_id)) WITHOUT ROWID"
        )

    def _db(self) -> sqlite3.Connection:
        return self._file.db()

    def _transaction(self, statements: Sequence[Statement]) -> None:
        with self._file.transaction() as db:
            for statement, params in statements:
                if params and isinstance(params[0], tuple):
                    db.executemany(statement, params)
                else:
                    db.execute(statement, params)

    def get_many(self, scopes: Sequence[str]) -> dict[str, WrappedDataKey]:
        found: dict[str, WrappedDataKey] = {}
        for start in range(0, len(scopes), _CHUNK):
            chunk = list(scopes[start : start + _CHUNK])
            rows = self._db().execute(
                "SELECT scope, key_id, kek_id, wrapped FROM data_keys "  # noqa: S608 (placeholders)
                f"WHERE scope IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({r[0]: WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows})
        return found

    def add_if_absent(self, keys: Sequence[WrappedDataKey]) -> dict[str, WrappedDataKey]:
        self._transaction(
            [
                (
                    "INSERT INTO data_keys (scope, key_id, kek_id, wrapped) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (scope) DO NOTHING",
                    [(k.scope, k.key_id, k.kek_id, k.wrapped) for k in keys],
                )
            ]
        )
        return self.get_many([k.scope for k in keys])

    def erase(self, scope: str) -> bool:
        key = self.get_many([scope]).get(scope)
        if key is None:
            return False
        self._transaction(
            [
                (
                    "INSERT OR IGNORE INTO erased_keys (scope, key_id) VALUES (?, ?)",
                    (scope, key.key_id),
                ),
                ("DELETE FROM data_keys WHERE scope = ? AND key_id = ?", (scope, key.key_id)),
            ]
        )
        return True

    def is_erased(self, scope: str, key_id: bytes) -> bool:
        row = (
            self._db()
            .execute("SELECT 1 FROM erased_keys WHERE scope = ? AND key_id = ?", (scope, key_id))
            .fetchone()
        )
        return row is not None

    def was_erased(self, scope: str) -> bool:
        row = self._db().execute("SELECT 1 FROM erased_keys WHERE scope = ? LIMIT 1", (scope,))
        return row.fetchone() is not None

    def wrapped_under_other_keks(self, kek_id: str, limit: int) -> list[WrappedDataKey]:
        rows = self._db().execute(
            "SELECT scope, key_id, kek_id, wrapped FROM data_keys WHERE kek_id != ? LIMIT ?",
            (kek_id, limit),
        )
        return [WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows]

    def rewrap(self, keys: Sequence[WrappedDataKey]) -> None:
        self._transaction(
            [
                (
                    "UPDATE data_keys SET kek_id = ?, wrapped = ? WHERE scope = ? AND key_id = ?",
                    [(k.kek_id, k.wrapped, k.scope, k.key_id) for k in keys],
                )
            ]
        )

    def count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM data_keys").fetchone()[0])


class PostgresDataKeyStore:
    """Deployment: `hub_data_keys` and `hub_erased_keys` tables in the hub's schema."""

    def __init__(self, conninfo: str, schema: str = "public") -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._run = self._pg.run
        self._pg.create(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_data_keys (scope text PRIMARY KEY, '
                    "key_id bytea NOT NULL, kek_id text NOT NULL, wrapped bytea NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now())",
                    (),
                ),
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_erased_keys (scope text NOT NULL, '
                    "key_id bytea NOT NULL, erased_at timestamptz NOT NULL DEFAULT now(), "
                    "PRIMARY KEY (scope, key_id))",
                    (),
                ),
            ]
        )

    def get_many(self, scopes: Sequence[str]) -> dict[str, WrappedDataKey]:
        rows = self._run(
            [
                (
                    'SELECT scope, key_id, kek_id, wrapped FROM "{s}".hub_data_keys '
                    "WHERE scope = ANY(%s)",
                    (list(scopes),),
                )
            ]
        )
        return {r[0]: WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows}

    def add_if_absent(self, keys: Sequence[WrappedDataKey]) -> dict[str, WrappedDataKey]:
        self._run(
            [
                (
                    'INSERT INTO "{s}".hub_data_keys (scope, key_id, kek_id, wrapped) '
                    "SELECT * FROM unnest(%s::text[], %s::bytea[], %s::text[], %s::bytea[]) "
                    "ON CONFLICT (scope) DO NOTHING",
                    (
                        [k.scope for k in keys],
                        [k.key_id for k in keys],
                        [k.kek_id for k in keys],
                        [k.wrapped for k in keys],
                    ),
                )
            ]
        )
        return self.get_many([k.scope for k in keys])

    def erase(self, scope: str) -> bool:
        key = self.get_many([scope]).get(scope)
        if key is None:
            return False
        self._run(
            [
                (
                    'INSERT INTO "{s}".hub_erased_keys (scope, key_id) VALUES (%s, %s) '
                    "ON CONFLICT DO NOTHING",
                    (scope, key.key_id),
                ),
                (
                    'DELETE FROM "{s}".hub_data_keys WHERE scope = %s AND key_id = %s',
                    (scope, key.key_id),
                ),
            ]
        )
        return True

    def is_erased(self, scope: str, key_id: bytes) -> bool:
        rows = self._run(
            [
                (
                    'SELECT 1 FROM "{s}".hub_erased_keys WHERE scope = %s AND key_id = %s',
                    (scope, key_id),
                )
            ]
        )
        return bool(rows)

    def was_erased(self, scope: str) -> bool:
        rows = self._run(
            [('SELECT 1 FROM "{s}".hub_erased_keys WHERE scope = %s LIMIT 1', (scope,))]
        )
        return bool(rows)

    def wrapped_under_other_keks(self, kek_id: str, limit: int) -> list[WrappedDataKey]:
        rows = self._run(
            [
                (
                    'SELECT scope, key_id, kek_id, wrapped FROM "{s}".hub_data_keys '
                    "WHERE kek_id != %s LIMIT %s",
                    (kek_id, limit),
                )
            ]
        )
        return [WrappedDataKey(r[0], bytes(r[1]), r[2], bytes(r[3])) for r in rows]

    def rewrap(self, keys: Sequence[WrappedDataKey]) -> None:
        self._run(
            [
                (
                    'UPDATE "{s}".hub_data_keys SET kek_id = %s, wrapped = %s '
                    "WHERE scope = %s AND key_id = %s",
                    [(k.kek_id, k.wrapped, k.scope, k.key_id) for k in keys],
                )
            ]
        )

    def count(self) -> int:
        return int(self._run([('SELECT count(*) FROM "{s}".hub_data_keys', ())])[0][0])
