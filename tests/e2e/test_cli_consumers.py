"""`hub consumer` and `hub notices` as an operator and a school DSL use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.transports.inbox import write_inbox_file
from tests.factories import event_dict, nhs_number


def _hub(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args, "--data-dir", str(data_dir), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH)},
    )


def test_an_operator_runs_a_consumer_and_a_dsl_acknowledges_the_notice(tmp_path: Path) -> None:
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    child = {"nhs_number": nhs_number(5)}
    at = datetime.now(UTC) - timedelta(hours=1)
    enrolled = json.dumps(
        event_dict(
            event_id="ENR-5",
            agency={"id": "school-100003", "type": "education"},
            child=child,
            kind="education.enrolled",
            categories=[],
            details={"school_urn": "100003", "starts_on": "2024-09-04"},
        )
    )
    incident = json.dumps(
        event_dict(
            event_id="DA-5",
            agency={"id": "shire-constabulary", "type": "police"},
            child=child,
            kind="police.domestic-abuse-incident",
            categories=["domestic-abuse"],
            occurred_at=at.isoformat(),
            recorded_at=at.isoformat(),
            summary="Neighbours heard shouting",
            details={"child_present": True, "police_reference": "OE-555"},
        )
    )
    details = json.dumps(
        event_dict(
            event_id="CD-5",
            agency={"id": "shire-county-council", "type": "local-authority"},
            child=child,
            kind="la.child-details",
            categories=[],
            details={
                "given_names": ["Jayden"],
                "family_name": "Wright",
                "date_of_birth": "2018-05-02",
                "sex": "male",
                "address": {"lines": ["CANARY-9 Mill Row"], "postcode": "ST2 1CD"},
            },
        )
    )
    write_inbox_file(inbox, "school-100003", "enrolments", [enrolled.encode()])
    write_inbox_file(inbox, "shire-county-council", "details", [details.encode()])
    write_inbox_file(inbox, "shire-constabulary", "incidents", [incident.encode()])
    for agency, kind, adapter, *more in (
        ("school-100003", "education", "school-csv"),
        ("shire-county-council", "local-authority", "canonical"),
        (
            "shire-constabulary",
            "police",
            "police-json",
            "--name",
            "Shire Constabulary",
            "--contact",
            "Public protection unit duty desk, 01632 960100",
        ),
    ):
        registered = _hub(
            data_dir, "agency", "register", agency, "--type", kind, "--adapter", adapter, *more
        )
        assert registered.returncode == 0, registered.stderr
    assert _hub(data_dir, "ingest", "--inbox", str(inbox), "--once").returncode == 0

    ran = _hub(data_dir, "consumer", "run", "encompass", "--once")
    assert ran.returncode == 0, ran.stderr
    assert "folded 3 entries" in ran.stdout

    status = _hub(data_dir, "consumer", "status", "encompass", "--format", "json")
    [encompass] = json.loads(status.stdout)
    assert (encompass["lag"], encompass["errors"], encompass["notices_delivered"]) == (0, 0, 1)
    assert encompass["awaiting_acknowledgement"] == 1

    listed = _hub(data_dir, "notices", "list", "--as", "dsl-100003", "--format", "json")
    [notice] = json.loads(listed.stdout)
    assert (notice["child"], notice["police_reference"]) == (child["nhs_number"], "OE-555")
    assert "Neighbours" not in listed.stdout
    assert notice["header"]["name"] == "Jayden Wright"
    # The text opens each notice with who the child is and whom to ask at the police.
    text = " ".join(_hub(data_dir, "notices", "list", "--as", "dsl-100003").stdout.split())
    assert "Jayden Wright; born 2 May 2018" in text
    assert "Shire Constabulary (Public protection unit duty desk, 01632 960100)" in text
    assert "CANARY" not in text and "CANARY" not in listed.stdout
    assert (
        json.loads(
            _hub(data_dir, "notices", "list", "--as", "dsl-100001", "--format", "json").stdout
        )
        == []
    )

    refused = _hub(data_dir, "notices", "ack", notice["id"], "--as", "dsl-100001")
    assert refused.returncode == 4 and "only a recipient" in refused.stderr
    acked = _hub(data_dir, "notices", "ack", notice["id"], "--as", "dsl-100003")
    assert acked.returncode == 0 and "acknowledged by dsl-100003" in acked.stdout
    assert _hub(data_dir, "consumer", "run", "encompass", "--once").returncode == 0
    after = json.loads(_hub(data_dir, "consumer", "status", "encompass", "--format", "json").stdout)
    assert (after[0]["acknowledged"], after[0]["awaiting_acknowledgement"]) == (1, 0)

    unknown = _hub(data_dir, "consumer", "run", "no-such-consumer", "--once")
    assert unknown.returncode == 1 and "no consumer called" in unknown.stderr


def test_a_social_worker_reads_their_inbox_and_marks_an_item_done(tmp_path: Path) -> None:
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    child = {"nhs_number": nhs_number(6)}
    at = datetime.now(UTC) - timedelta(hours=3)
    allocated = event_dict(
        event_id="ALLOC-6",
        agency={"id": "shire-county-council", "type": "local-authority"},
        child=child,
        kind="la.worker-allocated",
        categories=[],
        occurred_at=(at - timedelta(days=3)).isoformat(),
        recorded_at=(at - timedelta(days=3)).isoformat(),
        details={"practitioner_id": "sw-0002", "role": "social-worker"},
    )
    incident = event_dict(
        event_id="DA-6",
        agency={"id": "shire-constabulary", "type": "police"},
        child=child,
        kind="police.domestic-abuse-incident",
        categories=["domestic-abuse"],
        occurred_at=at.isoformat(),
        recorded_at=at.isoformat(),
        summary="CANARY-6 shouting heard by neighbours",
        details={"child_present": True, "police_reference": "OE-666"},
    )
    write_inbox_file(inbox, "shire-county-council", "cases", [json.dumps(allocated).encode()])
    write_inbox_file(inbox, "shire-constabulary", "incidents", [json.dumps(incident).encode()])
    for agency, kind, *more in (
        ("shire-county-council", "local-authority"),
        ("shire-constabulary", "police", "--name", "Shire Constabulary"),
    ):
        registered = _hub(
            data_dir, "agency", "register", agency, "--type", kind, "--adapter", "canonical", *more
        )
        assert registered.returncode == 0, registered.stderr
    assert _hub(data_dir, "ingest", "--inbox", str(inbox), "--once").returncode == 0
    ran = _hub(data_dir, "consumer", "run", "inbox", "--once")
    assert ran.returncode == 0, ran.stderr

    text = " ".join(_hub(data_dir, "inbox", "list", "--as", "sw-0002").stdout.split())
    assert "1 notifications" in text
    assert "New from Shire Constabulary: Domestic abuse incident" in text
    assert "CANARY" not in text and "OE-666" not in text  # the kind and agency, not content
    listed = json.loads(
        _hub(data_dir, "inbox", "list", "--as", "sw-0002", "--format", "json").stdout
    )
    [item] = listed["items"]
    assert (item["type"], item["child"]) == ("change", child["nhs_number"])

    done = _hub(data_dir, "inbox", "done", item["id"][:12], "--as", "sw-0002")
    assert done.returncode == 0, done.stderr
    assert "0 notifications" in _hub(data_dir, "inbox", "list", "--as", "sw-0002").stdout
    assert _hub(data_dir, "inbox", "undo", item["id"][:12], "--as", "sw-0002").returncode == 0
    assert "1 notifications" in _hub(data_dir, "inbox", "list", "--as", "sw-0002").stdout
    # Someone else's item, or no such item: an error naming the item, never another's inbox.
    other = _hub(data_dir, "inbox", "done", item["id"][:12], "--as", "sw-0001")
    assert other.returncode == 1 and "item: no such item in your inbox" in other.stderr
