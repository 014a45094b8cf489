"""Ingest into the real store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.identity import issue_provisional_id
from hub.domain.records import ChildRecordEntry, MessageQuarantined
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.reports.operations import quarantined_messages, store_status
from hub.settings import HubSettings
from tests.conftest import POSTGRES_DSN
from tests.factories import VALID_NHS_NUMBER, event_bytes, nhs_number, register_agencies

SOURCE = "inbox:shire-county-council/export.jsonl"
OWNER = "shire-county-council"


def messages(*values: bytes, start: int = 1, source: str = SOURCE) -> list[InboundMessage]:
    return [InboundMessage(source, start + i, v, OWNER) for i, v in enumerate(values)]


def test_counts_reconcile_and_duplicates_are_no_ops(hub: Hub) -> None:
    batch = messages(
        event_bytes(event_id="A-1"),
        event_bytes(event_id="A-2", child={"nhs_number": nhs_number(1)}),
        event_bytes(event_id="A-1"),  # the same publication again
        b"{not json",
        event_bytes(
            event_id="A-3",
            agency={"id": "shire-constabulary", "type": "police"},
            kind="police.nrm-referral",
            details={},
        ),
    )
    outcome = hub.ingest.ingest(batch)
    assert (outcome.accepted, outcome.duplicates, dict(outcome.quarantined)) == (
        2,
        1,
        {"malformed-json": 1, "wrong-agency": 1},
    )
    assert outcome.consumed == len(batch)

    again = hub.ingest.ingest(
        messages(
            event_bytes(event_id="A-1"),
            event_bytes(event_id="A-2", child={"nhs_number": nhs_number(1)}),
            start=6,
        )
    )
    assert (again.accepted, again.duplicates) == (0, 2)

    status = store_status(hub.store, "test")
    assert (status.events, status.children, status.duplicates, status.quarantined) == (2, 2, 3, 2)
    (source,) = status.sources
    assert (source.position, source.consumed) == (7, 7)
    assert source.consumed == source.accepted + source.duplicates + source.quarantined


def test_corrections_are_new_entries_and_conflicting_resends_are_quarantined(hub: Hub) -> None:
    hub.ingest.ingest(messages(event_bytes(event_id="B-1", summary="first")))
    outcome = hub.ingest.ingest(
        messages(
            event_bytes(event_id="B-1", revision=2, summary="corrected"),
            event_bytes(event_id="B-1", revision=1, summary="first, edited in place"),
            start=2,
        )
    )
    assert (outcome.accepted, dict(outcome.quarantined)) == (1, {"conflicting-duplicate": 1})
    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    entries = hub.store.stream(stream)
    assert [
        (e.originator_version, e.body["revision"], e.body["summary"])
        for e in entries
        if isinstance(e, ChildRecordEntry)
    ] == [
        (1, 1, "first"),
        (2, 2, "corrected"),
    ]
    (item,) = quarantined_messages(hub.store)
    assert item.reason == (
        "the agency already published this event_id and revision with different content; "
        "publish a correction as a new revision"
    )
    assert json.loads(item.raw)["summary"] == "first, edited in place"


def test_quarantine_keeps_raw_bytes_position_and_reason(hub: Hub) -> None:
    raw = b"\xff\xfe broken"
    hub.ingest.ingest(messages(raw, start=41))
    (item,) = quarantined_messages(hub.store)
    assert (item.source, item.position, item.raw, item.reason_code) == (
        SOURCE,
        41,
        raw,
        "invalid-utf8",
    )


def test_restart_resumes_after_last_committed_position(settings: HubSettings) -> None:
    first = bootstrap(settings)
    register_agencies(first)
    first.ingest.ingest(messages(*(event_bytes(event_id=f"C-{i}") for i in range(1, 6))))
    first.close()

    second = bootstrap(settings)

    register_agencies(second)
    assert second.ingest.resume_after(SOURCE) == 5
    replayed = second.ingest.ingest(
        messages(*(event_bytes(event_id=f"C-{i}") for i in range(1, 9)))
    )
    assert (replayed.skipped_already_recorded, replayed.accepted, replayed.duplicates) == (5, 3, 0)
    assert store_status(second.store, "t").events == 8
    second.close()


def test_events_and_position_commit_together(hub: Hub) -> None:
    """If the commit fails, neither the events nor the position move."""
    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    hub.ingest.ingest(messages(event_bytes(event_id="D-1")))
    original_append = hub.store.append
    calls = 0

    def failing_append(records, tracking):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        # Simulate a competing writer taking the child's next version first, on every try.
        competitor = ChildRecordEntry(
            originator_id=stream,
            originator_version=hub.store.last_version(stream) + 1,
            timestamp=records[0].timestamp,
            entry_type="agency-event",
            body={},
            source="other",
            position=calls,
        )
        hub.store.events.put([competitor])
        original_append(records, tracking)

    hub.store.append = failing_append  # type: ignore[method-assign]
    with pytest.raises(IntegrityError):
        hub.ingest.ingest(messages(event_bytes(event_id="D-2"), start=2))
    hub.store.append = original_append  # type: ignore[method-assign]
    assert hub.store.position(SOURCE) == 1
    assert calls == 3  # retried with fresh versions each time
    outcome = hub.ingest.ingest(messages(event_bytes(event_id="D-2"), start=2))
    assert outcome.accepted == 1 and hub.store.position(SOURCE) == 2


def test_provisional_ids_must_be_issued_and_links_reach_the_nhs_stream(hub: Hub) -> None:
    unknown = issue_provisional_id()  # valid check character, but never issued by this hub
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(OWNER)
    outcome = hub.ingest.ingest(
        messages(
            event_bytes(
                event_id="P-1", child={"provisional_id": unknown}, kind="la.contact", details={}
            ),
            event_bytes(
                event_id="P-2", child={"provisional_id": provisional}, kind="la.contact", details={}
            ),
            event_bytes(
                event_id="P-3",
                child={"provisional_id": provisional},
                kind="identity.linked",
                details={"nhs_number": VALID_NHS_NUMBER},
            ),
        )
    )
    assert (outcome.accepted, dict(outcome.quarantined)) == (2, {"unknown-provisional-id": 1})
    provisional_stream = hub.pseudonyms.child_stream(ChildRef(provisional_id=provisional))
    nhs_stream = hub.pseudonyms.nhs_stream(VALID_NHS_NUMBER)
    assert [e.entry_type for e in hub.store.stream(provisional_stream)] == [  # type: ignore[attr-defined]
        "provisional-id-issued",
        "agency-event",
        "agency-event",
    ]
    (link,) = hub.store.stream(nhs_stream)
    assert isinstance(link, ChildRecordEntry) and link.entry_type == "identity-linked"
    assert link.body["provisional_stream"] == provisional_stream.hex


def _raw_store_bytes(hub: Hub) -> bytes:
    """Everything the store's database holds, as bytes, read past the application."""
    if hub.settings.store == "sqlite":
        return b"".join(p.read_bytes() for p in sorted(hub.settings.data_dir.glob("*.sqlite*")))
    schema = hub.settings.postgres_schema
    chunks = []
    with psycopg.connect(POSTGRES_DSN) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                for value in row:
                    chunks.append(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
    return b"\x00".join(chunks)


def test_store_holds_no_nhs_number_summary_or_kind_in_clear(hub: Hub) -> None:
    secret_summary = "Disclosure of injuries by Kestrel-Lane-unique-phrase"
    hub.ingest.ingest(
        messages(
            event_bytes(
                event_id="E-1", summary=secret_summary, kind="la.s47-enquiry-started", details={}
            ),
            b'{"child": {"nhs_number": "9434765919"}, "summary": "Kestrel-Lane-quarantined-text"',
        )
    )
    IdentityService(hub.store, hub.pseudonyms).issue_provisional(OWNER)
    hub.store.close()
    raw = _raw_store_bytes(hub)
    assert len(raw) > 1000
    for needle in (
        VALID_NHS_NUMBER,
        "943 476 5919",
        "Kestrel-Lane",
        "s47",
        "la.",
        "referral",
        "PRV-",
        "shire-county-council\x1f",
    ):
        assert needle.encode() not in raw, needle
    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    assert stream.hex.encode() in raw or str(UUID(stream.hex)).encode() in raw
    assert MessageQuarantined.__name__.encode() in raw  # topics are generic class names
