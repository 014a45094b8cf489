"""The adapters emit issue 23's kinds from their exports: the council's CSV (ceasing to be looked
after, care leavers' accommodation and activity, moving away, core groups), the ICB's FHIR
Bundle (health assessments and dental checks for children in care) and a school's log (leaving
home education, the end of compulsory school age). Bad cells are problems naming the column."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hub.adapters.agencies import la_csv, school_csv
from hub.adapters.agencies.health_fhir import EVENT_CODE_SYSTEM
from hub.adapters.agencies.registry import get_adapter

VALID_NHS = "9992345675"


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _la_row(record: str, event_type: str, **cells: str) -> dict[str, str]:
    return {
        "record_id": record,
        "revision": "1",
        "nhs_number": VALID_NHS,
        "event_type": event_type,
        "event_date": "03/02/2025 10:15",
        "recorded_date": "03/02/2025 16:40",
        "summary": "Recorded",
        "family_id": "FAM-1",
        **cells,
    }


def _school_row(record: str, incident_type: str, **cells: str) -> dict[str, str]:
    return {
        "incident_id": record,
        "version": "1",
        "nhs_number": VALID_NHS,
        "incident_datetime": "30/06/2025 15:00",
        "logged_datetime": "01/07/2025 09:00",
        "incident_type": incident_type,
        "categories": "",
        "notes": "Recorded",
        **cells,
    }


def test_la_rows_give_the_care_leaver_looked_after_move_and_core_group_events(
    tmp_path: Path,
) -> None:
    rows = [
        _la_row("LCS-1", "LAC_END", reason_ceased="e4a"),
        _la_row("LCS-2", "CL_ACCOM", accommodation="U2"),
        _la_row("LCS-3", "CL_ACTIVITY", activity="G6"),
        _la_row(
            "LCS-4",
            "MOVED_OUT",
            receiving_authority="Wessex County Council",
            receiving_la_code="990",
        ),
        _la_row("LCS-5", "MOVED_OUT"),
        _la_row("LCS-6", "CORE_GROUP"),
    ]
    path = _write_csv(tmp_path / "la.csv", la_csv.COLUMNS, rows)
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert result.problems == []
    by_id = {e.event_id: e for e in result.events}
    assert (by_id["LCS-1"].kind, by_id["LCS-1"].details) == (
        "la.ceased-looked-after",
        {"reason": "E4A", "ceased_on": "2025-02-03"},
    )
    assert (by_id["LCS-2"].kind, by_id["LCS-2"].details) == (
        "la.care-leaver-accommodation",
        {"accommodation": "U", "suitable": False, "recorded_on": "2025-02-03"},
    )
    assert (by_id["LCS-3"].kind, by_id["LCS-3"].details) == (
        "la.care-leaver-activity",
        {
            "activity": "G6",
            "in_education_employment_or_training": False,
            "recorded_on": "2025-02-03",
        },
    )
    assert by_id["LCS-4"].details == {
        "moved_on": "2025-02-03",
        "receiving_authority": "Wessex County Council",
        "receiving_la_code": "990",
    }
    assert by_id["LCS-5"].kind == "la.moved-out-of-area"
    assert by_id["LCS-5"].details == {"moved_on": "2025-02-03"}
    assert (by_id["LCS-6"].kind, by_id["LCS-6"].details) == (
        "la.core-group-meeting",
        {"held_on": "2025-02-03"},
    )
    assert by_id["LCS-6"].household_ref == "FAM-1"


def test_la_rows_with_missing_or_unknown_codes_are_problems_naming_the_column(
    tmp_path: Path,
) -> None:
    rows = [
        _la_row("LCS-1", "LAC_END"),
        _la_row("LCS-2", "LAC_END", reason_ceased="X1"),
        _la_row("LCS-3", "CL_ACCOM", accommodation="U"),
        _la_row("LCS-4", "CL_ACCOM", accommodation="U3"),
        _la_row("LCS-5", "CL_ACTIVITY", activity="0"),
        _la_row("LCS-6", "CL_ACTIVITY"),
        _la_row("LCS-7", "MOVED_OUT", receiving_authority="x" * 101),
        _la_row("LCS-8", "MOVED_OUT", receiving_la_code="Wessex"),
    ]
    path = _write_csv(tmp_path / "la.csv", la_csv.COLUMNS, rows)
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert result.events == []
    reasons = [(p.line, p.reason) for p in result.problems]
    assert reasons[0] == (2, "column reason_ceased: empty (needed for LAC_END)")
    assert reasons[1][1].startswith("column reason_ceased: unknown code")
    assert reasons[2][1].startswith("column accommodation: unknown code")
    assert reasons[3][1].startswith("column accommodation: unknown code")
    assert reasons[4][1].startswith("column activity: unknown code")
    assert reasons[5] == (7, "column activity: empty (needed for CL_ACTIVITY)")
    assert reasons[6][1].startswith(
        "canonical event invalid: details: Value error, details do not fit kind "
        "'la.moved-out-of-area': receiving_authority:"
    )
    assert "xxxx" not in reasons[6][1]
    assert reasons[7][1].startswith(
        "canonical event invalid: details: Value error, details do not fit kind "
        "'la.moved-out-of-area': receiving_la_code:"
    )
    assert "Wessex" not in reasons[7][1]


def test_an_older_la_extract_without_the_new_columns_still_maps(tmp_path: Path) -> None:
    old_columns = la_csv.COLUMNS[: la_csv.COLUMNS.index("reason_ceased")]
    path = _write_csv(tmp_path / "la.csv", old_columns, [_la_row("LCS-1", "CORE_GROUP")])
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert [e.kind for e in result.events] == ["la.core-group-meeting"]


def _encounter(resource_id: str, code: str, start: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Encounter",
            "id": resource_id,
            "meta": {"versionId": "1", "lastUpdated": "2025-03-04T12:00:00Z"},
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "type": [{"coding": [{"system": EVENT_CODE_SYSTEM, "code": code}], "text": "Check"}],
            "subject": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": VALID_NHS}
            },
            "period": {"start": start},
        }
    }


def test_health_encounters_give_assessments_and_dental_checks_with_their_day(
    tmp_path: Path,
) -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            _encounter("lac-ha-1", "LAC-HEALTH-ASSESSMENT", "2025-03-03T10:00:00Z"),
            # 23:30 UTC on 31 March is 00:30 on 1 April in England (BST).
            _encounter("lac-dental-1", "LAC-DENTAL-CHECK", "2025-03-31T23:30:00Z"),
        ],
    }
    path = tmp_path / "bundle.json"
    bundle["entry"][1]["resource"]["meta"]["lastUpdated"] = "2025-04-01T09:00:00Z"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    result = get_adapter("health-fhir").read(path, "shire-icb")
    assert result.problems == []
    assessment, dental = result.events
    assert (assessment.kind, assessment.details) == (
        "health.looked-after-health-assessment",
        {"completed_on": "2025-03-03"},
    )
    assert (dental.kind, dental.details) == (
        "health.looked-after-dental-check",
        {"completed_on": "2025-04-01"},
    )
    assert dental.sensitivity == "sensitive"


def test_school_rows_give_home_education_ended_and_end_of_school_age(tmp_path: Path) -> None:
    rows = [
        _school_row("INC-1", "EHE_ENDED", ehe_end_reason="school", end_date="27/06/2025"),
        _school_row("INC-2", "EHE_ENDED", ehe_end_reason="CSA"),
        _school_row("INC-3", "CSA_ENDED"),
        _school_row("INC-4", "EHE_ENDED"),
        _school_row("INC-5", "EHE_ENDED", ehe_end_reason="BORED"),
        _school_row("INC-6", "CSA_ENDED", end_date="31/06/2025"),
    ]
    path = _write_csv(tmp_path / "school.csv", school_csv.COLUMNS, rows)
    result = get_adapter("school-csv").read(path, "school-100001")
    by_id = {e.event_id: e for e in result.events}
    assert (by_id["INC-1"].kind, by_id["INC-1"].details) == (
        "education.elective-home-education-ended",
        {"ended_on": "2025-06-27", "reason": "returned-to-school"},
    )
    assert by_id["INC-2"].details == {
        "ended_on": "2025-06-30",
        "reason": "end-of-compulsory-school-age",
    }
    assert (by_id["INC-3"].kind, by_id["INC-3"].details) == (
        "education.compulsory-school-age-ended",
        {"on": "2025-06-30"},
    )
    assert [(p.line, p.reason.split(":")[0]) for p in result.problems] == [
        (5, "column ehe_end_reason"),
        (6, "column ehe_end_reason"),
        (7, "column end_date"),
    ]
    assert "31/06/2025" not in result.problems[2].reason


def test_sample_headers_carry_the_new_columns() -> None:
    samples = Path(__file__).resolve().parents[2] / "hub" / "samples"
    with (samples / "la-case-management.csv").open(encoding="utf-8") as file:
        assert tuple(next(csv.reader(file)))[-5:] == (
            "reason_ceased",
            "accommodation",
            "activity",
            "receiving_authority",
            "receiving_la_code",
        )
    with (samples / "school-safeguarding-log.csv").open(encoding="utf-8") as file:
        assert tuple(next(csv.reader(file)))[-2:] == ("end_date", "ehe_end_reason")
