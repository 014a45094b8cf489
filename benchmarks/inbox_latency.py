"""Benchmark: the inbox consumer's catch-up rate, and how soon a new record reaches an inbox
while ingest runs at full speed.

    python -m benchmarks.inbox_latency [--quick] [--children 2000] [--events-per-child 4]
                                       [--live-events 20000] [--batch 100]

(a) **Catch-up**: a pre-filled SQLite store (each child has sw-0002 allocated and an s47
enquiry, so the multi-agency child protection team is related, then police incidents and
missed health appointments, and one view from health), folded and delivered by the inbox
consumer in one `run_once`, as events/s; beside it, in the same run and on the same log, a
consumer that folds each entry and does nothing (the framework's floor: reading, opening and
committing the log).

(b) **Latency under ingest**: the deployed consumer (`hub consumer run inbox --poll 0.05`, its
own process) follows the store while another process ingests police incidents for the same
children at full speed, in batches. Each event's latency is from its batch's ingest commit to
the first inbox item naming it being visible to a reader (an observer in this process polls
the consumer's item documents). Reported p50/p99 with the ingest rate achieved.

(c) The same with ingest paced at a fraction (`--paced-fraction`, a quarter) of the catch-up
rate measured in (a): the latency when the consumer keeps up, rather than the queue that
full-speed ingest builds. (Catch-up amortises one delivery per child over that child's several
new records; live records mostly arrive one per child per pass, so the sustained rate is lower
than the catch-up rate: at half of it the queue still grows.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, add_common_args, peak_rss_bytes, write_result
from consumers.framework import ConsumerRunner, ConsumerState, Document, Documents
from consumers.inbox.consumer import ITEM
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_dict, nhs_number, register_agencies

LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
HEALTH = {"id": "shire-icb", "type": "health"}
FIRST_CHILD = 20_000  # NHS number serials of this benchmark's children
POLL_SECONDS = 0.05  # the consumer's poll in (b) and (c)
OBSERVE_SECONDS = 0.02  # the observer's poll: the resolution of the latencies


def event(
    agency: dict[str, str], event_id: str, kind: str, at: datetime, serial: int, **extra: Any
) -> bytes:
    return json.dumps(
        event_dict(
            event_id=event_id,
            agency=agency,
            child={"nhs_number": nhs_number(serial)},
            kind=kind,
            categories=extra.pop("categories", []),
            occurred_at=at.isoformat(),
            recorded_at=(at + timedelta(minutes=20)).isoformat(),
            summary="Something happened",
            details=extra.pop("details", {}),
            **extra,
        )
    ).encode()


def incident(event_id: str, at: datetime, serial: int) -> bytes:
    return event(
        POLICE,
        event_id,
        "police.domestic-abuse-incident",
        at,
        serial,
        categories=["domestic-abuse"],
        details={"child_present": True, "police_reference": event_id},
    )


def ingest_all(hub: Hub, source: str, agency: str, messages: list[bytes], batch: int) -> None:
    start = (hub.store.position(source) or 0) + 1
    for offset in range(0, len(messages), batch):
        chunk = messages[offset : offset + batch]
        hub.ingest.ingest(
            [InboundMessage(source, start + offset + n, m, agency) for n, m in enumerate(chunk)]
        )


def prefill(settings: HubSettings, children: int, per_child: int, batch: int) -> int:
    """The case load (module docstring); returns the number of events ingested."""
    now = datetime.now(UTC)
    council: list[bytes] = []
    others: dict[str, list[bytes]] = {POLICE["id"]: [], HEALTH["id"]: []}
    for serial in range(FIRST_CHILD, FIRST_CHILD + children):
        council.append(
            event(
                LA,
                f"ALLOC-{serial}",
                "la.worker-allocated",
                now - timedelta(days=20),
                serial,
                details={"practitioner_id": "sw-0002", "role": "social-worker"},
            )
        )
        council.append(
            event(
                LA,
                f"S47-{serial}",
                "la.s47-enquiry-started",
                now - timedelta(days=15),
                serial,
                categories=["physical-abuse"],
            )
        )
        for n in range(per_child):
            at = now - timedelta(days=14 - n * 12 / max(per_child, 1))
            if n % 2 == 0:
                others[POLICE["id"]].append(incident(f"DA-{serial}-{n}", at, serial))
            else:
                others[HEALTH["id"]].append(
                    event(
                        HEALTH,
                        f"WNB-{serial}-{n}",
                        "health.was-not-brought",
                        at,
                        serial,
                        categories=["neglect"],
                        details={"service": "paediatrics", "appointment_type": "outpatient"},
                    )
                )
    hub = bootstrap(settings)
    try:
        register_agencies(hub, at=now - timedelta(days=60))
        ingest_all(hub, "bench:la/prefill", LA["id"], council, batch)
        for agency, messages in others.items():
            ingest_all(hub, f"bench:{agency}/prefill", agency, messages, batch)
        for serial in range(FIRST_CHILD, FIRST_CHILD + children):
            hub.gate.view(
                ChildRef(nhs_number=nhs_number(serial)),
                "hp-0001",
                Purpose.CHILD_PROTECTION_ENQUIRY,
            )
        hub.projection.catch_up()  # as the API keeps it: not the inbox's work
    finally:
        hub.close()
    return len(council) + sum(len(m) for m in others.values())


class FoldOnly:
    """The baseline: follows the same log through the same framework and does nothing."""

    name = "bench-fold-only"
    description = "folds each entry and does nothing (benchmark baseline)"
    kept_on_rebuild: tuple[str, ...] = ()

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        return None

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        return None

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        return {}


def catch_up(settings: HubSettings) -> dict[str, float]:
    """(a): the floor, then the inbox consumer, each one `run_once` over the whole log."""
    hub = bootstrap(settings)
    try:
        state = ConsumerState(
            FoldOnly.name, hub.persistence.consumer_views(FoldOnly.name), hub.keyring
        )
        floor = ConsumerRunner(FoldOnly(), hub.store, state)
        started = time.perf_counter()
        floor_report = floor.run_once()
        floor_seconds = time.perf_counter() - started

        inbox = hub.consumer_runner("inbox")
        started = time.perf_counter()
        report = inbox.run_once()
        seconds = time.perf_counter() - started
        items = len(inbox.documents().names(ITEM))
    finally:
        hub.close()
    return {
        "events": report.processed,
        "seconds": seconds,
        "events_per_s": report.processed / seconds,
        "items": items,
        "items_per_s": items / seconds,
        "floor_events_per_s": floor_report.processed / floor_seconds,
    }


# -- (b) and (c): ingest in its own process, the consumer in its own, an observer here --------


def ingest_worker(
    data_dir: str, children: int, events: int, batch: int, rate: float, tag: str, out: str
) -> None:
    """Ingests `events` police incidents for random children, `batch` at a time, at `rate`
    events/s (0: as fast as it can); writes each batch's commit time and event ids to `out`."""
    settings = HubSettings(data_dir=Path(data_dir), directory=SAMPLE_DIRECTORY_PATH)
    rng = random.Random(f"inbox-latency-{tag}")
    now = datetime.now(UTC) - timedelta(hours=1)
    planned = [
        (f"LIVE-{tag}-{n}", rng.randrange(FIRST_CHILD, FIRST_CHILD + children))
        for n in range(events)
    ]
    messages = [incident(event_id, now, serial) for event_id, serial in planned]
    source = f"bench:police/live-{tag}"
    hub = bootstrap(settings)
    commits: list[tuple[float, list[str]]] = []
    try:
        started = time.time()
        for offset in range(0, events, batch):
            if rate:
                due = started + offset / rate
                time.sleep(max(0.0, due - time.time()))
            chunk = messages[offset : offset + batch]
            hub.ingest.ingest(
                [
                    InboundMessage(source, offset + n + 1, m, POLICE["id"])
                    for n, m in enumerate(chunk)
                ]
            )
            commits.append((time.time(), [e for e, _ in planned[offset : offset + batch]]))
        finished = time.time()
    finally:
        hub.close()
    Path(out).write_text(json.dumps({"started": started, "finished": finished, "batches": commits}))


