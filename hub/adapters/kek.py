"""Key-encryption keys (KEKs): the keys that wrap every data key.

`KekProvider` is the shape a KMS or HSM adapter fills: it wraps and unwraps data keys and
never has to hand out the KEK itself. `FileKekProvider` is the development provider: KEKs as
base64 files in a directory, the newest listed in `current`; `HUB_KEK` (base64) in the
environment replaces the directory with one KEK named "env".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from hub.adapters.secrets import SecretConfigurationError, decode_secret, load_or_create_secret

_KEK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class KekUnavailableError(RuntimeError):
    """The KEK a data key was wrapped with is not held by this provider."""


class KekProvider(Protocol):
    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        """Wrap under the current KEK; returns (kek id, wrapped key)."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes: ...


class _KekSet:
    def __init__(self, keks: dict[str, bytes], current: str) -> None:
        self._keks = keks
        self._current = current

    def current_kek_id(self) -> str:
        return self._current

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        return self._current, aes_key_wrap(self._keks[self._current], data_key)

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        kek = self._keks.get(kek_id)
        if kek is None:
            raise KekUnavailableError(
                f"data key is wrapped by KEK {kek_id!r}, "
                "which this hub's key provider does not hold"
            )
        try:
            return aes_key_unwrap(kek, wrapped)
        except InvalidUnwrap as error:
            raise KekUnavailableError(f"KEK {kek_id!r} failed to unwrap a data key") from error


class EnvironmentKekProvider(_KekSet):
    def __init__(self, encoded: str) -> None:
        super().__init__({"env": decode_secret(encoded, name="HUB_KEK")}, "env")


class FileKekProvider(_KekSet):
    """KEKs in `<dir>/<id>.kek`; `<dir>/current` names the one new data keys are wrapped by."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        current_file = directory / "current"
        if not current_file.exists():
            kek_id = "kek-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            load_or_create_secret(directory / f"{kek_id}.kek", name="KEK")
            current_file.write_text(kek_id + "\n")
        current = current_file.read_text().strip()
        if not _KEK_ID.match(current):
            raise SecretConfigurationError(f"{current_file} does not name a KEK")
        keks = {
            path.stem: load_or_create_secret(path, name="KEK") for path in directory.glob("*.kek")
        }
        if current not in keks:
            raise SecretConfigurationError(
                f"{current_file} names {current!r} but {current}.kek is missing"
            )
        super().__init__(keks, current)
