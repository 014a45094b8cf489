"""Benchmark: chronology latency for a child with 1,000 events in a store of >= 1M events.

    python -m benchmarks.chronology_latency [--events 1000000] [--children 200000] [--reads 300]

Measured per request: projection read and decrypt, policy decisions (Cedar), relationship
derivation, and the write-ahead audit entry (committed to SQLite) - everything `hub chronology`
does. Baseline in the same run: eventsourcing `repository.get` of an aggregate with the same
1,000 events (same payloads) from a plain, unencrypted SQLite application. Also reports the
ingest rate for building the store and the projection rebuild rate beside raw decryption of
the same rows.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.workload import canonical_lines
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from hub.structured_logging import configure_logging

TARGET_NHS = "9434765919"
AGENCIES = [
    ({"id": "shire-county-council", "type": "local-authority"}, "la.contact"),
    ({"id": "shire-constabulary", "type": "police"}, "police.household-arrest"),
    ({"id": "shire-icb", "type": "health"}, "health.health-visitor-concern"),
    ({"id": "school-100001", "type": "education"}, "education.safeguarding-disclosure"),
]


def target_events(count: int) -> list[tuple[str, bytes]]:
    """A heavy-tail child: `count` events over the last three years, with an s47 enquiry."""
    now = datetime.now(UTC)
    lines = []
    for i in range(count):
        agency, kind = AGENCIES[i % 4]
        occurred = now - timedelta(days=1000) + timedelta(hours=i * 23)
        if i == count - 1:
            agency, kind = AGENCIES[0][0], "la.s47-enquiry-started"
            occurred = now - timedelta(days=3)
        document = {
            "schema_version": 1,
            "event_id": f"TARGET-{i}",
            "revision": 1,
            "agency": agency,
            "child": {"nhs_number": TARGET_NHS},
            "kind": kind,
            "categories": ["neglect"],
            "occurred_at": occurred.isoformat(),
            "recorded_at": (occurred + timedelta(hours=2)).isoformat(),
            "summary": "Synthetic event for the latency benchmark " + "x" * 120,
            "details": {"note": "synthetic"},
            "sensitivity": "standard",
            "lawful_basis": "public-task",
        }
        lines.append((agency["id"], json.dumps(document).encode()))
    return lines


class ChildLog(Aggregate):
    @event("Recorded")
    def record(self, body: dict[str, Any]) -> None:
        self.last = body


def baseline_repository_get(bodies: list[dict[str, Any]], db: Path, reads: int) -> list[float]:
    app: Application[UUID] = Application(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db)}
    )
    log = ChildLog()
    for body in bodies:
        log.record(body)
    app.save(log)
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        app.repository.get(log.id)
        timings.append(time.perf_counter() - started)
    app.close()
    return timings


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--children", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the store here")
    args = parser.parse_args()
    configure_logging("warning")
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    settings = HubSettings(data_dir=root, directory=SAMPLE_DIRECTORY_PATH)
    hub = bootstrap(settings)
    child = ChildRef(nhs_number=TARGET_NHS)
    stream = hub.pseudonyms.child_stream(child)

    ingest_s = 0.0
    if hub.store.last_version(stream) == 0:
        started = time.perf_counter()
        batches: dict[str, list[InboundMessage]] = {}
        position: dict[str, int] = {}

        def flush(agency: str) -> None:
            hub.ingest.ingest(batches.pop(agency))

        stream_of_lines = list(target_events(1000))
        background = canonical_lines(args.events - 1000, children=args.children)
        for agency, line in [*stream_of_lines, *background]:
            position[agency] = position.get(agency, 0) + 1
            batches.setdefault(agency, []).append(
                InboundMessage(f"bench:{agency}", position[agency], line, agency)
            )
            if len(batches[agency]) >= 1000:
                flush(agency)
        for agency in list(batches):
            flush(agency)
        ingest_s = time.perf_counter() - started

    rows = hub.store.recorder.max_notification_id()
    started = time.perf_counter()
    projected = hub.projection.rebuild()
    rebuild_s = time.perf_counter() - started

    started = time.perf_counter()
    decrypted = 0
    for notification in hub.store.notifications(ChildRecordEntry):
        hub.store.envelope.open_state(notification)
        decrypted += 1
    decrypt_s = time.perf_counter() - started

    service = hub.chronology
    timings = []
    for _ in range(args.reads):
        begun = time.perf_counter()
        view = service.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
        timings.append(time.perf_counter() - begun)
    assert len(view.entries) == 1000, len(view.entries)
    bodies = [e.as_dict() for e in view.entries]
    baseline = baseline_repository_get(bodies, root / "baseline.sqlite", args.reads)
    hub.close()

    hub_p, base_p = percentiles(timings), percentiles(baseline)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    result = {
        "benchmark": "chronology_latency_sqlite",
        "store_rows": rows,
        "child_events": 1000,
        "reads": args.reads,
        "chronology": hub_p,
        "baseline_repository_get": base_p,
        "ratio_p50": round(hub_p["p50_ms"] / base_p["p50_ms"], 2),
        "ratio_p99": round(hub_p["p99_ms"] / base_p["p99_ms"], 2),
        "ingest_events_per_s": round(args.events / ingest_s) if ingest_s else None,
        "projection_rebuild_events_per_s": round(projected / rebuild_s),
        "raw_decrypt_rows_per_s": round(decrypted / decrypt_s),
        "rebuild_vs_raw_decrypt": round((projected / rebuild_s) / (decrypted / decrypt_s), 3),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "versions": {
            p: version(p) for p in ("eventsourcing", "cryptography", "cedarpy", "pydantic")
        },
        "commit": commit,
        "at": datetime.now(UTC).isoformat(),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"chronology_latency-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
