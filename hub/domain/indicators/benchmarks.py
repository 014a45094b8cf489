"""Each dashboard row beside its published national comparators (docs/comparators.md): the
England figure with its reporting year and source, and the quartile of local authorities the
row's figure falls in.

Pure: the caller loads the comparators file (`hub.reports.indicators_report.comparators_for`
chooses it as the county report does: a quarter of 2024/25 compares with the figures for the
year ending 31 March 2024) and passes it in with a sentence saying which file it is.

A figure is placed in a quartile only when its period is comparable with DfE's: the published
figures are for a whole year ending 31 March (or children at 31 March), so only a Q4 figure
over the year to date, the 12 months to the quarter's end, or at the quarter's end compares;
before Q4 the row says "not comparable until Q4". A quarter's own count never compares.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hub.domain.indicators.comparators import Comparator, Comparators, quartile, quartile_label
from hub.domain.indicators.figures import published_value
from hub.domain.indicators.periods import Quarter
from hub.domain.indicators.report import Benchmark, IndicatorReport, IndicatorRow
from hub.domain.indicators.specs import BASIS_SHORT

NOT_PUBLISHED = "not published"
NOT_COMPARABLE_UNTIL_Q4 = "not comparable until Q4"
NOT_COMPARABLE_QUARTER = "not comparable (a figure for the quarter alone)"
NO_FIGURE = "no figure to place (suppressed or no data)"
_FULL_YEAR_BASES = {
    BASIS_SHORT["year-to-date"],
    BASIS_SHORT["rolling-12-months"],
    BASIS_SHORT["at-end"],
}


def percent_text(value: float) -> str:
    """A published percentage as published: 22 -> "22%", 22.6 -> "22.6%"."""
    return f"{value:g}%"


def comparable_with_full_year(row: IndicatorRow, latest: Quarter) -> bool:
    """Whether a row's latest figure covers the same kind of period as DfE's year to 31 March."""
    return latest.number == 4 and row.basis in _FULL_YEAR_BASES


def benchmark(row: IndicatorRow, latest: Quarter, comparator: Comparator | None) -> Benchmark:
    """The England figure and quartile of one dashboard row."""
    if comparator is None:
        return Benchmark(NOT_PUBLISHED, NOT_PUBLISHED)
    england = comparator.england
    fields: dict[str, Any] = {"england": NOT_PUBLISHED}
    if england is not None:
        cited = england.source
        fields = {
            "england": f"{percent_text(england.value)} (England {cited.reporting_year})",
            "england_value": england.value,
            "reporting_year": cited.reporting_year,
            "source_url": cited.url,
            "source": f"{cited.publication}, {cited.table}",
        }
    if comparator.quartiles is None or row.unit != comparator.unit:
        return Benchmark(quartile=NOT_PUBLISHED, **fields)
    if row.basis not in _FULL_YEAR_BASES:
        return Benchmark(quartile=NOT_COMPARABLE_QUARTER, **fields)
    if not comparable_with_full_year(row, latest):
        return Benchmark(quartile=NOT_COMPARABLE_UNTIL_Q4, **fields)
    value = None if row.latest.suppressed else published_value(row.latest.value, row.unit)
    if value is None:
        return Benchmark(quartile=NO_FIGURE, **fields)
    number = quartile(float(value), comparator.quartiles.boundaries, comparator.direction)
    return Benchmark(quartile=quartile_label(number), quartile_number=number, **fields)


def with_benchmarks(
    report: IndicatorReport, comparators: Comparators | None, about: str
) -> IndicatorReport:
    """The report with each dashboard row's `Benchmark` and `about` (which comparators file,
    for which year, and why that one) as `report.comparators`. `comparators` None: no file
    applies (the rows say "not published" and `about` says why)."""
    rows = tuple(
        replace(
            row,
            benchmark=benchmark(
                row,
                report.latest,
                None if comparators is None else comparators.for_indicator(row.code),
            ),
        )
        if row.section == "dashboard"
        else row
        for row in report.rows
    )
    return replace(report, rows=rows, comparators=about)
