"""Kafka transport: one topic per agency (`hub.events.<agency-id>`), message key the child's
pseudonymous stream id so a child's events stay in order within a partition.

Ingest assigns partitions explicitly (no consumer group: joins are slow, and the position that
counts is the one committed in the store with the events) and seeks each partition to the
tracked offset + 1, so a restart neither skips nor repeats a message.

Scale-out: `workers` processes share the partitions by static assignment. Worker `index` owns
partition p of topic t when (p + crc32(t)) mod workers == index: stable (no rebalancing, no
group coordinator), spread evenly within each topic, and computed the same way by every
worker with no coordination. Exactly once does not depend on the assignment being disjoint:
the store's tracking row per (partition, offset) refuses a second writer, and that writer
re-reads the stored position and skips what is recorded (see IngestService.ingest).

When the broker becomes unreachable mid-run, ingest keeps running: every empty poll probes
the broker with a bounded request, and while that fails it logs `kafka_unavailable` (with
`retry_in_s`) and waits with exponential backoff (0.5 s doubling to 30 s). When the broker
answers again it logs `kafka_available_again` and seeks every partition back to the store's
committed position + 1, so nothing is skipped or recorded twice.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from hub.adapters import metrics
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.agency_records import TOPIC_PREFIX, agency_topic
from hub.domain.canonical_event import CanonicalEvent
from hub.ingest import BatchOutcome, InboundMessage, IngestService

DEFAULT_PARTITIONS = 3
# What one fetch asks the broker for, and the largest response read. A Kafka broker returns at
# most FETCH_MAX_BYTES of records plus one batch larger than that (KIP-74), but tansu (the
# tests' broker) returned two 50 MB messages of two agencies in one 104,858,719-byte response:
# over the client's 100 MB guard it was refused, fetched again and refused again, for ever.
# Anything over HUB_MAX_MESSAGE_BYTES is quarantined anyway, so fetches are kept small and the
# guard large: an oversize message is read once, quarantined, and ingest moves on.
FETCH_MAX_BYTES = 8 * 1024 * 1024
RESPONSE_MAX_BYTES = 512 * 1024 * 1024
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
log = structlog.get_logger("hub.kafka")


def source_name(partition: TopicPartition) -> str:
    return f"kafka:{partition.topic}:{partition.partition}"


def owner_worker(partition: TopicPartition, workers: int) -> int:
    """The worker index that ingests this partition (static assignment, see the module doc)."""
    return (int(partition.partition) + zlib.crc32(partition.topic.encode())) % workers


def ensure_topic(
    bootstrap: str,
    topic: str,
    partitions: int = DEFAULT_PARTITIONS,
    client_options: dict[str, Any] | None = None,
    replication_factor: int = 1,
) -> None:
    """Create the topic if it is missing, with the deployment's replication factor
    (HUB_KAFKA_REPLICATION_FACTOR: 1 for a single development broker, 3 in compose and k8s)."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="hub-admin", **(client_options or {})
    )
    try:
        if topic not in admin.list_topics():
            admin.create_topics(
                [NewTopic(topic, partitions, replication_factor=replication_factor)]
            )
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


@dataclass(frozen=True)
class PublishReceipt:
    topic: str
    sent: int


def publish_events(
    bootstrap: str,
    agency_id: str,
    events: Iterable[CanonicalEvent],
    pseudonyms: Pseudonymiser,
    client_options: dict[str, Any] | None = None,
    replication_factor: int = 1,
) -> PublishReceipt:
    """Produce canonical events to the agency's topic and wait until the broker has them all."""
    topic = agency_topic(agency_id)
    ensure_topic(
        bootstrap, topic, client_options=client_options, replication_factor=replication_factor
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=5, **(client_options or {})
    )
    sent = 0
    try:
        futures = []
        for event in events:
            key = pseudonyms.child_stream(event.child).hex.encode()
            value = event.model_dump_json(exclude_none=True).encode()
            futures.append(producer.send(topic, key=key, value=value))
            sent += 1
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()
    return PublishReceipt(topic, sent)


