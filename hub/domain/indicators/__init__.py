"""Partnership indicators: the performance figures a safeguarding partnership reports each
quarter, computed from the facts the hub's log holds, plus information-sharing indicators that
only a hub can compute (how fast agencies share, whether all four contribute, what is withheld).

Pure domain: plain facts in (one `RecordFact` per agency record, grouped by child), an as-at
date and targets; indicator rows out. No I/O, no clock, no child identifier in any output.

* Periods are UK financial-year quarters (Q1 April-June ... Q4 January-March; Q3 2024/25 is
  October-December 2024). The latest period is the last quarter complete on the as-at date
  (its last day included). Rates are year to date (April to the quarter's end, as the DfE's
  census year) unless a partnership defines them over 12 months (`Definitions`); children in
  a state are counted at the quarter's end; the information-sharing figures are over the
  quarter itself (by the date the hub received the record). A rate is compared with the
  previous quarter's figure, home education with the same quarter a year earlier.
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

# The public API, from the parts: periods, facts, figures, the measures, specs and the report.
from hub.domain.indicators.common import AGENCY_TYPE_LABELS, AGENCY_TYPES, SUPPRESSED, Unit
from hub.domain.indicators.facts import (
    Child,
    RecordFact,
    current_records,
    record_fact,
    record_key,
    withholding_category,
)
from hub.domain.indicators.figures import (
    Figure,
    RagRule,
    Target,
    direction_of_travel,
    published_value,
    rate,
    suppress,
    suppress_group,
)
from hub.domain.indicators.measures import (
    all_four_agencies,
    assessments_in_timescale,
    care_leavers_in_education_employment_training,
    care_leavers_suitable_accommodation,
    cic_dental_checks,
    cic_health_assessments,
    cp_reviews_in_timescale,
    family_help_started,
    home_educated_at_end,
    percentile,
    re_referrals,
    repeat_cp_plans,
)
from hub.domain.indicators.periods import (
    Quarter,
    default_as_at,
    latest_complete_quarter,
    quarter_of,
)
from hub.domain.indicators.report import IndicatorReport, IndicatorRow, build_report
from hub.domain.indicators.specs import (
    DEFAULT_TARGETS,
    NOT_SUPPORTED,
    SPECS,
    STATUTORY,
    Definitions,
    period_in_words,
)

__all__ = [
    "AGENCY_TYPES",
    "AGENCY_TYPE_LABELS",
    "DEFAULT_TARGETS",
    "NOT_SUPPORTED",
    "SPECS",
    "STATUTORY",
    "SUPPRESSED",
    "Child",
    "Definitions",
    "Figure",
    "IndicatorReport",
    "IndicatorRow",
    "Quarter",
    "RagRule",
    "RecordFact",
    "Target",
    "Unit",
    "all_four_agencies",
    "assessments_in_timescale",
    "build_report",
    "care_leavers_in_education_employment_training",
    "care_leavers_suitable_accommodation",
    "cic_dental_checks",
    "cic_health_assessments",
    "cp_reviews_in_timescale",
    "current_records",
    "default_as_at",
    "direction_of_travel",
    "family_help_started",
    "home_educated_at_end",
    "latest_complete_quarter",
    "percentile",
    "period_in_words",
    "published_value",
    "quarter_of",
    "rate",
    "re_referrals",
    "record_fact",
    "record_key",
    "repeat_cp_plans",
    "suppress",
    "suppress_group",
    "withholding_category",
]
