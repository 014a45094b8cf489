"""The partnership indicators report as JSON, CSV, a terminal table or an HTML dashboard.

All four render the same `IndicatorReport` (hub.domain.indicators): only aggregates, with
suppressed figures shown as "c". The HTML dashboard is one self-contained file, to keep or
send: styles inline, charts as inline SVG with a title and description each and the same
figures in tables beside them, no script and nothing fetched (its own Content-Security-Policy
forbids it), so it opens the same from disk, in a mail client or printed.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from hub.adapters.comparators import SHIPPED_COMPARATOR_FILES, load_comparators
from hub.domain.indicators import (
    AGENCY_TYPE_LABELS,
    AGENCY_TYPES,
    NOT_SUPPORTED,
    SUPPRESSED,
    Figure,
    IndicatorReport,
    IndicatorRow,
    Unit,
    published_value,
)
from hub.domain.indicators.benchmarks import with_benchmarks
from hub.domain.indicators.comparators import Comparators
from hub.domain.indicators.periods import Quarter
from hub.reports.rendering import template_environment

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CSV_COLUMNS = (
    "area",
    "section",
    "code",
    "indicator",
    "unit",
    "basis",
    "period",
    "period_in_words",
    "definition",
    "latest",
    "latest_numerator",
    "latest_denominator",
    "previous_period",
    "previous",
    "previous_numerator",
    "previous_denominator",
    "direction",
    "travel",
    "target",
    "rag",
    "england",
    "england_source_url",
    "quartile",
)
RAG_WORDS = {"G": "Green: meets the target", "A": "Amber: close to the target", "R": "Red"}
ARROWS = {"up": "\u25b2", "down": "\u25bc", "same": "\u25b6"}


def _year(year_ending: int) -> str:
    return f"the year ending 31 March {year_ending} ({year_ending - 1}/{year_ending % 100:02d})"


def comparators_for(
    quarter: Quarter, path: Path | str | None = None
) -> tuple[Comparators | None, str]:
    """The comparators a report for `quarter` is put beside, and a sentence saying which.

    As the county report does, a quarter of financial year Y/Y+1 compares with the figures
    for the year ending 31 March Y (Q3 2024/25 with 2023/24: the latest published while the
    year runs); if the hub ships no file for that year, the latest earlier one, and the
    sentence says so. `path`: a partnership's own file instead (`hub indicators --comparators`);
    raises `ComparatorsError` naming the field when it is invalid."""
    if path is not None:
        comparators = load_comparators(path)
        return comparators, (
            f"National comparators: the partnership's file {Path(path).name} "
            f"(version {comparators.version})."
        )
    wanted = quarter.year
    years = [y for y in SHIPPED_COMPARATOR_FILES if y <= wanted]
    compares = f"{_year(wanted)}, which a quarter of {quarter.label[3:]} compares with"
    if not years:
        return None, (
            f"National comparators: none is shipped for {compares}, nor for any earlier year."
        )
    chosen = max(years)
    file = SHIPPED_COMPARATOR_FILES[chosen]
    comparators = load_comparators(file)
    shipped = f"{file.name} (version {comparators.version})"
    if chosen == wanted:
        return comparators, f"National comparators: {shipped}, the figures for {compares}."
    return comparators, (
        f"National comparators: none is shipped for {compares}; shown instead, the latest "
        f"earlier: {shipped}, the figures for {_year(chosen)}."
    )


def with_comparators(report: IndicatorReport, path: Path | str | None = None) -> IndicatorReport:
    """The report with each dashboard row beside its comparators (`comparators_for`)."""
    comparators, about = comparators_for(report.latest, path)
    return with_benchmarks(report, comparators, about)


def render_json(report: IndicatorReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render_csv(report: IndicatorReport) -> str:
    """One row per indicator; a suppressed figure is "c", no data is empty. A dashboard row's
    England figure and quartile are words where there is no number ("not published"); rows
    with no national comparator (information sharing) leave them empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.as_dict()["indicators"]:
        latest, previous = row["latest"], row["previous"]
        national = row.get("comparators") or {}
        writer.writerow(
            _cell(v)
            for v in (
                row["area"],
                row["section"],
                row["code"],
                row["indicator"],
                row["unit"],
                row["basis"],
                row["period"],
                row["period_in_words"],
                row["definition"],
                latest["value"],
                latest["numerator"],
                latest["denominator"],
                row["previous_period"],
                previous["value"],
                previous["numerator"],
                previous["denominator"],
                row["direction"],
                row["travel"],
                row["target"],
                row["rag"],
                national.get("england"),
                national.get("england_source_url"),
                national.get("quartile"),
            )
        )
    return out.getvalue()


