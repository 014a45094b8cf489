""" "Is anyone else involved?" between two hubs (two data directories) over the real
Kafka-protocol broker (tansu): Wessex holds a child and publishes its holdings to Shire; a Shire
practitioner with a relationship to the child asks, and is told Wessex holds records and whom to
contact; a child Wessex does not hold is held by nobody; a practitioner without a relationship
is refused, and the 21st question in an hour too, with when they may ask again; both hubs audit
the question and the answer; and nothing about the child crosses but blinded elements, each
different."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.discovery_oprf import DiscoveryKey
from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.federation_discovery import discovery_positions, serve
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver
from tests.factories import event_days_ago, nhs_number, register_agencies

pytestmark = pytest.mark.kafka

NOW = datetime.now(UTC)
HELD = nhs_number(71)  # held by both hubs
NOT_HELD = nhs_number(72)  # held by Shire only
ASKER = "sw-0002"  # allocated to both children at Shire
STRANGER = "dsl-100002"  # a school's DSL with no relationship to either child
SHIRE_LA = {"id": "shire-county-council", "type": "local-authority"}


def write_register(path: Path, this: str, partner: Hub, partner_id: str, broker: str) -> Path:
    run = hashlib.sha256(str(path.parent).encode()).hexdigest()[:8]  # topics of this test's own

    def endpoint(hub: str) -> dict[str, Any]:
        return {"bootstrap": [broker], "topic": f"hub.federation.discovery-{run}-{hub}"}

    path.write_text(
        yaml.safe_dump(
            {
                "format": "hub-federation-register-v1",
                "this_hub": {
                    "id": this,
                    "name": f"{this.title()} Safeguarding Children Partnership",
                    "contact": f"{this.title()} MASH, 01234 567890",
                    "kafka": endpoint(this),
                },
                "partners": [
                    {
                        "id": partner_id,
                        "name": f"{partner_id.title()} Safeguarding Children Partnership",
                        "contact": f"{partner_id.title()} MASH, 01234 567890",
                        "public_key": partner.signer.public_key_hex,
                        "discovery_public_key": partner.discovery_key.public_key_hex,
                        "encryption_public_key": partner.message_key.public_key_hex,
                        "kafka": endpoint(partner_id),
                        "agreement_version": "shire-wessex-2026.1",
                        "active_from": "2026-01-01",
                    }
                ],
            }
        )
    )
    return path


def ingest(hub: Hub, *events: bytes) -> None:
    hub.ingest.ingest(
        [
            InboundMessage("inbox:shire-county-council/case", i + 1, value, "shire-county-council")
            for i, value in enumerate(events)
        ]
    )


def allocation(child: str, event_id: str) -> bytes:
    return event_days_ago(
        NOW,
        30,
        event_id=event_id,
        agency=SHIRE_LA,
        kind="la.worker-allocated",
        child={"nhs_number": child},
        details={"practitioner_id": ASKER, "role": "social-worker"},
    )


@pytest.fixture
def two_hubs(tmp_path: Path, kafka_broker: str) -> Iterator[tuple[Hub, Hub]]:
    settings = {"directory": SAMPLE_DIRECTORY_PATH}
    shire = bootstrap(HubSettings(data_dir=tmp_path / "shire", **settings))
    wessex = bootstrap(HubSettings(data_dir=tmp_path / "wessex", **settings))
    for hub in (shire, wessex):
        register_agencies(hub)
    shire.settings = shire.settings.model_copy(
        update={
            "federation_register": write_register(
                tmp_path / "shire.yaml", "shire", wessex, "wessex", kafka_broker
            )
        }
    )
    wessex.settings = wessex.settings.model_copy(
        update={
            "federation_register": write_register(
                tmp_path / "wessex.yaml", "wessex", shire, "shire", kafka_broker
            )
        }
    )
    # Shire: the asker is allocated to both children. Wessex (its own agencies happen to share
    # the test agencies' ids): it holds one of them.
    ingest(shire, allocation(HELD, "ALLOC-1"), allocation(NOT_HELD, "ALLOC-2"))
    ingest(
        wessex,
        event_days_ago(
            NOW,
            5,
            event_id="CONTACT-W",
            agency=SHIRE_LA,
            kind="la.contact",
            child={"nhs_number": HELD},
        ),
    )
    yield shire, wessex
    shire.close()
    wessex.close()


class Answering:
    """Wessex's answering side, stepping its inbound topic in a thread."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.done: dict[str, int] = {}
        self._stop = threading.Event()
        self._receiver = FederationReceiver(
            hub.federation.register.this_hub.kafka, discovery_positions(hub.store)
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for what, count in serve(
                self.hub.discovery, self.hub.federation, self._receiver.poll(timeout_ms=200)
            ).items():
                self.done[what] = self.done.get(what, 0) + count

    def __enter__(self) -> Answering:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._receiver.close()


def receive_holdings(hub: Hub) -> dict[str, int]:
    receiver = FederationReceiver(
        hub.federation.register.this_hub.kafka, discovery_positions(hub.store)
    )
    done: dict[str, int] = {}
    try:
        for _ in range(20):
            done.update(serve(hub.discovery, hub.federation, receiver.poll(timeout_ms=500)))
            if done:
                break
    finally:
        receiver.close()
    return done


def raw_questions(hub: Hub) -> list[bytes]:
    """What Shire sent to Wessex, as it crossed the broker."""
    receiver = FederationReceiver(hub.federation.register.this_hub.kafka, {})
    found: list[bytes] = []
    try:
        for _ in range(10):
            batch = receiver.poll(timeout_ms=500)
            if not batch and found:
                break
            found += [item.raw for item in batch]
    finally:
        receiver.close()
    return [raw for raw in found if orjson.loads(raw)["type"] == "discovery-query"]


def audited(hub: Hub, action: str) -> list[DisclosureAudited]:
    return [record for record in hub.audit.all_disclosures() if record.action == action]


def test_a_practitioner_asks_whether_a_partner_hub_holds_records_about_a_child(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    assert wessex.discovery.held_nhs_numbers() == [HELD]
    assert wessex.discovery.publish_holdings("shire") == {"shire": 1}
    assert receive_holdings(shire) == {"holdings-kept": 1}
    holdings = shire.discovery.latest_holdings("wessex")
    assert holdings is not None and len(holdings.digests) == 1
    assert holdings.key_id == wessex.discovery_key.key_id

    with Answering(wessex) as answering:
        held = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)
        assert held.lines() == [
            "Wessex Safeguarding Children Partnership holds records about this child; contact "
            "Wessex MASH, 01234 567890"
        ]
        nobody = shire.discovery.ask(ChildRef(nhs_number=NOT_HELD), ASKER)
        assert nobody.lines() == ["No partner hub holds records about this child."]
        refused = shire.discovery.ask(ChildRef(nhs_number=HELD), STRANGER)
        assert refused.refused.startswith("You can ask whether partner hubs hold records only")
        assert refused.answers == ()
        for _ in range(18):  # 20 questions in all within the hour
            shire.discovery.ask(ChildRef(nhs_number=NOT_HELD), ASKER)
        limited = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)
    assert answering.done == {"answered": 20}
    assert limited.refused.startswith(
        "You have asked 20 questions in the last hour (the limit is 20)"
    )
    assert "You can ask again from " in limited.refused

    # Shire's audit: every question (the refusals too) and what each answer came to.
    questions = audited(shire, "discovery-question")
    assert [q.outcome for q in questions].count("asked") == 20
    assert {(q.practitioner_id, q.outcome) for q in questions} >= {
        (STRANGER, "no-relationship"),
        (ASKER, "limit-reached"),
    }
    answers = audited(shire, "discovery-answer")
    assert len(answers) == 20
    assert answers[0].outcome == "held-elsewhere" and answers[0].discovery is not None
    assert answers[0].discovery["holds"] == ["wessex"]
    assert answers[1].outcome == "not-held-elsewhere"
    assert answers[0].child_stream == shire.gate.child_stream(ChildRef(nhs_number=HELD))
    # Wessex's audit: each question it answered, by Shire's pseudonym for the practitioner.
    received = audited(wessex, "discovery-question-received")
    assert len(received) == 20 and {r.outcome for r in received} == {"answered"}
    assert {r.practitioner_id.partition(":")[0] for r in received} == {"shire"}
    assert ASKER not in received[0].practitioner_id and received[0].child_stream == ""

    # Only blinded elements crossed: each different, none carrying the NHS number.
    sent = raw_questions(wessex)
    assert len(sent) == 20
    opened = [wessex.federation.receive(raw)[0].body for raw in sent]  # as Wessex reads them
    blinded = [body["blinded"] for body in opened]
    assert len(set(blinded)) == 20
    for raw, body in zip(sent, opened, strict=True):
        assert HELD.encode() not in raw and NOT_HELD.encode() not in raw
        assert set(orjson.loads(raw)["body"]) == {"encrypted"}  # encrypted to Wessex's key
        assert set(body) == {
            "query_id",
            "blinded",
            "practitioner",
            "role",
            "organisation",
        }


