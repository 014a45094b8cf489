"""The child's identifying details (`la.child-details`, `health.child-details`): the details
model and its checks (naming the field, never the value), and how the LA case-management CSV
and the FHIR Patient resource become them."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from hub.adapters.agencies import la_csv
from hub.adapters.agencies.registry import get_adapter
from hub.domain.canonical_event import CanonicalEvent, describe_validation_error, field_path
from hub.domain.details import ETHNIC_CATEGORIES, ChildDetails, EthnicCategory, LaChildDetails
from hub.domain.taxonomy import KINDS, SpecialCategory, classify
from tests.factories import event_dict

RECORDED_ON = date(2025, 3, 4)
CONTEXT = {"recorded_on": RECORDED_ON}
CHILD: dict[str, Any] = {
    "given_names": ["Ellis", "Jordan"],
    "family_name": "Fairweather",
    "known_as": "Elly",
    "date_of_birth": "2017-06-14",
    "sex": "female",
    "ethnic_category": "A",
    "disability": {"status": "yes", "description": "Hearing impairment"},
    "address": {"lines": ["7 Example Lane", "Shiretown"], "postcode": "st1 4ab"},
}
NAMES_AND_VALUES = ("Ellis", "Jordan", "Fairweather", "Elly", "Example Lane", "Hearing", "ST1")


def problems(details: dict[str, Any], model: type[ChildDetails] = ChildDetails) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(details, context=CONTEXT)
    # As the canonical event reports a kind's details (field names only, never values).
    text = "; ".join(
        f"{field_path(e['loc']) or '(details)'}: {e['msg']}"
        for e in caught.value.errors(include_url=False, include_input=False, include_context=False)
    )
    for value in NAMES_AND_VALUES:
        assert value not in text
    return text


# --- the details model ---------------------------------------------------------------------


def test_a_childs_details_validate_and_normalise_the_postcode() -> None:
    details = ChildDetails.model_validate(CHILD, context=CONTEXT)
    assert details.date_of_birth == date(2017, 6, 14)
    assert details.address is not None and details.address.postcode == "ST1 4AB"
    minimal = {"given_names": ["Ellis"], "family_name": "Fairweather", "sex": "unknown",
               "date_of_birth": "2025-03-04"}  # fmt: skip
    assert ChildDetails.model_validate(minimal, context=CONTEXT).ethnic_category is None


def test_an_unborn_child_has_an_expected_date_of_delivery_and_may_have_no_given_name() -> None:
    unborn = {
        "family_name": "Brightwater",
        "sex": "unknown",
        "expected_delivery_date": "2025-06-01",
    }
    assert ChildDetails.model_validate(unborn, context=CONTEXT).given_names == []
    born = {**unborn, "date_of_birth": "2025-03-01"}
    born.pop("expected_delivery_date")
    assert problems(born) == (
        "(details): Value error, given_names: a child who has been born needs a given name"
    )


def test_date_of_birth_or_expected_date_of_delivery_exactly_one() -> None:
    both = {**CHILD, "expected_delivery_date": "2025-06-01"}
    neither = {k: v for k, v in CHILD.items() if k != "date_of_birth"}
    expected = (
        "(details): Value error, give exactly one of date_of_birth (a child) "
        "or expected_delivery_date (an unborn child)"
    )
    assert problems(both) == expected
    assert problems(neither) == expected


def test_a_date_of_birth_after_the_record_was_made_is_refused() -> None:
    assert problems({**CHILD, "date_of_birth": "2025-03-05"}) == (
        "date_of_birth: Value error, is after the day the record was made; "
        "a birth cannot be recorded early"
    )
    assert problems({**CHILD, "date_of_birth": "1990-01-01"}) == (
        "date_of_birth: Value error, is more than 30 years before the record; check the date"
    )
    # Standing alone (no record to judge by), the day is today in England.
    with pytest.raises(ValidationError, match="date_of_birth"):
        ChildDetails.model_validate({**CHILD, "date_of_birth": "2999-01-01"})


def test_an_expected_date_of_delivery_is_within_a_pregnancy_of_the_record() -> None:
    unborn = {"family_name": "Brightwater", "sex": "unknown"}
    ok = ("2025-01-21", "2025-03-04", "2026-01-05")  # 6 weeks before .. 44 weeks after
    for due in ok:
        ChildDetails.model_validate({**unborn, "expected_delivery_date": due}, context=CONTEXT)
    assert problems({**unborn, "expected_delivery_date": "2026-01-07"}) == (
        "expected_delivery_date: Value error, is more than 44 weeks after the day the record "
        "was made"
    )
    assert problems({**unborn, "expected_delivery_date": "2025-01-20"}).startswith(
        "expected_delivery_date: Value error, is more than 6 weeks before"
    )


def test_sex_is_an_administrative_gender_code() -> None:
    assert problems({**CHILD, "sex": "F"}) == (
        "sex: Input should be 'male', 'female', 'other' or 'unknown'"
    )
    for sex in ("male", "female", "other", "unknown"):
        ChildDetails.model_validate({**CHILD, "sex": sex}, context=CONTEXT)


def test_ethnic_category_is_an_nhs_data_dictionary_code_with_its_label() -> None:
    assert set(get_args(EthnicCategory)) == set(ETHNIC_CATEGORIES)
    assert ETHNIC_CATEGORIES["A"] == "White - British"
    assert ETHNIC_CATEGORIES["Z"] == "Not stated" and ETHNIC_CATEGORIES["99"] == "Not known"
    assert "I" not in ETHNIC_CATEGORIES and "O" not in ETHNIC_CATEGORIES  # never used
    assert problems({**CHILD, "ethnic_category": "WBRI"}).startswith(
        "ethnic_category: Input should be 'A', 'B',"
    )


def test_disability_address_and_names_are_checked_by_field() -> None:
    assert problems({**CHILD, "disability": {"status": "maybe"}}) == (
        "disability.status: Input should be 'yes', 'no' or 'not-known'"
    )
    assert problems({**CHILD, "address": {"lines": [], "postcode": "Fairweather"}}) == (
        "address.lines: List should have at least 1 item after validation, not 0; "
        "address.postcode: String should match pattern '^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$'"
    )
    assert problems({**CHILD, "family_name": " "}) == (
        "family_name: String should have at least 1 character"
    )
    assert problems({**CHILD, "nickname": "Elly"}) == (
        "(a field the schema does not define): Extra inputs are not permitted"
    )


def test_legal_status_is_the_local_authoritys_only() -> None:
    la = LaChildDetails.model_validate({**CHILD, "legal_status": "s20"}, context=CONTEXT)
    assert la.legal_status == "s20"
    assert problems({**CHILD, "legal_status": "s20"}) == (
        "legal_status: Extra inputs are not permitted"
    )


# --- the kinds -----------------------------------------------------------------------------


def child_event(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_id": "LCS-9001",
        "kind": "la.child-details",
        "categories": [],
        "summary": "Child's details recorded",
        "details": CHILD,
        "occurred_at": "2025-03-04T09:15:00+00:00",
        "recorded_at": "2025-03-04T11:40:00+00:00",
    }
    return event_dict(**(fields | overrides))


def test_the_kinds_are_published_by_the_la_and_health_and_judged_by_recorded_at() -> None:
    assert KINDS["la.child-details"].details is LaChildDetails
    assert KINDS["health.child-details"].details is ChildDetails
    event = CanonicalEvent.model_validate(child_event(shielded_fields=["details.address"]))
    assert event.details["address"] == {
        "lines": ["7 Example Lane", "Shiretown"],
        "postcode": "ST1 4AB",
    }
    health = {"id": "shire-icb", "type": "health"}
    assert (
        CanonicalEvent.model_validate(child_event(agency=health, kind="health.child-details")).kind
        == "health.child-details"
    )
    with pytest.raises(ValidationError, match="published by local-authority agencies"):
        CanonicalEvent.model_validate(child_event(agency=health))
    # A birth on the 5th cannot be in a record made on the 4th, whenever it is read.
    with pytest.raises(ValidationError) as caught:
        CanonicalEvent.model_validate(child_event(details={**CHILD, "date_of_birth": "2025-03-05"}))
    message = describe_validation_error(caught.value)
    assert "date_of_birth: Value error, is after the day the record was made" in message
    assert not any(value in message for value in NAMES_AND_VALUES)


def test_the_kinds_are_special_category_data_ethnicity_and_health() -> None:
    for kind in ("la.child-details", "health.child-details"):
        classification = classify(kind, [])
        assert classification.special_categories == {
            SpecialCategory.RACIAL_OR_ETHNIC_ORIGIN,
            SpecialCategory.HEALTH,
        }
        assert not classification.criminal_offence


# --- the LA case-management CSV ------------------------------------------------------------

LA_ROW: dict[str, str] = {
    "record_id": "LCS-7001",
    "revision": "1",
    "nhs_number": "9992345675",
    "event_type": "CHILD_DETAILS",
    "event_date": "03/02/2025 10:20",
    "recorded_date": "03/02/2025 16:45",
    "summary": "Child's details recorded",
    "family_id": "FAM-1",
    "forename": "Ellis",
    "middle_names": "Jordan Lee",
    "surname": "Fairweather",
    "known_as": "Elly",
    "date_of_birth": "14/06/2017",
    "gender": "2",
    "ethnicity": "WIRT",
    "disability": "Y",
    "disability_description": "Hearing impairment",
    "address_lines": "7 Example Lane; Shiretown",
    "postcode": "st14ab",
    "legal_status": "V2",
}


def read_la(
    tmp_path: Path, *rows: dict[str, str], columns: tuple[str, ...] = la_csv.COLUMNS
) -> Any:
    path = tmp_path / "la.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return get_adapter("la-csv").read(path, "shire-county-council")


def test_an_la_child_details_row_becomes_the_kind(tmp_path: Path) -> None:
    changed = {"revision": "2", "ethnicity": "A", "shielded_fields": "details.address",
               "recorded_date": "04/02/2025 09:00"}  # fmt: skip
    result = read_la(tmp_path, LA_ROW, LA_ROW | changed)
    assert result.problems == []
    first, correction = result.events
    assert (first.kind, first.event_id, first.revision, first.sensitivity) == (
        "la.child-details", "LCS-7001", 1, "standard"
    )  # fmt: skip
    assert first.details == {
        "given_names": ["Ellis", "Jordan", "Lee"],
        "family_name": "Fairweather",
        "known_as": "Elly",
        "date_of_birth": "2017-06-14",
        "sex": "female",
        "ethnic_category": "C",  # a Traveller of Irish heritage: "any other White background"
        "disability": {"status": "yes", "description": "Hearing impairment"},
        "address": {"lines": ["7 Example Lane", "Shiretown"], "postcode": "ST1 4AB"},
        "legal_status": "s20",
    }
    # Who the child is says nothing of the household: the family id is not read.
    assert first.household_ref is None and first.shielded_fields == []
    # A later export with changed details is a new revision of the same record.
    assert (correction.event_id, correction.revision) == ("LCS-7001", 2)
    assert correction.details["ethnic_category"] == "A"
    assert correction.shielded_fields == ["details.address"]


def test_an_la_unborn_child_and_the_optional_columns(tmp_path: Path) -> None:
    unborn = {key: LA_ROW[key] for key in ("record_id", "revision", "event_type", "event_date",
              "recorded_date", "summary")} | {"provisional_id": "PRV-7K2M9QX4TB=",
              "surname": "Brightwater", "expected_delivery_date": "01/06/2025"}  # fmt: skip
    result = read_la(tmp_path, unborn)
    assert result.problems == []
    (event,) = result.events
    assert event.child.provisional_id == "PRV-7K2M9QX4TB="
    assert event.details == {
        "given_names": [],
        "family_name": "Brightwater",
        "expected_delivery_date": "2025-06-01",
        "sex": "unknown",  # no gender recorded: not known
    }


def test_older_extracts_without_the_new_columns_still_map(tmp_path: Path) -> None:
    contact = {key: LA_ROW[key] for key in la_csv.REQUIRED_COLUMNS if key in LA_ROW}
    contact |= {"event_type": "CONTACT", "summary": "Contact from a neighbour"}
    result = read_la(tmp_path, contact, columns=la_csv.COLUMNS[: la_csv.COLUMNS.index("forename")])
    assert [e.kind for e in result.events] == ["la.contact"]


def test_la_child_details_problems_name_the_column_never_the_value(tmp_path: Path) -> None:
    rows = [
        LA_ROW | {"surname": ""},
        LA_ROW | {"gender": "F"},
        LA_ROW | {"ethnicity": "Irish"},
        LA_ROW | {"date_of_birth": "31/02/2017"},
        LA_ROW | {"date_of_birth": "04/02/2025"},
        LA_ROW | {"expected_delivery_date": "01/06/2025"},
        LA_ROW | {"forename": "", "middle_names": ""},
        LA_ROW | {"disability": ""},
        LA_ROW | {"postcode": "Fairweather"},
        LA_ROW | {"address_lines": ""},
    ]
    result = read_la(tmp_path, *rows)
    assert result.events == []
    reasons = [p.reason for p in result.problems]
    prefix = "canonical event invalid: details: Value error, details do not fit kind "
    assert reasons == [
        "column surname: empty (needed for CHILD_DETAILS)",
        "column gender: unknown code 'F'; see docs/adapters.md for the codes",
        "column ethnicity: unknown code (value not shown); see docs/adapters.md for the codes",
        "column date_of_birth: not a date in dd/mm/yyyy form",
        f"{prefix}'la.child-details': date_of_birth: Value error, is after the day the record "
        "was made; a birth cannot be recorded early",
        f"{prefix}'la.child-details': (details): Value error, give exactly one of "
        "date_of_birth (a child) or expected_delivery_date (an unborn child)",
        f"{prefix}'la.child-details': (details): Value error, given_names: a child who has "
        "been born needs a given name",
        "column disability: empty (needed with its description)",
        f"{prefix}'la.child-details': address.postcode: String should match pattern "
        "'^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$'",
        f"{prefix}'la.child-details': address.lines: List should have at least 1 item after "
        "validation, not 0",
    ]
    for reason in reasons:
        assert not any(value in reason for value in (*NAMES_AND_VALUES, "Irish", "9992345675"))


# --- the FHIR Patient ----------------------------------------------------------------------

ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "pat-1",
    "meta": {"versionId": "2", "lastUpdated": "2025-02-01T10:00:00Z"},
    "extension": [
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
            "valueCodeableConcept": {
                "coding": [
                    {"system": ENGLAND, "code": "N", "display": "Black or Black British - African"}
                ]
            },
        }
    ],
    "identifier": [
        {"system": "https://trust.example/Id/hospital-number", "value": "RX1-77"},
        {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9994567896"},
    ],
    "name": [
        {"use": "old", "family": "Formername", "given": ["Ellis"]},
        {"use": "usual", "family": "Fairweather", "given": ["Elly"]},
        {"use": "official", "family": "Fairweather", "given": ["Ellis", "Jordan"]},
    ],
    "gender": "female",
    "birthDate": "2017-06-14",
    "address": [
        {"use": "home", "line": ["7 Example Lane"], "city": "Shiretown", "postalCode": "ST1 4AB"},
        {"use": "temp", "line": ["Former Street"], "period": {"end": "2024-01-01"}},
    ],
}


def read_bundle(tmp_path: Path, *resources: dict[str, Any]) -> Any:
    path = tmp_path / "bundle.json"
    entries = [{"resource": resource} for resource in resources]
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": entries}), encoding="utf-8")
    return get_adapter("health-fhir").read(path, "shire-icb")


def test_a_fhir_patient_with_uk_core_ethnicity_becomes_the_childs_details(tmp_path: Path) -> None:
    result = read_bundle(tmp_path, PATIENT)
    assert result.problems == []
    (event,) = result.events
    assert (event.kind, event.event_id, event.revision, event.sensitivity) == (
        "health.child-details", "Patient/pat-1", 2, "standard"
    )  # fmt: skip
    assert event.child.nhs_number == "9994567896"
    assert event.occurred_at == event.recorded_at  # the version's lastUpdated
    assert event.details == {
        "given_names": ["Ellis", "Jordan"],  # the official name, not the old one
        "family_name": "Fairweather",
        "known_as": "Elly",  # the usual name beside the official one
        "date_of_birth": "2017-06-14",
        "sex": "female",
        "ethnic_category": "N",
        "address": {"lines": ["7 Example Lane", "Shiretown"], "postcode": "ST1 4AB"},
    }
    assert event.shielded_fields == []


def test_a_fhir_patient_without_optional_fields(tmp_path: Path) -> None:
    bare = {
        "resourceType": "Patient",
        "id": "pat-2",
        "meta": {"versionId": "1", "lastUpdated": "2025-02-01T10:00:00Z"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9994567896"}],
        "name": [{"family": "Fairweather", "given": ["Ellis"]}],
        "birthDate": "2017-06-14",
    }
    (event,) = read_bundle(tmp_path, bare).events
    assert event.details == {
        "given_names": ["Ellis"],
        "family_name": "Fairweather",
        "date_of_birth": "2017-06-14",
        "sex": "unknown",  # no gender: not known
    }


def test_a_restricted_patient_has_its_address_shielded(tmp_path: Path) -> None:
    security = [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]
    restricted = PATIENT | {"meta": {**PATIENT["meta"], "security": security}}
    (event,) = read_bundle(tmp_path, restricted).events
    assert event.shielded_fields == ["details.address"]
    assert event.sensitivity == "sensitive"


def test_ethnic_category_codings_are_read_by_their_system(tmp_path: Path) -> None:
    def with_coding(system: str, code: str) -> dict[str, Any]:
        concept = {"coding": [{"system": system, "code": code}]}
        extension = {**PATIENT["extension"][0], "valueCodeableConcept": concept}
        return PATIENT | {"extension": [extension]}

    extended = "https://fhir.nhs.uk/R4/CodeSystem/UKCore-EthnicCategory"
    wales = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryWales"
    result = read_bundle(
        tmp_path,
        with_coding(ENGLAND, "99"),
        with_coding(extended, "CA"),  # English, under "any other White background"
        with_coding(wales, "B"),  # Wales's B (Gypsy or Irish Traveller) is not England's B
        with_coding(ENGLAND, "X"),
    )
    assert [e.details.get("ethnic_category") for e in result.events] == ["99", "C", None]
    assert [(p.line, p.reason) for p in result.problems] == [
        (4, "Patient/pat-1: extension[ethnic-category].valueCodeableConcept.coding.code: "
            "unknown code 'X'; "
            "see docs/adapters.md for the codes"),
    ]  # fmt: skip


def test_an_unborn_patient_and_patient_problems(tmp_path: Path) -> None:
    due = {
        "url": "https://safeguarding-hub.example/fhir/StructureDefinition/expected-delivery-date",
        "valueDate": "2025-06-01",
    }
    unborn = {
        **{k: PATIENT[k] for k in ("resourceType", "id", "meta")},
        "identifier": [
            {
                "system": "https://safeguarding-hub.example/Id/provisional-id",
                "value": "PRV-7K2M9QX4TB=",
            }
        ],
        "extension": [due],
        "name": [{"use": "official", "family": "Brightwater"}],
        "gender": "unknown",
    }
    result = read_bundle(
        tmp_path,
        unborn,
        PATIENT | {"gender": "F"},
        PATIENT | {"birthDate": "2017"},
        PATIENT | {"name": [{"use": "old", "family": "Fairweather", "given": ["Ellis"]}]},
        PATIENT
        | {
            "identifier": [
                {"system": "https://trust.example/Id/hospital-number", "value": "RX1-77"}
            ]
        },
        PATIENT | {"birthDate": "2025-02-02"},
    )
    (event,) = result.events
    assert event.child.provisional_id == "PRV-7K2M9QX4TB="
    assert event.details == {
        "given_names": [],
        "family_name": "Brightwater",
        "expected_delivery_date": "2025-06-01",
        "sex": "unknown",
    }
    assert [(p.line, p.reason) for p in result.problems] == [
        (2, "Patient/pat-1: gender: unknown code 'F'; see docs/adapters.md for the codes"),
        (3, "Patient/pat-1: birthDate: not a full date (YYYY-MM-DD)"),
        (4, "Patient/pat-1: name: no current official or usual name"),
        (5, "Patient/pat-1: identifier: no identifier of system "
            "https://fhir.nhs.uk/Id/nhs-number or "
            "https://safeguarding-hub.example/Id/provisional-id"),
        (6, "Patient/pat-1: canonical event invalid: details: Value error, details do not fit "
            "kind 'health.child-details': date_of_birth: Value error, is after the day the record "
            "was made; a birth cannot be recorded early"),
    ]  # fmt: skip
    for problem in result.problems:
        assert not any(value in problem.reason for value in (*NAMES_AND_VALUES, "9994567896"))
