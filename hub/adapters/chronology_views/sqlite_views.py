"""Sealed documents in a SQLite file (the embedded default)."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from hub.adapters.chronology_views.contract import ProjectionConflictError, checked_table_name
from hub.adapters.sql import SqliteFile


class SqliteChronologyViewStore:
    def __init__(self, path: Path, table: str = "chronology") -> None:
        self._file = SqliteFile(path)
        t = self._t = checked_table_name(table)
        db = self._db()
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t} "
            "(stream TEXT PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t}_position "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL)"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t}_forgotten "
            "(seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, household TEXT NOT NULL)"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {t}_rebuild "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL)"
        )

    def _db(self) -> sqlite3.Connection:
        return self._file.db()

    def position(self) -> int:
        row = self._db().execute(f"SELECT position FROM {self._t}_position WHERE id = 1").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        return _sqlite_get_many(self._db(), self._t, streams)

    def put(
        self,
        documents: Mapping[str, bytes],
        position: int | None,
        expected: int | None = None,
        deleted: Sequence[str] = (),
        forgotten_mark: int | None = None,
    ) -> None:
        t = self._t
        with self._file.transaction() as db:
            if expected is not None:
                row = db.execute(f"SELECT position FROM {t}_position WHERE id = 1").fetchone()  # noqa: S608
                if (int(row[0]) if row else 0) != expected:
                    raise ProjectionConflictError("the projection moved on")
            if forgotten_mark is not None and _sqlite_mark(db, t) != forgotten_mark:
                raise ProjectionConflictError("a child was forgotten meanwhile")
            _sqlite_write(db, t, documents, deleted)
            if position is not None:
                db.execute(
                    f"INSERT INTO {t}_position (id, position) VALUES (1, ?) "  # noqa: S608
                    "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                    (position,),
                )

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, None, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        return _sqlite_names(self._db(), self._t, after, limit)

    def forgotten_mark(self) -> int:
        return _sqlite_mark(self._db(), self._t)

    def record_forgotten(self, stream: str, households: Sequence[str]) -> None:
        with self._file.transaction() as db:
            db.executemany(
                f"INSERT INTO {self._t}_forgotten (stream, household) VALUES (?, ?)",  # noqa: S608
                [(stream, household) for household in households or [""]],
            )

    def begin_rebuild(self) -> SqliteRebuild:
        t, token = self._t, secrets.token_hex(16)
        with self._file.transaction() as db:  # take over first: an earlier rebuild stops
            db.execute(
                f"INSERT INTO {t}_rebuild (id, token) VALUES (1, ?) "  # noqa: S608
                "ON CONFLICT (id) DO UPDATE SET token = excluded.token",
                (token,),
            )
        rebuild = SqliteRebuild(self._file, t, token)
        for leftover in (f"{t}_next", f"{t}_old"):  # an unfinished rebuild's, or swap's
            rebuild.free(leftover)
        with self._file.transaction() as db:
            rebuild.check_owner(db)
            db.execute(
                f"CREATE TABLE {t}_next (stream TEXT PRIMARY KEY, sealed BLOB NOT NULL) "
                "WITHOUT ROWID"
            )
        return rebuild


def _sqlite_mark(db: sqlite3.Connection, table: str) -> int:
    # AUTOINCREMENT: a sequence number is never reused, even after the rows are purged.
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (f"{table}_forgotten",))
    found = row.fetchone()
    return int(found[0]) if found else 0


def _sqlite_get_many(db: sqlite3.Connection, table: str, names: Sequence[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for start in range(0, len(names), 500):
        chunk = list(names[start : start + 500])
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT stream, sealed FROM {table} WHERE stream IN ({marks})",  # noqa: S608
            chunk,
        )
        found.update({r[0]: bytes(r[1]) for r in rows})
    return found


def _sqlite_write(
    db: sqlite3.Connection, table: str, documents: Mapping[str, bytes], deleted: Sequence[str]
) -> None:
    db.executemany(
        f"INSERT INTO {table} (stream, sealed) VALUES (?, ?) "  # noqa: S608
        "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed",
        list(documents.items()),
    )
    db.executemany(f"DELETE FROM {table} WHERE stream = ?", [(n,) for n in deleted])  # noqa: S608


def _sqlite_names(db: sqlite3.Connection, table: str, after: str, limit: int) -> list[str]:
    rows = db.execute(
        f"SELECT stream FROM {table} WHERE stream > ? ORDER BY stream LIMIT ?",  # noqa: S608
        (after, limit),
    )
    return [r[0] for r in rows]


class SqliteRebuild:
    """A rebuild's documents in table `<table>_next` of the same file, which `replace_live`
    renames over the live table (the old one is dropped after, outside the swap)."""

    def __init__(self, file: SqliteFile, table: str, token: str) -> None:
        self._file, self._t, self._token = file, table, token

    def check_owner(self, db: sqlite3.Connection) -> None:
        row = db.execute(f"SELECT token FROM {self._t}_rebuild WHERE id = 1").fetchone()  # noqa: S608
        if row is None or row[0] != self._token:
            raise ProjectionConflictError("another rebuild of the projection took over")

    def free(self, table: str) -> None:
        """Delete a table of documents a thousand rows per transaction, then drop it: one
        DROP of a big table would hold the write lock, and every other process's folds, for
        as long as SQLite takes to free its pages."""
        while True:
            with self._file.transaction() as db:
                if not db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
                ).fetchone():
                    return
                self.check_owner(db)
                deleted = db.execute(
                    f"DELETE FROM {table} WHERE stream IN "  # noqa: S608
                    f"(SELECT stream FROM {table} ORDER BY stream LIMIT 1000)"
                ).rowcount
                if not deleted:
                    db.execute(f"DROP TABLE {table}")
                    return

    @contextmanager
    def _owned_read(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot in which this rebuild still owns its table (so it exists)."""
        db = self._file.db()
        db.execute("BEGIN")
        try:
            self.check_owner(db)
            yield db
        finally:
            db.execute("COMMIT")

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        with self._owned_read() as db:
            return _sqlite_get_many(db, f"{self._t}_next", streams)

    def put(self, documents: Mapping[str, bytes], deleted: Sequence[str] = ()) -> None:
        with self._file.transaction() as db:
            self.check_owner(db)
            _sqlite_write(db, f"{self._t}_next", documents, deleted)

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        with self._owned_read() as db:
            return _sqlite_names(db, f"{self._t}_next", after, limit)

    def forgotten(self, after: int) -> list[tuple[int, str, str]]:
        rows = self._file.db().execute(
            f"SELECT seq, stream, household FROM {self._t}_forgotten "  # noqa: S608
            "WHERE seq > ? ORDER BY seq",
            (after,),
        )
        return [(int(r[0]), r[1], r[2]) for r in rows]

    def replace_live(self, position: int, forgotten_upto: int) -> bool:
        t = self._t
        with self._file.transaction() as db:
            self.check_owner(db)
            latest = db.execute(f"SELECT MAX(seq) FROM {t}_forgotten").fetchone()[0]  # noqa: S608
            if (latest or 0) > forgotten_upto:
                return False
            db.execute(f"ALTER TABLE {t} RENAME TO {t}_old")
            db.execute(f"ALTER TABLE {t}_next RENAME TO {t}")
            db.execute(
                f"INSERT INTO {t}_position (id, position) VALUES (1, ?) "  # noqa: S608
                "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                (position,),
            )
            db.execute(f"DELETE FROM {t}_forgotten WHERE seq <= ?", (forgotten_upto,))  # noqa: S608
        with suppress(ProjectionConflictError):  # a rebuild started since frees what is left
            self.free(f"{t}_old")
        self._file.db().execute(f"DELETE FROM {t}_rebuild WHERE token = ?", (self._token,))  # noqa: S608
        return True
