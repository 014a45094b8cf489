"""Answering a partner's "Is anyone else involved?" question (no Kafka: the messages are
sealed and checked as they would cross): the answer proves it used the registered key and
finalizes to the holdings digest; this hub applies its own limit per (partner, practitioner)
whatever the asking hub does, and says so in words; every question is audited here with the
partner's pseudonym for the practitioner and no child; a question its asker has stopped waiting
for is not answered, and one that is not a blinded element is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from hub.adapters.discovery_oprf import blind, finalize
from hub.bootstrap import Hub
from hub.domain.canonical_event import ChildRef
from hub.domain.federation import FederationMessage, KafkaEndpoint, PartnerKafkaClient
from hub.federation_discovery import AnswerSource
from tests.integration.test_discovery_holdings import HELD, hubs
from tests.integration.test_federation_discovery import ASKER, NOW, allocation, ingest

__all__ = ["hubs"]


def question(shire: Hub, blinded: str, practitioner: str = "a" * 32) -> FederationMessage:
    return shire.federation.seal(
        "discovery-query",
        "wessex",
        {
            "query_id": uuid4().hex,
            "blinded": blinded,
            "practitioner": practitioner,
            "role": "social-worker",
            "organisation": "shire-county-council",
        },
    )


def answer(shire: Hub, wessex: Hub, sent: FederationMessage) -> FederationMessage | None:
    """Wessex's answer to Shire's question, as Shire opens it (encrypted to Shire's key)."""
    received, partner = wessex.federation.receive(sent.to_bytes())
    sealed = wessex.discovery.answer(received, partner)
    if sealed is None:
        return None
    assert set(sealed.body) == {"encrypted"}
    return shire.federation.receive(sealed.to_bytes())[0]


def test_the_answer_proves_its_key_and_the_partner_s_limit_holds_per_practitioner(
    hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = hubs
    state, blinded = blind(HELD)
    first = answer(shire, wessex, question(shire, blinded.hex()))
    assert first is not None and first.type == "discovery-answer" and first.recipient == "shire"
    digest = finalize(
        state, bytes.fromhex(first.body["evaluated"]), wessex.discovery_key.public_key_hex
    )
    assert digest == wessex.discovery_key.holding_digest(HELD)
    for _ in range(19):
        answer(shire, wessex, question(shire, blind(HELD)[1].hex()))
    refused = answer(shire, wessex, question(shire, blind(HELD)[1].hex()))
    assert refused is not None and "evaluated" not in refused.body
    assert refused.body["refused"].startswith(
        "You have asked 20 questions in the last hour (the limit is 20)"
    )
    other = answer(shire, wessex, question(shire, blind(HELD)[1].hex(), practitioner="b" * 32))
    assert other is not None and "evaluated" in other.body  # the limit is per practitioner
    records = [
        r for r in wessex.audit.all_disclosures() if r.action == "discovery-question-received"
    ]
    assert [r.outcome for r in records].count("answered") == 21
    assert [r.outcome for r in records].count("limit-reached") == 1
    assert {r.practitioner_id for r in records} == {"shire:" + "a" * 32, "shire:" + "b" * 32}
    assert {r.child_stream for r in records} == {""}
    assert {r.agreement_version for r in records} == {"shire-wessex-2026.1"}


def test_a_stale_question_is_not_answered_and_a_malformed_one_is_refused(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, wessex = hubs
    not_an_element = answer(shire, wessex, question(shire, "00" * 32))  # the identity: not valid
    assert not_an_element is not None
    assert not_an_element.body["refused"] == "the question was not a valid blinded element"
    monkeypatch.setattr(shire.federation, "_clock", lambda: NOW - timedelta(minutes=3))
    assert answer(shire, wessex, question(shire, blind(HELD)[1].hex())) is None


def test_when_the_link_is_down_every_partner_did_not_answer_and_that_is_audited(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, _ = hubs
    ingest(shire, allocation(HELD, "ALLOC-9"))

    def unreachable(endpoint: KafkaEndpoint) -> AnswerSource:
        raise ConnectionError("no brokers")

    monkeypatch.setattr(shire.discovery, "_open_answers", unreachable)
    result = shire.discovery.ask(ChildRef(nhs_number=HELD), ASKER)
    assert [a.outcome for a in result.answers] == ["did-not-answer"]
    [answered] = [r for r in shire.audit.all_disclosures() if r.action == "discovery-answer"]
    assert answered.discovery == {"asked": ["wessex"], "did-not-answer": ["wessex"]}


def test_the_answer_goes_to_the_partner_s_answers_topic_with_its_own_credential(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, wessex = hubs
    sent: list[KafkaEndpoint] = []
    monkeypatch.setattr(wessex.discovery, "_send", lambda endpoint, _message: sent.append(endpoint))
    received, partner = wessex.federation.receive(question(shire, blind(HELD)[1].hex()).to_bytes())
    client = PartnerKafkaClient(
        security_protocol="SASL_SSL",
        username="hub-wessex",
        password_file=Path("/run/secrets/shire"),
    )
    with_client = partner.model_copy(
        update={"kafka": partner.kafka.model_copy(update={"client": client})}
    )
    assert wessex.discovery.handle(received, with_client) == "answered"
    [destination] = sent
    assert destination.topic == partner.kafka.topic + ".answers"
    assert destination.bootstrap == partner.kafka.bootstrap and destination.client == client
