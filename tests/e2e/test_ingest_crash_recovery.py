"""SIGKILL the real `hub ingest` process mid-run, restart it: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from hub.bootstrap import bootstrap
from hub.domain.records import ChildRecordEntry
from hub.reports.operations import store_status
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.factories import event_bytes, nhs_number, register_agencies, register_agencies_for

AGENCY = "shire-county-council"
FILES, PER_FILE = 4, 3000


def _hub_command(data_dir: Path, inbox: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hub.cli",
        "ingest",
        "--inbox",
        str(inbox),
        "--data-dir",
        str(data_dir),
        "--quiet",
        *extra,
    ]


def _committed(settings: HubSettings) -> int:
    hub = bootstrap(settings)
    register_agencies(hub)
    try:
        return sum(
            hub.store.position(f"inbox:{AGENCY}/export-{f}.jsonl") or 0 for f in range(FILES)
        )
    finally:
        hub.close()


def test_sigkill_mid_run_then_restart_records_every_message_exactly_once(tmp_path: Path) -> None:
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    settings = HubSettings(data_dir=data_dir)
    register_agencies_for(settings)  # create keys and store before the workers race for them
    expected = set()
    for f in range(FILES):
        lines = []
        for i in range(PER_FILE):
            event_id = f"K-{f}-{i}"
            expected.add(event_id)
            lines.append(event_bytes(event_id=event_id, child={"nhs_number": nhs_number(i % 500)}))
        write_inbox_file(inbox, AGENCY, f"export-{f}", lines)

    env = {**os.environ, "HUB_BATCH_SIZE": "250"}
    kills = 0
    progress = 0
    for threshold in (1500, 4500, 8000):
        process = subprocess.Popen(_hub_command(data_dir, inbox), env=env)
        deadline = time.monotonic() + 120
        while (progress := _committed(settings)) < threshold and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for a condition, polled; not a timing assumption
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    assert kills == 3 and progress >= 8000

    finished = subprocess.run(_hub_command(data_dir, inbox, "--once"), env=env, check=False)
    assert finished.returncode == 0

    hub = bootstrap(settings)

    register_agencies(hub)
    recorded = Counter(
        record.body["event_id"]
        for record in hub.store.records(ChildRecordEntry)
        if isinstance(record, ChildRecordEntry) and record.entry_type == "agency-event"
    )
    status = store_status(hub.store, "t")
    hub.close()
    assert set(recorded) == expected
    assert max(recorded.values()) == 1
    assert (status.events, status.duplicates, status.quarantined) == (FILES * PER_FILE, 0, 0)
    assert all(s.position == PER_FILE and s.consumed == PER_FILE for s in status.sources)
