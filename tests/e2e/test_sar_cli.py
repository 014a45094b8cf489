"""`hub sar` end to end on the demo partnership (issue 18): a lead DPO opens a subject access
case for the sibling case child, reads the draft's flags, is refused the pack while anything
flagged is undecided, decides each item (withhold under the crime exemption, redact a field,
release), extends the clock, and builds pack.json and pack.pdf from the decided items only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.domain.uk_time import UK
from tests.e2e.test_cli import as_json, hub
from tests.integration.test_review_pack import assert_tagged_and_accessible, pdf_text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("sar") / "hub"
    result = hub("demo", "--children", "20", "--format", "json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir, as_json(result)["sibling_case_disclosures"]["child"]


def sar(data_dir: Path, *args: str, expect: int = 0) -> Any:
    result = hub("sar", *args, "--data-dir", str(data_dir), "--quiet")
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def test_a_subject_access_request_through_to_the_pack(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, child = demo
    received = (datetime.now(UK) - timedelta(days=2)).date().isoformat()
    opened = as_json(
        sar(
            data_dir,
            "open",
            child,
            "--as",
            "dpo-0001",
            "--requester",
            "Dana Whitlock",
            "--basis",
            "parental-responsibility",
            "--received",
            received,
            "--identity-verified",
            "passport and council tax bill",
            "--format",
            "json",
        )
    )
    case = opened["case"]
    assert opened["requester"]["basis"] == "parental-responsibility"
    assert opened["status"] == "open" and opened["received"] == received
    listed = sar(data_dir, "list", "--as", "dpo-0001").stdout
    assert case in listed and "days left" in listed and "Dana Whitlock" in listed

    draft = as_json(sar(data_dir, "show", case, "--as", "dpo-0001", "--format", "json"))
    items = draft["items"]
    flagged = [i for i in items if i["needs_decision"]]
    assert flagged and draft["undecided"] == len(flagged)
    police = [i for i in items if "crime-exemption-possible" in i["flags"]]
    assert police and all(i["agency_type"] == "police" or i["categories"] for i in police)
    text = sar(data_dir, "show", case, "--as", "dpo-0001").stdout
    assert "UNDECIDED" in text and "flag crime-exemption-possible" in text

    refused = sar(data_dir, "pack", case, "--as", "dpo-0001", "--out", str(tmp_path), expect=1)
    assert f"{len(flagged)} flagged items still need a decision" in refused.stderr
    assert not (tmp_path / "pack.json").exists()
    refused = sar(data_dir, "show", case, "--as", "lcpp-0001", expect=4)
    assert "data protection officers" in refused.stderr

    withheld, redacted = [], []
    for item in flagged:
        ref = item["ref"]
        if "crime-exemption-possible" in item["flags"]:
            args = ["--withhold", "crime", "--reason", "the force advises a live investigation"]
            withheld.append(ref)
        elif item["third_party_fields"]:
            field = item["third_party_fields"][0]
            args = ["--redact", field, "--exemption", "third-party", "--reason", "a worker"]
            redacted.append((ref, field))
        else:
            args = ["--release", "--reason", "about the child; no harm in release"]
        sar(data_dir, "decide", case, ref, "--as", "dpo-0001", *args)
    bad = sar(
        data_dir,
        "decide",
        case,
        flagged[0]["ref"],
        "--as",
        "dpo-0001",
        "--release",
        "--exemption",
        "crime",
        "--reason",
        "x",
        expect=1,
    )
    assert bad.stderr.startswith("hub: exemption:")

    extended = as_json(
        sar(
            data_dir,
            "extend",
            case,
            "--as",
            "dpo-0001",
            "--months",
            "2",
            "--reason",
            "records from four agencies",
            "--requester-told",
            datetime.now(UK).date().isoformat(),
            "--format",
            "json",
        )
    )
    assert extended["status"] == "extended" and extended["due"] > extended["first_due"]

    out = tmp_path / "pack"
    built = as_json(
        sar(data_dir, "pack", case, "--as", "dpo-0001", "--out", str(out), "--format", "json")
    )
    pdf = (out / "pack.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    assert_tagged_and_accessible(pdf, "Response to a subject access request")
    document = json.loads((out / "pack.json").read_text())
    text = pdf_text(pdf)
    assert document["case"] in text and "Who the child's information was shared with" in text
    assert all(r["ref"] in "".join(text.split()) for r in document["records"])
    refs = {r["ref"] for r in document["records"]}
    assert refs and not refs & set(withheld)
    released = {i["ref"] for i in items if not i["needs_decision"]} | {
        i["ref"] for i in flagged if i["ref"] not in withheld
    }
    assert refs <= released
    for ref, field in redacted:
        record = next((r for r in document["records"] if r["ref"] == ref), None)
        if record is not None:
            assert record["details"][field.removeprefix("details.")] == "[redacted]"
    assert document["audit_ref"] == built["audit_ref"]
    assert {n["exemption"] for n in document["not_included"]} == ({"crime"} if withheld else set())
    assert document["requester"]["name"] == "Dana Whitlock"
    assert document["disclosed_to"]  # who the child's data was disclosed to stays in the pack
    after = as_json(sar(data_dir, "list", "--as", "dpo-0001", "--format", "json"))
    (mine,) = [c for c in after["cases"] if c["case"] == case]
    assert mine["status"] == "completed" and mine["packs"][0]["audit_ref"] == built["audit_ref"]
    # The pack was an audited disclosure: export, for the data protection audit.
    rows = as_json(
        hub(
            "audit",
            "--as",
            "dpo-0001",
            "--practitioner",
            "dpo-0001",
            "--format",
            "json",
            "--data-dir",
            str(data_dir),
            "--quiet",
        )
    )["rows"]
    (audited,) = [r for r in rows if r["audit_ref"] == built["audit_ref"]]
    assert audited["action"] == "export" and set(audited["disclosed"]) == refs


def test_an_organisations_dpo_sees_only_their_cases(demo: tuple[Path, str]) -> None:
    data_dir, child = demo
    opened = as_json(
        sar(
            data_dir,
            "open",
            child,
            "--as",
            "dpo-0002",
            "--requester",
            "The child",
            "--basis",
            "data-subject",
            "--received",
            datetime.now(UK).date().isoformat(),
            "--format",
            "json",
        )
    )
    assert opened["scope"] == "shire-constabulary"
    listed = as_json(sar(data_dir, "list", "--as", "dpo-0003", "--format", "json"))
    assert opened["case"] not in [c["case"] for c in listed["cases"]]
    refused = sar(data_dir, "show", opened["case"], "--as", "dpo-0003", expect=4)
    assert "handled by its organisation's DPOs" in refused.stderr
    draft = as_json(sar(data_dir, "show", opened["case"], "--as", "dpo-0002", "--format", "json"))
    agencies = {i["agency"] for i in draft["items"]}
    assert "shire-constabulary" in agencies
    lead = as_json(sar(data_dir, "list", "--as", "dpo-0001", "--format", "json"))
    assert opened["case"] in [c["case"] for c in lead["cases"]]  # a lead DPO sees every case
