"""Working days in England: Monday to Friday, less the bank holidays of England and Wales.

The statutory timescales a safeguarding partnership is judged on are counted in working days
(Working Together to Safeguard Children 2023: an assessment within 45 working days of the
referral, an initial child protection conference within 15 working days of the strategy
discussion, a serious incident notified within 5 and a Rapid Review within 15 working days of
becoming aware of it). A clock that counts only weekdays would say a timescale was breached when
the Easter or Christmas bank holidays in fact gave the team more time, so every clock, and the
"before the next school day" expectation of Operation Encompass, counts through here.

Bank holidays come from the `holidays` package (`country_holidays("GB", subdiv="ENG")`), which
includes substitute days (Boxing Day 2026 falls on a Saturday and is observed on Monday 28
December) and one-off holidays proclaimed so far (the 2022 state funeral, the 2023 coronation).
A holiday proclaimed after the installed version was released is not known until the package
is upgraded.

`n` working days after a date never counts the date itself: the referral day is day 0, and the
45th working day after it is the last day the assessment is on time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

import holidays

from hub.domain.uk_time import UK, uk_date

_DAY = timedelta(days=1)
SCHOOL_DAY_STARTS = time(8, 30)


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_bank_holiday(day: date) -> bool:
    """A bank holiday in England (a substitute day counts; the weekend day it replaces does too)."""
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an English bank holiday."""
    return day.weekday() < 5 and not is_bank_holiday(day)


def next_working_day(day: date) -> date:
    """The first working day strictly after `day` (after a Friday, usually the Monday)."""
    return add_working_days(day, 1)


def previous_working_day(day: date) -> date:
    """The last working day strictly before `day`."""
    return add_working_days(day, -1)


def add_working_days(day: date, n: int) -> date:
    """The `n`th working day after `day` (before it when `n` is negative); `day` itself is
    never counted, so it may be a weekend or holiday. With `n` = 0, `day` unchanged."""
    step = _DAY if n >= 0 else -_DAY
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`; when `end` is before `start`,
    minus the working days from `end` (inclusive) up to `start` (exclusive). Either way
    `add_working_days(start, working_days_between(start, end)) == end` whenever `end` is a
    working day.

    "Working days left" until a due date is `working_days_between(today, due)`: 0 on the due
    date itself, -1 on the first working day after it.
    """
    if end >= start:
        days = (start + offset * _DAY for offset in range(1, (end - start).days + 1))
        return sum(1 for day in days if is_working_day(day))
    days = (start - offset * _DAY for offset in range(1, (start - end).days + 1))
    return -sum(1 for day in days if is_working_day(day))


def next_school_day_start(moment: datetime, starts: time = SCHOOL_DAY_STARTS) -> datetime:
    """The start (UK time) of the first school day after the day of `moment`: Operation
    Encompass's "before the next school day". The hub has no school term dates, so school days
    are working days."""
    return datetime.combine(next_working_day(uk_date(moment)), starts, UK)
