"""Benchmark: Merkle verify throughput and KEK rotation time, on an existing store.

    python -m benchmarks.verify_and_rotation --data-dir /tmp/hub-bench-1m [--no-rotation]
        [--json-out PATH] [--quick]

Run `benchmarks.chronology_latency --data-dir DIR` first to build a store of >= 1M events
(with --quick and no store in DIR, a small one is built here). Verify (recompute every row's
leaf, compare with the index, check the signed root) is measured beside hashing the same rows
with `hashlib` in the same run (read through the recorder's `select_notifications`, one
SHA-256 per row; a pass before and one after verify, as the machine's load drifts);
rotation rewraps every data key in the key store (one per child stream, plus the hub's own
scopes).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path

from benchmarks.common import Figure, add_common_args, write_result
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


def build_quick_store(data_dir: Path) -> None:
    from benchmarks.workload import canonical_lines, register_workload_agencies
    from hub.ingest import InboundMessage

    hub = bootstrap(HubSettings(data_dir=data_dir))
    register_workload_agencies(hub)
    by_agency: dict[str, list[InboundMessage]] = {}
    for agency, line in canonical_lines(20_000, children=4_000):
        messages = by_agency.setdefault(agency, [])
        messages.append(InboundMessage(f"bench:{agency}", len(messages) + 1, line, agency))
    for messages in by_agency.values():
        for start in range(0, len(messages), 1000):
            hub.ingest.ingest(messages[start : start + 1000])
    hub.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    parser.add_argument("--no-rotation", action="store_true", help="measure verify only")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("--data-dir is required (a store built by benchmarks.chronology_latency)")
    configure_logging("warning")
    if args.quick and not (args.data_dir / "events.sqlite").exists():
        build_quick_store(args.data_dir)
    hub = bootstrap(HubSettings(data_dir=args.data_dir))

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
        params={"rows": rows, "rotation": not args.no_rotation},
        notes=[
            "verify reads every row of both logs (straight from the SQLite table), recomputes "
            "its leaf, compares it with the leaf index, and recomputes the root of the "
            "signed checkpoint from the index",
        ],
        extra=extra,
    )


if __name__ == "__main__":
    main()
