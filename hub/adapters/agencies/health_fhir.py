"""Health / ICB: a FHIR R4-style Bundle of safeguarding-relevant resources.

Health systems already speak FHIR, so the hub asks for FHIR rather than a bespoke extract:
the child is the resource's subject by NHS number identifier, the safeguarding event type is
a coding from the hub's code system, harm categories are `meta.tag`s, and sensitivity is the
standard HL7 confidentiality label in `meta.security`. A missed appointment is an
`Appointment` with status `noshow`; a resource with status `entered-in-error` retracts the
record it names. A `Patient` is the child's identifying details (names, birth date, gender, UK
Core ethnic category, address), one record per Patient whose versions are its revisions. A
household (family) reference, where the health system keeps one, is a resource extension
(`HOUSEHOLD_EXTENSION`, `valueString`): FHIR has no core element for it on these resources.
Problems report `line` as the 1-based index of the entry in `Bundle.entry`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.adapters.agencies.base import AdapterResult
from hub.adapters.agencies.errors import AdapterFileError, MappingError
from hub.adapters.agencies.fhir_patient import extensions, patient_details
from hub.adapters.agencies.native import (
    as_list,
    as_obj,
    as_str,
    build_event,
    child_from_fields,
    collect,
    household_ref,
    load_json,
    lookup,
    map_categories,
    parse_iso_datetime,
    parse_revision,
)
from hub.domain.canonical_event import CanonicalEvent, Sensitivity
from hub.domain.taxonomy import AgencyType, HarmCategory

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PROVISIONAL_ID_SYSTEM = "https://safeguarding-hub.example/Id/provisional-id"
EVENT_CODE_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/health-event"
CATEGORY_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/harm-category"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
HOUSEHOLD_EXTENSION = "https://safeguarding-hub.example/fhir/StructureDefinition/household-ref"
CHILD_DETAILS: tuple[str, Sensitivity] = ("health.child-details", "standard")
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,40}$")

EVENT_CODES: dict[str, tuple[str, Sensitivity]] = {
    "HV-CONCERN": ("health.health-visitor-concern", "sensitive"),
    "UEC-ATTENDANCE": ("health.urgent-care-attendance", "sensitive"),
    "NMI-INJURY": ("health.non-mobile-infant-injury", "sensitive"),
    # About the parent's health as much as the child's: restricted unless labelled otherwise.
    "PARENT-MH-CRISIS": ("health.parental-mental-health-crisis", "restricted"),
    "MATERNITY-PRE-BIRTH": ("health.maternity-pre-birth-concern", "sensitive"),
    "LAC-HEALTH-ASSESSMENT": ("health.looked-after-health-assessment", "sensitive"),
}
WAS_NOT_BROUGHT: tuple[str, Sensitivity] = ("health.was-not-brought", "standard")
RETRACTED: tuple[str, Sensitivity] = ("record.retracted", "standard")

CATEGORY_TAGS: dict[str, str | None] = {category.upper(): category for category in HarmCategory}
CONFIDENTIALITY: dict[str, Sensitivity] = {
    "U": "standard",
    "L": "standard",
    "M": "standard",
    "N": "standard",
    "R": "sensitive",
    "V": "restricted",
}


@dataclass(frozen=True)
class _Facts:
    """What one resource type says, read from the elements that type keeps it in."""

    kind: tuple[str, Sensitivity]
    occurred: object
    occurred_field: str
    summary: object
    summary_field: str
    subject: object
    details: dict[str, Any] = field(default_factory=dict)
    subject_field: str = "subject"
    shielded: tuple[str, ...] = ()


def _event_code(concepts: object, where: str) -> tuple[str, Sensitivity]:
    concept_list = concepts if isinstance(concepts, list) else [concepts]
    for index, concept in enumerate(concept_list):
        for coding in as_list(as_obj(concept, where).get("coding", []), f"{where}.coding"):
            coding_obj = as_obj(coding, f"{where}.coding[]")
            if coding_obj.get("system") == EVENT_CODE_SYSTEM:
                code = as_str(coding_obj.get("code"), f"{where}[{index}].coding.code")
                return lookup(code, EVENT_CODES, f"{where}.coding.code")
    raise MappingError(f"{where}: no coding from {EVENT_CODE_SYSTEM}")


def _text(concept: object) -> object:
    return concept.get("text") if isinstance(concept, dict) else None


def _first(items: object) -> object:
    return items[0] if isinstance(items, list) and items else None


def _flag(r: dict[str, Any]) -> _Facts:
    period = as_obj(r.get("period"), "period")
    kind = _event_code(r.get("code"), "code")
    return _Facts(
        kind,
        period.get("start"),
        "period.start",
        _text(r.get("code")),
        "code.text",
        r.get("subject"),
    )


def _observation(r: dict[str, Any]) -> _Facts:
    summary = r.get("valueString") or _text(r.get("code"))
    kind = _event_code(r.get("code"), "code")
    return _Facts(
        kind,
        r.get("effectiveDateTime"),
        "effectiveDateTime",
        summary,
        "valueString",
        r.get("subject"),
    )


def _encounter(r: dict[str, Any]) -> _Facts:
    period = as_obj(r.get("period"), "period")
    kind = _event_code(as_list(r.get("type"), "type"), "type")
    summary = _text(_first(r.get("reasonCode"))) or _text(_first(r.get("type")))
    return _Facts(
        kind, period.get("start"), "period.start", summary, "reasonCode[0].text", r.get("subject")
    )


def _communication(r: dict[str, Any]) -> _Facts:
    kind = _event_code(as_list(r.get("reasonCode"), "reasonCode"), "reasonCode")
    payload = _first(r.get("payload"))
    summary = payload.get("contentString") if isinstance(payload, dict) else None
    return _Facts(
        kind, r.get("sent"), "sent", summary, "payload[0].contentString", r.get("subject")
    )


def _appointment_patient(r: dict[str, Any]) -> object:
    """Appointments have no subject: the child is the participant identified by NHS number."""
    actors = [
        p.get("actor") for p in as_list(r.get("participant"), "participant") if isinstance(p, dict)
    ]
    patients = [
        actor
        for actor in actors
        if isinstance(actor, dict)
        and isinstance(actor.get("identifier"), dict)
        and actor["identifier"].get("system") in {NHS_NUMBER_SYSTEM, PROVISIONAL_ID_SYSTEM}
    ]
    if len(patients) != 1:
        raise MappingError("participant: expected exactly one actor identified by NHS number")
    return patients[0]


def _appointment(r: dict[str, Any]) -> _Facts:
    if r.get("status") != "noshow":
        raise MappingError(
            "status: only Appointments with status 'noshow' (was not brought) are mapped"
        )
    details = {
        "service": as_str(_text(_first(r.get("serviceType"))), "serviceType[0].text"),
        "appointment_type": as_str(_text(r.get("appointmentType")), "appointmentType.text"),
    }
    summary = r.get("description") or "Child was not brought to the appointment"
    return _Facts(
        WAS_NOT_BROUGHT,
        r.get("start"),
        "start",
        summary,
        "description",
        _appointment_patient(r),
        details,
        "participant.actor",
    )


def _patient_identifier(r: dict[str, Any]) -> dict[str, Any]:
    """The child is the Patient: its NHS number identifier, else its provisional id (other
    identifiers, such as a hospital number, are the trust's own and are not read)."""
    identifiers = [as_obj(i, "identifier[]") for i in as_list(r.get("identifier"), "identifier")]
    for system in (NHS_NUMBER_SYSTEM, PROVISIONAL_ID_SYSTEM):
        matching = [i for i in identifiers if i.get("system") == system]
        if len(matching) > 1:
            raise MappingError("identifier: more than one identifier of the same system")
        if matching:
            return matching[0]
    raise MappingError(
        f"identifier: no identifier of system {NHS_NUMBER_SYSTEM} or {PROVISIONAL_ID_SYSTEM}"
    )


def _patient(r: dict[str, Any]) -> _Facts:
    """The child's identifying details (`fhir_patient`), as of the version's
    `meta.lastUpdated`. A Patient labelled restricted (`meta.security` R or V, as the NHS marks
    a record whose address must not be disclosed) has its address shielded."""
    meta = as_obj(r.get("meta"), "meta")
    as_of = as_str(meta.get("lastUpdated"), "meta.lastUpdated")
    details = patient_details(r, as_of)
    restricted = set(_labels(meta, "security", CONFIDENTIALITY_SYSTEM)) & {"R", "V"}
    shielded = ("details.address",) if restricted and "address" in details else ()
    return _Facts(
        CHILD_DETAILS,
        as_of,
        "meta.lastUpdated",
        "The child's identifying details from the health record",
        "",
        {"identifier": _patient_identifier(r)},
        details,
        "identifier",
        shielded,
    )


RESOURCES: dict[str, Callable[[dict[str, Any]], _Facts]] = {
    "Patient": _patient,
    "Flag": _flag,
    "Observation": _observation,
    "Encounter": _encounter,
    "Communication": _communication,
    "Appointment": _appointment,
}


def _child(subject: object, where: str) -> dict[str, str]:
    identifier = as_obj(as_obj(subject, where).get("identifier"), f"{where}.identifier")
    system = identifier.get("system")
    value = as_str(identifier.get("value"), f"{where}.identifier.value")
    field_name = f"{where}.identifier.value"
    if system == NHS_NUMBER_SYSTEM:
        return child_from_fields(value, "", nhs_field=field_name, provisional_field=field_name)
    if system == PROVISIONAL_ID_SYSTEM:
        return child_from_fields("", value, nhs_field=field_name, provisional_field=field_name)
    raise MappingError(
        f"{where}.identifier.system: expected {NHS_NUMBER_SYSTEM} or {PROVISIONAL_ID_SYSTEM}"
    )


def _labels(meta: dict[str, Any], key: str, system: str) -> list[str]:
    labels = []
    for item in as_list(meta.get(key, []), f"meta.{key}"):
        coding = as_obj(item, f"meta.{key}[]")
        if coding.get("system") == system:
            labels.append(as_str(coding.get("code"), f"meta.{key}[].code"))
    return labels


def _household(resource: dict[str, Any]) -> str | None:
    """The household-ref extension's value; extensions with other URLs are not the hub's."""
    where = "extension[household-ref].valueString"
    values = [
        as_str(extension.get("valueString"), where)
        for extension in extensions(resource, HOUSEHOLD_EXTENSION)
    ]
    if len(values) > 1:
        raise MappingError("extension: more than one household-ref extension")
    return household_ref(values[0], where) if values else None


def _sensitivity(meta: dict[str, Any], default: Sensitivity) -> Sensitivity:
    labels = _labels(meta, "security", CONFIDENTIALITY_SYSTEM)
    if len(labels) > 1:
        raise MappingError("meta.security: more than one confidentiality label")
    return lookup(labels[0], CONFIDENTIALITY, "meta.security.code") if labels else default


class HealthFhirBundleAdapter:
    """FHIR R4-style Bundle (Patient, Flag, Observation, Encounter, Communication,
    Appointment)."""

    name: str = "health-fhir"
    agency_type: AgencyType = AgencyType.HEALTH
    description: str = "Health / ICB FHIR R4 Bundle of safeguarding-relevant resources"

    def read(self, path: Path, agency_id: str) -> AdapterResult:
        bundle = load_json(path, adapter=self.name)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise AdapterFileError(f"{self.name}: {path} is not a FHIR Bundle (resourceType)")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise AdapterFileError(f"{self.name}: {path} Bundle.entry is not a list")
        return collect(path, enumerate(entries, start=1), lambda entry: self._map(entry, agency_id))

    def _map(self, entry: object, agency_id: str) -> list[CanonicalEvent]:
        resource = as_obj(as_obj(entry, "entry").get("resource"), "resource")
        resource_type = as_str(resource.get("resourceType"), "resourceType")
        reader = RESOURCES.get(resource_type)
        if reader is None:
            # Resource type names are machine-written CamelCase, safe to quote.
            shown = (
                repr(resource_type) if _RESOURCE_TYPE.match(resource_type) else "(value not shown)"
            )
            raise MappingError(f"resourceType: {shown} is not mapped; see docs/adapters.md")
        record_id = f"{resource_type}/{as_str(resource.get('id'), 'id')}"
        meta = as_obj(resource.get("meta"), "meta")
        recorded_at = parse_iso_datetime(meta.get("lastUpdated"), "meta.lastUpdated")
        retracted = resource.get("status") == "entered-in-error"
        facts = self._retraction(resource) if retracted else reader(resource)
        kind, default_sensitivity = facts.kind
        fields: dict[str, Any] = {
            "event_id": f"{record_id}/retraction" if retracted else record_id,
            # A retraction is a new record: revision 1 however often the resource is re-sent.
            "revision": 1 if retracted else parse_revision(meta.get("versionId"), "meta.versionId"),
            "agency": {"id": agency_id, "type": self.agency_type},
            "child": _child(facts.subject, facts.subject_field),
            "kind": kind,
            "categories": map_categories(
                _labels(meta, "tag", CATEGORY_SYSTEM), CATEGORY_TAGS, "meta.tag.code"
            ),
            "occurred_at": parse_iso_datetime(facts.occurred, facts.occurred_field),
            "recorded_at": recorded_at,
            "summary": as_str(facts.summary, facts.summary_field),
            "details": facts.details,
            "sensitivity": _sensitivity(meta, default_sensitivity),
            "lawful_basis": "public-task",
            "supersedes": {"event_id": record_id} if retracted else None,
            # A Patient is who the child is, not evidence of their household (as la-csv).
            "household_ref": None if facts.kind == CHILD_DETAILS else _household(resource),
            "shielded_fields": list(facts.shielded),
        }
        return [build_event(fields)]

    @staticmethod
    def _retraction(resource: dict[str, Any]) -> _Facts:
        """`entered-in-error` retracts the record, as of when it was so marked."""
        marked = as_obj(resource.get("meta"), "meta").get("lastUpdated")
        summary = "Record entered in error"
        if resource.get("resourceType") == "Appointment":
            patient = _appointment_patient(resource)
            return _Facts(
                RETRACTED, marked, "meta.lastUpdated", summary, "", patient, {}, "participant.actor"
            )
        return _Facts(RETRACTED, marked, "meta.lastUpdated", summary, "", resource.get("subject"))
