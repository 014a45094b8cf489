"""Published national comparators for the partnership indicators: England values, statistical
neighbours and quartile boundaries, each with the publication it was read from.

The hub ships one versioned file of figures (`hub/samples/national-comparators-*.yaml`, read by
`hub.adapters.comparators`); docs/comparators.md says what is in it and how a partnership updates
it. This module is pure: `parse_comparators` takes the already-parsed mapping and returns a typed
`Comparators`, or raises `ComparatorsError` whose message names each bad field, never its value.
`quartile` places a local figure in the quartile the boundaries define (1 = best).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Direction = Literal["higher", "lower"]
"""Which way is better: as `hub.domain.indicators.common.Polarity`, without "neutral" (a count
with no better direction has no quartile)."""

QuartileNumber = Literal[1, 2, 3, 4]

_INDICATOR_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # as the codes in specs.py
_LA_CODE_PATTERN = r"^E0[6-9]\d{6}$|^E10\d{6}$"  # ONS codes of English upper-tier authorities
_MAX_REPORTED_PROBLEMS = 20


class ComparatorsError(ValueError):
    """The comparators file cannot be used; the message names the fields, never their values."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a figure was published: enough for a reader to find the same number again."""

    url: str = Field(pattern=r"^https://[^\s]+$", max_length=500)
    publication: str = Field(min_length=1, max_length=300)
    reporting_year: str = Field(pattern=r"^\d{4}/\d{2}$")  # "2023/24": year ending 31 March 2024
    table: str = Field(min_length=1, max_length=300)  # the table, data set or passage
    measure: str = Field(min_length=1, max_length=300)  # what the number is, in the source's words
    published_on: date | None = None


class Figure(_Strict):
    """One published value, as published (no recomputation, no extra precision)."""

    value: float = Field(ge=0, le=100)  # every comparator so far is a percentage
    numerator: int | None = Field(default=None, ge=0)
    denominator: int | None = Field(default=None, gt=0)
    rounding: str | None = Field(default=None, max_length=200)  # e.g. "whole per cent"
    source: Source

    @model_validator(mode="after")
    def _numerator_needs_denominator(self) -> Figure:
        if (self.numerator is None) != (self.denominator is None):
            raise ValueError("numerator and denominator must be given together")
        if (
            self.numerator is not None
            and self.denominator is not None
            and self.numerator > self.denominator
        ):
            raise ValueError("numerator must not exceed denominator")
        return self


class NeighbourFigure(_Strict):
    """One statistical neighbour's published value."""

    la_code: str = Field(pattern=_LA_CODE_PATTERN)
    la_name: str = Field(min_length=1, max_length=100)
    figure: Figure


