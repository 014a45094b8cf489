"""SIGKILL the real `hub consumer run encompass` process mid-delivery, restart it: every
notice is delivered, and audited, exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import bootstrap
from hub.domain.records import DisclosureAudited
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.factories import event_dict, nhs_number, register_agencies_for

CHILDREN = 300


def _inbox(root: Path) -> None:
    now = datetime.now(UTC)
    enrolments, incidents = [], []
    for i in range(CHILDREN):
        child = {"nhs_number": nhs_number(i)}
        enrolled = now - timedelta(days=300)
        enrolments.append(
            json.dumps(
                event_dict(
                    event_id=f"ENR-{i}",
                    agency={"id": "school-100002", "type": "education"},
                    child=child,
                    kind="education.enrolled",
                    categories=[],
                    occurred_at=enrolled.isoformat(),
                    recorded_at=enrolled.isoformat(),
                    details={"school_urn": "100002", "starts_on": enrolled.date().isoformat()},
                )
            ).encode()
        )
        at = now - timedelta(hours=2)
        incidents.append(
            json.dumps(
                event_dict(
                    event_id=f"DA-{i}",
                    agency={"id": "shire-constabulary", "type": "police"},
                    child=child,
                    kind="police.domestic-abuse-incident",
                    categories=["domestic-abuse"],
                    occurred_at=at.isoformat(),
                    recorded_at=at.isoformat(),
                    details={"child_present": i % 2 == 0, "police_reference": f"OE-{i}"},
                )
            ).encode()
        )
    write_inbox_file(root, "school-100002", "enrolments", enrolments)
    write_inbox_file(root, "shire-constabulary", "incidents", incidents)


def _delivered(settings: HubSettings) -> int:
    hub = bootstrap(settings)
    try:
        return int(hub.consumer_runner("encompass").status().details["notices_delivered"])
    finally:
        hub.close()


def test_sigkill_mid_delivery_then_restart_delivers_and_audits_each_notice_once(
    tmp_path: Path,
) -> None:
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    env = {**os.environ, "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH)}
    settings = HubSettings(data_dir=data_dir, directory=SAMPLE_DIRECTORY_PATH)
    _inbox(inbox)
    hub_cli = [sys.executable, "-m", "hub.cli"]
    common = ["--data-dir", str(data_dir), "--quiet"]
    register_agencies_for(settings)
    subprocess.run([*hub_cli, "ingest", "--inbox", str(inbox), "--once", *common], check=True)

    kills = 0
    for threshold in (40, 120, 200):
        process = subprocess.Popen(
            [*hub_cli, "consumer", "run", "encompass", "--poll", "0.2", *common], env=env
        )
        deadline = time.monotonic() + 120
        while _delivered(settings) < threshold and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for a condition, polled; not a timing assumption
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    assert kills == 3 and CHILDREN > _delivered(settings) >= 200

    finished = subprocess.run(
        [*hub_cli, "consumer", "run", "encompass", "--once", *common], env=env, check=False
    )
    assert finished.returncode == 0

    hub = bootstrap(settings)
    try:
        status = hub.consumer_runner("encompass").status().as_dict()
        audited = Counter(
            ref
            for record in hub.audit.all_disclosures()
            if isinstance(record, DisclosureAudited) and record.action == "receive-notice"
            for ref in record.disclosed
        )
    finally:
        hub.close()
    assert status["notices_delivered"] == CHILDREN and status["notices_pending"] == 0
    assert status["errors"] == 0 and status["lag"] == 0
    assert set(audited) == {f"shire-constabulary/DA-{i}@1" for i in range(CHILDREN)}
    assert set(audited.values()) == {1}
