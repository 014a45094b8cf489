"""One gate, by construction: the code itself is read to check that nothing but the disclosure
gate decides disclosures, writes audit entries or builds them, and nothing but the redaction
module writes the markers that stand in for withheld content. A new surface that shapes or
audits by itself fails here before it can leak."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATE = "hub/disclosure_gate.py"
RELEASE = "hub/disclosure_release.py"  # the gate's pure part: what one decided entry releases
REDACTION = "hub/policies/redaction.py"
MARKERS = {"[redacted]", "[shielded]", "[retracted]", "[withheld]"}
MARKERS_MODULE = "hub/domain/markers.py"  # their one definition


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for folder in ("hub", "consumers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found.append((str(path.relative_to(ROOT)), ast.parse(path.read_text())))
    return found


def calls(tree: ast.Module, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            or (isinstance(node.func, ast.Name) and node.func.id == name)
        )
    ]


def test_only_the_gate_writes_audit_entries_and_decides() -> None:
    writers = {
        (module, line) for module, tree in modules() for line in calls(tree, "record_access")
    }
    assert writers and {module for module, _ in writers} == {GATE}
    builders = {module for module, tree in modules() if calls(tree, "AuditEntry")}
    assert builders == {GATE}
    deciders = {module for module, tree in modules() if calls(tree, "decide")}
    assert deciders == {GATE}


def test_the_markers_are_written_out_in_one_place() -> None:
    """Spelled out nowhere else, so a surface cannot write its own stand-in for content; the
    constants are imported by the redaction module (which writes them), the gate's release
    (a retraction's stand-in), the renderers that recognise them, and the log scrubber."""
    found = {
        module
        for module, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in MARKERS
    }
    assert found == {MARKERS_MODULE}


def test_only_the_gate_shapes_event_content() -> None:
    """`shape` (shielding and redaction), a record's restrictions and the release of one entry
    are called by the gate alone."""
    for name in ("shape", "restrictions", "released_copy"):
        users = {module for module, tree in modules() if calls(tree, name)}
        assert users and users <= {RELEASE, REDACTION}, (name, users)
    for name in (
        "shown_entry",
        "retracted_entry",
        "withheld_entry",
        "after_reviews",
        "released_patterns",
        "release_items",
    ):
        users = {module for module, tree in modules() if calls(tree, name)}
        assert users == {GATE}, (name, users)
