"""Where the Merkle leaves and signed checkpoints are kept (apart from the rows they cover).

For each log (`events`, `audit`): one row per leaf in tree order (leaf index, the row's
notification id, its stream and version, the leaf hash), the compact frontier so appending is
cheap, and the signed checkpoints. SQLite (`integrity.sqlite`) or PostgreSQL tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hub.adapters.sql import CopyRows, PostgresSchema, SqliteFile


@dataclass(frozen=True)
class IndexedLeaf:
    index: int
    notification_id: int
    stream: str
    version: int
    leaf: bytes


LeafRow = tuple[int, int, str, int, bytes]


class MerkleIndexStore(Protocol):
    def frontier(self, log: str) -> dict[str, Any] | None: ...

    def append(self, log: str, leaves: Sequence[IndexedLeaf], frontier: dict[str, Any]) -> None:
        """Add leaves and the new frontier in one transaction."""
        ...

    def leaves(self, log: str) -> list[IndexedLeaf]: ...

    def leaf_rows(self, log: str) -> list[LeafRow]:
        """The leaves as plain tuples (index, notification id, stream, version, leaf hash), in
        tree order: what verifying a whole log reads, without an object per leaf."""
        ...

    def find(self, log: str, stream: str, version: int) -> IndexedLeaf | None: ...

    def add_checkpoint(self, log: str, document: dict[str, Any]) -> None: ...

    def latest_checkpoint(self, log: str) -> dict[str, Any] | None: ...

    def record_verification(self, at_epoch: float, ok: bool, findings: int) -> None:
        """Remember a `hub verify` run's result (kept: the history of every run)."""
        ...

    def last_verification(self) -> dict[str, Any] | None:
        """The latest run: {"at_epoch", "ok", "findings"}; None if verify never ran."""
        ...


