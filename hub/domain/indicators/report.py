"""Specifications of the indicators and the report built from them: rows, sharing measures,
withheld items, coverage notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from hub.domain.indicators.common import (
    AGENCY_TYPE_LABELS,
    AGENCY_TYPES,
    SMALL,
    SUPPRESSED,
    Polarity,
    Rag,
    Unit,
)
from hub.domain.indicators.facts import (
    OTHER_WITHHOLDING,
    WITHHOLDING_CATEGORIES,
    WITHHOLDING_LABELS,
    Child,
    WithholdingReviewFact,
)
from hub.domain.indicators.figures import (
    Figure,
    RagRule,
    Target,
    count,
    direction_of_travel,
    published_value,
    rate,
    suppress,
    suppress_group,
)
from hub.domain.indicators.measures import (
    SharingStats,
    overdue_withholding_reviews,
    received_in,
    sharing_stats,
)
from hub.domain.indicators.periods import Quarter, latest_complete_quarter
from hub.domain.indicators.specs import (
    AT_END,
    BASIS_SHORT,
    DEFAULT_TARGETS,
    IN_QUARTER,
    NOT_SUPPORTED,
    SHARING,
    SPECS,
    STATUTORY,
    Definitions,
    IndicatorSpec,
    period_in_words,
)
from hub.domain.taxonomy import AgencyType


@dataclass(frozen=True)
class Benchmark:
    """What a dashboard row shows beside its figure; every text is words, never empty."""

    england: str  # "22% (England 2023/24)" or "not published"
    quartile: str  # "1st".."4th", "not published", "not comparable until Q4", ...
    england_value: float | None = None
    reporting_year: str | None = None
    source_url: str | None = None
    source: str | None = None  # publication and table, as cited in the file
    quartile_number: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "england": self.england,
            "england_value": self.england_value,
            "england_reporting_year": self.reporting_year,
            "england_source": self.source,
            "england_source_url": self.source_url,
            "quartile": self.quartile,
            "quartile_number": self.quartile_number,
        }


@dataclass(frozen=True)
class IndicatorRow:
    code: str
    title: str
    area: str
    section: str  # "dashboard" | "sharing" | "latency-by-agency" | "withheld-by-reason"
    unit: Unit
    polarity: Polarity
    basis: str
    latest: Figure
    previous: Figure
    target: Target | None = None
    rag: Rag | None = None
    direction: str | None = None
    travel: str | None = None
    group: str | None = None  # agency type of an agency's row; None otherwise
    definition: str = ""  # what is counted, and the source it follows
    period_text: str = ""  # the latest figure's period in words
    previous_quarter: Quarter | None = None  # None: the report's previous quarter
    rolling: Figure | None = None  # a year-to-date rate's rolling 12-month figure, too
    benchmark: Benchmark | None = None  # a dashboard row's national comparators

    def as_dict(self, latest: Quarter, previous: Quarter) -> dict[str, Any]:
        before = self.previous_quarter or previous
        extra: dict[str, Any] = {}
        if self.rolling is not None:
            extra["rolling_12_months"] = {
                "period": period_in_words("rolling-12-months", latest),
                **self.rolling.published(self.unit),
            }
        return {
            "code": self.code,
            "indicator": self.title,
            "area": self.area,
            "section": self.section,
            "unit": self.unit,
            "polarity": self.polarity,
            "basis": self.basis,
            "definition": self.definition,
            "period": latest.label,
            "period_in_words": self.period_text or latest.name,
            "latest": self.latest.published(self.unit),
            "previous_period": before.label,
            "previous": self.previous.published(self.unit),
            **extra,
            "direction": self.direction,
            "travel": self.travel,
            "target": None if self.target is None else self.target.text(self.unit),
            "rag": self.rag,
            "group": self.group,
            **({} if self.benchmark is None else {"comparators": self.benchmark.as_dict()}),
        }


def finish_row(
    row: IndicatorRow, targets: Mapping[str, Target], rule: RagRule, *, rated: bool = True
) -> IndicatorRow:
    """Direction of travel, target and RAG of a row whose figures are already suppressed
    (no RAG when the quarter is not `rated`: the hub holds no events in it)."""
    direction, travel = direction_of_travel(row.latest, row.previous, row.unit, row.polarity)
    target = targets.get(row.code)
    rag: Rag | None = None
    value = None if row.latest.suppressed else published_value(row.latest.value, row.unit)
    if target is not None and value is not None and rated:
        rag = rule.rag(float(value), target)
    return replace(row, direction=direction, travel=travel, target=target, rag=rag)


@dataclass(frozen=True)
class IndicatorReport:
    as_at: date
    latest: Quarter
    previous: Quarter
    rows: tuple[IndicatorRow, ...]
    rule: RagRule = field(default_factory=RagRule)
    notes: tuple[str, ...] = ()  # what a reader must know to read the figures right
    comparators: str = ""  # which national comparators file the rows are beside, and why

    def section(self, name: str) -> list[IndicatorRow]:
        return [r for r in self.rows if r.section == name]

    def row(self, code: str) -> IndicatorRow:
        return next(r for r in self.rows if r.code == code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": "Partnership indicators",
            "as_at": self.as_at.isoformat(),
            "latest_period": {**self.latest.as_dict(), "name": self.latest.name},
            "previous_period": self.previous.as_dict(),
            "periods": (
                "UK financial-year quarters; the latest is the last quarter complete on the "
                "as-at date (its last day included). Each indicator says its period: rates "
                "year to date (April to the quarter's end) unless the partnership defines them "
                "over 12 months, children in a state at the quarter's end, information sharing "
                "over records received in the quarter. Previous: the previous quarter's figure "
                "(year to date for rates), or for home education the same quarter a year earlier."
            ),
            "rag_rule": self.rule.describe(),
            "notes": list(self.notes),
            **({"comparators": self.comparators} if self.comparators else {}),
            "suppression": (
                f"'{SUPPRESSED}': a numerator or denominator of 1 to 4, or a second figure "
                "hidden so that the first cannot be worked out from a published total."
            ),
            "indicators": [r.as_dict(self.latest, self.previous) for r in self.rows],
            "not_supported": [{"indicator": name, "why": why} for name, why in NOT_SUPPORTED],
        }


def _spec_row(
    children: Sequence[Child], latest: Quarter, spec: IndicatorSpec, definitions: Definitions
) -> IndicatorRow:
    """A dashboard indicator's row: its figure for the quarter and for the quarter it is
    compared with (the previous quarter, or a year earlier), each over its own period (a
    year-to-date rate's previous figure is the previous quarter's year to date)."""
    before = spec.previous_quarter(latest)
    basis = spec.basis(definitions)
    figure = spec.compute(children, latest, definitions)
    rolling = None
    if basis == "year-to-date":
        rolling_definitions = replace(
            definitions, windows={**definitions.windows, spec.code: "rolling-12-months"}
        )
        rolling = _rolling_beside(figure, spec.compute(children, latest, rolling_definitions))
    return IndicatorRow(
        code=spec.code,
        title=spec.title,
        area=spec.area,
        section="sharing" if spec.area == SHARING else "dashboard",
        unit=spec.unit,
        polarity=spec.polarity,
        basis=BASIS_SHORT[basis],
        latest=suppress(figure),
        previous=suppress(spec.compute(children, before, definitions)),
        definition=spec.definition(definitions),
        period_text=period_in_words(basis, latest),
        previous_quarter=before,
        rolling=rolling,
    )


def _rolling_beside(year_to_date: Figure, rolling: Figure) -> Figure:
    """The rolling 12-month figure published beside a year-to-date one, suppressed also when
    the two differ by 1 to 4 in numerator or denominator: the difference is the figure for
    the months before April, which subtraction would otherwise give away."""
    differences = (
        (r - y) for r, y in zip(rolling.counts(), year_to_date.counts(), strict=True) if r - y
    )
    if any(d in SMALL for d in differences):
        return replace(rolling, suppressed=True)
    return suppress(rolling)


@dataclass(frozen=True)
class SharingMeasure:
    name: str
    code: str
    title: str
    unit: Unit
    polarity: Polarity


SHARING_MEASURES = (
    SharingMeasure(
        "median",
        "sharing-latency-median",
        "median hours from recording to the hub",
        "hours",
        "lower",
    ),
    SharingMeasure(
        "p90",
        "sharing-latency-p90",
        "90th percentile hours from recording to the hub",
        "hours",
        "lower",
    ),
    SharingMeasure(
        "within",
        "shared-within-expectation",
        "shared within the expected time",
        "percent",
        "higher",
    ),
)


def _sharing_rows(
    children: Sequence[Child], latest: Quarter, previous: Quarter
) -> list[IndicatorRow]:
    """Latency and timeliness by agency type and by agency, with secondary suppression of an
    agency's count within its type (the type's count is published)."""
    periods = {"latest": received_in(children, latest), "previous": received_in(children, previous)}
    agencies = sorted(
        {(r.agency_type, r.agency) for records in periods.values() for r in records},
        key=lambda pair: (AGENCY_TYPES.index(AgencyType(pair[0])), pair[1]),
    )
    # Suppression decided on the share counts, per period, within each agency type.
    stats: dict[str, dict[tuple[str, str], tuple[SharingStats, bool]]] = {}
    for period, records in periods.items():
        stats[period] = {}
        for agency_type in AGENCY_TYPES:
            mine = [r for r in records if r.agency_type == agency_type.value]
            by_agency = {
                a: [r for r in mine if r.agency == a] for t, a in agencies if t == agency_type
            }
            total_stats = sharing_stats(mine)
            part_stats = {a: sharing_stats(rs) for a, rs in by_agency.items()}
            total, parts = suppress_group(
                Figure(None, denominator=total_stats.shares),
                {a: Figure(None, denominator=s.shares) for a, s in part_stats.items()},
            )
            stats[period][(agency_type.value, "")] = (total_stats, total.suppressed)
            for a, s in part_stats.items():
                stats[period][(agency_type.value, a)] = (s, parts[a].suppressed)

    def figures(key: tuple[str, str], measure: str) -> tuple[Figure, Figure]:
        pair = []
        for period in ("latest", "previous"):
            s, hidden = stats[period].get(key, (sharing_stats([]), False))
            if measure == "within":
                figure = rate(s.within_expectation, s.shares)
            else:
                value = s.median_hours if measure == "median" else s.p90_hours
                figure = Figure(value, denominator=s.shares)
            pair.append(replace(figure, suppressed=hidden or figure.suppressed))
        return pair[0], pair[1]

    rows: list[IndicatorRow] = []
    keys = [(t.value, "") for t in AGENCY_TYPES] + list(agencies)
    for type_code, agency in keys:
        name = agency or AGENCY_TYPE_LABELS[AgencyType(type_code)]
        suffix = f"{type_code}/{agency}" if agency else type_code
        section = "latency-by-agency" if agency else "sharing"
        for measure in SHARING_MEASURES:
            latest_figure, previous_figure = figures((type_code, agency), measure.name)
            rows.append(
                IndicatorRow(
                    code=f"{measure.code}/{suffix}",
                    title=f"{name}: {measure.title}",
                    area=SHARING,
                    section=section,
                    unit=measure.unit,
                    polarity=measure.polarity,
                    basis=IN_QUARTER,
                    latest=latest_figure,
                    previous=previous_figure,
                    group=type_code if agency else None,
                )
            )
    return rows


def _withheld_rows(
    children: Sequence[Child], latest: Quarter, previous: Quarter
) -> list[IndicatorRow]:
    """Items received in the quarter that their publisher withheld from some recipients, in
    total and by reason category (an item with reasons in two categories counts in both)."""
    categories = [*WITHHOLDING_CATEGORIES, OTHER_WITHHOLDING]
    suppressed: dict[str, tuple[Figure, dict[str, Figure]]] = {}
    for period, quarter in (("latest", latest), ("previous", previous)):
        items = [r for r in received_in(children, quarter) if r.withheld]
        parts = {c: count(sum(c in r.withheld for r in items)) for c in categories}
        suppressed[period] = suppress_group(count(len(items)), parts)
    rows = [
        IndicatorRow(
            code="withheld-items/total",
            title="Items withheld from some recipients",
            area=SHARING,
            section="withheld-by-reason",
            unit="count",
            polarity="neutral",
            basis=IN_QUARTER,
            latest=suppressed["latest"][0],
            previous=suppressed["previous"][0],
        )
    ]
    for category in categories:
        rows.append(
            IndicatorRow(
                code=f"withheld-items/{category}",
                title=f"Withheld: {WITHHOLDING_LABELS[category]}",
                area=SHARING,
                section="withheld-by-reason",
                unit="count",
                polarity="neutral",
                basis=IN_QUARTER,
                latest=suppressed["latest"][1][category],
                previous=suppressed["previous"][1][category],
            )
        )
    return rows


def _review_rows(
    children: Sequence[Child],
    latest: Quarter,
    previous: Quarter,
    reviews: Mapping[str, Sequence[WithholdingReviewFact]],
) -> list[IndicatorRow]:
    return [
        IndicatorRow(
            code="withholding-reviews-overdue",
            title="Withheld items past their review date",
            area=SHARING,
            section="withheld-by-reason",
            unit="count",
            polarity="lower",
            basis=AT_END,
            latest=overdue_withholding_reviews(children, latest, reviews),
            previous=overdue_withholding_reviews(children, previous, reviews),
        )
    ]


def build_report(
    children: Sequence[Child],
    as_at: date,
    targets: Mapping[str, Target] | None = None,
    rule: RagRule | None = None,
    reviews: Mapping[str, Sequence[WithholdingReviewFact]] | None = None,
    definitions: Definitions = STATUTORY,
) -> IndicatorReport:
    """Every indicator for the last quarter complete on `as_at` (its last day included) and
    what each is compared with. `reviews`: withholding reviews by record key
    (`hub.withholding_reviews`), for the count of withheld items past their review date.
    `definitions`: the partnership's own definitions (statutory by default)."""
    targets = DEFAULT_TARGETS if targets is None else targets
    rule = rule or RagRule()
    latest = latest_complete_quarter(as_at)
    previous = latest.previous()
    rows: list[IndicatorRow] = [_spec_row(children, latest, s, definitions) for s in SPECS]
    rows += _sharing_rows(children, latest, previous)
    rows += _withheld_rows(children, latest, previous)
    rows += _review_rows(children, latest, previous, reviews or {})
    notes = _coverage_notes(children, latest)
    finished = tuple(finish_row(r, targets, rule, rated=not notes.no_events) for r in rows)
    return IndicatorReport(as_at, latest, previous, finished, rule, notes.texts)


