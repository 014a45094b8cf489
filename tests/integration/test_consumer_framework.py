"""The consumer framework on the real store (SQLite and PostgreSQL): exactly-once folding,
bad entries recorded and skipped, erased children skipped, rebuilds, status."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.framework import ConsumerRunner, ConsumerState, Documents, child_document
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_dict, nhs_number, register_agencies

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class CountingConsumer:
    """Counts entries per agency type and per child; fails on `la.fgdm` entries; records
    each pass's `act` under a kept name."""

    name = "counting"
    description = "counts entries (test)"
    kept_on_rebuild = ("acted:",)

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        counts = documents.get("counts") or {}
        kind = entry.body["agency"]["type"]
        counts[kind] = counts.get(kind, 0) + 1
        documents.put("counts", counts)
        name = child_document(entry.originator_id.hex)
        child = documents.get(name) or {"entries": 0}
        child["entries"] += 1
        documents.put(name, child)
        if entry.body["kind"] == "la.fgdm":
            raise ValueError("cannot handle this entry")

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        documents.put(f"acted:{len(documents.names('acted:'))}", {"at": now.isoformat()})
        commit()

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        return {"counts": documents.get("counts") or {}}


def publish(hub: Hub, agency: dict[str, str], kinds: list[str], child: int = 0) -> None:
    source = f"inbox:{agency['id']}/t"
    start = (hub.store.position(source) or 0) + 1
    hub.ingest.ingest(
        [
            InboundMessage(
                source,
                start + i,
                json.dumps(
                    event_dict(
                        event_id=f"E-{child}-{start + i}",
                        agency=agency,
                        child={"nhs_number": nhs_number(child)},
                        kind=kind,
                        details={},
                    )
                ).encode(),
                agency["id"],
            )
            for i, kind in enumerate(kinds)
        ]
    )


LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}


def runner(hub: Hub) -> ConsumerRunner:
    table = "consumer_counting"
    if hub.settings.store == "postgres":
        from hub.adapters.chronology_views import PostgresChronologyViewStore

        views: Any = PostgresChronologyViewStore(
            hub.settings.postgres_dsn, hub.settings.postgres_schema, table
        )
    else:
        from hub.adapters.chronology_views import SqliteChronologyViewStore

        views = SqliteChronologyViewStore(hub.settings.data_dir / "counting.sqlite", "documents")
    return ConsumerRunner(
        CountingConsumer(),
        hub.store,
        ConsumerState("counting", views, hub.keyring),
        lambda: NOW,
    )


@pytest.fixture
def framework_hub(settings: HubSettings) -> Any:
    settings.directory = SAMPLE_DIRECTORY_PATH
    hub = bootstrap(settings)
    register_agencies(hub)
    yield hub
    hub.close()


def test_each_entry_is_folded_once_however_often_it_runs(framework_hub: Hub) -> None:
    publish(framework_hub, LA, ["la.contact", "la.contact"], child=1)
    publish(framework_hub, POLICE, ["police.household-arrest"], child=2)
    r = runner(framework_hub)
    assert r.run_once().processed == 3
    assert r.run_once().processed == 0
    publish(framework_hub, LA, ["la.contact"], child=1)
    assert r.run_once().processed == 1
    status = r.status()
    assert status.details["counts"] == {"local-authority": 3, "police": 1}
    assert (status.lag, status.errors) == (0, 0)
    assert status.position == framework_hub.store.recorder.max_notification_id()


def test_an_interrupted_page_is_folded_again_not_twice(
    framework_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(framework_hub, LA, ["la.contact"] * 5, child=1)
    r = runner(framework_hub)

    def die(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as patched:
        patched.setattr(ConsumerState, "commit", die)
        with pytest.raises(RuntimeError):
            r.run_once()
    assert r.state.position() == 0
    r.run_once()
    assert r.status().details["counts"] == {"local-authority": 5}


def test_a_bad_entry_is_recorded_and_skipped_without_stopping_the_consumer(
    framework_hub: Hub,
) -> None:
    publish(framework_hub, LA, ["la.contact", "la.fgdm", "la.contact"], child=1)
    r = runner(framework_hub)
    report = r.run_once()
    assert (report.processed, report.errors) == (2, 1)
    status = r.status()
    # The failing entry's changes are discarded with it: only the two good entries count.
    assert status.details["counts"] == {"local-authority": 2}
    assert status.errors == 1 and status.last_error is not None
    assert status.last_error["error"] == "ValueError" and status.lag == 0
    assert r.run_once().errors == 0  # not retried in a loop


def test_rebuild_refolds_derived_state_and_keeps_recorded_effects(framework_hub: Hub) -> None:
    publish(framework_hub, LA, ["la.contact"] * 3, child=1)
    r = runner(framework_hub)
    r.run_once()
    r.run_once()
    assert len(r.documents().names("acted:")) == 2
    report = r.rebuild()
    assert report.processed == 3
    assert r.status().details["counts"] == {"local-authority": 3}
    assert len(r.documents().names("acted:")) == 3  # kept, plus the rebuild's own pass


def test_an_erased_childs_entries_and_documents_are_gone_for_the_consumer(
    framework_hub: Hub,
) -> None:
    publish(framework_hub, LA, ["la.contact"] * 2, child=1)
    publish(framework_hub, LA, ["la.contact"], child=2)
    r = runner(framework_hub)
    r.run_once()
    erased = framework_hub.pseudonyms.child_stream(ChildRef(nhs_number=nhs_number(1))).hex
    assert r.documents().get(child_document(erased)) == {"entries": 2}
    framework_hub.erasure.erase_child(
        "dpo-0001", ChildRef(nhs_number=nhs_number(1)), "erasure request upheld"
    )
    assert r.documents().get(child_document(erased)) is None
    report = r.rebuild()
    assert (report.processed, report.skipped_erased) == (1, 2)
    assert r.status().details["counts"] == {"local-authority": 1}
