"""Crypto-shredding, retention and KEK rotation on the real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry
from hub.erasure import NotPermittedError
from hub.ingest import InboundMessage
from hub.key_check import CHECK_SCOPE, KeysDoNotMatchStoreError
from hub.key_rotation import rotate_kek
from hub.settings import HubSettings
from tests.factories import VALID_NHS_NUMBER, event_dict, nhs_number, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
CHILD = ChildRef(nhs_number=VALID_NHS_NUMBER)
SIBLING = ChildRef(nhs_number=nhs_number(3))
LA = {"id": "shire-county-council", "type": "local-authority"}


def message(
    position: int, event_id: str, days_ago: float, child: ChildRef = CHILD, **fields: Any
) -> InboundMessage:
    document = event_dict(
        event_id=event_id,
        agency=LA,
        child=child.model_dump(exclude_none=True),
        kind=fields.pop("kind", "la.contact"),
        occurred_at=(NOW - timedelta(days=days_ago)).isoformat(),
        recorded_at=(NOW - timedelta(days=days_ago - 0.01)).isoformat(),
        details=fields.pop("details", {}),
        **fields,
    )
    return InboundMessage(
        "inbox:shire-county-council/x", position, json.dumps(document).encode(), LA["id"]
    )


@pytest.fixture
def erasable(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    hub.ingest.ingest(
        [
            message(1, "S47", 5, kind="la.s47-enquiry-started"),
            message(
                2,
                "C1",
                4,
                household_ref="FAM-9",
                withheld_from=[
                    {
                        "role": "school-designated-safeguarding-lead",
                        "reason": "new address",
                        "decided_by": "TM",
                        "review_by": "2030-01-01",
                    }
                ],
            ),
            message(3, "S47-SIB", 5, child=SIBLING, kind="la.s47-enquiry-started"),
            message(4, "C2", 4, child=SIBLING, household_ref="FAM-9"),
        ]
    )
    yield hub
    hub.close()


def test_shredding_erases_every_read_path_but_keeps_the_log(erasable: Hub) -> None:
    hub = erasable
    before = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert before.outcome == "disclosed" and len(before.entries) == 2
    rows_before = hub.store.recorder.max_notification_id()
    with pytest.raises(NotPermittedError):
        hub.erasure.erase_child("lcpp-0001", CHILD, "asked to")

    erasure = hub.erasure.erase_child("dpo-0001", CHILD, "retention period ended")
    assert erasure.streams == [hub.gate.child_stream(CHILD)]

    view = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert (view.outcome, view.entries) == ("erased", [])
    assert view.denied_reasons == [f"this child's record was erased on {NOW:%Y-%m-%d}"]
    sar = hub.audit_queries.subject_access("dpo-0001", CHILD)
    assert sar["records"] == [] and sar["disclosed_to"][0]["organisation"] == "shire-county-council"
    withheld = hub.audit_queries.withheld("dpo-0001").rows
    assert [(r["ref"], r["erased"], r["withheld_from"]) for r in withheld] == [
        ("shire-county-council/C1@1", True, None)
    ]
    sibling = hub.gate.view(SIBLING, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert sibling.outcome == "disclosed"
    assert sibling.households["shire-county-council/FAM-9"]["siblings"] == []  # forgotten

    # The log is intact: same rows, and the erased child's rows cannot be opened.
    assert hub.store.recorder.max_notification_id() == rows_before
    assert hub.projection.rebuild() == 2  # only the sibling's entries fold again
    again = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert again.outcome == "erased"  # rebuilding resurrects nothing


def test_a_new_event_after_erasure_starts_a_new_record(erasable: Hub) -> None:
    hub = erasable
    hub.erasure.erase_child("dpo-0001", CHILD, "erasure request upheld")
    hub.ingest.ingest([message(5, "S47-NEW", 1, kind="la.s47-enquiry-started")])
    view = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert [e.ref for e in view.entries] == ["shire-county-council/S47-NEW@1"]
    assert view.notes == [f"an earlier record for this child was erased on {NOW:%Y-%m-%d}"]


def test_retention_dry_run_then_apply(erasable: Hub) -> None:
    hub = erasable
    hub.ingest.ingest([message(6, "OLD", 9000, child=ChildRef(nhs_number=nhs_number(5)))])
    due = hub.erasure.retention_due(years_after_last_event=20)
    assert [c.child_stream for c in due] == [
        hub.gate.child_stream(ChildRef(nhs_number=nhs_number(5)))
    ]
    assert hub.erasure.retention_due(years_after_last_event=30) == []
    erased = hub.erasure.apply_retention("dpo-0001", years_after_last_event=20)
    assert [e.reason for e in erased] == ["retention: 20 years after the last event"]
    assert hub.erasure.retention_due(years_after_last_event=20) == []
    assert (
        hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome == "disclosed"
    )


def test_restoring_an_event_store_backup_from_before_a_shred_does_not_bring_the_child_back(
    sqlite_settings: HubSettings, tmp_path: Path
) -> None:
    settings = sqlite_settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH})
    hub = bootstrap(settings)
    register_agencies(hub)
    hub.ingest.ingest([message(1, "S47", 5, kind="la.s47-enquiry-started"), message(2, "C1", 4)])
    assert (
        hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome == "disclosed"
    )
    hub.close()
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in ("events.sqlite", "chronology.sqlite", "audit.sqlite"):
        for path in settings.data_dir.glob(f"{name}*"):
            shutil.copy2(path, backup / path.name)

    hub = bootstrap(settings)

    register_agencies(hub)
    hub.erasure.erase_child("dpo-0001", CHILD, "retention period ended")
    hub.close()
    for name in ("events.sqlite", "chronology.sqlite", "audit.sqlite"):
        for path in settings.data_dir.glob(f"{name}*"):  # a restore replaces the whole file set
            path.unlink()
    for path in backup.iterdir():  # restore the event store, projection and audit; keep keys
        shutil.copy2(path, settings.data_dir / path.name)

    hub = bootstrap(settings)

    register_agencies(hub)
    view = hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert (view.outcome, view.entries) == ("erased", [])
    assert hub.projection.rebuild() == 0
    assert hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome == "erased"
    hub.close()


def test_kek_rotation_rewraps_every_data_key_while_serving(erasable: Hub) -> None:
    hub = erasable
    provider = hub.keyring.keks
    old = provider.active_kek_ids()  # type: ignore[attr-defined]
    reads: list[str] = []

    def read_during_rotation(done: int) -> None:
        reads.append(hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome)

    keys_before = hub.key_store.count()
    report = rotate_kek(hub.keyring, progress=read_during_rotation)
    assert report.retired == old and report.new_kek not in old
    assert report.rewrapped == keys_before
    assert reads and set(reads) == {"disclosed"}
    assert provider.active_kek_ids() == [report.new_kek]  # type: ignore[attr-defined]
    assert not any((hub.settings.keys_path / "kek" / f"{k}.kek").exists() for k in old)
    assert hub.key_store.wrapped_under_other_keks(report.new_kek, 10) == []

    fresh = bootstrap(hub.settings)  # a new process, new KEK only

    register_agencies(fresh)
    view = fresh.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.outcome == "disclosed" and len(view.entries) == 2
    assert len(list(fresh.store.records(ChildRecordEntry))) == 4
    fresh.close()


def test_a_hub_refuses_to_start_on_a_store_its_keys_do_not_belong_to(
    settings: HubSettings, tmp_path: Path
) -> None:
    """Fresh keys pointed at a store holding another hub's data: before, ingest wrote into it
    (under other pseudonyms) and later commands failed to write the audit ledger. Now the hub
    says so and refuses to start, for its own store and for one from before the check."""
    first = bootstrap(settings)
    register_agencies(first)
    first.ingest.ingest([message(1, "REF-1", 3)])
    first.close()
    assert bootstrap(settings).close() is None  # its own keys: starts again

    bootstrap(HubSettings(data_dir=tmp_path / "other")).close()  # another hub's keys
    shutil.copytree(tmp_path / "other" / "keys", tmp_path / "other-keys")
    wrong = settings.model_copy(update={"keys_dir": tmp_path / "other-keys"})
    with pytest.raises(KeysDoNotMatchStoreError, match="is not the one the store") as refused:
        bootstrap(wrong)
    assert "Nothing was read or written" in str(refused.value)

    # A store written before the check: the check is made from its rows, then recorded.
    forget_check(settings)
    with pytest.raises(KeysDoNotMatchStoreError):
        bootstrap(wrong)
    forget_check(settings)
    bootstrap(settings).close()  # the right keys pass and record the check
    with pytest.raises(KeysDoNotMatchStoreError):
        bootstrap(wrong)


def forget_check(settings: HubSettings) -> None:
    """Remove the key check, as a store from before it has none."""
    if settings.store == "sqlite":
        with sqlite3.connect(settings.data_dir / "keys.sqlite") as db:
            db.execute("DELETE FROM data_keys WHERE scope = ?", (CHECK_SCOPE,))
        return
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as db:
        db.execute(
            SQL("DELETE FROM {}.hub_data_keys WHERE scope = %s").format(
                Identifier(settings.postgres_schema)
            ),
            (CHECK_SCOPE,),
        )
