"""`hub demo` as a person reads it in an 80-column terminal: the sibling case opens with who the
child is (the synthetic name and date of birth from the released child-details entries), each
entry says what happened in plain words with its whole summary wrapped (before, the demo printed
kind codes and lost the summary column at 80 columns), every time is UK time with the zone, and
the output ends by pointing to the page that shows the case. The commands a person then runs on
the demo's hub print UK times and dates, never ISO text with an offset."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

COLUMNS = 80
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": str(COLUMNS)},
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("demo-text") / "hub"
    result = hub("demo", "--children", "20", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir, result.stdout


def test_the_demo_shows_the_sibling_case_with_names_summaries_and_the_page(
    demo: tuple[Path, str],
) -> None:
    data_dir, out = demo
    lead = out.split("== Lead child protection practitioner", 1)[1].split("\n== ", 1)[0]
    lines = lead.splitlines()[1:]
    assert all(len(line) <= COLUMNS for line in lines), "\n".join(lines)
    text = " ".join(lead.split())
    # Who the child is, from the lead practitioner's release.
    assert "Madison Greenhalgh; born 2 June 2020" in text
    assert "NHS number or provisional id 9999939082" in text
    assert "status: On a child protection plan since 9 July 2025" in text
    assert "agencies involved: Shire County Council" in text
    # What happened in plain words, and every word of the summaries.
    assert "Child was not brought to an appointment" in text
    assert "health.was-not-brought" not in text and "la.referral" not in text
    for summary in (
        "Not brought to 1-year health visitor review",
        "Pupil said there is often no food at home",
        "Referral from school after disclosures",
        "Looked after under an interim care order",
    ):
        assert summary in text
    assert "2024-03-07 07:40 GMT" in text  # the police visit, UK time with the zone
    # The school DSL is told the child's name too, under her own agreement.
    dsl = out.split("== School designated safeguarding lead", 1)[1].split("\n== ", 1)[0]
    assert "Madison Greenhalgh" in " ".join(dsl.split())
    # The overnight incident's notice: UK times, never ISO with an offset.
    notice = out.split("sent the minimal notice to:", 1)[1].split("Nothing else", 1)[0]
    assert "+00:00" not in notice and "+01:00" not in notice
    assert (" GMT" in notice or " BST" in notice) and "due by" in notice
    assert "Madison" in notice and "born " in notice  # which child, from the notice's header
    # Where to see it on the page.
    tail = " ".join(out.split("The sibling case on its web page", 1)[1].split())
    assert f"hub token issue --practitioner lcpp-0001 --data-dir {data_dir}" in tail
    assert f"HUB_DEV_TOKENS=true hub serve --data-dir {data_dir}" in tail
    assert "on /chronology enter the NHS number 9999939082" in tail


def test_the_commands_people_run_next_print_uk_times_not_iso(demo: tuple[Path, str]) -> None:
    data_dir, _ = demo
    common = ("--data-dir", str(data_dir))
    outputs = {
        "notices": hub("notices", "list", "--as", "dsl-100001", *common),
        "agencies": hub("agency", "list", *common),
        "clocks": hub("clocks", "--as", "lcpp-0001", *common),
        "consumers": hub("consumer", "status", *common),
        "retention": hub("keys", "retention", "--years", "1", *common),
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stderr)
        assert not ISO_TIME.search(result.stdout), (name, result.stdout)
        assert "+00:00" not in result.stdout and "+01:00" not in result.stdout, name
    assert re.search(
        r"incident \d{1,2} \w{3} \d{4}, \d{2}:\d{2} (GMT|BST)", outputs["notices"].stdout
    )
    assert re.search(r"since \d{1,2} [A-Z][a-z]+ \d{4}", outputs["agencies"].stdout)
    assert re.search(
        r"last pass \d{1,2} \w{3} \d{4}, \d{2}:\d{2} (GMT|BST)", outputs["clocks"].stdout
    )
    assert re.search(r"last event \d{1,2} [A-Z][a-z]+ \d{4}", outputs["retention"].stdout)
    assert "last pass never" not in outputs["consumers"].stdout
    assert re.search(
        r"last pass \d{1,2} \w{3} \d{4}, \d{2}:\d{2} (GMT|BST)", outputs["consumers"].stdout
    )
