"""`health-fhir` against FHIR R4 as health systems send it: the sample and the demo export are
valid R4 (checked with `fhir.resources`), a searchset Bundle with `_include`d Patients and
SNOMED CT codes maps, and what cannot be mapped says which resource, element and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from hub.adapters.agencies.fhir_concept_map import (
    EVENT_KIND_SYSTEM,
    ConceptMapError,
    load_concept_map,
)
from hub.adapters.agencies.health_fhir import HealthFhirBundleAdapter
from hub.adapters.agencies.registry import get_adapter
from hub.demo.population import generate_partnership

SAMPLE = Path(__file__).parents[2] / "hub" / "samples" / "health-bundle.json"
NHS = "9994567896"
SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SERVER = "https://fhir.shire-trust.example/R4"


def test_the_sample_is_valid_fhir_r4() -> None:
    Bundle.model_validate(json.loads(SAMPLE.read_text(encoding="utf-8")))


def test_the_demo_health_export_is_valid_fhir_r4(tmp_path: Path) -> None:
    generate_partnership(tmp_path, seed=7, children=40)
    Bundle.model_validate(json.loads((tmp_path / "shire-icb.json").read_text(encoding="utf-8")))


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "x",
        "meta": {"versionId": "4", "lastUpdated": "2025-01-02T09:00:00Z"},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}],
        "name": [{"use": "official", "family": "Marchbank", "given": ["Skylar"]}],
        "birthDate": "2022-11-22",
    }


def _searchset() -> dict[str, Any]:
    """As a FHIR server answers `Appointment?status=noshow&_include=Appointment:patient` and
    an Encounter and Observation search, bundled: versions as strings, SNOMED CT codes with
    displays and no text, references to the child by `Patient/x` and by `urn:uuid:`."""
    appointment = {
        "resourceType": "Appointment",
        "id": "appt-9",
        "meta": {"versionId": "2", "lastUpdated": "2025-03-04T17:00:00Z"},
        "status": "noshow",
        "serviceType": [
            {"coding": [{"system": SNOMED, "code": "310146004", "display": "Paediatric service"}]}
        ],
        "appointmentType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                    "code": "FOLLOWUP",
                    "display": "A follow up visit from a previous appointment",
                }
            ]
        },
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "281399006"}]}],
        "start": "2025-03-04T09:30:00+00:00",
        "end": "2025-03-04T10:00:00+00:00",
        "participant": [
            {"actor": {"reference": "Patient/x"}, "status": "declined"},
            {"actor": {"reference": "Practitioner/dr-1"}, "status": "accepted"},
        ],
    }
    encounter = {
        "resourceType": "Encounter",
        "id": "ed-3",
        "meta": {"versionId": "3", "lastUpdated": "2025-03-06T01:00:00Z"},
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
        "subject": {"reference": "urn:uuid:5b1f0c8e-2d7a-4c55-9a0e-0d3c9a1b7f21"},
        "period": {"start": "2025-03-05T22:10:00Z"},
    }
    observation = {
        "resourceType": "Observation",
        "id": "obs-1",
        "meta": {"lastUpdated": "2025-03-20T12:00:00Z"},
        "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "4525004"}], "text": "ED attendance"},
        "subject": {"reference": f"{SERVER}/Patient/x"},
        "effectivePeriod": {"start": "2025-03"},
    }
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": "2025-03-21T06:00:00Z",
        "entry": [
            {
                "fullUrl": f"{SERVER}/Appointment/appt-9",
                "resource": appointment,
                "search": {"mode": "match"},
            },
            {"fullUrl": f"{SERVER}/Encounter/ed-3", "resource": encounter},
            {"fullUrl": f"{SERVER}/Observation/obs-1", "resource": observation},
            {
                "fullUrl": f"{SERVER}/Patient/x",
                "resource": _patient(),
                "search": {"mode": "include"},
            },
            {
                "fullUrl": "urn:uuid:5b1f0c8e-2d7a-4c55-9a0e-0d3c9a1b7f21",
                "resource": _patient(),
                "search": {"mode": "include"},
            },
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "information", "code": "informational"}],
                },
                "search": {"mode": "outcome"},
            },
        ],
    }


def _read(tmp_path: Path, bundle: dict[str, Any], adapter: Any = None) -> Any:
    Bundle.model_validate(bundle)  # the test input is itself valid FHIR R4
    path = tmp_path / "searchset.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return (adapter or get_adapter("health-fhir")).read(path, "shire-icb")


def test_a_searchset_with_included_patients_and_snomed_codes_maps(tmp_path: Path) -> None:
    result = _read(tmp_path, _searchset())
    assert result.problems == []
    summary = [
        (e.event_id, e.revision, e.kind, e.sensitivity, e.child.nhs_number) for e in result.events
    ]
    assert summary == [
        ("Appointment/appt-9", 2, "health.was-not-brought", "standard", NHS),
        ("Encounter/ed-3", 3, "health.urgent-care-attendance", "sensitive", NHS),
        ("Observation/obs-1", 1, "health.urgent-care-attendance", "sensitive", NHS),
    ]
    appointment, encounter, observation = result.events
    assert appointment.details == {
        "service": "Paediatric service",
        "appointment_type": "A follow up visit from a previous appointment",
    }
    assert encounter.summary == "emergency"
    # A partial date is the start of the month, UK time (GMT in March before the clocks go).
    assert observation.occurred_at.isoformat() == "2025-03-01T00:00:00+00:00"
    # The included Patients resolve references; they are not published as child details.
    assert all(e.kind != "health.child-details" for e in result.events)


def test_unmappable_resources_name_the_resource_the_element_and_why(tmp_path: Path) -> None:
    bundle = _searchset()
    appointment, encounter, observation = (bundle["entry"][i]["resource"] for i in range(3))
    appointment["participant"][0]["actor"] = {"reference": "Patient/not-in-bundle"}
    encounter["class"] = {"system": ACT_CODE, "code": "AMB"}
    observation["meta"]["versionId"] = "a1b2c3"
    result = _read(tmp_path, bundle)
    assert result.events == []
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "Appointment/appt-9: participant.actor.reference: names no resource in the Bundle "
            "(send the Patient in the Bundle, e.g. a search with _include, or reference the "
            "child by identifier)"),
        (2, "Encounter/ed-3: type[], class: no coding the hub maps (a code from "
            "https://safeguarding-hub.example/fhir/CodeSystem/health-event, or one the concept "
            "map (default concept map) maps)"),
        (3, "Observation/obs-1: meta.versionId: not a version number; the hub orders a "
            "record's versions by it"),
    ]  # fmt: skip
    assert not any(NHS in p.reason or "a1b2c3" in p.reason for p in result.problems)


def test_invalid_fhir_is_a_problem_that_does_not_quote_the_value(tmp_path: Path) -> None:
    bundle = _searchset()
    bundle["entry"][1]["resource"]["period"] = {"start": "Skylar-Marchbank"}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    result = get_adapter("health-fhir").read(path, "shire-icb")
    (problem,) = result.problems
    assert problem.line == 2
    assert problem.reason.startswith("Encounter/ed-3: not valid FHIR R4 Encounter: period.start")
    assert "Skylar" not in problem.reason


def _concept_map(kind: str) -> dict[str, Any]:
    return {
        "resourceType": "ConceptMap",
        "status": "active",
        "group": [
            {
                "source": SNOMED,
                "target": EVENT_KIND_SYSTEM,
                "element": [
                    {"code": "4525004", "target": [{"code": kind, "equivalence": "equivalent"}]}
                ],
            }
        ],
    }


def test_a_partnership_concept_map_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(_concept_map("health.non-mobile-infant-injury")), "utf-8")
    adapter = HealthFhirBundleAdapter(load_concept_map(path))
    result = _read(tmp_path, _searchset(), adapter)
    assert [(e.event_id, e.kind) for e in result.events] == [
        ("Appointment/appt-9", "health.was-not-brought"),  # the status says it, not a code
        ("Observation/obs-1", "health.non-mobile-infant-injury"),
    ]
    # The default map's EMER is not in this map, which replaces it.
    assert [(p.line, p.reason) for p in result.problems] == [
        (2, f"Encounter/ed-3: type[], class: no coding the hub maps (a code from "
            f"https://safeguarding-hub.example/fhir/CodeSystem/health-event, or one the concept "
            f"map ({path}) maps)"),
    ]  # fmt: skip


def test_a_concept_map_naming_a_kind_the_adapter_does_not_publish_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(_concept_map("la.referral")), "utf-8")
    with pytest.raises(ConceptMapError, match="kinds the health adapter does not publish"):
        HealthFhirBundleAdapter(load_concept_map(path))
    path.write_text(json.dumps({"resourceType": "ConceptMap"}), "utf-8")
    with pytest.raises(ConceptMapError, match="not a valid FHIR R4 ConceptMap"):
        load_concept_map(path)
