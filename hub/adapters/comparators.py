"""Reads the national comparators file (docs/comparators.md) from disk.

The figures and their validation live in `hub.domain.indicators.comparators`; this module only
reads YAML. `load_comparators()` with no argument reads the file shipped with the hub. Errors name
the file and the field, never a value from it.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hub.domain.indicators.comparators import Comparators, ComparatorsError, parse_comparators

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SHIPPED_COMPARATOR_FILES: dict[int, Path] = {
    2024: SAMPLES / "national-comparators-2024.yaml",
    2025: SAMPLES / "national-comparators-2025.yaml",
}
"""The files the hub ships, by the year ending 31 March their figures are for. A report for a
quarter of 2024/25 compares with 2023/24 figures (the latest published then), so old files stay."""
SHIPPED_COMPARATORS_PATH = SHIPPED_COMPARATOR_FILES[max(SHIPPED_COMPARATOR_FILES)]
"""The latest published figures the hub ships."""


def parse_comparators_text(text: str) -> Comparators:
    """Parse and validate the YAML text of a comparators file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ComparatorsError(f"the comparators file is not valid YAML{where}") from None
    return parse_comparators(data)


def load_shipped_comparators(year_ending: int | None = None) -> Comparators:
    """The shipped file for a reporting year (ending 31 March of `year_ending`), or the latest
    shipped file at or before it; the latest of all without an argument. A partnership reporting
    a quarter of 2024/25 compares with the 2023/24 figures: `load_shipped_comparators(2024)`."""
    years = sorted(y for y in SHIPPED_COMPARATOR_FILES if year_ending is None or y <= year_ending)
    if not years:
        raise ComparatorsError("no comparators file is shipped for that year or an earlier one")
    return load_comparators(SHIPPED_COMPARATOR_FILES[years[-1]])


def load_comparators(path: Path | str | None = None) -> Comparators:
    """Read and validate a comparators file; the latest shipped one unless a path is given
    (a partnership's own file, e.g. with its statistical neighbours added)."""
    file = Path(path) if path is not None else SHIPPED_COMPARATORS_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ComparatorsError(f"{file}: cannot be read ({error.strerror})") from None
    try:
        return parse_comparators_text(text)
    except ComparatorsError as error:
        raise ComparatorsError(f"{file}: {error}") from None
