"""Small connection helpers shared by the hub's own tables (key store, projection, Merkle
index): one connection per thread, explicit transactions, and PostgreSQL statements written
against a `{s}` schema placeholder."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class CopyRows:
    """`COPY <table> (<columns>) FROM STDIN` of `rows` in binary format, as one step of a
    `PostgresSchema.run` transaction: many rows for much less work than an INSERT each."""

    table: str  # with the `{s}` schema placeholder
    columns: tuple[str, ...]
    types: tuple[str, ...]  # PostgreSQL type names, one per column
    rows: Sequence[tuple[Any, ...]]


class SqliteFile:
    """A SQLite file in WAL mode, one autocommit connection per thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()

    def db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taking the write lock at once, so checks inside it hold)."""
        db = self.db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


# Distinct from the session lock around eventsourcing's DDL (hub.adapters.persistence), which
# is held while some of these run (the same key, on another connection of the same process,
# would wait forever).
_DDL_LOCK = 0x6875625F64646C  # "hub_ddl"


class PostgresSchema:
    """Tables in one PostgreSQL schema, one connection per thread."""

    def __init__(self, conninfo: str, schema: str) -> None:
        import psycopg  # the optional postgres extra

        self._psycopg = psycopg
        self._conninfo = conninfo
        self.schema = schema
        self._local = threading.local()

    def _conn(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None or db.closed:
            db = self._psycopg.connect(self._conninfo)
            self._local.db = db
        return db

    def sql(self, statement: str) -> bytes:
        return statement.replace("{s}", self.schema).encode()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with ExitStack() as stack:
            db = self._begin(stack)
            with db.cursor() as cursor:
                yield cursor

    def _begin(self, stack: ExitStack) -> Any:
        """Start a transaction. A connection the server has dropped (restart, failover,
        `pg_terminate_backend`) only shows it when used: the BEGIN fails and psycopg marks
        it closed. Nothing has run in it yet, so reconnect and begin again, once."""
        db = self._conn()
        try:
            stack.enter_context(db.transaction())
        except self._psycopg.OperationalError:
            if not db.closed:
                raise
            db = self._conn()
            stack.enter_context(db.transaction())
        return db

    def create(self, statements: Sequence[Statement]) -> None:
        """Run `CREATE ... IF NOT EXISTS` statements in one transaction under an advisory
        lock: processes starting together on a new schema (ingest workers, the API,
        consumers) otherwise collide in the catalog ("duplicate key ... pg_type")."""
        self.run([("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,)), *statements])

    def run(self, statements: Sequence[Statement | CopyRows]) -> list[tuple[Any, ...]]:
        """Run statements in one transaction; a list of tuples as parameters means
        executemany. Returns the rows of the last statement that produced any."""
        rows: list[tuple[Any, ...]] = []
        with self.transaction() as cursor:
            for step in statements:
                if isinstance(step, CopyRows):
                    self._copy(cursor, step)
                    continue
                statement, params = step
                if params and isinstance(params[0], tuple):
                    cursor.executemany(self.sql(statement), params)
                else:
                    cursor.execute(self.sql(statement), params or None)
                    if cursor.description:
                        rows = list(cursor.fetchall())
        return rows

    def _copy(self, cursor: Any, step: CopyRows) -> None:
        if not step.rows:
            return
        columns = ", ".join(step.columns)
        statement = f"COPY {step.table} ({columns}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(self.sql(statement)) as copy:
            copy.set_types(step.types)
            for row in step.rows:
                copy.write_row(row)
