"""Health / ICB: a FHIR R4 Bundle of safeguarding-relevant resources.

Health systems already speak FHIR, so the hub asks for FHIR rather than a bespoke extract. A
Bundle of any type (a `collection` export, or a `searchset` straight from a FHIR server) is
read entry by entry; each resource is first validated as FHIR R4 (`fhir.resources`, R4B
models) and then mapped. The child is the resource's subject: a logical reference by NHS
number identifier, or a literal reference (`Patient/x`, `urn:uuid:...`) to a Patient in the
Bundle (in a searchset, one added by `_include`), read for its NHS number. What happened is a
coding: SNOMED CT (or an Encounter's class in HL7 v3 ActCode) mapped to the hub's kinds by a
FHIR `ConceptMap` (`fhir_concept_map`), or a code from the hub's own code system. Harm
categories are `meta.tag`s, and sensitivity is the standard HL7 confidentiality label in
`meta.security`. A missed appointment is an `Appointment` with status `noshow`; a resource
with status `entered-in-error` retracts the record it names. A `Patient` is the child's
identifying details (names, birth date, gender, UK Core ethnic category, address), one record
per Patient whose versions are its revisions. A household (family) reference, where the
health system keeps one, is a resource extension (`HOUSEHOLD_EXTENSION`, `valueString`): FHIR
has no core element for it on these resources. Problems report `line` as the 1-based index of
the entry in `Bundle.entry`, and a reason that names the resource (`Encounter/ed-1`), the
element and why, never the element's value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.adapters.agencies.base import AdapterResult
from hub.adapters.agencies.errors import AdapterFileError, MappingError
from hub.adapters.agencies.fhir_bundle import (
    RESOURCE_TYPE,
    BundleIndex,
    describe,
    parse_fhir_datetime,
    parse_version,
    resolve_patient,
    validate_resource,
)
from hub.adapters.agencies.fhir_concept_map import (
    ConceptMapError,
    EventKindMap,
    default_concept_map,
)
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
)
from hub.domain.canonical_event import CanonicalEvent, Sensitivity
from hub.domain.taxonomy import AgencyType, HarmCategory
from hub.domain.uk_time import uk_date

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# The hub's own namespace: identifiers, codes and extensions no national standard defines.
PROVISIONAL_ID_SYSTEM = "https://safeguarding-hub.example/Id/provisional-id"
EVENT_CODE_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/health-event"
CATEGORY_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/harm-category"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
HOUSEHOLD_EXTENSION = "https://safeguarding-hub.example/fhir/StructureDefinition/household-ref"
CHILD_DETAILS: tuple[str, Sensitivity] = ("health.child-details", "standard")
_CHILD_SYSTEMS = (NHS_NUMBER_SYSTEM, PROVISIONAL_ID_SYSTEM)

EVENT_CODES: dict[str, tuple[str, Sensitivity]] = {
    "HV-CONCERN": ("health.health-visitor-concern", "sensitive"),
    "UEC-ATTENDANCE": ("health.urgent-care-attendance", "sensitive"),
    "NMI-INJURY": ("health.non-mobile-infant-injury", "sensitive"),
    # About the parent's health as much as the child's: restricted unless labelled otherwise.
    "PARENT-MH-CRISIS": ("health.parental-mental-health-crisis", "restricted"),
    "MATERNITY-PRE-BIRTH": ("health.maternity-pre-birth-concern", "sensitive"),
    "LAC-HEALTH-ASSESSMENT": ("health.looked-after-health-assessment", "sensitive"),
    "LAC-DENTAL-CHECK": ("health.looked-after-dental-check", "sensitive"),
}
# Kinds whose details say the day it was completed: the day (UK) the resource says it happened.
COMPLETED_KINDS = frozenset(
    {"health.looked-after-health-assessment", "health.looked-after-dental-check"}
)
WAS_NOT_BROUGHT: tuple[str, Sensitivity] = ("health.was-not-brought", "standard")
RETRACTED: tuple[str, Sensitivity] = ("record.retracted", "standard")
# The kinds a concept map may name, with their default sensitivity.
KIND_SENSITIVITY: dict[str, Sensitivity] = dict([*EVENT_CODES.values(), WAS_NOT_BROUGHT])

CATEGORY_TAGS: dict[str, str | None] = {category.upper(): category for category in HarmCategory}
CONFIDENTIALITY: dict[str, Sensitivity] = {
    "U": "standard",
    "L": "standard",
    "M": "standard",
    "N": "standard",
    "R": "sensitive",
    "V": "restricted",
}
# Searchset entries that are not results: `_include`d context (read only to resolve
# references) and the server's OperationOutcome.
_CONTEXT_MODES = frozenset({"include", "outcome"})


@dataclass(frozen=True)
class _Entry:
    """One resource with what is needed to read it: the Bundle (for references), the concept
    map, and the export's timestamp (for a resource sent without `meta.lastUpdated`)."""

    resource: dict[str, Any]
    full_url: object
    index: BundleIndex
    kinds: EventKindMap
    bundle_timestamp: object

    def last_updated(self) -> object:
        meta = self.resource.get("meta")
        updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
        return updated if updated is not None else self.bundle_timestamp

    def child(self, reference: object, where: str) -> dict[str, str]:
        """The child a Reference names, by identifier or by a literal reference to a Patient."""
        ref = as_obj(reference, where)
        if "identifier" not in ref and "reference" in ref:
            patient = resolve_patient(ref, self.index, self.full_url, self.resource, where)
            identifier = _patient_identifier(patient)
            return _child_from_identifier(identifier, f"{where}.reference(Patient).identifier")
        return _child(ref, where)

    def is_patient(self, actor: dict[str, Any]) -> bool:
        identifier = actor.get("identifier")
        if isinstance(identifier, dict):
            return identifier.get("system") in _CHILD_SYSTEMS
        literal = actor.get("reference")
        if not isinstance(literal, str):
            return False
        resolved = self.index.resolve(literal, self.full_url)
        if resolved is not None:
            return resolved.get("resourceType") == "Patient"
        return literal.startswith("Patient/") or "/Patient/" in literal


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
    child: dict[str, str] | None = None


