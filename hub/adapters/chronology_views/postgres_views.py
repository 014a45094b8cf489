"""Sealed documents in a table of the hub's PostgreSQL schema."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from hub.adapters.chronology_views.contract import ProjectionConflictError, checked_table_name
from hub.adapters.sql import PostgresSchema


class PostgresChronologyViewStore:
    def __init__(self, conninfo: str, schema: str, table: str = "chronology") -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._t = f"hub_{checked_table_name(table)}"
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
        if not streams:  # (e.g. a child's linked streams, mostly none: no round trip)
            return {}
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
