"""The sending side of a transfer, between two hubs (two data directories) over the real
Kafka-protocol broker (tansu): Shire publishes a child's history and a move to an authority
Wessex covers; the offer sends, through Shire's gate, exactly the current records the
agreement lets leave (nothing withheld, no shielded field, no superseded revision, no
retracted record, nothing restricted), each proved against the message's signed checkpoint;
Wessex's hub accepts every message; Shire's audit has the disclosure to Wessex's hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import hub.federation_transfer as federation_transfer
from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.consumer_registry import consumer_names
from hub.domain.canonical_event import ChildRef
from hub.domain.federation import TransferPart
from hub.domain.merkle import verify_inclusion
from hub.domain.records import DisclosureAudited
from hub.federation_transfer import TransferRefusedError
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver, Received
from tests.factories import nhs_number, publish_event, register_agencies

pytestmark = pytest.mark.kafka

LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
HEALTH = {"id": "shire-icb", "type": "health"}
REFUGE = "Flat 2, 14 Harbour Row, Porthaven"
NOW = datetime.now(UTC).replace(microsecond=0)


def write_register(
    path: Path,
    this: str,
    partner: str,
    partner_key: str,
    bootstrap_servers: str,
    topic_suffix: str,
    partner_covers: list[str],
    encryption_key: str | None = None,
) -> Path:
    """A register naming one partner; with `encryption_key` (the partner's), messages between
    the two are encrypted."""
    encryption = {} if encryption_key is None else {"encryption_public_key": encryption_key}
    def endpoint(hub: str) -> dict[str, Any]:
        return {"bootstrap": [bootstrap_servers], "topic": f"hub.federation.{topic_suffix}-{hub}"}

    path.write_text(
        yaml.safe_dump(
            {
                "format": "hub-federation-register-v1",
                "this_hub": {
                    "id": this,
                    "name": f"{this.title()} Safeguarding Children Partnership",
                    "contact": f"{this.title()} MASH",
                    "kafka": endpoint(this),
                },
                "partners": [
                    {
                        "id": partner,
                        "name": f"{partner.title()} Safeguarding Children Partnership",
                        "contact": f"{partner.title()} MASH",
                        "public_key": partner_key,
                        "kafka": endpoint(partner),
                        "agreement_version": "shire-wessex-2026.1",
                        "active_from": "2026-01-01",
                        "local_authorities": partner_covers,
                        **encryption,
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture
def two_hubs(
    tmp_path: Path, kafka_broker: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Hub, Hub]]:
    suffix = f"send-{request.node.name[-20:].strip('_')}-{NOW:%H%M%S%f}".replace("_", "-")
    shire = bootstrap(HubSettings(data_dir=tmp_path / "shire" / "hub"))
    wessex = bootstrap(HubSettings(data_dir=tmp_path / "wessex" / "hub"))
    shire_register = write_register(
        tmp_path / "shire.yaml",
        "shire",
        "wessex",
        wessex.signer.public_key_hex,
        kafka_broker,
        suffix,
        ["990", "991"],
        encryption_key=wessex.message_key.public_key_hex,
    )
    wessex_register = write_register(
        tmp_path / "wessex.yaml",
        "wessex",
        "shire",
        shire.signer.public_key_hex,
        kafka_broker,
        suffix,
        [],
        encryption_key=shire.message_key.public_key_hex,
    )
    shire.settings = shire.settings.model_copy(update={"federation_register": shire_register})
    wessex.settings = wessex.settings.model_copy(update={"federation_register": wessex_register})
    register_agencies(shire, at=NOW - timedelta(days=400))
    yield shire, wessex
    shire.close()
    wessex.close()


def publish_history(
    hub: Hub, child: str, *, plan: bool = True, code: str = "990", prefix: str = ""
) -> None:
    def at(days: float) -> datetime:
        return NOW - timedelta(days=days)

    if plan:
        publish_event(
            hub,
            LA,
            f"{prefix}CP-1",
            "la.cp-plan-started",
            at(100),
            child,
            details={"category": "neglect"},
        )
    publish_event(
        hub,
        LA,
        f"{prefix}CONTACT-1",
        "la.contact",
        at(90),
        child,
        details={"address": REFUGE, "contact_reason": "concern"},
        shielded_fields=["details.address"],
    )
    publish_event(
        hub, LA, f"{prefix}CONTACT-2", "la.contact", at(80), child, summary="First wording"
    )
    publish_event(
        hub,
        LA,
        f"{prefix}CONTACT-2",
        "la.contact",
        at(80),
        child,
        revision=2,
        summary="Corrected wording",
    )
    publish_event(
        hub,
        POLICE,
        f"{prefix}DA-1",
        "police.domestic-abuse-incident",
        at(70),
        child,
        summary="Domestic abuse incident at the family home",
        details={"child_present": True, "police_reference": "OE-1"},
        withheld_from=[
            {
                "role": "school-designated-safeguarding-lead",
                "reason": "the school is where the suspect works",
                "decided_by": "DI Hale",
                "review_by": (NOW + timedelta(days=60)).date().isoformat(),
            }
        ],
    )
    publish_event(
        hub,
        LA,
        f"{prefix}SHIELDED-1",
        "la.strategy-discussion",
        at(65),
        child,
        summary="Discussed where the family is staying",
        shielded_fields=["summary"],
    )
    publish_event(hub, LA, f"{prefix}SD-1", "la.strategy-discussion", at(60), child)
    publish_event(
        hub,
        LA,
        f"{prefix}RET-1",
        "record.retracted",
        at(59),
        child,
        supersedes={"event_id": f"{prefix}SD-1"},
    )
    publish_event(
        hub,
        HEALTH,
        f"{prefix}HV-1",
        "health.health-visitor-concern",
        at(50),
        child,
        sensitivity="restricted",
    )
    moved_on = at(10).date().isoformat()
    publish_event(
        hub,
        LA,
        f"{prefix}MOVE-1",
        "la.moved-out-of-area",
        at(10),
        child,
        details={
            "moved_on": moved_on,
            "receiving_authority": "Westvale Borough Council",
            "receiving_la_code": code,
        },
    )


def read_all(hub: Hub, expected: int) -> list[Received]:
    receiver = FederationReceiver(hub.federation.register.this_hub.kafka, {})
    received: list[Received] = []
    try:
        for _ in range(30):
            received.extend(receiver.poll(timeout_ms=500))
            if len(received) >= expected:
                break
        received.extend(receiver.poll(timeout_ms=500))  # nothing more than expected
    finally:
        receiver.close()
    return received


SENT = {
    "shire-county-council/CP-1@1",
    "shire-county-council/CONTACT-1@1",
    "shire-county-council/CONTACT-2@2",
    "shire-county-council/MOVE-1@1",
}


def test_a_transfer_sends_exactly_what_may_leave_each_proved_and_audited(
    two_hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, wessex = two_hubs
    child = nhs_number(2401)
    publish_history(shire, child)
    monkeypatch.setattr(federation_transfer, "TRANSFER_PART_EVENTS", 3)  # two parts

    (decision,) = shire.federation_transfer.decisions(child)
    assert decision.due and decision.partner is not None and decision.partner.id == "wessex"
    receipt = shire.federation_transfer.offer(child, "wessex")
    assert receipt.events == 4 and len(receipt.messages) == 2
    assert receipt.agreement_version == "shire-wessex-2026.1"
    assert receipt.left_out == {
        "retracted": 2,
        "superseded by a later revision": 1,
        "withheld by its publisher from some recipients": 1,
        "with a summary its publisher shielded": 1,
        "not shared with a partner hub by the agreement in force": 1,
    }
    assert "which Wessex Safeguarding Children Partnership covers" in receipt.reason
    assert "with a child protection plan" in receipt.reason

    received = read_all(wessex, 2)
    assert len(received) == 2
    sent: dict[str, dict[str, Any]] = {}
    for item in received:
        message, partner = wessex.federation.receive(item.raw)
        assert partner.id == "shire" and message.type == "transfer-offer"
        assert message.agreement_version == "shire-wessex-2026.1"
        part = TransferPart.model_validate(message.body)
        assert (part.transfer_id, part.parts, part.nhs_number) == (receipt.transfer_id, 2, child)
        assert part.moved_ref == "shire-county-council/MOVE-1@1"
        root = bytes.fromhex(message.checkpoint.root)
        for transferred in part.events:
            proof = transferred.inclusion
            assert proof.tree_size == message.checkpoint.size
            assert verify_inclusion(
                bytes.fromhex(proof.leaf_hash),
                proof.leaf_index,
                proof.tree_size,
                [bytes.fromhex(node) for node in proof.proof],
                root,
            )
            sent[transferred.ref] = transferred.event
    assert set(sent) == SENT
    contact = sent["shire-county-council/CONTACT-1@1"]
    assert contact["details"] == {"contact_reason": "concern"}
    assert contact["shielded_fields"] == [] and REFUGE not in json.dumps(sent)
    assert "where the family is staying" not in json.dumps(sent)
    assert sent["shire-county-council/CONTACT-2@2"]["summary"] == "Corrected wording"
    assert sent["shire-county-council/MOVE-1@1"]["details"]["receiving_la_code"] == "990"
    # Wessex's receiving side records every event once, nothing quarantined.
    outcome = wessex.federation_ingest.receive(received)
    assert (outcome.recorded, outcome.transfers, dict(outcome.quarantined)) == (4, 2, {})

    # Shire's audit: one disclosure to Wessex's hub, naming the move and the agreement.
    (audited,) = [
        r for r in shire.audit.for_practitioner("hub:wessex") if isinstance(r, DisclosureAudited)
    ]
    assert (audited.organisation, audited.role, audited.action) == (
        "wessex",
        "partner-hub",
        "export",
    )
    assert audited.purpose == "inter-partnership-transfer"
    assert audited.lawful_basis == "public-task"
    assert set(audited.disclosed) == SENT
    assert audited.relationship == (
        "inter-partnership-transfer via shire-county-council/MOVE-1@1 under "
        "inter-partnership agreement shire-wessex-2026.1"
    )
    assert receipt.audit_ref == f"{audited.originator_id.hex}@{audited.originator_version}"
    stream = shire.gate.child_stream(ChildRef(nhs_number=child))
    assert audited.child_stream == stream


def test_no_transfer_without_an_open_plan_or_to_another_partner(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, _ = two_hubs
    child = nhs_number(2402)
    publish_history(shire, child, plan=False)
    with pytest.raises(TransferRefusedError) as refused:
        shire.federation_transfer.offer(child, "wessex")
    assert str(refused.value) == (
        "no transfer is due: on the day of the move the child had no child protection plan "
        "or child in need plan open and was not looked after"
    )
    assert not [
        r for r in shire.audit.for_practitioner("hub:wessex") if isinstance(r, DisclosureAudited)
    ]
    other = nhs_number(2403)
    publish_history(shire, other, code="880", prefix="B")
    with pytest.raises(TransferRefusedError, match="no partner hub covers local authority 880"):
        shire.federation_transfer.offer(other)


def test_the_cli_offers_a_transfer_and_says_what_was_sent(
    two_hubs: tuple[Hub, Hub],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shire, wessex = two_hubs
    child = nhs_number(2404)
    publish_history(shire, child)
    data_dir = str(shire.settings.data_dir)
    monkeypatch.setenv("HUB_FEDERATION_REGISTER", str(shire.settings.federation_register))
    args = ["federation", "transfer", "--data-dir", data_dir, "--child", child]
    assert main([*args, "--to", "wessex"]) == 0
    out = capsys.readouterr().out
    assert "Sent 4 records to Wessex Safeguarding Children Partnership in 1 message" in out
    assert "under inter-partnership agreement shire-wessex-2026.1" in out
    assert main([*args, "--to", "mercia"]) == 1
    assert "no transfer is due to that partner" in capsys.readouterr().err
    assert len(read_all(wessex, 1)) == 1


def test_the_transfers_consumer_offers_each_move_once_as_it_arrives(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    child, other = nhs_number(2405), nhs_number(2406)
    publish_history(shire, child)
    publish_history(shire, other, plan=False, prefix="N")
    assert "transfers" in consumer_names(shire)
    runner = shire.consumer_runner("transfers")
    runner.run_once()
    runner.run_once()  # nothing new: nothing sent again
    assert runner.consumer.describe(runner.documents(), NOW) == {
        "moves_queued": 2,
        "moves_not_to_a_partner": 0,
        "transfers_pending": 0,
        "transfers_sent": 1,
        "moves_not_due": 1,
        "corrections_sent": 0,
    }
    runner.rebuild()  # what was sent or found not due is kept: not offered again
    runner.run_once()
    received = read_all(wessex, 1)
    assert len(received) == 1
    message, _ = wessex.federation.receive(received[0].raw)
    part = TransferPart.model_validate(message.body)
    assert (part.nhs_number, len(part.events)) == (child, 4)
