"""`hub governance ropa|dpia` as a user runs it (issue 18): both documents in both formats,
generated from the agreement in force, changing when the agreement does, and refused when a
rule names no condition for the special category or criminal offence data it can permit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.policies.agreements import AGREEMENTS_DIR

SAMPLES = Path(__file__).resolve().parents[2] / "hub" / "samples"


def governance(
    tmp_path: Path, *args: str, agreements: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_DIRECTORY": str(SAMPLES / "practitioners.yaml")}
    env.pop("HUB_AGREEMENTS_DIR", None)
    if agreements is not None:
        env["HUB_AGREEMENTS_DIR"] = str(agreements)
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "governance", *args,
         "--data-dir", str(tmp_path / "hub"), "--quiet"],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("document", ["ropa", "dpia"])
@pytest.mark.parametrize("form", ["markdown", "html"])
def test_both_documents_in_both_formats(tmp_path: Path, document: str, form: str) -> None:
    out = tmp_path / f"{document}.{form}"
    result = governance(tmp_path, document, "--format", form, "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    # Names, not ids; UK times with the zone; the agreement in force now.
    assert "Shire Constabulary" in text and "NHS Shire Integrated Care Board" in text
    assert "shire-constabulary" not in text and "shire-safeguarding-partnership" not in text
    assert "version 2026.1" in text and ("GMT" in text or "BST" in text)
    assert "Schedule 1 Part 2 paragraph 18" in text and "paragraph 36" in text
    if form == "html":
        assert text.startswith("<!doctype html>") and '<html lang="en-GB">' in text
        assert '<th scope="col">' in text and '<th scope="row">' in text
    else:
        assert text.startswith("# ")
    if document == "ropa":
        assert "Transfers to third countries" in text and "Morag" not in text  # DPOs only
    else:
        assert "Risks and mitigations" in text and "Sign-off" in text


def test_as_of_uses_the_agreement_then_in_force(tmp_path: Path) -> None:
    result = governance(tmp_path, "ropa", "--as-of", "2025-06-01")
    assert result.returncode == 0, result.stderr
    assert "version 2025.1" in result.stdout and "1 Jun 2025, 23:59 BST" in result.stdout
    assert "Operation Encompass - the child's school DSL" not in result.stdout  # added in 2026.1


def test_a_changed_agreement_changes_the_record_of_processing(tmp_path: Path) -> None:
    agreements = tmp_path / "agreements"
    agreements.mkdir()
    document = yaml.safe_load((AGREEMENTS_DIR / "shire-2026.1.yaml").read_text())
    (family,) = [r for r in document["rules"] if r["id"] == "family-help"]
    family["roles"].append("health-practitioner")
    family["purposes"].append("child-protection-planning")
    (agreements / "shire-2026.1.yaml").write_text(yaml.safe_dump(document))
    before = governance(tmp_path, "ropa").stdout
    changed = governance(tmp_path, "ropa", agreements=agreements)
    assert changed.returncode == 0, changed.stderr
    after = changed.stdout

    def icb(text: str) -> str:
        return text.split("### NHS Shire Integrated Care Board")[1].split("\n### ")[0]

    assert "family help worker, social worker at Shire County Council" in icb(before)
    assert (
        "family help worker, social worker, health practitioner at Shire County Council, "
        "NHS Shire Integrated Care Board" in icb(after)
    )
    staff_purposes = "Purposes: what its staff are shown | child protection enquiry"
    assert "family help" not in icb(before).split(staff_purposes)[1].split("|")[0]
    assert "family help" in icb(after).split(staff_purposes)[1].split("|")[0]


def test_a_rule_without_its_condition_is_refused_naming_rule_and_field(tmp_path: Path) -> None:
    agreements = tmp_path / "agreements"
    agreements.mkdir()
    document = yaml.safe_load((AGREEMENTS_DIR / "shire-2026.1.yaml").read_text())
    (encompass,) = [r for r in document["rules"] if r["id"] == "operation-encompass"]
    del encompass["criminal_offence_condition"]
    (agreements / "shire-2026.1.yaml").write_text(yaml.safe_dump(document))
    result = governance(tmp_path, "dpia", agreements=agreements)
    assert result.returncode == 1 and not result.stdout
    assert "rule operation-encompass: criminal_offence_condition is required" in result.stderr
    assert encompass["description"] not in result.stderr
    assert "public-task" not in result.stderr and "police.domestic" not in result.stderr
    assert not (tmp_path / "hub").exists()  # refused before anything was opened
