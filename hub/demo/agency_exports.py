"""Rendering synthetic records as each agency's native export, for the demo population.

The demo must go through the real adapters, so it writes what an agency system would: a
case-management CSV, a police incident JSON, a FHIR Bundle, a school log CSV. The native
codes come from the adapters' own tables, so the two cannot drift apart. A record marked
`spoil` is written deliberately unmappable (an NHS number with a wrong check digit, or a
native code the adapter does not know) so the demo shows problem reporting. The partnership's
agency ids and each agency's record-id style live here too, beside the formats they belong to.
A little over 400 lines: four formats, each a short writer beside its codes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.adapters.agencies import fhir_patient, health_fhir, la_csv, police_json, school_csv
from hub.domain.details import ETHNIC_CATEGORIES
from hub.domain.identity import PROVISIONAL_PREFIX
from hub.domain.taxonomy import AgencyType

LA, POLICE, ICB = "shire-county-council", "shire-constabulary", "shire-icb"
SCHOOLS = tuple(f"school-10000{n}" for n in range(1, 5))  # the number is the school's URN
# How practitioners know each agency and whom they ask about its records (fictional: 01632
# 960xxx is Ofcom's drama range, .example a reserved domain), as the register holds them.
_SCHOOL_NAMES = (
    "Oakfield Primary",
    "Brook Lane Primary",
    "St Anne's CE Primary",
    "Hillside Academy",
)
AGENCY_CONTACTS: dict[str, tuple[str, str]] = {
    LA: (
        "Shire County Council children's services",
        "Children's front door (MASH), 01632 960001, frontdoor@shire.example",
    ),
    POLICE: (
        "Shire Constabulary",
        "Public protection unit duty desk, 01632 960002, ppu@shire-police.example",
    ),
    ICB: (
        "Shire Integrated Care Board",
        "Designated nurse for safeguarding children, 01632 960003, safeguarding@shire-icb.example",
    ),
    **{
        school: (name, f"Designated safeguarding lead, 01632 9601{n:02d}, dsl@{school}.example")
        for n, (school, name) in enumerate(zip(SCHOOLS, _SCHOOL_NAMES, strict=True), start=1)
    },
}

# Fields a police export keeps per child subject rather than per incident.
_SUBJECT_FIELDS = frozenset(
    {"present", "voice", "lives_at_address", "seen", "spoken_to", "returned"}
)
_FHIR_RESOURCE = {
    "HV-CONCERN": "Observation",
    "UEC-ATTENDANCE": "Encounter",
    "NMI-INJURY": "Encounter",
    "LAC-HEALTH-ASSESSMENT": "Encounter",
    "PARENT-MH-CRISIS": "Communication",
    "MATERNITY-PRE-BIRTH": "Flag",
    "WNB": "Appointment",
    "PATIENT": "Patient",
}
# Encounter.class (HL7 v3 ActCode), which FHIR R4 requires: an attendance is an emergency
# encounter, an injury check or health assessment an ambulatory one.
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_ENCOUNTER_CLASS = {
    "UEC-ATTENDANCE": {"system": _ACT_CODE, "code": "EMER", "display": "emergency"},
    "NMI-INJURY": {"system": _ACT_CODE, "code": "AMB", "display": "ambulatory"},
    "LAC-HEALTH-ASSESSMENT": {"system": _ACT_CODE, "code": "AMB", "display": "ambulatory"},
}
_UNKNOWN_CODES = {"la": "CIN_CLOSE", "police": "ASB", "health": "HV-REVIEW", "school": "BULLYING"}


@dataclass(frozen=True)
class NativeRecord:
    """One native record before it is rendered in its agency's format."""

    agency: str
    code: str  # the native event / incident / resource code
    occurred: datetime  # aware, UK local
    recorded: datetime
    summary: str
    children: tuple[str, ...]  # NHS numbers, or one provisional id; several only for police
    categories: tuple[str, ...] = ()  # canonical harm categories; rendered as native codes
    extra: dict[str, Any] = field(default_factory=dict)  # native fields by native name
    revision: int = 1
    record_id: str = ""
    supersedes: str = ""
    spoil: str = ""  # "nhs" or "code": written deliberately unmappable
    household: str = ""  # the agency's own household / family reference, if it keeps one

    @property
    def events(self) -> int:
        """Canonical events this record should become through its adapter."""
        return 0 if self.spoil else len(self.children)


@dataclass(frozen=True)
class AgencyExport:
    agency_id: str
    agency_type: AgencyType
    adapter: str
    path: Path
    rows_written: int  # native rows: CSV data rows, police incidents, FHIR entries
    bad_rows: int  # deliberately unmappable rows among them
    events_expected: int  # a police incident naming several children gives one event each


