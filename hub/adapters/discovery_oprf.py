"""The discovery key and the cryptography of "Is anyone else involved?" (RFC 9497 VOPRF).

The protocol and what each side learns are in `hub.domain.discovery`. This module holds the
cryptography, from the `voprf` library (a Python wrapper of the Rust `voprf` crate, RFC 9497,
VOPRF mode, ristretto255-SHA512):

- the hub's own side (`DiscoveryKey`): its secret key, derived with RFC 9497 DeriveKeyPair
  from a 32-byte seed and the fixed info string `KEY_INFO`; its public key for the partner
  register; `holding_digest` for each child it holds (Evaluate, truncated to
  `DIGEST_LENGTH`), published as its holdings; `evaluate` for a partner's blinded question
  (BlindEvaluate, with the DLEQ proof);
- the asking side (`blind`, `finalize`): blind an NHS number with a fresh random blind, and
  finalize the partner's answer against the partner's registered public key, refusing an answer
  whose proof does not verify (`DiscoveryProofError`).

The OPRF input is the normalised NHS number (10 ASCII digits) after `INPUT_LABEL`, so every hub
derives the same input however the number was written ("943 476 5919" or "9434765919").

Development: the seed is `<data-dir>/keys/discovery-oprf.seed` (32 random bytes, created on
first use, mode 0600); deployment: mounted from a secret store, and never created on the fly.
Rotating it changes the public key: republish it in the register and recompute the holdings.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from voprf import ristretto

from hub.adapters.secrets import (
    SecretConfigurationError,
    create_key_file,
    missing_key_error,
)
from hub.domain.discovery import DIGEST_LENGTH, Holdings
from hub.domain.identity import validate_nhs_number

SEED_FILE_NAME = "discovery-oprf.seed"
SEED_LENGTH = 32
KEY_INFO = b"hub-discovery-v1"
INPUT_LABEL = b"nhs-number\x1f"


class DiscoveryError(ValueError):
    """A discovery message that cannot be used; the message names the field, never its bytes."""


class DiscoveryProofError(DiscoveryError):
    """The partner's answer does not prove it was computed with the partner's registered key:
    it may have used another key (to single the asker out) or been altered on the way."""


def seed_path(data_dir: Path) -> Path:
    return data_dir / "keys" / SEED_FILE_NAME


def discovery_key_id(public_key_hex: str) -> str:
    """The id holdings carry for the key that computed them (as `CheckpointSigner.key_id`)."""
    return "voprf-r255:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def _oprf_input(nhs_number: str) -> bytes:
    return INPUT_LABEL + validate_nhs_number(nhs_number).encode("ascii")


class DiscoveryKey:
    """This hub's discovery key: the answering side of the protocol."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_LENGTH:
            raise SecretConfigurationError(
                f"the discovery key seed must be {SEED_LENGTH} bytes, not {len(seed)}"
            )
        self._evaluator = ristretto.Evaluator.from_seed(seed, KEY_INFO)
        self.public_key_hex = self._evaluator.public_key.serialize().hex()
        self.key_id = discovery_key_id(self.public_key_hex)

    def __repr__(self) -> str:
        return f"DiscoveryKey(key_id={self.key_id!r})"

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> DiscoveryKey:
        """The key from its seed file, creating the file (32 random bytes, mode 0600) if it is
        absent and `create` is true. A file of the wrong length is refused by name, never by
        content."""
        if not path.exists():
            if not create:
                raise missing_key_error(path, "discovery key seed")
            create_key_file(path, secrets.token_bytes(SEED_LENGTH))
        seed = path.read_bytes()
        if len(seed) != SEED_LENGTH:
            raise SecretConfigurationError(
                f"discovery key seed ({path}) must be exactly {SEED_LENGTH} bytes, not "
                f"{len(seed)}: restore it from the secret store (replacing it changes the "
                "hub's discovery public key, which partners would then have to re-register)"
            )
        return cls(seed)

    def holding_digest(self, nhs_number: str) -> bytes:
        """The digest of a child this hub holds, for its published holdings (RFC 9497 Evaluate,
        truncated). Raises `InvalidIdentifierError` for an invalid NHS number."""
        return self._evaluator.evaluate_known_input(_oprf_input(nhs_number))[:DIGEST_LENGTH]

    def holdings(self, hub_id: str, nhs_numbers: Iterable[str], as_of: datetime) -> Holdings:
        """This hub's holdings for the children whose NHS numbers these are."""
        return Holdings(
            hub_id=hub_id,
            key_id=self.key_id,
            as_of=as_of,
            digests=frozenset(self.holding_digest(number) for number in nhs_numbers),
        )

    def evaluate(self, blinded: bytes) -> bytes:
        """A partner's blinded question evaluated, with the proof (a serialized VerifiableOutput).
        The caller rate-limits and audits it per asking practitioner before calling."""
        try:
            element = ristretto.BlindedInput.deserialize(blinded)
        except ValueError as error:
            raise DiscoveryError(
                f"blinded is not a blinded ristretto255 element ({len(blinded)} bytes; "
                "a valid one is 32 bytes and not the identity)"
            ) from error
        return self._evaluator.evaluate(element).serialize()


class BlindingState:
    """What the asking hub keeps between blinding a question and finalizing its answer: the
    blind. It stays in memory, is never logged, and is used for one answer."""

    def __init__(self, client: ristretto.Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return "BlindingState(<secret>)"


def blind(nhs_number: str) -> tuple[BlindingState, bytes]:
    """Blind a question about the child with this NHS number: the state to keep, and the
    blinded element to send (different every time, so questions cannot be linked). Raises
    `InvalidIdentifierError` for an invalid NHS number."""
    client, element = ristretto.Client.blind(_oprf_input(nhs_number))
    return BlindingState(client), element.serialize()


def finalize(state: BlindingState, evaluated: bytes, partner_public_key_hex: str) -> bytes:
    """The digest of the asked-about child under the partner's key, from the partner's answer,
    verified against the partner's registered public key; look it up in the partner's
    holdings. Raises `DiscoveryProofError` if the proof fails, `DiscoveryError` naming the
    field if `evaluated` or `partner_public_key_hex` is malformed."""
    try:
        public_key = ristretto.PublicKey.deserialize(bytes.fromhex(partner_public_key_hex))
    except ValueError as error:
        raise DiscoveryError(
            "partner_public_key_hex is not a ristretto255 public key in hex (64 hex digits)"
        ) from error
    try:
        output = ristretto.VerifiableOutput.deserialize(evaluated)
    except ValueError as error:
        raise DiscoveryError(
            f"evaluated is not an evaluated element with its proof ({len(evaluated)} bytes; "
            "a valid one is 96 bytes)"
        ) from error
    try:
        digest = state._client.finalize(output, public_key)
    except ValueError as error:
        raise DiscoveryProofError(
            "the partner's answer does not verify against its registered discovery key: "
            "it was computed with another key or altered on the way, so it answers nothing"
        ) from error
    return digest[:DIGEST_LENGTH]