@dataclass(frozen=True)
class _Coverage:
    no_events: bool  # the hub holds no record of an event in the quarter
    texts: tuple[str, ...]


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _coverage_notes(children: Sequence[Child], latest: Quarter) -> _Coverage:
    """What the hub holds against the quarter reported: a quarter it holds no events in is
    not rated (its zeros say nothing about practice), and information sharing figures over a
    quarter in which nothing reached the hub say why they are empty."""
    records = [r for child in children for r in child]
    if not records:
        return _Coverage(True, ("The hub holds no records yet: there is nothing to report.",))
    texts = []
    last_event = max(r.occurred for r in records)
    no_events = not any(latest.contains(r.occurred) for r in records)
    if no_events:
        texts.append(
            f"The hub holds no record of an event in {latest.label} (its latest is from "
            f"{_day(last_event)}), so no figure is rated against its target: a zero here "
            "says nothing about practice."
        )
    if not any(latest.contains(r.received) for r in records):
        first = min(r.received for r in records)
        last = max(r.received for r in records)
        span = f"on {_day(first)}" if first == last else (f"between {_day(first)} and {_day(last)}")
        texts.append(
            f"Information sharing covers records received in the quarter, and none reached the "
            f"hub in {latest.label}: it received the records it holds {span}."
        )
    return _Coverage(no_events, tuple(texts))