class RecordIds:
    """Each agency's own record-id style, numbered in the order records are given ids."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, record: NativeRecord) -> NativeRecord:
        if record.record_id:
            return record
        n = self.counts[record.agency] = self.counts.get(record.agency, 0) + 1
        if record.agency == LA:
            record_id = f"LCS-{n:07d}"
        elif record.agency == POLICE:
            record_id = f"SC-{record.occurred.year % 100:02d}-{n:06d}"
        elif record.agency == ICB:
            record_id = f"sg-{n:06d}"
        else:
            record_id = f"CP-{record.agency[-1]}{n:05d}"
        return replace(record, record_id=record_id)


def invalid_nhs_number(nhs_number: str) -> str:
    """The same number with a wrong check digit (only one digit is ever valid)."""
    return nhs_number[:9] + str((int(nhs_number[9]) + 1) % 10)


def _native_codes(table: Mapping[str, str | None]) -> dict[str, str]:
    """Category -> the first native code the adapter maps to it."""
    codes: dict[str, str] = {}
    for code, category in table.items():
        if category is not None:
            codes.setdefault(str(category), code)
    return codes


_LA_CATEGORY = _native_codes(la_csv.CATEGORY_CODES)
_POLICE_FLAG = _native_codes(police_json.FLAGS)
_SCHOOL_LABEL = {
    c: label.capitalize() for c, label in _native_codes(school_csv.CATEGORY_LABELS).items()
}


def _uk(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _child(record: NativeRecord, child: str) -> str:
    return invalid_nhs_number(child) if record.spoil == "nhs" else child


def _write_csv(path: Path, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_la_csv(path: Path, records: Iterable[NativeRecord]) -> None:
    rows = []
    for record in records:
        child = record.children[0]
        provisional = child.startswith(PROVISIONAL_PREFIX)
        row = {
            "record_id": record.record_id,
            "revision": record.revision,
            "nhs_number": "" if provisional else _child(record, child),
            "provisional_id": child if provisional else "",
            "event_type": _UNKNOWN_CODES["la"] if record.spoil == "code" else record.code,
            "event_date": _uk(record.occurred),
            "recorded_date": _uk(record.recorded),
            "category_codes": ";".join(_LA_CATEGORY[c] for c in record.categories),
            "summary": record.summary,
            "supersedes_record": record.supersedes,
            "family_id": record.household,
            **record.extra,
        }
        if "placement_address" in row:  # a carer's address is shielded in every view
            row["shielded_fields"] = "details.placement_address"
        rows.append(row)
    _write_csv(path, la_csv.COLUMNS, rows)


def write_school_csv(path: Path, records: Iterable[NativeRecord]) -> None:
    rows = [
        {
            "incident_id": record.record_id,
            "version": record.revision,
            "nhs_number": _child(record, record.children[0]),
            "incident_datetime": _uk(record.occurred),
            "logged_datetime": _uk(record.recorded),
            "incident_type": _UNKNOWN_CODES["school"] if record.spoil == "code" else record.code,
            "categories": ";".join(_SCHOOL_LABEL[c] for c in record.categories),
            "notes": record.summary,
            "supersedes_incident_id": record.supersedes,
            "setting_type": "Maintained",
            "family_ref": record.household,
            **record.extra,
        }
        for record in records
    ]
    _write_csv(path, school_csv.COLUMNS, rows)


def write_police_json(
    path: Path, records: Iterable[NativeRecord], nominals: Mapping[str, str]
) -> None:
    incidents = []
    for record in records:
        shared = {k: v for k, v in record.extra.items() if k not in _SUBJECT_FIELDS}
        if record.household and len(record.children) == 1:
            # An incident naming several children links them itself (its occurrence ref).
            shared["household_ref"] = record.household
        per_child = {k: v for k, v in record.extra.items() if k in _SUBJECT_FIELDS and v != ""}
        subjects: list[dict[str, Any]] = [
            {"role": "adult", "nominal_ref": f"N-A{record.record_id[-6:]}"}
        ]
        subjects += [
            {
                "role": "child",
                "nominal_ref": nominals[c],
                "nhs_number": _child(record, c),
                **per_child,
            }
            for c in record.children
        ]
        incidents.append(
            {
                "occurrence_ref": record.record_id,
                "revision": record.revision,
                "incident_type": _UNKNOWN_CODES["police"]
                if record.spoil == "code"
                else record.code,
                "occurred": _iso(record.occurred),
                "recorded": _iso(record.recorded),
                "flags": [_POLICE_FLAG[c] for c in record.categories],
                "synopsis": record.summary,
                **shared,
                "subjects": subjects,
            }
        )
    document = {"force": "Shire Constabulary (synthetic)", "exported_at": "2025-12-31T23:00:00Z"}
    path.write_text(
        json.dumps({**document, "incidents": incidents}, indent=1) + "\n", encoding="utf-8"
    )


def _patient(record: NativeRecord, identifier: dict[str, str]) -> dict[str, Any]:
    """A FHIR R4 Patient as a health system exports one: UK Core's ethnic category
    extension, the hub's expected-delivery-date extension for an unborn child."""
    fields = record.extra
    names: list[dict[str, Any]] = [{"use": "official", "family": fields["family_name"]}]
    if fields["given_names"]:
        names[0]["given"] = fields["given_names"]
    if fields["known_as"]:
        names.append({"use": "nickname", "given": [fields["known_as"]]})
    ethnicity = {
        "url": fhir_patient.ETHNIC_CATEGORY_EXTENSION,
        "valueCodeableConcept": {
            "coding": [
                {
                    "system": fhir_patient.ETHNIC_CATEGORY_ENGLAND,
                    "code": fields["ethnic_category"],
                    "display": ETHNIC_CATEGORIES[fields["ethnic_category"]],
                }
            ]
        },
    }
    patient: dict[str, Any] = {
        "extension": [ethnicity],
        "identifier": [identifier],
        "name": names,
        "gender": fields["gender"],
        "address": [
            {"use": "home", "line": fields["address_lines"], "postalCode": fields["postcode"]}
        ],
    }
    if fields["birth_date"]:
        patient["birthDate"] = fields["birth_date"]
    else:
        due = {"url": fhir_patient.EXPECTED_DELIVERY_EXTENSION}
        patient["extension"].append(due | {"valueDate": fields["expected_delivery_date"]})
    return patient


