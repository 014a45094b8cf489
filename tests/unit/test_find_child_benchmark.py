"""The find-a-child benchmark runs and writes the common result format (benchmarks/README.md).

Smoke only: tiny sizes, and no timing is asserted (timings are never asserted in tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import find_child


def test_find_child_writes_the_common_format(tmp_path: Path) -> None:
    out = tmp_path / "find.json"
    args = argparse.Namespace(
        quick=True,
        json_out=out,
        data_dir=tmp_path,
        entries=600,
        reads=3,
        store="sqlite",
        postgres_dsn=find_child.POSTGRES_DSN,
    )
    find_child.run(args)
    result = json.loads(out.read_text())
    assert result["benchmark"] == "find_child_sqlite"
    assert result["extra"]["index_rows"] >= 600 + 3 * find_child.TARGETS
    names = [f["name"] for f in result["figures"]]
    assert any(n.startswith("find a child") and n.endswith("p99") for n in names)
    for figure in result["figures"]:
        assert figure["unit"] == "ms" and figure["value"] > 0 and figure["baseline_value"] > 0
