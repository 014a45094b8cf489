"""Sending to a recipient's Kafka topic: the producer a feed uses, with the recipient's TLS and
SASL settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from consumers.feed.recipients import FeedRecipient

if TYPE_CHECKING:
    pass


class SendResult(Protocol):
    def get(self, timeout: float | None = None) -> Any: ...


class FeedProducer(Protocol):
    def send(
        self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
    ) -> SendResult: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


ProducerFactory = Callable[["FeedRecipient", str], FeedProducer]


def _connection_options(recipient: FeedRecipient, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": f"hub-feed-{recipient.name}",
        "bootstrap_timeout_ms": recipient.connect_timeout_ms,
    }
    if recipient.tls is not None:
        options.update(
            security_protocol="SSL",
            ssl_cafile=str(recipient.tls.cafile),
            ssl_certfile=str(recipient.tls.certfile) if recipient.tls.certfile else None,
            ssl_keyfile=str(recipient.tls.keyfile) if recipient.tls.keyfile else None,
        )
    return options


def kafka_producer(recipient: FeedRecipient, bootstrap: str) -> FeedProducer:
    """A producer that waits for every in-sync replica and keeps a child's order on retries
    (one request in flight per connection); creates the topic first if configured to."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from consumers.feed.recipients import FeedSettings

    options = _connection_options(recipient, bootstrap)
    replicas = recipient.replication_factor or FeedSettings().replication_factor
    if recipient.create_topic:
        admin = KafkaAdminClient(**options)
        try:
            if recipient.topic not in admin.list_topics():
                admin.create_topics(
                    [NewTopic(recipient.topic, recipient.partitions, replication_factor=replicas)]
                )
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()
    producer: FeedProducer = KafkaProducer(
        acks="all",
        retries=5,
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
        max_block_ms=recipient.connect_timeout_ms,
        **options,
    )
    return producer
