"""SIGKILL the real `hub consumer run feed-cp-is` process at random points while it relays a few
thousand events to a real Kafka-protocol broker (tansu), restart it: every item the recipient
may receive is on the topic at least once, and deduping by key gives exactly that set."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers.feed import TOTALS, FeedConsumer
from hub.bootstrap import bootstrap
from hub.domain.records import DisclosureAudited
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.factories import event_dict, nhs_number, register_agencies_for
from tests.integration.test_feed_consumer import read_topic

pytestmark = pytest.mark.kafka

LA = {"id": "shire-county-council", "type": "local-authority"}
ON_PLAN, NOT_ON_PLAN = 300, 200
SAMPLE = Path(__file__).resolve().parents[2] / "hub" / "samples" / "feed-recipients.yaml"


def _events() -> tuple[list[bytes], set[str]]:
    """The log, and the references the recipient may receive (with the sample's kinds and the
    shipped agreement: children on a Shire plan, plan and care status kinds only)."""
    now = datetime.now(UTC)
    lines: list[bytes] = []
    relayed: set[str] = set()

    def add(event_id: str, kind: str, days_ago: int, child: int, shared: bool, **more: Any) -> None:
        when = (now - timedelta(days=days_ago)).isoformat()
        lines.append(
            json.dumps(
                event_dict(
                    event_id=event_id,
                    agency=LA,
                    child={"nhs_number": nhs_number(child)},
                    kind=kind,
                    occurred_at=when,
                    recorded_at=when,
                    **more,
                )
            ).encode()
        )
        if shared:
            relayed.add(f"{LA['id']}/{event_id}@1")

    for child in range(ON_PLAN + NOT_ON_PLAN):
        on_plan = child < ON_PLAN
        if on_plan:
            add(
                f"CP-{child}",
                "la.cp-plan-started",
                200,
                child,
                True,
                details={"category": "neglect"},
            )
        add(f"LAC-{child}", "la.looked-after", 100, child, on_plan, details={"legal_status": "s20"})
        add(f"PS-{child}", "la.placement-started", 90, child, False, details={})
        add(f"CON-{child}", "la.contact", 80, child, False, details={})
        add(f"PE-{child}", "la.placement-ended", 50, child, on_plan, details={"reason": "home"})
        add(f"CON2-{child}", "la.contact", 20, child, False, details={})
        if on_plan and child % 2 == 0:
            add(f"CPE-{child}", "la.cp-plan-ended", 5, child, True, details={})
    return lines, relayed


def test_sigkill_at_random_points_then_restart_relays_every_item_at_least_once(
    tmp_path: Path,
    kafka_broker: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    seed = int(os.environ.get("HUB_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed} (HUB_TEST_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    data_dir, inbox = tmp_path / "hub", tmp_path / "inbox"
    topic = f"hub.feed.crash-{uuid.uuid4().hex[:10]}"
    sample = yaml.safe_load(SAMPLE.read_text())
    sample["recipients"][0].update(topic=topic, batch_size=20)
    recipients = tmp_path / "feed-recipients.yaml"
    recipients.write_text(yaml.safe_dump(sample))
    env = {
        **os.environ,
        "HUB_FEED_RECIPIENTS": str(recipients),
        "HUB_FEED_BOOTSTRAP": kafka_broker,
    }
    lines, expected_refs = _events()
    write_inbox_file(inbox, LA["id"], "case-management", lines)
    hub_cli = [sys.executable, "-m", "hub.cli"]
    common = ["--data-dir", str(data_dir), "--quiet"]
    register_agencies_for(HubSettings(data_dir=data_dir))
    subprocess.run([*hub_cli, "ingest", "--inbox", str(inbox), "--once", *common], check=True)

    monkeypatch.setenv("HUB_FEED_RECIPIENTS", str(recipients))  # for this process too
    monkeypatch.setenv("HUB_FEED_BOOTSTRAP", kafka_broker)
    hub = bootstrap(HubSettings(data_dir=data_dir))
    request.addfinalizer(hub.close)
    runner = hub.consumer_runner("feed-cp-is")
    assert isinstance(runner.consumer, FeedConsumer)
    expected = {runner.consumer.dedupe_key("event", ref) for ref in expected_refs}

    def sent() -> int:  # one small read, so the kill lands close to the condition
        totals = runner.state.get_many([TOTALS]).get(TOTALS) or {}
        return int(totals.get("sent", 0))

    def kill_when(condition: Callable[[], bool]) -> None:
        process = subprocess.Popen(
            [*hub_cli, "consumer", "run", "feed-cp-is", "--poll", "0.2", *common], env=env
        )
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)  # waiting for a condition, polled; not a timing assumption
        time.sleep(rng.uniform(0, 0.02))  # then land somewhere in the next chunk
        process.send_signal(signal.SIGKILL)
        process.wait()

    started = time.monotonic()
    delay = rng.uniform(0.8, 1.6)  # while it starts or folds
    kill_when(lambda: time.monotonic() - started > delay)
    for low, high in ((0.05, 0.25), (0.3, 0.5), (0.55, 0.75)):
        target = int(len(expected) * rng.uniform(low, high))
        kill_when(lambda target=target: sent() >= target)
    killed_at = sent()
    assert 0.55 * len(expected) <= killed_at < len(expected)

    finished = subprocess.run(
        [*hub_cli, "consumer", "run", "feed-cp-is", "--once", *common], env=env, check=False
    )
    assert finished.returncode == 0
    status = subprocess.run(
        [*hub_cli, "consumer", "status", "feed-cp-is", "--format", "json", *common],
        env=env,
        check=True,
        capture_output=True,
    )
    audited = Counter(
        ref
        for record in hub.audit.all_disclosures()
        if isinstance(record, DisclosureAudited) and record.practitioner_id == "feed:cp-is"
        for ref in record.disclosed
    )

    (reported,) = json.loads(status.stdout)
    assert (reported["lag"], reported["errors"], reported["pending"]) == (0, 0, 0)
    assert reported["sent"] == len(expected)  # recorded once each, however often sent
    assert reported["denied_by_policy"] == {"no-relationship": 2 * NOT_ON_PLAN}

    records = read_topic(kafka_broker, topic, len(expected), timeout_s=60)
    by_key: dict[str, set[bytes]] = {}
    for record in records:
        key = dict(record.headers)["dedupe_key"].decode()
        assert json.loads(record.value)["dedupe_key"] == key
        by_key.setdefault(key, set()).add(record.value)
    assert set(by_key) == expected  # each item at least once; nothing else
    assert all(len(versions) == 1 for versions in by_key.values())  # repeats are identical
    print(f"{len(records)} messages for {len(expected)} items")
    assert len(records) >= len(expected)
    # Every relayed item was audited, once, however the kills fell.
    assert set(audited) == expected_refs
    assert set(audited.values()) == {1}
