"""Federation messages over Kafka: a hub sends to a partner's inbound topic on the partner's
brokers (the register says where) and reads its own inbound topic.

Messages from one sender keep their order (the message key is the sender's hub id, so they
share a partition). The receiver assigns every partition of its inbound topic explicitly and
reads from the positions it is given (`kafka:<topic>:<partition>` -> last offset handled), as
agency ingest does, so a restart neither skips nor repeats a message. This hub's own brokers
are reached with its own Kafka client configuration (`HubSettings.kafka_client_options`); a
partner's with the credential the register's `client` block for that partner names (its
password read from `password_file` when a producer connects), so each partner's cluster knows
only the credential this hub uses there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hub.domain.federation import FederationMessage, KafkaEndpoint, PartnerKafkaClient
from hub.domain.kafka_client import kafka_client_options
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


class PartnerClientError(RuntimeError):
    """A partner's `client` block cannot be used: names the partner and the field, never a
    value (neither the password nor where it is kept)."""


def partner_client_options(partner_id: str, client: PartnerKafkaClient) -> dict[str, Any]:
    """kafka-python options for connecting to one partner's brokers, the password read from
    the client block's `password_file`."""
    password: str | None = None
    if client.password_file is not None:
        field = f"Partner hub {partner_id}: kafka.client.password_file"
        try:
            password = client.password_file.read_text(encoding="utf-8").strip()
        except OSError:
            raise PartnerClientError(
                f"{field} cannot be read (the file is missing or the hub may not read it)"
            ) from None
        if not password:
            raise PartnerClientError(f"{field} is empty")
    return kafka_client_options(
        client.security_protocol,
        sasl_mechanism=client.sasl_mechanism,
        username=client.username,
        password=password,
        ca_file=client.ca_file,
        cert_file=client.cert_file,
        key_file=client.key_file,
    )


_ProducerKey = tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]


class FederationSender:
    """Sends signed messages to partners' inbound topics over producers kept open, one per set
    of brokers and client options: opening a producer costs tens of milliseconds (connecting,
    fetching metadata), which a question to ten partners paid ten times over. A partner whose
    register entry has a `client` block is reached with that credential, any other with this
    hub's own options (`client_options`: only for a test setup sharing one cluster); a
    producer is never reused under another credential. A producer that fails is dropped (and
    the partner's password read again), so the next message connects afresh."""

    def __init__(
        self,
        client_options: Mapping[str, Any] | None = None,
        timeout_s: float = 30.0,
        producer_factory: Callable[..., KafkaProducer] = KafkaProducer,
    ) -> None:
        self._options = dict(client_options or {})
        self._timeout_s = timeout_s
        self._new_producer = producer_factory
        self._producers: dict[_ProducerKey, KafkaProducer] = {}
        self._partner_options: dict[PartnerKafkaClient, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def client_options(self, endpoint: KafkaEndpoint, partner_id: str) -> dict[str, Any]:
        """The options this hub connects to that endpoint with: its `client` block's, else
        the hub's own."""
        client = endpoint.client
        if client is None:
            return self._options
        with self._lock:
            options = self._partner_options.get(client)
        if options is None:
            options = partner_client_options(partner_id, client)
            with self._lock:
                self._partner_options[client] = options
        return options

    def _producer(
        self, endpoint: KafkaEndpoint, partner_id: str
    ) -> tuple[_ProducerKey, KafkaProducer]:
        options = self.client_options(endpoint, partner_id)
        brokers = tuple(endpoint.bootstrap)
        key: _ProducerKey = (brokers, tuple(sorted(options.items())))
        with self._lock:
            producer = self._producers.get(key)
            if producer is None:
                producer = self._new_producer(
                    bootstrap_servers=list(brokers), acks="all", retries=5, **options
                )
                self._producers[key] = producer
            return key, producer

    def send(self, endpoint: KafkaEndpoint, message: FederationMessage) -> None:
        """Produce the message and wait for the brokers' acknowledgement (all in-sync
        replicas)."""
        key, producer = self._producer(endpoint, message.recipient)
        try:
            future = producer.send(
                endpoint.topic, key=message.sender.encode(), value=message.to_bytes()
            )
            future.get(timeout=self._timeout_s)
        except Exception:
            with self._lock:
                if self._producers.get(key) is producer:
                    del self._producers[key]
                if endpoint.client is not None:
                    self._partner_options.pop(endpoint.client, None)
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