def _codings(concepts: object, where: str) -> list[dict[str, Any]]:
    concept_list = concepts if isinstance(concepts, list) else [concepts]
    return [
        as_obj(coding, f"{where}.coding[]")
        for concept in concept_list
        for coding in as_list(as_obj(concept, where).get("coding", []), f"{where}.coding")
    ]


def _event_kind(
    codings: list[dict[str, Any]], where: str, kinds: EventKindMap
) -> tuple[str, Sensitivity]:
    """The first coding the hub can map: a code of the hub's own code system, or one the
    concept map maps (SNOMED CT, ActCode, ...); codings of other systems are skipped."""
    for coding in codings:
        system, code = coding.get("system"), coding.get("code")
        if system == EVENT_CODE_SYSTEM:
            return lookup(as_str(code, f"{where}.coding.code"), EVENT_CODES, f"{where}.coding.code")
        if isinstance(system, str) and isinstance(code, str):
            kind = kinds.kind_for(system, code)
            if kind is not None:
                return kind, KIND_SENSITIVITY[kind]
    raise MappingError(
        f"{where}: no coding the hub maps (a code from {EVENT_CODE_SYSTEM}, or one the "
        f"concept map ({kinds.source}) maps)"
    )


def _text(concept: object) -> object:
    """A CodeableConcept's text, else its first coding's display."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return concept["text"]
    coding = _first(concept.get("coding"))
    return coding.get("display") if isinstance(coding, dict) else None


def _first(items: object) -> object:
    return items[0] if isinstance(items, list) and items else None


def _start(period: object, where: str) -> object:
    return as_obj(period, where).get("start")


def _flag(r: dict[str, Any], entry: _Entry) -> _Facts:
    kind = _event_kind(_codings(r.get("code"), "code"), "code", entry.kinds)
    return _Facts(
        kind,
        _start(r.get("period"), "period"),
        "period.start",
        _text(r.get("code")),
        "code.text",
        r.get("subject"),
    )


def _effective(r: dict[str, Any]) -> tuple[object, str]:
    """Observation.effective[x] (a dateTime, a Period's start or an instant), else `issued`."""
    if "effectiveDateTime" in r:
        return r["effectiveDateTime"], "effectiveDateTime"
    if "effectivePeriod" in r:
        return _start(r["effectivePeriod"], "effectivePeriod"), "effectivePeriod.start"
    if "effectiveInstant" in r:
        return r["effectiveInstant"], "effectiveInstant"
    return r.get("issued"), "effective[x]"


def _observation(r: dict[str, Any], entry: _Entry) -> _Facts:
    summary = r.get("valueString") or _text(r.get("code"))
    kind = _event_kind(_codings(r.get("code"), "code"), "code", entry.kinds)
    occurred, occurred_field = _effective(r)
    return _Facts(kind, occurred, occurred_field, summary, "valueString", r.get("subject"))


def _encounter(r: dict[str, Any], entry: _Entry) -> _Facts:
    """The kind from `type[]`, else from `class` (an emergency encounter is `EMER`)."""
    types = as_list(r.get("type", []), "type")
    encounter_class = as_obj(r.get("class"), "class")
    kind = _event_kind(
        [*_codings(types, "type"), encounter_class] if types else [encounter_class],
        "type[], class",
        entry.kinds,
    )
    summary = (
        _text(_first(r.get("reasonCode"))) or _text(_first(types)) or encounter_class.get("display")
    )
    return _Facts(
        kind,
        _start(r.get("period"), "period"),
        "period.start",
        summary,
        "reasonCode[0].text",
        r.get("subject"),
    )


def _communication(r: dict[str, Any], entry: _Entry) -> _Facts:
    reasons = as_list(r.get("reasonCode"), "reasonCode")
    kind = _event_kind(_codings(reasons, "reasonCode"), "reasonCode", entry.kinds)
    payload = _first(r.get("payload"))
    summary = payload.get("contentString") if isinstance(payload, dict) else None
    return _Facts(
        kind,
        r.get("sent"),
        "sent",
        summary or _text(_first(reasons)),
        "payload[0].contentString",
        r.get("subject"),
    )


def _appointment_patient(r: dict[str, Any], entry: _Entry) -> object:
    """Appointments have no subject: the child is the participant that is a Patient (by
    reference) or identified by NHS number."""
    actors = [
        p.get("actor") for p in as_list(r.get("participant"), "participant") if isinstance(p, dict)
    ]
    patients = [actor for actor in actors if isinstance(actor, dict) and entry.is_patient(actor)]
    if len(patients) != 1:
        raise MappingError(
            "participant.actor: expected exactly one actor that is the child (a Patient, or "
            "identified by NHS number)"
        )
    return patients[0]


def _appointment(r: dict[str, Any], entry: _Entry) -> _Facts:
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
        _appointment_patient(r, entry),
        details,
        "participant.actor",
    )


