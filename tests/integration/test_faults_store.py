"""Store faults on real databases (issue 8).

PostgreSQL: the hub's connections are cut by the server (`pg_terminate_backend`) at chosen
points; the hub reconnects, and a disclosure in flight either completes with exactly one audit
entry or is refused with nothing shown. The hub's connections are told apart from everyone
else's (other test runs share the server) by tagging them with libpq's standard `PGAPPNAME`,
which both eventsourcing's pool and the hub's own tables honour.

SQLite: a full disk (a small tmpfs when this process may mount one, otherwise SQLite's own
`max_page_count` on the store files) gives a clear error, no corrupted store, nothing committed
lost, and a re-run once space returns ingests the rest exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.audit_ledger import AuditUnavailableError
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import ChildRecordEntry, DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.conftest import POSTGRES_DSN
from tests.factories import (
    VALID_NHS_NUMBER,
    event_bytes,
    event_days_ago,
    nhs_number,
    register_agencies,
)

NOW = datetime.now(UTC).replace(microsecond=0)
CHILD = ChildRef(nhs_number=VALID_NHS_NUMBER)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}


def _event(
    agency: dict[str, str], event_id: str, kind: str, days_ago: float, **fields: Any
) -> bytes:
    return event_days_ago(NOW, days_ago, event_id=event_id, agency=agency, kind=kind, **fields)


CASE = [
    _event(LA, "S47-1", "la.s47-enquiry-started", 10),
    _event(LA, "CONTACT-1", "la.contact", 9, summary="Contact from neighbour"),
    _event(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        8,
        details={"child_present": True, "police_reference": "OE-42"},
    ),
]


# PostgreSQL: connection cuts ------------------------------------------------------------------


@pytest.fixture
def pg_hub(postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A PostgreSQL hub whose every connection carries this test's own application_name."""
    monkeypatch.setenv("PGAPPNAME", f"hub-fault-{uuid.uuid4().hex[:12]}")
    settings = HubSettings(
        data_dir=tmp_path / "hub",
        store="postgres",
        postgres_dsn=POSTGRES_DSN,
        postgres_schema=postgres_schema,
        directory=SAMPLE_DIRECTORY_PATH,
    )
    hub = bootstrap(settings)
    register_agencies(hub)
    for agency in (LA, POLICE):
        values = [v for v in CASE if json.loads(v)["agency"] == agency]
        hub.ingest.ingest(
            [
                InboundMessage(f"inbox:{agency['id']}/case", i + 1, v, agency["id"])
                for i, v in enumerate(values)
            ]
        )
    yield hub
    hub.close()


def cut_connections() -> int:
    """Terminate every server backend of this test's hub; how many there were."""
    tag = os.environ["PGAPPNAME"]
    with psycopg.connect(POSTGRES_DSN, autocommit=True, application_name="hub-fault-cutter") as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (tag,),
        ).fetchall()
    return len(rows)


def disclosures(hub: Hub) -> list[DisclosureAudited]:
    return [
        r
        for r in hub.audit.for_child(hub.gate.child_stream(CHILD))
        if isinstance(r, DisclosureAudited) and r.action == "view"
    ]


def audit_ref(entry: DisclosureAudited) -> str:
    return f"{entry.originator_id.hex}@{entry.originator_version}"


@pytest.mark.postgres
def test_the_hub_reconnects_after_its_connections_are_cut(pg_hub: Hub) -> None:
    """Every kind of work succeeds on the first try after the server dropped every connection
    the hub held: ingest, a chronology view (audited) and a DPO's audit query."""
    first = pg_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert first.outcome == "disclosed"
    pg_hub.audit_queries.who_saw_child("dpo-0001", CHILD)

    assert cut_connections() > 0
    result = pg_hub.ingest.ingest(
        [
            InboundMessage(
                f"inbox:{LA['id']}/case", 10, _event(LA, "CONTACT-2", "la.contact", 5), LA["id"]
            )
        ]
    )
    assert (result.accepted, sum(result.quarantined.values())) == (1, 0)

    assert cut_connections() > 0
    view = pg_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert "shire-county-council/CONTACT-2@1" in {e.ref for e in view.entries}

    assert cut_connections() > 0
    rows = pg_hub.audit_queries.who_saw_child("dpo-0001", CHILD).rows
    assert len(rows) == 2
    assert [audit_ref(e) for e in disclosures(pg_hub)] == [first.audit_ref, view.audit_ref]


Cuts = list[str]


