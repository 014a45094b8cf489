"""Where the chronology projection and the consumers keep their documents: sealed rows by name,
and the follower's own position in the store's notification log, updated in one transaction.

SQLite (embedded default: `chronology.sqlite` beside the store, `consumers/<name>.sqlite` for a
consumer) and PostgreSQL (tables `hub_<table>` and `hub_<table>_position` in the hub's schema).
Rows are sealed by their owner, with the child's own data key where they hold a child's data,
so nothing is in clear here and erasing a child's key erases what was derived from it too.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal, Protocol

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
        forgotten_mark: int | None = None,
    ) -> None:
        """Store the documents, delete `deleted` and move to the new position (None: leave it)
        atomically; with `expected`, only if the stored position is still that (else
        ProjectionConflictError: another process folded those entries first); with
        `forgotten_mark`, only if nothing was forgotten since `forgotten_mark()` returned it
        (else ProjectionConflictError: the documents may hold a child just erased)."""
        ...

    def forgotten_mark(self) -> int:
        """The latest `record_forgotten` so far (0 for none)."""
        ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]:
        """Document names in order, after `after` (for scans such as retention)."""
        ...

    def begin_rebuild(self) -> Rebuild:
        """Start building a new set of documents beside the live ones (replacing any
        unfinished one: a rebuild started later takes over from one started earlier)."""
        ...

    def record_forgotten(self, stream: str, households: Sequence[str]) -> None:
        """Note that a stream's documents, and its membership of these household documents,
        are being forgotten, so that a rebuild under way purges them from what it built."""
        ...


class Rebuild(Protocol):
    """Documents a rebuild is building beside the live ones, swapped in by `replace_live`."""

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]: ...

    def put(self, documents: Mapping[str, bytes], deleted: Sequence[str] = ()) -> None:
        """Store and delete (ProjectionConflictError if another rebuild has taken over)."""
        ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]: ...

    def forgotten(self, after: int) -> list[tuple[int, str, str]]:
        """(sequence, stream, household or "") recorded by `record_forgotten`, in order."""
        ...

    def replace_live(self, position: int, forgotten_upto: int) -> bool:
        """Make these the live documents at `position`, in one transaction, unless more was
        forgotten after `forgotten_upto` (then False: purge that too and call again).
        ProjectionConflictError if another rebuild has taken over."""
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


class PostgresChronologyViewStore:
    def __init__(self, conninfo: str, schema: str, table: str = "chronology") -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._t = f"hub_{_table_name(table)}"
        self._pg.create(
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
                (
                    self._q(
                        'CREATE TABLE IF NOT EXISTS "{s}".{t}_forgotten '
                        "(seq bigserial PRIMARY KEY, stream text NOT NULL, household text NOT NULL)"
                    ),
                    (),
                ),
                (
                    self._q(
                        'CREATE TABLE IF NOT EXISTS "{s}".{t}_rebuild '
                        "(id int PRIMARY KEY CHECK (id = 1), token text NOT NULL)"
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
        forgotten_mark: int | None = None,
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
            if forgotten_mark is not None:
                cursor.execute(sql('SELECT COALESCE(MAX(seq), 0) FROM "{s}".{t}_forgotten'))
                if int(cursor.fetchone()[0]) > forgotten_mark:
                    raise ProjectionConflictError("a child was forgotten meanwhile")
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

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, None, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        statement = self._q(
            'SELECT stream FROM "{s}".{t} WHERE stream > %s ORDER BY stream LIMIT %s'
        )
        return [r[0] for r in self._pg.run([(statement, (after, limit))])]

    def forgotten_mark(self) -> int:
        rows = self._pg.run(
            [(self._q('SELECT COALESCE(MAX(seq), 0) FROM "{s}".{t}_forgotten'), ())]
        )
        return int(rows[0][0])

    def record_forgotten(self, stream: str, households: Sequence[str]) -> None:
        statement = self._q('INSERT INTO "{s}".{t}_forgotten (stream, household) VALUES (%s, %s)')
        self._pg.run([(statement, [(stream, household) for household in households or [""]])])

    def begin_rebuild(self) -> PostgresRebuild:
        token = secrets.token_hex(16)
        # The token row first: a rebuild's writes lock it before they touch its table.
        self._pg.run(
            [
                (
                    self._q(
                        'INSERT INTO "{s}".{t}_rebuild (id, token) VALUES (1, %s) '
                        "ON CONFLICT (id) DO UPDATE SET token = excluded.token"
                    ),
                    (token,),
                ),
                (self._q('DROP TABLE IF EXISTS "{s}".{t}_next'), ()),
                (self._q('DROP TABLE IF EXISTS "{s}".{t}_old'), ()),
                (
                    self._q(
                        'CREATE TABLE "{s}".{t}_next (stream text NOT NULL, sealed bytea NOT NULL,'
                        " CONSTRAINT {t}_next_pkey PRIMARY KEY (stream))"
                    ),
                    (),
                ),
            ]
        )
        return PostgresRebuild(self._pg, self._t, token)


class PostgresRebuild:
    """A rebuild's documents in table `<table>_next`, which `replace_live` renames over the
    live table (with its primary key index, so the names stay free for the next rebuild)."""

    def __init__(self, pg: PostgresSchema, table: str, token: str) -> None:
        self._pg, self._t, self._token = pg, table, token

    def _sql(self, statement: str) -> bytes:
        return self._pg.sql(statement.replace("{t}", self._t))

    def _check_owner(self, cursor: Any, lock: Literal["UPDATE", "SHARE"] = "UPDATE") -> None:
        """Raise unless this rebuild still owns its table; the token row stays locked (FOR
        UPDATE, or FOR SHARE to read) until the transaction ends, so a later rebuild's
        `begin_rebuild`, which rewrites that row first, waits for it."""
        cursor.execute(
            self._sql(f'SELECT token FROM "{{s}}".{{t}}_rebuild WHERE id = 1 FOR {lock}')  # noqa: S608
        )
        row = cursor.fetchone()
        if row is None or row[0] != self._token:
            raise ProjectionConflictError("another rebuild of the projection took over")

    def _owned_read(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        with self._pg.transaction() as cursor:
            self._check_owner(cursor, "SHARE")
            cursor.execute(self._sql(statement), params)
            return list(cursor.fetchall())

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]:
        rows = self._owned_read(
            'SELECT stream, sealed FROM "{s}".{t}_next WHERE stream = ANY(%s)', (list(streams),)
        )
        return {r[0]: bytes(r[1]) for r in rows}

    def put(self, documents: Mapping[str, bytes], deleted: Sequence[str] = ()) -> None:
        with self._pg.transaction() as cursor:
            self._check_owner(cursor)
            if documents:
                cursor.executemany(
                    self._sql(
                        'INSERT INTO "{s}".{t}_next (stream, sealed) VALUES (%s, %s) '
                        "ON CONFLICT (stream) DO UPDATE SET sealed = excluded.sealed"
                    ),
                    list(documents.items()),
                )
            if deleted:
                cursor.execute(
                    self._sql('DELETE FROM "{s}".{t}_next WHERE stream = ANY(%s)'), (list(deleted),)
                )

    def delete(self, names: Sequence[str]) -> None:
        self.put({}, deleted=names)

    def names(self, after: str, limit: int) -> list[str]:
        statement = 'SELECT stream FROM "{s}".{t}_next WHERE stream > %s ORDER BY stream LIMIT %s'
        return [r[0] for r in self._owned_read(statement, (after, limit))]

    def forgotten(self, after: int) -> list[tuple[int, str, str]]:
        statement = (
            f'SELECT seq, stream, household FROM "{{s}}".{self._t}_forgotten '  # noqa: S608
            "WHERE seq > %s ORDER BY seq"
        )
        return [(int(r[0]), r[1], r[2]) for r in self._pg.run([(statement, (after,))])]

    def replace_live(self, position: int, forgotten_upto: int) -> bool:
        with self._pg.transaction() as cursor:
            # The order every writer takes: forgetting, then the position, then documents.
            cursor.execute(self._sql('LOCK TABLE "{s}".{t}_forgotten IN EXCLUSIVE MODE'))
            cursor.execute(self._sql('LOCK TABLE "{s}".{t}_position IN EXCLUSIVE MODE'))
            self._check_owner(cursor)
            cursor.execute(self._sql('SELECT MAX(seq) FROM "{s}".{t}_forgotten'))
            if (cursor.fetchone()[0] or 0) > forgotten_upto:
                return False
            for statement in (
                'ALTER TABLE "{s}".{t} RENAME TO {t}_old',
                'ALTER INDEX "{s}".{t}_pkey RENAME TO {t}_old_pkey',
                'ALTER TABLE "{s}".{t}_next RENAME TO {t}',
                'ALTER INDEX "{s}".{t}_next_pkey RENAME TO {t}_pkey',
            ):
                cursor.execute(self._sql(statement))
            cursor.execute(
                self._sql(
                    'INSERT INTO "{s}".{t}_position (id, position) VALUES (1, %s) '
                    "ON CONFLICT (id) DO UPDATE SET position = excluded.position"
                ),
                (position,),
            )
            cursor.execute(
                self._sql('DELETE FROM "{s}".{t}_forgotten WHERE seq <= %s'), (forgotten_upto,)
            )
            cursor.execute(
                self._sql('DELETE FROM "{s}".{t}_rebuild WHERE token = %s'), (self._token,)
            )
        self._pg.run([(f'DROP TABLE "{{s}}".{self._t}_old', ())])
        return True
