"""Schools and education settings: a safeguarding-log CSV export (CPOMS / MyConcern style).

School logs are written by teachers and DSLs in their own words: categories are the log's
human labels ("Physical abuse", "Online safety"), not codes, and some labels ("Behaviour",
"Medical") are not harm categories at all and are dropped. The pupil's UPN is read by
nothing here: the hub's identifier is the NHS number, and a UPN must not leak into events.
The MIS family reference that links siblings on roll, where exported, becomes
`household_ref`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.adapters.agencies.base import AdapterResult
from hub.adapters.agencies.errors import MappingError
from hub.adapters.agencies.native import (
    CsvRow,
    build_event,
    collect,
    household_ref,
    lookup,
    map_categories,
    nhs_number,
    parse_float,
    parse_revision,
    parse_sensitivity,
    parse_uk_date,
    parse_uk_datetime,
    parse_yes_no,
    read_csv_records,
    required,
    split_list,
)
from hub.domain.canonical_event import CanonicalEvent, LawfulBasis, Sensitivity
from hub.domain.taxonomy import AgencyType, HarmCategory
from hub.domain.uk_time import UK

# Every column the format defines, in export order; docs/adapters.md says what each holds.
COLUMNS = (
    "incident_id",
    "version",
    "upn",
    "nhs_number",
    "incident_datetime",
    "logged_datetime",
    "incident_type",
    "categories",
    "recorded_by_role",
    "notes",
    "action_taken",
    "attendance_percent",
    "attendance_period",
    "exclusion_days",
    "ehe_la_consent_required",
    "ehe_reason",
    "school_urn",
    "start_date",
    "supersedes_incident_id",
    "sensitivity",
    "setting_type",
    "family_ref",
    # Leaving home education or compulsory school age (issue 23); added later, so last.
    "end_date",
    "ehe_end_reason",
)
# The rest may be absent; their cells then read as empty.
REQUIRED_COLUMNS = (
    "incident_id",
    "version",
    "nhs_number",
    "incident_datetime",
    "logged_datetime",
    "incident_type",
    "categories",
    "notes",
)

INCIDENT_TYPES: dict[str, tuple[str, Sensitivity]] = {
    "DISCLOSURE": ("education.safeguarding-disclosure", "sensitive"),
    "ATTENDANCE": ("education.attendance-concern", "standard"),
    "SUSPENSION": ("education.suspension-or-exclusion", "standard"),
    "PERM_EXCLUSION": ("education.suspension-or-exclusion", "standard"),
    "CME": ("education.child-missing-education", "sensitive"),
    "EHE_NOTICE": ("education.elective-home-education-notice", "standard"),
    "EHE_ENDED": ("education.elective-home-education-ended", "standard"),
    "CSA_ENDED": ("education.compulsory-school-age-ended", "standard"),
    "CNIS": ("education.not-in-school-register", "standard"),
    "ENROLLED": ("education.enrolled", "standard"),
    "RETRACTED": ("record.retracted", "standard"),
}

CATEGORY_LABELS: dict[str, str | None] = {
    "DOMESTIC ABUSE": HarmCategory.DOMESTIC_ABUSE,
    "NEGLECT": HarmCategory.NEGLECT,
    "PHYSICAL ABUSE": HarmCategory.PHYSICAL_ABUSE,
    "SEXUAL ABUSE": HarmCategory.SEXUAL_ABUSE,
    "EMOTIONAL ABUSE": HarmCategory.EMOTIONAL_ABUSE,
    "CHILD SEXUAL EXPLOITATION": HarmCategory.EXPLOITATION,
    "CHILD CRIMINAL EXPLOITATION": HarmCategory.EXPLOITATION,
    "CONTEXTUAL SAFEGUARDING": HarmCategory.HARM_OUTSIDE_HOME,
    "ONLINE SAFETY": HarmCategory.ONLINE_HARM,
    "PREVENT": HarmCategory.RADICALISATION,
    "PARENTAL MENTAL HEALTH": HarmCategory.PARENTAL_MENTAL_HEALTH,
    "SUBSTANCE MISUSE": HarmCategory.SUBSTANCE_MISUSE,
    "DISENGAGEMENT": HarmCategory.DISENGAGEMENT,
    # Log labels schools use that are not harm categories.
    "ATTENDANCE": None,
    "BEHAVIOUR": None,
    "MEDICAL": None,
    "SEND": None,
    "PASTORAL": None,
}

# Maintained schools and academies share under the duty to share; independent schools are
# not public authorities and use the DUAA 2025 recognised legitimate interest instead.
LAWFUL_BASES: dict[str, LawfulBasis] = {
    "MAINTAINED": "legal-obligation",
    "ACADEMY": "legal-obligation",
    "INDEPENDENT": "recognised-legitimate-interest-safeguarding",
}


# Why elective home education ended, as the EHE record gives it.
EHE_END_REASONS = {
    "SCHOOL": "returned-to-school",
    "MOVED": "moved-out-of-area",
    "CSA": "end-of-compulsory-school-age",
    "OTHER": "other",
}


def _end_day(row: CsvRow) -> str:
    """`end_date`, or the UK-local day of the incident when it is empty."""
    if row["end_date"]:
        return parse_uk_date(row["end_date"], "end_date").isoformat()
    return (
        parse_uk_datetime(row["incident_datetime"], "incident_datetime")
        .astimezone(UK)
        .date()
        .isoformat()
    )


def _home_education_ended(row: CsvRow) -> dict[str, Any]:
    reason = required(row["ehe_end_reason"], "ehe_end_reason", " (needed for EHE_ENDED)")
    return {
        "ended_on": _end_day(row),
        "reason": lookup(reason, EHE_END_REASONS, "column ehe_end_reason"),
    }


def _school_age_ended(row: CsvRow) -> dict[str, Any]:
    return {"on": _end_day(row)}


def _disclosure(row: CsvRow) -> dict[str, Any]:
    return {key: row[key] for key in ("recorded_by_role", "action_taken") if row[key]}


def _attendance(row: CsvRow) -> dict[str, Any]:
    return {
        "attendance_percent": parse_float(row["attendance_percent"], "attendance_percent"),
        "period": required(
            row["attendance_period"], "attendance_period", " (needed for ATTENDANCE)"
        ),
    }


def _exclusion(kind: str) -> Callable[[CsvRow], dict[str, Any]]:
    def details(row: CsvRow) -> dict[str, Any]:
        if not row["exclusion_days"]:
            return {"kind": kind}
        if not (row["exclusion_days"].isascii() and row["exclusion_days"].isdigit()):
            raise MappingError("column exclusion_days: not a whole number of days")
        return {"kind": kind, "days": int(row["exclusion_days"])}

    return details


def _home_education(row: CsvRow) -> dict[str, Any]:
    details: dict[str, Any] = {
        "la_consent_required": parse_yes_no(
            row["ehe_la_consent_required"], "ehe_la_consent_required"
        )
    }
    if row["ehe_reason"]:
        details["reason_given"] = row["ehe_reason"]
    return details


def _enrolled(row: CsvRow) -> dict[str, Any]:
    if row["start_date"]:
        starts_on = parse_uk_date(row["start_date"], "start_date")
    else:
        starts_on = (
            parse_uk_datetime(row["incident_datetime"], "incident_datetime").astimezone(UK).date()
        )
    return {
        "school_urn": required(row["school_urn"], "school_urn", " (needed for ENROLLED)"),
        "starts_on": starts_on.isoformat(),
    }


DETAILS: dict[str, Callable[[CsvRow], dict[str, Any]]] = {
    "DISCLOSURE": _disclosure,
    "ATTENDANCE": _attendance,
    "SUSPENSION": _exclusion("suspension"),
    "PERM_EXCLUSION": _exclusion("permanent-exclusion"),
    "EHE_NOTICE": _home_education,
    "EHE_ENDED": _home_education_ended,
    "CSA_ENDED": _school_age_ended,
    "ENROLLED": _enrolled,
}


def _supersedes(row: CsvRow, incident_type: str) -> dict[str, Any] | None:
    if row["supersedes_incident_id"]:
        return {"event_id": row["supersedes_incident_id"]}
    if incident_type == "RETRACTED":
        raise MappingError("column supersedes_incident_id: empty (needed for RETRACTED)")
    return None


class SchoolSafeguardingLogCsvAdapter:
    """CPOMS/MyConcern-style safeguarding log export (CSV, UK local dates)."""

    name: str = "school-csv"
    agency_type: AgencyType = AgencyType.EDUCATION
    description: str = "School safeguarding-log CSV export (CPOMS / MyConcern style)"

    def read(self, path: Path, agency_id: str) -> AdapterResult:
        rows = read_csv_records(path, adapter=self.name, required=REQUIRED_COLUMNS)
        return collect(path, rows, lambda row: self._map(row.checked(), agency_id))

    def _map(self, row: CsvRow, agency_id: str) -> list[CanonicalEvent]:
        native_type = required(row["incident_type"], "incident_type")
        kind, default_sensitivity = lookup(native_type, INCIDENT_TYPES, "column incident_type")
        incident_type = native_type.upper()
        details_of = DETAILS.get(incident_type)
        setting = row["setting_type"] or "MAINTAINED"
        fields: dict[str, Any] = {
            "event_id": required(row["incident_id"], "incident_id"),
            "revision": parse_revision(required(row["version"], "version"), "column version"),
            "agency": {"id": agency_id, "type": self.agency_type},
            "child": {
                "nhs_number": nhs_number(
                    required(row["nhs_number"], "nhs_number"), "column nhs_number"
                )
            },
            "kind": kind,
            "categories": map_categories(
                split_list(row["categories"]), CATEGORY_LABELS, "column categories"
            ),
            "occurred_at": parse_uk_datetime(row["incident_datetime"], "incident_datetime"),
            "recorded_at": parse_uk_datetime(row["logged_datetime"], "logged_datetime"),
            "summary": required(row["notes"], "notes"),
            "details": details_of(row) if details_of else {},
            "sensitivity": parse_sensitivity(
                row["sensitivity"], "column sensitivity", default_sensitivity
            ),
            "lawful_basis": lookup(setting, LAWFUL_BASES, "column setting_type"),
            "supersedes": _supersedes(row, incident_type),
            "household_ref": household_ref(row["family_ref"], "column family_ref"),
        }
        return [build_event(fields)]
