"""Partnership indicators: the performance figures a safeguarding partnership reports each
quarter, computed from the facts the hub's log holds, plus information-sharing indicators that
only a hub can compute (how fast agencies share, whether all four contribute, what is withheld).

Pure domain: plain facts in (one `RecordFact` per agency record, grouped by child), an as-at
date and targets; indicator rows out. No I/O, no clock, no child identifier in any output.

* Periods are UK financial-year quarters (Q1 April-June ... Q4 January-March; Q3 2024/25 is
  October-December 2024). The latest period is the last quarter complete before the as-at
  date, the previous period the quarter before it. Rates are over the 12 months ending at the
  quarter's end (a rolling year), counts of children in a state are at the quarter's end, and
  the information-sharing figures are over the quarter itself (by the date the hub received
  the record).
* A figure is suppressed ("c", as DfE publications do) when its numerator or denominator is
  between 1 and 4. Where figures in a group add up to a published total, a second figure is
  suppressed too so that the first cannot be worked out by subtraction.
* RAG: green when the target is met (a value equal to the target meets it), amber when it is
  missed by at most 20% of the target (relative), red otherwise; compared on the published
  (rounded) value. Direction of travel compares the latest and previous published values and
  says whether that is an improvement given the indicator's polarity.

`docs/indicators.md` gives each definition in full and lists the dashboard indicators the
hub's events cannot support.
"""

from __future__ import annotations

import calendar
import hashlib
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

from hub.domain.chronology import ChronologyEntry
from hub.domain.latency import LatencyRules
from hub.domain.taxonomy import AgencyType
from hub.domain.uk_time import uk_date
from hub.domain.working_days import working_days_between

SUPPRESSED = "c"
SMALL = range(1, 5)  # 1 to 4: suppressed
ASSESSMENT_WORKING_DAYS = 45
AGENCY_TYPES: tuple[AgencyType, ...] = tuple(AgencyType)
AGENCY_TYPE_LABELS = {
    AgencyType.LOCAL_AUTHORITY: "Local authority",
    AgencyType.POLICE: "Police",
    AgencyType.HEALTH: "Health",
    AgencyType.EDUCATION: "Education",
}

Polarity = Literal["higher", "lower", "neutral"]
Unit = Literal["percent", "count", "hours"]
Rag = Literal["G", "A", "R"]

# Event kinds the indicators read.
REFERRAL = "la.referral"
ASSESSMENT_COMPLETED = "la.assessment-completed"
S47_STARTED = "la.s47-enquiry-started"
CP_PLAN_STARTED = "la.cp-plan-started"
CP_PLAN_ENDED = "la.cp-plan-ended"
CP_REVIEWS = frozenset({"la.review-cp-conference", "la.cp-plan-reviewed"})
LOOKED_AFTER = "la.looked-after"
CARE_LEAVER = "la.care-leaver-status"
FAMILY_HELP = "la.family-help-episode"
LAC_HEALTH_ASSESSMENT = "health.looked-after-health-assessment"
HOME_EDUCATION = "education.elective-home-education-notice"
ENROLLED = "education.enrolled"
RETRACTED = "record.retracted"


# ---------------------------------------------------------------------------------------------
# Periods


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier if negative), clamped to the end of the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True, order=True)
class Quarter:
    """A UK financial-year quarter: `year` is the year the financial year starts in."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if self.number not in (1, 2, 3, 4):
            raise ValueError(f"a quarter is numbered 1 to 4, not {self.number}")

    @property
    def start(self) -> date:
        return add_months(date(self.year, 4, 1), 3 * (self.number - 1))

    @property
    def end(self) -> date:
        return add_months(self.start, 3) - timedelta(days=1)

    @property
    def window_start(self) -> date:
        """The first day of the 12 months ending at the quarter's end."""
        return add_months(self.end + timedelta(days=1), -12)

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}/{(self.year + 1) % 100:02d}"

    def previous(self) -> Quarter:
        return Quarter(self.year, self.number - 1) if self.number > 1 else Quarter(self.year - 1, 4)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def in_window(self, day: date) -> bool:
        return self.window_start <= day <= self.end

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}


