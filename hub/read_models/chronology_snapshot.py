"""What the chronology projection hands out: a child's merged chronology as a snapshot, and
the progress of a catch-up or rebuild."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.domain.chronology import ChronologyEntry

_MEMO_KEYS = 64  # values derived from one snapshot


@dataclass(frozen=True)
class Progress:
    processed: int  # entries folded so far
    position: int  # notification id of the last row read
    head: int  # the log's head when this pass started
    rate_per_s: float
    done: float  # the share of the work done, 0..1 (a rebuild estimates it from stream ids)


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, eq=False)
class ChronologySnapshot:
    """A child's merged chronology as of the documents it was read from. The projection hands
    out the same snapshot while those documents are unchanged, so a caller may keep what it
    derives from the entries (policy attributes, relationships) in `memo` for as long."""

    entries: tuple[ChronologyEntry, ...]
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key: object, compute: Callable[[], Any]) -> Any:
        """`compute()`, once per snapshot and key (racing threads may both compute it)."""
        try:
            return self.memo[key]
        except KeyError:
            value = compute()
            if len(self.memo) >= _MEMO_KEYS:  # e.g. many distinct viewers' patterns
                self.memo.clear()
            self.memo[key] = value
            return value