def _patient_identifier(r: dict[str, Any]) -> dict[str, Any]:
    """The child is the Patient: its NHS number identifier, else its provisional id (other
    identifiers, such as a hospital number, are the trust's own and are not read)."""
    identifiers = [as_obj(i, "identifier[]") for i in as_list(r.get("identifier"), "identifier")]
    for system in _CHILD_SYSTEMS:
        matching = [i for i in identifiers if i.get("system") == system]
        if len(matching) > 1:
            raise MappingError("identifier: more than one identifier of the same system")
        if matching:
            return matching[0]
    raise MappingError(
        f"identifier: no identifier of system {NHS_NUMBER_SYSTEM} or {PROVISIONAL_ID_SYSTEM}"
    )


def _patient(r: dict[str, Any], entry: _Entry) -> _Facts:
    """The child's identifying details (`fhir_patient`), as of the version's
    `meta.lastUpdated`. A Patient labelled restricted (`meta.security` R or V, as the NHS marks
    a record whose address must not be disclosed) has its address shielded."""
    meta = as_obj(r.get("meta", {}), "meta")
    as_of = as_str(entry.last_updated(), "meta.lastUpdated")
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


RESOURCES: dict[str, Callable[[dict[str, Any], _Entry], _Facts]] = {
    "Patient": _patient,
    "Flag": _flag,
    "Observation": _observation,
    "Encounter": _encounter,
    "Communication": _communication,
    "Appointment": _appointment,
}


def _child_from_identifier(identifier: dict[str, Any], where: str) -> dict[str, str]:
    system = identifier.get("system")
    field_name = f"{where}.value"
    value = as_str(identifier.get("value"), field_name)
    if system == NHS_NUMBER_SYSTEM:
        return child_from_fields(value, "", nhs_field=field_name, provisional_field=field_name)
    if system == PROVISIONAL_ID_SYSTEM:
        return child_from_fields("", value, nhs_field=field_name, provisional_field=field_name)
    raise MappingError(f"{where}.system: expected {NHS_NUMBER_SYSTEM} or {PROVISIONAL_ID_SYSTEM}")


def _child(subject: object, where: str) -> dict[str, str]:
    identifier = as_obj(as_obj(subject, where).get("identifier"), f"{where}.identifier")
    return _child_from_identifier(identifier, f"{where}.identifier")


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


def _search_mode(entry: dict[str, Any]) -> object:
    search = entry.get("search")
    return search.get("mode") if isinstance(search, dict) else None


