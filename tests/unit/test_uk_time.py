"""England's clock, defined once: an "as of" names the same moment on the CLI, the API and the
pages (before, the CLI read a time without a zone as UK time and the pages as UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from hub.api.app import ReplayRequest
from hub.api.replay_pages import ReplayForm
from hub.cli import build_parser
from hub.domain.uk_time import (
    add_months,
    as_of_input_value,
    end_of_uk_day,
    parse_as_of,
    uk_time_text,
)

CHILD = "9434765919"
CASES = {
    "2026-03-04": datetime(2026, 3, 4, 23, 59, 59, 999_999, UTC),  # GMT: the end of that day
    "2026-07-04": datetime(2026, 7, 4, 22, 59, 59, 999_999, UTC),  # BST
    "2026-07-04T12:00": datetime(2026, 7, 4, 11, 0, 59, 999_999, UTC),  # to the minute: its end
    "2026-07-04T12:00:30": datetime(2026, 7, 4, 11, 0, 30, tzinfo=UTC),
    "2026-07-04T11:00:00Z": datetime(2026, 7, 4, 11, 0, tzinfo=UTC),
    "2026-07-04T12:00:00+01:00": datetime(2026, 7, 4, 11, 0, tzinfo=UTC),
}


def on_the_cli(text: str) -> datetime:
    args = build_parser().parse_args(["replay", CHILD, "--as-of", text, "--by", "rev-0001"])
    moment: datetime = args.as_of
    return moment


def over_the_api(text: str) -> datetime:
    return ReplayRequest.model_validate({"child": CHILD, "as_of": text}).as_of


def on_the_pages(text: str) -> datetime:
    hub: Any = SimpleNamespace(settings=SimpleNamespace(clock_skew_seconds=10**9), directory={})
    _, moments, errors = ReplayForm(child=CHILD, as_of=text).parse(hub)
    assert not errors
    return moments[0]


@pytest.mark.parametrize("text", CASES)
def test_the_cli_the_api_and_the_pages_read_an_as_of_as_the_same_moment(text: str) -> None:
    assert on_the_cli(text) == over_the_api(text) == on_the_pages(text) == CASES[text]


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "04/03/2026"])
def test_a_malformed_as_of_says_what_is_expected_without_repeating_it(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_as_of(text)
    assert "YYYY-MM-DD" in str(raised.value) and text not in str(raised.value)


@pytest.mark.parametrize("text", [t for t in CASES if "T" in t and len(t) <= 19])
def test_the_pages_offer_back_the_time_that_was_asked_for(text: str) -> None:
    assert as_of_input_value(parse_as_of(text)) == text


def test_times_a_person_reads_are_in_england_with_the_zone() -> None:
    assert uk_time_text(datetime(2026, 7, 4, 23, 30, tzinfo=UTC)) == "2026-07-05 00:30 BST"
    assert uk_time_text(datetime(2026, 1, 4, 23, 30, tzinfo=UTC)) == "2026-01-04 23:30 GMT"
    assert end_of_uk_day(date(2026, 7, 4)).hour == 22


def test_calendar_months_clamp_to_the_end_of_a_shorter_month() -> None:
    """One definition for the clocks (plans reviewed every 6 months) and the indicators."""
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 15), -12) == date(2024, 1, 15)
