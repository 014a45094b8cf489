"""The four agency format adapters: sample files map to the exact expected events, bad rows
become problems that name the place and the fault but never personal data, and only an
unreadable file raises."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.adapters.agencies import la_csv, native, school_csv
from hub.adapters.agencies.base import AdapterProblem
from hub.adapters.agencies.errors import AdapterFileError
from hub.adapters.agencies.registry import ADAPTERS, UnknownAdapterError, get_adapter
from hub.domain.canonical_event import CanonicalEvent

SAMPLES = Path(__file__).resolve().parents[2] / "hub" / "samples"
LA_SAMPLE = SAMPLES / "la-case-management.csv"
POLICE_SAMPLE = SAMPLES / "police-incidents.json"
HEALTH_SAMPLE = SAMPLES / "health-bundle.json"
SCHOOL_SAMPLE = SAMPLES / "school-safeguarding-log.csv"
VALID_NHS = "9992345675"
INVALID_NHS = "9992345676"  # same first nine digits, wrong check digit


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _la_row(**overrides: str) -> dict[str, str]:
    row = {
        "record_id": "LCS-1",
        "revision": "1",
        "nhs_number": VALID_NHS,
        "event_type": "CONTACT",
        "event_date": "03/02/2025 10:15",
        "recorded_date": "03/02/2025 16:40",
        "summary": "Contact from a neighbour",
    }
    return row | overrides


# --- registry ----------------------------------------------------------------------------


def test_registry_names_the_four_adapters_with_their_agency_types() -> None:
    assert {name: adapter.agency_type.value for name, adapter in ADAPTERS.items()} == {
        "la-csv": "local-authority",
        "police-json": "police",
        "health-fhir": "health",
        "school-csv": "education",
    }
    assert get_adapter("police-json") is ADAPTERS["police-json"]


def test_unknown_adapter_is_a_key_error_listing_the_valid_names() -> None:
    with pytest.raises(UnknownAdapterError) as caught:
        get_adapter("mosaic-xml")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == (
        "unknown adapter 'mosaic-xml'; valid adapters are: "
        "health-fhir, la-csv, police-json, school-csv"
    )


# --- sample files ------------------------------------------------------------------------


def test_la_sample_maps_to_the_expected_events_and_one_problem() -> None:
    result = get_adapter("la-csv").read(LA_SAMPLE, "shire-county-council")
    assert [e.kind for e in result.events] == [
        "la.referral",
        "la.worker-allocated",
        "la.referral",
        "la.strategy-discussion",
        "la.s47-enquiry-started",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.cp-plan-started",
        "la.looked-after",
        "la.placement-started",
        "la.assessment-started",
        "identity.linked",
        "la.child-in-need-plan",
        "la.fgdm",
        "la.decision",
        "la.contact",
        "record.retracted",
        *["la.child-details"] * 5,
        "la.core-group-meeting",
        "la.ceased-looked-after",
        "la.moved-out-of-area",
        "la.care-leaver-accommodation",
        "la.care-leaver-activity",
    ]
    assert result.problems == [
        AdapterProblem(
            str(LA_SAMPLE),
            19,
            "column event_date: not a valid date in dd/mm/yyyy HH:MM or dd/mm/yyyy form",
        )
    ]
    referral, correction = result.events[0], result.events[2]
    assert (referral.event_id, referral.revision) == ("LCS-100201", 1)
    assert (correction.event_id, correction.revision) == ("LCS-100201", 2)
    assert referral.categories == ["physical-abuse", "domestic-abuse"]
    assert referral.details == {"referral_source": "school", "outcome": "strategy-discussion"}
    assert referral.agency.id == "shire-county-council"
    assert referral.lawful_basis == "public-task"
    assert referral.schema_version == 1
    # 10:15 on 3 February is GMT; 19:00 on 2 April is BST, an hour ahead of UTC.
    assert referral.occurred_at == datetime(2025, 2, 3, 10, 15, tzinfo=UTC)
    placement = result.events[9]
    assert placement.occurred_at == datetime(2025, 4, 2, 18, 0, tzinfo=UTC)


def test_la_sample_carries_withheld_shielded_link_and_retraction() -> None:
    events = get_adapter("la-csv").read(LA_SAMPLE, "shire-county-council").events
    placement = events[9]
    assert placement.shielded_fields == ["details.placement_address"]
    assert placement.sensitivity == "restricted"
    assert [(w.agency_type, w.review_by.isoformat()) for w in placement.withheld_from] == [
        ("education", "2025-07-01")
    ]
    looked_after = events[8]
    assert looked_after.details == {"legal_status": "interim-care-order"}
    link = events[11]
    assert link.child.provisional_id == "PRV-7K2M9QX4TB="
    assert link.details == {"nhs_number": "9997890124"}
    retraction = events[16]
    assert retraction.supersedes is not None
    assert retraction.supersedes.event_id == "LCS-100215"


def test_la_sample_family_id_becomes_household_ref() -> None:
    events = get_adapter("la-csv").read(LA_SAMPLE, "shire-county-council").events
    assert [e.household_ref for e in events] == [
        *["FAM-20417"] * 10,
        None,  # the pre-birth assessment and the link carry no family id
        None,
        "FAM-20533",
        "FAM-20533",
        None,
        "FAM-20417",
        "FAM-20417",
        *[None] * 5,  # the child's details: who the child is, not their household
        "FAM-20417",  # the core group meeting and ceasing to be looked after
        "FAM-20417",
        "FAM-20533",  # the move out of the area
        None,  # the care leaver's accommodation and activity
        None,
    ]


def test_police_sample_gives_one_event_per_child_subject() -> None:
    result = get_adapter("police-json").read(POLICE_SAMPLE, "shire-constabulary")
    assert [(e.kind, e.event_id, e.revision) for e in result.events] == [
        ("police.domestic-abuse-incident", "SC-25-004411/N-88121", 1),
        ("police.domestic-abuse-incident", "SC-25-004411/N-88122", 1),
        ("police.home-visit", "SC-25-004502/N-90002", 1),
        ("police.missing-episode", "SC-25-004618/N-91001", 1),
        ("police.missing-episode", "SC-25-004618/N-91001", 2),
        ("police.exploitation-concern", "SC-25-004730/N-91001", 1),
    ]
    assert result.problems == [
        AdapterProblem(
            str(POLICE_SAMPLE), 6, "occurred: date-time has no UTC offset (add Z or +01:00)"
        )
    ]
    first, second, visit = result.events[:3]
    assert first.details == {
        "child_present": True,
        "child_lives_at_address": True,
        "child_voice": "Said they hid in the bedroom and were scared",
        "police_reference": "SC-25-004411",
    }
    assert second.details["child_present"] is False
    assert first.categories == ["domestic-abuse", "substance-misuse"]
    assert visit.details == {
        "reason": "Concern for the welfare of an adult in mental health crisis",
        "child_seen": True,
        "child_spoken_to": False,
    }
    # Several children in one incident: the occurrence is the household link. One child: the
    # incident's own household_ref, when the force exports one.
    assert [e.household_ref for e in result.events] == [
        "SC-25-004411",
        "SC-25-004411",
        "HH-5521",
        None,
        None,
        None,
    ]
    exploitation = result.events[5]
    assert exploitation.sensitivity == "restricted"
    assert exploitation.shielded_fields == ["summary"]
    assert [w.agency_type for w in exploitation.withheld_from] == ["education"]


def test_health_sample_maps_each_resource_type() -> None:
    result = get_adapter("health-fhir").read(HEALTH_SAMPLE, "shire-icb")
    assert [(e.kind, e.event_id, e.revision) for e in result.events] == [
        ("health.maternity-pre-birth-concern", "Flag/mat-0042", 1),
        ("health.health-visitor-concern", "Observation/hv-1187", 1),
        ("health.was-not-brought", "Appointment/appt-55310", 1),
        ("health.urgent-care-attendance", "Encounter/ed-77120", 1),
        ("health.urgent-care-attendance", "Encounter/ed-77120", 2),
        ("health.parental-mental-health-crisis", "Communication/mh-3021", 1),
        ("record.retracted", "Flag/hv-0991/retraction", 1),
        ("health.child-details", "Patient/pat-20931", 3),
        ("health.child-details", "Patient/pat-unborn-0042", 1),
        ("health.looked-after-health-assessment", "Encounter/lac-rha-3310", 1),
        ("health.looked-after-dental-check", "Encounter/lac-dent-3311", 1),
    ]
    completed = [e.details.get("completed_on") for e in result.events[-2:]]
    assert completed == ["2025-02-10", "2025-02-12"]  # the day the encounter says, UK time
    assert result.problems == [
        AdapterProblem(
            str(HEALTH_SAMPLE),
            8,
            "Observation/hv-1201: code.coding.code: unknown code 'HV-REVIEW'; see "
            "docs/adapters.md for the codes",
        )
    ]
    assert [e.household_ref for e in result.events] == [
        None,
        "H-3377",  # the household-ref extension on the Observation and the Appointment
        "H-3377",
        None,
        None,
        None,
        None,
        None,  # a Patient is who the child is, not their household (its extension unread)
        None,
        None,
        None,
    ]
    maternity, _, missed, _, _, crisis, retraction, *_ = result.events
    assert maternity.child.provisional_id == "PRV-7K2M9QX4TB="
    assert maternity.sensitivity == "sensitive"  # meta.security R
    assert crisis.sensitivity == "restricted"  # meta.security V
    assert missed.details == {
        "service": "Community paediatrics",
        "appointment_type": "Developmental review",
    }
    assert missed.categories == ["disengagement"]
    assert retraction.supersedes is not None
    assert retraction.supersedes.event_id == "Flag/hv-0991"


def test_school_sample_maps_log_entries_and_drops_non_harm_labels() -> None:
    result = get_adapter("school-csv").read(SCHOOL_SAMPLE, "school-100001")
    assert [(e.kind, e.revision) for e in result.events] == [
        ("education.enrolled", 1),
        ("education.safeguarding-disclosure", 1),
        ("education.attendance-concern", 1),
        ("education.suspension-or-exclusion", 1),
        ("education.elective-home-education-notice", 1),
        ("education.attendance-concern", 2),
        ("education.elective-home-education-ended", 1),
        ("education.compulsory-school-age-ended", 1),
    ]
    assert result.problems == [
        AdapterProblem(
            str(SCHOOL_SAMPLE),
            8,
            "column categories: unknown code (value not shown); see docs/adapters.md for the codes",
        )
    ]
    enrolled, disclosure, attendance, suspension, home_education, corrected, *ended = result.events
    assert enrolled.details == {"school_urn": "100001", "starts_on": "2024-09-02"}
    assert disclosure.categories == ["physical-abuse", "domestic-abuse"]
    assert attendance.categories == ["neglect"]  # "Attendance" is not a harm category
    assert suspension.details == {"kind": "suspension", "days": 2}
    assert home_education.details == {
        "la_consent_required": False,
        "reason_given": "Parent dissatisfied with the school",
    }
    assert corrected.details == {"attendance_percent": 82.1, "period": "Autumn 2024"}
    assert [e.details for e in ended] == [
        {"ended_on": "2025-03-21", "reason": "returned-to-school"},
        {"on": "2025-06-27"},
    ]
    assert {e.lawful_basis for e in result.events} == {"legal-obligation"}
    assert [e.household_ref for e in result.events] == [
        "F0042",
        "F0042",
        "F0042",
        None,
        None,
        "F0042",
        None,
        None,
    ]


def test_sample_csv_headers_are_the_documented_columns() -> None:
    with LA_SAMPLE.open(encoding="utf-8") as file:
        assert tuple(next(csv.reader(file))) == la_csv.COLUMNS
    with SCHOOL_SAMPLE.open(encoding="utf-8") as file:
        assert tuple(next(csv.reader(file))) == school_csv.COLUMNS


# --- invalid NHS numbers: a problem, never the number -------------------------------------

_CHECK_DIGIT = (
    "not a valid NHS number: the Modulus 11 check digit does not match "
    "(check for a mistyped or transposed digit)"
)


def test_la_invalid_nhs_number_is_a_problem_without_the_number(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "la.csv", la_csv.COLUMNS, [_la_row(nhs_number=INVALID_NHS)])
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert result.events == []
    assert result.problems == [AdapterProblem(str(path), 2, f"column nhs_number: {_CHECK_DIGIT}")]


def test_police_invalid_nhs_number_is_a_problem_without_the_number(tmp_path: Path) -> None:
    document = json.loads(POLICE_SAMPLE.read_text(encoding="utf-8"))
    document["incidents"][1]["subjects"][1]["nhs_number"] = INVALID_NHS
    path = tmp_path / "police.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = get_adapter("police-json").read(path, "shire-constabulary")
    assert len(result.events) == 5
    assert result.problems[0] == AdapterProblem(
        str(path), 2, f"subjects[1].nhs_number: {_CHECK_DIGIT}"
    )


def test_health_invalid_nhs_number_is_a_problem_without_the_number(tmp_path: Path) -> None:
    bundle = json.loads(HEALTH_SAMPLE.read_text(encoding="utf-8"))
    bundle["entry"][1]["resource"]["subject"]["identifier"]["value"] = INVALID_NHS
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    result = get_adapter("health-fhir").read(path, "shire-icb")
    assert len(result.events) == 10
    assert result.problems[0] == AdapterProblem(
        str(path), 2, f"Observation/hv-1187: subject.identifier.value: {_CHECK_DIGIT}"
    )


def test_school_invalid_nhs_number_is_a_problem_without_the_number(tmp_path: Path) -> None:
    row = {
        "incident_id": "CP-1",
        "version": "1",
        "nhs_number": INVALID_NHS,
        "incident_datetime": "03/02/2025 09:20",
        "logged_datetime": "03/02/2025 09:55",
        "incident_type": "DISCLOSURE",
        "categories": "Neglect",
        "notes": "Pupil arrived hungry",
    }
    path = _write_csv(tmp_path / "school.csv", school_csv.COLUMNS, [row])
    result = get_adapter("school-csv").read(path, "school-100001")
    assert result.problems == [AdapterProblem(str(path), 2, f"column nhs_number: {_CHECK_DIGIT}")]


# --- bad rows: specific reasons, the rest still flows ------------------------------------


def test_la_bad_rows_each_give_a_specific_reason_and_good_rows_flow(tmp_path: Path) -> None:
    rows = [
        _la_row(recorded_date="02/02/2025 16:40"),
        _la_row(withheld_from_json="[{not json"),
        _la_row(withheld_from_json='[{"agency_type": "police", "reason": "r"}]'),
        _la_row(event_type="REF"),
        _la_row(provisional_id="PRV-7K2M9QX4TB="),
        _la_row(sensitivity="secret"),
        _la_row(event_type="Smith"),
        _la_row(record_id="LCS-2"),
    ]
    path = _write_csv(tmp_path / "la.csv", la_csv.COLUMNS, rows)
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert [e.event_id for e in result.events] == ["LCS-2"]
    assert [(p.line, p.reason) for p in result.problems] == [
        (2, "canonical event invalid: (event): Value error, occurred_at is after recorded_at: "
         "an event is recorded after it happens"),
        (3, "column withheld_from_json: not valid JSON"),
        (4, "canonical event invalid: withheld_from.0.decided_by: Field required; "
         "withheld_from.0.review_by: Field required"),
        (5, "column referral_source: empty (needed for REF)"),
        (6, "column nhs_number and column provisional_id: give one, not both"),
        (7, "column sensitivity: expected standard, sensitive or restricted"),
        (8, "column event_type: unknown code (value not shown); "
         "see docs/adapters.md for the codes"),
    ]  # fmt: skip


def test_csv_line_numbers_follow_the_physical_file(tmp_path: Path) -> None:
    path = tmp_path / "la.csv"
    header = ",".join(la_csv.COLUMNS)
    good = f'LCS-1,1,{VALID_NHS},,CONTACT,03/02/2025 10:15,03/02/2025 16:40,,"two\nlines"'
    short = "LCS-2,1"
    broken = f'LCS-3,1,{VALID_NHS},,CONTACT,03/02/2025 10:15,03/02/2025 16:40,,"unterminated\n'
    padding = "," * (len(la_csv.COLUMNS) - 9)
    path.write_text(f"{header}\n{good}{padding}\n\n{short}\n{broken}", encoding="utf-8")
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert [e.summary for e in result.events] == ["two\nlines"]
    assert [(p.line, p.reason) for p in result.problems] == [
        (5, f"malformed CSV row: row has 2 fields, header has {len(la_csv.COLUMNS)}"),
        (6, "malformed CSV row: bad quoting (unexpected end of data)"),
    ]


def test_police_entries_of_the_wrong_shape_are_problems(tmp_path: Path) -> None:
    times = {"occurred": "2025-01-01T10:00:00Z", "recorded": "2025-01-01T11:00:00Z"}
    incident = {"occurrence_ref": "SC-1", "revision": 1, "incident_type": "DOMESTIC", **times}
    adult = {"role": "adult", "nominal_ref": "N-1"}
    incidents: list[Any] = [
        "not an incident",
        {**incident, "synopsis": "Argument", "subjects": [adult]},
        {**incident, "revision": True},
        {**incident, "occurred": None},
        {**incident, "synopsis": "Argument", "subjects": [adult, "a child"]},
        {
            **incident,
            "synopsis": "Argument",
            "subjects": [{"role": "child", "nhs_number": VALID_NHS}],
        },
    ]
    path = tmp_path / "police.json"
    path.write_text(json.dumps({"incidents": incidents}), encoding="utf-8")
    result = get_adapter("police-json").read(path, "shire-constabulary")
    assert result.events == []
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "incident: missing or not an object"),
        (2, "subjects: no subject has role 'child'; nothing to publish"),
        (3, "revision: not a whole number"),
        (4, "occurred: missing or not a non-empty string"),
        (5, "subjects[1]: missing or not an object"),
        (6, "subjects[0].present: missing or not true/false"),
    ]


def test_health_entries_that_are_not_safeguarding_events_are_problems(tmp_path: Path) -> None:
    bundle = json.loads(HEALTH_SAMPLE.read_text(encoding="utf-8"))
    appointment = bundle["entry"][2]["resource"]
    booked = {**appointment, "status": "booked"}
    wrong_child = json.loads(json.dumps(appointment))
    wrong_child["participant"][0]["actor"]["identifier"]["value"] = INVALID_NHS
    bundle["entry"] = [
        {"resource": {"resourceType": "Practitioner", "id": "p1"}},
        {"resource": booked},
        {"resource": wrong_child},
        {"resource": {**appointment, "meta": {"versionId": "1", "lastUpdated": "2025-01-23"}}},
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    result = get_adapter("health-fhir").read(path, "shire-icb")
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "resourceType: 'Practitioner' is not mapped; see docs/adapters.md"),
        (2, "Appointment/appt-55310: status: only Appointments with status 'noshow' (was not "
            "brought) are mapped"),
        (3, f"Appointment/appt-55310: participant.actor.identifier.value: {_CHECK_DIGIT}"),
        # A date is not a FHIR instant: the resource is not valid FHIR R4.
        (4, "Appointment/appt-55310: not valid FHIR R4 Appointment: meta.lastUpdated: Value "
            "error, Instant value string does not match spec regex."),
    ]  # fmt: skip


_NOT_A_REFERENCE = (
    "not a reference (letters, digits and . _ : / -, starting with a letter or digit, "
    "at most 100 characters)"
)


def test_household_references_must_be_references_and_are_never_quoted(tmp_path: Path) -> None:
    rows = [_la_row(family_id="The Smiths"), _la_row(family_id=" "), _la_row(family_id="F/1.2")]
    la_path = _write_csv(tmp_path / "la.csv", la_csv.COLUMNS, rows)
    la = get_adapter("la-csv").read(la_path, "shire-county-council")
    assert [e.household_ref for e in la.events] == [None, "F/1.2"]  # a blank cell is no ref
    assert la.problems == [AdapterProblem(str(la_path), 2, f"column family_id: {_NOT_A_REFERENCE}")]

    document = json.loads(POLICE_SAMPLE.read_text(encoding="utf-8"))
    document["incidents"][0]["household_ref"] = "ignored: the occurrence links the children"
    document["incidents"][1]["household_ref"] = "Flat 2, 14 Example Road"
    police_path = tmp_path / "police.json"
    police_path.write_text(json.dumps(document), encoding="utf-8")
    police = get_adapter("police-json").read(police_path, "shire-constabulary")
    assert [e.household_ref for e in police.events[:2]] == ["SC-25-004411", "SC-25-004411"]
    assert police.problems[0] == AdapterProblem(
        str(police_path), 2, f"household_ref: {_NOT_A_REFERENCE}"
    )

    bundle = json.loads(HEALTH_SAMPLE.read_text(encoding="utf-8"))
    observation = bundle["entry"][1]["resource"]
    extension = observation["extension"][0]
    other = {"url": "https://example.org/other", "valueString": "not read"}
    bundle["entry"] = [
        {"resource": {**observation, "extension": [other]}},
        {"resource": {**observation, "extension": [extension, extension]}},
        {"resource": {**observation, "extension": [{**extension, "valueString": "Smith family"}]}},
        {"resource": {**observation, "extension": [{**extension, "valueString": 7}]}},
    ]
    health_path = tmp_path / "bundle.json"
    health_path.write_text(json.dumps(bundle), encoding="utf-8")
    health = get_adapter("health-fhir").read(health_path, "shire-icb")
    assert [e.household_ref for e in health.events] == [None]
    assert [(p.line, p.reason) for p in health.problems] == [
        (2, "Observation/hv-1187: extension: more than one household-ref extension"),
        (3, f"Observation/hv-1187: extension[household-ref].valueString: {_NOT_A_REFERENCE}"),
        (
            4,
            "Observation/hv-1187: not valid FHIR R4 Observation: "
            "extension[0].valueString: Input should be a valid string",
        ),
    ]

    row = {
        "incident_id": "CP-1",
        "version": "1",
        "nhs_number": VALID_NHS,
        "incident_datetime": "03/02/2025 09:20",
        "logged_datetime": "03/02/2025 09:55",
        "incident_type": "CME",
        "categories": "",
        "notes": "Not seen since half term",
        "family_ref": "-F1",
    }
    school_path = _write_csv(tmp_path / "school.csv", school_csv.COLUMNS, [row])
    school = get_adapter("school-csv").read(school_path, "school-100001")
    assert school.problems == [
        AdapterProblem(str(school_path), 2, f"column family_ref: {_NOT_A_REFERENCE}")
    ]


def test_adapters_check_household_refs_with_the_canonical_pattern() -> None:
    field = CanonicalEvent.model_json_schema()["properties"]["household_ref"]
    patterns = {option.get("pattern") for option in field["anyOf"]} - {None}
    assert patterns == {native.REFERENCE_PATTERN.pattern}


def test_independent_schools_share_under_recognised_legitimate_interest(tmp_path: Path) -> None:
    row = {
        "incident_id": "IS-1",
        "version": "1",
        "nhs_number": VALID_NHS,
        "incident_datetime": "12/06/2025 09:20",
        "logged_datetime": "12/06/2025 09:55",
        "incident_type": "CME",
        "categories": "Disengagement",
        "notes": "Pupil has not attended since half term",
        "setting_type": "Independent",
    }
    path = _write_csv(tmp_path / "school.csv", school_csv.COLUMNS, [row])
    (event,) = get_adapter("school-csv").read(path, "school-200001").events
    assert event.lawful_basis == "recognised-legitimate-interest-safeguarding"
    assert event.occurred_at == datetime(2025, 6, 12, 8, 20, tzinfo=UTC)  # BST
    assert event.sensitivity == "sensitive"


# --- unreadable files raise --------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "content", "message"),
    [
        ("la-csv", "", "is empty; expected a CSV header"),
        ("la-csv", '{"incidents": []}', "is not in this format: the header lacks"),
        ("school-csv", "a\x00b", "contains NUL bytes"),
        ("police-json", "record_id,revision", "is not JSON"),
        ("police-json", '{"force": "x"}', "is not an incident export: no 'incidents' list"),
        ("health-fhir", '{"resourceType": "Patient"}', "is not a FHIR Bundle"),
    ],
)
def test_unreadable_files_raise_adapter_file_error(
    tmp_path: Path, adapter: str, content: str, message: str
) -> None:
    path = tmp_path / "export"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AdapterFileError, match=message):
        get_adapter(adapter).read(path, "some-agency")


def test_missing_file_raises_adapter_file_error(tmp_path: Path) -> None:
    with pytest.raises(AdapterFileError, match="no such file"):
        get_adapter("health-fhir").read(tmp_path / "absent.json", "shire-icb")


# --- never raises for a row, never leaks a cell ------------------------------------------

_cells = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30
)
_la_rows = st.fixed_dictionaries(
    {column: _cells for column in la_csv.REQUIRED_COLUMNS}
    | {
        "nhs_number": st.from_regex(r"\A[0-9]{10}\Z") | _cells,
        "summary": _cells.map(lambda text: f"Pupil said {text}"),
        "event_type": st.sampled_from(sorted(la_csv.EVENT_TYPES)) | _cells,
        "event_date": st.sampled_from(["03/02/2025 10:15", "31/02/2025", "2025-02-03"]) | _cells,
    }
)


@settings(max_examples=80, deadline=None)
@given(cells=_la_rows)
def test_arbitrary_la_rows_give_an_event_or_a_problem_never_an_exception(
    tmp_path_factory: pytest.TempPathFactory, cells: dict[str, str]
) -> None:
    path = _write_csv(tmp_path_factory.mktemp("fuzz") / "la.csv", la_csv.COLUMNS, [cells])
    result = get_adapter("la-csv").read(path, "shire-county-council")
    assert len(result.events) + len(result.problems) == 1
    for problem in result.problems:
        assert "Pupil said" not in problem.reason
        assert "input_value" not in problem.reason
        if cells["nhs_number"].isdigit():
            assert cells["nhs_number"] not in problem.reason


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_sample_incident = json.loads(POLICE_SAMPLE.read_text(encoding="utf-8"))["incidents"][0]
_sample_entry = json.loads(HEALTH_SAMPLE.read_text(encoding="utf-8"))["entry"][1]


@settings(max_examples=80, deadline=None)
@given(
    field=st.sampled_from(sorted(_sample_incident)),
    value=_json,
    garbage=st.lists(_json, max_size=3),
)
def test_police_incidents_of_any_shape_never_raise(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: object, garbage: list[object]
) -> None:
    incidents = [{**_sample_incident, field: value}, *garbage]
    path = tmp_path_factory.mktemp("fuzz") / "police.json"
    path.write_text(json.dumps({"incidents": incidents}), encoding="utf-8")
    result = get_adapter("police-json").read(path, "shire-constabulary")
    assert {p.line for p in result.problems} <= set(range(1, len(incidents) + 1))
    assert all(VALID_NHS not in p.reason for p in result.problems)


@settings(max_examples=80, deadline=None)
@given(
    field=st.sampled_from(sorted(_sample_entry["resource"])),
    value=_json,
    garbage=st.lists(_json, max_size=3),
)
def test_fhir_entries_of_any_shape_never_raise(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: object, garbage: list[object]
) -> None:
    entries = [{"resource": {**_sample_entry["resource"], field: value}}, *garbage]
    path = tmp_path_factory.mktemp("fuzz") / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": entries}), encoding="utf-8")
    result = get_adapter("health-fhir").read(path, "shire-icb")
    assert len(result.events) + len(result.problems) == len(entries)
