"""`hub audit` as a data protection officer reads it (issue 18): a table with names,
organisations, the child's NHS number and UK times; CSV; `--from`/`--to`; break-glass reviews
that list what was disclosed under the grant."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.domain.uk_time import UK
from tests.e2e.test_cli import as_json, hub

UK_TIME = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("audit") / "hub"
    result = hub("demo", "--children", "20", "--format", "json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir, as_json(result)["sibling_case_disclosures"]["child"]


def audit(data_dir: Path, *args: str) -> Any:
    result = hub(
        "audit",
        "--as",
        "dpo-0001",
        *args,
        "--data-dir",
        str(data_dir),
        "--quiet",
        env={"COLUMNS": "240"},  # a wide terminal: no cell wraps
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_text_answer_is_a_table_with_names_and_uk_times(demo: tuple[Path, str]) -> None:
    data_dir, child = demo
    text = audit(data_dir, "--child", child).stdout
    assert "Who saw the child's record: " + child in text
    assert "Morag Ellison (lcpp-0001)" in text  # the name, not only the id
    assert "shire-county-council" in text and "(local authority)" in text
    assert "Amira Stenning (po-0002)" in text and "(police)" in text
    assert UK_TIME.search(text) and not ISO.search(text)
    assert not text.lstrip().startswith("{") and '"rows"' not in text
    # Every child is named only as the gate allows: the lead DPO is told who it is.
    outside = audit(data_dir, "--outside-relationship").stdout
    assert child in outside and "BREAK-GLASS" in outside
    streams = {
        r["child"] for r in as_json(audit(data_dir, "--child", child, "--format", "json"))["rows"]
    }
    assert not any(stream in outside for stream in streams)  # no pseudonym shown as a child


def test_csv_has_a_row_per_disclosure(demo: tuple[Path, str]) -> None:
    data_dir, child = demo
    rows = as_json(audit(data_dir, "--child", child, "--format", "json"))["rows"]
    out = audit(data_dir, "--child", child, "--format", "csv").stdout
    parsed = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(parsed) == len(rows) > 0
    assert {"when_uk", "practitioner", "organisation", "child", "items_disclosed"} <= set(parsed[0])
    assert [p["practitioner_id"] for p in parsed] == [r["practitioner"] for r in rows]
    assert [p["audit_ref"] for p in parsed] == [r["audit_ref"] for r in rows]
    assert all(p["child"] == child for p in parsed)
    morag = next(p for p in parsed if p["practitioner_id"] == "lcpp-0001")
    assert morag["practitioner"] == "Morag Ellison (lcpp-0001)"
    assert morag["when_uk"].endswith((" GMT", " BST"))


def test_from_and_to_filter_the_rows(demo: tuple[Path, str]) -> None:
    data_dir, child = demo
    rows = as_json(audit(data_dir, "--child", child, "--format", "json"))["rows"]
    times = sorted(datetime.fromisoformat(r["at"]) for r in rows)
    last = times[-1]
    later = as_json(
        audit(data_dir, "--child", child, "--format", "json", "--from", last.isoformat())
    )["rows"]
    assert later and all(datetime.fromisoformat(r["at"]) >= last for r in later)
    assert len(later) == sum(1 for t in times if t >= last)
    before = as_json(
        audit(
            data_dir,
            "--child",
            child,
            "--format",
            "json",
            "--to",
            (times[0] - timedelta(microseconds=1)).isoformat(),
        )
    )["rows"]
    assert before == []
    # A bare date is the whole day in England, either end.
    today = f"{last.astimezone(UK):%Y-%m-%d}"
    tomorrow = f"{last.astimezone(UK) + timedelta(days=1):%Y-%m-%d}"
    day = audit(data_dir, "--child", child, "--format", "json", "--from", today, "--to", today)
    assert len(as_json(day)["rows"]) == len(rows)
    after = audit(data_dir, "--child", child, "--format", "csv", "--from", tomorrow).stdout
    assert len(list(csv.DictReader(io.StringIO(after, newline="")))) == 0
    period = audit(data_dir, "--child", child, "--from", today).stdout
    assert "Period: from" in period and "00:00" in period
    # A bad date says which option, not a traceback.
    bad = hub("audit", "--as", "dpo-0001", "--child", child, "--from", "31/03/2026",
              "--data-dir", str(data_dir))  # fmt: skip
    assert bad.returncode == 2 and "--from" in bad.stderr and "Traceback" not in bad.stderr
    backwards = hub("audit", "--as", "dpo-0001", "--child", child, "--from", tomorrow,
                    "--to", today, "--data-dir", str(data_dir))  # fmt: skip
    assert backwards.returncode == 2 and "--from is after --to" in backwards.stderr


def test_break_glass_review_names_the_practitioner_and_what_the_grant_disclosed(
    demo: tuple[Path, str],
) -> None:
    data_dir, child = demo
    (grant,) = as_json(audit(data_dir, "--break-glass", "--format", "json"))["rows"]
    disclosed = grant["disclosures"]
    assert disclosed and all(d["break_glass_reason"] == grant["reason"] for d in disclosed)
    assert all(d["practitioner"] == "po-0002" for d in disclosed)
    # Exactly the officer's emergency disclosures of this child: not their refusals.
    everyone = as_json(audit(data_dir, "--child", child, "--format", "json"))["rows"]
    assert [d["audit_ref"] for d in disclosed] == [
        r["audit_ref"]
        for r in everyone
        if r["practitioner"] == "po-0002" and r["break_glass_reason"]
    ]
    text = audit(data_dir, "--break-glass").stdout
    assert "Amira Stenning (po-0002)" in text and "shire-constabulary (police)" in text
    assert f"Child         {child}" in text
    assert grant["reason"] in text and "awaiting review" in text
    assert UK_TIME.search(text) and not ISO.search(text)
    assert disclosed[0]["audit_ref"] in text
    flat = " ".join(text.split())
    for ref in disclosed[0]["disclosed"]:
        assert ref in flat
    rows = list(
        csv.DictReader(io.StringIO(audit(data_dir, "--break-glass", "--format", "csv").stdout))
    )
    assert [r["disclosure_audit_ref"] for r in rows] == [d["audit_ref"] for d in disclosed]
    assert rows[0]["practitioner"] == "Amira Stenning (po-0002)"


def test_naming_a_child_is_audited_and_an_erased_child_is_not_named(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    source, child = demo
    data_dir = tmp_path / "hub"
    shutil.copytree(source, data_dir)
    audit(data_dir, "--outside-relationship")
    mine = as_json(audit(data_dir, "--practitioner", "dpo-0001", "--format", "json"))["rows"]
    assert ("audit-query:child-identity", "answered") in {(r["action"], r["outcome"]) for r in mine}
    shred = hub("keys", "shred", child, "--reason", "retention", "--as", "dpo-0001",
                "--data-dir", str(data_dir))  # fmt: skip
    assert shred.returncode == 0, shred.stderr
    text = audit(data_dir, "--practitioner", "lcpp-0001").stdout
    assert "record erased on" in text and child not in text
    refused = hub("audit", "--as", "lcpp-0001", "--outside-relationship", "--data-dir",
                  str(data_dir))  # fmt: skip
    assert refused.returncode == 4 and json.dumps(child) not in refused.stdout


def test_fhir_audit_is_a_valid_bundle_naming_only_what_the_dpo_may_see(
    demo: tuple[Path, str],
) -> None:
    """`hub audit --as <DPO> --child C --format fhir`: a FHIR R4 Bundle of AuditEvents (checked
    with fhir.resources) carrying the rows the DPO's JSON answer holds and no more; the child
    named by NHS number exactly where the CSV form names them, never by stream id."""
    from fhir.resources.R4B.bundle import Bundle

    from hub.reports.audit_fhir import NHS_NUMBER_SYSTEM

    data_dir, child = demo
    for dpo in ("dpo-0001", "dpo-0002", "dpo-0004"):  # the lead DPO, police's, a school's

        def answer(*args: str, dpo: str = dpo) -> str:
            result = hub("audit", "--as", dpo, "--child", child, *args, "--data-dir",
                         str(data_dir), "--quiet")  # fmt: skip
            assert result.returncode == 0, result.stderr
            return result.stdout

        text = answer("--format", "fhir")
        document = json.loads(text)
        Bundle.model_validate(document)  # valid FHIR R4
        events = [e["resource"] for e in document["entry"]]
        rows = json.loads(answer("--format", "json"))["rows"]
        named = [r["child"] for r in csv.DictReader(io.StringIO(answer("--format", "csv")))]
        assert len(events) == len(rows) == len(named), dpo
        for event, row, named_as in zip(events, rows, named, strict=True):
            assert event["resourceType"] == "AuditEvent"
            assert event["agent"][0]["who"]["identifier"]["value"] == row["practitioner"]
            patient = event["entity"][0]["what"]["identifier"]
            if patient["system"] == NHS_NUMBER_SYSTEM:
                assert patient["value"] == child and named_as == child, dpo
            else:
                assert child not in named_as, dpo  # not named in CSV either
        assert {e["agent"][0]["who"]["identifier"]["value"] for e in events} <= {
            r["practitioner"] for r in rows
        }
        for stream in {r["child"] for r in rows if r.get("child")}:
            assert stream not in text, dpo  # a pseudonym is never shown as the child
        if child not in "".join(named):
            assert child not in text, dpo
        if dpo == "dpo-0001":
            assert events and child in text  # the lead DPO is told who the child is
