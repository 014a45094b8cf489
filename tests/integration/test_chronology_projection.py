"""The chronology projection on the real store: chunking, tracking, rebuild."""

from __future__ import annotations

import pytest

import hub.read_models.chronology_projection as projection_module
from hub.adapters.chronology_views import (
    PostgresChronologyViewStore,
    ProjectionConflictError,
    SqliteChronologyViewStore,
)
from hub.bootstrap import Hub
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.read_models.chronology_projection import ChronologyProjection
from tests.factories import VALID_NHS_NUMBER, event_bytes, nhs_number

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
    # Its own tracked position: the log's head when the rebuild read it (past the last entry).
    assert hub.projection.position() == hub.store.recorder.max_notification_id()
    assert hub.projection.position() >= last_entry.id


def test_a_process_that_read_a_stale_position_does_not_fold_entries_twice(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes catching up at once: the slower one read the position before the faster
    one committed. Its fold must be refused (compare-and-set), not applied a second time."""
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


# Rebuild: built beside the live documents in stream order, then swapped in ----------------

ICB_SOURCE = "inbox:shire-icb/prebirth"


def _other_process(hub: Hub) -> ChronologyProjection:
    """The same projection as another process sees it: its own connections, no shared cache."""
    settings = hub.settings
    views = (
        SqliteChronologyViewStore(settings.data_dir / "chronology.sqlite")
        if settings.store == "sqlite"
        else PostgresChronologyViewStore(settings.postgres_dsn, settings.postgres_schema)
    )
    return ChronologyProjection(hub.store, views, hub.keyring, hub.pseudonyms)


def _ingest_children(hub: Hub, children: int, first_position: int = 1) -> list[ChildRef]:
    """Children with 0..250 events each (some over a chunk), every third one in a household
    with the next, and one provisional child linked into the first child's record."""
    refs = [ChildRef(nhs_number=nhs_number(serial)) for serial in range(children)]
    messages = []
    position = first_position
    for serial, child in enumerate(refs):
        for i in range((serial * 37) % 251 + 1):
            fields = {"household_ref": f"FAM-{serial // 3}"} if serial % 3 < 2 else {}
            messages.append(
                InboundMessage(
                    SOURCE,
                    position,
                    event_bytes(
                        event_id=f"E{serial}-{i}",
                        child=child.model_dump(exclude_none=True),
                        occurred_at=f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T09:00:00+00:00",
                        recorded_at=f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T10:00:00+00:00",
                        **fields,
                    ),
                    "shire-county-council",
                )
            )
            position += 1
    hub.ingest.ingest(messages)
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional("shire-icb")
    icb = {"id": "shire-icb", "type": "health"}
    hub.ingest.ingest(
        [
            InboundMessage(
                ICB_SOURCE,
                first_position + i,
                event_bytes(
                    event_id=f"PB-{first_position}-{i}",
                    agency=icb,
                    kind=kind,
                    child={"provisional_id": provisional},
                    details=details,
                ),
                "shire-icb",
            )
            for i, (kind, details) in enumerate(
                [
                    ("health.maternity-pre-birth-concern", {}),
                    ("identity.linked", {"nhs_number": refs[0].nhs_number}),
                ]
            )
        ]
    )
    return refs


def _everything(projection: ChronologyProjection, hub: Hub, refs: list[ChildRef]) -> object:
    """What the projection serves: each child's merged entries, links, household members and
    last activity."""
    projection.clear_cache()
    children = {}
    for child in refs:
        stream = hub.pseudonyms.child_stream(child)
        children[stream.hex] = (
            [(e.ref, e.version, e.received_at) for e in projection.entries(stream)],
            projection.linked_streams(stream),
        )
    households = {
        f"FAM-{n}": projection.household_members("shire-county-council", f"FAM-{n}")
        for n in range(len(refs) // 3 + 1)
    }
    return children, households, sorted(projection.last_activity())


def _followed(hub: Hub, children: int) -> tuple[list[ChildRef], object]:
    """Children ingested and folded by following the log, and what the projection serves."""
    refs = _ingest_children(hub, children)
    hub.projection.catch_up()
    return refs, _everything(hub.projection, hub, refs)


def test_a_rebuild_builds_what_following_the_log_built(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_module, "REBUILD_PAGE", 97)  # streams split across pages
    refs, followed = _followed(hub, 24)
    assert followed[0][hub.pseudonyms.child_stream(refs[0]).hex][1]  # the link is there
    assert len(followed[1]["FAM-0"]) == 2

    folded = hub.projection.rebuild()

    assert folded == len(list(hub.store.notifications(ChildRecordEntry)))  # each entry once
    assert _everything(hub.projection, hub, refs) == followed
    assert _everything(_other_process(hub), hub, refs) == followed


def test_readers_are_served_the_old_documents_until_the_rebuilt_ones_replace_them(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_module, "REBUILD_PAGE", 50)
    refs, followed = _followed(hub, 12)
    reader = _other_process(hub)
    seen_during: list[object] = []

    def meanwhile(progress: projection_module.Progress) -> None:
        if not seen_during:  # partway through: another process reads, and the log grows
            seen_during.append(_everything(reader, hub, refs))
            hub.ingest.ingest(
                [
                    InboundMessage(
                        SOURCE,
                        10_000,
                        event_bytes(event_id="LATE", child={"nhs_number": refs[1].nhs_number}),
                        "shire-county-council",
                    )
                ]
            )
            reader.catch_up()  # the other process follows the log into the live documents

    hub.projection.rebuild(meanwhile)

    assert seen_during == [followed]  # whole chronologies, never a half-built projection
    late = [e.ref for e in hub.projection.entries(hub.pseudonyms.child_stream(refs[1]))]
    assert "shire-county-council/LATE@1" in [str(ref) for ref in late]  # caught up after
    assert _everything(hub.projection, hub, refs) == _everything(reader, hub, refs)


def test_a_child_erased_while_a_rebuild_runs_is_not_in_the_rebuilt_documents(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_module, "REBUILD_PAGE", 40)
    refs, _ = _followed(hub, 6)
    erased = hub.pseudonyms.child_stream(refs[1]).hex  # in household FAM-0 with refs[0]
    kept = hub.pseudonyms.child_stream(refs[0])
    kept_before = hub.projection.entries(kept)
    other = _other_process(hub)
    total = len(list(hub.store.notifications(ChildRecordEntry)))
    forgotten: list[str] = []

    def erase_when_built(progress: projection_module.Progress) -> None:
        # After the last page: the erased child's documents are already in the new set.
        if progress.processed == total and not forgotten:
            forgotten.append(erased)
            other.forget(erased)
            hub.keyring.erase(f"child:{erased}")

    hub.projection.rebuild(erase_when_built)

    assert forgotten
    names = _names(hub.projection)
    assert not [n for n in names if n.split(":")[0] == erased]
    members = hub.projection.household_members("shire-county-council", "FAM-0")
    assert list(members) == [hub.pseudonyms.child_stream(refs[0]).hex]
    assert refs[1].nhs_number not in members.values()
    assert hub.projection.entries(kept) == kept_before  # the sibling's record is untouched


def test_a_rebuild_started_later_takes_over_from_one_still_running(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection_module, "REBUILD_PAGE", 60)
    refs, followed = _followed(hub, 8)
    later = _other_process(hub)
    started: list[int] = []

    def start_another(progress: projection_module.Progress) -> None:
        if not started:
            started.append(later.rebuild())

    with pytest.raises(ProjectionConflictError, match="another rebuild"):
        hub.projection.rebuild(start_another)
    assert started and _everything(hub.projection, hub, refs) == followed


def _names(projection: ChronologyProjection) -> list[str]:
    names: list[str] = []
    while batch := projection._views.names(names[-1] if names else "", 1000):
        names += batch
    return names


def test_a_rebuild_interrupted_midway_leaves_the_live_documents_and_the_next_one_cleans_up(
    hub: Hub,
) -> None:
    refs, followed = _followed(hub, 6)
    crashed = hub.projection._views.begin_rebuild()  # a process killed while building
    crashed.put({"stale-document": b"left over by the killed rebuild"})
    assert _everything(_other_process(hub), hub, refs) == followed  # still served

    hub.projection.rebuild()

    assert _everything(hub.projection, hub, refs) == followed
    assert "stale-document" not in _names(hub.projection)
    with pytest.raises(ProjectionConflictError):
        crashed.put({"late": b"the killed rebuild no longer owns a table"})


def test_a_child_erased_while_another_process_folds_it_is_not_written_back(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process A has decrypted a page holding child X; process B forgets X and erases its key
    before A writes. A's write is refused (X was forgotten since A began), and A folds the
    page again without X: X's household membership (its NHS number) is not written back."""
    refs = _ingest_children(hub, 3)
    erased = hub.pseudonyms.child_stream(refs[1]).hex  # in household FAM-0 with refs[0]
    other = _other_process(hub)
    views = hub.projection._views
    real_put = views.put
    interleaved: list[str] = []

    def put_after_an_erasure(*args: object, **kwargs: object) -> None:
        if kwargs.get("forgotten_mark") is not None and not interleaved:
            interleaved.append(erased)
            other.forget(erased)
            hub.keyring.erase(f"child:{erased}")
        real_put(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(views, "put", put_after_an_erasure)
    hub.projection.catch_up()

    assert interleaved
    assert not [n for n in _names(hub.projection) if n.split(":")[0] == erased]
    members = hub.projection.household_members("shire-county-council", "FAM-0")
    assert list(members) == [hub.pseudonyms.child_stream(refs[0]).hex]