def quarter_of(day: date) -> Quarter:
    year = day.year if day.month >= 4 else day.year - 1
    return Quarter(year, (day.month - 4) % 12 // 3 + 1)


def latest_complete_quarter(as_at: date) -> Quarter:
    """The last quarter that ended before the as-at date."""
    return quarter_of(as_at).previous()


def default_as_at(children: Sequence[Child], today: date) -> date:
    """The as-at date a report uses when none is given: today, unless the hub holds no record
    of an event in the last quarter complete before today (a demo, or a hub loaded with an
    agency's history and nothing since); then the day after the last complete quarter it holds
    events in, so the report describes what the hub knows rather than a quarter it knows
    nothing about. The report says so (`IndicatorReport.notes`)."""
    latest = latest_complete_quarter(today)
    held = [r.occurred for child in children for r in child if r.occurred <= latest.end]
    if not held or max(held) >= latest.start:
        return today
    return quarter_of(max(held)).end + timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Facts


def record_key(agency_id: str, event_id: str) -> str:
    """A short stable key for an agency's record (so documents need not hold record ids)."""
    return hashlib.sha256(f"{agency_id}\x1f{event_id}".encode()).hexdigest()[:24]


WITHHOLDING_CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # code -> (label, keywords looked for in the publisher's free-text reason, in this order)
    "investigation": (
        "Live investigation or prosecution",
        ("investigat", "suspect", "prosecut", "criminal", "trial", "evidence", "enquir"),
    ),
    "location": (
        "Would reveal an address or whereabouts",
        ("address", "whereabouts", "location", "refuge", "where the", "placement"),
    ),
    "risk-of-harm": (
        "Risk of harm to the child or another person",
        ("harm", "risk", "danger", "retaliat", "reprisal", "intimidat", "threat", "violen"),
    ),
    "health-confidentiality": (
        "Health or clinical confidentiality",
        ("clinical", "medical", "health", "diagnos", "treatment", "therap", "sexual health"),
    ),
    "child-wishes": (
        "The child's wishes or consent",
        ("wish", "consent", "child asked", "young person asked", "gillick", "competent"),
    ),
    "third-party": (
        "Third-party or informant information",
        ("third party", "third-party", "informant", "witness", "anonymous", "source"),
    ),
}
OTHER_WITHHOLDING = "other"
WITHHOLDING_LABELS = {
    **{code: label for code, (label, _) in WITHHOLDING_CATEGORIES.items()},
    OTHER_WITHHOLDING: "Other reason",
}


def withholding_category(reason: str) -> str:
    """The category of a publisher's free-text reason for withholding (the first whose
    keywords it contains); only the category is kept, never the text."""
    text = reason.casefold()
    for code, (_, keywords) in WITHHOLDING_CATEGORIES.items():
        if any(keyword in text for keyword in keywords):
            return code
    return OTHER_WITHHOLDING


@dataclass(frozen=True)
class RecordFact:
    """What the indicators need of one revision of one agency record about a child."""

    key: str
    revision: int
    kind: str
    agency: str
    agency_type: str
    occurred: date  # UK date
    received: date  # UK date the hub received this revision
    sharing_hours: float  # recorded -> received by the hub (never negative)
    late: bool  # later than the partnership expects (hub.domain.latency.LatencyRules)
    started_on: date | None = None  # assessments
    completed_on: date | None = None  # assessments
    withheld: tuple[str, ...] = ()  # withholding categories
    retracts: str | None = None  # key of the record a retraction retracts

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "r": self.revision,
            "k": self.kind,
            "a": self.agency,
            "t": self.agency_type,
            "o": self.occurred.isoformat(),
            "rx": self.received.isoformat(),
            "h": self.sharing_hours,
            "l": self.late,
        }
        if self.started_on is not None:
            document["s"] = self.started_on.isoformat()
        if self.completed_on is not None:
            document["c"] = self.completed_on.isoformat()
        if self.withheld:
            document["w"] = list(self.withheld)
        if self.retracts is not None:
            document["x"] = self.retracts
        return document

    @classmethod
    def from_document(cls, key: str, document: Mapping[str, Any]) -> RecordFact:
        def day(name: str) -> date | None:
            value = document.get(name)
            return None if value is None else date.fromisoformat(value)

        return cls(
            key=key,
            revision=int(document["r"]),
            kind=str(document["k"]),
            agency=str(document["a"]),
            agency_type=str(document["t"]),
            occurred=date.fromisoformat(document["o"]),
            received=date.fromisoformat(document["rx"]),
            sharing_hours=float(document["h"]),
            late=bool(document["l"]),
            started_on=day("s"),
            completed_on=day("c"),
            withheld=tuple(document.get("w", ())),
            retracts=document.get("x"),
        )


