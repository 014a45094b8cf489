"""The `hub` command as a user runs it: real processes, real files, real broker."""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.demo.population import generate_partnership
from hub.domain.indicators import latest_complete_quarter
from tests.brokers import tansu_broker
from tests.factories import VALID_NHS_NUMBER

SAMPLES = Path(__file__).resolve().parents[2] / "hub" / "samples"
NHS_IN_TEXT = re.compile(rb"(?<!\d)(\d{3}) ?(\d{3}) ?(\d{4})(?!\d)")


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("demo") / "hub"
    result = hub("demo", "--children", "80", "--format", "json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir, as_json(result)


def test_demo_ingests_every_agency_and_reconciles(demo: tuple[Path, dict[str, Any]]) -> None:
    data_dir, report = demo
    assert {a["agency"] for a in report["agencies"]} == {
        "shire-county-council",
        "shire-constabulary",
        "shire-icb",
        "school-100001",
        "school-100002",
        "school-100003",
        "school-100004",
    }
    for agency in report["agencies"]:
        assert len(agency["not_mapped"]) == 2  # the generator spoils two native rows per file
        assert agency["recorded"] == agency["events"]
        for problem in agency["not_mapped"]:
            assert problem["file"].endswith((".csv", ".json")) and problem["line"] > 1
    assert report["events"] == sum(a["events"] for a in report["agencies"])
    assert report["duplicates"] == 50
    assert report["second_pass_new_events"] == 0
    assert sorted(q["reason_code"] for q in report["quarantine"]) == [
        "future-date",
        "invalid-event",
        "invalid-event",
        "invalid-utf8",
        "malformed-json",
        "wrong-agency",
    ]
    assert set(report["sibling_case_events_by_agency"]) == {
        "school-100001",
        "shire-constabulary",
        "shire-county-council",
        "shire-icb",
    }
    assert (data_dir / "events.sqlite").exists() and (data_dir / "keys.sqlite").exists()

    status = as_json(hub("status", "--format", "json", "--data-dir", str(data_dir)))
    # Plus the overnight police incident the demo publishes for Operation Encompass.
    overnight = report["consumers"]["published_events"]
    assert overnight == 1
    assert (status["events"], status["duplicates"], status["quarantined"]) == (
        report["events"] + overnight,
        50,
        6,
    )
    for source in status["sources"]:
        assert (
            source["consumed"] == source["accepted"] + source["duplicates"] + source["quarantined"]
        )
        assert source["position"] == source["consumed"]  # every inbox line, in order


def test_quarantine_list_shows_reason_and_position(demo: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = demo
    listed = ("quarantine", "list", "--format", "json", "--data-dir", str(data_dir))
    items = as_json(hub(*listed))
    by_position = {i["position"]: i for i in items}
    assert by_position[2]["reason"] == "message is not UTF-8 (bad byte at offset 0)"
    assert by_position[3]["reason"] == (
        "agency.id is not 'shire-county-council', the agency whose channel the message arrived on"
    )
    assert all(i["source"] == "inbox:shire-county-council/03-partner-gateway.jsonl" for i in items)
    assert all("raw_base64" not in i for i in items)

    # The raw bytes are a data protection officer's to see, and the look is audited.
    assert hub(*listed, "--include-raw").returncode == 2
    refused = hub(*listed, "--include-raw", "--as", "lcpp-0001")
    assert refused.returncode == 4 and "data protection officers" in refused.stderr
    raw = as_json(hub(*listed, "--include-raw", "--as", "dpo-0001"))
    assert {i["position"]: i for i in raw}[2]["raw_base64"] == "//4Abm90IHV0Zi04"
    looked = as_json(
        hub("audit", "--as", "dpo-0001", "--practitioner", "dpo-0001", "--format", "json",
            "--data-dir", str(data_dir))
    )  # fmt: skip
    assert [r["action"] for r in looked["rows"] if "quarantine" in r["action"]] == [
        "audit-query:quarantine-raw"
    ]
    denied = as_json(
        hub("audit", "--as", "dpo-0001", "--practitioner", "lcpp-0001", "--format", "json",
            "--data-dir", str(data_dir))
    )  # fmt: skip
    assert [(r["action"], r["outcome"]) for r in denied["rows"] if "quarantine" in r["action"]] == [
        ("audit-query:quarantine-raw", "denied")
    ]


def test_demo_refuses_a_data_dir_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "events.sqlite").write_bytes(b"precious")
    result = hub("demo", "--children", "20", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "holds a hub that is not a demo" in result.stderr
    assert (tmp_path / "events.sqlite").read_bytes() == b"precious"


def test_full_ingest_logs_are_json_and_carry_no_nhs_number(tmp_path: Path) -> None:
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    manifest = generate_partnership(tmp_path / "exports", seed=7, children=80)
    exports = {e.agency_id: e.path for e in manifest.agencies}
    adapters = {
        "shire-county-council": "la-csv",
        "shire-constabulary": "police-json",
        "shire-icb": "health-fhir",
    }
    nhs_numbers: set[bytes] = set()
    for agency, path in exports.items():
        adapter = adapters.get(agency, "school-csv")
        agency_type = {"la-csv": "local-authority", "police-json": "police"}.get(
            adapter, {"health-fhir": "health"}.get(adapter, "education")
        )
        registered = hub(
            "agency", "register", agency, "--type", agency_type, "--adapter", adapter,
            "--data-dir", str(data_dir),
        )  # fmt: skip
        assert registered.returncode == 0, registered.stderr
        nhs_numbers.update(b"".join(m) for m in NHS_IN_TEXT.findall(path.read_bytes()))
        published = hub(
            "publish",
            "--adapter",
            adapter,
            "--agency",
            agency,
            "--file",
            str(path),
            "--inbox",
            str(inbox),
        )
        assert published.returncode == 3, published.stderr  # two spoiled rows per file
    assert len(nhs_numbers) > 80

    result = hub(
        "ingest",
        "--inbox",
        str(inbox),
        "--once",
        "--data-dir",
        str(data_dir),
        env={"HUB_LOG_LEVEL": "info"},
    )
    # This fresh hub never issued the exports' provisional id, so its events are quarantined;
    # it has no practitioner directory, so no allocation can name the authority's staff.
    assert result.returncode == 3, result.stderr
    lines = [json.loads(line) for line in result.stderr.strip().splitlines()]
    assert {line["event"] for line in lines} == {"batch_committed", "message_quarantined"}
    assert {line["reason_code"] for line in lines if line["event"] == "message_quarantined"} == {
        "unknown-provisional-id",
        "allocation-outside-authority",
    }
    logged = result.stderr.encode()
    leaked = [n for n in nhs_numbers if n in logged or b" ".join((n[:3], n[3:6], n[6:])) in logged]
    assert leaked == []


def test_publish_sample_reports_unmapped_rows_with_file_line_and_reason(tmp_path: Path) -> None:
    result = hub(
        "publish",
        "--adapter",
        "la-csv",
        "--agency",
        "shire-county-council",
        "--file",
        str(SAMPLES / "la-case-management.csv"),
        "--inbox",
        str(tmp_path),
        "--format",
        "json",
    )
    assert result.returncode == 3
    document = as_json(result)
    assert document["events"] > 0
    (problem,) = document["problems"]
    assert (
        problem["file"].endswith("la-case-management.csv")
        and problem["line"] > 1
        and problem["reason"]
    )
    (written,) = (tmp_path / "shire-county-council").glob("*.jsonl")
    assert len(written.read_text().splitlines()) == document["events"]


def test_unknown_adapter_and_bad_usage(tmp_path: Path) -> None:
    unknown = hub(
        "publish", "--adapter", "fax", "--agency", "x-y", "--file", "f", "--inbox", str(tmp_path)
    )
    assert unknown.returncode == 1
    assert "valid adapters are: health-fhir, la-csv, police-json, school-csv" in unknown.stderr
    assert hub("ingest", "--once").returncode == 2  # needs --inbox or --kafka


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["ingest"],
        ["publish"],
        ["quarantine", "list"],
        ["status"],
        ["schema"],
        ["identity", "issue"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = hub(*command, "--help")
    assert result.returncode == 0 and "usage: hub" in result.stdout


def test_schema_is_published(tmp_path: Path) -> None:
    schema = as_json(hub("schema"))
    assert schema["title"] == "CanonicalEvent"
    assert "nhs_number" in json.dumps(schema["$defs"]["ChildRef"])
    assert "police.domestic-abuse-incident" in schema["x-kinds"]


def test_identity_issue_then_publish_against_it(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "hub")
    issued = as_json(
        hub(
            "identity", "issue", "--agency", "shire-icb", "--format", "json", "--data-dir", data_dir
        )
    )
    assert issued["provisional_id"].startswith("PRV-")


@pytest.fixture
def own_broker() -> Iterator[str]:
    """A broker of this test's own: `hub ingest --kafka` follows every agency topic, so on the
    shared session broker other tests' topics (a quarantine corpus) would change its exit code."""
    with tansu_broker() as port:
        yield f"127.0.0.1:{port}"


@pytest.mark.kafka
def test_adapter_to_kafka_to_store(own_broker: str, tmp_path: Path) -> None:
    kafka_broker = own_broker
    data_dir = str(tmp_path / "hub")
    registered = hub(
        "agency", "register", "e2e-police", "--type", "police", "--adapter", "police-json",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    published = hub(
        "publish",
        "--adapter",
        "police-json",
        "--agency",
        "e2e-police",
        "--file",
        str(SAMPLES / "police-incidents.json"),
        "--kafka",
        kafka_broker,
        "--format",
        "json",
        "--data-dir",
        data_dir,
    )
    assert published.returncode == 3, published.stderr
    sent = as_json(published)["events"]
    first = hub(
        "ingest", "--kafka", kafka_broker, "--once", "--format", "json", "--data-dir", data_dir
    )
    assert first.returncode == 0, first.stderr
    again = as_json(
        hub("ingest", "--kafka", kafka_broker, "--once", "--format", "json", "--data-dir", data_dir)
    )
    assert again["accepted"] == 0
    status = as_json(hub("status", "--format", "json", "--data-dir", data_dir))
    assert status["agencies"]["e2e-police"] == sent


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    result = hub(
        "ingest",
        "--kafka",
        "127.0.0.1:1",
        "--once",
        "--data-dir",
        str(tmp_path / "hub"),
        env={"HUB_KAFKA_BOOTSTRAP_TIMEOUT_MS": "1500"},
    )
    assert result.returncode == 1
    assert (
        result.stderr.startswith("hub: Kafka: ")
        and "Unable to bootstrap from 127.0.0.1:1" in result.stderr
    )


def test_demo_ends_with_the_sibling_case_seen_by_different_people(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    _, report = demo
    walkthrough = report["sibling_case_disclosures"]
    outcomes = [(s["practitioner"]["id"], s["outcome"]) for s in walkthrough["scenes"]]
    assert outcomes == [
        ("lcpp-0001", "disclosed"),
        ("dsl-100001", "partially-disclosed"),
        ("po-0002", "denied"),
        ("po-0002", "disclosed"),
    ]
    lcpp, dsl, denied, glass = walkthrough["scenes"]
    assert len(dsl["entries"]) < len(lcpp["entries"])
    assert {e["agency"] for e in lcpp["entries"]} == {
        "shire-county-council",
        "shire-constabulary",
        "shire-icb",
        "school-100001",
    }
    assert denied["entries"] == [] and denied["denied_reasons"]
    assert glass["break_glass"]["reason"].startswith("child reported missing")
    assert [(r["practitioner"], r["outcome"]) for r in walkthrough["audit_trail"]] == outcomes
    assert {p["code"] for p in lcpp["patterns"]} >= {
        "child-not-seen-on-visit",
        "sudden-home-education",
    }


def test_demo_ends_with_an_encompass_notice_and_every_consumer_caught_up(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, report = demo
    scene = report["consumers"]
    [(recipient, [notice])] = scene["notices"].items()
    assert recipient == "dsl-100001" and notice["child"] == scene["child"]
    assert set(notice) >= {"child", "incident_at", "child_present", "police_reference"}
    assert "arrested" not in json.dumps(scene)  # the incident's summary is never in a notice
    assert [(s["name"], s["lag"], s["errors"]) for s in scene["statuses"]] == [
        ("encompass", 0, 0),
        ("clocks", 0, 0),
        ("inbox", 0, 0),
        ("indicators", 0, 0),
    ]
    # What waits in whose inbox: the DSL's notice, and the overnight incident told to the
    # people related to Madison (counts only: the demo's report names no content).
    inboxes = scene["inboxes"]
    assert inboxes["dsl-100001"]["notices"] == 1
    assert sum(counts["items"] for counts in inboxes.values()) >= 1
    listed = as_json(
        hub("notices", "list", "--as", recipient, "--format", "json", "--data-dir", str(data_dir))
    )
    assert [n["id"] for n in listed] == [notice["id"]]


def test_chronology_and_audit_commands(demo: tuple[Path, dict[str, Any]]) -> None:
    data_dir, report = demo
    child = report["sibling_case_disclosures"]["child"]
    common = ("--data-dir", str(data_dir), "--format", "json")
    shown = hub(
        "chronology", child, "--as", "sw-0001", "--purpose", "child-protection-planning", *common
    )
    assert shown.returncode == 0, shown.stderr
    view = as_json(shown)
    assert view["practitioner"]["id"] == "sw-0001" and view["entries"]
    # Who the child is, from what was released to this viewer (hub.chronology_header).
    assert "Madison" in view["header"]["name"] and view["header"]["date_of_birth"] == "2 June 2020"

    # The demo's officer ended their emergency access when the child was found: refused again,
    # as the README says.
    refused = hub(
        "chronology", child, "--as", "po-0002", "--purpose", "child-protection-enquiry", *common
    )
    assert refused.returncode == 4 and as_json(refused)["outcome"] == "denied"
    assert as_json(refused)["break_glass"] is None
    ended = hub("break-glass", "end", child, "--as", "po-0002", *common)
    assert (ended.returncode, as_json(ended)) == (0, {"ended": False})  # nothing left to end
    # A child the hub holds nothing about is an answer, not a refusal.
    unheld = hub(
        "chronology",
        VALID_NHS_NUMBER,
        "--as",
        "sw-0001",
        "--purpose",
        "family-help",
        "--data-dir",
        str(data_dir),
    )
    assert unheld.returncode == 0, unheld.stderr
    assert "the hub holds no record of this child" in unheld.stdout
    no_purpose = hub("chronology", child, "--as", "lcpp-0001", *common)
    assert no_purpose.returncode == 4

    who = as_json(hub("audit", "--as", "dpo-0001", "--child", child, *common))
    assert [r["practitioner"] for r in who["rows"]][-3:] == ["sw-0001", "po-0002", "lcpp-0001"]
    queue = as_json(hub("audit", "--as", "dpo-0001", "--break-glass", *common))
    (grant,) = queue["rows"]
    assert grant["practitioner"] == "po-0002" and grant["ended_at"] < grant["expires_at"]
    reviewed = hub(
        "audit", "--as", "dpo-0001", "--review", grant["grant"], "--outcome", "appropriate", *common
    )
    assert reviewed.returncode == 0, reviewed.stderr
    assert as_json(hub("audit", "--as", "dpo-0001", "--break-glass", *common))["rows"] == []
    sar = as_json(hub("audit", "--as", "dpo-0001", "--sar", child, *common))
    assert sar["records"] and all("withheld_from" not in r for r in sar["records"])

    not_dpo = hub("audit", "--as", "lcpp-0001", "--withheld", *common)
    assert not_dpo.returncode == 4 and "data protection officers only" in not_dpo.stderr
    unknown = hub(
        "chronology", child, "--as", "nobody", "--purpose", "child-protection-planning", *common
    )
    assert unknown.returncode == 1 and "not in the directory" in unknown.stderr
    # As text, a school DSL is told who the child is and whom to ask about what is not shared.
    dsl = hub("chronology", child, "--as", "dsl-100001", "--purpose", "child-protection-planning",
              "--data-dir", str(data_dir))  # fmt: skip
    words = " ".join(dsl.stdout.split())
    assert "Madison" in words and "born 2 June 2020" in words
    assert "Shire Constabulary (Public protection unit duty desk, 01632 960002" in words


def test_checkpoint_verify_keys_and_shredding_from_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    report = as_json(
        hub("demo", "--children", "30", "--format", "json", "--data-dir", str(data_dir))
    )
    child = report["sibling_case_disclosures"]["child"]
    common = ("--data-dir", str(data_dir), "--format", "json")

    witness_file = tmp_path / "witness.json"
    checkpoint = as_json(hub("checkpoint", "--out", str(witness_file), *common))
    assert {c["log"] for c in checkpoint["checkpoints"]} == {"events", "audit"}
    assert json.loads(witness_file.read_text())["public_key"] == checkpoint["public_key"]
    assert hub("verify", "--checkpoint", str(witness_file), *common).returncode == 0
    first_la_event = json.loads(
        next((data_dir / "inbox" / "shire-county-council").glob("01-*.jsonl"))
        .read_text()
        .splitlines()[0]
    )
    reference = f"shire-county-council/{first_la_event['event_id']}@{first_la_event['revision']}"
    proof = as_json(hub("verify", "--event", reference, *common))
    assert proof["verified"] is True and proof["log"] == "events"

    rotated = as_json(hub("keys", "rotate", *common))
    assert rotated["rewrapped_data_keys"] > 30 and rotated["retired"]
    shown = hub(
        "chronology", child, "--as", "lcpp-0001", "--purpose", "child-protection-planning", *common
    )
    assert as_json(shown)["outcome"] == "disclosed"

    refused = hub("keys", "shred", child, "--reason", "test", "--as", "lcpp-0001", *common)
    assert refused.returncode == 4
    shred = as_json(
        hub(
            "keys",
            "shred",
            child,
            "--reason",
            "erasure request upheld",
            "--as",
            "dpo-0001",
            *common,
        )
    )
    assert len(shred["erased_streams"]) == 1
    erased = hub(
        "chronology", child, "--as", "lcpp-0001", "--purpose", "child-protection-planning", *common
    )
    assert erased.returncode == 0 and as_json(erased)["outcome"] == "erased"
    assert hub("verify", "--checkpoint", str(witness_file), *common).returncode == 0  # log intact

    due = as_json(hub("keys", "retention", "--years", "1", *common))
    assert due["applied"] is False and due["due"]

    with sqlite3.connect(data_dir / "events.sqlite") as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 7").fetchone()
        flipped = bytes(state[:40]) + bytes([state[40] ^ 1]) + bytes(state[41:])
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 7", (flipped,))
    tampered = hub("verify", *common)
    assert tampered.returncode == 5
    assert [(f["kind"], f["rows"]) for f in as_json(tampered)["findings"]] == [("changed", [7])]


def test_replay_from_the_command_line(demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    data_dir, report = demo
    child = report["sibling_case_disclosures"]["child"]
    common = ("--data-dir", str(data_dir))
    refused = hub(
        "replay", child, "--as-of", "2030-01-01", "--by", "rev-0001", *common, "--format", "json"
    )
    assert refused.returncode == 4 and as_json(refused)["outcome"] == "denied"
    commissioned = hub(
        "audit",
        "--as",
        "dpo-0001",
        "--commission-review",
        child,
        "--reviewer",
        "rev-0001",
        "--notes",
        "Rapid Review",
        *common,
        "--format",
        "json",
    )
    assert commissioned.returncode == 0, commissioned.stderr
    pack = as_json(
        hub(
            "replay",
            child,
            "--as-of",
            "2030-01-01",
            "--by",
            "rev-0001",
            *common,
            "--format",
            "json",
        )
    )
    assert pack["outcome"] == "disclosed" and pack["inclusion_proofs"]
    yesterday = hub("replay", child, "--as-of", "2020-01-01", "--by", "rev-0001", *common)
    assert yesterday.returncode == 0 and "held by the hub: 0" in yesterday.stdout
    pdf = tmp_path / "pack.pdf"
    written = hub(
        "replay",
        child,
        "--as-of",
        "2030-01-01",
        "--by",
        "rev-0001",
        *common,
        "--format",
        "pdf",
        "--out",
        str(pdf),
    )
    assert written.returncode == 0 and pdf.read_bytes().startswith(b"%PDF")
    rebuilt = as_json(hub("projection", "rebuild", *common, "--format", "json"))
    # Every child-stream entry: the events, plus the provisional id's issuance and its link,
    # plus the overnight incident.
    assert rebuilt["entries"] == report["events"] + 2 + report["consumers"]["published_events"]


def test_after_shredding_nothing_under_the_data_dir_holds_the_child_in_clear(
    tmp_path: Path,
) -> None:
    """The demo's inbox keeps the agencies' lines in clear; its exports were never kept. After
    `hub keys shred`, every file under the data directory is read byte for byte: the child's
    NHS number (as people write it) and the overnight incident's child's voice are nowhere."""
    data_dir = tmp_path / "hub"
    report = as_json(
        hub("demo", "--children", "30", "--format", "json", "--data-dir", str(data_dir))
    )
    child = report["sibling_case_disclosures"]["child"]
    voice = b"Madison said she hid in her room with her brother"
    forms = [child.encode(), f"{child[:3]} {child[3:6]} {child[6:]}".encode()]

    def holding() -> list[str]:
        return sorted(
            str(path.relative_to(data_dir))
            for path in data_dir.rglob("*")
            if path.is_file() and any(s in path.read_bytes() for s in (*forms, voice))
        )

    assert not (data_dir / "exports").exists()  # native exports are never kept
    assert holding() and all(name.startswith("inbox/") for name in holding())
    common = ("--data-dir", str(data_dir), "--format", "json")
    # A message about the child that ingest could not accept: its raw bytes are kept for a
    # DPO to read, sealed with the child's key, so they go with the child's record.
    rejected = json.dumps(
        {
            "schema_version": 1, "event_id": "LATE-1", "revision": 1,
            "agency": {"id": "shire-county-council", "type": "local-authority"},
            "child": {"nhs_number": child}, "kind": "la.contact",
            "occurred_at": "2099-01-01T00:00:00+00:00",
            "recorded_at": "2099-01-01T00:00:00+00:00",
            "summary": "Dated in the future by mistake", "sensitivity": "standard",
            "lawful_basis": "public-task",
        }
    )  # fmt: skip
    inbox = data_dir / "inbox" / "shire-county-council"
    (inbox / "05-late.jsonl").write_text(rejected + "\n")
    hub("ingest", "--inbox", str(data_dir / "inbox"), "--once", *common)
    raw = "--include-raw", "--as", "dpo-0001"

    def late() -> dict[str, Any]:
        listed = as_json(hub("quarantine", "list", *raw, *common))
        return next(i for i in listed if i["source"].endswith("05-late.jsonl"))

    assert child in base64.b64decode(late()["raw_base64"]).decode()
    shredded = as_json(
        hub("keys", "shred", child, "--reason", "erasure request upheld", "--as", "dpo-0001",
            *common)
    )  # fmt: skip
    assert shredded["clear_lines_purged"] > 0
    assert holding() == []
    assert (late()["raw_base64"], late()["raw_erased"]) == (None, True)
    # Positions are kept: the overwritten lines are skipped, nothing is ingested twice.
    again = as_json(hub("ingest", "--inbox", str(data_dir / "inbox"), "--once", *common))
    assert (again["accepted"], again["quarantined"]) == (0, 0)
    erased = as_json(
        hub("chronology", child, "--as", "lcpp-0001", "--purpose", "child-protection-planning",
            *common)
    )  # fmt: skip
    assert erased["outcome"] == "erased"


def test_the_inbox_names_what_it_cannot_place_and_never_skips_silently(tmp_path: Path) -> None:
    """A file at the inbox root, a directory that is no agency id, a file of the wrong type:
    before, `ingest --once` said "ingested 0 events" and exited 0."""
    inbox, data_dir = tmp_path / "inbox", tmp_path / "hub"
    common = ("--data-dir", str(data_dir), "--format", "json")
    (inbox / "la.northshire").mkdir(parents=True)
    (inbox / "la.northshire" / "day1.jsonl").write_text("{}\n")
    (inbox / "loose.jsonl").write_text("{}\n")
    (inbox / "shire-county-council").mkdir()
    (inbox / "shire-county-council" / "export.csv").write_text("a,b\n")
    result = hub("ingest", "--inbox", str(inbox), "--once", *common, env={"HUB_LOG_LEVEL": "info"})
    assert result.returncode == 3, result.stderr
    skipped = {Path(s["file"]).name: s["why"] for s in as_json(result)["skipped_files"]}
    assert set(skipped) == {"la.northshire", "loose.jsonl", "export.csv"}
    assert "not an agency id" in skipped["la.northshire"]
    assert "inbox root" in skipped["loose.jsonl"] and ".jsonl" in skipped["export.csv"]
    logged = [json.loads(line) for line in result.stderr.splitlines()]
    assert {Path(e["file"]).name for e in logged if e["event"] == "inbox_file_skipped"} == set(
        skipped
    )
    status = hub("status", "--inbox", str(inbox), *common)
    assert status.returncode == 3
    assert {Path(s["file"]).name for s in as_json(status)["inbox_not_read"]} == set(skipped)


def test_every_file_the_hub_writes_is_its_users_alone(tmp_path: Path) -> None:
    """Before, with a data directory that already existed 0755 and the usual umask 022, the
    stores were created 0644: readable by every account on the machine."""
    data_dir, inbox = tmp_path / "hub", tmp_path / "hub" / "inbox"
    data_dir.mkdir()
    data_dir.chmod(0o755)

    def as_operator(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args, "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            preexec_fn=lambda: os.umask(0o022),  # the usual umask of a login shell
        )

    published = as_operator(
        "publish", "--adapter", "la-csv", "--agency", "shire-county-council",
        "--file", str(SAMPLES / "la-case-management.csv"), "--inbox", str(inbox),
    )  # fmt: skip
    assert published.returncode == 3, published.stderr  # one sample row is unmapped, on purpose
    ingested = as_operator("ingest", "--inbox", str(inbox), "--once")
    assert ingested.returncode in (0, 3), ingested.stderr
    assert "data_dir_open_to_others" in ingested.stderr and "chmod 700" in ingested.stderr
    assert as_operator("consumer", "run", "clocks", "--once").returncode == 0
    written = list(data_dir.rglob("*"))
    assert {p.name for p in written} >= {"events.sqlite", "keys.sqlite"}
    assert any(p.parent.name == "consumers" for p in written)
    assert any(p.suffix == ".jsonl" for p in written)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path

    (data_dir / "events.sqlite").chmod(0o644)  # as an earlier version left it
    status = as_operator("status")
    assert status.returncode == 0, status.stderr
    assert "store_files_narrowed" in status.stderr
    assert stat.S_IMODE((data_dir / "events.sqlite").stat().st_mode) == 0o600


def test_the_demo_dashboard_and_hub_indicators_report_the_same_quarter_and_figures(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    """Before, the demo's dashboard was as at 1 January 2026 (Q3 2025/26) while `hub
    indicators` reported the quarter before today, which the demo holds no events in."""
    data_dir, _ = demo
    asked = hub("indicators", "--format", "html", "--data-dir", str(data_dir))
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.rstrip("\n") == (data_dir / "indicators.html").read_text().rstrip("\n")
    today = datetime.now(ZoneInfo("Europe/London")).date()
    if latest_complete_quarter(today).contains(today - timedelta(days=1)):
        pytest.skip("the demo's overnight incident falls in the last complete quarter today")
    # The demo's history ends in December 2025; both name the quarter with its months.
    named = "Q3 2025/26 (October to December 2025)"
    assert named in asked.stdout
    assert "reports the last one it holds events in (as at 2026-01-01)" in asked.stderr
    text = hub("indicators", "--data-dir", str(data_dir), env={"COLUMNS": "90"})
    assert " ".join(text.stdout.split()).startswith(
        f"Partnership indicators as at 1 January 2026: {named}"
    )
    assert "none reached the hub in Q3 2025/26" in " ".join(text.stdout.split())
