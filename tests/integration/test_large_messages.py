"""Nothing that arrives may stop ingest: 5 MB and 50 MB messages on every transport and both
stores. A message larger than the limit is quarantined with its first bytes, its length and its
SHA-256 digest (not whole: a 5 MB row made PostgreSQL inserts hang in about half the tries),
and what follows it is ingested. The HTTPS route refuses a body over its limit unread."""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.ingest import OVERSIZE_KEPT_BYTES, InboundMessage
from hub.reports.operations import quarantined_messages, store_status
from hub.settings import HubSettings
from hub.transports.inbox import FileInbox, write_inbox_file
from hub.transports.kafka import KafkaIngestRunner, ensure_topic
from tests.brokers import tansu_broker
from tests.factories import event_bytes, register_agencies

MB = 1024 * 1024
LA = "shire-county-council"


def large(event_id: str, size: int) -> bytes:
    """A canonical event padded to `size` bytes with an unknown field."""
    head = event_bytes(event_id=event_id)[:-1] + b', "pad": "'
    return head + b"y" * (size - len(head) - 2) + b'"}'


def assert_finishes(work: Callable[[], object], what: str, within_s: float = 300) -> None:
    """Run `work` on a thread and fail if it is still running after `within_s` (a hang, which
    must fail the test, not the suite), showing where it is stuck. A bound, never a timing
    assertion. An exception in `work` is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # handed to the test's thread
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within_s)
    if thread.is_alive():
        frame = sys._current_frames().get(thread.ident or 0)
        stack = "".join(traceback.format_stack(frame)) if frame else "(no stack)"
        raise AssertionError(f"{what} did not finish within {within_s:.0f} s; stuck at:\n{stack}")
    if failure:
        raise failure[0]


def assert_kept_bounded(
    hub: Hub, source: str, messages: dict[int, bytes], code: str = "oversize"
) -> None:
    found = {q.position: q for q in quarantined_messages(hub.store) if q.source == source}
    assert set(found) == set(messages)
    for position, value in messages.items():
        item = found[position]
        assert (item.reason_code, item.size_bytes) == (code, len(value))
        assert item.raw == value[:OVERSIZE_KEPT_BYTES] and item.truncated
        assert item.sha256 == hashlib.sha256(value).hexdigest()


def test_the_inbox_takes_5_and_50_mb_lines_and_what_follows(hub: Hub, tmp_path: Path) -> None:
    """On PostgreSQL the 5 MB case hung in 4 of 9 tries before: it is tried ten times."""
    tries = 10 if hub.settings.store == "postgres" else 2
    inbox = FileInbox(tmp_path / "inbox")
    for attempt in range(tries):
        size = 50 * MB if attempt == 0 else 5 * MB
        lines = [large(f"BIG-{attempt}", size), event_bytes(event_id=f"AFTER-{attempt}")]
        write_inbox_file(tmp_path / "inbox", LA, f"{attempt:02d}-big", lines)
        assert_finishes(lambda: inbox.drain(hub.ingest, 100), f"inbox ingest (try {attempt})")
        source = f"inbox:{LA}/{attempt:02d}-big.jsonl"
        assert_kept_bounded(hub, source, {1: lines[0]})
        assert hub.store.position(source) == 2  # the line after it was ingested
    assert store_status(hub.store, "t").events == tries


def test_a_large_message_refused_for_another_reason_is_kept_bounded_too(
    hub: Hub, tmp_path: Path
) -> None:
    """An unregistered channel's messages are refused before their size is looked at: a 50 MB
    one was kept whole, and hung PostgreSQL as an oversize one did."""
    inbox = FileInbox(tmp_path / "inbox")
    value = large("BIG-U", 50 * MB)
    write_inbox_file(tmp_path / "inbox", "unregistered-agency-x", "big", [value])
    assert_finishes(lambda: inbox.drain(hub.ingest, 100), "inbox ingest")
    source = "inbox:unregistered-agency-x/big.jsonl"
    assert_kept_bounded(hub, source, {1: value}, code="unregistered-agency")


def test_a_batch_of_many_messages_within_the_limit_is_written(hub: Hub) -> None:
    """1,000 malformed 60 KB messages (each within the message limit, so kept whole) in one
    batch: 60 MB in one insert. psycopg stopped sending when the socket buffer was full and
    waited for an answer the server could not give; on PostgreSQL this hung every try of 3
    before `hub.adapters.postgres_pipeline`."""
    tries = 3 if hub.settings.store == "postgres" else 1
    note = "n" * 60_000
    for attempt in range(tries):
        source = f"batch-{attempt}"
        batch = [
            InboundMessage(
                source=source,
                position=i,
                value=event_bytes(event_id=f"M-{i}", details={"unknown": note}),
                owner_agency=LA,
            )
            for i in range(1000)
        ]
        batch.append(InboundMessage(source, 1000, event_bytes(event_id=f"OK-{attempt}"), LA))
        assert len(batch[0].value) < hub.settings.max_message_bytes
        ingest_batch = functools.partial(hub.ingest.ingest, batch)
        assert_finishes(ingest_batch, f"a 60 MB batch (try {attempt})")
        assert hub.store.position(source) == 1000
    assert store_status(hub.store, "t").events == tries
    assert len(quarantined_messages(hub.store)) == 1000 * tries


@pytest.mark.kafka
def test_kafka_takes_5_and_50_mb_messages_and_what_follows(hub: Hub, kafka_broker: str) -> None:
    agency = f"police-{uuid.uuid4().hex[:8]}"
    register_agencies(hub, {agency: "police"})
    topic = agency_topic(agency)
    ensure_topic(kafka_broker, topic, partitions=1)
    values = [
        large("BIG-5", 5 * MB).replace(LA.encode(), agency.encode(), 1),
        large("BIG-50", 50 * MB).replace(LA.encode(), agency.encode(), 1),
        event_bytes(
            event_id="AFTER",
            agency={"id": agency, "type": "police"},
            kind="police.nrm-referral",
            details={},
        ),
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_broker, acks="all", max_request_size=64 * MB)
    for value in values:
        producer.send(topic, key=b"k", value=value).get(timeout=60)
    producer.close()
    runner = KafkaIngestRunner(kafka_broker, hub.ingest, batch_size=100)
    try:
        assert_finishes(lambda: runner.run(once=True), "Kafka ingest")
    finally:
        runner.close()
    source = f"kafka:{topic}:0"
    assert_kept_bounded(hub, source, {0: values[0], 1: values[1]})
    assert hub.store.position(source) == 2
    assert store_status(hub.store, "t").events_by_agency[agency] == 1


@pytest.mark.kafka
def test_two_agencies_50_mb_messages_at_once_do_not_stop_kafka_ingest(
    sqlite_settings: HubSettings,
) -> None:
    """Two agencies' 50 MB messages among other agencies' traffic: the test broker answered one
    fetch with both (104,858,719 bytes), over the client's 100 MB frame guard, so every fetch
    was refused and ingest reported the broker unavailable for ever. On a broker of its own, so
    that no other test's topics change what one fetch holds."""
    hub = bootstrap(sqlite_settings)
    big = {f"police-{uuid.uuid4().hex[:8]}": "police" for _ in range(2)}
    register_agencies(hub, {**big, LA: "local-authority"})
    with tansu_broker() as port:
        broker = f"127.0.0.1:{port}"
        producer = KafkaProducer(bootstrap_servers=broker, acks="all", max_request_size=64 * MB)
        for agency in big:
            ensure_topic(broker, agency_topic(agency), partitions=1)
            for value in (large("BIG-5", 5 * MB), large("BIG-50", 50 * MB)):
                producer.send(agency_topic(agency), key=b"k", value=value).get(timeout=60)
        ensure_topic(broker, agency_topic(LA), partitions=3)
        for i in range(100):
            producer.send(
                agency_topic(LA), key=str(i).encode(), value=event_bytes(event_id=f"S{i}")
            )
        producer.flush()
        producer.close()
        runner = KafkaIngestRunner(broker, hub.ingest, batch_size=100)
        try:
            assert_finishes(lambda: runner.run(once=True), "Kafka ingest")
        finally:
            runner.close()
    assert all(hub.store.position(f"kafka:{agency_topic(a)}:0") == 1 for a in big)
    assert store_status(hub.store, "t").events_by_agency[LA] == 100
    hub.close()


