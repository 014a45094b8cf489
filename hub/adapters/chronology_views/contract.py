"""What a store of sealed documents must do, for the chronology projection and for each
consumer: documents by name beside a log position, committed together; and a rebuild built
beside the live documents and swapped in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class ChronologyViewStore(Protocol):
    def position(self) -> int: ...

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]: ...

    def put(
        self,
        documents: Mapping[str, bytes],
        position: int | None,
        expected: int | None = None,
        deleted: Sequence[str] = (),
        forgotten_mark: int | None = None,
    ) -> None:
        """Store the documents, delete `deleted` and move to the new position (None: leave it)
        atomically; with `expected`, only if the stored position is still that (else
        ProjectionConflictError: another process folded those entries first); with
        `forgotten_mark`, only if nothing was forgotten since `forgotten_mark()` returned it
        (else ProjectionConflictError: the documents may hold a child just erased)."""
        ...

    def forgotten_mark(self) -> int:
        """The latest `record_forgotten` so far (0 for none)."""
        ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]:
        """Document names in order, after `after` (for scans such as retention)."""
        ...

    def begin_rebuild(self) -> Rebuild:
        """Start building a new set of documents beside the live ones (replacing any
        unfinished one: a rebuild started later takes over from one started earlier)."""
        ...

    def record_forgotten(self, stream: str, households: Sequence[str]) -> None:
        """Note that a stream's documents, and its membership of these household documents,
        are being forgotten, so that a rebuild under way purges them from what it built."""
        ...


class Rebuild(Protocol):
    """Documents a rebuild is building beside the live ones, swapped in by `replace_live`."""

    def get_many(self, streams: Sequence[str]) -> dict[str, bytes]: ...

    def put(self, documents: Mapping[str, bytes], deleted: Sequence[str] = ()) -> None:
        """Store and delete (ProjectionConflictError if another rebuild has taken over)."""
        ...

    def delete(self, names: Sequence[str]) -> None: ...

    def names(self, after: str, limit: int) -> list[str]: ...

    def forgotten(self, after: int) -> list[tuple[int, str, str]]:
        """(sequence, stream, household or "") recorded by `record_forgotten`, in order."""
        ...

    def replace_live(self, position: int, forgotten_upto: int) -> bool:
        """Make these the live documents at `position`, in one transaction, unless more was
        forgotten after `forgotten_upto` (then False: purge that too and call again).
        ProjectionConflictError if another rebuild has taken over."""
        ...


class ProjectionConflictError(RuntimeError):
    """Another process advanced the projection first; the caller re-reads and continues."""


def checked_table_name(table: str) -> str:
    if not table.replace("_", "").isalnum() or not table.isascii():
        raise ValueError(f"not a usable table name: {table!r}")
    return table