def test_a_partner_whose_holdings_are_missing_or_that_does_not_answer_is_named(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    shire.discovery._timeout_s = 1.0
    silent = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)  # nobody answering
    assert silent.lines() == [
        "No partner hub that answered holds records about this child.",
        "Wessex Safeguarding Children Partnership did not answer in time: ask again later, or "
        "call Wessex MASH, 01234 567890",
    ]
    with Answering(wessex):
        shire.discovery._timeout_s = 10.0
        missing = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)  # no holdings yet
    assert missing.answers[0].outcome == "no-holdings"


def test_an_answer_computed_with_a_key_other_than_the_registered_one_answers_nothing(
    two_hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partner that evaluates with another key (to single one asker out, say) is caught by
    the proof: the asking hub checks it against the key in its register."""
    shire, wessex = two_hubs
    wessex.discovery.publish_holdings("shire")
    receive_holdings(shire)
    monkeypatch.setattr(wessex.discovery, "_key", DiscoveryKey(secrets.token_bytes(32)))
    with Answering(wessex):
        result = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)
    assert [a.outcome for a in result.answers] == ["did-not-verify"]
    assert result.lines() == [
        "No partner hub that answered holds records about this child.",
        "Wessex Safeguarding Children Partnership's answer did not verify against its "
        "registered key and was discarded: tell this hub's administrator",
    ]
    [answered] = audited(shire, "discovery-answer")
    assert answered.outcome == "not-held-elsewhere"
    assert answered.discovery is not None and answered.discovery["did-not-verify"] == ["wessex"]
