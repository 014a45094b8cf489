"""Benchmark: ingest through the file inbox into SQLite, beside raw eventsourcing inserts.

    python -m benchmarks.ingest_inbox [--events 100000] [--children 20000]

Prints a table and writes benchmarks/results/ingest_inbox-<timestamp>.json with the machine,
versions and commit. Both figures are measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from benchmarks.workload import canonical_lines
from hub.adapters.transports.inbox import FileInbox, write_inbox_file
from hub.bootstrap import bootstrap
from hub.reports import store_status
from hub.settings import HubSettings
from hub.structured_logging import configure_logging


def hub_ingest(inbox: Path, data_dir: Path, batch_size: int) -> tuple[float, int]:
    hub = bootstrap(HubSettings(data_dir=data_dir, batch_size=batch_size))
    started = time.perf_counter()
    FileInbox(inbox).drain(hub.ingest, batch_size)
    elapsed = time.perf_counter() - started
    events = store_status(hub.store, "").events
    hub.close()
    return elapsed, events


def raw_recorder_inserts(lines: list[bytes], db_path: Path, batch_size: int) -> float:
    """The same number of rows, same payload sizes, one stream per row, plain eventsourcing."""
    datastore = SQLiteDatastore(db_name=str(db_path))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    rows = [StoredEvent(uuid4(), 1, "bench:Event", line) for line in lines]
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        recorder.insert_events(rows[i : i + batch_size])
    elapsed = time.perf_counter() - started
    datastore.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--children", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("warning")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        by_agency: dict[str, list[bytes]] = {}
        for agency, line in canonical_lines(args.events, children=args.children):
            by_agency.setdefault(agency, []).append(line)
        for agency, lines in by_agency.items():
            write_inbox_file(root / "inbox", agency, "bench", lines)
        all_lines = [line for lines in by_agency.values() for line in lines]

        raw_s = raw_recorder_inserts(all_lines, root / "raw.sqlite", args.batch_size)
        hub_s, recorded = hub_ingest(root / "inbox", root / "hub", args.batch_size)
        assert recorded == args.events, (recorded, args.events)

    hub_rate, raw_rate = args.events / hub_s, args.events / raw_s
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = {
        "benchmark": "ingest_inbox_sqlite",
        "events": args.events,
        "children": args.children,
        "batch_size": args.batch_size,
        "hub_events_per_s": round(hub_rate),
        "raw_recorder_rows_per_s": round(raw_rate),
        "ratio": round(hub_rate / raw_rate, 3),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
        },
        "versions": {p: version(p) for p in ("eventsourcing", "cryptography", "pydantic")},
        "commit": commit,
        "at": datetime.now(UTC).isoformat(),
    }
    print(f"{'figure':<52}{'value':>14}")
    print(f"{'hub ingest, file inbox -> SQLite (events/s)':<52}{hub_rate:>14,.0f}")
    print(f"{'raw eventsourcing recorder inserts (rows/s)':<52}{raw_rate:>14,.0f}")
    print(f"{'ratio hub / raw':<52}{hub_rate / raw_rate:>14.3f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"ingest_inbox-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
