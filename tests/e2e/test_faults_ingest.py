"""Faults in the Kafka ingest path, against a real broker (tansu) and the real stores.

- SIGKILL the real `hub ingest --kafka` process at 24 random points of a 100,000-message run,
  restart it each time, finish with `--once`: every message is recorded exactly once.
- Cut the broker off mid-run (a TCP proxy in front of it, which is what the broker advertises):
  ingest keeps running, logs `kafka_unavailable` with a growing `retry_in_s`, and after the
  broker is back it resumes from the store's positions without losing or repeating anything.

The kill points come from a seeded RNG: the seed is printed, and `HUB_TEST_SEED=N` repeats it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.domain.records import ChildRecordEntry
from hub.settings import HubSettings
from hub.transports.kafka import DEFAULT_PARTITIONS, ensure_topic
from tests.brokers import tansu_broker
from tests.factories import event_dict, nhs_number, register_agencies
from tests.tcp_proxy import TcpProxy, free_port

pytestmark = pytest.mark.kafka

# (agency id, agency type, a kind it publishes, that kind's details)
Agency = tuple[str, str, str, dict[str, Any]]
AGENCIES: tuple[Agency, ...] = (
    ("shire-county-council", "local-authority", "la.referral", {"referral_source": "school"}),
    ("shire-constabulary", "police", "police.nrm-referral", {}),
    ("shire-icb", "health", "health.health-visitor-concern", {}),
    ("oak-primary-school", "education", "education.safeguarding-disclosure", {}),
)
MESSAGES = 100_000
KILLS = 24
CHILDREN = 5_000


def seed() -> int:
    chosen = int(os.environ.get("HUB_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"HUB_TEST_SEED={chosen}")  # shown with the failure: rerun with it to repeat
    return chosen


@dataclass(frozen=True)
class Published:
    bootstrap: str
    expected: frozenset[tuple[str, str]]  # (agency, event_id)


def publish(
    bootstrap: str, first: int, count: int, agencies: tuple[Agency, ...] = AGENCIES
) -> set[tuple[str, str]]:
    """Produce `count` valid events round-robin over the agencies' topics, batched."""
    for agency, *_ in agencies:
        ensure_topic(bootstrap, agency_topic(agency))
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024
    )
    published = set()
    try:
        futures = []
        for i in range(first, first + count):
            agency, agency_type, kind, details = agencies[i % len(agencies)]
            event_id = f"F-{i}"
            value = json.dumps(
                event_dict(
                    event_id=event_id,
                    agency={"id": agency, "type": agency_type},
                    kind=kind,
                    details=details,
                    child={"nhs_number": nhs_number(i % CHILDREN)},
                )
            ).encode()
            key = str(i % CHILDREN).encode()
            futures.append(producer.send(agency_topic(agency), key=key, value=value))
            published.add((agency, event_id))
        producer.flush()
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.close()
    return published


def sources(agencies: Iterable[str]) -> list[str]:
    return [
        f"kafka:{agency_topic(agency)}:{partition}"
        for agency in sorted(set(agencies))
        for partition in range(DEFAULT_PARTITIONS)
    ]


def committed(hub: Hub, agencies: tuple[Agency, ...] = AGENCIES) -> int:
    """Messages the store has committed, from the transport positions (offsets are 0-based)."""
    ids = [agency for agency, *_ in agencies]
    return sum((hub.store.position(source) or -1) + 1 for source in sources(ids))


def hub_env(settings: HubSettings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_STORE": settings.store,
        "HUB_POSTGRES_DSN": settings.postgres_dsn,
        "HUB_POSTGRES_SCHEMA": settings.postgres_schema,
        **extra,
    }
    return env


def hub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub.cli", *args, "--quiet"]


def recorded(hub: Hub) -> Counter[tuple[str, str]]:
    return Counter(
        (record.body["agency"]["id"], record.body["event_id"])
        for record in hub.store.records(ChildRecordEntry)
        if isinstance(record, ChildRecordEntry) and record.entry_type == "agency-event"
    )


