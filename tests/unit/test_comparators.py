"""The national comparators file: the shipped figures load and are cited, quartiles are placed
the right way round, and a malformed file is refused naming the field, never the value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.adapters.comparators import (
    SHIPPED_COMPARATOR_FILES,
    SHIPPED_COMPARATORS_PATH,
    load_comparators,
    load_shipped_comparators,
    parse_comparators_text,
)
from hub.domain.indicators.comparators import (
    Comparators,
    ComparatorsError,
    Figure,
    parse_comparators,
    quartile,
    quartile_label,
)
from hub.domain.indicators.specs import SPECS


def _figures(comparators: Comparators) -> list[Figure]:
    figures: list[Figure] = []
    for comparator in comparators.indicators.values():
        if comparator.england is not None:
            figures.append(comparator.england)
        neighbours = comparator.statistical_neighbours
        if neighbours is not None:
            if neighbours.average is not None:
                figures.append(neighbours.average)
            figures.extend(n.figure for n in neighbours.by_la)
    return figures


_SHIPPED_YEARS = sorted(SHIPPED_COMPARATOR_FILES)


def _year_label(year_ending: int) -> str:
    return f"{year_ending - 1}/{year_ending % 100:02d}"  # 2024 -> "2023/24"


@pytest.mark.parametrize("year_ending", _SHIPPED_YEARS)
def test_each_shipped_file_loads_and_is_packaged_as_a_sample(year_ending: int) -> None:
    path = SHIPPED_COMPARATOR_FILES[year_ending]
    assert path.parent.name == "samples"  # pyproject package-data ships hub/samples/*
    comparators = load_comparators(path)
    assert comparators.schema_version == 1
    assert comparators.version.startswith(f"{year_ending}.")
    assert comparators.indicators, "each shipped file carries at least one published figure"


@pytest.mark.parametrize("year_ending", _SHIPPED_YEARS)
def test_every_shipped_figure_and_boundary_is_cited_for_its_year(year_ending: int) -> None:
    comparators = load_comparators(SHIPPED_COMPARATOR_FILES[year_ending])
    for figure in _figures(comparators):
        assert figure.source.url.startswith("https://")
        assert figure.source.publication and figure.source.table and figure.source.measure
        assert figure.source.reporting_year == _year_label(year_ending)
    for comparator in comparators.indicators.values():
        if comparator.quartiles is not None:
            assert comparator.quartiles.source.url.startswith("https://")
            assert comparator.quartiles.source.reporting_year == _year_label(year_ending)


@pytest.mark.parametrize("year_ending", _SHIPPED_YEARS)
def test_shipped_quartile_boundaries_are_ascending(year_ending: int) -> None:
    for comparator in load_comparators(SHIPPED_COMPARATOR_FILES[year_ending]).indicators.values():
        if comparator.quartiles is not None:
            low, median, high = comparator.quartiles.boundaries
            assert low <= median <= high


@pytest.mark.parametrize("year_ending", _SHIPPED_YEARS)
def test_shipped_ids_and_directions_match_the_indicator_specs(year_ending: int) -> None:
    specs = {spec.code: spec for spec in SPECS}
    comparators = load_comparators(SHIPPED_COMPARATOR_FILES[year_ending])
    for code, comparator in comparators.indicators.items():
        assert code in specs, code
        assert comparator.direction == specs[code].polarity, code


@pytest.mark.parametrize("year_ending", _SHIPPED_YEARS)
def test_each_shipped_file_lists_what_was_not_found(year_ending: int) -> None:
    comparators = load_comparators(SHIPPED_COMPARATOR_FILES[year_ending])
    missing = {entry.indicator for entry in comparators.not_found}
    assert "cp-reviews-in-timescale" in missing
    assert all(entry.reason.strip() for entry in comparators.not_found)
    for entry in comparators.not_found:  # a figure is either shipped or listed as missing
        shipped = comparators.for_indicator(entry.indicator)
        for kind in entry.figures:
            assert shipped is None or getattr(shipped, kind) is None, (entry.indicator, kind)


def test_the_latest_file_is_the_default_and_a_year_picks_its_own() -> None:
    assert SHIPPED_COMPARATOR_FILES[_SHIPPED_YEARS[-1]] == SHIPPED_COMPARATORS_PATH
    assert load_comparators().version == load_shipped_comparators().version
    assert load_shipped_comparators(2024).version.startswith("2024.")
    assert load_shipped_comparators(2099).version == load_shipped_comparators().version
    with pytest.raises(ComparatorsError, match="no comparators file"):
        load_shipped_comparators(2000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (95.0, 1),
        (90.0, 1),  # on the upper quartile: the better side
        (89.9, 2),
        (85.0, 2),  # on the median
        (84.9, 3),
        (80.0, 3),  # on the lower quartile
        (79.9, 4),
        (0.0, 4),
    ],
)
def test_quartile_when_higher_is_better(value: float, expected: int) -> None:
    assert quartile(value, (80.0, 85.0, 90.0), "higher") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10.0, 1),
        (15.0, 1),  # on the lower quartile: the better side
        (15.1, 2),
        (20.0, 2),  # on the median
        (20.1, 3),
        (25.0, 3),  # on the upper quartile
        (25.1, 4),
        (100.0, 4),
    ],
)
def test_quartile_when_lower_is_better(value: float, expected: int) -> None:
    assert quartile(value, (15.0, 20.0, 25.0), "lower") == expected


def test_quartile_refuses_unordered_boundaries_and_neutral_direction() -> None:
    with pytest.raises(ValueError, match="ascending"):
        quartile(50.0, (90.0, 85.0, 80.0), "higher")
    with pytest.raises(ValueError, match="direction"):
        quartile(50.0, (80.0, 85.0, 90.0), "neutral")  # type: ignore[arg-type]


def test_quartile_labels() -> None:
    assert [quartile_label(n) for n in (1, 2, 3, 4)] == ["1st", "2nd", "3rd", "4th"]


# A synthetic file for validation tests: its numbers are made up and are never shipped.
_SOURCE = {
    "url": "https://example.org/synthetic",
    "publication": "Synthetic publication",
    "reporting_year": "2023/24",
    "table": "Synthetic table",
    "measure": "Synthetic measure",
}
_VALID: dict[str, Any] = {
    "schema_version": 1,
    "version": "2024.1",
    "compiled_on": "2026-12-06",
    "indicators": {
        "assessments-45-days": {
            "title": "Assessments completed within 45 working days",
            "direction": "higher",
            "unit": "percent",
            "england": {"value": 61.5, "source": _SOURCE},
            "statistical_neighbours": {
                "average": {"value": 62.5, "source": _SOURCE},
                "by_la": [
                    {
                        "la_code": "E10000018",
                        "la_name": "Synthetic",
                        "figure": {"value": 63.5, "source": _SOURCE},
                    },
                ],
            },
            "quartiles": {"boundaries": [51.5, 61.5, 71.5], "source": _SOURCE},
        }
    },
}


def _malformed(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(_VALID)
    comparator = data["indicators"]["assessments-45-days"]
    for key, value in changes.items():
        comparator[key] = value
    return data


def test_a_full_synthetic_file_validates_and_places_a_value() -> None:
    comparators = parse_comparators(_VALID)
    comparator = comparators.for_indicator("assessments-45-days")
    assert comparator is not None and comparator.quartiles is not None
    assert quartile(66.5, comparator.quartiles.boundaries, comparator.direction) == 2
    assert comparators.for_indicator("repeat-cp-plans") is None


def test_unordered_boundaries_are_refused_naming_the_field_not_the_values() -> None:
    data = _malformed(quartiles={"boundaries": [71.5, 61.5, 51.5], "source": _SOURCE})
    with pytest.raises(ComparatorsError) as caught:
        parse_comparators(data)
    message = str(caught.value)
    assert "indicators.assessments-45-days.quartiles.boundaries" in message
    assert "ascending" in message
    assert "71.5" not in message and "51.5" not in message


def test_a_figure_without_a_citation_url_is_refused_naming_the_field() -> None:
    source = {k: v for k, v in _SOURCE.items() if k != "url"}
    data = _malformed(england={"value": 61.5, "source": source})
    with pytest.raises(ComparatorsError) as caught:
        parse_comparators(data)
    assert "indicators.assessments-45-days.england.source.url: required" in str(caught.value)


def test_a_bad_value_is_refused_without_being_repeated() -> None:
    secret = "http://not-https.example/secret-path"
    data = _malformed(
        direction="sideways",
        england={"value": 61.5, "source": {**_SOURCE, "url": secret}},
    )
    with pytest.raises(ComparatorsError) as caught:
        parse_comparators(data)
    message = str(caught.value)
    assert "indicators.assessments-45-days.direction" in message
    assert "indicators.assessments-45-days.england.source.url" in message
    assert "sideways" not in message and "secret-path" not in message


def test_unknown_fields_and_a_non_mapping_are_refused() -> None:
    data = copy.deepcopy(_VALID)
    data["extra_field"] = "x"
    with pytest.raises(ComparatorsError, match="extra_field: not a known field"):
        parse_comparators(data)
    with pytest.raises(ComparatorsError, match="mapping"):
        parse_comparators(["not", "a", "mapping"])


def test_an_indicator_with_no_figure_is_refused() -> None:
    data = copy.deepcopy(_VALID)
    data["indicators"]["assessments-45-days"] = {
        "title": "t",
        "direction": "higher",
        "unit": "percent",
    }
    with pytest.raises(ComparatorsError, match="not_found"):
        parse_comparators(data)


def test_a_file_on_disk_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "comparators.yaml"
    data = _malformed(england={"value": 161.5, "source": _SOURCE})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ComparatorsError) as caught:
        load_comparators(path)
    message = str(caught.value)
    assert str(path) in message
    assert "indicators.assessments-45-days.england.value" in message
    assert "161.5" not in message


def test_invalid_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(ComparatorsError, match="not valid YAML at line"):
        parse_comparators_text("schema_version: 1\nindicators: [\n")
