"""Filling a benchmark store to a large size by replicating rows of a store built by real ingest.

Building 10M events by real ingest takes 70+ minutes on SQLite on this machine and several
hours on PostgreSQL. For a figure that reads one child's documents (the chronology view), what
the rest of the store contributes is its size: the depth and cache behaviour of the B-trees and
tables the read goes through. So a store is built by real ingest to a base size (the target
child's events among other children's), its projection folded, and then filled by copying
every row of the other children, as SQL `INSERT ... SELECT` in the database itself, under new
stream ids (`md5("<copy>:<stream hex>")`, uniform like the pseudonyms):

- the event table: every row of the base store except the target child's (child entries,
  ingest claims, batch records), with a new originator id per copied stream, the same
  version, topic and sealed state; new notification ids at the end of the log;
- the projection: every document of the base (children's heads and chunks, household
  documents) except the target child's, under the copied stream's new name; the projection's
  position is then moved to the new head (the copies are "folded": their documents are there);
- the key store: each copied child stream's data key row under its new scope (`child:<id>`).

What this does not give: the copies' sealed bytes are bound to their original stream ids and
names (the associated data), so they are not openable under the new ones, and each copy shares
its original's key material. Nothing measured opens them (a chronology read touches only the
target child's documents and key), but a store filled this way cannot be rebuilt, caught up
from zero or verified (`benchmarks.chronology_latency` refuses to rebuild one). Tables and
indexes have the full size (rows, bytes, index entries); the order of rows in the log is the
base order repeated, which the chronology read does not depend on.

Progress is kept in `bench-fill.json` in the data dir (the base's extent, the copies made, the
rows counted at the end), so a fill resumes, and a later run fills further; the base's own
documents are kept apart for that (`fill-source.sqlite` in the data dir; on PostgreSQL the
table `bench_fill_documents` in the schema, dropped with it).

On PostgreSQL the event table's two indexes are dropped for the fill and created again after
(a sorted build instead of 20M random insertions into a B-tree larger than shared buffers);
the indexes at the end are the ones the hub created, with the same definitions.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

STATE = "bench-fill.json"  # in the data dir: the base's extent and the copies made so far


def renamed(copy: int, stream_hex: str) -> str:
    return hashlib.md5(f"{copy}:{stream_hex}".encode(), usedforsecurity=False).hexdigest()


def _document_name(copy: int, name: str) -> str:
    if name.startswith("household:"):
        return "household:" + renamed(copy, name[len("household:") :])
    stream, sep, rest = name.partition(":")
    return renamed(copy, stream) + sep + rest


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    if row is None:
        raise SystemExit("fill: the store answered no row where one was expected")
    return row


def fill_state(root: Path) -> dict[str, Any] | None:
    path = root / STATE
    return json.loads(path.read_text()) if path.exists() else None


def _save(root: Path, state: dict[str, Any]) -> None:
    (root / STATE).write_text(json.dumps(state))


def fill_sqlite(root: Path, target: str, events: int, log: Any = print) -> dict[str, Any]:
    """Copy the base's rows until the store holds >= `events` child entries."""
    state = fill_state(root)
    events_db = sqlite3.connect(root / "events.sqlite", isolation_level=None)
    views_db = sqlite3.connect(root / "chronology.sqlite", isolation_level=None)
    keys_db = sqlite3.connect(root / "keys.sqlite", isolation_level=None)
    for db in (events_db, views_db, keys_db):
        db.create_function("renamed", 2, renamed, deterministic=True)
        db.create_function("document_name", 2, _document_name, deterministic=True)
        db.execute("PRAGMA cache_size = -1000000")  # 1 GB
    try:
        if state is None:
            state = _sqlite_base(root, events_db, views_db, target)
        for db in (views_db, keys_db):
            db.execute("ATTACH DATABASE ? AS fill_source", (str(root / "fill-source.sqlite"),))
        base_entries = state["base_entries"] - state["target_entries"]
        copies = max(0, -(-(events - state["base_entries"]) // base_entries))
        for copy in range(state["copies"] + 1, copies + 1):
            started = time.perf_counter()
            events_db.execute("BEGIN")
            events_db.execute(
                "INSERT OR IGNORE INTO stored_events "
                "(originator_id, originator_version, topic, state) "
                "SELECT renamed(?, originator_id), originator_version, topic, state "
                "FROM stored_events WHERE rowid <= ? AND originator_id != ? ORDER BY rowid",
                (copy, state["base_head"], target),
            )
            events_db.execute("COMMIT")
            views_db.execute("BEGIN")
            views_db.execute(
                "INSERT OR IGNORE INTO chronology (stream, sealed) "
                "SELECT document_name(?, stream), sealed FROM fill_source.documents",
                (copy,),
            )
            views_db.execute("COMMIT")
            keys_db.execute("BEGIN")
            keys_db.execute(
                "INSERT OR IGNORE INTO data_keys (scope, key_id, kek_id, wrapped) "
                "SELECT 'child:' || renamed(?, substr(scope, 7)), key_id, kek_id, wrapped "
                "FROM data_keys WHERE scope LIKE 'child:%' AND scope IN "
                "(SELECT 'child:' || stream FROM fill_source.streams)",
                (copy,),
            )
            keys_db.execute("COMMIT")
            head = events_db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
            _move_position(views_db, state, head)
            state["copies"] = copy
            _save(root, state)
            log(f"fill: copy {copy}/{copies} in {time.perf_counter() - started:.1f} s")
        state["entries"] = state["base_entries"] + state["copies"] * base_entries
        if state.get("rows_at_copies") != state["copies"]:
            state["rows"] = events_db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
            state["rows_at_copies"] = state["copies"]
        _save(root, state)
        return state
    finally:
        for db in (events_db, views_db, keys_db):
            db.close()


def _sqlite_base(
    root: Path, events_db: sqlite3.Connection, views_db: sqlite3.Connection, target: str
) -> dict[str, Any]:
    base_head = events_db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
    position = views_db.execute("SELECT position FROM chronology_position").fetchone()[0]
    if position != base_head:
        raise SystemExit(
            f"fill: the projection is at {position}, the log at {base_head}: fold it first"
        )
    topic = "hub.domain.records:ChildRecordEntry"
    entries, target_entries = events_db.execute(
        "SELECT COUNT(*), SUM(originator_id = ?) FROM stored_events WHERE topic = ?",
        (target, topic),
    ).fetchone()
    # The base's documents and child streams, apart from the copies, for every copy to read.
    source = root / "fill-source.sqlite"
    source.unlink(missing_ok=True)
    views_db.execute("ATTACH DATABASE ? AS fill_source", (str(source),))
    views_db.execute(
        "CREATE TABLE fill_source.documents AS SELECT stream, sealed FROM chronology "
        "WHERE stream != ? AND stream NOT LIKE ?",
        (target, f"{target}:%"),
    )
    views_db.execute(
        "CREATE TABLE fill_source.streams AS SELECT stream FROM fill_source.documents "
        "WHERE stream NOT LIKE '%:%'"
    )
    views_db.execute("DETACH DATABASE fill_source")
    state = {
        "base_head": base_head,
        "base_entries": entries,
        "target_entries": target_entries,
        "copies": 0,
    }
    _save(root, state)
    return state


def _move_position(views_db: sqlite3.Connection, state: dict[str, Any], head: int) -> None:
    """The copies' documents are in: the projection has folded the log up to `head` (a copy
    interrupted before this is completed by the next run: its inserts skip what is there)."""
    views_db.execute("UPDATE chronology_position SET position = ? WHERE id = 1", (head,))


def fill_postgres(
    conninfo: str, schema: str, root: Path, target: str, events: int, log: Any = print
) -> dict[str, Any]:
    """The same in a PostgreSQL schema (`target` is the target child's stream, hex)."""
    import psycopg

    state = fill_state(root)
    s = f'"{schema}"'
    renamed_sql = "md5(%(copy)s::text || ':' || replace(originator_id::text, '-', ''))::uuid"
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute("SET maintenance_work_mem = '1GB'")
        if state is None:
            head = _one(db.execute(f"SELECT MAX(notification_id) FROM {s}.hub_events").fetchone())[
                0
            ]
            position = _one(
                db.execute(f"SELECT position FROM {s}.hub_chronology_position").fetchone()
            )[0]
            if position != head:
                raise SystemExit(
                    f"fill: the projection is at {position}, the log at {head}: fold it first"
                )
            entries, target_entries = _one(
                db.execute(
                    f"SELECT COUNT(*), COUNT(*) FILTER (WHERE originator_id = %s) "
                    f"FROM {s}.hub_events WHERE topic = %s",
                    (target, "hub.domain.records:ChildRecordEntry"),
                ).fetchone()
            )
            db.execute(f"DROP TABLE IF EXISTS {s}.bench_fill_documents")
            db.execute(
                f"CREATE TABLE {s}.bench_fill_documents AS SELECT stream, sealed "
                f"FROM {s}.hub_chronology WHERE stream != %s AND stream NOT LIKE %s",
                (target, f"{target}:%"),
            )
            state = {
                "base_head": head,
                "base_entries": entries,
                "target_entries": target_entries,
                "copies": 0,
                "indexes": _pg_indexes(db, schema),
            }
            _save(root, state)
        base_entries = state["base_entries"] - state["target_entries"]
        copies = max(0, -(-(events - state["base_entries"]) // base_entries))
        if state["copies"] < copies:
            # The base's rows, apart from the copies (read by every copy without scanning the
            # growing table); the fill's own, dropped when it is done.
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.bench_fill_events AS SELECT originator_id, "
                f"originator_version, topic, state FROM {s}.hub_events "
                "WHERE notification_id <= %s AND originator_id != %s ORDER BY notification_id",
                (state["base_head"], target),
            )
            for name, _ in state["indexes"]:
                db.execute(f"ALTER TABLE {s}.hub_events DROP CONSTRAINT IF EXISTS {name}")
                db.execute(f"DROP INDEX IF EXISTS {s}.{name}")
        for copy in range(state["copies"] + 1, copies + 1):
            started = time.perf_counter()
            with db.transaction():
                db.execute(
                    f"INSERT INTO {s}.hub_events "
                    "(originator_id, originator_version, topic, state) "
                    f"SELECT {renamed_sql}, originator_version, topic, state "
                    f"FROM {s}.bench_fill_events",
                    {"copy": copy},
                )
                db.execute(
                    f"INSERT INTO {s}.hub_chronology (stream, sealed) SELECT CASE "
                    "WHEN stream LIKE 'household:%%' "
                    "THEN 'household:' || md5(%(copy)s::text || ':' || substr(stream, 11)) "
                    "ELSE md5(%(copy)s::text || ':' || split_part(stream, ':', 1)) || "
                    "CASE WHEN strpos(stream, ':') > 0 "
                    "THEN ':' || split_part(stream, ':', 2) ELSE '' END END, sealed "
                    f"FROM {s}.bench_fill_documents",
                    {"copy": copy},
                )
                db.execute(
                    f"INSERT INTO {s}.hub_data_keys (scope, key_id, kek_id, wrapped) "
                    "SELECT 'child:' || md5(%(copy)s::text || ':' || substr(k.scope, 7)), "
                    f"k.key_id, k.kek_id, k.wrapped FROM {s}.hub_data_keys k "
                    f"JOIN {s}.bench_fill_documents d ON k.scope = 'child:' || d.stream",
                    {"copy": copy},
                )
                # The copies' documents are in: the projection has folded up to the new head
                # (the sequence's last value; the event table is without its indexes now).
                db.execute(
                    f"UPDATE {s}.hub_chronology_position SET position = (SELECT last_value "
                    "FROM pg_get_serial_sequence(%s, 'notification_id') AS seq(name), "
                    "LATERAL (SELECT pg_sequence_last_value(seq.name::regclass)) AS v(last_value))",
                    (f"{s}.hub_events",),
                )
                state["copies"] = copy
                _save(root, state)
            log(f"fill: copy {copy}/{copies} in {time.perf_counter() - started:.1f} s")
        if copies and not _pg_indexes(db, schema):
            started = time.perf_counter()
            for name, definition in state["indexes"]:
                if definition.startswith("CREATE"):
                    db.execute(definition)
                else:
                    db.execute(f"ALTER TABLE {s}.hub_events ADD CONSTRAINT {name} {definition}")
            log(f"fill: indexes built in {time.perf_counter() - started:.1f} s")
        if state["copies"] and state.get("rows_at_copies") != state["copies"]:
            # (bench_fill_documents is kept, for a later run filling further)
            db.execute(f"DROP TABLE IF EXISTS {s}.bench_fill_events")
            head = _one(db.execute(f"SELECT MAX(notification_id) FROM {s}.hub_events").fetchone())[
                0
            ]
            db.execute(f"UPDATE {s}.hub_chronology_position SET position = %s", (head,))
            for table in ("hub_events", "hub_chronology", "hub_data_keys"):
                db.execute(f"VACUUM ANALYZE {s}.{table}")
            state["rows"] = _one(db.execute(f"SELECT COUNT(*) FROM {s}.hub_events").fetchone())[0]
            state["rows_at_copies"] = state["copies"]
        state["entries"] = state["base_entries"] + state["copies"] * base_entries
        _save(root, state)
        return state


def _pg_indexes(db: Any, schema: str) -> list[tuple[str, str]]:
    """(name, definition) of the event table's constraints (as `ALTER TABLE ... ADD`) and
    other indexes (as `CREATE INDEX`)."""
    constraints = db.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = 'hub_events' AND c.contype IN ('p', 'u')",
        (schema,),
    ).fetchall()
    names = {name for name, _ in constraints}
    indexes = db.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
        "AND tablename = 'hub_events'",
        (schema,),
    ).fetchall()
    return [*constraints, *[(n, d) for n, d in indexes if n not in names]]
