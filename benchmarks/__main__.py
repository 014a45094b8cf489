"""Run every benchmark, each in its own process, and print one table.

    python -m benchmarks [--quick] [--only ingest_inbox,ingest_kafka] [--skip api_load]

Each module is run as `python -m benchmarks.<module> --json-out <file> [--quick] [args]` in
sequence (one at a time: the machine has two cores), its JSON read (the format is in
benchmarks/README.md), and everything combined into benchmarks/results/suite-<ts>.json with
the machine, library versions and commit. A module that is missing or fails is recorded as
such, with the tail of its stderr; one that refuses (exit status 2: it lacks what it needs and
says what, benchmarks/README.md) is recorded as refused; the suite goes on. Figures measured
with --quick are marked as not evidence: "quick" in the table's met? column, and
`"evidence": false` on each figure in the JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    QUICK_NOTE,
    RESULTS,
    describe_target,
    format_value,
    git_commit,
    machine,
    met_label,
    target_met,
    versions,
)

REFUSED = 2  # the exit status of benchmarks.common.refuse


@dataclass(frozen=True)
class Module:
    name: str
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    shared_data_dir: bool = False  # gets --data-dir <suite scratch>/store (built once, reused)
    timeout_s: int = 4 * 3600
    env: dict[str, str] = field(default_factory=dict)


# In order: ingest first; then the 1M-event store that chronology builds and the next two reuse.
MODULES = [
    Module("ingest_inbox"),
    Module("ingest_inbox", args=("--store", "postgres"), quick_args=("--store", "postgres")),
    Module("ingest_kafka"),
    # Scale-out: one worker process, then two, over the static partition assignment.
    Module("ingest_kafka", args=("--store", "postgres"), quick_args=("--store", "postgres")),
    Module("ingest_kafka", args=("--workers", "2"), quick_args=("--workers", "2")),
    # Build + rebuild, then the views in a fresh process (a server does not run the rebuild
    # itself: `hub projection rebuild` is its own process, and its heap is not the server's).
    Module(
        "chronology_latency",
        args=("--no-views",),
        quick_args=("--no-views",),
        shared_data_dir=True,
    ),
    Module(
        "chronology_latency",
        args=("--no-rebuild",),
        quick_args=("--no-rebuild",),
        shared_data_dir=True,
    ),
    Module("chronology_page"),  # its own small store: the page's cost is per child
    Module("verify_and_rotation", shared_data_dir=True),
    Module("audit_queries", shared_data_dir=True),
    Module("find_child", shared_data_dir=True),
    Module("find_child", args=("--store", "postgres"), quick_args=("--store", "postgres")),
    Module("national"),
    Module("api_load"),
    Module("inbox_latency"),  # its own store: the inbox's cost is per child and related person
    # Two hubs (transfer) and eleven (discovery), each its own data dir, and their own broker.
    Module("federation"),
]


def label(module: Module, quick: bool) -> str:
    args = module.quick_args if quick else module.args
    return module.name + (f" {' '.join(args)}" if args else "")


def run_module(module: Module, quick: bool, scratch: Path, out: Path) -> dict[str, Any]:
    name = label(module, quick)
    if importlib.util.find_spec(f"benchmarks.{module.name}") is None:
        return {"module": name, "status": "missing"}
    command = [sys.executable, "-m", f"benchmarks.{module.name}", "--json-out", str(out)]
    command += list(module.quick_args if quick else module.args)
    if quick:
        command.append("--quick")
    if module.shared_data_dir:
        command += ["--data-dir", str(scratch / ("store-quick" if quick else "store"))]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    try:
        process = subprocess.run(
            command,
            stdout=sys.stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=module.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"module": name, "status": "timeout", "seconds": module.timeout_s}
    seconds = round(time.monotonic() - started, 1)
    if process.returncode != 0 or not out.exists():
        return {
            "module": name,
            "status": "refused" if process.returncode == REFUSED else "failed",
            "returncode": process.returncode,
            "seconds": seconds,
            "stderr_tail": process.stderr[-3000:],
        }
    try:
        result = json.loads(out.read_text())
    except json.JSONDecodeError as error:
        return {"module": name, "status": "bad-json", "error": str(error)}
    return {"module": name, "status": "ok", "quick": quick, "seconds": seconds, "result": result}


def figures_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """A module's figures, with ratio and met filled in where it left them out, each marked
    "evidence": false when measured at --quick sizes (the module's result or the run says so)."""
    result = entry.get("result") or {}
    figures = result.get("figures")
    if not isinstance(figures, list):
        return []
    quick = bool(result.get("quick") or entry.get("quick"))
    rows = []
    for raw in figures:
        if not isinstance(raw, dict) or "name" not in raw:
            continue
        figure = dict(raw)
        value, base = figure.get("value"), figure.get("baseline_value")
        if figure.get("ratio") is None and isinstance(value, int | float) and base:
            figure["ratio"] = round(value / base, 3)
        target = figure.get("target") or {}
        if figure.get("met") is None and target and isinstance(value, int | float):
            figure["met"] = target_met(target, value, figure.get("ratio"))
        figure["benchmark"] = result.get("benchmark", entry["module"])
        figure["quick"] = quick
        figure["evidence"] = not quick
        rows.append(figure)
    return rows


def print_table(entries: list[dict[str, Any]]) -> None:
    header = (
        f"{'figure':<64} {'hub':>12} {'unit':<10} {'baseline':>12} {'ratio':>7} "
        f"{'target':>22} {'met?':>5}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    quick = False
    for entry in entries:
        if entry["status"] != "ok":
            said = [line for line in entry.get("stderr_tail", "").splitlines() if line.strip()]
            print(f"{entry['module']:<64} {entry['status'].upper()}")
            if said:  # a refusal's message (or a failure's last line) says what is missing
                print(f"    {said[-1][:200]}")
            continue
        for f in figures_of(entry):
            ratio = f.get("ratio")
            met = met_label(f.get("met"), f["quick"])
            quick = quick or f["quick"]
            print(
                f"{str(f['name'])[:64]:<64} {format_value(f.get('value')):>12} "
                f"{f.get('unit', '')!s:<10} {format_value(f.get('baseline_value')):>12} "
                f"{(f'{ratio:.3f}' if isinstance(ratio, int | float) else '-'):>7} "
                f"{describe_target(f.get('target') or {}):>22} {met:>5}"
            )
    if quick:
        print(QUICK_NOTE)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark; one table, one JSON.")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default="", help="comma-separated module names")
    parser.add_argument("--skip", default="", help="comma-separated module names")
    parser.add_argument(
        "--scratch", type=Path, help="where shared stores live (kept; default: a temporary one)"
    )
    parser.add_argument("--out", type=Path, help="the combined JSON (default: results/)")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    skip = {n for n in args.skip.split(",") if n}
    modules = [m for m in MODULES if (not only or m.name in only) and m.name not in skip]

    started_at = datetime.now(UTC)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="hub-bench-suite-"))
    entries = []
    try:
        with tempfile.TemporaryDirectory(prefix="hub-bench-json-") as tmp:
            for number, module in enumerate(modules):
                out = Path(tmp) / f"{number:02d}-{module.name}.json"
                entries.append(run_module(module, args.quick, scratch, out))
    finally:
        if args.scratch is None:  # a 1M-event store is gigabytes: not left behind in /tmp
            shutil.rmtree(scratch, ignore_errors=True)

    print_table(entries)
    suite = {
        "suite": "hub benchmarks",
        "quick": args.quick,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "versions": versions(),
        "commit": git_commit(),
        "scratch": str(scratch),
        "figures": [f for entry in entries for f in figures_of(entry)],
        "modules": entries,
    }
    path = args.out or RESULTS / f"suite-{started_at:%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=2))
    print(f"written to {path}")
    failed = [e["module"] for e in entries if e["status"] not in ("ok", "missing")]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
