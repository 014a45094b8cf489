"""The event store's SQLite recorder inserts a batch with one executemany, keeping
eventsourcing's guarantees: rows and transport position in one transaction, notification ids
(rowids) returned in order, a duplicate refusing the whole batch. A real SQLite file."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from hub.adapters.sqlite_recorder import BatchedSQLiteProcessRecorder
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[Hub]:
    hub = bootstrap(HubSettings(data_dir=tmp_path))
    yield hub
    hub.close()


def rows(count: int, stream: uuid.UUID | None = None) -> list[StoredEvent]:
    stream = stream or uuid.uuid4()
    return [StoredEvent(stream, v, "tests:Row", f"state {v}".encode()) for v in range(1, count + 1)]


def stored(hub: Hub) -> list[tuple[int, str, int, bytes]]:
    with sqlite3.connect(hub.settings.sqlite_path) as db:
        found = db.execute(
            "SELECT rowid, originator_id, originator_version, state FROM stored_events "
            "ORDER BY rowid"
        ).fetchall()
    return [(int(n), str(o), int(v), bytes(s)) for n, o, v, s in found]


def test_the_event_store_inserts_with_executemany(sqlite_hub: Hub) -> None:
    assert isinstance(sqlite_hub.store.recorder, BatchedSQLiteProcessRecorder)


def test_rows_and_position_commit_together_with_their_ids(sqlite_hub: Hub) -> None:
    recorder = sqlite_hub.store.process_recorder
    before = stored(sqlite_hub)
    first, second = rows(3), rows(2)
    ids = recorder.insert_events(first, tracking=Tracking("inbox:a/f", 7))
    more = recorder.insert_events(second, tracking=Tracking("inbox:a/f", 9))

    after = stored(sqlite_hub)[len(before) :]
    assert [n for n, *_ in after] == list(ids or []) + list(more or [])
    assert [(o, v, s) for _, o, v, s in after] == [
        (r.originator_id.hex, r.originator_version, r.state)  # type: ignore[union-attr]
        for r in first + second
    ]
    assert recorder.max_tracking_id("inbox:a/f") == 9
    notifications = recorder.select_notifications(start=after[0][0], limit=10)
    assert [n.id for n in notifications] == [n for n, *_ in after]


def test_a_duplicate_row_refuses_the_whole_batch_and_its_position(sqlite_hub: Hub) -> None:
    recorder = sqlite_hub.store.process_recorder
    stream = uuid.uuid4()
    recorder.insert_events(rows(1, stream), tracking=Tracking("inbox:a/f", 1))
    before = stored(sqlite_hub)
    with pytest.raises(IntegrityError):
        recorder.insert_events([*rows(2), *rows(1, stream)], tracking=Tracking("inbox:a/f", 3))
    assert stored(sqlite_hub) == before
    assert recorder.max_tracking_id("inbox:a/f") == 1