def hub_status(settings: HubSettings) -> dict[str, Any]:
    shown = subprocess.run(
        hub_command("status", "--format", "json"),
        env=hub_env(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    status: dict[str, Any] = json.loads(shown.stdout)
    return status


def assert_recorded_exactly_once(
    hub: Hub, settings: HubSettings, expected: frozenset[tuple[str, str]]
) -> None:
    counts = recorded(hub)
    assert set(counts) == expected, (
        f"{len(expected - set(counts))} published messages not recorded, "
        f"{len(set(counts) - expected)} recorded that were never published"
    )
    assert [key for key, n in counts.items() if n > 1] == []

    status = hub_status(settings)
    per_agency = Counter(agency for agency, _ in expected)
    assert status["agencies"] == dict(per_agency)
    assert (status["events"], status["duplicates"], status["quarantined"]) == (len(expected), 0, 0)
    assert {s["source"] for s in status["sources"]} == set(sources(per_agency))
    for source in status["sources"]:
        # Every offset of every partition consumed once: nothing skipped, nothing twice.
        assert source["consumed"] == source["accepted"] == source["position"] + 1


@pytest.fixture(scope="module")
def published_100k() -> Iterator[Published]:
    """A dedicated broker (the test follows every `hub.events.*` topic and counts exactly)
    holding 100,000 messages over the four agency topics; shared by both store backends."""
    with tansu_broker() as port:
        bootstrap_address = f"127.0.0.1:{port}"
        started = time.monotonic()
        expected = publish(bootstrap_address, 0, MESSAGES)
        print(f"published {len(expected):,} messages in {time.monotonic() - started:.1f} s")
        yield Published(bootstrap_address, frozenset(expected))


def test_sigkill_at_random_points_of_a_100k_run_records_every_message_exactly_once(
    published_100k: Published, settings: HubSettings
) -> None:
    rng = random.Random(seed())
    hub = bootstrap(settings)  # creates keys and store first; then watches the positions
    register_agencies(hub, {agency: agency_type for agency, agency_type, _, _ in AGENCIES})
    env = hub_env(settings, HUB_BATCH_SIZE="500")
    ingest = hub_command("ingest", "--kafka", published_100k.bootstrap)
    # Kill points: a progress threshold, then a random delay, so kills land anywhere: in
    # start-up, mid-batch, mid-transaction, between batches.
    thresholds = sorted(rng.sample(range(1, MESSAGES - 5_000), KILLS))
    started = time.monotonic()
    progress = []
    try:
        for threshold in thresholds:
            process = subprocess.Popen(ingest, env=env)
            deadline = time.monotonic() + 60
            while committed(hub) < threshold and time.monotonic() < deadline:
                assert process.poll() is None, "hub ingest exited on its own"
                time.sleep(0.02)  # polling a condition, not assuming a duration
            time.sleep(rng.uniform(0, 0.25))
            assert process.poll() is None, "hub ingest exited on its own"
            process.send_signal(signal.SIGKILL)
            assert process.wait() == -signal.SIGKILL
            progress.append(committed(hub))
        assert progress == sorted(progress) and progress[-1] >= thresholds[-1]
        print(f"{KILLS} kills; committed after each: {progress}")

        finished = subprocess.run([*ingest, "--once"], env=env, check=False)
        assert finished.returncode == 0
        print(f"kills and restarts done in {time.monotonic() - started:.1f} s")
        assert committed(hub) == MESSAGES
        assert_recorded_exactly_once(hub, settings, published_100k.expected)
    finally:
        hub.close()


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # not ours (e.g. a library printing to stderr)
    return lines


def wait_for(condition: Any, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_broker_unreachable_mid_run_ingest_waits_with_backoff_and_resumes_without_loss(
    settings: HubSettings, tmp_path: Path
) -> None:
    proxy_port = free_port()
    # One agency (3 partitions), so what the client prefetches before the cut (about a
    # megabyte a partition) is well short of the end: the outage is mid-run.
    police = AGENCIES[1:2]
    first_part, second_part = 30_000, 2_000
    # The broker advertises the proxy, so every connection (metadata says where) goes through it.
    with (
        tansu_broker(advertised_port=proxy_port) as broker_port,
        TcpProxy("127.0.0.1", broker_port, port=proxy_port).start() as proxy,
    ):
        expected = publish(proxy.address, 0, first_part, police)
        hub = bootstrap(settings)
        register_agencies(hub, {agency: agency_type for agency, agency_type, _, _ in police})
        stderr = tmp_path / "ingest.log"
        env = hub_env(settings, HUB_BATCH_SIZE="200")
        with stderr.open("w") as log_file:
            process = subprocess.Popen(
                hub_command("ingest", "--kafka", proxy.address), env=env, stderr=log_file
            )
        try:
            wait_for(lambda: committed(hub, police) >= 2_000, "ingest to start")
            proxy.cut()
            cut_at = committed(hub, police)

            def warnings() -> list[dict[str, Any]]:
                return [e for e in log_lines(stderr) if e.get("event") == "kafka_unavailable"]

            wait_for(lambda: len(warnings()) >= 3, "three kafka_unavailable warnings")
            assert process.poll() is None, "ingest must keep running while the broker is away"
            seen = warnings()
            waits = [w["retry_in_s"] for w in seen]
            assert waits == sorted(waits) and waits[0] < waits[-1], waits  # backing off
            assert all(w["level"] == "warning" and w["error"] for w in seen)
            assert committed(hub, police) < first_part  # the outage really was mid-run
            print(f"cut at {cut_at:,} committed; warnings {waits}")

            proxy.restore()
            wait_for(lambda: committed(hub, police) == first_part, "ingest to resume")
            assert any(e.get("event") == "kafka_available_again" for e in log_lines(stderr))
            # It follows the topics as before: what is published after the outage arrives.
            expected |= publish(proxy.address, first_part, second_part, police)
            wait_for(lambda: committed(hub, police) == first_part + second_part, "the new messages")
            assert process.poll() is None
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        try:
            assert_recorded_exactly_once(hub, settings, frozenset(expected))
        finally:
            hub.close()
