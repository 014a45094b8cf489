"""The hub's event store: an `eventsourcing` application over SQLite (embedded default) or
PostgreSQL, with the envelope-encrypting mapper and a process recorder so that events and the
transport position commit in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    Mapper,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder
from eventsourcing.utils import get_topic

from hub.adapters.data_keys import Keyring
from hub.adapters.envelope import EnvelopeMapper
from hub.domain.records import HubRecord

PAGE_SIZE = 500
_IN_CHUNK = 500


class HubStore(Application[UUID]):
    name = "hub"

    def __init__(self, env: dict[str, str], keyring: Keyring) -> None:
        self._keyring = keyring
        super().__init__(env)

    def construct_mapper(self) -> Mapper[UUID]:
        return EnvelopeMapper(self.construct_transcoder(), self._keyring)

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    @property
    def envelope(self) -> EnvelopeMapper:
        assert isinstance(self.mapper, EnvelopeMapper)
        return self.mapper

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def append(self, records: Sequence[HubRecord], tracking: Tracking) -> None:
        """Record `records` and move the transport position, atomically.

        Straight to the recorder (what `events.put` does, without building a `Recording` per
        row that nothing here reads)."""
        self.recorder.insert_events(self.envelope.to_stored_events(records), tracking=tracking)

    def position(self, source: str) -> int | None:
        return self.process_recorder.max_tracking_id(source)

    def last_version(self, stream: UUID) -> int:
        rows = self.recorder.select_events(stream, desc=True, limit=1)
        return rows[0].originator_version if rows else 0

    def heads(self, streams: Iterable[UUID]) -> dict[UUID, int]:
        """The last version of each stream that has one, in one query per chunk."""
        return {
            UUID(str(stream)): int(version)
            for stream, version in self._query_by_streams(
                "SELECT originator_id, MAX(originator_version) FROM {table} "
                "WHERE originator_id IN ({ids}) GROUP BY originator_id",
                streams,
            )
        }

    def first_records(self, streams: Iterable[UUID]) -> dict[UUID, HubRecord]:
        """Version 1 of each stream that has one, decrypted, in one query per chunk."""
        rows = self._query_by_streams(
            "SELECT originator_id, originator_version, topic, state FROM {table} "
            "WHERE originator_id IN ({ids}) AND originator_version = 1",
            streams,
        )
        return {
            UUID(str(row[0])): self._to_record(
                StoredEvent(UUID(str(row[0])), int(row[1]), str(row[2]), bytes(row[3]))
            )
            for row in rows
        }

    def _query_by_streams(self, template: str, streams: Iterable[UUID]) -> list[Sequence[Any]]:
        """Batch look-ups the recorder API only offers one stream at a time (ingest's hot path)."""
        ids = list(dict.fromkeys(streams))
        rows: list[Sequence[Any]] = []
        recorder = self.recorder
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            if isinstance(recorder, SQLiteAggregateRecorder):
                statement = template.format(
                    table=recorder.events_table_name, ids=",".join("?" * len(chunk))
                )
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(statement, [i.hex for i in chunk])
                    rows.extend(tuple(r) for r in cursor.fetchall())
            else:
                from eventsourcing.postgres import PostgresAggregateRecorder  # optional extra

                assert isinstance(recorder, PostgresAggregateRecorder)
                table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
                statement = template.format(table=table, ids=",".join(["%s"] * len(chunk)))
                with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                    cursor.execute(statement.encode(), chunk)
                    rows.extend(tuple(r.values()) for r in cursor.fetchall())
        return rows

    def notifications_by_stream(
        self, topic: str, upto: int, page: int
    ) -> Iterator[list[Notification]]:
        """Every notification of `topic` with id <= `upto`, in pages, ordered by stream and
        version (the recorder's primary key), so that one stream's rows come together: what
        a projection rebuild wants, where the notification order scatters each stream."""
        recorder = self.recorder
        after: tuple[str, int] = ("", 0)
        while True:
            if isinstance(recorder, SQLiteAggregateRecorder):
                statement = (
                    "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
                    f"FROM {recorder.events_table_name} "
                    "WHERE (originator_id, originator_version) > (?, ?) AND topic = ? "
                    "AND rowid <= ? ORDER BY originator_id, originator_version LIMIT ?"
                )
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(statement, (*after, topic, upto, page))
                    rows = [tuple(r) for r in cursor.fetchall()]
            else:
                from eventsourcing.postgres import PostgresAggregateRecorder  # optional extra

                assert isinstance(recorder, PostgresAggregateRecorder)
                table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
                statement = (
                    "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
                    f"FROM {table} WHERE (originator_id, originator_version) > (%s, %s) "
                    "AND topic = %s AND notification_id <= %s "
                    "ORDER BY originator_id, originator_version LIMIT %s"
                )
                first = UUID(after[0]) if after[0] else UUID(int=0)
                with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                    cursor.execute(statement.encode(), (first, after[1], topic, upto, page))
                    rows = [tuple(r.values()) for r in cursor.fetchall()]
            if not rows:
                return
            yield [
                Notification(
                    id=int(row[0]),
                    originator_id=UUID(str(row[1])),
                    originator_version=int(row[2]),
                    topic=str(row[3]),
                    state=bytes(row[4]),
                )
                for row in rows
            ]
            after = (UUID(str(rows[-1][1])).hex, int(rows[-1][2]))

    def stream(self, stream: UUID) -> list[HubRecord]:
        return [self._to_record(row) for row in self.recorder.select_events(stream)]

    def _to_record(self, row: StoredEvent) -> HubRecord:
        record = self.mapper.to_domain_event(row)
        assert isinstance(record, HubRecord)
        return record

    def notifications(self, *record_types: type[HubRecord]) -> Iterator[Notification]:
        """Every stored row of the given types, in recording order, without decrypting."""
        topics = [get_topic(cls) for cls in record_types]
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=PAGE_SIZE, topics=topics)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start = page[-1].id + 1

    def records(self, *record_types: type[HubRecord]) -> Iterator[HubRecord]:
        for notification in self.notifications(*record_types):
            yield self._to_record(notification)
