"""Periods: UK financial-year quarters, and which quarter a report is as at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hub.domain.indicators.facts import Child
from hub.domain.uk_time import add_months


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
    def year_start(self) -> date:
        """1 April of the quarter's financial year: where its year-to-date figures start."""
        return date(self.year, 4, 1)

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}/{(self.year + 1) % 100:02d}"

    @property
    def name(self) -> str:
        """'Q3 2024/25 (October to December 2024)'."""
        return f"{self.label} ({self.months})"

    @property
    def months(self) -> str:
        """'October to December 2024', 'January to March 2025'."""
        return f"{self.start:%B} to {self.end:%B %Y}"

    def previous(self) -> Quarter:
        return Quarter(self.year, self.number - 1) if self.number > 1 else Quarter(self.year - 1, 4)

    def year_earlier(self) -> Quarter:
        return Quarter(self.year - 1, self.number)

    def in_year_to_date(self, day: date) -> bool:
        return self.year_start <= day <= self.end

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
    """The last quarter complete on the as-at date: a quarter's figures include its last day,
    so as at 31 December 2024 (and as at 1 January 2025) it is Q3 2024/25."""
    quarter = quarter_of(as_at)
    return quarter if as_at == quarter.end else quarter.previous()


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
