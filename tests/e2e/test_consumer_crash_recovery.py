"""SIGKILL the real `hub consumer run encompass` (and `inbox`) process mid-delivery, restart
it: every notice (inbox item) is delivered, and audited, exactly once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consumers.inbox.consumer import ITEM
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from hub.transports.inbox import write_inbox_file
from tests.factories import event_dict, nhs_number, register_agencies, register_agencies_for

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


# -- the inbox consumer ------------------------------------------------------------------------

INBOX_CHILDREN = 300
VIEWERS = (("hp-0001", None), ("po-0001", None), ("po-0002", "urgent welfare check tonight"))


def _inbox_event(
    agency: dict[str, str], event_id: str, kind: str, days_ago: int, child: str, **extra: object
) -> bytes:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return json.dumps(
        event_dict(
            event_id=event_id,
            agency=agency,
            child={"nhs_number": child},
            kind=kind,
            occurred_at=at.isoformat(),
            recorded_at=(at + timedelta(minutes=20)).isoformat(),
            **extra,
        )
    ).encode()


def _publish_inbox_case_load(settings: HubSettings) -> None:
    """Each child: sw-0002 allocated, an s47 enquiry (so the MACPT is related), a police
    incident (change notifications); then three people from other organisations open the
    child's record, one under break-glass (access notifications to sw-0002)."""
    la = {"id": "shire-county-council", "type": "local-authority"}
    police = {"id": "shire-constabulary", "type": "police"}
    council, constabulary = [], []
    for i in range(INBOX_CHILDREN):
        child = nhs_number(1000 + i)
        council.append(
            _inbox_event(
                la,
                f"ALLOC-{i}",
                "la.worker-allocated",
                10,
                child,
                categories=[],
                details={"practitioner_id": "sw-0002", "role": "social-worker"},
            )
        )
        council.append(
            _inbox_event(
                la,
                f"S47-{i}",
                "la.s47-enquiry-started",
                5,
                child,
                categories=["physical-abuse"],
                details={},
            )
        )
        constabulary.append(
            _inbox_event(
                police,
                f"DA-{i}",
                "police.domestic-abuse-incident",
                1,
                child,
                categories=["domestic-abuse"],
                details={"child_present": True, "police_reference": f"OE-{i}"},
            )
        )
    hub = bootstrap(settings)
    try:
        register_agencies(hub)
        for agency, messages in ((la, council), (police, constabulary)):
            source = f"crash:{agency['id']}/t"
            hub.ingest.ingest(
                [InboundMessage(source, n, m, agency["id"]) for n, m in enumerate(messages, 1)]
            )
        for i in range(INBOX_CHILDREN):
            for viewer, break_glass in VIEWERS:
                hub.gate.view(
                    ChildRef(nhs_number=nhs_number(1000 + i)),
                    viewer,
                    Purpose.CHILD_PROTECTION_ENQUIRY,
                    break_glass_reason=break_glass,
                )
    finally:
        hub.close()


def _inbox_items_committed(settings: HubSettings) -> int:
    hub = bootstrap(settings)
    try:
        return len(hub.consumer_runner("inbox").documents().names(ITEM))
    finally:
        hub.close()


Told = tuple[str, str, frozenset[str]]  # who was told, of which child, which records


def _inbox_outcome(settings: HubSettings) -> tuple[dict[str, Any], Counter[Told]]:
    """Every item (by document name: what it says, without when it was made) and the `notify`
    disclosures audited, counted by practitioner, child and the records disclosed."""
    hub = bootstrap(settings)
    try:
        runner = hub.consumer_runner("inbox")
        documents = runner.documents()
        names = documents.names(ITEM)
        documents.load(names)
        items = {}
        for name in names:
            item = documents.get(name)
            assert item is not None
            items[name] = {
                "practitioner": item["practitioner"],
                "child": item["child_stream"],
                "type": item["type"],
                "refs": sorted(item["refs"]),
                "access": {k: v for k, v in item.get("access", {}).items() if k != "last_at"},
            }
        notified = Counter(
            (record.practitioner_id, record.child_stream, frozenset(record.disclosed))
            for record in hub.audit.all_disclosures()
            if isinstance(record, DisclosureAudited) and record.action == "notify"
        )
        status = runner.status()
        assert (status.lag, status.errors) == (0, 0)
        assert status.details["children_awaiting_delivery"] == 0
    finally:
        hub.close()
    return items, notified


def test_sigkill_mid_inbox_delivery_then_restart_tells_and_audits_each_item_once(
    tmp_path: Path,
) -> None:
    data_dir, reference_dir = tmp_path / "hub", tmp_path / "reference"
    env = {**os.environ, "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH)}
    settings = HubSettings(data_dir=data_dir, directory=SAMPLE_DIRECTORY_PATH)
    _publish_inbox_case_load(settings)
    # The same store (same keys, so the same item names), delivered without interruption.
    shutil.copytree(data_dir, reference_dir)
    reference = HubSettings(data_dir=reference_dir, directory=SAMPLE_DIRECTORY_PATH)
    hub = bootstrap(reference)
    try:
        hub.consumer_runner("inbox").run_once()
    finally:
        hub.close()
    expected, expected_notified = _inbox_outcome(reference)
    changes = sum(1 for item in expected.values() if item["type"] == "change")
    access = sum(1 for item in expected.values() if item["type"] == "access")
    assert changes >= 4 * INBOX_CHILDREN and access == len(VIEWERS) * INBOX_CHILDREN

    hub_cli = [sys.executable, "-m", "hub.cli"]
    common = ["--data-dir", str(data_dir), "--quiet"]
    # Killed three times while telling of new records, once while following the audit ledger
    # (its first page of views is committed, the next is being told).
    thresholds = (changes // 5, changes // 2, changes * 4 // 5, changes + 1)
    committed_at_kill = []
    for threshold in thresholds:
        process = subprocess.Popen(
            [*hub_cli, "consumer", "run", "inbox", "--poll", "0.2", *common], env=env
        )
        deadline = time.monotonic() + 120
        while _inbox_items_committed(settings) < threshold and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for a condition, polled; not a timing assumption
        process.send_signal(signal.SIGKILL)
        process.wait()
        committed_at_kill.append(_inbox_items_committed(settings))
    killed_mid_pass = zip(thresholds, committed_at_kill, strict=True)
    assert all(t <= n < len(expected) for t, n in killed_mid_pass), committed_at_kill

    finished = subprocess.run(
        [*hub_cli, "consumer", "run", "inbox", "--once", *common], env=env, check=False
    )
    assert finished.returncode == 0

    items, notified = _inbox_outcome(settings)
    assert items == expected  # every item, once, saying the same (each view counted once)
    assert notified == expected_notified
    # Each disclosure an item makes is audited exactly once: one entry per recipient, child
    # and records told of (the access items telling one worker of several people who opened
    # the same record share their disclosure, and its entry).
    told = {(i["practitioner"], i["child"], frozenset(i["refs"])) for i in items.values()}
    assert set(notified) == told and set(notified.values()) == {1}
