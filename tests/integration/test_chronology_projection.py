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
