"""The checkpoint signing key (Ed25519), separate from every encryption and pseudonym key.

It only signs Merkle checkpoints; partners pin its public key to check the checkpoints they
keep. Development: `<data-dir>/keys/checkpoint-signing.pem` (created on first use, mode 0600);
deployment: mounted from a secret store. Rotation: generate a new key, publish its public key
to witnesses, and sign the next checkpoint with both keys' ids recorded (see docs/security.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.adapters.secrets import create_key_file, missing_key_error


class CheckpointSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_hex = raw.hex()
        self.key_id = "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> CheckpointSigner:
        if not path.exists():
            if not create:
                raise missing_key_error(path, "checkpoint signing key")
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            create_key_file(path, pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def signature_valid(public_key_hex: str, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
