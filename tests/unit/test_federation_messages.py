"""Federation messages between hubs (issue 24): the partner register and the signed message
checks, each refusal naming the field and never its value (hub.domain.federation)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.adapters.federation_register import RegisterError, load_register
from hub.adapters.signing import CheckpointSigner, signature_valid
from hub.domain.federation import (
    Checkpoint,
    FederationMessage,
    MessageProblem,
    PartnerRegister,
    check_message,
    key_id,
    parse_message,
)
from hub.integrity import checkpoint_bytes

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SHIRE = CheckpointSigner(Ed25519PrivateKey.generate())
WESSEX = CheckpointSigner(Ed25519PrivateKey.generate())
STRANGER = CheckpointSigner(Ed25519PrivateKey.generate())


def endpoint(hub: str) -> dict[str, Any]:
    return {"bootstrap": [f"kafka.{hub}.example:9093"], "topic": f"hub.federation.{hub}"}


def register_of(this: str, partner: str, key: str, **partner_fields: Any) -> PartnerRegister:
    return PartnerRegister.model_validate(
        {
            "format": "hub-federation-register-v1",
            "this_hub": {
                "id": this,
                "name": this.title(),
                "contact": "MASH",
                "kafka": endpoint(this),
            },
            "partners": [
                {
                    "id": partner,
                    "name": f"{partner.title()} Safeguarding Children Partnership",
                    "contact": "Duty desk, 0300 000 0000",
                    "public_key": key,
                    "kafka": endpoint(partner),
                    "agreement_version": "shire-wessex-2026.1",
                    "active_from": "2026-04-01",
                    **partner_fields,
                }
            ],
        }
    )


AT_WESSEX = register_of("wessex", "shire", SHIRE.public_key_hex)


def checkpoint(signer: CheckpointSigner) -> Checkpoint:
    document: dict[str, Any] = {
        "log": "events",
        "size": 12,
        "root": "ab" * 32,
        "time": (NOW - timedelta(hours=1)).isoformat(),
        "signer": signer.key_id,
    }
    document["signature"] = signer.sign(checkpoint_bytes(document)).hex()
    return Checkpoint.model_validate(document)


def sealed(signer: CheckpointSigner = SHIRE, **fields: Any) -> FederationMessage:
    message = FederationMessage.model_validate(
        {
            "id": "0" * 31 + "1",
            "type": "transfer-offer",
            "sender": "shire",
            "recipient": "wessex",
            "sent_at": NOW.isoformat(),
            "agreement_version": "shire-wessex-2026.1",
            "checkpoint": checkpoint(signer).model_dump(),
            "body": {"events": 3},
            "signer": signer.key_id,
            **fields,
        }
    )
    return message.model_copy(update={"signature": signer.sign(message.signed_bytes()).hex()})


def check(message: FederationMessage, register: PartnerRegister = AT_WESSEX) -> str:
    return check_message(message, register, signature_valid, checkpoint_bytes, NOW).id


def refused(message: FederationMessage, register: PartnerRegister = AT_WESSEX) -> str:
    with pytest.raises(MessageProblem) as raised:
        check(message, register)
    return str(raised.value)


def test_a_message_signed_by_the_registered_partner_is_accepted_after_a_round_trip() -> None:
    message = sealed()
    assert key_id(SHIRE.public_key_hex) == SHIRE.key_id
    assert check(parse_message(message.to_bytes())) == "shire"


def test_a_changed_body_or_a_stranger_s_key_is_refused_by_signature() -> None:
    tampered = sealed().model_copy(update={"body": {"events": 4}})
    assert refused(tampered) == "signature: does not verify with the sender's registered key"
    forged = sealed(STRANGER)
    assert refused(forged) == "signer: is not the sender's registered key"
    # A stranger's signature under the partner's key id still fails the signature check.
    posing = sealed(STRANGER).model_copy(update={"signer": SHIRE.key_id})
    assert refused(posing).startswith("signature:")


def test_the_checkpoint_must_be_the_sender_s_signed_tree_head() -> None:
    message = sealed()
    other_root = message.checkpoint.model_copy(update={"root": "cd" * 32})
    unsigned = message.model_copy(update={"checkpoint": other_root})
    resigned = unsigned.model_copy(update={"signature": SHIRE.sign(unsigned.signed_bytes()).hex()})
    assert refused(resigned) == "checkpoint.signature: is not the sender's signed checkpoint"


@pytest.mark.parametrize(
    ("fields", "register", "reason"),
    [
        ({"recipient": "mercia"}, AT_WESSEX, "recipient: is not this hub"),
        ({"sender": "mercia"}, AT_WESSEX, "sender: is not a partner hub in this hub's register"),
        (
            {},
            register_of("wessex", "shire", SHIRE.public_key_hex, active_to="2026-11-30"),
            "sender: is not an active partner today",
        ),
        (
            {"agreement_version": "shire-wessex-2025.1"},
            AT_WESSEX,
            "agreement_version: is not the inter-partnership agreement in force with the sender",
        ),
        (
            {"sent_at": (NOW + timedelta(hours=1)).isoformat()},
            AT_WESSEX,
            "sent_at: is in the future",
        ),
        (
            {"sent_at": (NOW - timedelta(days=8)).isoformat()},
            AT_WESSEX,
            "sent_at: is more than 7 days old",
        ),
    ],
)
def test_each_check_names_its_field(
    fields: dict[str, Any], register: PartnerRegister, reason: str
) -> None:
    assert refused(sealed(**fields), register) == reason


def test_malformed_messages_name_the_field_never_the_value() -> None:
    good = orjson.loads(sealed().to_bytes())
    with pytest.raises(MessageProblem, match=r"^\(message\): is not JSON$"):
        parse_message(b"{not json")
    secret = "9434765919-Kestrel-Close"
    for change, field in [
        ({"type": secret}, "type"),
        ({"sender": secret}, "sender"),
        ({"surplus": secret}, "(a field the format does not define)"),
    ]:
        with pytest.raises(MessageProblem) as raised:
            parse_message(orjson.dumps({**good, **change}))
        assert str(raised.value).startswith(f"{field}: ")
        assert secret not in str(raised.value) and "surplus" not in str(raised.value)


def test_the_register_refuses_duplicates_itself_and_shared_keys() -> None:
    document = register_of("wessex", "shire", SHIRE.public_key_hex).model_dump(mode="json")
    twice = {**document, "partners": document["partners"] * 2}
    with pytest.raises(ValueError, match="an id appears twice"):
        PartnerRegister.model_validate(twice)
    itself = {**document, "partners": [{**document["partners"][0], "id": "wessex"}]}
    with pytest.raises(ValueError, match="this hub is not its own partner"):
        PartnerRegister.model_validate(itself)
    other = {**document["partners"][0], "id": "mercia"}
    with pytest.raises(ValueError, match="the same public_key"):
        PartnerRegister.model_validate({**document, "partners": [document["partners"][0], other]})
    partner = AT_WESSEX.partners[0]
    assert partner.active_on(date(2026, 4, 1)) and not partner.active_on(date(2026, 3, 31))


def test_a_malformed_register_file_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "register.yaml"
    document = AT_WESSEX.model_dump(mode="json")
    document["partners"][0]["public_key"] = "not-a-key-Kestrel"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(RegisterError) as raised:
        load_register(path)
    assert str(raised.value).startswith(f"{path}: partners.0.public_key: ")
    assert "Kestrel" not in str(raised.value)
    shipped = load_register(Path("hub/samples/federation-register.yaml"))
    assert shipped.this_hub.id == "shire" and [p.id for p in shipped.partners] == ["wessex"]
