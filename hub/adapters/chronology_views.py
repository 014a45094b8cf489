"""Where the chronology projection keeps its documents: one sealed row per child stream and the
projection's own position in the store's notification log, updated in one transaction.

SQLite (embedded default: `chronology.sqlite` beside the store) and PostgreSQL (tables
`hub_chronology` and `hub_chronology_position` in the hub's schema). Rows are sealed by the
projection with the child's own data key, so nothing is in clear here and erasing a child's
key erases their projection too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from hub.adapters.sql import PostgresSchema, SqliteFile


class ChronologyViewStore(Protocol):
    def position(self) -> int: ...

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]: ...

    def put(
        self, documents: Mapping[str, bytes], position: int, expected: int | None = None
    ) -> None:
        """Store the documents and the new position atomically; with `expected`, only if the
        stored position is still that (else ProjectionConflictError: another process folded
        those entries first)."""
        ...

    def clear(self) -> None: ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]:
        """Document names in order, after `after` (for scans such as retention)."""
        ...


class ProjectionConflictError(RuntimeError):
    """Another process advanced the projection first; the caller re-reads and continues."""


class SqliteChronologyViewStore:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        db = self._db()
        db.execute(
            "CREATE TABLE IF NOT EXISTS chronology "
            "(stream TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS chronology_position "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL)"
        )

    def _db(self) -> sqlite3.Connection:
        return self._file.db()

    def position(self) -> int:
        row = self._db().execute("SELECT position FROM chronology_position WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(streams), 500):
            chunk = list(streams[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db().execute(
                f"SELECT stream, sealed FROM chronology WHERE stream IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update({r[0]: bytes(r[1]) for r in rows})
        return found

    def put(
        self, documents: Mapping[str, bytes], position: int, expected: int | None = None
    ) -> None:
        with self._file.transaction() as db:
            if expected is not None:
                row = db.execute("SELECT position FROM chronology_position WHERE id = 1").fetchone()
                if (int(row[0]) if row else 0) != expected:
                    raise ProjectionConflictError("the projection moved on")
            db.executemany(
                "INSERT INTO chronology (stream, sealed) VALUES (?, ?) "
                "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed",
                list(documents.items()),
            )
            db.execute(
                "INSERT INTO chronology_position (id, position) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                (position,),
            )

    def clear(self) -> None:
        db = self._db()
        db.execute("DELETE FROM chronology")
        db.execute("DELETE FROM chronology_position")

    def delete(self, names: Sequence[str]) -> None:
        self._db().executemany("DELETE FROM chronology WHERE stream = ?", [(n,) for n in names])

    def names(self, after: str, limit: int) -> list[str]:
        rows = self._db().execute(
            "SELECT stream FROM chronology WHERE stream > ? ORDER BY stream LIMIT ?", (after, limit)
        )
        return [r[0] for r in rows]


class PostgresChronologyViewStore:
    def __init__(self, conninfo: str, schema: str) -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._pg.run(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_chronology '
                    "(stream text PRIMARY KEY, sealed bytea NOT NULL)",
                    (),
                ),
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_chronology_position '
                    "(id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL)",
                    (),
                ),
            ]
        )

    def position(self) -> int:
        rows = self._pg.run(
            [('SELECT position FROM "{s}".hub_chronology_position WHERE id = 1', ())]
        )
        return int(rows[0][0]) if rows else 0

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        rows = self._pg.run(
            [
                (
                    'SELECT stream, sealed FROM "{s}".hub_chronology WHERE stream = ANY(%s)',
                    (list(streams),),
                )
            ]
        )
        return {r[0]: bytes(r[1]) for r in rows}

    def put(
        self, documents: Mapping[str, bytes], position: int, expected: int | None = None
    ) -> None:
        sql = self._pg.sql
        with self._pg.transaction() as cursor:
            if expected is not None:
                # Serialise folds: lock the position row (or the table while it has none).
                cursor.execute(sql('LOCK TABLE "{s}".hub_chronology_position IN EXCLUSIVE MODE'))
                cursor.execute(
                    sql('SELECT position FROM "{s}".hub_chronology_position WHERE id = 1')
                )
                row = cursor.fetchone()
                if (int(row[0]) if row else 0) != expected:
                    raise ProjectionConflictError("the projection moved on")
            cursor.executemany(
                sql(
                    'INSERT INTO "{s}".hub_chronology (stream, sealed) VALUES (%s, %s) '
                    "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed"
                ),
                list(documents.items()),
            )
            cursor.execute(
                sql(
                    'INSERT INTO "{s}".hub_chronology_position (id, position) VALUES (1, %s) '
                    "ON CONFLICT (id) DO UPDATE SET position = excluded.position"
                ),
                (position,),
            )

    def clear(self) -> None:
        self._pg.run(
            [
                ('DELETE FROM "{s}".hub_chronology', ()),
                ('DELETE FROM "{s}".hub_chronology_position', ()),
            ]
        )

    def delete(self, names: Sequence[str]) -> None:
        self._pg.run([('DELETE FROM "{s}".hub_chronology WHERE stream = ANY(%s)', (list(names),))])

    def names(self, after: str, limit: int) -> list[str]:
        rows = self._pg.run(
            [
                (
                    'SELECT stream FROM "{s}".hub_chronology WHERE stream > %s '
                    "ORDER BY stream LIMIT %s",
                    (after, limit),
                )
            ]
        )
        return [r[0] for r in rows]
