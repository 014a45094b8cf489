"""The event store's PostgreSQL recorder: eventsourcing's process recorder, writing a batch's
rows with COPY instead of one INSERT of an array of composite values.

Ingest commits a batch (its sealed records, idempotency claims, ledger entry, quarantined
messages and blind index entries, a few thousand rows) and its transport position in one
transaction. eventsourcing inserts the rows as one `INSERT ... SELECT FROM unnest(%s)` whose
parameter is an array of composite values that psycopg adapts row by row in text form; COPY in
binary format sends the same rows with far less work on both sides (see benchmarks/README.md:
"PostgreSQL writes"). Everything else is eventsourcing's own sequence, in one transaction:

1. the tracking row (the transport position; its primary key refuses a second writer),
2. `LOCK TABLE ... IN EXCLUSIVE MODE` (so notification ids are issued in commit order and a
   reader following the log never passes a gap that a slower transaction fills later),
3. `NOTIFY` for subscribers,
4. the rows, by COPY (the primary key on (stream, version) refuses a duplicate, raised as
   eventsourcing's IntegrityError like the INSERT's, and the whole transaction rolls back).

The table lock also makes the ids one transaction receives consecutive, so they are returned
as eventsourcing returns them (read from the sequence, not from a RETURNING clause, which COPY
does not have).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

_COLUMN_TYPES = ("uuid", "int8", "text", "bytea")


class CopyingPostgresProcessRecorder(PostgresProcessRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(events_table_name))
        self._copy_rows = SQL(
            "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(table)
        self._last_id = SQL("SELECT currval(pg_get_serial_sequence({}, 'notification_id'))").format(
            Literal(f'"{datastore.schema}"."{events_table_name}"')
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as cursor,
        ):
            if tracking is not None:
                self._insert_tracking(cursor, tracking)
            if not stored_events:
                return []
            self._lock_table(cursor)
            self._notify_channel(cursor)
            with cursor.copy(self._copy_rows) as copy:
                copy.set_types(_COLUMN_TYPES)
                for row in stored_events:
                    copy.write_row(
                        (row.originator_id, row.originator_version, row.topic, row.state)
                    )
            found = cursor.execute(self._last_id).fetchone()
            assert found is not None
            last = int(next(iter(found.values())))
        return list(range(last - len(stored_events) + 1, last + 1))
