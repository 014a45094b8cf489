"""The event store's SQLite recorder: eventsourcing's process recorder, inserting a batch's
rows with one `executemany` instead of one `execute` per row.

eventsourcing's SQLite application recorder executes its INSERT once per row to read each
row's rowid (the notification id). Within the write transaction the rowids of one statement's
rows are consecutive (SQLite gives a table without AUTOINCREMENT max(rowid) + 1, and nobody
else writes until the commit), so the ids are the last one's and the ones before it, and the
rows go in with one `executemany` (benchmarks/README.md, "Ingest throughput"). The transaction
is eventsourcing's own: the rows and the tracking row (the transport position) commit together,
and a duplicate (stream, version) or position rolls back the whole batch.

The tracking row is written first: that takes SQLite's write lock, so the stream heads read
next are the latest and stay so until the commit. With `expected_heads`, entries numbered from
heads another process has since moved are moved along (`renumber`, see `HubStore.append`), as
the PostgreSQL recorder does under its table lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

_IN_CHUNK = 500


class BatchedSQLiteProcessRecorder(SQLiteProcessRecorder):
    renumbers_under_lock = True  # takes `expected_heads` and `renumber` (module docstring)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is not None:
            self._insert_tracking(c, tracking)
        if not stored_events:
            return []
        expected: Mapping[UUID, int] | None = kwargs.get("expected_heads")
        if expected:
            moved = self._moved(c, expected)
            if moved:
                renumber: Callable[[dict[UUID, int]], Sequence[StoredEvent]] = kwargs["renumber"]
                stored_events = renumber(moved)
        c.executemany(
            self.insert_events_statement,
            [
                (
                    row.originator_id.hex
                    if isinstance(row.originator_id, UUID)
                    else row.originator_id,
                    row.originator_version,
                    row.topic,
                    row.state,
                )
                for row in stored_events
            ],
        )
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))

    def _moved(self, c: SQLiteCursor, expected: Mapping[UUID, int]) -> dict[UUID, int]:
        """How far each stream's head is past the one expected (only those that moved)."""
        streams = list(expected)
        heads: dict[UUID, int] = {}
        for start in range(0, len(streams), _IN_CHUNK):
            chunk = streams[start : start + _IN_CHUNK]
            c.execute(
                f"SELECT originator_id, MAX(originator_version) FROM {self.events_table_name} "  # noqa: S608
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) GROUP BY originator_id",
                [stream.hex for stream in chunk],
            )
            heads.update((UUID(row[0]), int(row[1])) for row in c.fetchall())
        moved = {
            s: heads.get(s, 0) - head for s, head in expected.items() if heads.get(s, 0) != head
        }
        if any(shift < 0 for shift in moved.values()):
            raise IntegrityError("a stream's head is behind the one its batch was numbered from")
        return moved
