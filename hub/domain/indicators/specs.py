"""What each indicator is: its name, group, definition, unit, polarity and period, the
indicators the hub cannot compute and why, and the default targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.domain.indicators.common import (
    ASSESSMENT_COMPLETED,
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
    Polarity,
    Unit,
)
from hub.domain.indicators.facts import (
    Child,
)
from hub.domain.indicators.figures import (
    Figure,
    Target,
)
from hub.domain.indicators.measures import (
    all_four_agencies,
    assessments_in_timescale,
    cic_health_assessments,
    cp_reviews_in_timescale,
    family_help_started,
    home_educated_at_end,
    re_referrals,
    repeat_cp_plans,
)
from hub.domain.indicators.periods import Quarter


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
