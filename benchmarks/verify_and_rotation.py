"""Benchmark: Merkle verify throughput and KEK rotation time, on a store (built if absent).

    python -m benchmarks.verify_and_rotation [--data-dir DIR] [--events 1000000]
        [--no-rotation] [--json-out PATH] [--quick]

Measures the store in --data-dir when it holds one (the suite runs it on the store that
`benchmarks.chronology_latency --data-dir DIR` built); otherwise it builds its own: `--events`
workload events (1M; 20,000 with --quick) through the hub's ingest, in
DIR/verify-and-rotation (reused by later runs), or in a temporary directory removed afterwards
when there is no --data-dir. A store with fewer rows than --events is refused, not measured
(exit status 2, saying so). Verify (recompute every row's
leaf, compare with the index, check the signed root) is measured beside hashing the same rows
with `hashlib` in the same run (read through the recorder's `select_notifications`, one
SHA-256 per row; a pass before and one after verify, as the machine's load drifts);
rotation rewraps every data key in the key store (one per child stream, plus the hub's own
scopes).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure, add_common_args, refuse, write_result
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.key_rotation import rotate_kek
from hub.settings import HubSettings


def hash_rows(hub: Hub) -> int:
    hashed = 0
    for log in ("events", "audit"):
        recorder = hub.store.recorder if log == "events" else hub.audit.recorder
        start = 1
        while True:
            page = recorder.select_notifications(start=start, limit=2000)
            for row in page:
                hashlib.sha256(row.state).digest()
                hashed += 1
            if len(page) < 2000:
                break
            start = page[-1].id + 1
    return hashed


OWN_STORE = "verify-and-rotation"  # under --data-dir, when it holds no store of its own


def store_rows(data_dir: Path) -> int:
    """Rows in the events log of the SQLite store in data_dir; 0 when there is none (a hub is
    opened only where a store exists: opening one creates an empty store)."""
    if not (data_dir / "events.sqlite").exists():
        return 0
    hub = bootstrap(HubSettings(data_dir=data_dir))
    try:
        return hub.store.recorder.max_notification_id() or 0
    finally:
        hub.close()


def build_store(data_dir: Path, events: int) -> None:
    """`events` workload events (a fifth as many children) through the hub's ingest."""
    from benchmarks.workload import canonical_lines, register_workload_agencies
    from hub.ingest import InboundMessage

    hub = bootstrap(HubSettings(data_dir=data_dir))
    register_workload_agencies(hub)
    by_agency: dict[str, list[InboundMessage]] = {}
    for agency, line in canonical_lines(events, children=max(1, events // 5)):
        messages = by_agency.setdefault(agency, [])
        messages.append(InboundMessage(f"bench:{agency}", len(messages) + 1, line, agency))
    for messages in by_agency.values():
        for start in range(0, len(messages), 1000):
            hub.ingest.ingest(messages[start : start + 1000])
    hub.close()


def the_store(args: argparse.Namespace, base: Path) -> tuple[Path, float | None]:
    """The store to measure: base's own if it holds one, else ours under it, built if absent
    (returning the seconds building took). Refuses a store smaller than --events."""
    store, rows = base, store_rows(base)
    if not rows:
        store = base / OWN_STORE
        rows = store_rows(store)
    if not rows:
        print(f"building a store of {args.events:,} events in {store} (hub ingest)", flush=True)
        started = time.perf_counter()
        build_store(store, args.events)
        return store, time.perf_counter() - started
    if rows < args.events:
        refuse(
            f"{store} holds a store of {rows:,} rows, fewer than --events {args.events:,}: "
            f"measure it with --events {rows}, or give a new --data-dir (this module builds "
            f"the store there: python -m benchmarks.verify_and_rotation --data-dir NEW_DIR"
            f"{' --quick' if args.quick else ''})"
        )
    return store, None


def main() -> None:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    parser.add_argument(
        "--events", type=int, help="size of the store built when there is none (1M; quick 20k)"
    )
    parser.add_argument("--no-rotation", action="store_true", help="measure verify only")
    args = parser.parse_args()
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    configure_logging("warning")
    if args.data_dir is not None:
        run(args, args.data_dir)
        return
    scratch = Path(tempfile.mkdtemp(prefix="hub-bench-verify-"))
    try:
        run(args, scratch)
    finally:  # a 1M-event store is gigabytes: not left behind in /tmp
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, base: Path) -> None:
    store, build_s = the_store(args, base)
    hub = bootstrap(HubSettings(data_dir=store))

    started = time.perf_counter()
    hub.integrity.checkpoint()
    checkpoint_s = time.perf_counter() - started

    hash_rates = []
    started = time.perf_counter()
    hashed = hash_rows(hub)
    hash_rates.append(hashed / (time.perf_counter() - started))
    started = time.perf_counter()
    report = hub.integrity.verify()
    verify_s = time.perf_counter() - started
    assert report.ok, report.findings[:3]
    rows = sum(r.rows for r in report.logs)
    if not rows:  # never figures over an empty store
        hub.close()
        refuse(f"{store} holds no rows to verify")
    started = time.perf_counter()
    hash_rows(hub)
    hash_rates.append(hashed / (time.perf_counter() - started))

    figures = [
        Figure(
            f"Merkle verify, events + audit logs ({rows:,} rows)",
            round(rows / verify_s),
            "rows/s",
            "hashlib SHA-256 of the same rows read with select_notifications",
            round(statistics.mean(hash_rates)),
            target={"ratio_min": 0.5},
        ),
        Figure(
            "checkpoint (extend the trees over new rows)",
            round(checkpoint_s, 1),
            "s",
            better="lower",
        ),
    ]
    extra: dict[str, object] = {"hashlib_rows_per_s": [round(r) for r in hash_rates]}
    if build_s is not None:
        extra["build_s"] = round(build_s, 1)
    if not args.no_rotation:
        keys = hub.key_store.count()
        rotation = rotate_kek(hub.keyring)
        figures.append(
            Figure(
                f"KEK rotation ({rotation.rewrapped:,} of {keys:,} data keys)",
                round(rotation.rewrapped / rotation.seconds),
                "keys/s",
            )
        )
        extra["kek_rotation_s"] = round(rotation.seconds, 2)
    hub.close()
    write_result(
        args,
        "verify_and_rotation",
        figures,
        params={
            "rows": rows,
            "rotation": not args.no_rotation,
            "store": str(store),
            "built_here": build_s is not None,
            "events_built": args.events if build_s is not None else None,
        },
        notes=[
            "verify reads every row of both logs (straight from the SQLite table), recomputes "
            "its leaf, compares it with the leaf index, and recomputes the root of the "
            "signed checkpoint from the index",
        ],
        extra=extra,
    )


if __name__ == "__main__":
    main()