class HealthFhirBundleAdapter:
    """FHIR R4 Bundle (Patient, Flag, Observation, Encounter, Communication, Appointment),
    its codes mapped by a concept map (the packaged default unless one is given)."""

    name: str = "health-fhir"
    agency_type: AgencyType = AgencyType.HEALTH
    description: str = "Health / ICB FHIR R4 Bundle of safeguarding-relevant resources"

    def __init__(self, concept_map: EventKindMap | None = None) -> None:
        self.concept_map = concept_map if concept_map is not None else default_concept_map()
        unknown = sorted(set(self.concept_map.kinds.values()) - set(KIND_SENSITIVITY))
        if unknown:
            raise ConceptMapError(
                f"{self.concept_map.source}: maps to kinds the health adapter does not "
                f"publish: {', '.join(unknown)} (valid: {', '.join(sorted(KIND_SENSITIVITY))})"
            )

    def read(self, path: Path, agency_id: str) -> AdapterResult:
        bundle = load_json(path, adapter=self.name)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise AdapterFileError(f"{self.name}: {path} is not a FHIR Bundle (resourceType)")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise AdapterFileError(f"{self.name}: {path} Bundle.entry is not a list")
        index = BundleIndex.of(entries)
        timestamp = bundle.get("timestamp")
        return collect(
            path,
            enumerate(entries, start=1),
            lambda entry: self._map_entry(entry, agency_id, index, timestamp),
        )

    def _map_entry(
        self, entry: object, agency_id: str, index: BundleIndex, timestamp: object
    ) -> list[CanonicalEvent]:
        entry_obj = as_obj(entry, "entry")
        resource = as_obj(entry_obj.get("resource"), "resource")
        resource_type = as_str(resource.get("resourceType"), "resourceType")
        if _search_mode(entry_obj) in _CONTEXT_MODES:
            # Included to be referenced (an `_include`d Patient may be a parent, not the
            # child), or the server's OperationOutcome: not a record to publish.
            return []
        if resource_type not in RESOURCES:
            shown = repr(resource_type) if RESOURCE_TYPE.match(resource_type) else "(not shown)"
            raise MappingError(f"resourceType: {shown} is not mapped; see docs/adapters.md")
        context = _Entry(resource, entry_obj.get("fullUrl"), index, self.concept_map, timestamp)
        try:
            validate_resource(resource)
            return [self._map(context, agency_id)]
        except MappingError as error:
            raise MappingError(f"{describe(resource)}: {error}") from None

    def _map(self, entry: _Entry, agency_id: str) -> CanonicalEvent:
        resource = entry.resource
        resource_type = as_str(resource.get("resourceType"), "resourceType")
        reader = RESOURCES[resource_type]
        record_id = f"{resource_type}/{as_str(resource.get('id'), 'id')}"
        meta = as_obj(resource.get("meta", {}), "meta")
        recorded_at = parse_fhir_datetime(entry.last_updated(), "meta.lastUpdated")
        retracted = resource.get("status") == "entered-in-error"
        facts = self._retraction(entry) if retracted else reader(resource, entry)
        kind, default_sensitivity = facts.kind
        child = (
            _child(facts.subject, facts.subject_field)
            if facts.kind == CHILD_DETAILS
            else entry.child(facts.subject, facts.subject_field)
        )
        occurred_at = parse_fhir_datetime(facts.occurred, facts.occurred_field)
        details = facts.details
        if kind in COMPLETED_KINDS:
            details = {**details, "completed_on": uk_date(occurred_at).isoformat()}
        fields: dict[str, Any] = {
            "event_id": f"{record_id}/retraction" if retracted else record_id,
            # A retraction is a new record: revision 1 however often the resource is re-sent.
            "revision": 1 if retracted else parse_version(meta.get("versionId"), "meta.versionId"),
            "agency": {"id": agency_id, "type": self.agency_type},
            "child": child,
            "kind": kind,
            "categories": map_categories(
                _labels(meta, "tag", CATEGORY_SYSTEM), CATEGORY_TAGS, "meta.tag.code"
            ),
            "occurred_at": occurred_at,
            "recorded_at": recorded_at,
            "summary": as_str(facts.summary, facts.summary_field),
            "details": details,
            "sensitivity": _sensitivity(meta, default_sensitivity),
            "lawful_basis": "public-task",
            "supersedes": {"event_id": record_id} if retracted else None,
            # A Patient is who the child is, not evidence of their household (as la-csv).
            "household_ref": None if facts.kind == CHILD_DETAILS else _household(resource),
            "shielded_fields": list(facts.shielded),
        }
        return build_event(fields)

    @staticmethod
    def _retraction(entry: _Entry) -> _Facts:
        """`entered-in-error` retracts the record, as of when it was so marked."""
        resource = entry.resource
        marked = entry.last_updated()
        summary = "Record entered in error"
        if resource.get("resourceType") == "Appointment":
            patient = _appointment_patient(resource, entry)
            return _Facts(
                RETRACTED, marked, "meta.lastUpdated", summary, "", patient, {}, "participant.actor"
            )
        return _Facts(RETRACTED, marked, "meta.lastUpdated", summary, "", resource.get("subject"))
