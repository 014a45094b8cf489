"""The indicators themselves: each a function of the children's facts over a quarter."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from hub.domain.indicators.common import (
    AGENCY_TYPES,
    ASSESSMENT_COMPLETED,
    ASSESSMENT_WORKING_DAYS,
    CARE_LEAVER,
    CARE_LEAVER_ACCOMMODATION,
    CARE_LEAVER_ACTIVITY,
    CEASED_LOOKED_AFTER,
    CP_PLAN_ENDED,
    CP_PLAN_STARTED,
    CP_REVIEW_CONFERENCE,
    FAMILY_HELP,
    HOME_EDUCATION,
    HOME_EDUCATION_ENDS,
    LAC_DENTAL_CHECK,
    LAC_HEALTH_ASSESSMENT,
    LOOKED_AFTER,
    REFERRAL,
    S47_STARTED,
)
from hub.domain.indicators.facts import Child, RecordFact, WithholdingReviewFact, event_dates
from hub.domain.indicators.figures import Figure, count, rate
from hub.domain.indicators.periods import Quarter
from hub.domain.taxonomy import CHILD_DETAILS_KINDS, AgencyType
from hub.domain.uk_time import add_months
from hub.domain.working_days import working_days_between

Window = Literal["year-to-date", "rolling-12-months"]
"""What a rate counts over: April to the quarter's end (the DfE's census year so far: the
statutory measures are over the year April to March), or the 12 months to the quarter's end."""
WINDOWS: tuple[Window, ...] = ("year-to-date", "rolling-12-months")


def in_period(quarter: Quarter, window: Window, day: date) -> bool:
    return quarter.in_year_to_date(day) if window == "year-to-date" else quarter.in_window(day)


def re_referrals(
    children: Sequence[Child], quarter: Quarter, window: Window = "year-to-date"
) -> Figure:
    """Referrals in the period (by default April to the quarter's end) that came within 12
    months of an earlier referral of the same child (an earlier day), as a share of those
    referrals (DfE children in need census, table C3, counted in referrals)."""
    numerator = denominator = 0
    for child in children:
        referrals = event_dates(child, REFERRAL)
        for day in referrals:
            if not in_period(quarter, window, day):
                continue
            denominator += 1
            since = add_months(day, -12)
            numerator += any(since <= earlier < day for earlier in referrals)
    return rate(numerator, denominator)


def repeat_cp_plans(
    children: Sequence[Child], quarter: Quarter, window: Window = "year-to-date"
) -> Figure:
    """Child protection plans started in the period (by default April to the quarter's end)
    for a child who had been the subject of a plan before (ever, as far as the hub knows):
    DfE children in need census, table D4."""
    numerator = denominator = 0
    for child in children:
        starts = event_dates(child, CP_PLAN_STARTED)
        for day in starts:
            if in_period(quarter, window, day):
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
    """Open at the quarter's end (its last day included) having lasted 3 months by then; a plan
    that ended by the quarter's end is not in the cohort (DfE children in need census, D6)."""
    return (plan.end is None or plan.end > quarter.end) and plan.start <= add_months(
        quarter.end, -3
    )


def cp_reviews_in_timescale(children: Sequence[Child], quarter: Quarter) -> Figure:
    """DfE children in need census table D6: children on a plan at the quarter's end that had
    lasted 3 months or more, and as a share of them those whose reviews were all on time
    (none overdue at any time in the 12 months to the quarter's end). Only review conferences
    (`la.review-cp-conference`) are reviews: a core group meeting is not."""
    numerator = denominator = 0
    for child in children:
        reviews = event_dates(child, CP_REVIEW_CONFERENCE)
        cohort = [p for p in cp_plans(child) if in_review_cohort(p, quarter)]
        if cohort:
            denominator += 1
            numerator += all(plan_reviews_on_time(p, reviews, quarter) for p in cohort)
    return rate(numerator, denominator)


WorkingDaysBetween = Callable[[date, date], int]


def assessments_in_timescale(
    children: Sequence[Child],
    quarter: Quarter,
    window: Window = "year-to-date",
    working_days: WorkingDaysBetween = working_days_between,
) -> Figure:
    """Child and family assessments completed in the period (by default April to the quarter's
    end), and of them those completed within 45 working days of their start (England's bank
    holidays are not working days): DfE children in need census, table C2."""
    numerator = denominator = 0
    for child in children:
        for record in child:
            if record.kind != ASSESSMENT_COMPLETED or record.started_on is None:
                continue
            completed = record.completed_on or record.occurred
            if in_period(quarter, window, completed):
                denominator += 1
                numerator += working_days(record.started_on, completed) <= ASSESSMENT_WORKING_DAYS
    return rate(numerator, denominator)


def home_educated_at_end(children: Sequence[Child], quarter: Quarter) -> Figure:
    """Children whose latest elective home education notice by the quarter's end was not
    followed by then by an end of it: enrolling at a school, the home education ending, the
    child reaching the end of compulsory school age or moving out of the area."""
    total = 0
    for child in children:
        notices = [d for d in event_dates(child, HOME_EDUCATION) if d <= quarter.end]
        if notices:
            latest = notices[-1]
            ends = event_dates(child, HOME_EDUCATION_ENDS)
            total += not any(latest < d <= quarter.end for d in ends)
    return count(total)


def care_episode_start(child: Child, on: date) -> date | None:
    """When the child's current spell in care began, if they were looked after on `on`: the
    first `la.looked-after` after they last ceased to be looked after (`la.ceased-looked-after`,
    on its `ceased_on`) or became a care leaver (none: not in care on `on`)."""
    left = [d for d in event_dates(child, frozenset({CEASED_LOOKED_AFTER, CARE_LEAVER})) if d <= on]
    since = left[-1] if left else date.min
    starts = [d for d in event_dates(child, LOOKED_AFTER) if since < d <= on]
    return starts[0] if starts else None


