"""Federation messages over Kafka: a hub sends to a partner's inbound topic on the partner's
brokers (the register says where) and reads its own inbound topic.

Messages from one sender keep their order (the message key is the sender's hub id, so they
share a partition). The receiver assigns every partition of its inbound topic explicitly and
reads from the positions it is given (`kafka:<topic>:<partition>` -> last offset handled), as
agency ingest does, so a restart neither skips nor repeats a message. Mutual TLS or SASL is
the hub's own Kafka client configuration (`HubSettings.kafka_client_options`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hub.domain.federation import FederationMessage, KafkaEndpoint
from hub.transports.kafka import FETCH_MAX_BYTES, ensure_topic, source_name


def send_message(
    endpoint: KafkaEndpoint,
    message: FederationMessage,
    client_options: Mapping[str, Any] | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Produce the signed message to the partner's inbound topic and wait for the brokers'
    acknowledgement (all in-sync replicas)."""
    producer = KafkaProducer(
        bootstrap_servers=endpoint.bootstrap, acks="all", retries=5, **dict(client_options or {})
    )
    try:
        future = producer.send(
            endpoint.topic, key=message.sender.encode(), value=message.to_bytes()
        )
        producer.flush()
        future.get(timeout=timeout_s)
    finally:
        producer.close()


@dataclass(frozen=True)
class Received:
    source: str  # kafka:<topic>:<partition>
    position: int  # the offset
    raw: bytes


class FederationReceiver:
    """Reads this hub's inbound federation topic from the positions given."""

    def __init__(
        self,
        endpoint: KafkaEndpoint,
        positions: Mapping[str, int],
        client_options: Mapping[str, Any] | None = None,
        replication_factor: int = 1,
    ) -> None:
        options = dict(client_options or {})
        bootstrap = ",".join(endpoint.bootstrap)
        ensure_topic(bootstrap, endpoint.topic, client_options=options,
                     replication_factor=replication_factor)  # fmt: skip
        self._consumer = KafkaConsumer(
            bootstrap_servers=endpoint.bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=FETCH_MAX_BYTES,
            **options,
        )
        partitions = self._consumer.partitions_for_topic(endpoint.topic) or set()
        assigned = [TopicPartition(endpoint.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        for partition in assigned:
            done = positions.get(source_name(partition))
            if done is None:
                self._consumer.seek_to_beginning(partition)
            else:
                self._consumer.seek(partition, done + 1)

    def poll(self, timeout_ms: int = 1000) -> list[Received]:
        batches = self._consumer.poll(timeout_ms=timeout_ms)
        return [
            Received(source_name(partition), record.offset, bytes(record.value or b""))
            for partition, records in sorted(batches.items())
            for record in records
        ]

    def close(self) -> None:
        self._consumer.close()
