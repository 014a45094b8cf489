"""Benchmark: a national-year projection (10M events), measured at the largest feasible size.

    python -m benchmarks.national [--events 1000000] [--children 200000]

A national year is about 10M events. Ingesting 10M on this machine in a benchmark run is not
feasible, so this measures at `--events` (1M by default) and extrapolates, saying how:

- disk: the data directory's bytes (event store, WAL, key store) per million events, times 10.
  SQLite tables and indexes grow linearly in rows (B-tree depth grows with log n, which adds
  pages, not bytes per row), so linear extrapolation is the method;
- ingest: the rate of each tenth of the run is recorded, so a slowdown as the store grows is
  visible; the 10M time is extrapolated from the rate of the last tenth (the slowest, usually);
- memory: peak RSS of the process, during ingest and overall (the projection rebuild and the
  queries come after). Ingest's in-memory state is bounded caches (stream heads 50k, data keys
  20k, child pseudonyms 100k), not proportional to the store; run two sizes (e.g. 200k and 1M)
  to see whether RSS still grows before extrapolating it;
- chronology and audit queries are then measured on the big store: p50/p99 of `hub chronology`
  for a child with 1,000 events, and two DPO audit queries.

Baseline in the same run: raw `eventsourcing` recorder inserts of the rows the hub wrote in
the last tenth of the run (same rows, same number of batches), into a fresh store.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from benchmarks.common import Figure, add_common_args, peak_rss_bytes, refuse, write_result
from benchmarks.workload import AGENCIES, canonical_lines, register_workload_agencies
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.ingest import InboundMessage
from hub.settings import HubSettings

TARGET_NHS = "9434765919"
PRACTITIONER = "lcpp-0001"
INGEST_RECORD = "ingest.json"  # what an --ingest-only run measured, beside its store
DPO = "dpo-0001"


def target_lines(count: int) -> Iterator[tuple[str, bytes]]:
    """A heavy-tail child with `count` events over ~3 years, ending in an s47 enquiry (so the
    local authority practitioner has a relationship and the chronology is disclosed)."""
    now = datetime.now(UTC)
    for i in range(count):
        agency_id, agency_type, kind = AGENCIES[i % 4]
        occurred = now - timedelta(days=1000) + timedelta(hours=i * 23)
        if i == count - 1:
            agency_id, agency_type, kind = (*AGENCIES[0][:2], "la.s47-enquiry-started")
            occurred = now - timedelta(days=3)
        document = {
            "schema_version": 1,
            "event_id": f"TARGET-{i}",
            "revision": 1,
            "agency": {"id": agency_id, "type": agency_type},
            "child": {"nhs_number": TARGET_NHS},
            "kind": kind,
            "categories": ["neglect"],
            "occurred_at": occurred.isoformat(),
            "recorded_at": (occurred + timedelta(hours=2)).isoformat(),
            "summary": "Synthetic event for the national benchmark " + "x" * 120,
            "details": {"note": "synthetic"},
            "sensitivity": "standard",
            "lawful_basis": "public-task",
        }
        yield agency_id, json.dumps(document).encode()


def ingest(hub: Hub, events: int, children: int, batch: int) -> tuple[list[float], list[int]]:
    """Ingest through the core in per-agency batches; (seconds per tenth, last row id per tenth)."""
    tenth = max(1, events // 10)
    batches: dict[str, list[InboundMessage]] = {}
    position: dict[str, int] = {}
    seconds: list[float] = []
    marks: list[int] = []
    started = time.perf_counter()

    def flush(agency: str) -> None:
        hub.ingest.ingest(batches.pop(agency))

    lines = target_lines(min(1000, events))
    background = canonical_lines(max(0, events - 1000), children=children)
    for done, (agency, line) in enumerate(_chain(lines, background), start=1):
        position[agency] = position.get(agency, 0) + 1
        batches.setdefault(agency, []).append(
            InboundMessage(f"national:{agency}", position[agency], line, agency)
        )
        if len(batches[agency]) >= batch:
            flush(agency)
        if done % tenth == 0 or done == events:
            for pending in list(batches):
                flush(pending)
            now = time.perf_counter()
            seconds.append(now - started)
            marks.append(hub.store.recorder.max_notification_id() or 0)
            started = now
            print(f"  {done:>10,} events, last tenth {tenth / seconds[-1]:,.0f}/s", flush=True)
    return seconds, marks


def _chain(*parts: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    for part in parts:
        yield from part


def rows_between(hub: Hub, first: int, last: int) -> list[StoredEvent]:
    rows: list[StoredEvent] = []
    start = first
    while start <= last:
        page = hub.store.recorder.select_notifications(start=start, limit=5000, stop=last)
        rows.extend(
            StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in page
        )
        if not page:
            break
        start = page[-1].id + 1
    return rows


def raw_inserts(rows: list[StoredEvent], path: Path, batches: int) -> float:
    datastore = SQLiteDatastore(db_name=str(path))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    size = max(1, round(len(rows) / max(batches, 1)))
    started = time.perf_counter()
    for i in range(0, len(rows), size):
        recorder.insert_events(rows[i : i + size])
    elapsed = time.perf_counter() - started
    datastore.close()
    return elapsed


def checkpointed_bytes(data_dir: Path) -> dict[str, int]:
    """Bytes per file after folding every SQLite WAL into its database (a WAL holds copies of
    pages, not extra data; left alone it would count some rows twice)."""
    for database in data_dir.rglob("*.sqlite"):
        with closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        str(f.relative_to(data_dir)): f.stat().st_size for f in data_dir.rglob("*") if f.is_file()
    }


def timings(call: object, reads: int) -> list[float]:
    assert callable(call)
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def pct(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] * 1000
    return statistics.quantiles(sorted(samples), n=100, method="inclusive")[q - 1] * 1000


def ingest_phase(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """Ingest `--events` into a fresh store and measure it; what the rest of the run needs."""
    hub = bootstrap(HubSettings(data_dir=data_dir, directory=SAMPLE_DIRECTORY_PATH))
    register_workload_agencies(hub)
    seconds, marks = ingest(hub, args.events, args.children, args.batch_size)
    rss_after_ingest = peak_rss_bytes()
    tenth_events = args.events / len(seconds)
    # Baseline: the last tenth's rows, inserted raw (hub's batches: one per agency flush).
    last_rows = rows_between(hub, (marks[-2] if len(marks) > 1 else 0) + 1, marks[-1])
    raw_s = raw_inserts(
        last_rows, data_dir.parent / "raw.sqlite", max(1, round(tenth_events / args.batch_size))
    )
    (data_dir.parent / "raw.sqlite").unlink()
    hub.store.recorder.datastore.close()  # type: ignore[attr-defined]
    hub.close()
    return {
        "events": args.events,
        "children": args.children,
        "seconds": seconds,
        "marks": marks,
        "raw_s": raw_s,
        "rss_after_ingest": rss_after_ingest,
        "files": checkpointed_bytes(data_dir),
    }


def run(args: argparse.Namespace) -> None:
    configure_logging("warning")
    if args.store:  # the store a previous `--ingest-only` run kept, and its ingest figures
        scratch = args.store
        if not (scratch / INGEST_RECORD).is_file() or not (scratch / "hub").is_dir():
            refuse(
                f"{scratch} is not a store an --ingest-only run kept (no {INGEST_RECORD} and "
                f"hub/ there); build one with: python -m benchmarks.national --ingest-only "
                f"--events N --data-dir DIR (it prints the --store path to give here)"
            )
        ingested = json.loads((scratch / INGEST_RECORD).read_text())
        args.events, args.children = ingested["events"], ingested["children"]
    else:
        scratch = Path(tempfile.mkdtemp(prefix="hub-bench-national-", dir=args.data_dir))
    data_dir = scratch / "hub"
    keep = args.keep or args.ingest_only or args.store
    try:
        if not args.store:
            ingested = ingest_phase(args, data_dir)
            (scratch / INGEST_RECORD).write_text(json.dumps(ingested))
            if args.ingest_only:
                print(f"store kept: rerun with --store {scratch}", flush=True)
                return
        seconds, marks = ingested["seconds"], ingested["marks"]
        rss_after_ingest, raw_s = ingested["rss_after_ingest"], ingested["raw_s"]
        files = ingested["files"]
        ingest_s = sum(seconds)
        rows = marks[-1]
        tenth_events = args.events / len(seconds)
        last_rate = tenth_events / seconds[-1]
        first_rate = tenth_events / seconds[0]
        disk = sum(files.values())

        hub = bootstrap(HubSettings(data_dir=data_dir, directory=SAMPLE_DIRECTORY_PATH))

        register_workload_agencies(hub)
        started = time.perf_counter()
        projected = hub.projection.rebuild()
        rebuild_s = time.perf_counter() - started

        child = ChildRef(nhs_number=TARGET_NHS)
        view = hub.gate.view(child, PRACTITIONER, Purpose.CHILD_PROTECTION_ENQUIRY)
        entries = len(view.entries)
        chronology = timings(
            lambda: hub.gate.view(child, PRACTITIONER, Purpose.CHILD_PROTECTION_ENQUIRY),
            args.reads,
        )
        queries = hub.audit_queries
        who_saw = timings(lambda: queries.who_saw_child(DPO, child), args.reads)
        practitioner = timings(lambda: queries.what_practitioner_saw(DPO, PRACTITIONER), args.reads)
        hub.close()
        files_with_projection = checkpointed_bytes(data_dir)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)

    per_million = disk / (args.events / 1e6)
    rss = peak_rss_bytes()
    figures = [
        Figure(
            name=f"national: ingest rate, last tenth of {args.events:,} events",
            value=round(last_rate),
            unit="events/s",
            baseline="raw eventsourcing inserts of the same (last tenth's) rows",
            baseline_value=round(tenth_events / raw_s),
        ),
        Figure(name="national: ingest rate, first tenth", value=round(first_rate), unit="events/s"),
        Figure(name="national: disk per million events", value=round(per_million), unit="bytes"),
        Figure(
            name="national: disk per million events, with the chronology projection",
            value=round(sum(files_with_projection.values()) / (args.events / 1e6)),
            unit="bytes",
        ),
        Figure(
            name="national: disk for 10M events (extrapolated, linear)",
            value=round(per_million * 10),
            unit="bytes",
        ),
        Figure(name="national: peak RSS during ingest", value=rss_after_ingest, unit="bytes"),
        Figure(
            name="national: peak RSS overall (with rebuild and queries)", value=rss, unit="bytes"
        ),
        Figure(
            name="national: ingest time for 10M events (extrapolated)",
            value=round(10_000_000 / last_rate),
            unit="s",
            better="lower",
        ),
        Figure(
            name=f"national: projection rebuild ({rows:,} rows)",
            value=round(projected / rebuild_s),
            unit="events/s",
        ),
        Figure(
            name=f"national: chronology p50, child with {entries} entries",
            value=round(pct(chronology, 50), 2),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="national: chronology p99",
            value=round(pct(chronology, 99), 2),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="national: audit 'who saw this child' p50",
            value=round(pct(who_saw, 50), 2),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="national: audit 'who saw this child' p99",
            value=round(pct(who_saw, 99), 2),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="national: audit 'what did this practitioner see' p50",
            value=round(pct(practitioner, 50), 2),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="national: audit 'what did this practitioner see' p99",
            value=round(pct(practitioner, 99), 2),
            unit="ms",
            better="lower",
        ),
    ]
    write_result(
        args,
        "national",
        figures,
        params={
            "events": args.events,
            "children": args.children,
            "batch_size": args.batch_size,
            "reads": args.reads,
            "seed": 20261122,
        },
        notes=[
            "measured at the size given, extrapolated to 10M: disk linearly (bytes per million "
            "x 10); ingest time from the last tenth's rate; memory: peak RSS as measured (the "
            "hub's caches are bounded, so it does not grow with the store)",
            "audit query latency grows with the audit ledger, which here holds only this run's "
            "reads, not a year of disclosures",
        ],
        extra={
            "rows": rows,
            "ingest_seconds": round(ingest_s, 1),
            "seconds_per_tenth": [round(s, 2) for s in seconds],
            "data_dir_bytes": disk,
            "files_after_ingest": files,
            "files_after_projection_and_queries": files_with_projection,
            "rebuild_seconds": round(rebuild_s, 1),
            "raw_last_tenth_seconds": round(raw_s, 3),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--events", type=int)
    parser.add_argument("--children", type=int)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--reads", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the store (under --data-dir)")
    parser.add_argument(
        "--ingest-only", action="store_true", help="ingest, keep the store and stop there"
    )
    parser.add_argument(
        "--store", type=Path, help="measure a store an `--ingest-only` run kept (no ingest)"
    )
    args = parser.parse_args()
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    args.children = args.children or max(1, args.events // 5)
    args.reads = args.reads or (10 if args.quick else 50)
    run(args)


if __name__ == "__main__":
    main()
