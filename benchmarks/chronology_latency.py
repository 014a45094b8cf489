"""Benchmark: chronology latency for a child with 1,000 events in a store of >= 1M events.

    python -m benchmarks.chronology_latency [--events 1000000] [--children 200000] [--reads 300]
        [--data-dir DIR] [--no-rebuild] [--json-out PATH] [--quick] [--fill-to EVENTS]

With --data-dir, the store is built once and reused by later runs (it is rebuilt only if the
target child is missing); --no-rebuild skips the rebuild figure when iterating on reads.

Large stores (--fill-to, e.g. 10,000,000): the store is built by real ingest of --events
events (the target child's 1,000 among other children's) and its projection rebuilt; then it
is filled to --fill-to events by copying the other children's rows (events, projection
documents, data keys) under new stream ids, with SQL `INSERT ... SELECT` in the database, so
the tables and indexes a read goes through have the full size. Method and what it does not
give: `benchmarks.store_fill`. A filled store cannot be rebuilt (the copies' sealed bytes are
bound to their original ids): its views are measured with --no-rebuild; the figures name the
store as filled.

Measured per request: projection read and decrypt, policy decisions (Cedar), relationship
derivation, and the write-ahead audit entry (committed to SQLite) - everything `hub chronology`
does; also the same with the projection's cache of opened chunks dropped before each read
("cold"). Baseline in the same run: eventsourcing `repository.get` of an aggregate with the same
1,000 events (same payloads) from a plain, unencrypted SQLite application. Also reports the
ingest rate for building the store and the projection rebuild rate beside raw decryption of
the same rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.common import Figure, add_common_args, write_result
from benchmarks.store_fill import fill_postgres, fill_sqlite, fill_state
from benchmarks.workload import canonical_lines, register_workload_agencies
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.disclosure_gate import DisclosureGate
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from hub.settings import HubSettings

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
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def timed_views(
    service: DisclosureGate, child: ChildRef, reads: int, cpu: list[float] | None = None
) -> list[float]:
    """Wall time of each read (and its CPU time, this process's, into `cpu`)."""
    timings = []
    for _ in range(reads):
        begun, begun_cpu = time.perf_counter(), time.process_time()
        view = service.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
        timings.append(time.perf_counter() - begun)
        if cpu is not None:
            cpu.append(time.process_time() - begun_cpu)
    assert len(view.entries) == 1000, len(view.entries)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--children", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--cold-reads", type=int, default=30)
    parser.add_argument(
        "--no-rebuild", action="store_true", help="skip the rebuild figure (reuse the projection)"
    )
    parser.add_argument(
        "--no-views",
        action="store_true",
        help="build and rebuild only; measure views in a fresh process (--no-rebuild), as a "
        "server that did not just run the rebuild would serve them",
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after the first read (see notes)"
    )
    parser.add_argument(
        "--fill-to",
        type=int,
        default=0,
        help="fill the store built from --events to this many events by copying other "
        "children's rows (see benchmarks.store_fill); with --data-dir, kept for later runs",
    )
    parser.add_argument(
        "--postgres-schema",
        help="use PostgreSQL (HUB_POSTGRES_DSN or the local server), this schema (created if "
        "missing, kept for a later run like --data-dir; drop it yourself)",
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.children, args.reads, args.cold_reads = 20_000, 4_000, 50, 10
    configure_logging("warning")
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    settings = HubSettings(data_dir=root, directory=SAMPLE_DIRECTORY_PATH)
    if args.postgres_schema:
        import psycopg

        settings = settings.model_copy(
            update={"store": "postgres", "postgres_schema": args.postgres_schema}
        )
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as db:
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{args.postgres_schema}"')
    hub = bootstrap(settings)
    register_workload_agencies(hub)
    child = ChildRef(nhs_number=TARGET_NHS)
    stream = hub.pseudonyms.child_stream(child)

    ingest_s = 0.0
    if hub.store.last_version(stream) == 0:  # else: reuse the store already in --data-dir
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

    filled = fill_state(root)
    if args.fill_to or (filled and filled["copies"]):
        if not args.no_rebuild and (filled is None or not filled["copies"]):
            hub.projection.rebuild()  # the base's documents, which the fill copies
            args.no_rebuild = True  # (a filled store cannot be rebuilt: said below)
        elif not args.no_rebuild:
            raise SystemExit(
                f"{root} is a filled store (benchmarks.store_fill): its copied rows cannot be "
                "rebuilt or decrypted; measure its views with --no-rebuild"
            )
        if filled is None:
            hub.projection.catch_up()  # (the base's documents; a fill in progress moves it)
        if args.fill_to:
            hub.close()
            if args.postgres_schema:
                filled = fill_postgres(
                    settings.postgres_dsn, args.postgres_schema, root, stream.hex, args.fill_to
                )
            else:
                filled = fill_sqlite(root, stream.hex, args.fill_to)
            hub = bootstrap(settings)
            register_workload_agencies(hub)
    rows = hub.store.recorder.max_notification_id()
    if not rows or hub.store.last_version(stream) == 0:
        raise SystemExit(f"the store in {root} has no rows of the target child: not measured")
    fill: dict[str, Any] = filled or {}
    events: int | None = fill["entries"] if fill.get("copies") else None
    if events is not None:
        rows = fill.get("rows", rows)  # (the log's head may be past gaps the fill left)
    size = (
        f"store {rows:,} rows"
        if events is None
        else f"store of {events:,} events ({rows:,} rows; {fill['base_entries']:,} ingested, "
        "the rest copied)"
    )
    figures: list[Figure] = []
    extra: dict[str, Any] = {"store_rows": rows, "fill": filled}
    if not args.no_rebuild:
        # Raw decryption first and last, the rebuild between: the machine's load drifts.
        decrypt_rates = []
        started = time.perf_counter()
        decrypted = raw_decrypt(hub)
        decrypt_rates.append(decrypted / (time.perf_counter() - started))
        started = time.perf_counter()
        projected = hub.projection.rebuild()
        rebuild_rate = projected / (time.perf_counter() - started)
        started = time.perf_counter()
        raw_decrypt(hub)
        decrypt_rates.append(decrypted / (time.perf_counter() - started))
        figures.append(
            Figure(
                f"projection rebuild from zero ({projected:,} entries)",
                round(rebuild_rate),
                "events/s",
                "raw decryption of the same rows (mean of a pass before and after)",
                round(statistics.mean(decrypt_rates)),
                target={"ratio_min": 0.5},
            )
        )
        extra["raw_decrypt_rows_per_s"] = [round(r) for r in decrypt_rates]
    else:
        hub.projection.catch_up()
    if args.no_views:
        hub.close()
        if ingest_s:
            figures.append(
                Figure("ingest while building the store", round(args.events / ingest_s), "events/s")
            )
        write_result(
            args,
            "chronology_latency",
            figures,
            store=settings.store,
            params={"events": events or args.events, "children": args.children},
            notes=["views are measured by a separate run (--no-rebuild), in a fresh process"],
            extra=extra,
        )
        return

    gc.collect()  # the rebuild's garbage is not the reads' to pay for
    service = hub.gate
    service.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)  # first read: caches
    if args.gc_freeze:
        # What a long-running server can do after start-up: move everything alive now out of
        # the collector's view, so a full collection does not scan the hub's whole heap.
        gc.collect()
        gc.freeze()
    warm_cpu: list[float] = []
    cold_cpu: list[float] = []
    timings = timed_views(service, child, args.reads, warm_cpu)
    # Cold: the projection's opened chunks (and what was derived from them) dropped before
    # each read, as for a child nobody has read since its documents last changed.
    cold = []
    for _ in range(args.cold_reads):
        hub.projection.clear_cache()
        cold += timed_views(service, child, 1, cold_cpu)
    bodies = [
        e.as_dict()
        for e in service.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).entries
    ]
    baseline = baseline_repository_get(bodies, root / "baseline.sqlite", args.reads)
    hub.close()

    hub_p, base_p, cold_p = percentiles(timings), percentiles(baseline), percentiles(cold)
    repository_get = (
        "eventsourcing repository.get of an aggregate with the same 1,000 events "
        "(plain, unencrypted SQLite)"
    )
    for name in ("p50", "p95", "p99"):
        figures.append(
            Figure(
                f"chronology view, 1,000 events, {size}, {name}",
                round(hub_p[name], 2),
                "ms",
                repository_get,
                round(base_p[name], 2),
                target={"max": 50.0} if name == "p99" else {},
                better="lower",
            )
        )
    for name in ("p50", "p99"):
        figures.append(
            Figure(
                f"chronology view, cold projection cache, {size}, {name}",
                round(cold_p[name], 2),
                "ms",
                repository_get,
                round(base_p[name], 2),
                target={"max": 50.0} if name == "p50" else {},
                better="lower",
            )
        )
    for label, samples in (("warm", warm_cpu), ("cold projection cache", cold_cpu)):
        figures.append(
            Figure(
                f"chronology view, {label}, CPU time of the reading process, p50",
                round(statistics.median(samples) * 1000, 2),
                "ms",
                better="lower",
            )
        )
    if ingest_s:
        figures.append(
            Figure("ingest while building the store", round(args.events / ingest_s), "events/s")
        )
    write_result(
        args,
        "chronology_latency",
        figures,
        store=settings.store,
        params={
            "events": events or args.events,
            "ingested_events": fill["base_entries"] if events else args.events,
            "children": args.children,
            "child_events": 1000,
            "reads": args.reads,
            "cold_reads": args.cold_reads,
            "gc_freeze": args.gc_freeze,
        },
        notes=[
            "each read is everything `hub chronology` does: catch-up check, projection read "
            "and decrypt, relationships, Cedar decisions, view, and the committed write-ahead "
            "audit entry",
            "warm reads reuse the projection's opened chunks while the child's sealed documents "
            "are byte-for-byte unchanged (each reuse still checks the child's data key is held)",
            "p99 is sensitive to full (generation 2) garbage collections, which scan the whole "
            "heap: --gc-freeze shows the figures with the heap frozen after start-up",
            *(
                [
                    f"filled store: {fill['base_entries']:,} events by real ingest, then "
                    f"{fill['copies']} copies of the other children's rows (events, projection "
                    "documents, data keys) under new stream ids by SQL INSERT ... SELECT, to "
                    f"{events:,} events; method in benchmarks.store_fill"
                ]
                if events
                else []
            ),
        ],
        extra=extra,
    )


def raw_decrypt(hub: Hub) -> int:
    decrypted = 0
    for notification in hub.store.notifications(ChildRecordEntry):
        hub.store.envelope.open_state(notification)
        decrypted += 1
    return decrypted


if __name__ == "__main__":
    main()
