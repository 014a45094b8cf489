"""The documentation a publisher reads must match the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from hub.domain.taxonomy import KINDS, ROUTINE_KINDS, HarmCategory

ROOT = Path(__file__).resolve().parents[2]


def test_taxonomy_doc_lists_exactly_the_kinds_in_code() -> None:
    text = (ROOT / "docs" / "taxonomy.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9.-]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(KINDS)
    for category in HarmCategory:
        assert f"`{category.value}`" in text


def test_readme_names_the_two_setup_commands_that_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_taxonomy_doc_lists_exactly_the_routine_kinds() -> None:
    text = (ROOT / "docs" / "taxonomy.md").read_text()
    listed = text.split("<!-- routine kinds -->")[1].split("<!-- end routine kinds -->")[0]
    assert set(re.findall(r"`([a-z0-9.-]+)`", listed)) == ROUTINE_KINDS
