"""Message bodies between partner hubs are encrypted to the recipient (RFC 9180 HPKE) when the
register lists its encryption key: what the partner's brokers hold names no child, the
recipient opens it with its own key, and a body in clear, under another suite or lifted into
another message is refused naming the field. Two real hubs (stores, keys, registers); no broker
is needed to seal and open."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from hub.adapters.federation_register import load_register
from hub.adapters.message_encryption import KEY_FILE_NAME, MessageKey, message_info, seal_body
from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.domain.federation import MessageProblem
from hub.federation import Federation
from hub.settings import HubSettings
from tests.factories import nhs_number
from tests.integration.test_federation_kafka import write_register

NHS = nhs_number(77)
BODY = {"nhs_number": NHS, "reason": "The family moved to Shire", "events": [{"ref": "x"}]}


@pytest.fixture
def hubs(tmp_path: Path) -> tuple[Hub, Hub]:
    shire = bootstrap(HubSettings(data_dir=tmp_path / "shire" / "hub"))
    wessex = bootstrap(HubSettings(data_dir=tmp_path / "wessex" / "hub"))
    for this, partner in ((shire, wessex), (wessex, shire)):
        name, other = ("shire", "wessex") if this is shire else ("wessex", "shire")
        register = write_register(
            tmp_path / f"{name}.yaml", name, other, partner.signer.public_key_hex,
            "127.0.0.1:9", partner.message_key.public_key_hex,
        )  # fmt: skip
        this.settings = this.settings.model_copy(update={"federation_register": register})
    return shire, wessex


def test_a_body_is_encrypted_to_the_recipient_and_opened_only_by_it(hubs: tuple[Hub, Hub]) -> None:
    shire, wessex = hubs
    sent = wessex.federation.seal("transfer-offer", "shire", BODY)
    wire = sent.to_bytes()
    assert set(sent.body) == {"encrypted"}
    assert sent.body["encrypted"]["suite"] == "hpke-base-x25519-sha256-aes256gcm"
    assert NHS.encode() not in wire and b"moved to Shire" not in wire
    message, partner = shire.federation.receive(wire)
    assert (message.body, partner.id) == (BODY, "wessex")
    # Sealed twice, the same body is two different ciphertexts (a fresh key each time).
    again = wessex.federation.seal("transfer-offer", "shire", BODY)
    assert again.body["encrypted"]["ciphertext"] != sent.body["encrypted"]["ciphertext"]
    # Wessex cannot open what it sent Shire: only Shire's key does.
    with pytest.raises(MessageProblem) as refused:
        wessex.federation._opened(sent, wessex.federation.register.partners[0])
    assert refused.value.field == "body.encrypted.ciphertext"


def test_a_body_in_clear_from_a_partner_whose_key_is_listed_is_refused(
    hubs: tuple[Hub, Hub], tmp_path: Path
) -> None:
    shire, wessex = hubs
    # Wessex's register without Shire's encryption key (keys not exchanged on its side).
    plain = write_register(
        tmp_path / "wessex-plain.yaml", "wessex", "shire", shire.signer.public_key_hex,
        "127.0.0.1:9",
    )  # fmt: skip
    clear = Federation(
        load_register(plain), wessex.signer, wessex.integrity, lambda: wessex.message_key
    ).seal("transfer-offer", "shire", BODY)
    assert clear.body == BODY
    with pytest.raises(MessageProblem) as refused:
        shire.federation.receive(clear.to_bytes())
    assert refused.value.field == "body"
    assert NHS not in str(refused.value)


def test_another_suite_or_a_body_lifted_from_another_message_is_refused_by_field(
    hubs: tuple[Hub, Hub],
) -> None:
    shire, wessex = hubs
    first = wessex.federation.seal("transfer-offer", "shire", BODY)
    second = wessex.federation.seal("transfer-offer", "shire", {"nhs_number": NHS})
    # The first body in the second message, signed again by Wessex: bound to the first
    # message's id, it does not open in the second.
    lifted = second.model_copy(update={"body": first.body, "signature": ""})
    lifted = lifted.model_copy(
        update={"signature": wessex.signer.sign(lifted.signed_bytes()).hex()}
    )
    with pytest.raises(MessageProblem) as refused:
        shire.federation.receive(lifted.to_bytes())
    assert refused.value.field == "body.encrypted.ciphertext"
    other_suite = {"encrypted": {**first.body["encrypted"], "suite": "rsa-oaep"}}
    renamed = first.model_copy(update={"body": other_suite, "signature": ""})
    renamed = renamed.model_copy(
        update={"signature": wessex.signer.sign(renamed.signed_bytes()).hex()}
    )
    with pytest.raises(MessageProblem) as refused:
        shire.federation.receive(renamed.to_bytes())
    assert refused.value.field == "body.encrypted.suite"


def test_the_key_is_made_once_readable_only_by_the_hub_and_shown_for_partners(
    hubs: tuple[Hub, Hub], capsys: pytest.CaptureFixture[str]
) -> None:
    shire, _ = hubs
    path = shire.settings.keys_path / KEY_FILE_NAME
    public = shire.message_key.public_key_hex
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MessageKey.from_file(path).public_key_hex == public  # the same key when read again
    data_dir = str(shire.settings.data_dir)
    assert main(["federation", "identity", "--data-dir", data_dir, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert orjson.loads(out[out.index("{") :])["encryption_public_key"] == public


def test_a_ciphertext_opens_only_with_the_info_it_was_sealed_for(tmp_path: Path) -> None:
    key = MessageKey.from_file(tmp_path / KEY_FILE_NAME)
    info = message_info("hub-federation-v1", "wessex", "shire", "a" * 32, "transfer-offer")
    sealed = seal_body(b'{"a":1}', key.public_key_hex, info)
    assert key.open_body(sealed, info) == b'{"a":1}'
    for other in (
        message_info("hub-federation-v1", "dorset", "shire", "a" * 32, "transfer-offer"),
        message_info("hub-federation-v1", "wessex", "shire", "a" * 32, "correction"),
    ):
        with pytest.raises(ValueError, match="does not open"):
            key.open_body(sealed, other)
    with pytest.raises(ValueError, match="not base64"):
        key.open_body("***", info)
