"""The benchmark modules run and write the common result format (benchmarks/README.md).

Smoke only: tiny sizes, and no timing is asserted (timings are never asserted in tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import ingest_inbox
from benchmarks.__main__ import figures_of
from benchmarks.common import Figure, target_met


def test_ingest_inbox_writes_the_common_format(tmp_path: Path) -> None:
    out = tmp_path / "inbox.json"
    args = argparse.Namespace(
        quick=True,
        json_out=out,
        data_dir=None,
        events=120,
        children=30,
        batch_size=50,
        repeat=1,
        store="sqlite",
        postgres_dsn=ingest_inbox.POSTGRES_DSN,
    )
    ingest_inbox.run(args)
    result = json.loads(out.read_text())
    assert result["benchmark"] == "ingest_inbox_sqlite"
    assert {"machine", "versions", "commit", "at", "params"} <= result.keys()
    floor = next(f for f in result["figures"] if "floor)" in f["name"])
    assert floor["unit"] == "events/s" and floor["target"] == {"ratio_min": 0.7}
    assert floor["value"] > 0 and floor["baseline_value"] > 0
    assert floor["ratio"] is not None and floor["met"] in (True, False)
    assert result["extra"]["hub_rows"] > 120  # each event and its idempotency claim


def test_runner_reads_any_module_following_the_format() -> None:
    entry = {
        "module": "someone_elses",
        "status": "ok",
        "result": {
            "benchmark": "someone_elses",
            "figures": [
                {
                    "name": "p99",
                    "value": 30.0,
                    "unit": "ms",
                    "baseline_value": 20.0,
                    "target": {"max": 50},
                },
                {"name": "reported only", "value": 1.0, "unit": "x"},
                "not a figure",
            ],
        },
    }
    figures = figures_of(entry)
    assert [f["name"] for f in figures] == ["p99", "reported only"]
    assert figures[0]["ratio"] == 1.5 and figures[0]["met"] is True
    assert figures[1].get("met") is None
    assert figures_of({"module": "x", "status": "failed"}) == []


def test_targets() -> None:
    assert Figure("a", 12_000, "events/s", baseline_value=20_000, target={"min": 10_000}).met
    missed = Figure("a", 12_000, "events/s", baseline_value=30_000, target={"ratio_min": 0.5})
    assert missed.ratio == 0.4 and missed.met is False
    assert target_met({}, 1.0, None) is None