def _detail_date(details: Mapping[str, Any], name: str) -> date | None:
    value = details.get(name)
    return date.fromisoformat(value) if isinstance(value, str) else None


def record_fact(entry: ChronologyEntry, rules: LatencyRules) -> RecordFact:
    """The facts of one received agency event (one revision of one record)."""
    event = entry.event
    deadline, _ = rules.deadline(entry)
    sharing = (entry.received_at - event.recorded_at).total_seconds() / 3600
    retracts = None
    if event.kind == RETRACTED and event.supersedes is not None:
        retracts = record_key(event.agency.id, event.supersedes.event_id)
    return RecordFact(
        key=record_key(event.agency.id, event.event_id),
        revision=event.revision,
        kind=event.kind,
        agency=event.agency.id,
        agency_type=event.agency.type.value,
        occurred=uk_date(event.occurred_at),
        received=uk_date(entry.received_at),
        sharing_hours=round(max(sharing, 0.0), 2),
        late=entry.received_at > deadline,
        started_on=_detail_date(event.details, "started_on"),
        completed_on=_detail_date(event.details, "completed_on"),
        withheld=tuple(sorted({withholding_category(w.reason) for w in event.withheld_from})),
        retracts=retracts,
    )


def newer(existing: RecordFact | None, candidate: RecordFact) -> bool:
    """Whether `candidate` replaces `existing` as the record's latest revision."""
    return existing is None or candidate.revision > existing.revision


Child = tuple[RecordFact, ...]
"""One child's current records: the latest revision of each, retracted records left out."""


def current_records(records: Iterable[RecordFact]) -> Child:
    """The latest revision of each record, without the records a retraction names (as the
    chronology does: a retraction withdraws the record whatever its revision)."""
    latest: dict[str, RecordFact] = {}
    for record in records:
        if newer(latest.get(record.key), record):
            latest[record.key] = record
    retracted = {r.retracts for r in latest.values() if r.kind == RETRACTED and r.retracts}
    return tuple(
        sorted(
            (r for r in latest.values() if r.key not in retracted),
            key=lambda r: (r.occurred, r.received, r.key),
        )
    )


def _dates(child: Child, kinds: str | frozenset[str]) -> list[date]:
    wanted = frozenset({kinds}) if isinstance(kinds, str) else kinds
    return sorted(r.occurred for r in child if r.kind in wanted)


# ---------------------------------------------------------------------------------------------
# Figures, suppression, direction of travel, RAG


