"""Where the chronology projection and the consumers keep their documents: sealed rows by name,
and the follower's own position in the store's notification log, updated in one transaction.

SQLite (embedded default: `chronology.sqlite` beside the store, `consumers/<name>.sqlite` for a
consumer) and PostgreSQL (tables `hub_<table>` and `hub_<table>_position` in the hub's schema).
Rows are sealed by their owner, with the child's own data key where they hold a child's data,
so nothing is in clear here and erasing a child's key erases what was derived from it too.
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
        self,
        documents: Mapping[str, bytes],
        position: int | None,
        expected: int | None = None,
        deleted: Sequence[str] = (),
    ) -> None:
        """Store the documents, delete `deleted` and move to the new position (None: leave it)
        atomically; with `expected`, only if the stored position is still that (else
        ProjectionConflictError: another process folded those entries first)."""
        ...

    def clear(self) -> None: ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]:
        """Document names in order, after `after` (for scans such as retention)."""
        ...


class ProjectionConflictError(RuntimeError):
    """Another process advanced the projection first; the caller re-reads and continues."""


def _table_name(table: str) -> str:
    if not table.replace("_", "").isalnum() or not table.isascii():
        raise ValueError(f"not a usable table name: {table!r}")
    return table


class SqliteChronologyViewStore:
    def __init__(self, path: Path, table: str = "chronology") -> None:
        self._file = SqliteFile(path)
        t = self._t = _table_name(table)
        db = self._db()
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t} "
            "(stream TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t}_position "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL)"
        )

    def _db(self) -> sqlite3.Connection:
        return self._file.db()

    def position(self) -> int:
        row = self._db().execute(f"SELECT position FROM {self._t}_position WHERE id = 1").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(streams), 500):
            chunk = list(streams[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db().execute(
                f"SELECT stream, sealed FROM {self._t} WHERE stream IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update({r[0]: bytes(r[1]) for r in rows})
        return found

    def put(
        self,
        documents: Mapping[str, bytes],
        position: int | None,
        expected: int | None = None,
        deleted: Sequence[str] = (),
    ) -> None:
        t = self._t
        with self._file.transaction() as db:
            if expected is not None:
                row = db.execute(f"SELECT position FROM {t}_position WHERE id = 1").fetchone()  # noqa: S608
                if (int(row[0]) if row else 0) != expected:
                    raise ProjectionConflictError("the projection moved on")
            db.executemany(
                f"INSERT INTO {t} (stream, sealed) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed",
                list(documents.items()),
            )
            db.executemany(f"DELETE FROM {t} WHERE stream = ?", [(n,) for n in deleted])  # noqa: S608
            if position is not None:
                db.execute(
                    f"INSERT INTO {t}_position (id, position) VALUES (1, ?) "  # noqa: S608
                    "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                    (position,),
                )

    def clear(self) -> None:
        db = self._db()
        db.execute(f"DELETE FROM {self._t}")  # noqa: S608
        db.execute(f"DELETE FROM {self._t}_position")  # noqa: S608

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, None, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        rows = self._db().execute(
            f"SELECT stream FROM {self._t} WHERE stream > ? ORDER BY stream LIMIT ?",  # noqa: S608
            (after, limit),
        )
        return [r[0] for r in rows]


class PostgresChronologyViewStore:
    def __init__(self, conninfo: str, schema: str, table: str = "chronology") -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._t = f"hub_{_table_name(table)}"
        self._pg.run(
            [
                (
                    self._q(
                        'CREATE TABLE IF NOT EXISTS "{s}".{t} '
                        "(stream text PRIMARY KEY, sealed bytea NOT NULL)"
                    ),
                    (),
                ),
                (
                    self._q(
                        'CREATE TABLE IF NOT EXISTS "{s}".{t}_position '
                        "(id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL)"
                    ),
                    (),
                ),
            ]
        )

    def _q(self, statement: str) -> str:
        return statement.replace("{t}", self._t)

    def position(self) -> int:
        rows = self._pg.run([(self._q('SELECT position FROM "{s}".{t}_position WHERE id = 1'), ())])
        return int(rows[0][0]) if rows else 0

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        statement = self._q('SELECT stream, sealed FROM "{s}".{t} WHERE stream = ANY(%s)')
        rows = self._pg.run([(statement, (list(streams),))])
        return {r[0]: bytes(r[1]) for r in rows}

    def put(
        self,
        documents: Mapping[str, bytes],
        position: int | None,
        expected: int | None = None,
        deleted: Sequence[str] = (),
    ) -> None:
        def sql(statement: str) -> bytes:
            return self._pg.sql(self._q(statement))

        with self._pg.transaction() as cursor:
            if expected is not None:
                # Serialise folds: lock the position row (or the table while it has none).
                cursor.execute(sql('LOCK TABLE "{s}".{t}_position IN EXCLUSIVE MODE'))
                cursor.execute(sql('SELECT position FROM "{s}".{t}_position WHERE id = 1'))
                row = cursor.fetchone()
                if (int(row[0]) if row else 0) != expected:
                    raise ProjectionConflictError("the projection moved on")
            if documents:
                cursor.executemany(
                    sql(
                        'INSERT INTO "{s}".{t} (stream, sealed) VALUES (%s, %s) '
                        "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed"
                    ),
                    list(documents.items()),
                )
            if deleted:
                cursor.execute(
                    sql('DELETE FROM "{s}".{t} WHERE stream = ANY(%s)'), (list(deleted),)
                )
            if position is not None:
                cursor.execute(
                    sql(
                        'INSERT INTO "{s}".{t}_position (id, position) VALUES (1, %s) '
                        "ON CONFLICT (id) DO UPDATE SET position = excluded.position"
                    ),
                    (position,),
                )

    def clear(self) -> None:
        self._pg.run(
            [
                (self._q('DELETE FROM "{s}".{t}'), ()),
                (self._q('DELETE FROM "{s}".{t}_position'), ()),
            ]
        )

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, None, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        statement = self._q(
            'SELECT stream FROM "{s}".{t} WHERE stream > %s ORDER BY stream LIMIT %s'
        )
        rows = self._pg.run([(statement, (after, limit))])
        return [r[0] for r in rows]
