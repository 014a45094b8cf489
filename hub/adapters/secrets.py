"""Loading and creating the hub's own secrets (pseudonym key, development KEKs).

In development they live in files under the data directory, created on first use with
owner-only permissions; in deployment they are mounted as files (Kubernetes/compose secrets)
or supplied in the environment as base64.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

SECRET_LENGTH = 32


class SecretConfigurationError(RuntimeError):
    """A secret is missing, unreadable or malformed; the message says which and how to fix it."""


def decode_secret(value: str, *, name: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SecretConfigurationError(f"{name} is not valid base64") from error
    if len(key) != SECRET_LENGTH:
        raise SecretConfigurationError(
            f"{name} must decode to {SECRET_LENGTH} bytes, not {len(key)}"
        )
    return key


def missing_key_error(path: Path, name: str) -> SecretConfigurationError:
    return SecretConfigurationError(
        f"{name} not found at {path}: HUB_KEYS_DIR is set, so keys are never created on the "
        "fly (a mis-mounted key volume must not mint new keys). Check the mount, or create "
        "the keys once with `hub keys init`"
    )


def create_key_file(path: Path, content: bytes) -> None:
    """Write a new key file readable by the hub's user alone (0600, in a 0700 directory);
    never over an existing file (O_EXCL)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def load_or_create_secret(path: Path, *, name: str, create: bool = True) -> bytes:
    """Read a base64 secret file, creating it (mode 0600) with a fresh random key if absent
    and `create` is true; otherwise a missing file is a SecretConfigurationError."""
    if not path.exists():
        if not create:
            raise missing_key_error(path, name)
        encoded = base64.b64encode(secrets.token_bytes(SECRET_LENGTH)).decode()
        create_key_file(path, (encoded + "\n").encode())
    return decode_secret(path.read_text().strip(), name=f"{name} ({path})")
