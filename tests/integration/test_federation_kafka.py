"""Two hubs (two data directories) exchanging signed federation messages through the real
Kafka-protocol broker (tansu): each hub's register names the other with its real key; a
message arrives once from the position the receiver resumes at; a message changed in transit,
or sent by a hub the receiver does not list, is refused with the field that failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.cli.federation import fingerprint
from hub.domain.federation import KafkaEndpoint, MessageProblem
from hub.settings import HubSettings
from hub.transports.federation_kafka import FederationReceiver, Received, send_message

pytestmark = pytest.mark.kafka


def write_register(
    path: Path,
    this: str,
    partner: str,
    partner_key: str,
    bootstrap_servers: str,
    encryption_key: str | None = None,
) -> Path:
    """A register naming one partner; with `encryption_key` (the partner's), messages between
    the two are encrypted."""
    encryption = {} if encryption_key is None else {"encryption_public_key": encryption_key}
    def endpoint(hub: str) -> dict[str, Any]:
        return {"bootstrap": [bootstrap_servers], "topic": f"hub.federation.test-{hub}"}

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
                        **encryption,
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture
def two_hubs(tmp_path: Path, kafka_broker: str) -> Iterator[tuple[Hub, Hub]]:
    shire_dir, wessex_dir = tmp_path / "shire", tmp_path / "wessex"
    shire = bootstrap(HubSettings(data_dir=shire_dir / "hub"))
    wessex = bootstrap(HubSettings(data_dir=wessex_dir / "hub"))
    shire_register = write_register(
        tmp_path / "shire.yaml", "shire", "wessex", wessex.signer.public_key_hex, kafka_broker
    )
    wessex_register = write_register(
        tmp_path / "wessex.yaml", "wessex", "shire", shire.signer.public_key_hex, kafka_broker
    )
    shire.settings = shire.settings.model_copy(update={"federation_register": shire_register})
    wessex.settings = wessex.settings.model_copy(update={"federation_register": wessex_register})
    yield shire, wessex
    shire.close()
    wessex.close()


def read_all(receiver: FederationReceiver, expected: int) -> list[Received]:
    received: list[Received] = []
    for _ in range(30):
        received.extend(receiver.poll(timeout_ms=500))
        if len(received) >= expected:
            break
    return received


def test_signed_messages_cross_between_two_hubs_and_tampering_is_refused(
    two_hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = two_hubs
    to_wessex = shire.federation.partner("wessex").kafka
    offer = shire.federation.seal("transfer-offer", "wessex", {"events": 3})
    assert offer.checkpoint.log == "events" and offer.sender == "shire"
    send_message(to_wessex, offer)
    tampered = orjson.loads(offer.to_bytes())
    tampered["body"] = {"events": 4}
    send_message_raw(to_wessex, orjson.dumps(tampered))
    # A hub Wessex does not list, signing with its own key, posing as Shire.
    stranger = bootstrap(
        HubSettings(
            data_dir=shire.settings.data_dir.parent.parent / "stranger" / "hub",
            federation_register=shire.settings.federation_register,
        )
    )
    forged = stranger.federation.seal("transfer-offer", "wessex", {"events": 3})
    send_message(to_wessex, forged)
    stranger.close()

    own = wessex.federation.register.this_hub.kafka
    receiver = FederationReceiver(own, {})
    try:
        received = read_all(receiver, 3)
    finally:
        receiver.close()
    assert len(received) == 3
    message, partner = wessex.federation.receive(received[0].raw)
    assert (message.id, partner.id, message.body) == (offer.id, "shire", {"events": 3})
    outcomes = []
    for item in received[1:]:
        with pytest.raises(MessageProblem) as raised:
            wessex.federation.receive(item.raw)
        outcomes.append(raised.value.field)
    assert outcomes == ["signature", "signer"]

    # Resuming after the first message reads the other two only, once.
    resumed = FederationReceiver(own, {received[0].source: received[0].position})
    try:
        again = read_all(resumed, 2)
    finally:
        resumed.close()
    assert [(r.source, r.position) for r in again] == [(r.source, r.position) for r in received[1:]]


def send_message_raw(endpoint: KafkaEndpoint, raw: bytes) -> None:
    """What an attacker on the path would send: bytes, not a sealed message."""
    producer = KafkaProducer(bootstrap_servers=endpoint.bootstrap, acks="all")
    try:
        producer.send(endpoint.topic, key=b"shire", value=raw).get(timeout=30)
    finally:
        producer.close()


def test_the_cli_shows_this_hub_s_identity_and_its_partners(
    two_hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shire, wessex = two_hubs
    data_dir = str(shire.settings.data_dir)
    monkeypatch.setenv("HUB_FEDERATION_REGISTER", str(shire.settings.federation_register))
    assert main(["federation", "identity", "--data-dir", data_dir]) == 0
    out = capsys.readouterr().out
    assert "Shire Safeguarding Children Partnership (hub id shire)" in out
    assert f"Public key: {shire.signer.public_key_hex}" in out
    assert main(["federation", "partners", "--data-dir", data_dir, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    partner = listed["partners"][0]
    assert (partner["id"], partner["active"]) == ("wessex", True)
    assert partner["public_key"] == wessex.signer.public_key_hex
    assert partner["fingerprint"] == fingerprint(wessex.signer.public_key_hex)
    monkeypatch.delenv("HUB_FEDERATION_REGISTER")
    assert main(["federation", "partners", "--data-dir", data_dir]) == 1
    assert "federation_register: not set" in capsys.readouterr().err