def test_https_quarantines_an_oversize_event_and_refuses_an_oversize_body_unread(
    hub: Hub,
) -> None:
    client = TestClient(create_app(hub, hub.token_verifier()))
    agency = {"Authorization": f"Bearer {issue_dev_token(hub.token_key, f'agency:{LA}')}"}
    five = large("BIG-5", 5 * MB)  # within the 8 MB body limit: the event is oversize
    body = b"[" + five + b", " + event_bytes(event_id="AFTER") + b"]"
    headers = {**agency, "Content-Type": "application/json"}
    published = client.post("/api/v1/events", content=body, headers=headers)
    assert published.status_code == 200, published.text
    assert (published.json()["accepted"], published.json()["quarantined"]) == (1, {"oversize": 1})
    (item,) = quarantined_messages(hub.store)
    assert item.size_bytes < len(five) + 100 and item.truncated  # as re-encoded by the route
    assert len(item.raw or b"") == OVERSIZE_KEPT_BYTES

    fifty = b"[" + large("BIG-50", 50 * MB) + b"]"
    refused = client.post("/api/v1/events", content=fifty, headers=headers)
    assert refused.status_code == 413 and "larger than 8,388,608 bytes" in refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 413 and refused.json()["instance"].startswith("urn:uuid:")

    def chunked() -> Iterator[bytes]:  # no Content-Length: refused once past the limit
        for start in range(0, len(fifty), MB):
            yield fifty[start : start + MB]

    refused = client.post("/api/v1/events", content=chunked(), headers=headers)
    assert refused.status_code == 413
    assert len(quarantined_messages(hub.store)) == 1  # nothing more was read or recorded