class KafkaIngestRunner:
    """Follows the agency topics' partitions this worker owns and feeds each partition's
    messages to the ingest core."""

    def __init__(
        self,
        bootstrap: str,
        ingest: IngestService,
        *,
        batch_size: int = 1000,
        poll_timeout_ms: int = 500,
        bootstrap_timeout_ms: int = 30_000,
        probe_timeout_ms: int = 3_000,
        workers: int = 1,
        worker_index: int = 0,
        client_options: dict[str, Any] | None = None,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        if not 0 <= worker_index < workers:
            raise ValueError(f"worker index {worker_index} is not in 0..{workers - 1}")
        self._bootstrap = bootstrap
        self._ingest = ingest
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._probe_timeout_ms = probe_timeout_ms
        self._workers = workers
        self._worker_index = worker_index
        self._heartbeat = heartbeat
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            fetch_max_bytes=FETCH_MAX_BYTES,
            receive_message_max_bytes=RESPONSE_MAX_BYTES,
            client_id=f"hub-ingest-{worker_index}",
            bootstrap_timeout_ms=bootstrap_timeout_ms,
            **(client_options or {}),
        )
        self._assigned: set[TopicPartition] = set()
        self.broker_available = True  # false from a failed broker request until one succeeds

    def close(self) -> None:
        self._consumer.close()

    def _end_offsets(self) -> dict[TopicPartition, int]:
        """The assigned partitions' end offsets, from a request bounded in time: it raises a
        KafkaError when the broker does not answer (where `topics()` would wait forever)."""
        if not self._assigned:
            return {}
        ends: dict[TopicPartition, int] = self._consumer.end_offsets(
            list(self._assigned), timeout_ms=self._probe_timeout_ms
        )
        return ends

    def _seek_to_store_positions(self) -> None:
        for partition in self._assigned:
            committed = self._ingest.resume_after(source_name(partition))
            self._consumer.seek(partition, 0 if committed is None else committed + 1)

    def _refresh_assignment(self) -> None:
        self._end_offsets()  # is the broker there? (topics() below would block until it is)
        partitions = set()
        for topic in self._consumer.topics():
            if topic.startswith(TOPIC_PREFIX):
                for number in self._consumer.partitions_for_topic(topic) or ():
                    partition = TopicPartition(topic, number)
                    if owner_worker(partition, self._workers) == self._worker_index:
                        partitions.add(partition)
        if partitions == self._assigned:
            return
        self._consumer.assign(sorted(partitions))
        for partition in partitions - self._assigned:
            committed = self._ingest.resume_after(source_name(partition))
            if committed is None:
                self._consumer.seek_to_beginning(partition)
            else:
                self._consumer.seek(partition, committed + 1)
        self._assigned = partitions
        log.info(
            "kafka_partitions_assigned",
            partitions=len(partitions),
            worker=self._worker_index,
            workers=self._workers,
        )

    def _report_lag(self, ends: dict[TopicPartition, int]) -> None:
        """Per owned partition: messages on the broker not yet recorded in the store."""
        for partition, end in ends.items():
            committed = self._ingest.resume_after(source_name(partition))
            recorded = 0 if committed is None else committed + 1
            lag = max(0, end - recorded)
            metrics.INGEST_LAG.labels(partition.topic, str(partition.partition)).set(lag)

    def _caught_up(self, ends: dict[TopicPartition, int]) -> bool:
        """True when the store holds every partition up to its end offset. The store, not the
        consumer's position, is the truth: where the consumer thinks it is done but the store
        is behind, it is sent back to the stored position."""
        caught_up = True
        for partition in self._assigned:
            committed = self._ingest.resume_after(source_name(partition))
            next_offset = 0 if committed is None else committed + 1
            if next_offset < ends[partition]:
                caught_up = False
                if self._consumer.position(partition) >= ends[partition]:
                    log.warning("kafka_rewinding_to_store_position", source=source_name(partition))
                    self._consumer.seek(partition, next_offset)
        return caught_up

    def _batches(
        self, polled: dict[TopicPartition, list[Any]]
    ) -> Iterator[tuple[TopicPartition, list[InboundMessage]]]:
        """Each partition's polled records as ingest batches of at most `batch_size`."""
        for partition, records in sorted(polled.items()):
            source = source_name(partition)
            owner = partition.topic[len(TOPIC_PREFIX) :]
            for start in range(0, len(records), self._batch_size):
                yield (
                    partition,
                    [
                        InboundMessage(source, record.offset, record.value or b"", owner)
                        for record in records[start : start + self._batch_size]
                    ],
                )

    def run(self, *, once: bool = False, stop: threading.Event | None = None) -> list[BatchOutcome]:
        """Ingest until stopped; with `once`, until every partition is at its end offset."""
        stop = stop or threading.Event()
        outcomes: list[BatchOutcome] = []
        last_refresh = 0.0
        broker_backoff = ingest_backoff = BACKOFF_INITIAL_S
        unavailable_since: float | None = None
        while not stop.is_set():
            self._heartbeat()
            try:
                if time.monotonic() - last_refresh > 10 or not self._assigned:
                    self._refresh_assignment()
                    self._report_lag(self._end_offsets())
                    last_refresh = time.monotonic()
                if not self._assigned:  # no topics yet, or more workers than partitions
                    if once:
                        return outcomes
                    stop.wait(self._poll_timeout_ms / 1000)
                    continue
                # Up to a full batch for every owned partition in one poll: the records come
                # partition by partition, so a poll capped at one batch in all would split it
                # into small transactions (one commit each) across the partitions.
                polled = self._consumer.poll(
                    timeout_ms=self._poll_timeout_ms,
                    max_records=self._batch_size * len(self._assigned),
                )
                # An empty poll may be an idle topic or a broker that has gone: ask it.
                ends = None if polled else self._end_offsets()
            except KafkaError as error:
                now = time.monotonic()
                unavailable_since = unavailable_since or now
                self.broker_available = False
                log.warning(
                    "kafka_unavailable",
                    bootstrap=self._bootstrap,
                    error=type(error).__name__,
                    unavailable_for_s=round(now - unavailable_since, 1),
                    retry_in_s=broker_backoff,
                )
                stop.wait(broker_backoff)
                broker_backoff = min(broker_backoff * 2, BACKOFF_MAX_S)
                continue
            broker_backoff = BACKOFF_INITIAL_S
            if unavailable_since is not None:
                # Whatever the client buffered or thinks, resume from what the store holds.
                self._seek_to_store_positions()
                log.warning(
                    "kafka_available_again",
                    bootstrap=self._bootstrap,
                    unavailable_for_s=round(time.monotonic() - unavailable_since, 1),
                )
                unavailable_since = None
                self.broker_available = True
                continue
            # Done when a whole poll brought nothing and the store has reached the end
            # offsets. Both, because the test broker (tansu 0.6, memory storage) reports end
            # offsets below the high watermark when producers batch.
            if ends is not None:
                self._report_lag(ends)
                if once and self._caught_up(ends):
                    return outcomes
            for partition, batch in self._batches(polled):
                try:
                    outcomes.append(self._ingest.ingest(batch))
                    ingest_backoff = BACKOFF_INITIAL_S
                except Exception:
                    # Nothing of the batch committed: rewind to the stored positions and retry.
                    # Every partition, not just this one: the rest of this poll is not ingested
                    # either, and the consumer's position is already past it.
                    self._seek_to_store_positions()
                    log.exception(
                        "ingest_batch_failed_retrying",
                        source=source_name(partition),
                        retry_in_s=ingest_backoff,
                    )
                    stop.wait(ingest_backoff)
                    ingest_backoff = min(ingest_backoff * 2, BACKOFF_MAX_S)
                    break
        return outcomes
