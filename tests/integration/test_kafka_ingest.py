"""The Kafka path against a real Kafka-protocol broker (tansu)."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.reports.operations import quarantined_messages, store_status
from hub.settings import HubSettings
from hub.transports.kafka import KafkaIngestRunner, ensure_topic, publish_events, source_name
from tests.factories import event_bytes, event_dict, nhs_number, register_agencies

pytestmark = pytest.mark.kafka


def unique_agency() -> str:
    return f"police-{uuid.uuid4().hex[:8]}"


def police_events(agency: str, count: int, children: int = 7) -> list[CanonicalEvent]:
    return [
        CanonicalEvent.model_validate(
            event_dict(
                event_id=f"OCC-{i}",
                agency={"id": agency, "type": "police"},
                child={"nhs_number": nhs_number(i % children)},
                kind="police.home-visit",
                details={
                    "reason": "welfare check",
                    "child_seen": True,
                    "child_spoken_to": i % 2 == 0,
                },
            )
        )
        for i in range(count)
    ]


def ingest_once(hub: Hub, broker: str) -> None:
    runner = KafkaIngestRunner(broker, hub.ingest, batch_size=100)
    try:
        runner.run(once=True)
    finally:
        runner.close()


def test_publish_and_ingest_exactly_once_across_restarts(
    kafka_broker: str, settings: HubSettings
) -> None:
    agency = unique_agency()
    events = police_events(agency, 250)
    first = bootstrap(settings)
    register_agencies(first, {agency: "police"})
    receipt = publish_events(kafka_broker, agency, events[:150], first.pseudonyms)
    assert receipt.sent == 150
    ingest_once(first, kafka_broker)
    # The broker is shared by the session, so count only this test's agency.
    assert store_status(first.store, "t").events_by_agency[agency] == 150
    first.close()

    second = bootstrap(settings)  # a restarted ingest process
    publish_events(kafka_broker, agency, events[150:], second.pseudonyms)
    publish_events(kafka_broker, agency, events[:10], second.pseudonyms)  # a producer retry storm
    ingest_once(second, kafka_broker)
    status = store_status(second.store, "t")
    assert status.events_by_agency[agency] == 250
    mine = [s for s in status.sources if s.source.startswith(f"kafka:{agency_topic(agency)}:")]
    assert (sum(s.consumed for s in mine), sum(s.duplicates for s in mine)) == (260, 10)
    for source in mine:
        assert source.consumed == source.accepted + source.duplicates + source.quarantined
    second.close()


def test_message_key_is_the_child_pseudonym_so_a_child_stays_in_one_partition(
    kafka_broker: str, hub: Hub
) -> None:
    agency = unique_agency()
    events = police_events(agency, 40, children=3)
    publish_events(kafka_broker, agency, events, hub.pseudonyms)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_broker, group_id=None, consumer_timeout_ms=3000
    )
    partitions = [
        TopicPartition(agency_topic(agency), p)
        for p in consumer.partitions_for_topic(agency_topic(agency))
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    keys_by_partition: dict[bytes, set[int]] = {}
    for seen, record in enumerate(consumer, start=1):
        keys_by_partition.setdefault(record.key, set()).add(record.partition)
        if seen == 40:
            break
    consumer.close()
    expected_keys = {
        hub.pseudonyms.child_stream(ChildRef(nhs_number=nhs_number(i))).hex.encode()
        for i in range(3)
    }
    assert set(keys_by_partition) == expected_keys
    assert all(len(parts) == 1 for parts in keys_by_partition.values())


def test_bad_messages_on_a_topic_are_quarantined_not_dropped(kafka_broker: str, hub: Hub) -> None:
    agency = unique_agency()
    register_agencies(hub, {agency: "police"})
    topic = agency_topic(agency)
    ensure_topic(kafka_broker, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_broker, acks="all")
    values = [
        event_bytes(
            event_id="OK-1",
            agency={"id": agency, "type": "police"},
            kind="police.nrm-referral",
            details={},
        ),
        event_bytes(
            event_id="X-1",
            agency={"id": "someone-else", "type": "police"},
            kind="police.nrm-referral",
            details={},
        ),
        b"\x00\x01 not json",
        event_bytes(
            event_id="X-2",
            agency={"id": agency, "type": "police"},
            kind="police.nrm-referral",
            details={},
            child={"nhs_number": "1234567890"},
        ),
        event_bytes(  # the police topic's owner declaring itself a local authority
            event_id="X-3",
            agency={"id": agency, "type": "local-authority"},
            kind="la.worker-allocated",
            details={"practitioner_id": "sw-0001", "role": "social-worker"},
        ),
    ]
    for value in values:
        producer.send(topic, key=b"k", value=value).get(timeout=30)
    unregistered = unique_agency()  # a topic whose agency this hub has no record of
    ensure_topic(kafka_broker, agency_topic(unregistered), partitions=1)
    producer.send(
        agency_topic(unregistered),
        key=b"k",
        value=event_bytes(
            agency={"id": unregistered, "type": "police"}, kind="police.nrm-referral", details={}
        ),
    ).get(timeout=30)
    producer.close()
    ingest_once(hub, kafka_broker)
    items = {
        (i.position, i.reason_code) for i in quarantined_messages(hub.store) if topic in i.source
    }
    assert items == {
        (1, "wrong-agency"),
        (2, "malformed-json"),
        (3, "invalid-event"),
        (4, "wrong-agency-type"),
    }
    assert hub.store.position(source_name(TopicPartition(topic, 0))) == 4
    refused = [
        i.reason_code
        for i in quarantined_messages(hub.store)
        if agency_topic(unregistered) in i.source
    ]
    assert refused == ["unregistered-agency"]
    assert store_status(hub.store, "t").events_by_agency[agency] == 1


def test_a_poll_takes_a_full_batch_from_every_partition(kafka_broker: str, hub: Hub) -> None:
    """One poll asks for up to a batch per owned partition, so each partition's records are
    one transaction, not split across small ones by a poll capped at one batch in all; and a
    partition with more than a batch is split into batches of at most `batch_size`."""
    agency = unique_agency()
    register_agencies(hub, {agency: "police"})
    publish_events(kafka_broker, agency, police_events(agency, 180, 60), hub.pseudonyms)
    runner = KafkaIngestRunner(kafka_broker, hub.ingest, batch_size=100)
    try:
        outcomes = runner.run(once=True)
    finally:
        runner.close()
    mine = [o for o in outcomes if o.source.startswith(f"kafka:{agency_topic(agency)}:")]
    assert sum(o.accepted for o in mine) == 180
    assert len(mine) == len({o.source for o in mine})  # one batch per partition

    more = unique_agency()
    register_agencies(hub, {more: "police"})
    publish_events(kafka_broker, more, police_events(more, 200), hub.pseudonyms)
    runner = KafkaIngestRunner(kafka_broker, hub.ingest, batch_size=25)
    try:
        outcomes = runner.run(once=True)
    finally:
        runner.close()
    mine = [o for o in outcomes if o.source.startswith(f"kafka:{agency_topic(more)}:")]
    assert sum(o.accepted for o in mine) == 200
    assert max(o.consumed for o in mine) <= 25