HealthCohort = Literal["continuous-12-months", "in-care-at-end"]
"""Who a health indicator counts: children looked after continuously for 12 months or more at
the quarter's end (SSDA903, the OC2 cohort: the statutory definition), or every child in care
at the quarter's end (as some partnerships' reports do)."""
HEALTH_COHORTS: tuple[HealthCohort, ...] = ("continuous-12-months", "in-care-at-end")


def _in_care_cohort(child: Child, quarter: Quarter, cohort: HealthCohort) -> bool:
    start = care_episode_start(child, quarter.end)
    if start is None:
        return False
    return cohort == "in-care-at-end" or start <= add_months(quarter.end, -12)


def _checked_in_care(
    children: Sequence[Child], quarter: Quarter, cohort: HealthCohort, kind: str
) -> Figure:
    numerator = denominator = 0
    for child in children:
        if _in_care_cohort(child, quarter, cohort):
            denominator += 1
            numerator += any(quarter.in_window(d) for d in event_dates(child, kind))
    return rate(numerator, denominator)


def cic_health_assessments(
    children: Sequence[Child], quarter: Quarter, cohort: HealthCohort = "continuous-12-months"
) -> Figure:
    """Children looked after at the quarter's end continuously for 12 months or more (SSDA903,
    OC2), and of them those with a health assessment completed in the 12 months to the
    quarter's end (`completed_on`, else the day it occurred)."""
    return _checked_in_care(children, quarter, cohort, LAC_HEALTH_ASSESSMENT)


def cic_dental_checks(
    children: Sequence[Child], quarter: Quarter, cohort: HealthCohort = "continuous-12-months"
) -> Figure:
    """Children looked after at the quarter's end continuously for 12 months or more (SSDA903,
    OC2), and of them those with a dental check in the 12 months to the quarter's end."""
    return _checked_in_care(children, quarter, cohort, LAC_DENTAL_CHECK)


CareLeaverAges = Literal["19-21", "18-21", "17-21"]
"""Which care leavers a care leaver indicator counts, by age at the quarter's end: 19 to 21
(the statutory figure: DfE's "Children looked after in England including adoptions" publishes
care leavers aged 19 to 21 apart from those aged 17 and 18), or from 18 or 17 ("care leavers
aged up to 21", as some partnerships' reports do)."""
CARE_LEAVER_AGES: tuple[CareLeaverAges, ...] = ("19-21", "18-21", "17-21")
CARE_LEAVER_KINDS = frozenset({CARE_LEAVER, CARE_LEAVER_ACCOMMODATION, CARE_LEAVER_ACTIVITY})


def age_on(born: date, day: date) -> int:
    """Age in completed years on `day` (born on 29 February: a year older on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def date_of_birth(child: Child) -> date | None:
    """The child's date of birth as the local authority's details give it (the SSDA903 return
    is the authority's), else as health's; the latest revision received of either."""
    details = [r for r in child if r.born is not None]
    if not details:
        return None
    best = max(
        details,
        key=lambda r: (r.agency_type == AgencyType.LOCAL_AUTHORITY.value, r.received, r.revision),
    )
    return best.born


def in_care_leaver_cohort(child: Child, quarter: Quarter, ages: CareLeaverAges) -> bool:
    """Recorded by the local authority as a care leaver (status, accommodation or activity) by
    the quarter's end, and of an age in `ages` on its last day. Without a date of birth the
    hub cannot place a young person in the cohort."""
    if not any(r.kind in CARE_LEAVER_KINDS and r.day <= quarter.end for r in child):
        return False
    born = date_of_birth(child)
    if born is None:
        return False
    youngest = int(ages.split("-")[0])
    return youngest <= age_on(born, quarter.end) <= 21


def latest_outcome(child: Child, kind: str, quarter: Quarter) -> bool:
    """Whether the latest record of `kind` in the 12 months to the quarter's end (by the day
    it was recorded on) says yes; none in those 12 months is "not known", not a yes."""
    recorded = [r for r in child if r.kind == kind and quarter.in_window(r.day)]
    if not recorded:
        return False
    return max(recorded, key=lambda r: (r.day, r.received, r.revision)).outcome is True


def _care_leavers(
    children: Sequence[Child], quarter: Quarter, ages: CareLeaverAges, kind: str
) -> Figure:
    numerator = denominator = 0
    for child in children:
        if in_care_leaver_cohort(child, quarter, ages):
            denominator += 1
            numerator += latest_outcome(child, kind, quarter)
    return rate(numerator, denominator)


def care_leavers_suitable_accommodation(
    children: Sequence[Child], quarter: Quarter, ages: CareLeaverAges = "19-21"
) -> Figure:
    """Care leavers aged 19 to 21 at the quarter's end (by default), and of them those whose
    latest accommodation recorded in the 12 months to the quarter's end was suitable; not in
    touch or not known counts in the cohort and not as suitable (as DfE's figures do)."""
    return _care_leavers(children, quarter, ages, CARE_LEAVER_ACCOMMODATION)


def care_leavers_in_education_employment_training(
    children: Sequence[Child], quarter: Quarter, ages: CareLeaverAges = "19-21"
) -> Figure:
    """Care leavers aged 19 to 21 at the quarter's end (by default), and of them those whose
    latest main activity recorded in the 12 months to the quarter's end was education,
    employment or training (SSDA903 activity codes F1 to P5)."""
    return _care_leavers(children, quarter, ages, CARE_LEAVER_ACTIVITY)


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