def shown(figure: Figure, unit: Unit) -> str:
    """A figure as a person reads it: 85.2%, 12.5 h, 1,178, c, or an en dash for no data."""
    if figure.suppressed:
        return SUPPRESSED
    value = published_value(figure.value, unit)
    if value is None:
        return "\u2013"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "hours":
        return f"{value:,.1f} h"
    return f"{value:,}"


def counts(figure: Figure) -> str:
    """'284 of 313' behind a rate, the shares behind a latency; empty when suppressed."""
    if figure.suppressed or not figure.denominator:
        return ""
    if figure.numerator is not None:
        return f"{figure.numerator:,} of {figure.denominator:,}"
    return f"{figure.denominator:,} shares"


def render_text(report: IndicatorReport, width: int | None = None) -> str:
    """A terminal table: figures in fixed columns on the right, indicator names wrapped at
    words in the space left (the terminal's width by default), never cut."""
    width = width or shutil.get_terminal_size((122, 24)).columns
    figures = 12 + 12 + 2 + 16 + 9 + 5  # latest, previous, DOT, target, RAG
    name_width = max(width - figures - 1, 20)

    def wrapped(text: str, within: int) -> list[str]:
        return textwrap.wrap(text, within, break_long_words=False, break_on_hyphens=False)

    lines = [
        *wrapped(
            f"Partnership indicators as at {report.as_at.day} {report.as_at:%B %Y}: "
            f"{report.latest.name}, compared with {report.previous.name} (home education: "
            "the same quarter a year earlier)",
            width,
        ),
        *(line for note in report.notes for line in wrapped(f"Note: {note}", width)),
        *(wrapped(report.comparators, width) if report.comparators else []),
        "",
        f"{'Indicator':<{name_width + 1}}{'Latest':>12}{'Previous':>12}  {'DOT':<16}"
        f"{'Target':>9}  RAG",
    ]
    for section, heading in (
        ("dashboard", "Dashboard"),
        ("sharing", "Information sharing"),
        ("latency-by-agency", "Sharing latency by agency"),
        ("withheld-by-reason", "Withheld items by reason"),
    ):
        lines.append(f"-- {heading}")
        for row in report.section(section):
            dot = " ".join(p for p in (row.direction, row.travel and f"({row.travel})") if p)
            target = row.target.text(row.unit) if row.target else ""
            name, *more = wrapped(row.title, name_width)
            lines.append(
                f"{name:<{name_width + 1}}{shown(row.latest, row.unit):>12}"
                f"{shown(row.previous, row.unit):>12}  {dot:<16}{target:>9}  {row.rag or ''}"
            )
            lines += [f"  {line}" for line in wrapped(" ".join(more), name_width - 2)]
            if row.definition:
                about = f"{row.definition} Period: {row.period_text}."
                if row.previous_quarter is not None:
                    about += f" Previous: {row.previous_quarter.label}."
                if row.rolling is not None:
                    about += f" Over the 12 months to its end: {shown(row.rolling, row.unit)}."
                if row.benchmark is not None:
                    national = row.benchmark
                    about += f" England figure: {national.england}. Quartile: {national.quartile}."
                lines += [f"  {line}" for line in wrapped(about, width - 2)]
    lines += ["", *wrapped(f"c: suppressed (small numbers). {report.rule.describe()}.", width)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# HTML charts: geometry is worked out here, the template only draws it.

CHART_WIDTH = 680
LABEL_WIDTH = 270
PLOT_WIDTH = 300
BAR_HEIGHT = 20
BAR_GAP = 8
TOP = 10


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # the value as shown, "c" when suppressed
    css: str
    y: float
    width: float | None  # None: no bar (suppressed or no data)

    @property
    def text_x(self) -> float:
        return LABEL_WIDTH + (self.width or 0) + 6

    @property
    def middle(self) -> float:
        return self.y + BAR_HEIGHT / 2 + 4


@dataclass(frozen=True)
class Chart:
    ident: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    height: float
    target_x: float | None = None
    target_text: str = ""
    label_x: float = LABEL_WIDTH - 8
    width: int = CHART_WIDTH

    @property
    def plot_left(self) -> int:
        return LABEL_WIDTH


def _chart(
    ident: str,
    title: str,
    items: Sequence[tuple[str, Figure, str]],
    unit: Unit,
    target: float | None = None,
    target_text: str = "",
    scale: float | None = None,
) -> Chart:
    values = [
        float(v)
        for _, f, _ in items
        if not f.suppressed and (v := published_value(f.value, unit)) is not None
    ]
    top = scale or max([*values, target or 0.0, 1.0])
    bars = []
    for index, (label, figure, css) in enumerate(items):
        value = None if figure.suppressed else published_value(figure.value, unit)
        width = None if value is None else PLOT_WIDTH * float(value) / top
        text = shown(figure, unit)
        if figure.suppressed:
            text = "c (suppressed)"
        elif value is None:
            text = "no data"
        bars.append(Bar(label, text, css, TOP + index * (BAR_HEIGHT + BAR_GAP), width))
    described = "; ".join(f"{b.label}: {b.text}" for b in bars)
    if target is not None:
        described += f"; target {target_text}"
    height = TOP + len(bars) * (BAR_HEIGHT + BAR_GAP) + (18 if target is not None else 4)
    return Chart(
        ident=ident,
        title=title,
        description=described,
        bars=tuple(bars),
        height=height,
        target_x=None if target is None else LABEL_WIDTH + PLOT_WIDTH * target / top,
        target_text=target_text,
    )


def indicator_chart(report: IndicatorReport, row: IndicatorRow, ident: str) -> Chart:
    """Previous and latest period side by side, with the target marked."""
    return _chart(
        ident,
        row.title,
        [
            (f"Previous ({report.previous.label})", row.previous, "previous"),
            (f"Latest ({report.latest.label})", row.latest, "latest"),
        ],
        row.unit,
        target=None if row.target is None else row.target.value,
        target_text="" if row.target is None else f"target {row.target.text(row.unit)}",
        scale=100.0 if row.unit == "percent" else None,
    )


def latency_chart(report: IndicatorReport) -> Chart:
    items = []
    for agency_type in AGENCY_TYPES:
        label = AGENCY_TYPE_LABELS[agency_type]
        median = report.row(f"sharing-latency-median/{agency_type.value}").latest
        p90 = report.row(f"sharing-latency-p90/{agency_type.value}").latest
        items += [(f"{label}: median", median, "median"), (f"{label}: 90th pct", p90, "p90")]
    return _chart(
        "chart-latency",
        f"Hours from recording to the hub by agency type, {report.latest.label}",
        items,
        "hours",
    )


def withheld_chart(report: IndicatorReport) -> Chart:
    rows = [r for r in report.section("withheld-by-reason") if r.code != "withheld-items/total"]
    return _chart(
        "chart-withheld",
        f"Items withheld from some recipients by reason, {report.latest.label}",
        [(r.title.removeprefix("Withheld: "), r.latest, "withheld") for r in rows],
        "count",
    )


@functools.cache  # compiled once per process, not per report
def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATES_DIR)
    env.filters.update(shown=shown, counts=counts)
    return env


