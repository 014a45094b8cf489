"""`hub find` as a practitioner runs it, on the demo: the front door finds Madison by a
misspelt family name and her date of birth, a police officer with no relationship finds no one,
bad terms are named by their flag and never repeated, and `hub chronology Madison` says how
to find a child by name instead of repeating the name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import as_json, hub

MADISON = "9999939082"  # the sibling case's middle child, as the demo prints her
BORN = "2020-06-02"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo, and Madison's family name as her chronology shows it to the lead
    practitioner."""
    data_dir = tmp_path_factory.mktemp("find") / "hub"
    result = hub("demo", "--children", "40", "--quiet", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    asked = ("chronology", MADISON, "--as", "lcpp-0001", "--purpose", "child-protection-planning")
    view = as_json(hub(*asked, "--format", "json", "--quiet", "--data-dir", str(data_dir)))
    details = next(e for e in view["entries"] if e["kind"] == "la.child-details")["details"]
    assert details["given_names"] == ["Madison"] and details["date_of_birth"] == BORN
    return data_dir, str(details["family_name"])


def find(data_dir: Path, *args: str) -> Any:
    return hub("find", "--quiet", "--data-dir", str(data_dir), *args)


def test_the_front_door_finds_madison_by_a_misspelt_name(demo: tuple[Path, str]) -> None:
    data_dir, family = demo
    misspelt = family[:-1] if len(family) > 6 else family + "e"  # a letter dropped or added
    result = find(data_dir, "--as", "mash-0001", "--family-name", misspelt.upper(),
                  "--dob", BORN, "--given-name", "Maddison",
                  "--purpose", "child-protection-enquiry")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Madison {family}: born 2 June 2020" in result.stdout
    assert "999 993 9082" in result.stdout
    terms = ("--family-name", family, "--dob", BORN, "--purpose", "child-protection-enquiry")
    answer = as_json(find(data_dir, "--as", "mash-0001", *terms, "--format", "json"))
    (madison,) = [r for r in answer["results"] if r["given_names"] == ["Madison"]]
    assert (madison["child"], madison["match"], madison["sex"]) == (MADISON, "exact", "female")
    assert "address" not in json.dumps(answer)


def test_no_relationship_no_front_door_finds_no_one(demo: tuple[Path, str]) -> None:
    data_dir, family = demo
    result = find(data_dir, "--as", "po-0002", "--family-name", family, "--dob", BORN,
                  "--purpose", "child-protection-enquiry")  # fmt: skip
    assert result.returncode == 0
    assert "that you may see: 0" in result.stdout and MADISON not in result.stdout
    assert "999 993 9082" not in result.stdout
    # The hub's own log lines (without --quiet) carry nothing of the search.
    logged = hub("find", "--data-dir", str(data_dir), "--as", "mash-0001", "--family-name",
                 family, "--dob", BORN, "--purpose", "child-protection-enquiry")  # fmt: skip
    assert logged.returncode == 0 and f"Madison {family}" in logged.stdout
    for term in (family, BORN, MADISON):
        assert term not in logged.stderr


def test_bad_terms_are_named_by_flag_never_repeated(demo: tuple[Path, str]) -> None:
    data_dir, family = demo
    result = find(data_dir, "--as", "mash-0001", "--family-name", family, "--dob", "2020-02-31")
    assert result.returncode == 2
    assert "--dob" in result.stderr and "2020-02-31" not in result.stderr
    result = find(data_dir, "--as", "mash-0001", "--family-name", "1234", "--dob", BORN)
    assert result.returncode == 2
    assert "--family-name" in result.stderr and "1234" not in result.stderr


def test_a_name_given_as_the_child_says_how_to_find_a_child(demo: tuple[Path, str]) -> None:
    data_dir, _ = demo
    result = hub("chronology", "Madison", "--as", "lcpp-0001", "--purpose",
                 "child-protection-planning", "--data-dir", str(data_dir))  # fmt: skip
    assert result.returncode == 2
    assert "CHILD must be an NHS number or a provisional id" in result.stderr
    assert "hub find --as ID --family-name NAME --dob YYYY-MM-DD" in result.stderr
    assert "Madison" not in result.stderr and "Traceback" not in result.stderr
    ended = hub("break-glass", "end", "Jayden", "--as", "po-0002", "--data-dir", str(data_dir))
    assert ended.returncode == 2 and "hub find" in ended.stderr and "Jayden" not in ended.stderr
