"""Each partner hub's brokers are reached with a credential of this hub's own for that partner
(the register's `client` block), never the one this hub reads its own inbound topic with: the
block is parsed and checked like the hub's Kafka settings, its password read from a file (a
missing file names the partner and the field, never a value), and a producer is never reused
under another credential (hub.domain.federation, hub.transports.federation_kafka)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub.adapters.federation_register import load_register
from hub.domain.federation import FederationMessage, KafkaEndpoint, PartnerRegister
from hub.transports.federation_kafka import (
    FederationSender,
    PartnerClientError,
    partner_client_options,
)
from tests.unit.test_federation_messages import SHIRE, WESSEX, register_of

HUB_OPTIONS = {"security_protocol": "SSL", "ssl_check_hostname": True}


def scram_client(password_file: Path, username: str = "hub-shire") -> dict[str, Any]:
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "username": username,
        "password_file": str(password_file),
        "ca_file": "/etc/hub/partners/ca.crt",
    }


def partner_endpoint(client: dict[str, Any] | None, bootstrap: str = "kafka.shared:9093") -> Any:
    document: dict[str, Any] = {"bootstrap": [bootstrap], "topic": "hub.federation.wessex"}
    if client is not None:
        document["client"] = client
    return KafkaEndpoint.model_validate(document)


def test_the_register_parses_a_partner_s_client_block(tmp_path: Path) -> None:
    secret = tmp_path / "wessex-password"
    endpoint = partner_endpoint(scram_client(secret)).model_dump(mode="json")
    register = register_of("shire", "wessex", WESSEX.public_key_hex, kafka=endpoint)
    client = register.partners[0].kafka.client
    assert client is not None and client.username == "hub-shire"
    assert client.password_file == secret and client.sasl_mechanism == "SCRAM-SHA-512"
    shipped = load_register(Path("hub/samples/federation-register.yaml"))
    sample_client = shipped.partners[0].kafka.client
    assert sample_client is not None and sample_client.security_protocol == "SASL_SSL"
    assert sample_client.password_file is not None


@pytest.mark.parametrize(
    ("client", "field"),
    [
        ({"security_protocol": "SASL_SSL", "username": "hub-shire"}, "client"),
        ({"security_protocol": "SASL_SSL", "password_file": "/run/secrets/p"}, "client"),
        ({"security_protocol": "SASL_SSL", "password": "Kestrel-7"}, "client.password"),
        ({"security_protocol": "TLS"}, "client.security_protocol"),
    ],
)
def test_a_client_block_is_checked_like_the_hub_s_kafka_settings(
    client: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        partner_endpoint(client)
    assert field in {".".join(str(p) for p in e["loc"]) for e in raised.value.errors()}
    assert "Kestrel-7" not in str(raised.value.errors(include_input=False))


def test_this_hub_s_own_endpoint_has_no_client_block(tmp_path: Path) -> None:
    document = register_of("shire", "wessex", WESSEX.public_key_hex).model_dump(mode="json")
    document["this_hub"]["kafka"]["client"] = scram_client(tmp_path / "p")
    with pytest.raises(ValidationError, match="a client block is for a partner's brokers"):
        PartnerRegister.model_validate(document)


def test_the_password_is_read_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "wessex-password"
    secret.write_text("scram-for-wessex-only\n")
    client = partner_endpoint(scram_client(secret)).client
    assert client is not None
    assert partner_client_options("wessex", client) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hub-shire",
        "sasl_plain_password": "scram-for-wessex-only",
        "ssl_check_hostname": True,
        "ssl_cafile": "/etc/hub/partners/ca.crt",
    }


def test_a_missing_or_empty_password_file_names_the_partner_and_field_never_a_value(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "Kestrel-secret-store" / "wessex-password"
    client = partner_endpoint(scram_client(secret)).client
    assert client is not None
    with pytest.raises(PartnerClientError) as raised:
        partner_client_options("wessex", client)
    message = str(raised.value)
    assert message.startswith("Partner hub wessex: kafka.client.password_file cannot be read")
    assert "Kestrel" not in message and str(tmp_path) not in message
    secret.parent.mkdir()
    secret.write_text("\n")
    with pytest.raises(PartnerClientError, match=r"wessex: kafka\.client\.password_file is empty"):
        partner_client_options("wessex", client)


class FakeFuture:
    def get(self, timeout: float) -> None:
        return None


class FakeProducer:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[str] = []
        self.closed = False

    def send(self, topic: str, key: bytes, value: bytes) -> FakeFuture:
        self.sent.append(topic)
        return FakeFuture()

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def message_to(recipient: str) -> FederationMessage:
    return FederationMessage.model_validate(
        {
            "id": "0" * 32,
            "type": "holdings",
            "sender": "shire",
            "recipient": recipient,
            "sent_at": "2026-12-07T09:30:00+00:00",
            "agreement_version": "shire-wessex-2026.1",
            "checkpoint": {
                "log": "events",
                "size": 1,
                "root": "0" * 64,
                "time": "2026-12-07T09:30:00+00:00",
                "signer": SHIRE.key_id,
                "signature": "0" * 128,
            },
            "body": {"digests": []},
            "signer": SHIRE.key_id,
        }
    )


def test_each_partner_gets_its_own_options_and_producer_even_on_the_same_brokers(
    tmp_path: Path,
) -> None:
    (tmp_path / "wessex").write_text("for-wessex")
    (tmp_path / "mercia").write_text("for-mercia")
    to_wessex = partner_endpoint(scram_client(tmp_path / "wessex", "shire-at-wessex"))
    to_mercia = partner_endpoint(scram_client(tmp_path / "mercia", "shire-at-mercia"))
    to_test_partner = partner_endpoint(None)  # a single shared test cluster: the hub's own
    producers: list[FakeProducer] = []

    def factory(**options: Any) -> FakeProducer:
        producers.append(FakeProducer(**options))
        return producers[-1]

    sender = FederationSender(HUB_OPTIONS, producer_factory=factory)
    assert sender.client_options(to_test_partner, "testing") == HUB_OPTIONS
    wessex_options = sender.client_options(to_wessex, "wessex")
    mercia_options = sender.client_options(to_mercia, "mercia")
    assert wessex_options["sasl_plain_username"] == "shire-at-wessex"
    assert mercia_options["sasl_plain_password"] == "for-mercia"
    assert wessex_options != mercia_options

    for endpoint, partner in [(to_wessex, "wessex"), (to_mercia, "mercia"), (to_wessex, "wessex")]:
        sender.send(endpoint, message_to(partner))
    sender.send(to_test_partner, message_to("testing"))
    assert [p.options.get("sasl_plain_username") for p in producers] == [
        "shire-at-wessex",
        "shire-at-mercia",
        None,
    ]
    assert producers[2].options["security_protocol"] == "SSL"  # the hub's own options
    assert [len(p.sent) for p in producers] == [2, 1, 1]  # wessex's producer kept and reused
    sender.close()
    assert all(p.closed for p in producers)