class StatisticalNeighbours(_Strict):
    """The partnership's statistical neighbours: their published average and/or each one."""

    average: Figure | None = None
    by_la: tuple[NeighbourFigure, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _something(self) -> StatisticalNeighbours:
        if self.average is None and not self.by_la:
            raise ValueError("give an average, neighbours by local authority, or leave it out")
        return self


class QuartileBoundaries(_Strict):
    """The published boundaries between local authorities' quartiles: the lower quartile, the
    median and the upper quartile of the authorities' values, in ascending order."""

    boundaries: tuple[float, float, float]
    source: Source

    @field_validator("boundaries")
    @classmethod
    def _ascending(cls, boundaries: tuple[float, float, float]) -> tuple[float, float, float]:
        if not boundaries[0] <= boundaries[1] <= boundaries[2]:
            raise ValueError("must be in ascending order (lower quartile, median, upper quartile)")
        if not all(0 <= b <= 100 for b in boundaries):
            raise ValueError("must be percentages between 0 and 100")
        return boundaries


class Comparator(_Strict):
    """What is published for one indicator."""

    title: str = Field(min_length=1, max_length=300)
    direction: Direction
    unit: Literal["percent"]
    england: Figure | None = None
    statistical_neighbours: StatisticalNeighbours | None = None
    quartiles: QuartileBoundaries | None = None
    note: str | None = Field(default=None, max_length=2000)  # how the published measure differs

    @model_validator(mode="after")
    def _something(self) -> Comparator:
        if self.england is None and self.statistical_neighbours is None and self.quartiles is None:
            raise ValueError("no figure: list the indicator under not_found instead")
        return self


class NotFound(_Strict):
    """A comparator the file does not carry, and why: kept so the gap is visible."""

    indicator: str = Field(pattern=_INDICATOR_ID_PATTERN)
    figures: tuple[Literal["england", "statistical_neighbours", "quartiles"], ...] = Field(
        min_length=1
    )
    reason: str = Field(min_length=1, max_length=2000)


class Comparators(_Strict):
    """The whole file: a version, when it was compiled, and the figures by indicator id."""

    schema_version: Literal[1]
    version: str = Field(pattern=r"^\d{4}\.\d+$")  # "2024.1": reporting year ending, revision
    compiled_on: date
    indicators: dict[str, Comparator]
    not_found: tuple[NotFound, ...] = ()

    @field_validator("indicators")
    @classmethod
    def _ids(cls, indicators: dict[str, Comparator]) -> dict[str, Comparator]:
        for code in indicators:
            if not re.match(_INDICATOR_ID_PATTERN, code):
                raise ValueError("indicator ids must be lower-case words joined by hyphens")
        return indicators

    def for_indicator(self, code: str) -> Comparator | None:
        """The comparator for an indicator id (a code in specs.py), or None if none is shipped."""
        return self.indicators.get(code)


def parse_comparators(data: Mapping[str, Any] | Any) -> Comparators:
    """Validate a parsed comparators file. Raises `ComparatorsError` naming every bad field
    (dotted path) and what is wrong with it, without repeating any value from the file."""
    if not isinstance(data, Mapping):
        raise ComparatorsError("the comparators file must be a mapping at the top level")
    try:
        return Comparators.model_validate(dict(data))
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False)[:_MAX_REPORTED_PROBLEMS]:
            where = ".".join(str(part) for part in item["loc"]) or "(top level)"
            problems.append(f"{where}: {_message(item)}")
        more = error.error_count() - len(problems)
        if more > 0:
            problems.append(f"... and {more} more")
        raise ComparatorsError("invalid comparators file: " + "; ".join(problems)) from None


def _message(item: Mapping[str, Any]) -> str:
    kind = str(item.get("type", ""))
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "not a known field"
    if kind == "string_pattern_mismatch":
        return "not in the expected form"
    if kind == "literal_error":
        return "not one of the allowed values"
    if kind == "value_error":
        # Our own validators' messages carry no values; drop pydantic's "Value error, " prefix.
        return str(item.get("msg", "invalid")).removeprefix("Value error, ")
    # Pydantic's other messages describe the expected type or bound, not the input.
    return str(item.get("msg", "invalid"))


def quartile(
    value: float, boundaries: tuple[float, float, float], direction: Direction
) -> QuartileNumber:
    """The quartile (1 = best, 4 = worst) a local value falls in, given the published
    boundaries (lower quartile, median, upper quartile, ascending) and which way is better.

    A value equal to a boundary counts in the better of the two quartiles it separates: with
    "higher" better and boundaries (80, 85, 90), 90 is 1st and 85 is 2nd; with "lower" better
    and boundaries (15, 20, 25), 15 is 1st and 20 is 2nd.
    """
    low, median, high = boundaries
    if not low <= median <= high:
        raise ValueError("quartile boundaries must be in ascending order")
    if direction == "higher":
        if value >= high:
            return 1
        if value >= median:
            return 2
        if value >= low:
            return 3
        return 4
    if direction == "lower":
        if value <= low:
            return 1
        if value <= median:
            return 2
        if value <= high:
            return 3
        return 4
    raise ValueError("direction must be 'higher' or 'lower'")


def quartile_label(number: QuartileNumber) -> str:
    """As the dashboards print it: "1st", "2nd", "3rd", "4th"."""
    return {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}[number]
