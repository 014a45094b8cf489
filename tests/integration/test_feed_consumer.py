"""The outbound feed against the real store (SQLite and PostgreSQL) and a real Kafka-protocol
broker (tansu): what leaves, what never does, audit first, and at-least-once with dedupe."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from consumers.feed import (
    FeedConfigError,
    FeedConsumer,
    FeedProducer,
    FeedRecipient,
    feed_recipients,
    kafka_producer,
    load_recipients,
)
from consumers.framework import ConsumerRunner
from hub.audit_ledger import AuditUnavailableError
from hub.bootstrap import Hub, bootstrap
from hub.consumer_registry import consumer_names
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_days_ago, nhs_number, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
OTHER_LA = {"id": "wold-borough-council", "type": "local-authority"}
REFUGE = "Kestrel-Refuge-Unit-7"
SUMMARY_TEXT = "Mother disclosed new partner at address"
SIBLING_NHS = "943 476 5919"  # a valid NHS number, written with spaces, in free text
RETRACTED_TEXT = "Heron House, retracted: recorded against the wrong child"


def event(
    agency: dict[str, str], event_id: str, kind: str, days_ago: float, child: int, **fields: Any
) -> bytes:
    return event_days_ago(
        NOW,
        days_ago,
        event_id=event_id,
        agency=agency,
        child={"nhs_number": nhs_number(child)},
        kind=kind,
        **fields,
    )


@dataclass
class Publisher:
    """Ingests canonical events in the order given, one tracked source per agency."""

    hub: Hub
    positions: Counter[str] = field(default_factory=Counter)

    def publish(self, values: list[bytes], batch: int = 500) -> None:
        pending: list[tuple[str, bytes]] = [(json.loads(v)["agency"]["id"], v) for v in values]
        while pending:
            agency = pending[0][0]
            run: list[bytes] = []
            while pending and pending[0][0] == agency and len(run) < batch:
                run.append(pending.pop(0)[1])
            source = f"test:{agency}"
            messages = []
            for value in run:
                self.positions[source] += 1
                messages.append(InboundMessage(source, self.positions[source], value, agency))
            outcome = self.hub.ingest.ingest(messages)
            assert outcome.accepted == len(run), outcome


def recipient_entry(name: str, topic: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "description": "unscheduled care (test)",
        "organisation": "nhs-unscheduled-care",
        "agency_type": "health",
        "role": "health-practitioner",
        "teams": ["macpt:shire-county-council"],
        "purpose": "child-protection-planning",
        "topic": topic,
        "kinds": ["la.cp-plan-started", "la.cp-plan-ended", "la.looked-after", "la.placement-*"],
        "partitions": 3,
        "connect_timeout_ms": 2000,
    }
    entry.update(overrides)
    return entry


def write_recipients(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"recipients": list(entries)}))
    return path


def read_topic(broker: str, topic: str, at_least: int, timeout_s: float = 30) -> list[Any]:
    """Every record on the topic: polls until at least `at_least` arrived and a whole poll
    then brings nothing (end offsets cannot be trusted on tansu with batching producers)."""
    consumer = KafkaConsumer(
        bootstrap_servers=broker, group_id=None, enable_auto_commit=False, client_id="feed-test"
    )
    try:
        deadline = time.monotonic() + timeout_s
        numbers: set[int] = set()
        while not numbers and time.monotonic() < deadline:
            consumer.topics()  # refreshes metadata
            numbers = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=700)
            for batch in polled.values():
                records.extend(batch)
            if not polled and len(records) >= at_least:
                break
        return records
    finally:
        consumer.close()


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


@pytest.fixture
def topic() -> str:
    return f"hub.feed.test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def feed_hub(
    settings: HubSettings,
    tmp_path: Path,
    topic: str,
    kafka_broker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Hub]:
    path = write_recipients(
        tmp_path / "recipients.yaml",
        recipient_entry("cp-is", topic, redact=["details.category"]),
        recipient_entry("gp-alerts", f"{topic}.gp"),
    )
    monkeypatch.setenv("HUB_FEED_RECIPIENTS", str(path))
    monkeypatch.setenv("HUB_FEED_BOOTSTRAP", kafka_broker)
    hub = bootstrap(settings)
    register_agencies(hub)
    yield hub
    hub.close()


def feed_runner(hub: Hub, name: str = "feed-cp-is") -> tuple[ConsumerRunner, FeedConsumer]:
    runner = hub.consumer_runner(name)
    assert isinstance(runner.consumer, FeedConsumer)
    return runner, runner.consumer


def stream_of(hub: Hub, child: int) -> str:
    return hub.pseudonyms.child_stream(ChildRef(nhs_number=nhs_number(child))).hex


def disclosures(hub: Hub, stream: str) -> list[DisclosureAudited]:
    return [r for r in hub.audit.for_child(stream) if isinstance(r, DisclosureAudited)]


# Child 1 is on a Shire child protection plan; child 2 is looked after with no relationship to
# the MACPT; child 3 is on another authority's plan, a team the recipient is not in.
CASE = [
    event(LA, "CP-1", "la.cp-plan-started", 60, 1, details={"category": "neglect"}),
    event(
        LA,
        "LAC-1",
        "la.looked-after",
        30,
        1,
        summary=SUMMARY_TEXT,
        details={"legal_status": "s20"},
    ),
    event(LA, "CONTACT-1", "la.contact", 29, 1, summary=SUMMARY_TEXT),  # a kind not shared
    event(
        LA,
        "PLACE-1",
        "la.placement-ended",
        20,
        1,
        details={"address": REFUGE, "note": f"sibling {SIBLING_NHS} stays", "reason": "moved"},
        shielded_fields=["details.address"],
    ),
    event(
        LA,
        "LAC-2",
        "la.looked-after",
        19,
        1,
        details={"legal_status": "s31"},
        withheld_from=[
            {
                "agency_type": "health",
                "reason": "would put the placement at risk",
                "decided_by": "team manager",
                "review_by": "2030-01-01",
            }
        ],
    ),
    event(LA, "LAC-1", "la.looked-after", 30, 1, revision=2, details={"legal_status": "s31"}),
    # Retracted before the feed relayed it: nothing of it ever leaves.
    event(LA, "PLACE-2", "la.placement-started", 12, 1, details={"address": RETRACTED_TEXT}),
    event(LA, "RETRACT-2", "record.retracted", 10, 1, supersedes={"event_id": "PLACE-2"}),
    event(LA, "LAC-9", "la.looked-after", 15, 2, details={"legal_status": "s20"}),
    event(OTHER_LA, "CP-3", "la.cp-plan-started", 40, 3, details={"category": "neglect"}),
    event(OTHER_LA, "LAC-3", "la.looked-after", 20, 3, details={"legal_status": "s20"}),
]
EXPECTED = {  # (kind, revision, message type) relayed for child 1
    ("la.cp-plan-started", 1, "event"),
    ("la.looked-after", 1, "event"),
    ("la.placement-ended", 1, "event"),
    ("la.looked-after", 2, "event"),
}
# Published after the first relay: the publisher retracts a record the recipient holds.
RETRACTION = event(LA, "RETRACT-1", "record.retracted", 5, 1, supersedes={"event_id": "PLACE-1"})


class AuditedFirst:
    """A real producer that checks, as each message is handed to it, that the audit ledger
    already holds the disclosure the message carries."""

    def __init__(self, hub: Hub, consumer: FeedConsumer, inner: FeedProducer) -> None:
        self._hub, self._consumer, self._inner = hub, consumer, inner
        self.checked = 0

    def send(
        self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
    ) -> Any:
        message = json.loads(value)
        audited = set()
        for stream in (stream_of(self._hub, 1), stream_of(self._hub, 2), stream_of(self._hub, 3)):
            for entry in disclosures(self._hub, stream):
                for ref in entry.disclosed:
                    audited |= {
                        self._consumer.dedupe_key("event", ref),
                        self._consumer.dedupe_key("withdrawn", ref),
                    }
        assert message["dedupe_key"] in audited, "a message was sent before it was audited"
        self.checked += 1
        return self._inner.send(topic, key=key, value=value, headers=headers)

    def flush(self, timeout: float | None = None) -> None:
        self._inner.flush(timeout)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.kafka
def test_relays_only_what_the_recipient_may_receive_pseudonymised_redacted_and_audited_first(
    feed_hub: Hub, kafka_broker: str, topic: str
) -> None:
    Publisher(feed_hub).publish(CASE)
    runner, consumer = feed_runner(feed_hub)
    spies: list[AuditedFirst] = []

    def spying_factory(recipient: FeedRecipient, bootstrap_servers: str) -> FeedProducer:
        spies.append(AuditedFirst(feed_hub, consumer, kafka_producer(recipient, bootstrap_servers)))
        return spies[0]

    consumer._producer_factory = spying_factory
    report = runner.run_once()
    assert report.errors == 0
    assert spies and spies[0].checked == len(EXPECTED)

    records = read_topic(kafka_broker, topic, len(EXPECTED))
    messages = values(records)
    assert {(m.get("kind"), m["revision"], m["type"]) for m in messages} == EXPECTED and len(
        messages
    ) == len(EXPECTED)

    # Pseudonymised: one recipient-specific pseudonym for child 1, never the hub's stream id
    # or any NHS number; shielded values, free text, identifiers in free text and anything of
    # a record retracted before it was relayed never leave.
    child_one = stream_of(feed_hub, 1)
    assert {r.key for r in records} == {consumer.child_pseudonym(child_one).encode()}
    assert {m["child"] for m in messages} == {consumer.child_pseudonym(child_one)}
    raw = b"\n".join(r.value + (r.key or b"") for r in records)
    secrets = [child_one, *(stream_of(feed_hub, c) for c in (2, 3)), REFUGE, SUMMARY_TEXT]
    secrets += [nhs_number(c) for c in (1, 2, 3)] + [SIBLING_NHS, SIBLING_NHS.replace(" ", "")]
    secrets += [RETRACTED_TEXT, consumer.item_pseudonym("shire-county-council/PLACE-2")]
    for secret in secrets:
        assert secret.encode() not in raw, secret
    for header in (h for r in records for h in r.headers):
        assert header[0] in {"dedupe_key", "schema_version", "type"}

    by_kind = {(m.get("kind"), m["revision"]): m for m in messages}
    plan = by_kind[("la.cp-plan-started", 1)]
    assert plan["details"] == {"category": "[redacted]"}  # the recipient's own redaction
    assert plan["redacted"] == ["details.category"]
    assert plan["agency"] == LA and plan["lawful_basis"] == "legal-obligation"
    assert "summary" not in plan
    placement = by_kind[("la.placement-ended", 1)]
    assert placement["details"] == {"reason": "moved"}  # shielded and identifying left out
    assert by_kind[("la.looked-after", 2)]["details"] == {"legal_status": "s31"}
    looked_after = [m for m in messages if m.get("kind") == "la.looked-after"]
    assert len({m["item"] for m in looked_after}) == 1  # a correction names the same item
    assert len({m["dedupe_key"] for m in messages}) == len(messages)
    for record, message in zip(records, messages, strict=True):
        assert dict(record.headers)["dedupe_key"] == message["dedupe_key"].encode()

    # Audited: what was relayed, as one export by the feed principal, before it was sent;
    # nothing for the children the recipient has no relationship with (screening refused
    # them without releasing anything).
    (entry,) = disclosures(feed_hub, child_one)
    assert (entry.practitioner_id, entry.action, entry.outcome, entry.purpose) == (
        "feed:cp-is",
        "export",
        "disclosed",
        "child-protection-planning",
    )
    assert entry.relationship and entry.relationship.startswith("macpt-member via ")
    assert sorted(entry.disclosed) == [
        "shire-county-council/CP-1@1",
        "shire-county-council/LAC-1@1",
        "shire-county-council/LAC-1@2",
        "shire-county-council/PLACE-1@1",
    ]
    assert disclosures(feed_hub, stream_of(feed_hub, 2)) == []
    assert disclosures(feed_hub, stream_of(feed_hub, 3)) == []

    status = runner.status().as_dict()
    assert (status["lag"], status["errors"], status["pending"], status["sent"]) == (0, 0, 0, 4)
    assert status["denied_by_policy"] == {"no-relationship": 3, "withheld": 1, "retracted": 1}
    assert (status["queued"], status["relayed"], status["withdrawals"]) == (10, 4, 0)
    assert not any(s in json.dumps(status) for s in (child_one, nhs_number(1)))

    # The publisher retracts a record the recipient holds: it is told to drop it.
    Publisher(feed_hub, Counter({"test:shire-county-council": 100})).publish([RETRACTION])
    runner.run_once()
    consumer.close()
    assert spies[0].checked == len(EXPECTED) + 1
    withdrawn = [m for m in values(read_topic(kafka_broker, topic, 5)) if m["type"] == "withdrawn"]
    assert [(m["item"], m["reason"], m["revision"]) for m in withdrawn] == [
        (placement["item"], "retracted", 1)
    ]
    assert set(withdrawn[0]) == {
        "schema_version", "type", "dedupe_key", "recipient", "child", "item", "revision",
        "reason", "queued_at",
    }  # fmt: skip
    recorded = disclosures(feed_hub, child_one)[-1]
    assert (recorded.outcome, recorded.disclosed) == (
        "withdrawn",
        ["shire-county-council/RETRACT-1@1"],
    )

    # A second recipient receives the same child under a pseudonym that cannot be joined.
    gp_runner, gp = feed_runner(feed_hub, "feed-gp-alerts")
    gp_runner.run_once()
    gp.close()
    gp_messages = values(read_topic(kafka_broker, f"{topic}.gp", 3))
    assert {m["child"] for m in gp_messages} == {gp.child_pseudonym(child_one)}
    assert gp.child_pseudonym(child_one) != consumer.child_pseudonym(child_one)
    assert not {m["item"] for m in gp_messages} & {m["item"] for m in messages}
    assert not {m["dedupe_key"] for m in gp_messages} & {m["dedupe_key"] for m in messages}
    # It came later: the retracted placement was never relayed to it at all.
    assert {(m["kind"], m["revision"]) for m in gp_messages} == {
        ("la.cp-plan-started", 1),
        ("la.looked-after", 1),
        ("la.looked-after", 2),
    }


class SimulatedCrash(Exception):
    pass


@pytest.mark.kafka
def test_a_crash_between_produce_and_commit_resends_with_the_same_dedupe_keys(
    feed_hub: Hub, kafka_broker: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Publisher(feed_hub).publish(
        [
            event(LA, "CP-1", "la.cp-plan-started", 60, 1, details={"category": "neglect"}),
            *(
                event(LA, f"PLACE-{i}", "la.placement-ended", 50 - i, 1, details={"n": i})
                for i in range(6)
            ),
        ]
    )
    runner, consumer = feed_runner(feed_hub)
    real_commit = runner.state.commit

    def crash_when_recording_sent(
        changed: dict[str, Any], position: int | None, expected: int | None = None
    ) -> None:
        if any(name.startswith("sent:") for name in changed):
            raise SimulatedCrash  # the process dies after the broker has the messages
        real_commit(changed, position, expected)

    monkeypatch.setattr(runner.state, "commit", crash_when_recording_sent)
    with pytest.raises(SimulatedCrash):
        runner.run_once()
    consumer.close()
    first = values(read_topic(kafka_broker, topic, 7))
    assert len(first) == 7

    restarted, again = feed_runner(feed_hub)  # a new process: state read from the store
    assert restarted.status().as_dict()["pending"] == 7
    restarted.run_once()
    again.close()
    records = read_topic(kafka_broker, topic, 14)
    messages = values(records)
    keys = Counter(m["dedupe_key"] for m in messages)
    assert len(messages) == 14 and set(keys.values()) == {2}  # every item exactly twice
    by_key: dict[str, set[bytes]] = {}
    for record in records:
        by_key.setdefault(json.loads(record.value)["dedupe_key"], set()).add(record.value)
    assert all(len(v) == 1 for v in by_key.values())  # the resend is byte-identical

    # A receiving system that dedupes by key sees each item once, in the child's order.
    seen: dict[str, dict[str, Any]] = {}
    for message in messages:
        seen.setdefault(message["dedupe_key"], message)
    assert len(seen) == 7
    assert sorted(m["details"].get("n", -1) for m in seen.values()) == [-1, 0, 1, 2, 3, 4, 5]

    # Audited once each: the audit was committed as done before the first produce.
    refs = [ref for e in disclosures(feed_hub, stream_of(feed_hub, 1)) for ref in e.disclosed]
    assert len(refs) == 7 and len(set(refs)) == 7

    # Nothing left to send, and a rebuild does not send again (sent: records are kept).
    assert restarted.status().as_dict()["pending"] == 0
    rebuilt, third = feed_runner(feed_hub)
    rebuilt.rebuild()
    third.close()
    assert len(read_topic(kafka_broker, topic, 14, timeout_s=5)) == 14
    assert rebuilt.status().as_dict()["pending"] == 0


@pytest.mark.kafka
def test_a_crash_after_writing_the_audit_entry_does_not_audit_again(
    feed_hub: Hub, kafka_broker: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Publisher(feed_hub).publish(
        [
            event(LA, "CP-1", "la.cp-plan-started", 60, 1, details={"category": "neglect"}),
            event(LA, "LAC-1", "la.looked-after", 30, 1, details={"legal_status": "s20"}),
            event(LA, "CP-2", "la.cp-plan-started", 60, 2, details={"category": "neglect"}),
        ]
    )
    runner, consumer = feed_runner(feed_hub)
    real_commit = runner.state.commit

    def crash_when_recording_audited(
        changed: dict[str, Any], position: int | None, expected: int | None = None
    ) -> None:
        if any(":out:" in name and doc and doc.get("audited") for name, doc in changed.items()):
            raise SimulatedCrash  # the audit ledger has the entry; the feed's store does not
        real_commit(changed, position, expected)

    monkeypatch.setattr(runner.state, "commit", crash_when_recording_audited)
    with pytest.raises(SimulatedCrash):
        runner.run_once()
    consumer.close()
    written = [e for c in (1, 2) for e in disclosures(feed_hub, stream_of(feed_hub, c))]
    assert len(written) == 1  # the first child's entry was written, then the process died

    restarted, again = feed_runner(feed_hub)
    restarted.run_once()
    again.close()
    assert len(read_topic(kafka_broker, topic, 3)) == 3
    refs = Counter(
        ref
        for c in (1, 2)
        for e in disclosures(feed_hub, stream_of(feed_hub, c))
        for ref in e.disclosed
    )
    assert refs == Counter(
        {
            "shire-county-council/CP-1@1": 1,
            "shire-county-council/LAC-1@1": 1,
            "shire-county-council/CP-2@1": 1,
        }
    )


@pytest.mark.kafka
def test_outages_lose_nothing_send_nothing_unaudited_and_nothing_of_an_erased_child(
    feed_hub: Hub, kafka_broker: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Publisher(feed_hub).publish(
        [
            event(LA, "CP-1", "la.cp-plan-started", 60, 1, details={"category": "neglect"}),
            event(LA, "LAC-1", "la.looked-after", 30, 1, details={"legal_status": "s20"}),
            event(LA, "CP-2", "la.cp-plan-started", 60, 2, details={"category": "neglect"}),
        ]
    )
    runner, consumer = feed_runner(feed_hub)

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise AuditUnavailableError("the audit ledger could not be written")

    with monkeypatch.context() as patch:
        patch.setattr(feed_hub.audit, "record_access", unavailable)
        with pytest.raises(AuditUnavailableError):
            runner.run_once()
    assert runner.status().as_dict()["pending"] == 3

    # The broker is unreachable: the pass fails, the outbox stays, nothing is marked sent.
    with monkeypatch.context() as patch:
        patch.setenv("HUB_FEED_BOOTSTRAP", f"127.0.0.1:{_closed_port()}")
        down, _ = feed_runner(feed_hub)
        with pytest.raises(Exception) as failure:
            down.run_once()
    assert type(failure.value).__module__.startswith("kafka")
    assert down.status().as_dict()["pending"] == 3

    # Child 2 is erased (crypto-shredded) while their item waits: it is never sent.
    feed_hub.keyring.erase(f"child:{stream_of(feed_hub, 2)}")
    runner.run_once()
    consumer.close()
    messages = values(read_topic(kafka_broker, topic, 2))
    assert {m["child"] for m in messages} == {consumer.child_pseudonym(stream_of(feed_hub, 1))}
    assert len(messages) == 2
    status = runner.status().as_dict()
    assert (status["sent"], status["pending"]) == (2, 0)
    (entry,) = disclosures(feed_hub, stream_of(feed_hub, 1))  # one per child and pass
    assert sorted(entry.disclosed) == [
        "shire-county-council/CP-1@1",
        "shire-county-council/LAC-1@1",
    ]
    assert disclosures(feed_hub, stream_of(feed_hub, 2)) == []


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_recipients_file_is_checked_and_optional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_FEED_RECIPIENTS", raising=False)
    settings = HubSettings(data_dir=tmp_path / "hub")
    assert feed_recipients(settings.data_dir) == []  # nothing is relayed unless configured
    sample = Path(__file__).resolve().parents[2] / "hub" / "samples" / "feed-recipients.yaml"
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "feed-recipients.yaml").write_text(sample.read_text())
    assert [r.name for r in feed_recipients(settings.data_dir)] == ["cp-is"]
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        assert "feed-cp-is" in consumer_names(hub)
    finally:
        hub.close()

    bad = {
        "role": "data-protection-officer",
        "kinds": ["identity.linked"],
        "redact": ["address"],
    }
    for field_name, value in bad.items():
        path = write_recipients(
            tmp_path / f"{field_name}.yaml", recipient_entry("x", "t", **{field_name: value})
        )
        with pytest.raises(FeedConfigError, match=field_name):
            load_recipients(path)
    twice = write_recipients(
        tmp_path / "twice.yaml", recipient_entry("x", "t"), recipient_entry("x", "u")
    )
    with pytest.raises(FeedConfigError, match="unique"):
        load_recipients(twice)
    monkeypatch.setenv("HUB_FEED_RECIPIENTS", str(tmp_path / "missing.yaml"))
    with pytest.raises(FeedConfigError, match="cannot read"):
        feed_recipients(settings.data_dir)


AGREEMENT = {
    "agreement": "feed-test",
    "version": "1",
    "effective_from": "2020-01-01T00:00:00Z",
    "rules": [
        {
            "id": "unscheduled-care",
            "description": "Unscheduled care sees plan and care status, not the legal status.",
            "roles": ["health-practitioner"],
            "purposes": ["child-protection-planning"],
            "agency_types": ["local-authority"],
            "kinds": ["la.cp-plan-*", "la.looked-after"],
            "max_sensitivity": "standard",
            "lawful_basis": "public-task",
            "special_category_condition": "safeguarding",
            "criminal_offence_condition": "safeguarding",
            "redact": ["details.legal_status", "summary"],
        }
    ],
}


@pytest.mark.kafka
def test_the_agreement_decides_redactions_sensitivity_and_the_summary(
    sqlite_settings: HubSettings,
    tmp_path: Path,
    topic: str,
    kafka_broker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agreements = tmp_path / "agreements"
    agreements.mkdir()
    (agreements / "feed-test-1.yaml").write_text(yaml.safe_dump(AGREEMENT))
    path = write_recipients(
        tmp_path / "recipients.yaml", recipient_entry("cp-is", topic, include_summary=True)
    )
    monkeypatch.setenv("HUB_FEED_RECIPIENTS", str(path))
    monkeypatch.setenv("HUB_FEED_BOOTSTRAP", kafka_broker)
    hub = bootstrap(sqlite_settings.model_copy(update={"agreements_dir": agreements}))
    register_agencies(hub)
    try:
        Publisher(hub).publish(
            [
                event(LA, "CP-1", "la.cp-plan-started", 60, 1, details={"category": "neglect"}),
                event(LA, "LAC-1", "la.looked-after", 30, 1, details={"legal_status": "s20"}),
                event(
                    LA,
                    "LAC-2",
                    "la.looked-after",
                    20,
                    1,
                    sensitivity="sensitive",
                    details={"legal_status": "s31"},
                ),
                event(LA, "PLACE-1", "la.placement-ended", 10, 1),  # no rule shares it
            ]
        )
        runner, consumer = feed_runner(hub)
        runner.run_once()
        consumer.close()
        messages = {m["item"]: m for m in values(read_topic(kafka_broker, topic, 2))}
        assert len(messages) == 2
        plan = messages[consumer.item_pseudonym("shire-county-council/CP-1")]
        assert (plan["summary"], plan["details"]) == ("[redacted]", {"category": "neglect"})
        looked_after = messages[consumer.item_pseudonym("shire-county-council/LAC-1")]
        assert looked_after["details"] == {"legal_status": "[redacted]"}
        assert looked_after["redacted"] == ["summary", "details.legal_status"]
        assert looked_after["lawful_basis"] == "public-task"
        assert looked_after["agreement_version"] == "feed-test@1"
        assert runner.status().as_dict()["denied_by_policy"] == {"default-deny": 2}
        (entry,) = disclosures(hub, stream_of(hub, 1))
        assert entry.redacted == {
            "shire-county-council/CP-1@1": ["summary"],
            "shire-county-council/LAC-1@1": ["summary", "details.legal_status"],
        }
        assert entry.lawful_basis == "public-task"
        assert entry.agreement_version == "feed-test@1"
    finally:
        hub.close()
