"""The audit ledger keeps the records it has decoded (a DPO's "who saw child X" reads a busy
child's stream whole, every time), but reuses one only while its stored row is byte-for-byte
the one it was decoded from: a row changed after it was read is opened again, and fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.adapters.envelope import SealedRowError
from hub.bootstrap import bootstrap
from hub.domain.canonical_event import ChildRef
from hub.settings import HubSettings

ROW = "WHERE originator_id = ? AND originator_version = 2"


def test_a_row_changed_after_it_was_read_is_opened_again(tmp_path: Path) -> None:
    from hub.adapters.directory import SAMPLE_DIRECTORY_PATH

    hub = bootstrap(HubSettings(data_dir=tmp_path / "hub", directory=SAMPLE_DIRECTORY_PATH))
    try:
        dpo = hub.gate.practitioner("dpo-0001")
        child = hub.gate.child_stream(ChildRef(nhs_number="9434765919"))
        for _ in range(3):
            hub.gate.record_query(dpo, "who-saw-child", "answered", child)
        first = hub.audit.for_child(child)
        assert [r.originator_version for r in first] == [1, 2, 3]
        again = hub.audit.for_child(child)
        assert all(a is b for a, b in zip(first, again, strict=True))  # taken from the cache

        stream = hub.audit.child_stream(child).hex
        with sqlite3.connect(tmp_path / "hub" / "audit.sqlite") as db:
            (state,) = db.execute(f"SELECT state FROM stored_events {ROW}", (stream,)).fetchone()
            changed = state[:-1] + bytes([state[-1] ^ 1])
            db.execute(f"UPDATE stored_events SET state = ? {ROW}", (changed, stream))
        with pytest.raises(SealedRowError):
            hub.audit.for_child(child)
    finally:
        hub.close()
