"""English working days: weekends and England's bank holidays (2024 to 2026) are not counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry
from hub.domain.latency import LatencyRules
from hub.domain.uk_time import UK
from hub.domain.working_days import (
    add_working_days,
    is_bank_holiday,
    is_working_day,
    next_working_day,
    previous_working_day,
    working_days_between,
)
from tests.factories import event_dict

BANK_HOLIDAYS_2024_2026 = [
    date(2024, 1, 1),
    date(2024, 3, 29),  # Good Friday
    date(2024, 4, 1),  # Easter Monday
    date(2024, 5, 6),
    date(2024, 5, 27),
    date(2024, 8, 26),
    date(2024, 12, 25),
    date(2024, 12, 26),
    date(2025, 1, 1),
    date(2025, 4, 18),
    date(2025, 4, 21),
    date(2025, 5, 5),
    date(2025, 5, 26),
    date(2025, 8, 25),
    date(2025, 12, 25),
    date(2025, 12, 26),
    date(2026, 1, 1),
    date(2026, 4, 3),
    date(2026, 4, 6),
    date(2026, 5, 4),
    date(2026, 5, 25),
    date(2026, 8, 31),
    date(2026, 12, 25),
    date(2026, 12, 28),  # Boxing Day falls on a Saturday: substitute day on the Monday
]


@pytest.mark.parametrize("day", BANK_HOLIDAYS_2024_2026)
def test_english_bank_holidays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5  # a weekday that would otherwise count
    assert is_bank_holiday(day)
    assert not is_working_day(day)


def test_exactly_the_known_weekday_bank_holidays_between_2024_and_2026() -> None:
    days = [
        date(2024, 1, 1) + timedelta(days=n)
        for n in range((date(2027, 1, 1) - date(2024, 1, 1)).days)
    ]
    weekday_holidays = [d for d in days if d.weekday() < 5 and not is_working_day(d)]
    assert weekday_holidays == BANK_HOLIDAYS_2024_2026


def test_weekends_are_not_working_days_and_ordinary_weekdays_are() -> None:
    assert not is_working_day(date(2026, 12, 26))  # Saturday (Boxing Day itself)
    assert not is_working_day(date(2024, 3, 30))  # Saturday
    assert not is_working_day(date(2024, 3, 31))  # Sunday
    assert is_working_day(date(2026, 12, 29))
    assert is_working_day(date(2024, 12, 27))  # the Friday after Christmas 2024
    # Scotland's and Northern Ireland's own bank holidays are working days in England.
    assert is_working_day(date(2025, 1, 2))  # 2 January (Scotland)
    assert is_working_day(date(2026, 11, 30))  # St Andrew's Day (Scotland)
    assert is_working_day(date(2024, 7, 12))  # Battle of the Boyne (Northern Ireland)


def test_adding_working_days_steps_over_weekends_and_bank_holidays() -> None:
    # 45 working days from Monday 4 March 2024 skip Easter (29 Mar, 1 Apr) and 6 May.
    assert add_working_days(date(2024, 3, 4), 45) == date(2024, 5, 9)
    # Christmas 2026: Friday 25, Monday 28 (substitute) and New Year's Day 2027 skipped.
    assert add_working_days(date(2026, 12, 10), 15) == date(2027, 1, 5)
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)  # over Easter 2026


def test_backwards_zero_and_from_a_non_working_day() -> None:
    assert add_working_days(date(2026, 12, 29), -1) == date(2026, 12, 24)
    assert add_working_days(date(2024, 5, 9), -5) == date(2024, 5, 1)
    assert add_working_days(date(2026, 12, 26), 0) == date(2026, 12, 26)
    assert add_working_days(date(2026, 12, 26), 1) == date(2026, 12, 29)  # Saturday: Tuesday


def test_next_and_previous_working_day() -> None:
    assert next_working_day(date(2025, 12, 24)) == date(2025, 12, 29)
    assert next_working_day(date(2024, 3, 28)) == date(2024, 4, 2)
    assert next_working_day(date(2024, 5, 3)) == date(2024, 5, 7)  # Friday before May Day
    assert previous_working_day(date(2027, 1, 4)) == date(2026, 12, 31)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    assert working_days_between(date(2024, 5, 1), date(2024, 5, 9)) == 5
    assert working_days_between(date(2024, 5, 9), date(2024, 5, 9)) == 0
    assert working_days_between(date(2024, 5, 9), date(2024, 5, 10)) == 1
    assert working_days_between(date(2024, 5, 10), date(2024, 5, 9)) == -1
    assert working_days_between(date(2024, 5, 15), date(2024, 5, 13)) == -2
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 29)) == 1


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=-80, max_value=80),
)
def test_adding_then_counting_working_days_round_trips(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n
    assert n == 0 or is_working_day(end)


def test_the_next_school_day_for_operation_encompass_skips_bank_holidays() -> None:
    event = CanonicalEvent.model_validate(
        event_dict(
            agency={"id": "shire-constabulary", "type": "police"},
            kind="police.domestic-abuse-incident",
            occurred_at="2026-12-24T21:00:00+00:00",
            recorded_at="2026-12-24T23:00:00+00:00",
            details={"child_present": True, "police_reference": "OE-1"},
        )
    )
    entry = ChronologyEntry(event, datetime(2026, 12, 25, tzinfo=UTC), "s", 1)
    deadline, expectation = LatencyRules().deadline(entry)
    assert expectation == "before the next school day"
    assert deadline == datetime(2026, 12, 29, 8, 30, tzinfo=UK)  # not Monday 28 (substitute day)


def test_the_next_school_day_starts_after_weekends_and_bank_holidays() -> None:
    from hub.domain.working_days import next_school_day_start

    uk = UK
    thursday_evening = datetime(2026, 11, 19, 21, 30, tzinfo=UTC)
    christmas_eve = datetime(2026, 12, 24, 22, 0, tzinfo=UTC)
    friday_after_midnight_bst = datetime(2026, 6, 4, 23, 30, tzinfo=UTC)  # Fri 00:30 in the UK
    assert next_school_day_start(thursday_evening) == datetime(2026, 11, 20, 8, 30, tzinfo=uk)
    # Christmas Day, Boxing Day (Saturday) and its substitute Monday 28 December are skipped.
    assert next_school_day_start(christmas_eve) == datetime(2026, 12, 29, 8, 30, tzinfo=uk)
    assert next_school_day_start(friday_after_midnight_bst) == datetime(
        2026, 6, 8, 8, 30, tzinfo=uk
    )