@dataclass(frozen=True)
class Figure:
    """A computed figure and the counts it rests on; `value` None means no data."""

    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    suppressed: bool = False

    def counts(self) -> tuple[int, ...]:
        return tuple(n for n in (self.numerator, self.denominator) if n is not None)

    def published(self, unit: Unit) -> dict[str, Any]:
        if self.suppressed:
            return {"value": SUPPRESSED, "numerator": SUPPRESSED, "denominator": SUPPRESSED}
        return {
            "value": published_value(self.value, unit),
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


def published_value(value: float | None, unit: Unit) -> float | int | None:
    if value is None:
        return None
    return int(value) if unit == "count" else round(value, 1)


def rate(numerator: int, denominator: int) -> Figure:
    value = 100.0 * numerator / denominator if denominator else None
    return Figure(value, numerator, denominator)


def count(value: int) -> Figure:
    return Figure(float(value), numerator=value)


def suppress(figure: Figure) -> Figure:
    """Primary suppression: a numerator or denominator of 1 to 4."""
    if any(n in SMALL for n in figure.counts()):
        return replace(figure, suppressed=True)
    return figure


def suppress_group(total: Figure, parts: Mapping[str, Figure]) -> tuple[Figure, dict[str, Figure]]:
    """Primary suppression of a total and its parts, then secondary suppression: a published
    total with exactly one suppressed part would give that part away by subtraction, so the
    next smallest published non-zero part is suppressed too (repeated until safe)."""
    total = suppress(total)
    result = {name: suppress(part) for name, part in parts.items()}
    if total.suppressed:
        return total, result
    while sum(1 for p in result.values() if p.suppressed) == 1:
        candidates = [
            (_size(p), name) for name, p in result.items() if not p.suppressed and _size(p) > 0
        ]
        if not candidates:
            return replace(total, suppressed=True), result
        name = min(candidates)[1]
        result[name] = replace(result[name], suppressed=True)
    return total, result


def _size(figure: Figure) -> int:
    return max(figure.counts(), default=0)


@dataclass(frozen=True)
class Target:
    """`>` the value should be above (higher is better), `<` below; meeting it exactly
    counts as meeting it."""

    op: Literal[">", "<"]
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        text = text.strip().rstrip("%").strip()
        if not text or text[0] not in "<>":
            raise ValueError(f"a target is '>' or '<' then a number, e.g. '>90.3', not {text!r}")
        op: Literal[">", "<"] = ">" if text[0] == ">" else "<"
        return cls(op, float(text[1:]))

    def meets(self, value: float) -> bool:
        return value >= self.value if self.op == ">" else value <= self.value

    def shortfall(self, value: float) -> float:
        return self.value - value if self.op == ">" else value - self.value

    def text(self, unit: Unit) -> str:
        suffix = {"percent": "%", "hours": " h", "count": ""}[unit]
        return f"{self.op}{self.value:g}{suffix}"


@dataclass(frozen=True)
class RagRule:
    """Green meets the target; amber misses it by at most `amber_within` of the target
    (relative); red otherwise. The default reproduces the Leicestershire dashboard."""

    amber_within: float = 0.20

    def rag(self, value: float, target: Target) -> Rag:
        if target.meets(value):
            return "G"
        if target.shortfall(value) <= self.amber_within * abs(target.value) + 1e-9:
            return "A"
        return "R"

    def describe(self) -> str:
        return (
            "G: meets the target (equal counts as meeting it); A: misses it by no more than "
            f"{self.amber_within:.0%} of the target; R: misses it by more"
        )


def direction_of_travel(
    latest: Figure, previous: Figure, unit: Unit, polarity: Polarity
) -> tuple[str | None, str | None]:
    """("up" | "down" | "same", "improving" | "worsening" | "no change" | None) from the
    published values; nothing when either is suppressed or missing."""
    a = None if latest.suppressed else published_value(latest.value, unit)
    b = None if previous.suppressed else published_value(previous.value, unit)
    if a is None or b is None:
        return None, None
    if a == b:
        return "same", "no change"
    moved = "up" if a > b else "down"
    if polarity == "neutral":
        return moved, None
    better = (moved == "up") == (polarity == "higher")
    return moved, "improving" if better else "worsening"


# ---------------------------------------------------------------------------------------------
# The indicators


def re_referrals(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Referrals in the 12 months to the quarter's end that came within 12 months of an
    earlier referral of the same child (an earlier day), as a share of those referrals."""
    numerator = denominator = 0
    for child in children:
        referrals = _dates(child, REFERRAL)
        for day in referrals:
            if not quarter.in_window(day):
                continue
            denominator += 1
            since = add_months(day, -12)
            numerator += any(since <= earlier < day for earlier in referrals)
    return rate(numerator, denominator)


def repeat_cp_plans(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Child protection plans started in the 12 months to the quarter's end for a child who
    had been the subject of a plan before (ever, as far as the hub knows)."""
    numerator = denominator = 0
    for child in children:
        starts = _dates(child, CP_PLAN_STARTED)
        for day in starts:
            if quarter.in_window(day):
                denominator += 1
                numerator += any(earlier < day for earlier in starts)
    return rate(numerator, denominator)


@dataclass(frozen=True)
class Plan:
    start: date
    end: date | None  # None: open


def cp_plans(child: Child) -> list[Plan]:
    """A child's plans: each start runs to the first end on or after it, or to the next start
    if that comes first (a plan cannot start while one is open)."""
    starts = _dates(child, CP_PLAN_STARTED)
    ends = _dates(child, CP_PLAN_ENDED)
    plans = []
    for index, start in enumerate(starts):
        candidates = [e for e in ends if e >= start]
        if index + 1 < len(starts):
            candidates.append(starts[index + 1])
        plans.append(Plan(start, min(candidates) if candidates else None))
    return plans


def plan_reviews_on_time(plan: Plan, reviews: Sequence[date], quarter: Quarter) -> bool:
    """The first review within 3 months of the plan's start, each later one within 6 months of
    the one before; a plan is late if it was overdue for a review at any time in the 12
    months to the quarter's end (or to its end, if it ended earlier)."""
    horizon = quarter.end if plan.end is None or plan.end > quarter.end else plan.end
    due = add_months(plan.start, 3)
    for review in sorted(r for r in reviews if plan.start < r <= horizon):
        if review > due and review >= quarter.window_start:
            return False
        due = add_months(review, 6)
    return not due < horizon


def in_review_cohort(plan: Plan, quarter: Quarter) -> bool:
    """Open at the quarter's end having lasted 3 months by then, or ended in the 12 months to
    the quarter's end having lasted 3 months."""
    if plan.end is None or plan.end > quarter.end:
        return plan.start <= add_months(quarter.end, -3)
    return quarter.in_window(plan.end) and plan.end >= add_months(plan.start, 3)


def cp_reviews_in_timescale(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children whose plan was open at the quarter's end having lasted 3 months or more, or
    ended in the 12 months having lasted 3 months or more; as a share of them, those whose
    reviews were all on time."""
    numerator = denominator = 0
    for child in children:
        reviews = _dates(child, CP_REVIEWS)
        cohort = [p for p in cp_plans(child) if in_review_cohort(p, quarter)]
        if cohort:
            denominator += 1
            numerator += all(plan_reviews_on_time(p, reviews, quarter) for p in cohort)
    return rate(numerator, denominator)


WorkingDaysBetween = Callable[[date, date], int]


def assessments_in_timescale(
    children: Sequence[Child],
    quarter: Quarter,
    working_days: WorkingDaysBetween = working_days_between,
) -> Figure:
    """Child and family assessments completed in the 12 months to the quarter's end, and of
    them those completed within 45 working days of their start (England's bank holidays are
    not working days)."""
    numerator = denominator = 0
    for child in children:
        for record in child:
            if record.kind != ASSESSMENT_COMPLETED or record.started_on is None:
                continue
            completed = record.completed_on or record.occurred
            if quarter.in_window(completed):
                denominator += 1
                numerator += working_days(record.started_on, completed) <= ASSESSMENT_WORKING_DAYS
    return rate(numerator, denominator)


def home_educated_at_end(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children whose latest elective home education notice by the quarter's end was not
    followed by an enrolment at a school by then."""
    total = 0
    for child in children:
        notices = [d for d in _dates(child, HOME_EDUCATION) if d <= quarter.end]
        if notices:
            latest = notices[-1]
            total += not any(latest < d <= quarter.end for d in _dates(child, ENROLLED))
    return count(total)


def care_episode_start(child: Child, on: date) -> date | None:
    """When the child's current spell in care began, if they were looked after on `on`: the
    first `la.looked-after` after their latest care-leaver status (none: not in care)."""
    left = [d for d in _dates(child, CARE_LEAVER) if d <= on]
    since = left[-1] if left else date.min
    starts = [d for d in _dates(child, LOOKED_AFTER) if since < d <= on]
    return starts[0] if starts else None


def cic_health_assessments(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children looked after at the quarter's end who had been for 12 months or more (as the
    DfE's annual health assessment measure), and of them those with a health assessment in
    the 12 months to the quarter's end."""
    numerator = denominator = 0
    for child in children:
        start = care_episode_start(child, quarter.end)
        if start is None or start > add_months(quarter.end, -12):
            continue
        denominator += 1
        numerator += any(quarter.in_window(d) for d in _dates(child, LAC_HEALTH_ASSESSMENT))
    return rate(numerator, denominator)


def family_help_started(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children for whom a Family Help episode was recorded in the quarter."""
    return count(
        sum(any(quarter.contains(d) for d in _dates(child, FAMILY_HELP)) for child in children)
    )


def in_child_protection(child: Child, quarter: Quarter) -> bool:
    """A section 47 enquiry started, or a child protection plan open, in the 12 months."""
    if any(quarter.in_window(d) for d in _dates(child, S47_STARTED)):
        return True
    return any(
        p.start <= quarter.end and (p.end is None or p.end >= quarter.window_start)
        for p in cp_plans(child)
    )


def contribution(record: RecordFact) -> bool:
    return not record.kind.startswith(("record.", "identity."))


def all_four_agencies(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children in child protection in the 12 months (see `in_child_protection`) with records
    from all four agency types that happened in those 12 months."""
    numerator = denominator = 0
    everyone = {t.value for t in AGENCY_TYPES}
    for child in children:
        if not in_child_protection(child, quarter):
            continue
        denominator += 1
        present = {
            r.agency_type for r in child if contribution(r) and quarter.in_window(r.occurred)
        }
        numerator += present >= everyone
    return rate(numerator, denominator)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted or unsorted values (at least one)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


@dataclass(frozen=True)
class SharingStats:
    shares: int
    median_hours: float | None
    p90_hours: float | None
    within_expectation: int


def sharing_stats(records: Sequence[RecordFact]) -> SharingStats:
    hours = [r.sharing_hours for r in records]
    return SharingStats(
        shares=len(hours),
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile(hours, 0.9) if hours else None,
        within_expectation=sum(not r.late for r in records),
    )


def received_in(children: Sequence[Child], quarter: Quarter) -> list[RecordFact]:
    return [r for child in children for r in child if quarter.contains(r.received)]


# ---------------------------------------------------------------------------------------------
# Specifications and the report


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    title: str
    area: str
    unit: Unit
    polarity: Polarity
    basis: str  # what period the figure covers
    sources: tuple[str, ...]
    compute: Callable[[Sequence[Child], Quarter], Figure]


DASHBOARD = "Social care"
EDUCATION = "Education"
SHARING = "Information sharing"
ROLLING = "12 months to the quarter's end"
AT_END = "at the quarter's end"
IN_QUARTER = "received in the quarter"

SPECS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec(
        "assessments-45-days",
        "Assessments completed within 45 days",
        DASHBOARD,
        "percent",
        "higher",
        ROLLING,
        (ASSESSMENT_COMPLETED,),
        assessments_in_timescale,
    ),
    IndicatorSpec(
        "cp-reviews-in-timescale",
        "Child protection cases which were reviewed within timescales",
        DASHBOARD,
        "percent",
        "higher",
        ROLLING,
        (CP_PLAN_STARTED, CP_PLAN_ENDED, *sorted(CP_REVIEWS)),
        cp_reviews_in_timescale,
    ),
    IndicatorSpec(
        "repeat-cp-plans",
        "Children becoming subject to a CPP for second or subsequent time",
        DASHBOARD,
        "percent",
        "lower",
        ROLLING,
        (CP_PLAN_STARTED,),
        repeat_cp_plans,
    ),
    IndicatorSpec(
        "re-referrals-12-months",
        "Re-referrals to CSC within 12 mths",
        DASHBOARD,
        "percent",
        "lower",
        ROLLING,
        (REFERRAL,),
        re_referrals,
    ),
    IndicatorSpec(
        "cic-health-assessments",
        "Children in care who have their annual health assessment within last 12 months",
        DASHBOARD,
        "percent",
        "higher",
        ROLLING,
        (LOOKED_AFTER, CARE_LEAVER, LAC_HEALTH_ASSESSMENT),
        cic_health_assessments,
    ),
    IndicatorSpec(
        "family-help-started",
        "Children starting a Family Help episode in the quarter",
        DASHBOARD,
        "count",
        "neutral",
        "in the quarter",
        (FAMILY_HELP,),
        family_help_started,
    ),
    IndicatorSpec(
        "elective-home-education",
        "Children Electively Educated at Home",
        EDUCATION,
        "count",
        "neutral",
        AT_END,
        (HOME_EDUCATION, ENROLLED),
        home_educated_at_end,
    ),
    IndicatorSpec(
        "all-four-agencies",
        "Children in child protection with contributions from all four agency types",
        SHARING,
        "percent",
        "higher",
        ROLLING,
        (S47_STARTED, CP_PLAN_STARTED, CP_PLAN_ENDED, "every kind"),
        all_four_agencies,
    ),
)

NOT_SUPPORTED: tuple[tuple[str, str], ...] = (
    # Indicators of the Leicestershire dashboard (seeds 004:2235-2364) the events cannot support.
    (
        "Eligible 2 and 3-year olds taking up their FEEE (early education entitlement)",
        "take-up of funded early education is not shared through the hub: no event kind "
        "records it, and eligibility needs DWP data the hub does not hold",
    ),
    (
        "Primary and secondary schools, and pupils in schools, rated Good or Outstanding",
        "Ofsted judgements describe schools, not children; they are not events about a child",
    ),
    (
        "Children in mainstream schools with an EHCP, or in receipt of SEN Support",
        "SEN status comes from the school census; no event kind records SEN support or an "
        "education, health and care plan",
    ),
    (
        "Care leavers in education, employment or training; care leavers in suitable accommodation",
        "la.care-leaver-status has no defined details, so neither status is a structured "
        "fact, and the cohort (care leavers aged 19 to 21) needs dates of birth the hub does "
        "not hold",
    ),
    (
        "Children in care who have had dental checks within the last 12 months",
        "no event kind records a dental check (a health.was-not-brought to a dental "
        "appointment records the opposite)",
    ),
    (
        "Young people aged 16 to 17 not in education, employment or training (NEET)",
        "no event kind records NEET status, and the hub holds no dates of birth",
    ),
    (
        "Youth justice: use of custody and re-offending",
        "no youth justice events are shared through the hub",
    ),
)

DEFAULT_TARGETS: dict[str, Target] = {
    # From the Leicestershire CFS dashboard, Q3 2024/25 (seeds 004:2235-2364).
    "assessments-45-days": Target(">", 90.3),
    "cp-reviews-in-timescale": Target(">", 97.2),
    "repeat-cp-plans": Target("<", 20.8),
    "re-referrals-12-months": Target("<", 18.7),
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

    def as_dict(self, latest: Quarter, previous: Quarter) -> dict[str, Any]:
        return {
            "code": self.code,
            "indicator": self.title,
            "area": self.area,
            "section": self.section,
            "unit": self.unit,
            "polarity": self.polarity,
            "basis": self.basis,
            "period": latest.label,
            "latest": self.latest.published(self.unit),
            "previous_period": previous.label,
            "previous": self.previous.published(self.unit),
            "direction": self.direction,
            "travel": self.travel,
            "target": None if self.target is None else self.target.text(self.unit),
            "rag": self.rag,
            "group": self.group,
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

    def section(self, name: str) -> list[IndicatorRow]:
        return [r for r in self.rows if r.section == name]

    def row(self, code: str) -> IndicatorRow:
        return next(r for r in self.rows if r.code == code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": "Partnership indicators",
            "as_at": self.as_at.isoformat(),
            "latest_period": self.latest.as_dict(),
            "previous_period": self.previous.as_dict(),
            "periods": (
                "UK financial-year quarters; the latest is the last quarter complete before the "
                "as-at date. Rates cover the 12 months to the quarter's end, states are at the "
                "quarter's end, information sharing covers records received in the quarter."
            ),
            "rag_rule": self.rule.describe(),
            "notes": list(self.notes),
            "suppression": (
                f"'{SUPPRESSED}': a numerator or denominator of 1 to 4, or a second figure "
                "hidden so that the first cannot be worked out from a published total."
            ),
            "indicators": [r.as_dict(self.latest, self.previous) for r in self.rows],
            "not_supported": [{"indicator": name, "why": why} for name, why in NOT_SUPPORTED],
        }


def _figures(
    children: Sequence[Child], latest: Quarter, previous: Quarter, spec: IndicatorSpec
) -> tuple[Figure, Figure]:
    return suppress(spec.compute(children, latest)), suppress(spec.compute(children, previous))


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


def build_report(
    children: Sequence[Child],
    as_at: date,
    targets: Mapping[str, Target] | None = None,
    rule: RagRule | None = None,
) -> IndicatorReport:
    """Every indicator for the last quarter complete before `as_at` and the quarter before."""
    targets = DEFAULT_TARGETS if targets is None else targets
    rule = rule or RagRule()
    latest = latest_complete_quarter(as_at)
    previous = latest.previous()
    rows: list[IndicatorRow] = []
    for spec in SPECS:
        latest_figure, previous_figure = _figures(children, latest, previous, spec)
        rows.append(
            IndicatorRow(
                code=spec.code,
                title=spec.title,
                area=spec.area,
                section="sharing" if spec.area == SHARING else "dashboard",
                unit=spec.unit,
                polarity=spec.polarity,
                basis=spec.basis,
                latest=latest_figure,
                previous=previous_figure,
            )
        )
    rows += _sharing_rows(children, latest, previous)
    rows += _withheld_rows(children, latest, previous)
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