def render_html(report: IndicatorReport) -> str:
    four_agencies = report.row("all-four-agencies")
    charted = [*report.section("dashboard"), four_agencies]
    charts = {
        row.code: indicator_chart(report, row, f"chart-{index}")
        for index, row in enumerate(charted, start=1)
    }
    measures = ("sharing-latency-median", "sharing-latency-p90", "shared-within-expectation")
    latency_types = [
        {
            "label": AGENCY_TYPE_LABELS[t],
            "rows": [report.row(f"{m}/{t.value}") for m in measures],
        }
        for t in AGENCY_TYPES
    ]
    agencies: dict[str, dict[str, Any]] = {}
    for row in report.section("latency-by-agency"):
        measure, _, rest = row.code.partition("/")
        agency = rest.partition("/")[2]
        entry = agencies.setdefault(agency, {"agency": agency, "type": row.group, "rows": {}})
        entry["rows"][measure] = row
    by_agency = [
        {**entry, "rows": [entry["rows"][m] for m in measures]} for entry in agencies.values()
    ]
    template = _environment().get_template("indicators.html.j2")
    return template.render(
        report=report,
        charted=charted,
        charts=charts,
        latency_chart=latency_chart(report),
        withheld_chart=withheld_chart(report),
        latency_types=latency_types,
        by_agency=by_agency,
        type_labels={t.value: AGENCY_TYPE_LABELS[t] for t in AGENCY_TYPES},
        withheld=report.section("withheld-by-reason"),
        four_agencies=four_agencies,
        not_supported=NOT_SUPPORTED,
        rag_words=RAG_WORDS,
        arrows=ARROWS,
    )


def render(report: IndicatorReport, fmt: str) -> str:
    renderers = {
        "json": render_json,
        "csv": render_csv,
        "html": render_html,
        "text": render_text,
    }
    return renderers[fmt](report)
