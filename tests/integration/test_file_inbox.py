"""The file inbox transport against a real SQLite/PostgreSQL store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.bootstrap import Hub
from hub.reports.operations import quarantined_messages, store_status
from hub.transports.inbox import FileInbox, write_inbox_file
from tests.factories import event_bytes


def test_drains_each_agency_directory_and_resumes_by_line(hub: Hub, tmp_path: Path) -> None:
    inbox_dir = tmp_path / "inbox"
    write_inbox_file(
        inbox_dir,
        "shire-county-council",
        "day1",
        [event_bytes(event_id=f"L-{i}") for i in range(5)],
    )
    inbox = FileInbox(inbox_dir)
    first = inbox.drain(hub.ingest, batch_size=2)
    assert [o.accepted for o in first] == [2, 2, 1]
    assert hub.store.position("inbox:shire-county-council/day1.jsonl") == 5

    # The agency appends to the file; a half-written last line is left for later.
    path = inbox_dir / "shire-county-council" / "day1.jsonl"
    with path.open("ab") as handle:
        handle.write(event_bytes(event_id="L-5") + b"\n\n" + event_bytes(event_id="L-6")[:40])
    second = inbox.drain(hub.ingest, batch_size=100)
    assert [o.accepted for o in second] == [1]
    assert hub.store.position("inbox:shire-county-council/day1.jsonl") == 6
    assert inbox.drain(hub.ingest, batch_size=100) == []
    assert store_status(hub.store, "t").events == 6


def test_a_line_claiming_another_agency_is_quarantined(hub: Hub, tmp_path: Path) -> None:
    inbox_dir = tmp_path / "inbox"
    police_claim = event_bytes(
        event_id="Z-1",
        agency={"id": "shire-constabulary", "type": "police"},
        kind="police.nrm-referral",
        details={},
    )
    write_inbox_file(inbox_dir, "school-100001", "log", [police_claim])
    FileInbox(inbox_dir).drain(hub.ingest, batch_size=10)
    (item,) = quarantined_messages(hub.store)
    assert (item.source, item.position, item.reason_code) == (
        "inbox:school-100001/log.jsonl",
        1,
        "wrong-agency",
    )


def test_an_unregistered_agency_or_a_false_agency_type_is_quarantined_with_its_own_reason(
    hub: Hub, tmp_path: Path
) -> None:
    """The register is authoritative on the inbox too: a directory named after an agency the
    hub does not know, and a school's line declaring it is a local authority, go to
    quarantine (the raw bytes kept), each with a code that says which."""
    inbox_dir = tmp_path / "inbox"
    write_inbox_file(
        inbox_dir,
        "rogue-council",
        "log",
        [event_bytes(event_id="R-1", agency={"id": "rogue-council", "type": "local-authority"})],
    )
    as_council = event_bytes(
        event_id="S-1",
        agency={"id": "school-100001", "type": "local-authority"},
        kind="la.s47-enquiry-started",
        details={},
    )
    write_inbox_file(inbox_dir, "school-100001", "log", [as_council])
    FileInbox(inbox_dir).drain(hub.ingest, batch_size=10)
    assert sorted((i.source, i.reason_code) for i in quarantined_messages(hub.store)) == [
        ("inbox:rogue-council/log.jsonl", "unregistered-agency"),
        ("inbox:school-100001/log.jsonl", "wrong-agency-type"),
    ]
    assert store_status(hub.store, "t").events == 0


def test_inbox_files_are_append_only(tmp_path: Path) -> None:
    write_inbox_file(tmp_path, "shire-icb", "batch", [b"{}"])
    with pytest.raises(FileExistsError, match="append-only"):
        write_inbox_file(tmp_path, "shire-icb", "batch", [b"{}"])
