"""Two ingest workers append to the same child's stream (its agencies' topics fall to
different workers). A batch numbered from heads another worker has since moved is committed
with its entries moved along under the table lock (PostgreSQL), or refused by the primary key
and prepared again (SQLite): either way every event is recorded once, in one gap-free stream,
and each idempotency claim points at its own entry. Real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry, IngestKeyClaimed, with_entries_moved
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import VALID_NHS_NUMBER, event_bytes, register_agencies

LA, POLICE = "shire-county-council", "shire-constabulary"


@pytest.fixture
def workers(settings: HubSettings) -> Iterator[tuple[Hub, Hub]]:
    first = bootstrap(settings)
    register_agencies(first)
    second = bootstrap(settings)  # another process's hub on the same store
    yield first, second
    first.close()
    second.close()


def police_event(number: int) -> bytes:
    return event_bytes(
        event_id=f"P-{number}",
        agency={"id": POLICE, "type": "police"},
        kind="police.home-visit",
        details={"reason": "welfare check", "child_seen": True, "child_spoken_to": True},
    )


def test_a_batch_numbered_before_another_workers_commit_is_recorded_once_in_order(
    workers: tuple[Hub, Hub], settings: HubSettings
) -> None:
    first, second = workers
    stream = first.pseudonyms.child_stream(ChildRef(nhs_number=VALID_NHS_NUMBER))
    first.ingest.ingest([InboundMessage("inbox:la/a", 1, event_bytes(event_id="L-0"), LA)])

    original_append = first.store.append
    calls: list[Any] = []

    def append_after_the_other_worker(*args: Any, **kwargs: Any) -> dict[Any, int]:
        if not calls:  # the other worker commits two entries for the child in between
            second.ingest.ingest(
                [InboundMessage("kafka:police:0", n, police_event(n), POLICE) for n in (0, 1)]
            )
        calls.append(args)
        return original_append(*args, **kwargs)

    first.store.append = append_after_the_other_worker  # type: ignore[method-assign]
    batch = [InboundMessage("inbox:la/a", n, event_bytes(event_id=f"L-{n}"), LA) for n in (2, 3, 4)]
    outcome = first.ingest.ingest(batch)
    first.store.append = original_append  # type: ignore[method-assign]

    assert outcome.accepted == 3
    # PostgreSQL moves the entries along under its lock (one append); SQLite's primary key
    # refuses the stale numbering and the batch is prepared again from fresh heads (two).
    assert len(calls) == (1 if settings.store == "postgres" else 2)
    entries = [r for r in first.store.stream(stream) if isinstance(r, ChildRecordEntry)]
    assert [e.originator_version for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.body["event_id"] for e in entries] == ["L-0", "P-0", "P-1", "L-2", "L-3", "L-4"]
    claims = [r for r in first.store.records(IngestKeyClaimed) if isinstance(r, IngestKeyClaimed)]
    by_version = {e.originator_version: e.body["event_id"] for e in entries}
    assert sorted(by_version[c.child_version] for c in claims) == sorted(by_version.values())
    # The next batch numbers from the moved heads (its cache is right, not stale).
    first.ingest.ingest([InboundMessage("inbox:la/a", 5, event_bytes(event_id="L-5"), LA)])
    versions = [r.originator_version for r in first.store.stream(stream)]
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_entries_moved_along_take_their_claims_with_them() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    now = datetime.now(UTC)
    child, other, claim = uuid4(), uuid4(), uuid4()
    records = [
        ChildRecordEntry(
            originator_id=child,
            originator_version=3,
            timestamp=now,
            entry_type="agency-event",
            body={},
            source="s",
            position=1,
        ),
        IngestKeyClaimed(
            originator_id=claim,
            originator_version=1,
            timestamp=now,
            content_digest="d",
            child_stream=child.hex,
            child_version=3,
        ),
        ChildRecordEntry(
            originator_id=other,
            originator_version=8,
            timestamp=now,
            entry_type="agency-event",
            body={},
            source="s",
            position=2,
        ),
    ]
    moved = with_entries_moved(records, {child: 2})
    assert [getattr(r, "originator_version", None) for r in moved] == [5, 1, 8]
    assert isinstance(moved[1], IngestKeyClaimed) and moved[1].child_version == 5
    assert moved[2] is records[2]  # untouched records are the same objects
