"""Commands for operators and integrators: schema, status, quarantine, ingest, publish,
identity, demo."""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import structlog

from hub.adapters.structured_logging import configure_logging
from hub.cli.common import (
    EXIT_OK,
    EXIT_REJECTED_INPUT,
    EXIT_USAGE,
    emit,
    open_hub,
    settings_from,
)

log = structlog.get_logger("hub.cli")


def cmd_schema(args: argparse.Namespace) -> int:
    from hub.domain.canonical_event import canonical_json_schema

    json.dump(canonical_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from hub.reports.operations import store_status
    from hub.transports.inbox import FileInbox

    hub = open_hub(args)
    try:
        status = store_status(hub.store, hub.settings.describe_store())
    finally:
        hub.close()
    unplaced = FileInbox(Path(args.inbox)).unplaced() if args.inbox else []
    document = {
        "store": status.store,
        "events": status.events,
        "children": status.children,
        "agencies": status.events_by_agency,
        "duplicates": status.duplicates,
        "quarantined": status.quarantined,
        "stored_rows": status.stored_rows,
        "sources": [vars(s) for s in status.sources],
        "inbox_not_read": [{"file": str(path), "why": why} for path, why in unplaced],
    }

    def text() -> None:
        print(f"store        {status.store}")
        print(f"events       {status.events:,} in {status.children:,} child streams")
        for agency, count in status.events_by_agency.items():
            print(f"  {agency:<28} {count:>9,}")
        print(f"duplicates   {status.duplicates:,} (no-ops)")
        print(f"quarantined  {status.quarantined:,} (hub quarantine list)")
        print("transport positions (last committed):")
        for s in status.sources:
            print(
                f"  {s.source:<48} position {s.position}  consumed {s.consumed:,} = "
                f"{s.accepted:,} accepted + {s.duplicates:,} duplicates + "
                f"{s.quarantined:,} quarantined"
            )
        if args.inbox:
            print(f"inbox {args.inbox}: {len(unplaced)} not read")
            for path, why in unplaced:
                print(f"  {path}: {why}")

    emit(args, document, text)
    return EXIT_REJECTED_INPUT if unplaced else EXIT_OK


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    """What ingest could not accept: reasons for operators; the raw bytes (which may hold
    anything a publisher sent, a child's details included) only for a data protection officer,
    recorded in the audit ledger before they are shown."""
    import base64

    from hub.reports.operations import quarantined_messages

    if args.include_raw and not args.as_practitioner:
        print(
            "hub: --include-raw shows what publishers sent, which may be personal data: it is a "
            "data protection officer's action; give --as with your id",
            file=sys.stderr,
        )
        return EXIT_USAGE
    hub = open_hub(args)
    try:
        if args.include_raw:
            hub.audit_queries.authorise(args.as_practitioner, "quarantine-raw", partnership=True)
        items = quarantined_messages(hub.store)
    finally:
        hub.close()
    document = [
        {
            "source": i.source,
            "position": i.position,
            "received_at": i.received_at.isoformat(),
            "reason_code": i.reason_code,
            "reason": i.reason,
            "size_bytes": i.size_bytes,
            "raw_erased": i.raw is None,
            "raw_kept_bytes": None if i.raw is None else len(i.raw),
            "sha256": i.sha256,
            **(
                {"raw_base64": None if i.raw is None else base64.b64encode(i.raw).decode()}
                if args.include_raw
                else {}
            ),
        }
        for i in items
    ]

    def text() -> None:
        if not items:
            print("nothing quarantined")
        for i in items:
            if i.raw is None:
                size = "raw bytes erased with the child's record"
            elif i.truncated:
                size = f"{i.size_bytes:,} bytes; the first {len(i.raw):,} kept, sha256 {i.sha256}"
            else:
                size = f"{i.size_bytes:,} bytes"
            print(f"{i.source} #{i.position}  [{i.reason_code}] {i.reason}  ({size})")

    emit(args, document, text)
    return EXIT_OK


def worker_index(value: str, workers: int, hostname: str | None = None) -> int:
    """`--worker-index`: a number, or `auto` for the hostname's trailing -<n> (a StatefulSet
    pod `hub-ingest-1` is worker 1)."""
    if value == "auto":
        name = hostname or socket.gethostname()
        match = re.search(r"-(\d+)$", name)
        if match is None:
            raise ValueError(f"--worker-index auto: the hostname {name!r} does not end in -<n>")
        index = int(match.group(1))
    elif value.isdigit():
        index = int(value)
    else:
        raise ValueError(f"--worker-index must be a number or 'auto', not {value!r}")
    if not 0 <= index < workers:
        raise ValueError(f"worker index {index} is not in 0..{workers - 1} (--workers {workers})")
    return index


def cmd_ingest(args: argparse.Namespace) -> int:
    from hub.ingest import BatchOutcome

    hub = open_hub(args, create=True)
    outcomes: list[BatchOutcome] = []
    skipped: dict[str, str] = {}
    stop = threading.Event()  # SIGTERM or Ctrl-C: finish the batch in hand, then stop cleanly
    if args.kafka or not args.once:  # (one inbox pass, --once, is cut short by Ctrl-C as before)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    try:
        from hub.adapters.metrics import Health, serve_metrics

        if args.inbox:
            from hub.transports.inbox import FileInbox

            inbox = FileInbox(Path(args.inbox))

            def inbox_ready() -> None:
                hub.store.recorder.max_notification_id()  # the store answers
                if not Path(args.inbox).is_dir():
                    raise FileNotFoundError("the inbox directory is not there")

            # A pass sleeps a second between polls, so a minute without one is a stall.
            health = Health(ready_check=inbox_ready, stall_after_s=60.0)
            if args.metrics_port is not None:
                serve_metrics(args.metrics_port, health)

            def drain() -> None:
                outcomes.extend(inbox.drain(hub.ingest, hub.settings.batch_size))
                health.beat()
                for path, why in inbox.unplaced():
                    if str(path) not in skipped:  # said once per file, not at every poll
                        skipped[str(path)] = why
                        log.warning("inbox_file_skipped", file=str(path), why=why)

            drain()
            # the inbox is polled: new files and appended lines, every second until stopped
            while not args.once and not stop.wait(1.0):
                drain()
        else:
            from hub.transports.kafka import KafkaIngestRunner

            def ready() -> None:
                hub.store.recorder.max_notification_id()  # the store answers
                if not runner.broker_available:
                    raise ConnectionError("the Kafka broker is not answering")

            health = Health(ready_check=ready)
            runner = KafkaIngestRunner(
                args.kafka,
                hub.ingest,
                batch_size=hub.settings.batch_size,
                bootstrap_timeout_ms=hub.settings.kafka_bootstrap_timeout_ms,
                workers=args.workers,
                worker_index=worker_index(args.worker_index, args.workers),
                client_options=hub.settings.kafka_client_options(),
                heartbeat=health.beat,
            )
            if args.metrics_port is not None:
                serve_metrics(args.metrics_port, health)
            try:
                outcomes = runner.run(once=args.once, stop=stop)
            finally:
                runner.close()
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()
    totals: dict[str, Any] = {
        "accepted": sum(o.accepted for o in outcomes),
        "duplicates": sum(o.duplicates for o in outcomes),
        "quarantined": sum(sum(o.quarantined.values()) for o in outcomes),
        "already_recorded": sum(o.skipped_already_recorded for o in outcomes),
        "skipped_files": [{"file": path, "why": why} for path, why in skipped.items()],
    }

    def text() -> None:
        print(
            f"ingested {totals['accepted']:,} events, {totals['duplicates']:,} duplicates, "
            f"{totals['quarantined']:,} quarantined"
        )
        for path, why in skipped.items():
            print(f"  not read: {path}: {why}")

    emit(args, totals, text)
    if stop.is_set():
        # Stopped by a signal after a clean stop: the run is over, not failed (what it
        # quarantined waits in `hub quarantine list`), so a supervisor sees exit 0.
        return EXIT_OK
    return EXIT_REJECTED_INPUT if totals["quarantined"] or skipped else EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from hub.adapters.agencies.registry import configured_adapter

    adapter = configured_adapter(args.adapter, settings_from(args).health_concept_map)
    result = adapter.read(Path(args.file), args.agency)
    document: dict[str, Any] = {
        "adapter": adapter.name,
        "agency": args.agency,
        "events": len(result.events),
        "problems": [vars(p) for p in result.problems],
    }
    if args.inbox:
        from hub.transports.inbox import encode_events, write_inbox_file

        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{Path(args.file).stem}"
        document["written_to"] = str(
            write_inbox_file(Path(args.inbox), args.agency, name, encode_events(result.events))
        )
    else:
        from hub.transports.kafka import publish_events

        hub = open_hub(args, create=True)
        try:
            receipt = publish_events(
                args.kafka,
                args.agency,
                result.events,
                hub.pseudonyms,
                hub.settings.kafka_client_options(),
                replication_factor=hub.settings.kafka_replication_factor,
            )
        finally:
            hub.close()
        document["written_to"] = f"kafka topic {receipt.topic}"

    def text() -> None:
        print(f"{adapter.name}: {len(result.events):,} events -> {document['written_to']}")
        for p in result.problems:
            print(f"  not mapped: {p.file}:{p.line}: {p.reason}")

    emit(args, document, text)
    return EXIT_REJECTED_INPUT if result.problems else EXIT_OK


def cmd_identity_issue(args: argparse.Namespace) -> int:
    from hub.identities import IdentityService

    hub = open_hub(args, create=True)
    try:
        provisional_id = IdentityService(hub.store, hub.pseudonyms).issue_provisional(args.agency)
    finally:
        hub.close()
    emit(args, {"provisional_id": provisional_id}, lambda: print(provisional_id))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo.scenario import run_demo

    settings = settings_from(args)
    configure_logging("error")  # the report lists what was quarantined and why
    report = run_demo(settings, children=args.children, seed=args.seed)
    emit(args, report.as_dict(), report.print)
    return EXIT_OK
