"""Federation messages over Kafka: a hub sends to a partner's inbound topic on the partner's
brokers (the register says where) and reads its own inbound topic.

Messages from one sender keep their order (the message key is the sender's hub id, so they
share a partition). The receiver assigns every partition of its inbound topic explicitly and
reads from the positions it is given (`kafka:<topic>:<partition>` -> last offset handled), as
agency ingest does, so a restart neither skips nor repeats a message. Mutual TLS or SASL is
the hub's own Kafka client configuration (`HubSettings.kafka_client_options`).
"""

from __future__ import annotations

import threading
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
    """One message on a producer of its own, acknowledged by all in-sync replicas (a running
    hub keeps its producers open: `FederationSender`)."""
    sender = FederationSender(client_options, timeout_s)
    try:
        sender.send(endpoint, message)
    finally:
        sender.close()


class FederationSender:
    """Sends signed messages to partners' inbound topics over producers kept open, one per set
    of brokers: opening a producer costs tens of milliseconds (connecting, fetching metadata),
    which a question to ten partners paid ten times over. A producer that fails is dropped, so
    the next message connects afresh."""

    def __init__(
        self, client_options: Mapping[str, Any] | None = None, timeout_s: float = 30.0
    ) -> None:
        self._options = dict(client_options or {})
        self._timeout_s = timeout_s
        self._producers: dict[tuple[str, ...], KafkaProducer] = {}
        self._lock = threading.Lock()

    def _producer(self, endpoint: KafkaEndpoint) -> tuple[tuple[str, ...], KafkaProducer]:
        brokers = tuple(endpoint.bootstrap)
        with self._lock:
            producer = self._producers.get(brokers)
            if producer is None:
                producer = KafkaProducer(
                    bootstrap_servers=list(brokers), acks="all", retries=5, **self._options
                )
                self._producers[brokers] = producer
            return brokers, producer

    def send(self, endpoint: KafkaEndpoint, message: FederationMessage) -> None:
        """Produce the message and wait for the brokers' acknowledgement (all in-sync
        replicas)."""
        brokers, producer = self._producer(endpoint)
        try:
            future = producer.send(
                endpoint.topic, key=message.sender.encode(), value=message.to_bytes()
            )
            future.get(timeout=self._timeout_s)
        except Exception:
            with self._lock:
                if self._producers.get(brokers) is producer:
                    del self._producers[brokers]
            producer.close(timeout=1)
            raise

    def close(self) -> None:
        with self._lock:
            producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
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
