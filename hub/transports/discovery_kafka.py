"""Reading the answers to this hub's questions to partner hubs ("Is anyone else involved?").

A hub reads them from its answers topic: its own inbound topic's name followed by `.answers`
(`hub.domain.discovery.answers_topic`), on its own brokers. The reader is placed at the end of
every partition of that topic *before* the questions are sent, so it reads the answers to these
questions and nothing older; it keeps no position (an answer to a question nobody is waiting
for any more answers nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from hub.domain.federation import KafkaEndpoint
from hub.transports.kafka import FETCH_MAX_BYTES, ensure_topic


class AnswersReader:
    """Reads an answers topic from its end as it was when the reader was opened."""

    def __init__(
        self,
        endpoint: KafkaEndpoint,
        client_options: Mapping[str, Any] | None = None,
        replication_factor: int = 1,
    ) -> None:
        options = dict(client_options or {})
        ensure_topic(
            ",".join(endpoint.bootstrap),
            endpoint.topic,
            client_options=options,
            replication_factor=replication_factor,
        )
        self._consumer = KafkaConsumer(
            bootstrap_servers=endpoint.bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=FETCH_MAX_BYTES,
            **options,
        )
        partitions = self._consumer.partitions_for_topic(endpoint.topic) or set()
        assigned = [TopicPartition(endpoint.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_end(*assigned)
        for partition in assigned:
            self._consumer.position(partition)  # resolve the end now, before anything is sent

    def poll(self, timeout_ms: int = 500) -> list[bytes]:
        batches = self._consumer.poll(timeout_ms=timeout_ms)
        return [
            bytes(record.value or b"")
            for _, records in sorted(batches.items())
            for record in records
        ]

    def close(self) -> None:
        self._consumer.close()
