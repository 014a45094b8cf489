"""The event store's PostgreSQL recorder writes a batch with COPY, keeping eventsourcing's
guarantees: rows and transport position in one transaction, notification ids in commit order
and returned, a duplicate refusing the whole batch. Real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from hub.adapters.postgres_recorder import CopyingPostgresProcessRecorder
from hub.adapters.sql import CopyRows, PostgresSchema
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from tests.conftest import POSTGRES_DSN

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_hub(tmp_path: Path, postgres_schema: str) -> Iterator[Hub]:
    hub = bootstrap(
        HubSettings(
            data_dir=tmp_path,
            store="postgres",
            postgres_dsn=POSTGRES_DSN,
            postgres_schema=postgres_schema,
        )
    )
    yield hub
    hub.close()


def rows(count: int, stream: uuid.UUID | None = None) -> list[StoredEvent]:
    stream = stream or uuid.uuid4()
    return [StoredEvent(stream, v, "tests:Row", f"state {v}".encode()) for v in range(1, count + 1)]


def stored(schema: str) -> list[tuple[int, uuid.UUID, int, bytes]]:
    with psycopg.connect(POSTGRES_DSN) as db:
        found = db.execute(
            f"SELECT notification_id, originator_id, originator_version, state "
            f'FROM "{schema}".hub_events ORDER BY notification_id'
        ).fetchall()
    return [(int(n), o, int(v), bytes(s)) for n, o, v, s in found]


def test_the_event_store_writes_with_copy(pg_hub: Hub) -> None:
    assert isinstance(pg_hub.store.recorder, CopyingPostgresProcessRecorder)


def test_rows_and_position_commit_together_with_their_ids(
    pg_hub: Hub, postgres_schema: str
) -> None:
    recorder = pg_hub.store.process_recorder
    before = stored(postgres_schema)
    first = rows(3)
    ids = recorder.insert_events(first, tracking=Tracking("kafka:t:0", 7))
    second = rows(2)
    more = recorder.insert_events(second, tracking=Tracking("kafka:t:0", 9))

    after = stored(postgres_schema)[len(before) :]
    assert [n for n, *_ in after] == list(ids or []) + list(more or [])
    assert [(o, v, s) for _, o, v, s in after] == [
        (r.originator_id, r.originator_version, r.state) for r in first + second
    ]
    assert recorder.max_tracking_id("kafka:t:0") == 9
    # Read back through eventsourcing as any reader does.
    notifications = recorder.select_notifications(start=after[0][0], limit=10)
    assert [n.id for n in notifications] == [n for n, *_ in after]


def test_a_duplicate_row_refuses_the_whole_batch_and_its_position(
    pg_hub: Hub, postgres_schema: str
) -> None:
    recorder = pg_hub.store.process_recorder
    stream = uuid.uuid4()
    recorder.insert_events(rows(1, stream), tracking=Tracking("inbox:a/f", 1))
    before = stored(postgres_schema)

    with pytest.raises(IntegrityError):
        recorder.insert_events(
            [*rows(2), *rows(1, stream)],  # version 1 of `stream` again, after two fresh rows
            tracking=Tracking("inbox:a/f", 3),
        )

    assert stored(postgres_schema) == before
    assert recorder.max_tracking_id("inbox:a/f") == 1


def test_a_position_already_recorded_refuses_the_batch(pg_hub: Hub, postgres_schema: str) -> None:
    """Two workers given the same partition: the second to commit offset 5 records nothing."""
    recorder = pg_hub.store.process_recorder
    recorder.insert_events(rows(2), tracking=Tracking("kafka:t:1", 5))
    before = stored(postgres_schema)
    with pytest.raises(IntegrityError):
        recorder.insert_events(rows(2), tracking=Tracking("kafka:t:1", 5))
    assert stored(postgres_schema) == before


def test_the_hub_tables_copy_rows_in_the_same_transaction_as_their_other_statements(
    postgres_schema: str,
) -> None:
    """`PostgresSchema.run` with `CopyRows` (the Merkle index's leaves): the copied rows and
    the statements after them commit together, or not at all."""
    tables = PostgresSchema(POSTGRES_DSN, postgres_schema)
    tables.run(
        [
            ('CREATE TABLE "{s}".copied (n bigint PRIMARY KEY, b bytea)', ()),
            ('CREATE TABLE "{s}".marker (done boolean)', ()),
        ]
    )
    copied = CopyRows('"{s}".copied', ("n", "b"), ("int8", "bytea"), [(1, b"a"), (2, b"b")])
    tables.run([copied, ('INSERT INTO "{s}".marker VALUES (%s)', (True,))])
    again = CopyRows('"{s}".copied', ("n", "b"), ("int8", "bytea"), [(3, b"c"), (1, b"x")])
    with pytest.raises(psycopg.errors.UniqueViolation):
        tables.run([again, ('INSERT INTO "{s}".marker VALUES (%s)', (True,))])
    assert tables.run([('SELECT n, b FROM "{s}".copied ORDER BY n', ())]) == [
        (1, b"a"),
        (2, b"b"),
    ]
    assert tables.run([('SELECT count(*) FROM "{s}".marker', ())]) == [(1,)]
