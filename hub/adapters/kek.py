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

from hub.adapters.secrets import (
    SecretConfigurationError,
    decode_secret,
    load_or_create_secret,
    missing_key_error,
)

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
    """KEKs in `<dir>/<id>.kek`; `<dir>/current` names the one new data keys are wrapped by.

    Rotation (`rotate`) writes a new KEK and points `current` at it; `retire` moves an old KEK
    to `<dir>/retired/` once no data key is wrapped by it any more (keep that directory offline
    or destroy it per the key policy). Other running processes re-read `current` before each
    wrap and load a KEK they do not hold yet on demand, so they follow a rotation while serving.
    """

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = directory
        self._current_seen: tuple[tuple[int, int, int], str] | None = None  # (stat, KEK id)
        if not (directory / "current").exists():
            if not create:
                raise missing_key_error(directory / "current", "KEK")
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._create()
        super().__init__({}, self._read_current())
        self._load(self._current)

    def _create(self) -> str:
        kek_id = "kek-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        load_or_create_secret(self.directory / f"{kek_id}.kek", name="KEK")
        temp = self.directory / "current.tmp"
        temp.write_text(kek_id + "\n")
        temp.replace(self.directory / "current")
        return kek_id

    def _read_current(self) -> str:
        """The KEK `current` names, read again only when the file was replaced or changed
        (a stat per wrap, not an open and read: each new child's data key is wrapped)."""
        path = self.directory / "current"
        stat = path.stat()
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._current_seen is not None and self._current_seen[0] == seen:
            return self._current_seen[1]
        current = path.read_text().strip()
        if not _KEK_ID.match(current):
            raise SecretConfigurationError(f"{path} does not name a KEK")
        self._current_seen = (seen, current)
        return current

    def _load(self, kek_id: str) -> bytes | None:
        if kek_id not in self._keks:
            path = self.directory / f"{kek_id}.kek"
            if not _KEK_ID.match(kek_id) or not path.exists():
                return None
            self._keks[kek_id] = load_or_create_secret(path, name="KEK")
        return self._keks[kek_id]

    def current_kek_id(self) -> str:
        current = self._read_current()
        if self._load(current) is None:
            raise SecretConfigurationError(f"current KEK {current!r} has no key file")
        self._current = current
        return current

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        self.current_kek_id()
        return super().wrap(data_key)

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        self._load(kek_id)
        return super().unwrap(kek_id, wrapped)

    def rotate(self) -> str:
        """Create a new KEK and make it current; returns its id."""
        kek_id = self._create()
        self._load(kek_id)
        self._current = kek_id
        return kek_id

    def active_kek_ids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.kek"))

    def retire(self, kek_id: str) -> None:
        if kek_id == self.current_kek_id():
            raise ValueError("the current KEK cannot be retired")
        retired = self.directory / "retired"
        retired.mkdir(exist_ok=True, mode=0o700)
        (self.directory / f"{kek_id}.kek").replace(retired / f"{kek_id}.kek")
        self._keks.pop(kek_id, None)
