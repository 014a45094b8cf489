"""England's clock, defined once: the zone every person-facing time is shown in, the date a
moment falls on in England (statutory timescales, "in post" and quarters count English days),
and how a person's "as of" is read, the same on the CLI, the API and the pages.

An "as of" names the end of what it names, so that "as of 4 March" includes everything known
on 4 March (docs/decisions.md):
- a date (`2026-03-04`) is the end of that day in England;
- a time without a zone (`2026-03-04T12:00`, `2026-03-04 12:00:30`) is UK local time, as a
  person in England means it; to the minute, it is the end of that minute;
- a time with a zone or offset (`...Z`, `...+01:00`) is that moment.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
AS_OF_FORMAT = (
    "a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM, UK time unless a zone is given)"
)


def uk_date(moment: datetime) -> date:
    """The date it was in England at `moment` (aware)."""
    return moment.astimezone(UK).date()


def end_of_uk_day(day: date) -> datetime:
    """The last instant of `day` in England, in UTC."""
    return datetime.combine(day, time.max, UK).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (earlier if negative), or that month's last
    day if it is shorter (31 August + 6 months is 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def uk_time_text(moment: datetime, with_seconds: bool = False) -> str:
    """`2024-03-07 07:40 GMT`: the time in England, with the zone."""
    pattern = "%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z"
    return moment.astimezone(UK).strftime(pattern)


def uk_datetime_text(moment: datetime) -> str:
    """`7 Mar 2024, 07:40 GMT`: a time in England for a page or a report."""
    return moment.astimezone(UK).strftime("%d %b %Y, %H:%M %Z").lstrip("0")


def parse_as_of(text: str) -> datetime:
    """The moment a person's "as of" names (module docstring), in UTC. ValueError says what
    is expected, never repeating the text."""
    text = text.strip()
    try:
        if len(text) == len("YYYY-MM-DD"):
            return end_of_uk_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected {AS_OF_FORMAT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
        if len(text) == len("YYYY-MM-DDTHH:MM"):
            moment = moment.replace(second=59, microsecond=999_999)
    return moment.astimezone(UTC)


def parse_from(text: str) -> datetime:
    """The moment a person's "from" names, in UTC: the start of what it names, read as
    `parse_as_of` reads an "as of" (a date is the start of that day in England; a zoneless
    time is UK local time, to the minute its first instant). ValueError as `parse_as_of`."""
    text = text.strip()
    try:
        if len(text) == len("YYYY-MM-DD"):
            return datetime.combine(date.fromisoformat(text), time.min, UK).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected {AS_OF_FORMAT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
    return moment.astimezone(UTC)


def as_of_input_value(moment: datetime) -> str:
    """The `datetime-local` value (UK time) that `parse_as_of` reads back as `moment`."""
    local = moment.astimezone(UK)
    if (local.second, local.microsecond) == (59, 999_999):
        return f"{local:%Y-%m-%dT%H:%M}"
    return f"{local:%Y-%m-%dT%H:%M:%S}"
