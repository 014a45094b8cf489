"""The partnership indicators as pure functions of hand-made facts (hub.domain.indicators)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry
from hub.domain.indicators import (
    Child,
    Definitions,
    Figure,
    Quarter,
    RagRule,
    RecordFact,
    Target,
    all_four_agencies,
    assessments_in_timescale,
    build_report,
    care_leavers_in_education_employment_training,
    care_leavers_suitable_accommodation,
    cic_dental_checks,
    cic_health_assessments,
    cp_reviews_in_timescale,
    current_records,
    default_as_at,
    direction_of_travel,
    family_help_started,
    home_educated_at_end,
    latest_complete_quarter,
    percentile,
    period_in_words,
    quarter_of,
    rate,
    re_referrals,
    record_fact,
    record_key,
    repeat_cp_plans,
    suppress,
    suppress_group,
    withholding_category,
)
from hub.domain.latency import LatencyRules
from hub.domain.working_days import add_working_days
from hub.reports.indicators_report import render_csv, render_html, render_json, render_text
from tests.factories import event_dict

Q3 = Quarter(2024, 3)  # October to December 2024; its 12 months run from 1 January 2024
LA, POLICE, HEALTH, EDUCATION = "local-authority", "police", "health", "education"
AGENCY_OF = {
    LA: "shire-county-council",
    POLICE: "shire-constabulary",
    HEALTH: "shire-icb",
    EDUCATION: "school-100001",
}
_serial = iter(range(1_000_000))


def fact(
    kind: str,
    occurred: str,
    *,
    agency_type: str | None = None,
    agency: str | None = None,
    key: str | None = None,
    revision: int = 1,
    received: str | None = None,
    hours: float = 1.0,
    late: bool = False,
    started_on: str | None = None,
    completed_on: str | None = None,
    withheld: tuple[str, ...] = (),
    retracts: str | None = None,
    dated: str | None = None,
    born: str | None = None,
    outcome: bool | None = None,
) -> RecordFact:
    agency_type = agency_type or {"la": LA, "police": POLICE, "health": HEALTH}.get(
        kind.split(".")[0], EDUCATION
    )
    return RecordFact(
        key=key or f"k{next(_serial)}",
        revision=revision,
        kind=kind,
        agency=agency or AGENCY_OF[agency_type],
        agency_type=agency_type,
        occurred=date.fromisoformat(occurred),
        received=date.fromisoformat(received or occurred),
        sharing_hours=hours,
        late=late,
        started_on=None if started_on is None else date.fromisoformat(started_on),
        completed_on=None if completed_on is None else date.fromisoformat(completed_on),
        withheld=withheld,
        retracts=retracts,
        dated=None if dated is None else date.fromisoformat(dated),
        born=None if born is None else date.fromisoformat(born),
        outcome=outcome,
    )


def child(*records: RecordFact) -> Child:
    return current_records(records)


# -- periods -----------------------------------------------------------------------------------


def test_quarters_are_uk_financial_year_quarters() -> None:
    assert quarter_of(date(2024, 10, 15)) == Q3
    assert Q3.label == "Q3 2024/25"
    assert (Q3.start, Q3.end) == (date(2024, 10, 1), date(2024, 12, 31))
    assert Q3.window_start == date(2024, 1, 1)
    q4 = quarter_of(date(2025, 2, 1))
    assert (q4.label, q4.start, q4.end) == ("Q4 2024/25", date(2025, 1, 1), date(2025, 3, 31))
    q1 = quarter_of(date(2025, 4, 1))
    assert (q1.label, q1.end, q1.window_start) == (
        "Q1 2025/26",
        date(2025, 6, 30),
        date(2024, 7, 1),
    )
    assert q1.previous() == q4 and q4.previous() == Q3 and Q3.previous() == Quarter(2024, 2)
    assert Quarter(2025, 1).previous() == Quarter(2024, 4)
    with pytest.raises(ValueError):
        Quarter(2024, 5)


@pytest.mark.parametrize(
    ("as_at", "latest"),
    [
        (date(2025, 1, 1), "Q3 2024/25"),  # the day after the quarter ends
        (date(2024, 12, 31), "Q3 2024/25"),  # its last day: a quarter includes it
        (date(2024, 12, 30), "Q2 2024/25"),
        (date(2025, 3, 15), "Q3 2024/25"),
        (date(2025, 4, 1), "Q4 2024/25"),
        (date(2024, 4, 1), "Q4 2023/24"),
    ],
)
def test_latest_is_the_last_quarter_complete_on_the_as_at_date(as_at: date, latest: str) -> None:
    assert latest_complete_quarter(as_at).label == latest


def test_a_quarter_is_named_with_its_months_and_has_a_year_to_date() -> None:
    assert Q3.name == "Q3 2024/25 (October to December 2024)"
    assert Quarter(2024, 4).name == "Q4 2024/25 (January to March 2025)"
    assert Q3.year_start == date(2024, 4, 1) and Quarter(2024, 4).year_start == date(2024, 4, 1)
    assert Q3.year_earlier() == Quarter(2023, 3)
    assert Q3.in_year_to_date(date(2024, 12, 31)) and not Q3.in_year_to_date(date(2024, 3, 31))
    assert period_in_words("year-to-date", Q3) == "year to date (April to December 2024)"
    assert period_in_words("year-to-date", Quarter(2024, 4)) == (
        "year to date (April 2024 to March 2025)"
    )
    assert period_in_words("rolling-12-months", Q3) == (
        "12 months to the quarter's end (January to December 2024)"
    )
    assert period_in_words("at-end", Q3) == "at 31 December 2024"


# -- RAG, direction of travel, suppression -----------------------------------------------------


@pytest.mark.parametrize(
    ("latest", "target", "rag"),
    [
        # The Leicestershire CFS dashboard, Q3 2024/25 (seeds 004:2235-2364)
        (85.2, ">90.3", "A"),  # assessments completed within 45 days
        (90.7, ">97.2", "A"),  # CP cases reviewed within timescales
        (24.5, "<20.8", "A"),  # second or subsequent CP plan
        (26.2, "<18.7", "R"),  # re-referrals within 12 months
        (59.9, ">54.0", "G"),  # care leavers EET
        (93.8, ">92.0", "G"),  # care leavers in suitable accommodation
    ],
)
def test_the_default_rag_rule_reproduces_the_seed_dashboard(
    latest: float, target: str, rag: str
) -> None:
    assert RagRule().rag(latest, Target.parse(target)) == rag


def test_rag_boundaries() -> None:
    rule = RagRule()
    assert rule.rag(90.3, Target(">", 90.3)) == "G"  # equal meets it
    assert rule.rag(18.7, Target("<", 18.7)) == "G"
    assert rule.rag(80.0, Target(">", 100.0)) == "A"  # exactly 20% short
    assert rule.rag(79.9, Target(">", 100.0)) == "R"
    assert rule.rag(24.0, Target("<", 20.0)) == "A"
    assert rule.rag(24.1, Target("<", 20.0)) == "R"
    assert RagRule(amber_within=0.05).rag(85.2, Target(">", 90.3)) == "R"


def test_targets_parse_and_print() -> None:
    assert Target.parse(">90.3%") == Target(">", 90.3)
    assert Target.parse(" <18.7 ") == Target("<", 18.7)
    assert Target(">", 90.3).text("percent") == ">90.3%"
    assert Target("<", 24).text("hours") == "<24 h"
    with pytest.raises(ValueError):
        Target.parse("90.3")


@pytest.mark.parametrize(
    ("latest", "previous", "polarity", "expected"),
    [
        (85.2, 84.5, "higher", ("up", "improving")),
        (90.7, 92.7, "higher", ("down", "worsening")),
        (24.5, 23.0, "lower", ("up", "worsening")),
        (26.2, 26.3, "lower", ("down", "improving")),
        (26.24, 26.21, "lower", ("same", "no change")),  # equal as published (1 dp)
        (1178, 1023, "neutral", ("up", None)),
    ],
)
def test_direction_of_travel_follows_polarity(
    latest: float, previous: float, polarity: Any, expected: tuple[str, str | None]
) -> None:
    unit = "count" if polarity == "neutral" else "percent"
    assert direction_of_travel(Figure(latest), Figure(previous), unit, polarity) == expected


def test_no_direction_of_travel_from_a_suppressed_or_missing_figure() -> None:
    hidden = Figure(50.0, 2, 4, suppressed=True)
    assert direction_of_travel(hidden, Figure(40.0), "percent", "higher") == (None, None)
    assert direction_of_travel(Figure(40.0), Figure(None), "percent", "higher") == (None, None)


@pytest.mark.parametrize(
    ("numerator", "denominator", "suppressed"),
    [(0, 10, False), (1, 10, True), (4, 10, True), (5, 10, False), (0, 0, False), (3, 3, True)],
)
def test_suppression_of_numerators_and_denominators_of_1_to_4(
    numerator: int, denominator: int, suppressed: bool
) -> None:
    figure = suppress(rate(numerator, denominator))
    assert figure.suppressed is suppressed
    published = figure.published("percent")
    assert (published["value"] == "c") is suppressed
    if suppressed:
        assert published == {"value": "c", "numerator": "c", "denominator": "c"}


def test_secondary_suppression_stops_a_part_being_worked_out_from_the_total() -> None:
    parts = {"a": Figure(20.0, 20), "b": Figure(3.0, 3), "c": Figure(9.0, 9), "d": Figure(0.0, 0)}
    total, result = suppress_group(Figure(32.0, 32), parts)
    assert not total.suppressed
    assert {n for n, f in result.items() if f.suppressed} == {"b", "c"}  # next smallest non-zero
    # Nothing small: nothing hidden.
    _, clean = suppress_group(Figure(29.0, 29), {"a": Figure(20.0, 20), "c": Figure(9.0, 9)})
    assert not any(f.suppressed for f in clean.values())
    # A small total hides itself and its small parts.
    total, result = suppress_group(Figure(3.0, 3), {"a": Figure(3.0, 3), "b": Figure(0.0, 0)})
    assert total.suppressed and result["a"].suppressed and not result["b"].suppressed


# -- corrections and retractions ---------------------------------------------------------------


def test_the_latest_revision_counts_and_retracted_records_are_dropped() -> None:
    first = fact("la.referral", "2024-05-01", key="r1")
    corrected = fact("la.referral", "2023-06-01", key="r1", revision=2)
    wrong_child = fact("la.referral", "2024-11-01", key="r2")
    retraction = fact("record.retracted", "2024-11-02", key="r3", retracts="r2")
    records = current_records([corrected, first, wrong_child, retraction])
    assert {r.key: r.revision for r in records} == {"r1": 2, "r3": 1}
    assert re_referrals([records], Q3) == Figure(None, 0, 0)  # the corrected date is earlier
    assert re_referrals([current_records([first])], Q3).denominator == 1


def test_record_keys_are_per_agency() -> None:
    assert record_key("shire-county-council", "REF-1") != record_key("shire-icb", "REF-1")
    assert len(record_key("a", "b")) == 24


# -- the indicators ------------------------------------------------------------------------------


def test_re_referrals_within_12_months_of_an_earlier_referral_year_to_date() -> None:
    children = [
        child(fact("la.referral", "2023-11-01"), fact("la.referral", "2024-10-31")),  # yes
        child(fact("la.referral", "2023-10-30"), fact("la.referral", "2024-10-31")),  # 12m+1d
        child(fact("la.referral", "2024-03-01"), fact("la.referral", "2024-03-01")),  # same day
        child(fact("la.referral", "2024-12-31")),  # the quarter's last day
        child(fact("la.referral", "2025-01-01")),  # after the quarter
        child(fact("la.referral", "2024-02-01"), fact("la.referral", "2024-03-15")),  # 2023/24
    ]
    # Statutory (DfE CIN census C3, the year April to March so far): referrals April to
    # December 2024: 1 + 1 + 1 = 3, re-referrals 1.
    figure = re_referrals(children, Q3)
    assert (figure.numerator, figure.denominator) == (1, 3)
    assert figure.value == pytest.approx(100 / 3)
    # The rolling 12 months (a plausible wrong reading) also counts January to March 2024.
    rolling = re_referrals(children, Q3, "rolling-12-months")
    assert (rolling.numerator, rolling.denominator) == (2, 7)


def test_repeat_child_protection_plans() -> None:
    children = [
        child(fact("la.cp-plan-started", "2020-01-01"), fact("la.cp-plan-started", "2024-06-01")),
        child(fact("la.cp-plan-started", "2024-02-01")),
        child(fact("la.cp-plan-started", "2024-02-01"), fact("la.cp-plan-started", "2024-09-01")),
        child(fact("la.cp-plan-started", "2023-12-31")),  # before the 12 months
    ]
    # Statutory (CIN census D4): plans started April to December 2024.
    figure = repeat_cp_plans(children, Q3)
    assert (figure.numerator, figure.denominator) == (2, 2)
    rolling = repeat_cp_plans(children, Q3, "rolling-12-months")
    assert (rolling.numerator, rolling.denominator) == (2, 4)


def plan(start: str, *reviews: str, end: str | None = None) -> Child:
    records = [fact("la.cp-plan-started", start)]
    records += [fact("la.review-cp-conference", r) for r in reviews]
    if end:
        records.append(fact("la.cp-plan-ended", end))
    return child(*records)


def test_child_protection_reviews_in_timescale() -> None:
    on_time = plan("2024-03-01", "2024-05-30", "2024-11-29")  # 3 months, then 6
    first_late = plan("2024-03-01", "2024-06-03", "2024-11-29")
    due_before_end = plan("2024-03-01", "2024-06-01")  # next due 1 December: missed
    overdue = plan("2024-01-10", "2024-04-09")  # next due 2024-10-09, none by 31 December
    # Overdue since before the 12 months and still overdue within them.
    long_overdue = plan("2022-01-10", "2022-04-01", "2024-02-01")
    too_new = plan("2024-10-15")  # open under 3 months at the quarter's end: not counted
    ended_short = plan("2024-05-01", end="2024-07-01")  # ended in under 3 months
    ended_on_time = plan("2024-02-01", "2024-04-25", end="2024-09-30")
    ended_late = plan("2024-01-02", end="2024-09-30")  # never reviewed
    ended_before = plan("2023-01-01", "2023-03-01", end="2023-06-01")  # before the 12 months
    ended_on_last_day = plan("2024-06-01", "2024-08-30", end="2024-12-31")
    children = [
        on_time,
        first_late,
        due_before_end,
        overdue,
        long_overdue,
        too_new,
        ended_short,
        ended_on_time,
        ended_late,
        ended_before,
        ended_on_last_day,
    ]
    # DfE CIN census D6: children on a plan at the quarter's end that had lasted 3 months;
    # ended plans are not in it (counting them, a plausible wrong reading, gives 2 of 8).
    figure = cp_reviews_in_timescale(children, Q3)
    assert (figure.numerator, figure.denominator) == (1, 5)  # on_time only
    assert cp_reviews_in_timescale([on_time], Q3).value == 100.0
    for late in (first_late, due_before_end, overdue, long_overdue):
        assert cp_reviews_in_timescale([late], Q3).value == 0.0
    for not_counted in (too_new, ended_short, ended_on_time, ended_late, ended_before):
        assert cp_reviews_in_timescale([not_counted], Q3).denominator == 0
    assert cp_reviews_in_timescale([ended_on_last_day], Q3).denominator == 0


@pytest.mark.parametrize("meeting", ["la.core-group-meeting", "la.cp-plan-reviewed"])
def test_a_core_group_meeting_is_not_a_review_conference(meeting: str) -> None:
    """As the clocks consumer, which stops the review clock only on a review conference."""
    core_group = child(fact("la.cp-plan-started", "2024-06-01"), fact(meeting, "2024-08-20"))
    # The first review conference was due by 1 September: missed (counting the core group
    # meeting as a review, the wrong reading, gives 100%).
    assert cp_reviews_in_timescale([core_group], Q3) == Figure(0.0, 0, 1)
    conference = child(
        fact("la.cp-plan-started", "2024-06-01"), fact("la.review-cp-conference", "2024-08-20")
    )
    assert cp_reviews_in_timescale([conference], Q3) == Figure(100.0, 1, 1)  # next due Feb


def test_a_new_plan_ends_the_one_open() -> None:
    restarted = child(
        fact("la.cp-plan-started", "2022-01-01"),  # never reviewed, ended by the next start
        fact("la.cp-plan-started", "2023-06-01"),
        fact("la.review-cp-conference", "2023-08-25"),
        fact("la.review-cp-conference", "2024-02-20"),
        fact("la.review-cp-conference", "2024-08-15"),
    )
    # Were the first plan still open it would be overdue; ended in 2023, it is not counted.
    assert cp_reviews_in_timescale([restarted], Q3) == Figure(100.0, 1, 1)


def test_assessments_within_45_working_days_count_bank_holidays_out() -> None:
    start = date(2024, 11, 25)
    last_on_time = add_working_days(start, 45)  # after Christmas, Boxing Day and New Year
    weekdays = sum(
        1 for n in range(1, (last_on_time - start).days + 1) if (start + timedelta(n)).weekday() < 5
    )
    assert weekdays == 48  # a weekday-only count would have called it late
    late = add_working_days(start, 46)
    children = [
        child(
            fact(
                "la.assessment-completed",
                last_on_time.isoformat(),
                started_on="2024-11-25",
                completed_on=last_on_time.isoformat(),
            )
        ),
        child(fact("la.assessment-completed", late.isoformat(), started_on="2024-11-25")),
        child(
            fact(
                "la.assessment-completed",
                "2024-06-03",
                started_on="2024-05-01",
                completed_on="2024-06-03",
            )
        ),
    ]
    q4 = Quarter(2024, 4)  # the assessments complete in January and February 2025
    figure = assessments_in_timescale(children, q4)
    assert (figure.numerator, figure.denominator) == (2, 3)
    assert assessments_in_timescale(children, Q3) == Figure(100.0, 1, 1)


def test_assessments_are_counted_year_to_date_by_default() -> None:
    children = [
        child(  # completed in February 2024: the 2023/24 census year
            fact(
                "la.assessment-completed",
                "2024-02-28",
                started_on="2023-11-01",
                completed_on="2024-02-28",
            )
        ),
        child(
            fact(
                "la.assessment-completed",
                "2024-12-31",  # the quarter's last day
                started_on="2024-12-02",
                completed_on="2024-12-31",
            )
        ),
    ]
    assert assessments_in_timescale(children, Q3) == Figure(100.0, 1, 1)
    assert assessments_in_timescale(children, Q3, "rolling-12-months") == Figure(50.0, 1, 2)


def test_elective_home_education_at_the_quarter_end() -> None:
    children = [
        child(fact("education.elective-home-education-notice", "2024-11-04")),
        child(
            fact("education.elective-home-education-notice", "2024-05-01"),
            fact("education.enrolled", "2024-09-04"),  # back in school
        ),
        child(
            fact("education.enrolled", "2023-09-04"),
            fact("education.elective-home-education-notice", "2024-02-01"),
        ),
        child(fact("education.elective-home-education-notice", "2025-01-10")),  # later
    ]
    assert home_educated_at_end(children, Q3) == Figure(2.0, 2)
    assert home_educated_at_end(children, Quarter(2024, 1)) == Figure(2.0, 2)  # 30 June
    assert home_educated_at_end(children, Quarter(2023, 4)) == Figure(1.0, 1)  # 31 March


@pytest.mark.parametrize(
    "ending",
    [
        "education.elective-home-education-ended",
        "education.compulsory-school-age-ended",
        "la.moved-out-of-area",
        "education.enrolled",
    ],
)
def test_elective_home_education_ends_at_school_leaving_age_or_a_move(ending: str) -> None:
    ended = child(
        fact("education.elective-home-education-notice", "2023-09-01"), fact(ending, "2024-07-19")
    )
    still = child(fact("education.elective-home-education-notice", "2023-09-01"))
    # Never leaving home education (the wrong reading) would give 2.
    assert home_educated_at_end([ended, still], Q3) == Figure(1.0, 1)
    assert home_educated_at_end([ended, still], Quarter(2024, 1)) == Figure(2.0, 2)


def test_home_education_is_compared_with_the_same_quarter_a_year_earlier() -> None:
    children = [
        child(fact("education.elective-home-education-notice", f"2023-{m:02d}-01"))
        for m in range(1, 13)
    ]  # one more child each month of 2023: 9 by the end of September, 12 by December
    report = build_report(children, date(2025, 1, 1))
    row = report.row("elective-home-education")
    assert row.previous_quarter == Quarter(2023, 3)
    assert (row.latest.value, row.previous.value) == (12.0, 12.0)
    rows = {row["code"]: row for row in report.as_dict()["indicators"]}
    assert rows["elective-home-education"]["previous_period"] == "Q3 2023/24"
    rates = report.row("re-referrals-12-months")
    assert rates.previous_quarter == Quarter(2024, 2)


def test_children_in_care_with_a_health_assessment_in_the_last_12_months() -> None:
    children = [
        child(fact("la.looked-after", "2022-05-01"), fact(LAC_HA, "2024-08-01")),  # yes
        child(fact("la.looked-after", "2023-01-01"), fact(LAC_HA, "2023-11-01")),  # too long ago
        child(fact("la.looked-after", "2024-06-01"), fact(LAC_HA, "2024-07-01")),  # < 12 months
        child(
            fact("la.looked-after", "2021-01-01"),
            fact("la.care-leaver-status", "2024-03-01"),  # left care
            fact(LAC_HA, "2024-02-01"),
        ),
        child(
            fact("la.looked-after", "2020-01-01"),
            fact("la.care-leaver-status", "2021-03-01"),
            fact("la.looked-after", "2023-06-01"),  # back in care, 18 months by December
        ),
    ]
    figure = cic_health_assessments(children, Q3)
    assert (figure.numerator, figure.denominator) == (1, 3)


@pytest.mark.parametrize(
    ("kind", "measure"),
    [
        ("health.looked-after-health-assessment", cic_health_assessments),
        ("health.looked-after-dental-check", cic_dental_checks),
    ],
)
def test_children_stop_being_looked_after_and_the_cohort_is_ssda903s(
    kind: str, measure: Any
) -> None:
    children = [
        child(
            fact("la.looked-after", "2022-05-01"),
            fact(kind, "2024-08-01", completed_on="2024-08-01"),
        ),
        child(  # went home in June 2024: not in care at the quarter's end
            fact("la.looked-after", "2021-01-01"),
            fact("la.ceased-looked-after", "2024-06-20", dated="2024-06-14"),
        ),
        child(  # in care since June 2024, checked in July: in care at the end, not 12 months
            fact("la.looked-after", "2024-06-01"), fact(kind, "2024-07-01")
        ),
        child(  # ceased and came back in March 2024: not looked after continuously for a year
            fact("la.looked-after", "2020-01-01"),
            fact("la.ceased-looked-after", "2024-02-01", dated="2024-02-01"),
            fact("la.looked-after", "2024-03-01"),
        ),
    ]
    # Statutory (SSDA903, OC2): looked after continuously for 12 months at 31 December 2024.
    # Never leaving care (the wrong reading) would give 1 of 3.
    assert measure(children, Q3) == Figure(100.0, 1, 1)
    # The partnership's report: every child in care at the quarter's end.
    assert measure(children, Q3, "in-care-at-end") == Figure(200 / 3, 2, 3)
    # The completion date, not the day the record says it happened, decides the 12 months.
    late_record = child(
        fact("la.looked-after", "2022-05-01"), fact(kind, "2025-01-05", completed_on="2024-12-31")
    )
    assert measure([late_record], Q3) == Figure(100.0, 1, 1)


LAC_HA = "health.looked-after-health-assessment"
CL_ACCOM, CL_ACTIVITY = "la.care-leaver-accommodation", "la.care-leaver-activity"


def care_leaver(born: str | None, *records: RecordFact, details_by: str = LA) -> Child:
    details = () if born is None else (fact("la.child-details", "2020-01-01", born=born),)
    if details and details_by != LA:
        details = (fact("health.child-details", "2020-01-01", agency_type=details_by, born=born),)
    return child(fact("la.care-leaver-status", "2023-01-10"), *details, *records)


@pytest.mark.parametrize(
    ("kind", "measure"),
    [
        (CL_ACCOM, care_leavers_suitable_accommodation),
        (CL_ACTIVITY, care_leavers_in_education_employment_training),
    ],
)
def test_care_leavers_aged_19_to_21_by_their_latest_status_in_12_months(
    kind: str, measure: Any
) -> None:
    children = [
        care_leaver("2004-06-01", fact(kind, "2024-11-01", dated="2024-11-01", outcome=True)),
        care_leaver(  # 21 on the quarter's last day: still in
            "2003-12-31", fact(kind, "2024-09-01", dated="2024-09-01", outcome=True)
        ),
        care_leaver(  # 22 on 30 December: out
            "2002-12-30", fact(kind, "2024-09-01", dated="2024-09-01", outcome=True)
        ),
        care_leaver(  # suitable in March, not since August: the latest counts
            "2005-01-01",
            fact(kind, "2024-03-01", dated="2024-03-01", outcome=True),
            fact(kind, "2024-08-01", dated="2024-08-01", outcome=False),
        ),
        care_leaver(  # nothing recorded in the 12 months: not known, in the cohort, not a yes
            "2005-02-02", fact(kind, "2023-11-30", dated="2023-11-30", outcome=True)
        ),
        care_leaver(  # 18 at the quarter's end: only in a partnership's "up to 21"
            "2006-10-01", fact(kind, "2024-10-15", dated="2024-10-15", outcome=True)
        ),
        care_leaver(  # 17: only from 17
            "2007-10-01", fact(kind, "2024-10-15", dated="2024-10-15", outcome=True)
        ),
        care_leaver(None, fact(kind, "2024-10-15", dated="2024-10-15", outcome=True)),  # no DOB
        child(  # never recorded as a care leaver by the quarter's end
            fact("la.child-details", "2020-01-01", born="2004-06-01"),
            fact("la.care-leaver-status", "2025-01-05"),
        ),
    ]
    # Statutory (DfE, aged 19 to 21): 2 of the 4 aged 19 to 21. Counting everyone with a record
    # ever suitable would give 4 of 4; ignoring age, 4 of 6.
    assert measure(children, Q3) == Figure(50.0, 2, 4)
    assert measure(children, Q3, "18-21") == Figure(60.0, 3, 5)
    assert measure(children, Q3, "17-21") == Figure(400 / 6, 4, 6)
    # The day the status was recorded on (its details) decides, not the day the record says.
    recorded_late = care_leaver(
        "2004-06-01", fact(kind, "2025-01-20", dated="2024-12-31", outcome=True)
    )
    assert measure([recorded_late], Q3) == Figure(100.0, 1, 1)


def test_a_care_leavers_age_is_from_the_local_authoritys_date_of_birth_and_29_february() -> None:
    leap = care_leaver(
        "2004-02-29",
        fact(CL_ACCOM, "2024-11-01", dated="2024-11-01", outcome=True),
    )
    # Born 29 February 2004: 19 on 1 March 2023, in the cohort at the end of Q4 2024/25 too.
    assert care_leavers_suitable_accommodation([leap], Quarter(2024, 4)).denominator == 1
    health_only = care_leaver(
        "2004-06-01",
        fact(CL_ACCOM, "2024-11-01", dated="2024-11-01", outcome=True),
        details_by=HEALTH,
    )
    assert care_leavers_suitable_accommodation([health_only], Q3).denominator == 1
    disagreeing = child(
        *health_only,
        fact("la.child-details", "2020-01-01", key="la-details", born="2007-06-01"),
    )
    # The local authority's date of birth (17 at the quarter's end) wins over health's (20).
    assert care_leavers_suitable_accommodation([disagreeing], Q3).denominator == 0


def test_care_leaver_ages_are_a_partnership_definition() -> None:
    definitions = Definitions.parse({"care-leavers-suitable-accommodation": {"ages": "17-21"}})
    assert definitions.care_leaver_ages("care-leavers-suitable-accommodation") == "17-21"
    assert definitions.care_leaver_ages("care-leavers-in-education-employment-training") == "19-21"
    with pytest.raises(ValueError, match=r"^cic-dental-checks: ages"):
        Definitions.parse({"cic-dental-checks": {"ages": "17-21"}})
    with pytest.raises(ValueError, match=r"^care-leavers-suitable-accommodation: ages '16-21'"):
        Definitions.parse({"care-leavers-suitable-accommodation": {"ages": "16-21"}})
    children = [
        care_leaver("2006-10-01", fact(CL_ACCOM, "2024-10-15", dated="2024-10-15", outcome=True))
    ]
    statutory = build_report(children, date(2025, 1, 1)).row("care-leavers-suitable-accommodation")
    assert statutory.latest.denominator == 0
    assert "aged 19 to 21" in statutory.definition
    local = build_report(children, date(2025, 1, 1), definitions=definitions).row(
        "care-leavers-suitable-accommodation"
    )
    assert local.latest.denominator == 1
    assert "aged 17 to 21 at the quarter's end (the partnership's definition)" in local.definition


def test_children_starting_family_help_in_the_quarter() -> None:
    children = [
        child(
            fact("la.family-help-episode", "2024-10-01"),
            fact("la.family-help-episode", "2024-12-01"),
        ),
        child(fact("la.family-help-episode", "2024-09-30")),
        child(fact("la.family-help-episode", "2024-12-31")),
    ]
    assert family_help_started(children, Q3) == Figure(2.0, 2)


def test_contributions_from_all_four_agency_types() -> None:
    def case(*records: RecordFact) -> Child:
        return child(fact("la.s47-enquiry-started", "2024-11-01"), *records)

    everyone = [
        fact("police.home-visit", "2024-02-01"),
        fact("health.was-not-brought", "2024-03-01"),
        fact("education.attendance-concern", "2024-12-31"),
    ]
    children = [
        case(*everyone),
        case(*everyone[:2]),  # no education
        case(*everyone[:2], fact("education.attendance-concern", "2023-12-31")),  # too early
        case(*everyone[:2], fact("record.retracted", "2024-12-01", agency_type=EDUCATION)),
        # A plan open in the window counts as child protection too (and a review of it is
        # the local authority's contribution in the 12 months).
        child(
            fact("la.cp-plan-started", "2023-05-01"),
            fact("la.cp-plan-reviewed", "2024-04-01"),
            *everyone,
        ),
        child(fact("la.cp-plan-started", "2023-05-01"), *everyone),  # no LA record in 2024
        # Who the child is (their details) is no agency's contribution to the picture.
        case(everyone[0], fact("health.child-details", "2024-06-01"), everyone[2]),
        child(
            fact("la.cp-plan-started", "2023-05-01"),
            fact("la.child-details", "2024-04-01"),
            *everyone,
        ),
        # Ended before the window: not in child protection.
        child(fact("la.cp-plan-started", "2022-05-01"), fact("la.cp-plan-ended", "2023-05-01")),
        child(*everyone),  # not in child protection
    ]
    figure = all_four_agencies(children, Q3)
    assert (figure.numerator, figure.denominator) == (2, 8)


def test_nearest_rank_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == 9.0
    assert percentile([5.0, 1.0, 3.0], 0.9) == 5.0
    assert percentile([2.0], 0.9) == 2.0


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("Live investigation: sharing now could alert suspects", "investigation"),
        ("reveals the new address to a parent", "location"),
        ("Risk of retaliation against the mother", "risk-of-harm"),
        ("Clinical information about the parent", "health-confidentiality"),
        ("The young person asked us not to tell school; Gillick competent", "child-wishes"),
        ("Anonymous informant", "third-party"),
        ("Awaiting manager sign-off", "other"),
    ],
)
def test_withholding_reasons_are_kept_as_categories_only(reason: str, category: str) -> None:
    assert withholding_category(reason) == category


# -- from a canonical event ----------------------------------------------------------------------


def test_record_fact_from_an_event_keeps_only_what_the_indicators_need() -> None:
    event = CanonicalEvent.model_validate(
        event_dict(
            event_id="ASMT-9",
            revision=2,
            kind="la.assessment-completed",
            occurred_at="2024-06-30T23:30:00+00:00",  # 1 July in England (BST)
            recorded_at="2024-07-01T08:00:00+00:00",
            details={"started_on": "2024-05-20", "completed_on": "2024-06-30"},
            withheld_from=[
                {
                    "agency_type": "education",
                    "reason": "Would reveal the refuge address",
                    "decided_by": "TM-0088",
                    "review_by": "2024-12-01",
                }
            ],
        )
    )
    received = datetime(2024, 7, 2, 14, 0, tzinfo=UTC)
    entry = ChronologyEntry(event, received, "ab" * 16, 3)
    got = record_fact(entry, LatencyRules())
    assert got.key == record_key("shire-county-council", "ASMT-9")
    assert (got.revision, got.kind, got.agency_type) == (2, "la.assessment-completed", LA)
    assert got.occurred == date(2024, 7, 1) and quarter_of(got.occurred) == Quarter(2024, 2)
    assert got.received == date(2024, 7, 2)
    assert got.sharing_hours == 30.0 and got.late  # more than a day after recording
    assert (got.started_on, got.completed_on) == (date(2024, 5, 20), date(2024, 6, 30))
    assert got.withheld == ("location",)
    document = got.to_document()
    assert "refuge" not in json.dumps(document)
    assert RecordFact.from_document(got.key, document) == got


@pytest.mark.parametrize(
    ("kind", "details", "day"),
    [
        ("la.ceased-looked-after", {"reason": "E13", "ceased_on": "2024-06-14"}, "2024-06-14"),
        ("health.looked-after-dental-check", {"completed_on": "2024-06-11"}, "2024-06-11"),
        ("health.looked-after-health-assessment", {"completed_on": "2024-06-12"}, "2024-06-12"),
        ("health.looked-after-health-assessment", {}, "2024-06-20"),  # occurred_at
        (
            "education.elective-home-education-ended",
            {"ended_on": "2024-06-13", "reason": "returned-to-school"},
            "2024-06-13",
        ),
        ("education.compulsory-school-age-ended", {"on": "2024-06-19"}, "2024-06-19"),
        ("la.moved-out-of-area", {"moved_on": "2024-06-15"}, "2024-06-15"),
        (
            CL_ACCOM,
            {"accommodation": "U", "suitable": True, "recorded_on": "2024-06-16"},
            "2024-06-16",
        ),
        (CL_ACTIVITY, {"activity": "G5", "recorded_on": "2024-06-17"}, "2024-06-17"),
    ],
)
def test_the_new_kinds_are_counted_on_the_day_their_details_give(
    kind: str, details: dict[str, Any], day: str
) -> None:
    agency_type = {"la": LA, "health": HEALTH}.get(kind.split(".")[0], EDUCATION)
    event = CanonicalEvent.model_validate(
        event_dict(
            agency={"id": AGENCY_OF[agency_type], "type": agency_type},
            kind=kind,
            occurred_at="2024-06-20T10:00:00+00:00",
            recorded_at="2024-06-20T11:00:00+00:00",
            details=details,
        )
    )
    got = record_fact(
        ChronologyEntry(event, datetime(2024, 6, 21, tzinfo=UTC), "ab" * 16, 1), LatencyRules()
    )
    assert got.day == date.fromisoformat(day)
    assert RecordFact.from_document(got.key, got.to_document()) == got


@pytest.mark.parametrize(
    ("kind", "details", "outcome"),
    [
        (CL_ACCOM, {"accommodation": "U", "suitable": True, "recorded_on": "2024-06-16"}, True),
        (CL_ACCOM, {"accommodation": "S", "suitable": False, "recorded_on": "2024-06-16"}, False),
        (CL_ACTIVITY, {"activity": "F4", "recorded_on": "2024-06-17"}, True),
        (CL_ACTIVITY, {"activity": "G6", "recorded_on": "2024-06-17"}, False),
    ],
)
def test_a_care_leavers_status_is_kept_as_yes_or_no_and_a_child_details_date_of_birth(
    kind: str, details: dict[str, Any], outcome: bool
) -> None:
    event = CanonicalEvent.model_validate(
        event_dict(
            kind=kind,
            occurred_at="2024-06-20T10:00:00+00:00",
            recorded_at="2024-06-20T11:00:00+00:00",
            details=details,
        )
    )
    got = record_fact(
        ChronologyEntry(event, datetime(2024, 6, 21, tzinfo=UTC), "ab" * 16, 1), LatencyRules()
    )
    assert (got.outcome, got.born) == (outcome, None)
    assert RecordFact.from_document(got.key, got.to_document()) == got
    assert '"U"' not in json.dumps(got.to_document())  # the code is not kept, only yes or no
    details_event = CanonicalEvent.model_validate(
        event_dict(
            kind="la.child-details",
            recorded_at="2024-06-20T11:00:00+00:00",
            details={
                "family_name": "Smith",
                "given_names": ["Jo"],
                "date_of_birth": "2005-03-04",
                "sex": "female",
            },
        )
    )
    child_details = record_fact(
        ChronologyEntry(details_event, datetime(2024, 6, 21, tzinfo=UTC), "ab" * 16, 1),
        LatencyRules(),
    )
    assert (child_details.born, child_details.outcome) == (date(2005, 3, 4), None)
    assert "Smith" not in json.dumps(child_details.to_document())
    assert RecordFact.from_document(child_details.key, child_details.to_document()) == child_details


def test_a_retraction_names_the_key_of_the_record_it_withdraws() -> None:
    event = CanonicalEvent.model_validate(
        event_dict(event_id="RET-1", kind="record.retracted", supersedes={"event_id": "REF-7"})
    )
    entry = ChronologyEntry(event, datetime(2024, 3, 4, 12, tzinfo=UTC), "ab" * 16, 1)
    assert record_fact(entry, LatencyRules()).retracts == record_key(
        "shire-county-council", "REF-7"
    )


# -- the report ---------------------------------------------------------------------------------


def sharing_population() -> list[Child]:
    """Police shares received in Q3 with known latencies, two schools (one with 2 shares),
    and withheld items by reason."""
    police_hours = [2.0, 4.0, 6.0, 8.0, 10.0, 30.0]
    children = [
        child(fact("police.home-visit", "2024-10-01", received="2024-10-02", hours=h, late=h > 24))
        for h in police_hours
    ]
    for n in range(7):
        children.append(
            child(
                fact(
                    "education.attendance-concern", "2024-11-01", agency="school-100001", hours=3.0
                ),
                fact(
                    "police.exploitation-concern",
                    "2024-11-02",
                    received="2024-11-03",
                    hours=5.0,
                    withheld=("investigation",) if n < 6 else ("location",),
                ),
            )
        )
    children.append(
        child(
            fact("education.attendance-concern", "2024-11-01", agency="school-100002", hours=9.0),
            fact("education.attendance-concern", "2024-11-05", agency="school-100002", hours=9.0),
        )
    )
    return children


def test_sharing_latency_by_agency_type_and_agency_with_suppression() -> None:
    report = build_report(sharing_population(), date(2025, 1, 1))
    assert report.latest == Q3
    police_median = report.row("sharing-latency-median/police")
    # 6 home visits (2, 4, 6, 8, 10, 30 h) and 7 exploitation concerns (5 h each)
    assert police_median.latest == Figure(5.0, denominator=13)
    assert report.row("sharing-latency-p90/police").latest.value == 10.0
    within = report.row("shared-within-expectation/police").latest
    assert (within.numerator, within.denominator) == (12, 13)
    assert report.row("sharing-latency-median/education").latest.denominator == 9
    # school-100002's 2 shares are suppressed; school-100001's 7 too, or they would give it away
    school_2 = report.row("sharing-latency-median/education/school-100002").latest
    school_1 = report.row("sharing-latency-median/education/school-100001").latest
    assert school_2.suppressed and school_1.suppressed
    assert report.row("sharing-latency-median/health").latest == Figure(None, denominator=0)
    assert report.row("sharing-latency-median/police").previous.value is None


def test_withheld_items_by_reason_with_secondary_suppression() -> None:
    report = build_report(sharing_population(), date(2025, 1, 1))
    total = report.row("withheld-items/total").latest
    assert total == Figure(7.0, 7)
    assert report.row("withheld-items/location").latest.suppressed  # 1
    assert report.row("withheld-items/investigation").latest.suppressed  # 6, else 7 - 6 = 1
    assert report.row("withheld-items/other").latest == Figure(0.0, 0)


def test_report_rows_targets_rag_and_renderings() -> None:
    children = [
        child(fact("la.referral", "2024-10-20"), fact("la.referral", "2024-11-01"))
        for _ in range(6)
    ] + [child(fact("la.referral", "2024-10-01")) for _ in range(4)]
    children += [child(fact("la.referral", "2024-06-01")) for _ in range(2)]
    report = build_report(children, date(2025, 2, 1))
    row = report.row("re-referrals-12-months")
    assert (row.latest.numerator, row.latest.denominator) == (6, 18)
    assert (row.previous.numerator, row.previous.denominator) == (0, 2)
    assert row.previous.suppressed and row.direction is None
    assert row.target == Target("<", 18.7) and row.rag == "R"
    assert report.row("repeat-cp-plans").rag is None  # no data, no RAG

    document = json.loads(render_json(report))
    published = next(r for r in document["indicators"] if r["code"] == "re-referrals-12-months")
    assert published["latest"] == {"value": 33.3, "numerator": 6, "denominator": 18}
    assert published["previous"]["value"] == "c"
    assert published["period"] == "Q3 2024/25" and published["previous_period"] == "Q2 2024/25"
    assert document["not_supported"]

    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert len(rows) == len(report.rows) == len(document["indicators"])
    by_code = {r["code"]: r for r in rows}
    assert by_code["re-referrals-12-months"]["latest"] == "33.3"
    assert by_code["re-referrals-12-months"]["previous"] == "c"
    assert by_code["re-referrals-12-months"]["rag"] == "R"

    html = render_html(report)
    assert html.count("<svg") >= 9 and "<script" not in html
    assert "Re-referrals to CSC within 12 mths" in html and "://" not in html
    assert "Q3 2024/25" in render_text(report)


def test_a_targets_mapping_replaces_the_defaults() -> None:
    children = [child(fact("la.referral", "2024-11-01")) for _ in range(5)]
    default = build_report(children, date(2025, 1, 1)).row("re-referrals-12-months")
    assert default.rag == "G"  # 0.0% against <18.7%
    custom = build_report(children, date(2025, 1, 1), {"re-referrals-12-months": Target(">", 1)})
    assert custom.row("re-referrals-12-months").rag == "R"
    assert custom.row("assessments-45-days").target is None


# -- what the report holds against the quarter it reports (issue 16) -----------------------------


def test_the_default_as_at_is_today_unless_the_hub_holds_no_event_in_the_last_quarter() -> None:
    today = date(2026, 12, 6)  # the last complete quarter is Q2 2026/27, July to September
    live = [child(fact("la.referral", "2026-08-14"), fact("la.referral", "2025-11-02"))]
    assert default_as_at(live, today) == today
    # History to December 2025 and an incident last night: Q3 2025/26 is the last quarter
    # complete before today that the hub holds events in.
    history = [child(fact("la.referral", "2025-12-15"), fact("police.x", "2026-12-05"))]
    assert default_as_at(history, today) == date(2026, 1, 1)
    assert latest_complete_quarter(default_as_at(history, today)) == Quarter(2025, 3)
    assert default_as_at([], today) == today


def test_a_quarter_the_hub_holds_no_events_in_is_not_rated_and_says_why() -> None:
    plans = [plan("2025-04-01") for _ in range(6)]  # no review after 2025: none recorded
    report = build_report(plans, date(2026, 12, 6))
    row = report.row("cp-reviews-in-timescale")
    assert (row.latest.value, row.latest.denominator, row.rag) == (0.0, 6, None)
    assert all(r.rag is None for r in report.rows)
    assert any("no record of an event in Q2 2026/27" in note for note in report.notes)
    busy = [*plans, child(fact("la.referral", "2025-08-01"))]
    rated = build_report(busy, date(2025, 10, 1))  # Q2 2025/26: a review was due and missed
    assert rated.row("cp-reviews-in-timescale").rag == "R"
    assert not any("no record of an event" in note for note in rated.notes)


def test_sharing_figures_over_a_quarter_nothing_arrived_in_say_so() -> None:
    backfill = [child(fact("la.referral", "2024-11-01", received="2026-12-06")) for _ in range(5)]
    report = build_report(backfill, date(2025, 1, 1))
    assert report.row("sharing-latency-median/local-authority").latest.value is None
    (note,) = report.notes
    assert "none reached the hub in Q3 2024/25" in note and "on 6 December 2026" in note
    assert json.loads(render_json(report))["notes"] == [note]
    assert note in " ".join(render_text(report, 100).split())
    assert "Note:" in render_html(report) and "none reached the hub" in render_html(report)


@pytest.mark.parametrize("width", [80, 100, 122, 160])
def test_the_text_table_wraps_indicator_names_at_words_and_never_cuts_them(width: int) -> None:
    report = build_report([child(fact("la.referral", "2024-11-01"))], date(2025, 1, 1))
    text = render_text(report, width)
    words = text.split()
    for row in report.rows:
        for word in row.title.split():
            assert word in words, (row.title, word)
    assert all(len(line) <= width for line in text.splitlines() if "Note:" not in line)


def test_the_rolling_figure_beside_a_year_to_date_one_cannot_give_away_a_small_difference() -> None:
    autumn = [child(fact("la.referral", "2024-10-07")) for _ in range(6)]
    winter = [child(fact("la.referral", "2024-02-05")) for _ in range(2)]
    row = build_report([*autumn, *winter], date(2025, 1, 1)).row("re-referrals-12-months")
    assert row.latest == Figure(0.0, 0, 6)  # year to date: published
    # 8 referrals over the 12 months: publishing 0 of 8 would say 2 came January to March.
    assert row.rolling is not None and row.rolling.suppressed
    more_winter = [child(fact("la.referral", "2024-02-05")) for _ in range(5)]
    row = build_report([*autumn, *more_winter], date(2025, 1, 1)).row("re-referrals-12-months")
    assert row.rolling == Figure(0.0, 0, 11)
    assert row.as_dict(Q3, Q3.previous())["rolling_12_months"]["denominator"] == 11
