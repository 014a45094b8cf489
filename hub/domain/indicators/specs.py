"""What each indicator is: its name, group, definition, unit, polarity and period, the
indicators the hub cannot compute and why, and the default targets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from hub.domain.indicators.common import (
    ASSESSMENT_COMPLETED,
    CARE_LEAVER,
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
    Polarity,
    Unit,
)
from hub.domain.indicators.facts import Child
from hub.domain.indicators.figures import Figure, Target
from hub.domain.indicators.measures import (
    CARE_LEAVER_AGES,
    CARE_LEAVER_KINDS,
    HEALTH_COHORTS,
    WINDOWS,
    CareLeaverAges,
    HealthCohort,
    Window,
    all_four_agencies,
    assessments_in_timescale,
    care_leavers_in_education_employment_training,
    care_leavers_suitable_accommodation,
    cic_dental_checks,
    cic_health_assessments,
    cp_reviews_in_timescale,
    family_help_started,
    home_educated_at_end,
    re_referrals,
    repeat_cp_plans,
)
from hub.domain.indicators.periods import Quarter
from hub.domain.taxonomy import CHILD_DETAILS_KINDS

Basis = Literal["year-to-date", "rolling-12-months", "at-end", "in-quarter"]
Previous = Literal["previous-quarter", "year-earlier"]

WINDOWED = ("assessments-45-days", "repeat-cp-plans", "re-referrals-12-months")
COHORTED = ("cic-health-assessments", "cic-dental-checks")
AGED = ("care-leavers-suitable-accommodation", "care-leavers-in-education-employment-training")


@dataclass(frozen=True)
class Definitions:
    """A partnership's own definitions, where its report defines an indicator differently from
    the statutory one (the default): the period of a rate (`year-to-date`, the DfE's census
    year so far, or `rolling-12-months`), the cohort of the children in care health
    indicators (`continuous-12-months`, SSDA903's OC2 cohort, or `in-care-at-end`) and the
    ages of the care leaver indicators (`19-21`, DfE's, or `18-21` or `17-21`)."""

    windows: Mapping[str, Window] = field(default_factory=dict)
    cohorts: Mapping[str, HealthCohort] = field(default_factory=dict)
    ages: Mapping[str, CareLeaverAges] = field(default_factory=dict)

    def window(self, code: str) -> Window:
        return self.windows.get(code, "year-to-date")

    def cohort(self, code: str) -> HealthCohort:
        return self.cohorts.get(code, "continuous-12-months")

    def care_leaver_ages(self, code: str) -> CareLeaverAges:
        return self.ages.get(code, "19-21")

    @classmethod
    def parse(cls, document: Any) -> Definitions:
        """From JSON: `{"re-referrals-12-months": {"period": "rolling-12-months"},
        "cic-health-assessments": {"cohort": "in-care-at-end"},
        "care-leavers-suitable-accommodation": {"ages": "17-21"}}`."""
        if not isinstance(document, dict):
            raise ValueError("a definitions file is a JSON object of indicator code to settings")
        windows: dict[str, Window] = {}
        cohorts: dict[str, HealthCohort] = {}
        ages: dict[str, CareLeaverAges] = {}
        for code, settings in document.items():
            if not isinstance(settings, dict) or not settings:
                raise ValueError(f'{code}: expected an object such as {{"period": ...}}')
            for key, value in settings.items():
                if key == "period" and code in WINDOWED and value in WINDOWS:
                    windows[code] = value
                elif key == "cohort" and code in COHORTED and value in HEALTH_COHORTS:
                    cohorts[code] = value
                elif key == "ages" and code in AGED and value in CARE_LEAVER_AGES:
                    ages[code] = value
                else:
                    raise ValueError(
                        f"{code}: {key} {value!r} is not a setting it has (period of "
                        f"{', '.join(WINDOWED)}: {' or '.join(WINDOWS)}; cohort of "
                        f"{', '.join(COHORTED)}: {' or '.join(HEALTH_COHORTS)}; ages of "
                        f"{', '.join(AGED)}: {' or '.join(CARE_LEAVER_AGES)})"
                    )
        return cls(windows, cohorts, ages)


STATUTORY = Definitions()


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    title: str
    area: str
    unit: Unit
    polarity: Polarity
    sources: tuple[str, ...]
    compute: Callable[[Sequence[Child], Quarter, Definitions], Figure]
    definition: Callable[[Definitions], str]  # what is counted, and the source it follows
    fixed_basis: Basis | None = None  # None: the partnership's window for the code
    previous: Previous = "previous-quarter"

    def basis(self, definitions: Definitions) -> Basis:
        return self.fixed_basis or definitions.window(self.code)

    def previous_quarter(self, quarter: Quarter) -> Quarter:
        return quarter.year_earlier() if self.previous == "year-earlier" else quarter.previous()


def _month_span(start: date, end: date) -> str:
    if start.year == end.year:
        return f"{start:%B} to {end:%B %Y}"
    return f"{start:%B %Y} to {end:%B %Y}"


def period_in_words(basis: Basis, quarter: Quarter) -> str:
    """'year to date (April to December 2024)', 'at 31 December 2024', ..."""
    if basis == "year-to-date":
        return f"year to date ({_month_span(quarter.year_start, quarter.end)})"
    if basis == "rolling-12-months":
        return f"12 months to the quarter's end ({_month_span(quarter.window_start, quarter.end)})"
    if basis == "at-end":
        return f"at {quarter.end.day} {quarter.end:%B %Y}"
    return f"in the quarter ({quarter.months})"


BASIS_SHORT: dict[Basis, str] = {
    "year-to-date": "year to date (April to the quarter's end)",
    "rolling-12-months": "12 months to the quarter's end",
    "at-end": "at the quarter's end",
    "in-quarter": "in the quarter",
}
DASHBOARD = "Social care"
EDUCATION = "Education"
SHARING = "Information sharing"
ROLLING = BASIS_SHORT["rolling-12-months"]
AT_END = BASIS_SHORT["at-end"]
IN_QUARTER = "received in the quarter"


def _cohort_text(definitions: Definitions, code: str) -> str:
    if definitions.cohort(code) == "in-care-at-end":
        return "Children in care at the quarter's end (the partnership's definition)"
    return (
        "Children looked after continuously for 12 months or more at the quarter's end "
        "(SSDA903 return, OC2 cohort)"
    )


def _care_leavers_text(definitions: Definitions, code: str) -> str:
    ages = definitions.care_leaver_ages(code)
    youngest = ages.split("-")[0]
    whose = "" if ages == "19-21" else " (the partnership's definition)"
    return (
        f"Care leavers aged {youngest} to 21 at the quarter's end{whose}, as the local "
        "authority records them, with a date of birth the hub holds"
    )


SPECS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec(
        "assessments-45-days",
        "Assessments completed within 45 days",
        DASHBOARD,
        "percent",
        "higher",
        (ASSESSMENT_COMPLETED,),
        lambda c, q, d: assessments_in_timescale(c, q, d.window("assessments-45-days")),
        lambda d: (
            "Child and family assessments completed in the period, and of them those "
            "completed within 45 working days of their start (DfE children in need census, C2)."
        ),
    ),
    IndicatorSpec(
        "cp-reviews-in-timescale",
        "Child protection cases which were reviewed within timescales",
        DASHBOARD,
        "percent",
        "higher",
        (CP_PLAN_STARTED, CP_PLAN_ENDED, CP_REVIEW_CONFERENCE),
        lambda c, q, d: cp_reviews_in_timescale(c, q),
        lambda d: (
            "Children on a child protection plan at the quarter's end that had lasted 3 "
            "months or more, and of them those whose review conferences were all on time in the "
            "12 months to the quarter's end; ended plans and core group meetings do not count "
            "(DfE children in need census, D6)."
        ),
        fixed_basis="at-end",
    ),
    IndicatorSpec(
        "repeat-cp-plans",
        "Children becoming subject to a CPP for second or subsequent time",
        DASHBOARD,
        "percent",
        "lower",
        (CP_PLAN_STARTED,),
        lambda c, q, d: repeat_cp_plans(c, q, d.window("repeat-cp-plans")),
        lambda d: (
            "Child protection plans started in the period, and of them those for a child "
            "who had had a plan before (DfE children in need census, D4)."
        ),
    ),
    IndicatorSpec(
        "re-referrals-12-months",
        "Re-referrals to CSC within 12 mths",
        DASHBOARD,
        "percent",
        "lower",
        (REFERRAL,),
        lambda c, q, d: re_referrals(c, q, d.window("re-referrals-12-months")),
        lambda d: (
            "Referrals in the period, and of them those within 12 months of an earlier "
            "referral of the same child (DfE children in need census, C3)."
        ),
    ),
    IndicatorSpec(
        "cic-health-assessments",
        "Children in care who have their annual health assessment within last 12 months",
        DASHBOARD,
        "percent",
        "higher",
        (LOOKED_AFTER, CEASED_LOOKED_AFTER, CARE_LEAVER, LAC_HEALTH_ASSESSMENT),
        lambda c, q, d: cic_health_assessments(c, q, d.cohort("cic-health-assessments")),
        lambda d: (
            f"{_cohort_text(d, 'cic-health-assessments')}, and of them those with a "
            "health assessment in the 12 months to the quarter's end."
        ),
        fixed_basis="at-end",
    ),
    IndicatorSpec(
        "cic-dental-checks",
        "Children in care who have had dental checks within last 12 months",
        DASHBOARD,
        "percent",
        "higher",
        (LOOKED_AFTER, CEASED_LOOKED_AFTER, CARE_LEAVER, LAC_DENTAL_CHECK),
        lambda c, q, d: cic_dental_checks(c, q, d.cohort("cic-dental-checks")),
        lambda d: (
            f"{_cohort_text(d, 'cic-dental-checks')}, and of them those with a dental "
            "check in the 12 months to the quarter's end."
        ),
        fixed_basis="at-end",
    ),
    IndicatorSpec(
        "care-leavers-suitable-accommodation",
        "Care leavers in suitable accommodation",
        DASHBOARD,
        "percent",
        "higher",
        (*sorted(CARE_LEAVER_KINDS), *sorted(CHILD_DETAILS_KINDS)),
        lambda c, q, d: care_leavers_suitable_accommodation(
            c, q, d.care_leaver_ages("care-leavers-suitable-accommodation")
        ),
        lambda d: (
            f"{_care_leavers_text(d, 'care-leavers-suitable-accommodation')}, and of them those "
            "whose latest accommodation recorded in the 12 months to the quarter's end was "
            "suitable; not in touch or not known counts as not suitable (SSDA903 return, "
            "ACCOM)."
        ),
        fixed_basis="at-end",
    ),
    IndicatorSpec(
        "care-leavers-in-education-employment-training",
        "Care leavers in education, employment or training",
        DASHBOARD,
        "percent",
        "higher",
        (*sorted(CARE_LEAVER_KINDS), *sorted(CHILD_DETAILS_KINDS)),
        lambda c, q, d: care_leavers_in_education_employment_training(
            c, q, d.care_leaver_ages("care-leavers-in-education-employment-training")
        ),
        lambda d: (
            f"{_care_leavers_text(d, 'care-leavers-in-education-employment-training')}, and of "
            "them those whose latest main activity recorded in the 12 months to the quarter's "
            "end was education, employment or training; not in touch or not known counts as "
            "not (SSDA903 return, ACTIV)."
        ),
        fixed_basis="at-end",
    ),
    IndicatorSpec(
        "family-help-started",
        "Children starting a Family Help episode in the quarter",
        DASHBOARD,
        "count",
        "neutral",
        (FAMILY_HELP,),
        lambda c, q, d: family_help_started(c, q),
        lambda d: (
            "Children with a Family Help episode recorded in the quarter (the hub's own "
            "measure: it holds starts only)."
        ),
        fixed_basis="in-quarter",
    ),
    IndicatorSpec(
        "elective-home-education",
        "Children Electively Educated at Home",
        EDUCATION,
        "count",
        "neutral",
        (HOME_EDUCATION, *sorted(HOME_EDUCATION_ENDS)),
        lambda c, q, d: home_educated_at_end(c, q),
        lambda d: (
            "Children electively home educated at the quarter's end: a notice not "
            "followed by enrolment, the end of home education or of compulsory school age, or a "
            "move out of the area (the partnership's report); compared with a year earlier."
        ),
        fixed_basis="at-end",
        previous="year-earlier",
    ),
    IndicatorSpec(
        "all-four-agencies",
        "Children in child protection with contributions from all four agency types",
        SHARING,
        "percent",
        "higher",
        (S47_STARTED, CP_PLAN_STARTED, CP_PLAN_ENDED, "every kind"),
        lambda c, q, d: all_four_agencies(c, q),
        lambda d: (
            "Children with a section 47 enquiry or a child protection plan in the 12 "
            "months, and of them those with records from all four agency types in them (the "
            "hub's own measure)."
        ),
        fixed_basis="rolling-12-months",
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
        "Young people aged 16 to 17 not in education, employment or training (NEET)",
        "no event kind records the NEET status of young people who are not care leavers (the "
        "local authority's tracking of all 16 and 17 year olds is not shared through the hub)",
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
    "care-leavers-suitable-accommodation": Target(">", 92.0),
    "care-leavers-in-education-employment-training": Target(">", 54.0),
}
