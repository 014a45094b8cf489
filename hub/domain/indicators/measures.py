"""The indicators themselves: each a function of the children's facts over a quarter."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from hub.domain.indicators.common import (
    AGENCY_TYPES,
    ASSESSMENT_COMPLETED,
    ASSESSMENT_WORKING_DAYS,
    CARE_LEAVER,
    CP_PLAN_ENDED,
    CP_PLAN_STARTED,
    CP_REVIEWS,
    ENROLLED,
    FAMILY_HELP,
    HOME_EDUCATION,
    LAC_HEALTH_ASSESSMENT,
    LOOKED_AFTER,
    REFERRAL,
    S47_STARTED,
)
from hub.domain.indicators.facts import Child, RecordFact, WithholdingReviewFact, event_dates
from hub.domain.indicators.figures import Figure, count, rate
from hub.domain.indicators.periods import Quarter
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import add_months
from hub.domain.working_days import working_days_between


def re_referrals(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Referrals in the 12 months to the quarter's end that came within 12 months of an
    earlier referral of the same child (an earlier day), as a share of those referrals."""
    numerator = denominator = 0
    for child in children:
        referrals = event_dates(child, REFERRAL)
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
        starts = event_dates(child, CP_PLAN_STARTED)
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
    starts = event_dates(child, CP_PLAN_STARTED)
    ends = event_dates(child, CP_PLAN_ENDED)
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
        reviews = event_dates(child, CP_REVIEWS)
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
        notices = [d for d in event_dates(child, HOME_EDUCATION) if d <= quarter.end]
        if notices:
            latest = notices[-1]
            total += not any(latest < d <= quarter.end for d in event_dates(child, ENROLLED))
    return count(total)


def care_episode_start(child: Child, on: date) -> date | None:
    """When the child's current spell in care began, if they were looked after on `on`: the
    first `la.looked-after` after their latest care-leaver status (none: not in care)."""
    left = [d for d in event_dates(child, CARE_LEAVER) if d <= on]
    since = left[-1] if left else date.min
    starts = [d for d in event_dates(child, LOOKED_AFTER) if since < d <= on]
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
        numerator += any(quarter.in_window(d) for d in event_dates(child, LAC_HEALTH_ASSESSMENT))
    return rate(numerator, denominator)


def family_help_started(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children for whom a Family Help episode was recorded in the quarter."""
    return count(
        sum(any(quarter.contains(d) for d in event_dates(child, FAMILY_HELP)) for child in children)
    )


def in_child_protection(child: Child, quarter: Quarter) -> bool:
    """A section 47 enquiry started, or a child protection plan open, in the 12 months."""
    if any(quarter.in_window(d) for d in event_dates(child, S47_STARTED)):
        return True
    return any(
        p.start <= quarter.end and (p.end is None or p.end >= quarter.window_start)
        for p in cp_plans(child)
    )


def contribution(record: RecordFact) -> bool:
    """A record that adds to the picture: not a retraction, an identity link or the child's
    identifying details."""
    return not record.kind.startswith(("record.", "identity.")) and (
        record.kind not in CHILD_DETAILS_KINDS
    )


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


def overdue_withholding_reviews(
    children: Sequence[Child],
    quarter: Quarter,
    reviews: Mapping[str, Sequence[WithholdingReviewFact]],
) -> Figure:
    """Records withheld from some recipients at the quarter's end whose review date had passed
    by then: the record (its latest revision) states a withholding and had happened by the end,
    and no review recorded by the end either shared it or set a review date after the end. A
    record is counted by when it happened, not when the hub received it, so an agency's
    history published later (a backfill) shows the withholdings it held then."""
    end = quarter.end
    overdue = 0
    for child in children:
        for record in child:
            if record.review_by is None or record.occurred > end:
                continue
            review_by: date | None = record.review_by
            covering = [
                r
                for r in reviews.get(record.key, ())
                if r.reviewed_on <= end and r.revision >= record.revision
            ]
            if covering:
                last = max(covering, key=lambda r: r.reviewed_on)
                review_by = None if last.now_shared else last.until
            overdue += review_by is not None and review_by < end
    return count(overdue)
