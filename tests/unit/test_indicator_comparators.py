"""The indicators report beside the national comparators (docs/comparators.md): each dashboard
row shows the published England figure with its year and source and the quartile in words, in
JSON, CSV and the terminal table; the file is chosen as the county report chooses it; a figure
is placed in a quartile only in Q4; a partnership's own file is refused naming the field."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.adapters.comparators import SHIPPED_COMPARATOR_FILES
from hub.cli import main
from hub.cli.common import EXIT_USAGE
from hub.domain.indicators import Quarter, build_report, rate
from hub.domain.indicators.benchmarks import (
    NO_FIGURE,
    NOT_COMPARABLE_UNTIL_Q4,
    NOT_PUBLISHED,
    benchmark,
)
from hub.domain.indicators.comparators import Comparator, parse_comparators
from hub.domain.indicators.specs import BASIS_SHORT
from hub.reports.indicators_report import (
    comparators_for,
    render_csv,
    render_json,
    render_text,
    with_comparators,
)

Q3_2024 = date(2025, 1, 1)  # reports Q3 2024/25: compares with the 2023/24 figures
ENGLAND_2023_24 = "22% (England 2023/24)"


def _shipped(year: int) -> dict[str, Any]:
    loaded = yaml.safe_load(SHIPPED_COMPARATOR_FILES[year].read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _with_boundaries(boundaries: list[float]) -> dict[str, Any]:
    """The shipped 2023/24 file with quartile boundaries for re-referrals, as a partnership
    that has them from DfE would add them (lower is better)."""
    data = _shipped(2024)
    entry = data["indicators"]["re-referrals-12-months"]
    entry["quartiles"] = {
        "boundaries": boundaries,
        "source": dict(entry["england"]["source"], table="LAIT (sent on request)"),
    }
    return data


def test_json_gives_each_dashboard_row_the_england_figure_and_quartile_in_words() -> None:
    report = with_comparators(build_report([], Q3_2024))
    document = json.loads(render_json(report))
    assert "national-comparators-2024.yaml" in document["comparators"]
    rows = {r["code"]: r for r in document["indicators"]}
    national = rows["re-referrals-12-months"]["comparators"]
    assert national["england"] == ENGLAND_2023_24
    assert national["england_reporting_year"] == "2023/24"
    assert national["england_source_url"].startswith("https://explore-education-statistics")
    assert national["quartile"] == "not published"
    dashboard = [r for r in document["indicators"] if r["section"] == "dashboard"]
    assert dashboard and all(r["comparators"]["quartile"] for r in dashboard)
    assert all(r["comparators"]["england"] for r in dashboard)
    assert rows["repeat-cp-plans"]["comparators"]["england"] == "24.7% (England 2023/24)"
    assert rows["assessments-45-days"]["comparators"]["england"] == "not published"
    assert all("comparators" not in r for r in document["indicators"] if r not in dashboard)


def test_csv_has_england_and_quartile_columns_never_empty_on_the_dashboard() -> None:
    report = with_comparators(build_report([], Q3_2024))
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    by_code = {r["code"]: r for r in rows}
    referrals = by_code["re-referrals-12-months"]
    assert referrals["england"] == ENGLAND_2023_24
    assert referrals["england_source_url"].startswith("https://")
    assert referrals["quartile"] == "not published"
    dashboard = [r for r in rows if r["section"] == "dashboard"]
    assert dashboard and all(r["england"] and r["quartile"] for r in dashboard)


def test_the_text_table_says_the_file_and_each_rows_england_figure_and_quartile() -> None:
    text = " ".join(render_text(with_comparators(build_report([], Q3_2024)), 100).split())
    assert (
        "National comparators: national-comparators-2024.yaml (version 2024.2), the figures "
        "for the year ending 31 March 2024 (2023/24), which a quarter of 2024/25 compares with."
    ) in text
    assert f"England figure: {ENGLAND_2023_24}. Quartile: not published." in text


@pytest.mark.parametrize(
    ("quarter", "year", "instead"),
    [
        (Quarter(2024, 3), 2024, False),  # Q3 2024/25: the 2023/24 figures
        (Quarter(2024, 4), 2024, False),  # Q4 2024/25 too: 2024/25 is not yet published
        (Quarter(2025, 1), 2025, False),
        (Quarter(2026, 3), 2025, True),  # 2025/26 not shipped: the latest earlier, said so
    ],
)
def test_a_quarter_of_y_compares_with_the_year_ending_31_march_y(
    quarter: Quarter, year: int, instead: bool
) -> None:
    comparators, about = comparators_for(quarter)
    assert comparators is not None and comparators.version.startswith(f"{year}.")
    assert SHIPPED_COMPARATOR_FILES[year].name in about
    assert ("none is shipped for the year ending 31 March 2026" in about) is instead


def test_no_file_for_the_year_or_earlier_leaves_words_not_figures() -> None:
    report = with_comparators(build_report([], date(2022, 1, 1)))  # Q3 2021/22
    assert "none is shipped for the year ending 31 March 2021" in report.comparators
    row = report.row("re-referrals-12-months")
    assert row.benchmark is not None
    assert (row.benchmark.england, row.benchmark.quartile) == (NOT_PUBLISHED, NOT_PUBLISHED)


def _comparator(boundaries: list[float]) -> Comparator:
    comparator = parse_comparators(_with_boundaries(boundaries)).for_indicator(
        "re-referrals-12-months"
    )
    assert comparator is not None
    return comparator


@pytest.mark.parametrize(
    ("referrals", "expected"),
    [(15, "1st"), (20, "2nd"), (22, "3rd"), (30, "4th")],  # lower is better; of 100 referrals
)
def test_a_q4_figure_is_placed_in_its_quartile(referrals: int, expected: str) -> None:
    report = build_report([], date(2025, 4, 1))  # Q4 2024/25
    row = report.row("re-referrals-12-months")
    row = replace(row, latest=rate(referrals, 100))
    placed = benchmark(row, report.latest, _comparator([17.0, 20.0, 25.0]))
    assert placed.quartile == expected
    assert placed.england == ENGLAND_2023_24


def test_before_q4_a_year_to_date_figure_is_not_placed_in_a_quartile() -> None:
    report = build_report([], Q3_2024)
    row = replace(report.row("re-referrals-12-months"), latest=rate(15, 100))
    assert row.basis == BASIS_SHORT["year-to-date"]
    placed = benchmark(row, report.latest, _comparator([17.0, 20.0, 25.0]))
    assert (placed.quartile, placed.quartile_number) == (NOT_COMPARABLE_UNTIL_Q4, None)
    rolling = replace(row, basis=BASIS_SHORT["rolling-12-months"])  # 12 months to December
    assert benchmark(rolling, report.latest, _comparator([17.0, 20.0, 25.0])).quartile == (
        NOT_COMPARABLE_UNTIL_Q4
    )


def test_a_partnership_file_with_boundaries_shows_them_through_every_output(
    tmp_path: Path,
) -> None:
    own = tmp_path / "our-comparators.yaml"
    own.write_text(yaml.safe_dump(_with_boundaries([17.0, 20.0, 25.0])), encoding="utf-8")
    q3 = with_comparators(build_report([], Q3_2024), own)
    assert "the partnership's file our-comparators.yaml" in q3.comparators
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(render_csv(q3)))}
    assert rows["re-referrals-12-months"]["quartile"] == NOT_COMPARABLE_UNTIL_Q4
    q4 = with_comparators(build_report([], date(2025, 4, 1)), own)  # no data: nothing to place
    document = json.loads(render_json(q4))
    referrals = next(r for r in document["indicators"] if r["code"] == "re-referrals-12-months")
    assert referrals["comparators"]["quartile"] == NO_FIGURE


def test_hub_indicators_refuses_an_invalid_comparators_file_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with_boundaries([25.0, 20.0, 17.0])), encoding="utf-8")
    code = main(
        ["indicators", "--data-dir", str(tmp_path / "hub"), "--comparators", str(bad), "--quiet"]
    )
    assert code == EXIT_USAGE == 2
    error = capsys.readouterr().err
    assert "indicators.re-referrals-12-months.quartiles.boundaries" in error
    assert "ascending" in error
    assert not (tmp_path / "hub").exists()  # refused before the hub is opened
