"""Rotating the key-encryption key: every data key is rewrapped under a new KEK, in batches
of one transaction each, while the hub keeps serving; then the old KEKs are retired.

Events are never touched: their ciphertext is bound to the data key, not to the KEK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hub.adapters.data_keys import Keyring


@runtime_checkable
class RotatableKekProvider(Protocol):
    def current_kek_id(self) -> str: ...

    def rotate(self) -> str: ...

    def active_kek_ids(self) -> list[str]: ...

    def retire(self, kek_id: str) -> None: ...


class RotationNotSupportedError(ValueError):
    """The configured KEK provider cannot rotate here (e.g. a KEK from HUB_KEK)."""


@dataclass(frozen=True)
class RotationReport:
    new_kek: str
    retired: list[str]
    rewrapped: int
    seconds: float


def rotate_kek(keyring: Keyring, progress: Callable[[int], None] | None = None) -> RotationReport:
    rotatable = keyring.keks
    if not isinstance(rotatable, RotatableKekProvider):
        raise RotationNotSupportedError(
            "this KEK provider does not rotate here: rotate the key in the KMS or replace HUB_KEK "
            "(see docs/security.md)"
        )
    started = time.perf_counter()
    old = rotatable.active_kek_ids()
    new = rotatable.rotate()
    rewrapped = keyring.rewrap_all(new, progress=progress)
    rewrapped += keyring.rewrap_all(new)  # a final pass for keys created mid-rotation
    retired = [k for k in old if k != new]
    for kek_id in retired:
        rotatable.retire(kek_id)
    return RotationReport(new, retired, rewrapped, time.perf_counter() - started)