def first_seen(documents: Documents, names: list[str]) -> list[Document]:
    documents.load(names)
    return [d for d in (documents.get(n) for n in names) if d is not None]


def live_latency(
    settings: HubSettings, children: int, events: int, batch: int, rate: float, tag: str
) -> dict[str, Any]:
    data_dir = settings.data_dir
    out = data_dir.parent / f"ingest-{tag}.json"
    env = {**os.environ, "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH)}
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "consumer",
            "run",
            "inbox",
            "--poll",
            str(POLL_SECONDS),
            "--data-dir",
            str(data_dir),
            "--quiet",
        ],
        env=env,
    )
    hub = bootstrap(settings)
    runner = hub.consumer_runner("inbox")
    seen_names = set(runner.documents().names(ITEM))
    seen_at: dict[str, float] = {}
    prefix = f"{POLICE['id']}/LIVE-{tag}-"
    ingest = multiprocessing.get_context("spawn").Process(
        target=ingest_worker,
        args=(str(data_dir), children, events, batch, rate, tag, str(out)),
    )
    ingest.start()
    deadline = time.monotonic() + 1800
    last_new = time.monotonic()
    try:
        while len(seen_at) < events and time.monotonic() < deadline:
            if ingest.exitcode is not None and time.monotonic() - last_new > 30:
                break  # ingest is done and nothing new for half a minute: some are never told
            documents = runner.documents()
            names = [n for n in documents.names(ITEM) if n not in seen_names]
            now = time.time()
            if names:
                last_new = time.monotonic()
            for item in first_seen(documents, names):
                for ref in item.get("refs", []):
                    if ref.startswith(prefix):
                        seen_at.setdefault(ref.split("/", 1)[1].split("@", 1)[0], now)
            seen_names.update(names)
            if ingest.exitcode not in (None, 0):
                raise RuntimeError("the ingest process failed")
            time.sleep(OBSERVE_SECONDS)
    finally:
        ingest.join()
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(timeout=60)
        hub.close()
    ingested = json.loads(out.read_text())
    latencies = [
        seen_at[event_id] - committed
        for committed, event_ids in ingested["batches"]
        for event_id in event_ids
        if event_id in seen_at
    ]
    q = statistics.quantiles(sorted(latencies), n=100, method="inclusive")
    ingest_seconds = ingested["finished"] - ingested["started"]
    return {
        "events": events,
        "told": len(seen_at),
        "ingest_events_per_s": events / ingest_seconds,
        "ingest_seconds": ingest_seconds,
        "p50_s": q[49],
        "p99_s": q[98],
        "max_s": max(latencies),
        "drained_after_ingest_s": max(seen_at.values()) - ingested["finished"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--children", type=int)
    parser.add_argument("--events-per-child", type=int, default=4)
    parser.add_argument("--live-events", type=int)
    parser.add_argument("--batch", type=int, default=100, help="events per ingest batch (100)")
    parser.add_argument(
        "--paced-fraction",
        type=float,
        default=0.25,
        help="(c) ingests at this fraction of the catch-up rate (0.25)",
    )
    args = parser.parse_args()
    children = args.children or (200 if args.quick else 2000)
    live_events = args.live_events or (2000 if args.quick else 20000)
    paced_seconds = 10 if args.quick else 30

    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="hub-inbox-latency-", dir=args.data_dir))
    settings = HubSettings(data_dir=root / "hub", directory=SAMPLE_DIRECTORY_PATH)
    try:
        started = time.perf_counter()
        prefilled = prefill(settings, children, args.events_per_child, args.batch)
        print(f"prefilled {prefilled} events in {time.perf_counter() - started:.1f} s")
        caught_up = catch_up(settings)
        print(f"catch-up: {caught_up}")
        full_speed = live_latency(settings, children, live_events, args.batch, 0.0, "full")
        print(f"full-speed ingest: {full_speed}")
        rate = caught_up["events_per_s"] * args.paced_fraction
        paced_events = max(args.batch, int(rate * paced_seconds))
        paced = live_latency(settings, children, paced_events, args.batch, rate, "paced")
        print(f"paced ingest: {paced}")
    finally:
        shutil.rmtree(root, ignore_errors=True)

    figures = [
        Figure(
            "inbox catch-up, pre-filled store (events/s)",
            round(caught_up["events_per_s"], 1),
            "events/s",
            baseline="a fold-only consumer over the same log, same framework",
            baseline_value=round(caught_up["floor_events_per_s"], 1),
        ),
        Figure("inbox catch-up, items delivered", round(caught_up["items_per_s"], 1), "items/s"),
        Figure(
            "ingest rate during (b), full speed",
            round(full_speed["ingest_events_per_s"], 1),
            "events/s",
        ),
        Figure(
            "ingest commit -> inbox item p50, full-speed ingest",
            round(full_speed["p50_s"] * 1000, 1),
            "ms",
            better="lower",
        ),
        Figure(
            "ingest commit -> inbox item p99, full-speed ingest",
            round(full_speed["p99_s"] * 1000, 1),
            "ms",
            better="lower",
        ),
        Figure(
            f"ingest rate during (c), paced at {args.paced_fraction}x the catch-up rate",
            round(paced["ingest_events_per_s"], 1),
            "events/s",
        ),
        Figure(
            "ingest commit -> inbox item p50, paced ingest",
            round(paced["p50_s"] * 1000, 1),
            "ms",
            better="lower",
        ),
        Figure(
            "ingest commit -> inbox item p99, paced ingest",
            round(paced["p99_s"] * 1000, 1),
            "ms",
            better="lower",
        ),
    ]
    write_result(
        args,
        "inbox_latency",
        figures,
        params={
            "children": children,
            "events_per_child": args.events_per_child,
            "prefilled_events": prefilled,
            "live_events": live_events,
            "paced_events": paced_events,
            "batch": args.batch,
            "paced_fraction": args.paced_fraction,
            "consumer_poll_s": POLL_SECONDS,
            "observer_poll_s": OBSERVE_SECONDS,
        },
        notes=[
            "latency: from the ingest batch's commit (wall clock, ingest process) to the first "
            "inbox item naming the event seen by an observer polling the consumer's item "
            f"documents every {OBSERVE_SECONDS * 1000:.0f} ms (plus its query time)",
            "the consumer in (b) and (c) is `hub consumer run inbox` in its own process; ingest "
            "is its own process; all three share the SQLite store on this machine's cores",
            "full-speed ingest outruns the consumer: its latencies are the queue the consumer "
            "works through, and grow with the number of events ingested",
        ],
        extra={
            "catch_up": caught_up,
            "full_speed": full_speed,
            "paced": paced,
            "peak_rss_bytes": peak_rss_bytes(),
        },
    )


if __name__ == "__main__":
    main()
