"""Federation message bodies encrypted to the receiving hub (RFC 9180 HPKE, base mode).

A message between partner hubs is signed by its sender (`hub.federation`); its body (a child's
records in a transfer or a correction) is also sealed to the recipient's X25519 key when the
partner register lists that key, so the partner's brokers, and anyone who can read their
topics, hold ciphertext only. The suite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
AES-256-GCM, from `cryptography`'s HPKE (single-shot: a fresh ephemeral key per message).
The `info` binds the ciphertext to the message it travels in (format, sender, recipient,
message id and type), so a body cannot be lifted into another message.

Development: the private key is `<data-dir>/keys/federation-encryption.pem` (created on first
use, mode 0600); deployment: mounted from a secret store, and never created on the fly.
`hub federation identity` prints the public key for partners' registers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from hub.adapters.secrets import create_key_file, missing_key_error

KEY_FILE_NAME = "federation-encryption.pem"
SUITE_NAME = "hpke-base-x25519-sha256-aes256gcm"
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


class BodyDecryptionError(ValueError):
    """The sealed body does not open with this hub's key and the message it came in."""


def message_info(fmt: str, sender: str, recipient: str, message_id: str, kind: str) -> bytes:
    """What the ciphertext is bound to: the message it travels in."""
    return "\x1f".join((fmt, sender, recipient, message_id, kind)).encode()


def encryption_key_id(public_key_hex: str) -> str:
    """A short id for an encryption key (as `CheckpointSigner.key_id` for the signing key)."""
    return "x25519:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def seal_body(plaintext: bytes, public_key_hex: str, info: bytes) -> str:
    """`plaintext` sealed to the holder of that X25519 public key, base64 (RFC 4648)."""
    recipient = X25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    return base64.b64encode(_SUITE.encrypt(plaintext, recipient, info=info)).decode()


class MessageKey:
    """This hub's X25519 key: partners seal message bodies to its public key."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key
        self.public_key_hex = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            .hex()
        )
        self.key_id = encryption_key_id(self.public_key_hex)

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> MessageKey:
        if not path.exists():
            if not create:
                raise missing_key_error(path, "federation encryption key")
            pem = X25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            create_key_file(path, pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, X25519PrivateKey):
            raise ValueError(f"{path} is not an X25519 private key")
        return cls(key)

    def open_body(self, sealed: str, info: bytes) -> bytes:
        """The plaintext of a body sealed to this key for the message `info` names."""
        try:
            ciphertext = base64.b64decode(sealed, validate=True)
        except binascii.Error:
            raise BodyDecryptionError("is not base64") from None
        try:
            return _SUITE.decrypt(ciphertext, self._key, info=info)
        except (InvalidTag, ValueError):
            raise BodyDecryptionError(
                "does not open with this hub's key for this message"
            ) from None