def _fhir_resource(record: NativeRecord) -> dict[str, Any]:
    child = record.children[0]
    system = (
        health_fhir.PROVISIONAL_ID_SYSTEM
        if child.startswith(PROVISIONAL_PREFIX)
        else health_fhir.NHS_NUMBER_SYSTEM
    )
    subject = {"identifier": {"system": system, "value": _child(record, child)}}
    code = _UNKNOWN_CODES["health"] if record.spoil == "code" else record.code
    concept = {
        "coding": [{"system": health_fhir.EVENT_CODE_SYSTEM, "code": code}],
        "text": record.summary,
    }
    meta: dict[str, Any] = {"versionId": str(record.revision), "lastUpdated": _iso(record.recorded)}
    if record.categories:
        meta["tag"] = [
            {"system": health_fhir.CATEGORY_SYSTEM, "code": c} for c in record.categories
        ]
    resource_type = _FHIR_RESOURCE[record.code]
    when = _iso(record.occurred)
    resource: dict[str, Any] = {"resourceType": resource_type, "id": record.record_id, "meta": meta}
    if record.household:
        extension = {"url": health_fhir.HOUSEHOLD_EXTENSION, "valueString": record.household}
        resource["extension"] = [extension]
    if resource_type == "Patient":
        resource |= _patient(record, subject["identifier"])
    elif resource_type == "Observation":
        resource |= {
            "status": "final",
            "code": concept,
            "subject": subject,
            "effectiveDateTime": when,
        }
        resource["valueString"] = record.summary
    elif resource_type == "Encounter":
        resource |= {
            "status": "finished",
            "class": _ENCOUNTER_CLASS[record.code],
            "type": [concept],
            "subject": subject,
            "period": {"start": when},
        }
        resource["reasonCode"] = [{"text": record.summary}]
    elif resource_type == "Communication":
        resource |= {
            "status": "completed",
            "reasonCode": [concept],
            "subject": subject,
            "sent": when,
        }
        resource["payload"] = [{"contentString": record.summary}]
    elif resource_type == "Flag":
        resource |= {
            "status": "active",
            "code": concept,
            "subject": subject,
            "period": {"start": when},
        }
    else:
        resource |= {
            "status": "noshow",
            "start": when,
            "description": record.summary,
            "serviceType": [{"text": record.extra["service"]}],
            "appointmentType": {"text": record.extra["appointment_type"]},
            "participant": [{"actor": subject, "status": "declined"}],
        }
    return resource


def write_fhir_bundle(path: Path, records: Iterable[NativeRecord]) -> None:
    entries = [
        {
            "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{index:012d}",
            "resource": _fhir_resource(record),
        }
        for index, record in enumerate(records, start=1)
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": "2025-12-31T23:00:00Z",
        "entry": entries,
    }
    path.write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")


_EXPORTS = (
    (LA, AgencyType.LOCAL_AUTHORITY, "la-csv", "csv"),
    (POLICE, AgencyType.POLICE, "police-json", "json"),
    (ICB, AgencyType.HEALTH, "health-fhir", "json"),
    *((school, AgencyType.EDUCATION, "school-csv", "csv") for school in SCHOOLS),
)


def write_exports(
    out_dir: Path, records: Iterable[NativeRecord], nominals: Mapping[str, str]
) -> tuple[AgencyExport, ...]:
    """One file per agency, `<agency id>.csv|json`, each in recorded order as a system would
    export it, and what each holds. `nominals` gives police nominal refs by child id."""
    out_dir.mkdir(parents=True, exist_ok=True)
    every = list(records)
    exports = []
    for agency_id, agency_type, adapter, suffix in _EXPORTS:
        own = sorted(
            (r for r in every if r.agency == agency_id),
            key=lambda r: (r.recorded, r.record_id, r.revision),
        )
        path = out_dir / f"{agency_id}.{suffix}"
        if adapter == "la-csv":
            write_la_csv(path, own)
        elif adapter == "police-json":
            write_police_json(path, own, nominals)
        elif adapter == "health-fhir":
            write_fhir_bundle(path, own)
        else:
            write_school_csv(path, own)
        bad = sum(1 for r in own if r.spoil)
        events = sum(r.events for r in own)
        exports.append(AgencyExport(agency_id, agency_type, adapter, path, len(own), bad, events))
    return tuple(exports)