def _cut_after(target: object, name: str, cuts: Cuts, monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., Any] = getattr(target, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        assert cut_connections() > 0
        cuts.append(f"after {name}")
        return result

    monkeypatch.setattr(target, name, wrapped)


def _cut_before(target: object, name: str, cuts: Cuts, monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[..., Any] = getattr(target, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        assert cut_connections() > 0
        cuts.append(f"before {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)


CutPoint = Callable[[Hub, Cuts, pytest.MonkeyPatch], None]
CUT_POINTS: dict[str, CutPoint] = {
    "after-catching-up": lambda hub, c, mp: _cut_after(hub.projection, "catch_up", c, mp),
    "after-reading-grants": lambda hub, c, mp: _cut_after(hub.audit, "grants", c, mp),
    "after-the-decisions": lambda hub, c, mp: _cut_after(hub.decisions, "decide", c, mp),
    "before-the-audit-write": lambda hub, c, mp: _cut_before(hub.audit, "record_access", c, mp),
    "inside-the-audit-write": lambda hub, c, mp: _cut_before(hub.audit.events, "put", c, mp),
    "after-the-audit-write": lambda hub, c, mp: _cut_after(hub.audit, "record_access", c, mp),
}


@pytest.mark.postgres
@pytest.mark.parametrize("break_glass", [False, True], ids=["relationship", "break-glass"])
@pytest.mark.parametrize("point", list(CUT_POINTS))
def test_a_disclosure_in_flight_when_the_connections_are_cut_completes_with_its_audit_entry(
    pg_hub: Hub, monkeypatch: pytest.MonkeyPatch, point: str, break_glass: bool
) -> None:
    """The cut comes at each step of decide, audit, show: the hub reconnects and the view is
    returned with exactly one committed audit entry, whose reference it carries."""
    pg_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)  # warm up
    before = disclosures(pg_hub)
    practitioner = "po-0002" if break_glass else "lcpp-0001"
    cuts: Cuts = []
    CUT_POINTS[point](pg_hub, cuts, monkeypatch)

    view = pg_hub.gate.view(
        CHILD,
        practitioner,
        Purpose.CHILD_PROTECTION_ENQUIRY,
        break_glass_reason="child missing overnight" if break_glass else None,
    )
    monkeypatch.undo()

    assert cuts, "the connections were cut during the view"
    assert view.entries and view.outcome == "disclosed"
    assert (view.break_glass is not None) == break_glass
    new = disclosures(pg_hub)[len(before) :]
    assert [audit_ref(e) for e in new] == [view.audit_ref]
    assert new[0].practitioner_id == practitioner
    assert new[0].disclosed == [e.ref for e in view.entries]


def _database_gone(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the connections and keep the audit ledger's database unreachable from now on."""
    datastore = hub.audit.recorder.datastore  # type: ignore[attr-defined]

    def unreachable() -> Any:
        raise OperationalError("connection refused (the database is down)")

    assert cut_connections() > 0
    monkeypatch.setattr(datastore, "get_connection", unreachable)
    monkeypatch.setattr("eventsourcing.utils.sleep", lambda _seconds: None)


@pytest.mark.postgres
def test_a_disclosure_whose_audit_cannot_be_written_after_a_cut_is_refused(
    pg_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut comes just before the audit write and the database does not come back: the
    view is refused (nothing returned) and no audit entry claims a disclosure."""
    pg_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    before = [audit_ref(e) for e in disclosures(pg_hub)]
    original = pg_hub.audit.record_access

    def record_access(*args: Any, **kwargs: Any) -> DisclosureAudited:
        _database_gone(pg_hub, monkeypatch)
        return original(*args, **kwargs)

    monkeypatch.setattr(pg_hub.audit, "record_access", record_access)
    returned: list[object] = []
    with pytest.raises(AuditUnavailableError, match="nothing is disclosed"):
        returned.append(pg_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY))
    monkeypatch.undo()
    assert returned == []
    assert [audit_ref(e) for e in disclosures(pg_hub)] == before  # reconnects; nothing new


@pytest.mark.postgres
def test_a_break_glass_view_cut_off_after_its_audit_entry_is_audited_but_not_delivered(
    pg_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one step of a view that reads the database after the audit write is break-glass
    (it reads the new grant back). If the database goes away exactly there, the caller gets
    an error and no chronology, and the ledger keeps the entry: it records an attempted
    disclosure the caller did not receive (docs/audit.md, "Audited but not delivered"). The
    ledger may over-report a disclosure; it never under-reports one."""
    original = pg_hub.audit.record_access

    def record_access(*args: Any, **kwargs: Any) -> DisclosureAudited:
        entry = original(*args, **kwargs)
        _database_gone(pg_hub, monkeypatch)
        return entry

    monkeypatch.setattr(pg_hub.audit, "record_access", record_access)
    returned: list[object] = []
    with pytest.raises(OperationalError):
        returned.append(
            pg_hub.gate.view(
                CHILD, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY, break_glass_reason="missing"
            )
        )
    monkeypatch.undo()
    assert returned == []
    (entry,) = disclosures(pg_hub)
    assert (entry.practitioner_id, entry.break_glass_reason) == ("po-0002", "missing")


# SQLite: a full disk ---------------------------------------------------------------------------

AGENCY = "shire-county-council"
BULK_FILES, PER_FILE = 3, 800


def _hub(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args, "--data-dir", str(data_dir)],
        env={**os.environ, "HUB_BATCH_SIZE": "100", "HUB_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs, grown later with `remount`; needs CAP_SYS_ADMIN (root in the test
    container). SQLite's `max_page_count` would only cap one connection of one process, not
    the `hub ingest` subprocess's several files, so it is no substitute."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _integrity(data_dir: Path, scratch: Path) -> dict[str, str]:
    """`PRAGMA integrity_check` of every SQLite file as it is now (with its WAL), checked on a
    copy: even a read-only connection needs to write the WAL index, and the disk is full."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data_dir, scratch)
    results = {}
    for path in sorted(scratch.rglob("*.sqlite")):
        db = sqlite3.connect(path)
        try:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()
        results[path.name] = ", ".join(str(r[0]) for r in rows)
    return results


def _recorded(data_dir: Path) -> Counter[str]:
    hub = bootstrap(HubSettings(data_dir=data_dir))
    register_agencies(hub)
    try:
        return Counter(
            str(record.body["event_id"])
            for record in hub.store.records(ChildRecordEntry)
            if isinstance(record, ChildRecordEntry) and record.entry_type == "agency-event"
        )
    finally:
        hub.close()


def test_a_full_disk_stops_ingest_cleanly_and_a_rerun_finishes_exactly_once(
    small_disk: Path, tmp_path: Path
) -> None:
    data_dir, inbox, witness = small_disk / "hub", tmp_path / "inbox", tmp_path / "witness.json"
    padding = "Referral from school about unexplained bruising. " * 12
    expected = set()

    def export(name: str, count: int) -> None:
        ids = [f"{name}-{i}" for i in range(count)]
        expected.update(ids)
        lines = [
            event_bytes(
                event_id=event_id,
                child={"nhs_number": nhs_number(len(expected) + i)},
                summary=padding,
            )
            for i, event_id in enumerate(ids)
        ]
        write_inbox_file(inbox, AGENCY, name, lines)

    export("first", 50)
    registered = _hub(
        data_dir, "agency", "register", AGENCY, "--type", "local-authority", "--adapter", "la-csv"
    )
    assert registered.returncode == 0, registered.stderr
    assert _hub(data_dir, "ingest", "--inbox", str(inbox), "--once").returncode == 0
    assert _hub(data_dir, "checkpoint", "--out", str(witness)).returncode == 0
    for f in range(BULK_FILES):
        export(f"bulk-{f}", PER_FILE)

    full = _hub(data_dir, "ingest", "--inbox", str(inbox), "--once")
    assert full.returncode == 1, full.stderr
    assert "the store's disk is full" in full.stderr
    assert "Traceback" not in full.stderr
    assert shutil.disk_usage(small_disk).free < 512 * 1024  # it really was the disk
    checked = _integrity(data_dir, tmp_path / "copy")
    assert {"events.sqlite", "keys.sqlite", "integrity.sqlite"} <= set(checked)
    assert set(checked.values()) == {"ok"}

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    committed = _recorded(data_dir)
    assert "first-0" in committed and 50 < len(committed) < len(expected)  # a part, not all
    verified = _hub(data_dir, "verify", "--checkpoint", str(witness))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    rerun = _hub(data_dir, "ingest", "--inbox", str(inbox), "--once", "--format", "json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["accepted"] == len(expected) - len(committed)
    recorded = _recorded(data_dir)
    assert set(recorded) == expected and max(recorded.values()) == 1
    assert set(_integrity(data_dir, tmp_path / "copy").values()) == {"ok"}
    assert _hub(data_dir, "checkpoint").returncode == 0
    verified = _hub(data_dir, "verify", "--checkpoint", str(witness))
    assert verified.returncode == 0, verified.stdout + verified.stderr
