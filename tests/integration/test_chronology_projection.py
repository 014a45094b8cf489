"""The chronology projection on the real store: chunking, tracking, rebuild."""

from __future__ import annotations

import pytest

import hub.chronology_projection as projection_module
from hub.bootstrap import Hub
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from tests.factories import VALID_NHS_NUMBER, event_bytes

SOURCE = "inbox:shire-county-council/big"


def test_a_large_record_is_folded_in_chunks_across_pages_and_reads_back_whole(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_module, "PAGE", 170)  # pages that split batches and chunks
    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    for batch in range(3):
        hub.ingest.ingest(
            [
                InboundMessage(
                    SOURCE,
                    batch * 200 + i + 1,
                    event_bytes(event_id=f"R{batch * 200 + i}"),
                    "shire-county-council",
                )
                for i in range(200)
            ]
        )
        hub.projection.catch_up()  # follow the store as it grows
    entries = hub.projection.entries(stream)
    assert sorted(e.version for e in entries) == list(range(1, 601))
    chunk_size = projection_module.CHUNK
    expected = [f"{stream.hex}:{i}" for i in range(-(-600 // chunk_size))]
    chunks = hub.projection._views.get_many([*expected, f"{stream.hex}:{len(expected)}"])
    assert sorted(chunks) == sorted(expected)  # only the last chunk is partly filled

    before = [(e.ref, e.version) for e in entries]
    assert hub.projection.rebuild() == 600
    assert [(e.ref, e.version) for e in hub.projection.entries(stream)] == before
    last_entry = list(hub.store.notifications(ChildRecordEntry))[-1]
    assert hub.projection.position() == last_entry.id  # its own tracked position


def test_a_process_that_read_a_stale_position_does_not_fold_entries_twice(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes catching up at once: the slower one read the position before the faster
    one committed. Its fold must be refused (compare-and-set), not applied a second time."""
    from hub.adapters.chronology_views import (
        PostgresChronologyViewStore,
        SqliteChronologyViewStore,
    )
    from hub.chronology_projection import ChronologyProjection

    settings = hub.settings
    views = (
        SqliteChronologyViewStore(settings.data_dir / "chronology.sqlite")
        if settings.store == "sqlite"
        else PostgresChronologyViewStore(settings.postgres_dsn, settings.postgres_schema)
    )
    slower = ChronologyProjection(hub.store, views, hub.keyring, hub.pseudonyms)
    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    hub.ingest.ingest(
        [
            InboundMessage(SOURCE, i + 1, event_bytes(event_id=f"P{i}"), "shire-county-council")
            for i in range(30)
        ]
    )
    hub.projection.catch_up()  # the faster process folds everything first

    real_position = views.position
    reads = iter([0])  # the slower process's first read happened before that commit

    def position() -> int:
        stale = next(reads, None)
        return real_position() if stale is None else stale

    monkeypatch.setattr(views, "position", position)
    assert slower.catch_up() == 0  # refused, re-read, nothing left to fold
    assert sorted(e.version for e in hub.projection.entries(stream)) == list(range(1, 31))
