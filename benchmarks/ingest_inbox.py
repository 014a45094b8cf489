"""Benchmark: ingest through the file inbox, beside raw eventsourcing inserts of the same rows.

    python -m benchmarks.ingest_inbox [--events 100000] [--children 20000] [--store sqlite]
    python -m benchmarks.ingest_inbox --store postgres      # a fresh schema, dropped afterwards

The hub's figure: every line of four agency files read, validated, pseudonymised, deduplicated,
sealed (AES-256-GCM per child key) and committed with its idempotency claim, the batch ledger
and the transport position, one transaction per batch.

Baselines, in the same run on the same machine:

- "same rows" (the target's baseline): the very rows the hub wrote (sealed child entries,
  idempotency claims, ledger entries, as read back from its store) inserted into a fresh store
  of the same kind by a plain `eventsourcing` application recorder, in as many batches as the
  hub committed. Reported as input events per second of that work: events / its seconds.
- "one plain row per event" (the earlier baseline, kept for comparison): one unencrypted row
  per input event with the event's JSON as state, same batch size.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from benchmarks.common import (
    Figure,
    add_common_args,
    dir_bytes,
    peak_rss_bytes,
    require_postgres,
    write_result,
)
from benchmarks.workload import canonical_lines, register_workload_agencies
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import bootstrap
from hub.domain.canonical_event import CanonicalEvent
from hub.ingest import BatchOutcome
from hub.reports.operations import store_status
from hub.settings import HubSettings
from hub.transports.inbox import FileInbox, write_inbox_file

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


class Backend:
    """A fresh store of one kind for the hub, and fresh raw recorders beside it."""

    def __init__(self, kind: str, root: Path, dsn: str) -> None:
        self.kind, self.root, self.dsn = kind, root, dsn
        self.schemas: list[str] = []
        self._closers: list[Any] = []

    def _schema(self) -> str:
        import psycopg

        schema = f"hub_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as db:
            db.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return schema

    def hub_settings(self, data_dir: Path, batch_size: int) -> HubSettings:
        if self.kind == "sqlite":
            return HubSettings(data_dir=data_dir, batch_size=batch_size)
        return HubSettings(
            data_dir=data_dir,
            batch_size=batch_size,
            store="postgres",
            postgres_dsn=self.dsn,
            postgres_schema=self._schema(),
        )

    def raw_recorder(self, name: str) -> ApplicationRecorder:
        if self.kind == "sqlite":
            datastore = SQLiteDatastore(db_name=str(self.root / f"{name}.sqlite"))
            recorder: ApplicationRecorder = SQLiteApplicationRecorder(datastore)
        else:
            from urllib.parse import urlparse

            from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

            url = urlparse(self.dsn)
            datastore = PostgresDatastore(  # type: ignore[assignment]
                dbname=url.path.lstrip("/"),
                host=url.hostname or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password or "",
                schema=self._schema(),
            )
            recorder = PostgresApplicationRecorder(datastore)  # type: ignore[arg-type]
        recorder.create_table()  # type: ignore[attr-defined]
        self._closers.append(datastore)
        return recorder

    def fastest_inserts(self, rows: list[StoredEvent], batch: int, name: str) -> Timing:
        """The same rows by the driver's fastest path into a fresh eventsourcing table, one
        transaction per batch: sqlite3 `executemany` (SQLite), COPY in binary format
        (PostgreSQL)."""
        import psycopg

        recorder = self.raw_recorder(name)
        if self.kind == "sqlite":
            return self._executemany(self.root / f"{name}.sqlite", recorder, rows, batch)
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'  # type: ignore[attr-defined]
        statement = (
            f"COPY {table} (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        )
        with psycopg.connect(self.dsn) as db:

            def insert() -> None:
                for i in range(0, len(rows), batch):
                    with (
                        db.transaction(),
                        db.cursor() as cursor,
                        cursor.copy(statement) as copy,
                    ):
                        copy.set_types(("uuid", "int8", "text", "bytea"))
                        for r in rows[i : i + batch]:
                            copy.write_row(
                                (r.originator_id, r.originator_version, r.topic, r.state)
                            )

            return timed(insert)

    @staticmethod
    def _executemany(
        path: Path, recorder: ApplicationRecorder, rows: list[StoredEvent], batch: int
    ) -> Timing:
        import sqlite3

        db = sqlite3.connect(path, isolation_level=None)
        statement = (
            f"INSERT INTO {recorder.events_table_name} "  # type: ignore[attr-defined]
            "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)"
        )
        values = [(r.originator_id.hex, r.originator_version, r.topic, r.state) for r in rows]  # type: ignore[union-attr]

        def insert() -> None:
            for i in range(0, len(values), batch):
                db.execute("BEGIN")
                db.executemany(statement, values[i : i + batch])
                db.execute("COMMIT")

        try:
            return timed(insert)
        finally:
            db.close()

    def close(self) -> None:
        for datastore in self._closers:
            with suppress(Exception):
                datastore.close()
        if self.schemas:
            import psycopg

            with psycopg.connect(self.dsn, autocommit=True) as db:
                for schema in self.schemas:
                    db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def write_inbox(inbox: Path, events: int, children: int) -> list[bytes]:
    by_agency: dict[str, list[bytes]] = {}
    for agency, line in canonical_lines(events, children=children):
        by_agency.setdefault(agency, []).append(line)
    for agency, lines in by_agency.items():
        write_inbox_file(inbox, agency, "bench", lines)
    return [line for lines in by_agency.values() for line in lines]


def hub_ingest(settings: HubSettings, inbox: Path) -> tuple[Timing, int, int, list[StoredEvent]]:
    """(time taken, events recorded, batches, every row the hub wrote)."""
    hub = bootstrap(settings)
    register_workload_agencies(hub)
    outcomes: list[BatchOutcome] = []
    elapsed = timed(
        lambda: outcomes.extend(FileInbox(inbox).drain(hub.ingest, settings.batch_size))
    )
    events = store_status(hub.store, "").events
    rows: list[StoredEvent] = []
    start = 1
    while True:
        page = hub.store.recorder.select_notifications(start=start, limit=5000)
        rows.extend(
            StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in page
        )
        if len(page) < 5000:
            break
        start = page[-1].id + 1
    hub.close()
    return elapsed, events, len(outcomes), rows


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # this process's CPU time: steadier than wall time on a shared machine


def timed(work: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def timed_inserts(recorder: ApplicationRecorder, rows: list[StoredEvent], batch: int) -> Timing:
    def insert() -> None:
        for i in range(0, len(rows), batch):
            recorder.insert_events(rows[i : i + batch])

    return timed(insert)


def median_of(runs: list[Timing]) -> Timing:
    ordered = sorted(runs, key=lambda t: t.wall)
    return ordered[len(ordered) // 2]


def validate_all(lines: list[bytes]) -> Timing:
    """Only parsing and validating each line as a canonical event (pydantic, schema v1), with
    the cyclic collector paused as ingest pauses it during a batch."""

    def validate() -> None:
        for line in lines:
            CanonicalEvent.model_validate_json(line)

    gc.disable()
    try:
        return timed(validate)
    finally:
        gc.enable()


def seal_all(rows: list[StoredEvent]) -> Timing:
    """Only AES-256-GCM over each row's state (one key, a fresh nonce per row)."""
    cipher = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal() -> None:
        for row in rows:
            cipher.encrypt(os.urandom(12), row.state, b"ad")

    return timed(seal)


