"""Discovery cryptography: RFC 9497 VOPRF (ristretto255-SHA512) and the "Is anyone else
involved?" protocol between two hubs' keys."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from voprf import ristretto

from hub.adapters.discovery_oprf import (
    KEY_INFO,
    DiscoveryError,
    DiscoveryKey,
    DiscoveryProofError,
    blind,
    discovery_key_id,
    finalize,
    seed_path,
)
from hub.adapters.secrets import SecretConfigurationError
from hub.domain.discovery import DIGEST_LENGTH
from hub.domain.identity import InvalidIdentifierError

# RFC 9497 Appendix A.1.2, "OPRF(ristretto255, SHA-512)", VOPRF Mode: copied from the RFC's
# source (cfrg/draft-irtf-cfrg-voprf, draft-irtf-cfrg-voprf.md, as published, November 2023).
RFC_SEED = bytes.fromhex("a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3")
RFC_KEY_INFO = bytes.fromhex("74657374206b6579")
RFC_PKSM = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
RFC_VECTORS = [
    (  # Test Vector 1, Batch Size 1
        "00",
        "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
        "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
    ),
    (  # Test Vector 2, Batch Size 1
        "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
        "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
    ),
]

HELD = "943 476 5919"
NOT_HELD = "9876543210"
ANOTHER_HELD = "4010232137"


def rfc_evaluator() -> ristretto.Evaluator:
    return ristretto.Evaluator.from_seed(RFC_SEED, RFC_KEY_INFO)


def test_derive_key_pair_gives_the_rfc_public_key() -> None:
    assert rfc_evaluator().public_key.serialize().hex() == RFC_PKSM


@pytest.mark.parametrize(("input_hex", "output_hex"), RFC_VECTORS)
def test_evaluate_gives_the_rfc_output(input_hex: str, output_hex: str) -> None:
    assert rfc_evaluator().evaluate_known_input(bytes.fromhex(input_hex)).hex() == output_hex


@pytest.mark.parametrize(("input_hex", "output_hex"), RFC_VECTORS)
def test_blind_evaluate_and_finalize_give_the_rfc_output(input_hex: str, output_hex: str) -> None:
    evaluator = rfc_evaluator()
    client, blinded = ristretto.Client.blind(bytes.fromhex(input_hex))
    output = client.finalize(evaluator.evaluate(blinded), evaluator.public_key)
    assert output.hex() == output_hex


def hub_key(tmp_path: Path, name: str) -> DiscoveryKey:
    return DiscoveryKey.from_file(seed_path(tmp_path / name))


def ask(partner: DiscoveryKey, nhs_number: str, registered_public_key_hex: str) -> bytes:
    state, blinded = blind(nhs_number)
    return finalize(state, partner.evaluate(blinded), registered_public_key_hex)


def test_a_child_the_partner_holds_is_found(tmp_path: Path) -> None:
    partner = hub_key(tmp_path, "partner")
    holdings = partner.holdings(
        "hub-b", [HELD, ANOTHER_HELD], datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    )
    digest = ask(partner, "9434765919", partner.public_key_hex)
    assert len(digest) == DIGEST_LENGTH
    assert holdings.holds(digest)
    assert holdings.computed_with(discovery_key_id(partner.public_key_hex))


def test_a_child_the_partner_does_not_hold_is_not_found(tmp_path: Path) -> None:
    partner = hub_key(tmp_path, "partner")
    holdings = partner.holdings("hub-b", [HELD], datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert not holdings.holds(ask(partner, NOT_HELD, partner.public_key_hex))


def test_the_same_child_gives_different_digests_under_different_hubs_keys(tmp_path: Path) -> None:
    one, other = hub_key(tmp_path, "one"), hub_key(tmp_path, "other")
    assert one.holding_digest(HELD) != other.holding_digest(HELD)
    assert one.public_key_hex != other.public_key_hex


def test_a_partner_answering_with_another_key_fails_verification(tmp_path: Path) -> None:
    registered = hub_key(tmp_path, "registered")
    other = hub_key(tmp_path, "other")
    state, blinded = blind(HELD)
    with pytest.raises(DiscoveryProofError, match="registered discovery key"):
        finalize(state, other.evaluate(blinded), registered.public_key_hex)


def test_an_altered_answer_fails_verification(tmp_path: Path) -> None:
    partner = hub_key(tmp_path, "partner")
    state, blinded = blind(HELD)
    answer = bytearray(partner.evaluate(blinded))
    answer[40] ^= 1  # inside the proof
    with pytest.raises(DiscoveryError):
        finalize(state, bytes(answer), partner.public_key_hex)


def test_the_blinded_element_differs_every_time_for_the_same_child() -> None:
    blinded = {blind(HELD)[1] for _ in range(5)}
    assert len(blinded) == 5
    assert all(len(element) == 32 for element in blinded)
    assert b"9434765919" not in b"".join(blinded)


def test_the_nhs_number_is_read_however_it_is_written(tmp_path: Path) -> None:
    key = hub_key(tmp_path, "hub")
    assert key.holding_digest("943 476 5919") == key.holding_digest("943-476-5919")
    assert key.holding_digest("943 476 5919") == key.holding_digest("9434765919")


def test_an_invalid_nhs_number_is_refused_without_echoing_it(tmp_path: Path) -> None:
    key = hub_key(tmp_path, "hub")
    with pytest.raises(InvalidIdentifierError) as raised:
        blind("9434765918")
    assert "9434765918" not in str(raised.value)
    with pytest.raises(InvalidIdentifierError):
        key.holding_digest("12345")


def test_the_seed_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = seed_path(tmp_path)
    first = DiscoveryKey.from_file(path)
    assert path == tmp_path / "keys" / "discovery-oprf.seed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    second = DiscoveryKey.from_file(path)
    assert second.public_key_hex == first.public_key_hex
    assert second.holding_digest(HELD) == first.holding_digest(HELD)
    assert first.key_id.startswith("voprf-r255:")


def test_the_key_is_derived_from_the_seed_with_the_hubs_info_string(tmp_path: Path) -> None:
    path = seed_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(RFC_SEED)
    key = DiscoveryKey.from_file(path)
    expected = ristretto.Evaluator.from_seed(RFC_SEED, KEY_INFO).public_key.serialize().hex()
    assert key.public_key_hex == expected
    assert key.public_key_hex != RFC_PKSM  # the RFC's info string is not the hub's


def test_a_missing_seed_is_not_created_when_creation_is_off(tmp_path: Path) -> None:
    with pytest.raises(SecretConfigurationError, match="discovery key seed not found"):
        DiscoveryKey.from_file(seed_path(tmp_path), create=False)
    assert not seed_path(tmp_path).exists()


def test_a_seed_file_of_the_wrong_length_is_refused_by_name_not_content(tmp_path: Path) -> None:
    path = seed_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"secret-seed-material-31-bytes!!")
    with pytest.raises(SecretConfigurationError) as raised:
        DiscoveryKey.from_file(path)
    message = str(raised.value)
    assert str(path) in message and "32 bytes, not 31" in message
    assert "secret-seed" not in message


@pytest.mark.parametrize("blinded", [b"", bytes(32), b"\xff" * 32, b"\x01" * 33])
def test_a_malformed_blinded_element_is_refused_naming_the_field(
    tmp_path: Path, blinded: bytes
) -> None:
    with pytest.raises(DiscoveryError, match=r"^blinded ") as raised:
        hub_key(tmp_path, "hub").evaluate(blinded)
    if blinded:
        assert blinded.hex() not in str(raised.value)


def test_a_malformed_answer_is_refused_naming_the_field(tmp_path: Path) -> None:
    partner = hub_key(tmp_path, "partner")
    state, _ = blind(HELD)
    with pytest.raises(DiscoveryError, match=r"^evaluated "):
        finalize(state, b"\x07" * 10, partner.public_key_hex)


@pytest.mark.parametrize("public_key_hex", ["not hex", "ff" * 32, "c803e2"])
def test_a_malformed_partner_public_key_is_refused_naming_the_field(
    tmp_path: Path, public_key_hex: str
) -> None:
    partner = hub_key(tmp_path, "partner")
    state, blinded = blind(HELD)
    with pytest.raises(DiscoveryError, match=r"^partner_public_key_hex "):
        finalize(state, partner.evaluate(blinded), public_key_hex)


def test_the_blinding_state_does_not_show_its_secret() -> None:
    state, _ = blind(HELD)
    assert repr(state) == "BlindingState(<secret>)"