class SqliteMerkleIndexStore:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        db = self._file.db()
        db.executescript(
            "CREATE TABLE IF NOT EXISTS merkle_leaves (log TEXT, idx INTEGER, notification_id "
            "INTEGER, stream TEXT, version INTEGER, leaf BLOB, PRIMARY KEY (log, idx))"
            " WITHOUT ROWID;"
            "CREATE INDEX IF NOT EXISTS merkle_leaves_row ON merkle_leaves (log, stream, version);"
            "CREATE TABLE IF NOT EXISTS merkle_frontier (log TEXT PRIMARY KEY, frontier TEXT);"
            "CREATE TABLE IF NOT EXISTS merkle_checkpoints (log TEXT, size INTEGER, document TEXT,"
            " PRIMARY KEY (log, size)) WITHOUT ROWID;"
            "CREATE TABLE IF NOT EXISTS merkle_verifications (at_epoch REAL, ok INTEGER, "
            "findings INTEGER);"
        )

    def _db(self) -> sqlite3.Connection:
        return self._file.db()

    def frontier(self, log: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT frontier FROM merkle_frontier WHERE log = ?", (log,))
        found = row.fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def append(self, log: str, leaves: Sequence[IndexedLeaf], frontier: dict[str, Any]) -> None:
        with self._file.transaction() as db:
            db.executemany(
                "INSERT INTO merkle_leaves VALUES (?, ?, ?, ?, ?, ?)",
                [(log, x.index, x.notification_id, x.stream, x.version, x.leaf) for x in leaves],
            )
            db.execute(
                "INSERT INTO merkle_frontier VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET "
                "frontier = excluded.frontier",
                (log, json.dumps(frontier)),
            )

    def leaves(self, log: str) -> list[IndexedLeaf]:
        rows = self._db().execute(
            "SELECT idx, notification_id, stream, version, leaf FROM merkle_leaves WHERE log = ? "
            "ORDER BY idx",
            (log,),
        )
        return [IndexedLeaf(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def leaf_rows(self, log: str) -> list[LeafRow]:
        rows: list[LeafRow] = (
            self._db()
            .execute(
                "SELECT idx, notification_id, stream, version, leaf FROM merkle_leaves "
                "WHERE log = ? ORDER BY idx",
                (log,),
            )
            .fetchall()
        )
        return rows  # sqlite3 gives BLOBs as bytes

    def find(self, log: str, stream: str, version: int) -> IndexedLeaf | None:
        row = (
            self._db()
            .execute(
                "SELECT idx, notification_id, stream, version, leaf FROM merkle_leaves "
                "WHERE log = ? AND stream = ? AND version = ?",
                (log, stream, version),
            )
            .fetchone()
        )
        return None if row is None else IndexedLeaf(row[0], row[1], row[2], row[3], bytes(row[4]))

    def add_checkpoint(self, log: str, document: dict[str, Any]) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO merkle_checkpoints VALUES (?, ?, ?)",
            (log, document["size"], json.dumps(document)),
        )

    def latest_checkpoint(self, log: str) -> dict[str, Any] | None:
        row = (
            self._db()
            .execute(
                "SELECT document FROM merkle_checkpoints WHERE log = ? ORDER BY size DESC LIMIT 1",
                (log,),
            )
            .fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    def record_verification(self, at_epoch: float, ok: bool, findings: int) -> None:
        self._db().execute(
            "INSERT INTO merkle_verifications VALUES (?, ?, ?)", (at_epoch, int(ok), findings)
        )

    def last_verification(self) -> dict[str, Any] | None:
        row = (
            self._db()
            .execute(
                "SELECT at_epoch, ok, findings FROM merkle_verifications "
                "ORDER BY at_epoch DESC LIMIT 1"
            )
            .fetchone()
        )
        return None if row is None else {"at_epoch": row[0], "ok": bool(row[1]), "findings": row[2]}


class PostgresMerkleIndexStore:
    def __init__(self, conninfo: str, schema: str) -> None:
        schema_tables = PostgresSchema(conninfo, schema)
        self._run = schema_tables.run
        schema_tables.create(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_merkle_leaves (log text, idx bigint, '
                    "notification_id bigint, stream text, version bigint, leaf bytea, "
                    "PRIMARY KEY (log, idx))",
                    (),
                ),
                (
                    'CREATE INDEX IF NOT EXISTS hub_merkle_leaves_row ON "{s}".hub_merkle_leaves '
                    "(log, stream, version)",
                    (),
                ),
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_merkle_frontier '
                    "(log text PRIMARY KEY, frontier text)",
                    (),
                ),
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_merkle_checkpoints '
                    "(log text, size bigint, document text, PRIMARY KEY (log, size))",
                    (),
                ),
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_merkle_verifications '
                    "(at_epoch double precision, ok boolean, findings integer)",
                    (),
                ),
            ]
        )

    def frontier(self, log: str) -> dict[str, Any] | None:
        rows = self._run(
            [('SELECT frontier FROM "{s}".hub_merkle_frontier WHERE log = %s', (log,))]
        )
        return None if not rows else dict(json.loads(rows[0][0]))

    def append(self, log: str, leaves: Sequence[IndexedLeaf], frontier: dict[str, Any]) -> None:
        # The leaves by COPY (a checkpoint after onboarding indexes millions of rows), and the
        # frontier they extend, in one transaction.
        leaf_rows = CopyRows(
            '"{s}".hub_merkle_leaves',
            ("log", "idx", "notification_id", "stream", "version", "leaf"),
            ("text", "int8", "int8", "text", "int8", "bytea"),
            [(log, x.index, x.notification_id, x.stream, x.version, x.leaf) for x in leaves],
        )
        frontier_row = (
            'INSERT INTO "{s}".hub_merkle_frontier VALUES (%s, %s) ON CONFLICT (log) '
            "DO UPDATE SET frontier = excluded.frontier",
            (log, json.dumps(frontier)),
        )
        self._run([leaf_rows, frontier_row])

    def leaves(self, log: str) -> list[IndexedLeaf]:
        rows = self._run(
            [
                (
                    "SELECT idx, notification_id, stream, version, leaf "
                    'FROM "{s}".hub_merkle_leaves '
                    "WHERE log = %s ORDER BY idx",
                    (log,),
                )
            ]
        )
        return [IndexedLeaf(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def leaf_rows(self, log: str) -> list[LeafRow]:
        return [
            (leaf.index, leaf.notification_id, leaf.stream, leaf.version, leaf.leaf)
            for leaf in self.leaves(log)
        ]

    def find(self, log: str, stream: str, version: int) -> IndexedLeaf | None:
        rows = self._run(
            [
                (
                    "SELECT idx, notification_id, stream, version, leaf "
                    'FROM "{s}".hub_merkle_leaves '
                    "WHERE log = %s AND stream = %s AND version = %s",
                    (log, stream, version),
                )
            ]
        )
        return (
            None
            if not rows
            else IndexedLeaf(rows[0][0], rows[0][1], rows[0][2], rows[0][3], bytes(rows[0][4]))
        )

    def add_checkpoint(self, log: str, document: dict[str, Any]) -> None:
        self._run(
            [
                (
                    'INSERT INTO "{s}".hub_merkle_checkpoints VALUES (%s, %s, %s) '
                    "ON CONFLICT (log, size) DO UPDATE SET document = excluded.document",
                    (log, document["size"], json.dumps(document)),
                )
            ]
        )

    def latest_checkpoint(self, log: str) -> dict[str, Any] | None:
        rows = self._run(
            [
                (
                    'SELECT document FROM "{s}".hub_merkle_checkpoints WHERE log = %s '
                    "ORDER BY size DESC LIMIT 1",
                    (log,),
                )
            ]
        )
        return None if not rows else dict(json.loads(rows[0][0]))

    def record_verification(self, at_epoch: float, ok: bool, findings: int) -> None:
        self._run(
            [
                (
                    'INSERT INTO "{s}".hub_merkle_verifications VALUES (%s, %s, %s)',
                    (at_epoch, ok, findings),
                )
            ]
        )

    def last_verification(self) -> dict[str, Any] | None:
        rows = self._run(
            [
                (
                    'SELECT at_epoch, ok, findings FROM "{s}".hub_merkle_verifications '
                    "ORDER BY at_epoch DESC LIMIT 1",
                    (),
                )
            ]
        )
        if not rows:
            return None
        return {"at_epoch": rows[0][0], "ok": bool(rows[0][1]), "findings": rows[0][2]}