def run(args: argparse.Namespace) -> None:
    configure_logging("warning")
    store = args.store
    with tempfile.TemporaryDirectory(prefix="hub-bench-inbox-") as tmp:
        root = Path(tmp)
        backend = Backend(store, root, args.postgres_dsn)
        try:
            lines = write_inbox(root / "inbox", args.events, args.children)
            settings = backend.hub_settings(root / "hub", args.batch_size)
            hub_t, recorded, batches, hub_rows = hub_ingest(settings, root / "inbox")
            assert recorded == args.events, (recorded, args.events)
            hub_disk = dir_bytes(root / "hub") if store == "sqlite" else None

            # Baselines are short, so each is repeated into a fresh store; the median counts.
            same_batch = max(1, round(len(hub_rows) / max(batches, 1)))
            plain = [StoredEvent(uuid.uuid4(), 1, "bench:Event", line) for line in lines]
            same_runs, plain_runs, fast_runs = [], [], []
            for number in range(args.repeat):
                recorder = backend.raw_recorder(f"same-rows-{number}")
                same_runs.append(timed_inserts(recorder, hub_rows, same_batch))
                fast_runs.append(backend.fastest_inserts(hub_rows, same_batch, f"fast-{number}"))
                recorder = backend.raw_recorder(f"plain-{number}")
                plain_runs.append(timed_inserts(recorder, plain, args.batch_size))
            same_t, plain_t = median_of(same_runs), median_of(plain_runs)
            fast_t = median_of(fast_runs)
            validate_t, seal_t = validate_all(lines), seal_all(hub_rows)
        finally:
            backend.close()
    hub_s, same_s, plain_s, fast_s = hub_t.wall, same_t.wall, plain_t.wall, fast_t.wall
    floor_s = validate_t.wall + seal_t.wall + same_s
    fast_floor_s = validate_t.wall + seal_t.wall + fast_s
    floor_cpu = validate_t.cpu + seal_t.cpu + same_t.cpu
    fastest = "sqlite3 executemany" if store == "sqlite" else "psycopg COPY (binary)"

    label = "SQLite" if store == "sqlite" else "PostgreSQL"
    hub_rate = args.events / hub_s
    figures = [
        Figure(
            name=f"ingest, file inbox -> {label}",
            value=round(hub_rate),
            unit="events/s",
            baseline=f"raw eventsourcing {label} recorder inserts of the same rows "
            f"({len(hub_rows) / args.events:.2f} rows per event)",
            baseline_value=round(args.events / same_s),
        ),
        Figure(
            name=f"ingest, file inbox -> {label} (vs validate + seal + insert floor)",
            value=round(hub_rate),
            unit="events/s",
            baseline="only pydantic validation of each line, AES-GCM of each row, and the "
            "same-rows inserts: the least any ingest that validates and encrypts can do",
            baseline_value=round(args.events / floor_s),
            target={"ratio_min": 0.7} if store == "sqlite" else {},
        ),
        Figure(
            name=f"... the same in CPU time: ingest per event vs the floor ({label})",
            value=round(hub_t.cpu / args.events * 1e6, 1),
            unit="us CPU/ev",
            baseline="validation + sealing + same-rows inserts, CPU time per event",
            baseline_value=round(floor_cpu / args.events * 1e6, 1),
            target={"ratio_max": 1 / 0.7} if store == "sqlite" else {},
            better="lower",
        ),
        Figure(
            name=f"same rows written by the recorder vs by {fastest} ({label})",
            value=round(args.events / same_s),
            unit="events/s",
            baseline=f"the same rows by {fastest}, same batches",
            baseline_value=round(args.events / fast_s),
        ),
        Figure(
            name=f"ingest, file inbox -> {label} (vs floor with {fastest})",
            value=round(hub_rate),
            unit="events/s",
            baseline=f"validation + sealing + the same rows written by {fastest}",
            baseline_value=round(args.events / fast_floor_s),
        ),
        Figure(
            name=f"highest reachable ratio to same-rows inserts ({label})",
            value=round(same_s / floor_s, 3),
            unit="ratio",
        ),
        Figure(
            name=f"ingest, file inbox -> {label} (vs one plain row per event)",
            value=round(hub_rate),
            unit="events/s",
            baseline=f"raw eventsourcing {label} inserts, one unencrypted row per event",
            baseline_value=round(args.events / plain_s),
        ),
    ]
    write_result(
        args,
        f"ingest_inbox_{store}",
        figures,
        store=store,
        params={
            "events": args.events,
            "children": args.children,
            "batch_size": args.batch_size,
            "seed": 20261122,
        },
        notes=[
            "ratio = hub events/s / (events / seconds the raw recorder took for the same rows)",
            "floor = seconds to validate every line + seal every row + insert the same rows; "
            "floor / same-rows is the highest ratio any ingest doing that work could reach",
            f"CPU-time ratio (steadier on a shared machine): "
            f"{same_t.cpu / hub_t.cpu:.3f} (hub {hub_t.cpu:.2f} s, same rows {same_t.cpu:.2f} s)",
            f"the hub wrote {len(hub_rows):,} rows in {batches} batches; the same-rows "
            f"baseline inserted them in batches of {same_batch}",
        ],
        extra={
            "hub_seconds": round(hub_s, 3),
            "hub_cpu_seconds": round(hub_t.cpu, 3),
            "same_rows_seconds": round(same_s, 3),
            "same_rows_cpu_seconds": round(same_t.cpu, 3),
            "fastest_path": fastest,
            "fastest_path_runs_seconds": [round(t.wall, 3) for t in fast_runs],
            "floor_cpu_seconds": round(floor_cpu, 3),
            "same_rows_runs_seconds": [round(t.wall, 3) for t in same_runs],
            "plain_rows_runs_seconds": [round(t.wall, 3) for t in plain_runs],
            "validate_only_seconds": round(validate_t.wall, 3),
            "seal_only_seconds": round(seal_t.wall, 3),
            "cpu_ratio_same_rows": round(same_t.cpu / hub_t.cpu, 3),
            "same_rows_rows_per_s": round(len(hub_rows) / same_s),
            "plain_rows_seconds": round(plain_s, 3),
            "hub_rows": len(hub_rows),
            "hub_data_dir_bytes": hub_disk,
            "peak_rss_bytes": peak_rss_bytes(),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--events", type=int)
    parser.add_argument("--children", type=int)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, help="baseline repetitions (median counts)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-dsn", default=POSTGRES_DSN)
    args = parser.parse_args()
    args.events = args.events or (5_000 if args.quick else 100_000)
    args.children = args.children or max(1, args.events // 5)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.store == "postgres":
        require_postgres(args.postgres_dsn)
    run(args)


if __name__ == "__main__":
    main()
