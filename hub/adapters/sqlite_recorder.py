"""The event store's SQLite recorder: eventsourcing's process recorder, inserting a batch's
rows with one `executemany` instead of one `execute` per row.

eventsourcing's SQLite application recorder executes its INSERT once per row to read each
row's rowid (the notification id). Within the write transaction the rowids of one statement's
rows are consecutive (SQLite gives a table without AUTOINCREMENT max(rowid) + 1, and nobody
else writes until the commit), so the ids are the last one's and the ones before it, and the
rows go in with one `executemany` (benchmarks/README.md, "Ingest per event"). The transaction
is eventsourcing's own: the rows and the tracking row (the transport position) commit together,
and a duplicate (stream, version) or position rolls back the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder


class BatchedSQLiteProcessRecorder(SQLiteProcessRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: list[int] = []
        if stored_events:
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
            ids = list(range(last - len(stored_events) + 1, last + 1))
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is not None:
            self._insert_tracking(c, tracking)
        return ids
