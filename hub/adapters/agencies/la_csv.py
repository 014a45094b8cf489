"""Local authority children's social care: a case-management system's CSV extract.

The columns follow what Liquidlogic LCS and Mosaic reporting extracts look like: one row per
recorded episode or step, native event-type codes, CIN census category-of-abuse codes for
plans and SSDA903 legal-status codes for children looked after. The CMS's family (case-group)
id, where the extract has it, becomes `household_ref`, so siblings' records can be read
together. A `CHILD_DETAILS` row is the child's identifying details as the CMS holds them
(names, date of birth or expected date of delivery, gender, ethnicity, disability, address,
legal status); a change is a new revision of the same record. The full format, with every
code, is in docs/adapters.md; this module is its executable form.
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
    child_from_fields,
    collect,
    household_ref,
    lookup,
    map_categories,
    nhs_number,
    parse_json_cell,
    parse_revision,
    parse_sensitivity,
    parse_uk_date,
    parse_uk_datetime,
    read_csv_records,
    required,
    split_list,
)
from hub.domain import details as d
from hub.domain.canonical_event import CanonicalEvent, Sensitivity
from hub.domain.details import ETHNIC_CATEGORIES
from hub.domain.taxonomy import AgencyType, HarmCategory
from hub.domain.uk_time import uk_date

# Every column the format defines, in export order; docs/adapters.md says what each holds.
COLUMNS = (
    "record_id",
    "revision",
    "nhs_number",
    "provisional_id",
    "event_type",
    "event_date",
    "recorded_date",
    "category_codes",
    "summary",
    "referral_source",
    "outcome",
    "assessment_start",
    "assessment_end",
    "plan_category",
    "legal_status",
    "placement_type",
    "placement_address",
    "decision",
    "rationale",
    "decided_by",
    "worker_id",
    "worker_role",
    "linked_nhs_number",
    "unlink_reason",
    "supersedes_record",
    "supersedes_revision",
    "sensitivity",
    "withheld_from_json",
    "shielded_fields",
    "family_id",
    # The child's identifying details (CHILD_DETAILS rows); added later, so last.
    "forename",
    "middle_names",
    "surname",
    "known_as",
    "date_of_birth",
    "expected_delivery_date",
    "gender",
    "ethnicity",
    "disability",
    "disability_description",
    "address_lines",
    "postcode",
    # Children in care, care leavers and moves (issue 23); added later, so last.
    "reason_ceased",
    "accommodation",
    "activity",
    "receiving_authority",
    # The DfE number of the authority moved to (issue 24, transfers between hubs); last.
    "receiving_la_code",
)
# The rest may be absent from older extracts; their cells then read as empty.
REQUIRED_COLUMNS = COLUMNS[:9]

# Native event-type code -> (canonical kind, default sensitivity). Procedural steps are
# "standard"; anything saying what happened to the child is "sensitive"; placements carry
# where the child lives, so they are "restricted" unless the row says otherwise.
EVENT_TYPES: dict[str, tuple[str, Sensitivity]] = {
    # Who the child is: identity, not a concern ("standard"); an address the child must not be
    # found at is shielded by the row's shielded_fields.
    "CHILD_DETAILS": ("la.child-details", "standard"),
    "CONTACT": ("la.contact", "sensitive"),
    "REF": ("la.referral", "sensitive"),
    "ASMT_START": ("la.assessment-started", "standard"),
    "ASMT_END": ("la.assessment-completed", "sensitive"),
    "CIN_PLAN": ("la.child-in-need-plan", "sensitive"),
    "FH_EPISODE": ("la.family-help-episode", "standard"),
    "STRAT": ("la.strategy-discussion", "sensitive"),
    "S47_START": ("la.s47-enquiry-started", "sensitive"),
    "S47_OUTCOME": ("la.s47-enquiry-outcome", "sensitive"),
    "ICPC": ("la.initial-cp-conference", "sensitive"),
    "RCPC": ("la.review-cp-conference", "sensitive"),
    "CPP_START": ("la.cp-plan-started", "sensitive"),
    "CPP_REVIEW": ("la.cp-plan-reviewed", "sensitive"),
    "CORE_GROUP": ("la.core-group-meeting", "sensitive"),
    "CPP_END": ("la.cp-plan-ended", "sensitive"),
    "PLO": ("la.pre-proceedings", "sensitive"),
    "LAC_START": ("la.looked-after", "sensitive"),
    "LAC_END": ("la.ceased-looked-after", "sensitive"),
    "PLACE_START": ("la.placement-started", "restricted"),
    "PLACE_MOVE": ("la.placement-moved", "restricted"),
    "PLACE_END": ("la.placement-ended", "sensitive"),
    "CL_STATUS": ("la.care-leaver-status", "standard"),
    # Where a care leaver lives is as sensitive as a placement's type; their activity may say
    # they are ill, disabled or a parent.
    "CL_ACCOM": ("la.care-leaver-accommodation", "sensitive"),
    "CL_ACTIVITY": ("la.care-leaver-activity", "sensitive"),
    "MOVED_OUT": ("la.moved-out-of-area", "standard"),
    "FGDM": ("la.fgdm", "standard"),
    "DECISION": ("la.decision", "sensitive"),
    "ALLOC": ("la.worker-allocated", "standard"),
    "RETRACT": ("record.retracted", "standard"),
    "ID_LINK": ("identity.linked", "standard"),
    "ID_UNLINK": ("identity.unlinked", "standard"),
}

CATEGORY_CODES: dict[str, str | None] = {
    "DA": HarmCategory.DOMESTIC_ABUSE,
    "NEG": HarmCategory.NEGLECT,
    "PA": HarmCategory.PHYSICAL_ABUSE,
    "SA": HarmCategory.SEXUAL_ABUSE,
    "EA": HarmCategory.EMOTIONAL_ABUSE,
    "CSE": HarmCategory.EXPLOITATION,
    "CCE": HarmCategory.EXPLOITATION,
    "EXP": HarmCategory.EXPLOITATION,
    "HOH": HarmCategory.HARM_OUTSIDE_HOME,
    "ONL": HarmCategory.ONLINE_HARM,
    "RAD": HarmCategory.RADICALISATION,
    "PMH": HarmCategory.PARENTAL_MENTAL_HEALTH,
    "SUB": HarmCategory.SUBSTANCE_MISUSE,
    "DIS": HarmCategory.DISENGAGEMENT,
}

REFERRAL_OUTCOMES = {
    "NFA": "no-further-action",
    "ASMT": "assessment",
    "STRAT": "strategy-discussion",
    "EH": "early-help",
}
S47_OUTCOMES = {
    "NS": "concerns-not-substantiated",
    "SUB_ICPC": "concerns-substantiated-icpc",
    "NFA": "no-further-action",
}
CONFERENCE_DECISIONS = {
    "CPP": "cp-plan",
    "NOPLAN": "no-plan",
    "CONT": "continue-plan",
    "END": "end-plan",
}
# CIN census category of abuse.
PLAN_CATEGORIES = {
    "N": "neglect",
    "PA": "physical-abuse",
    "EA": "emotional-abuse",
    "SA": "sexual-abuse",
    "MUL": "multiple",
}
# SSDA903 legal status, reduced to the canonical statuses.
LEGAL_STATUSES = {
    "V2": "s20",
    "C2": "s31",
    "C1": "interim-care-order",
    "L1": "police-protection",
    "J1": "remand",
    "J2": "remand",
}
FGDM_STATUSES = {"OFFERED": "offered", "HELD": "held", "DECLINED": "declined"}
# NHS Data Model and Dictionary PERSON STATED GENDER CODE -> FHIR administrative gender.
GENDER_CODES = {"1": "male", "2": "female", "9": "other", "X": "unknown"}
# Ethnicity as the CMS holds it: the DfE children's social care (CIN census) codes, which
# extend the 2001 census categories, reduced to the NHS ETHNIC CATEGORY; or the NHS code itself.
# Gypsy/Roma (WROM) and Traveller of Irish heritage (WIRT) have no category of their own in the
# NHS list and become "any other White background"; a refusal is "not stated", information
# not yet obtained "not known".
ETHNICITY_CODES: dict[str, str] = {
    **{code: code for code in ETHNIC_CATEGORIES},
    "WBRI": "A", "WIRI": "B", "WOTH": "C", "WIRT": "C", "WROM": "C",
    "MWBC": "D", "MWBA": "E", "MWAS": "F", "MOTH": "G",
    "AIND": "H", "APKN": "J", "ABAN": "K", "AOTH": "L",
    "BCRB": "M", "BAFR": "N", "BOTH": "P", "CHNE": "R", "OOTH": "S",
    "REFU": "Z", "NOBT": "99",
}  # fmt: skip
DISABILITY_CODES = {"Y": "yes", "N": "no", "U": "not-known"}
# SSDA903 reason episode ceased (REC), as the return codes it.
REASONS_CEASED = {code: code for code in d.REASONS_CEASED}
# SSDA903 care leaver accommodation (ACCOM): the type's letter and 1 (suitable) or 2 (not).
ACCOMMODATION_CODES: dict[str, tuple[str, bool]] = {
    f"{letter}{digit}": (letter, digit == "1")
    for letter in d.ACCOMMODATION_TYPES
    for digit in ("1", "2")
}
# SSDA903 care leaver main activity (ACTIV), as the return codes it.
ACTIVITY_CODES = {code: code for code in d.ACTIVITIES}


def _referral(row: CsvRow) -> dict[str, Any]:
    details: dict[str, Any] = {
        "referral_source": required(row["referral_source"], "referral_source", " (needed for REF)")
    }
    if row["outcome"]:
        details["outcome"] = lookup(row["outcome"], REFERRAL_OUTCOMES, "column outcome")
    return details


def _day(row: CsvRow, column: str) -> str:
    """A date-only column, or the UK-local day of event_date when that column is empty."""
    if row[column]:
        return parse_uk_date(row[column], column).isoformat()
    return uk_date(parse_uk_datetime(row["event_date"], "event_date")).isoformat()


def _event_day(row: CsvRow) -> str:
    """The UK-local day of event_date: the day the step happened."""
    return uk_date(parse_uk_datetime(row["event_date"], "event_date")).isoformat()


def _ceased(row: CsvRow) -> dict[str, Any]:
    reason = required(row["reason_ceased"], "reason_ceased", " (needed for LAC_END)")
    return {
        "reason": lookup(reason, REASONS_CEASED, "column reason_ceased"),
        "ceased_on": _event_day(row),
    }


def _accommodation(row: CsvRow) -> dict[str, Any]:
    code = required(row["accommodation"], "accommodation", " (needed for CL_ACCOM)")
    letter, suitable = lookup(code, ACCOMMODATION_CODES, "column accommodation")
    return {"accommodation": letter, "suitable": suitable, "recorded_on": _event_day(row)}


def _activity(row: CsvRow) -> dict[str, Any]:
    code = required(row["activity"], "activity", " (needed for CL_ACTIVITY)")
    return {
        "activity": lookup(code, ACTIVITY_CODES, "column activity"),
        "recorded_on": _event_day(row),
    }


def _moved_out(row: CsvRow) -> dict[str, Any]:
    details = {"moved_on": _event_day(row)}
    if row["receiving_authority"]:
        details["receiving_authority"] = row["receiving_authority"]
    if row["receiving_la_code"]:
        details["receiving_la_code"] = row["receiving_la_code"]
    return details


def _core_group(row: CsvRow) -> dict[str, Any]:
    return {"held_on": _event_day(row)}


def _assessment_started(row: CsvRow) -> dict[str, Any]:
    return {"started_on": _day(row, "assessment_start")}


def _assessment_completed(row: CsvRow) -> dict[str, Any]:
    required(row["assessment_start"], "assessment_start", " (needed for ASMT_END)")
    return {
        "started_on": _day(row, "assessment_start"),
        "completed_on": _day(row, "assessment_end"),
    }


def _coded(column: str, table: dict[str, str], key: str) -> Callable[[CsvRow], dict[str, Any]]:
    def details(row: CsvRow) -> dict[str, Any]:
        return {key: lookup(required(row[column], column), table, f"column {column}")}

    return details


def _placement(row: CsvRow) -> dict[str, Any]:
    return {key: row[key] for key in ("placement_type", "placement_address") if row[key]}


def _decision(row: CsvRow) -> dict[str, Any]:
    return {
        key: required(row[key], key, " (needed for DECISION)")
        for key in ("decision", "rationale", "decided_by")
    }


def _allocation(row: CsvRow) -> dict[str, Any]:
    return {
        "practitioner_id": required(row["worker_id"], "worker_id", " (needed for ALLOC)"),
        "role": required(row["worker_role"], "worker_role", " (needed for ALLOC)"),
    }


def _family_help(row: CsvRow) -> dict[str, Any]:
    return {"lead_practitioner_role": row["worker_role"]} if row["worker_role"] else {}


def _link(row: CsvRow) -> dict[str, Any]:
    linked = required(row["linked_nhs_number"], "linked_nhs_number", " (needed for ID_LINK)")
    return {"nhs_number": nhs_number(linked, "column linked_nhs_number")}


def _unlink(row: CsvRow) -> dict[str, Any]:
    reason = required(row["unlink_reason"], "unlink_reason", " (needed for ID_UNLINK)")
    return {**_link(row), "reason": reason}


def _child_details(row: CsvRow) -> dict[str, Any]:
    """The child's identifying details; empty optional cells are left out. The canonical
    model checks what the row says (a birth after the record, a born child without a
    forename, a date of birth and an expected date of delivery both or neither)."""
    details: dict[str, Any] = {
        "given_names": [name for name in (row["forename"], *row["middle_names"].split()) if name],
        "family_name": required(row["surname"], "surname", " (needed for CHILD_DETAILS)"),
        "sex": lookup(row["gender"], GENDER_CODES, "column gender") if row["gender"] else "unknown",
    }
    if row["known_as"]:
        details["known_as"] = row["known_as"]
    for column in ("date_of_birth", "expected_delivery_date"):
        if row[column]:
            details[column] = parse_uk_date(row[column], column).isoformat()
    if row["ethnicity"]:
        details["ethnic_category"] = lookup(row["ethnicity"], ETHNICITY_CODES, "column ethnicity")
    if row["disability"] or row["disability_description"]:
        status = required(row["disability"], "disability", " (needed with its description)")
        disability = {"status": lookup(status, DISABILITY_CODES, "column disability")}
        if row["disability_description"]:
            disability["description"] = row["disability_description"]
        details["disability"] = disability
    if row["address_lines"] or row["postcode"]:
        lines = split_list(row["address_lines"])
        details["address"] = {
            "lines": lines,
            **({"postcode": row["postcode"]} if row["postcode"] else {}),
        }
    if row["legal_status"]:
        details["legal_status"] = lookup(row["legal_status"], LEGAL_STATUSES, "column legal_status")
    return details


DETAILS: dict[str, Callable[[CsvRow], dict[str, Any]]] = {
    "CHILD_DETAILS": _child_details,
    "REF": _referral,
    "ASMT_START": _assessment_started,
    "ASMT_END": _assessment_completed,
    "S47_OUTCOME": _coded("outcome", S47_OUTCOMES, "outcome"),
    "ICPC": _coded("outcome", CONFERENCE_DECISIONS, "decision"),
    "RCPC": _coded("outcome", CONFERENCE_DECISIONS, "decision"),
    "CPP_START": _coded("plan_category", PLAN_CATEGORIES, "category"),
    "LAC_START": _coded("legal_status", LEGAL_STATUSES, "legal_status"),
    "LAC_END": _ceased,
    "CL_ACCOM": _accommodation,
    "CL_ACTIVITY": _activity,
    "MOVED_OUT": _moved_out,
    "CORE_GROUP": _core_group,
    "PLACE_START": _placement,
    "PLACE_MOVE": _placement,
    "PLACE_END": _placement,
    "FGDM": _coded("outcome", FGDM_STATUSES, "status"),
    "DECISION": _decision,
    "ALLOC": _allocation,
    "FH_EPISODE": _family_help,
    "ID_LINK": _link,
    "ID_UNLINK": _unlink,
}


def _supersedes(row: CsvRow, event_type: str) -> dict[str, Any] | None:
    if not row["supersedes_record"]:
        if event_type == "RETRACT":
            raise MappingError("column supersedes_record: empty (needed for RETRACT)")
        return None
    supersedes: dict[str, Any] = {"event_id": row["supersedes_record"]}
    if row["supersedes_revision"]:
        supersedes["revision"] = parse_revision(
            row["supersedes_revision"], "column supersedes_revision"
        )
    return supersedes


def _withheld(row: CsvRow) -> object:
    return (
        parse_json_cell(row["withheld_from_json"], "withheld_from_json")
        if row["withheld_from_json"]
        else []
    )


class LaCaseManagementCsvAdapter:
    """LCS/Mosaic-style children's social care extract (CSV, UK local dates)."""

    name: str = "la-csv"
    agency_type: AgencyType = AgencyType.LOCAL_AUTHORITY
    description: str = "Local authority children's social care case-management CSV extract"

    def read(self, path: Path, agency_id: str) -> AdapterResult:
        rows = read_csv_records(path, adapter=self.name, required=REQUIRED_COLUMNS)
        return collect(path, rows, lambda row: self._map(row.checked(), agency_id))

    def _map(self, row: CsvRow, agency_id: str) -> list[CanonicalEvent]:
        # Look up the value as written, so a reason quotes it only if it was written as a code.
        native_type = required(row["event_type"], "event_type")
        kind, default_sensitivity = lookup(native_type, EVENT_TYPES, "column event_type")
        event_type = native_type.upper()
        details_of = DETAILS.get(event_type)
        fields: dict[str, Any] = {
            "event_id": required(row["record_id"], "record_id"),
            "revision": parse_revision(required(row["revision"], "revision"), "column revision"),
            "agency": {"id": agency_id, "type": self.agency_type},
            "child": child_from_fields(
                row["nhs_number"],
                row["provisional_id"],
                nhs_field="column nhs_number",
                provisional_field="column provisional_id",
            ),
            "kind": kind,
            "categories": map_categories(
                split_list(row["category_codes"]), CATEGORY_CODES, "column category_codes"
            ),
            "occurred_at": parse_uk_datetime(row["event_date"], "event_date"),
            "recorded_at": parse_uk_datetime(row["recorded_date"], "recorded_date"),
            "summary": required(row["summary"], "summary"),
            "details": details_of(row) if details_of else {},
            "sensitivity": parse_sensitivity(
                row["sensitivity"], "column sensitivity", default_sensitivity
            ),
            "lawful_basis": "public-task",
            "withheld_from": _withheld(row),
            "shielded_fields": split_list(row["shielded_fields"]),
            "supersedes": _supersedes(row, event_type),
            # Who the child is says nothing about their household: the family id is not read
            # for the child's details, so whoever may see them is not shown the council's
            # family grouping with them (docs/adapters.md).
            "household_ref": None
            if event_type == "CHILD_DETAILS"
            else household_ref(row["family_id"], "column family_id"),
        }
        return [build_event(fields)]
