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
from hub.domain.details import ETHNIC_CATEGORIES
from hub.domain.taxonomy import AgencyType, HarmCategory

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PROVISIONAL_ID_SYSTEM = "https://safeguarding-hub.example/Id/provisional-id"
EVENT_CODE_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/health-event"
CATEGORY_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/harm-category"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
HOUSEHOLD_EXTENSION = "https://safeguarding-hub.example/fhir/StructureDefinition/household-ref"
# A Patient's ethnic category: UK Core's extension, coded from NHS England's ETHNIC CATEGORY
# code system, or from the extended PDS code system whose two-character codes refine a
# category (`CA` English is under `C`), as the STU3 Care Connect one did.
ETHNIC_CATEGORY_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
)
ETHNIC_CATEGORY_ENGLAND = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_CATEGORY_EXTENDED = (
    "https://fhir.nhs.uk/R4/CodeSystem/UKCore-EthnicCategory",
    "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-EthnicCategory-1",
)
# An unborn child's Patient has no birthDate; FHIR has no element for the expected date of
# delivery, so the hub defines one (valueDate).
EXPECTED_DELIVERY_EXTENSION = (
    "https://safeguarding-hub.example/fhir/StructureDefinition/expected-delivery-date"
)
CHILD_DETAILS: tuple[str, Sensitivity] = ("health.child-details", "standard")
ADMINISTRATIVE_GENDER = {code.upper(): code for code in ("male", "female", "other", "unknown")}
# HumanName.use: the child's name is the first official one, else usual, else one without a
# use; a nickname (or a usual name beside an official one) is what the child is known as.
_NAME_USES = ("official", "usual", None)
# Address.use: where the child is staying now (a temporary address), else home.
_ADDRESS_USES = ("temp", "home", None)
_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
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
ETHNIC_CATEGORIES_BY_CODE = {code: code for code in ETHNIC_CATEGORIES}
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


def _current(element: dict[str, Any], as_of: str) -> bool:
    """Not ended before the resource was last updated (`period.end`, compared as dates)."""
    period = element.get("period")
    end = period.get("end") if isinstance(period, dict) else None
    return not (isinstance(end, str) and end[:10] < as_of[:10])


def _extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [
        extension
        for extension in (
            as_obj(item, "extension[]")
            for item in as_list(resource.get("extension", []), "extension")
        )
        if extension.get("url") == url
    ]


def _names(r: dict[str, Any], as_of: str) -> dict[str, Any]:
    names = [as_obj(n, "name[]") for n in as_list(r.get("name"), "name")]
    current = [n for n in names if _current(n, as_of)]
    chosen = next((n for use in _NAME_USES for n in current if n.get("use") == use), None)
    if chosen is None:
        raise MappingError("name: no current official or usual name")
    where = f"name[{chosen.get('use') or 'no use'}]"
    found: dict[str, Any] = {
        "family_name": as_str(chosen.get("family"), f"{where}.family"),
        "given_names": [
            as_str(g, f"{where}.given[]")
            for g in as_list(chosen.get("given", []), f"{where}.given")
        ],
    }
    for other in current:
        use, given = other.get("use"), other.get("given")
        is_known_as = use == "nickname" or (use == "usual" and chosen.get("use") == "official")
        if is_known_as and isinstance(given, list) and given and given != chosen.get("given"):
            found["known_as"] = as_str(given[0], f"name[{use}].given[]")
            break
    return found


def _born(r: dict[str, Any]) -> dict[str, Any]:
    """`birthDate`, a full date; or, for an unborn child, the expected-delivery-date extension."""
    if r.get("birthDate") is not None:
        born = as_str(r.get("birthDate"), "birthDate")
        if not _FULL_DATE.match(born):
            raise MappingError("birthDate: not a full date (YYYY-MM-DD)")
        return {"date_of_birth": born}
    due = _extensions(r, EXPECTED_DELIVERY_EXTENSION)
    if len(due) > 1:
        raise MappingError("extension: more than one expected-delivery-date extension")
    if due:
        value = as_str(due[0].get("valueDate"), "extension[expected-delivery-date].valueDate")
        if not _FULL_DATE.match(value):
            raise MappingError("extension[expected-delivery-date].valueDate: not a full date")
        return {"expected_delivery_date": value}
    return {}  # neither: the canonical model says what is missing


def _ethnic_category(r: dict[str, Any]) -> str | None:
    """The category from UK Core's extension. Codings of other systems (Wales's categories,
    which use the same letters for other groups; SNOMED CT) are not England's categories and
    are not read; a code of England's system the Data Dictionary does not define is a problem."""
    extensions = _extensions(r, ETHNIC_CATEGORY_EXTENSION)
    if len(extensions) > 1:
        raise MappingError("extension: more than one ethnic category extension")
    if not extensions:
        return None
    where = "extension[ethnic-category].valueCodeableConcept"
    concept = as_obj(extensions[0].get("valueCodeableConcept"), where)
    for item in as_list(concept.get("coding", []), f"{where}.coding"):
        coding = as_obj(item, f"{where}.coding[]")
        system, code = coding.get("system"), coding.get("code")
        if system == ETHNIC_CATEGORY_ENGLAND:
            return lookup(
                as_str(code, f"{where}.coding.code"),
                ETHNIC_CATEGORIES_BY_CODE,
                f"{where}.coding.code",
            )
        if system in ETHNIC_CATEGORY_EXTENDED:
            text = as_str(code, f"{where}.coding.code")
            return lookup(
                text[:1] if len(text) == 2 and text[:1].isalpha() else text,
                ETHNIC_CATEGORIES_BY_CODE,
                f"{where}.coding.code",
            )
    return None


def _address(r: dict[str, Any], as_of: str) -> dict[str, Any] | None:
    addresses = [as_obj(a, "address[]") for a in as_list(r.get("address", []), "address")]
    current = [a for a in addresses if _current(a, as_of)]
    chosen = next((a for use in _ADDRESS_USES for a in current if a.get("use") == use), None)
    if chosen is None:
        return None
    where = f"address[{chosen.get('use') or 'no use'}]"
    lines = [
        as_str(line, f"{where}.line[]") for line in as_list(chosen.get("line", []), f"{where}.line")
    ]
    lines += [
        as_str(chosen[key], f"{where}.{key}") for key in ("city", "district") if chosen.get(key)
    ]
    if not lines and chosen.get("text"):
        lines = [as_str(chosen.get("text"), f"{where}.text")]
    if not lines:
        return None
    address: dict[str, Any] = {"lines": lines}
    if chosen.get("postalCode"):
        address["postcode"] = as_str(chosen.get("postalCode"), f"{where}.postalCode")
    return address


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
    """The child's identifying details, as of the version's `meta.lastUpdated`. A Patient
    labelled restricted (`meta.security` R or V, as the NHS marks a record whose address must
    not be disclosed) has its address shielded."""
    meta = as_obj(r.get("meta"), "meta")
    as_of = as_str(meta.get("lastUpdated"), "meta.lastUpdated")
    gender = r.get("gender")
    details: dict[str, Any] = {
        **_names(r, as_of),
        **_born(r),
        "sex": lookup(as_str(gender, "gender"), ADMINISTRATIVE_GENDER, "gender")
        if gender is not None
        else "unknown",
    }
    ethnic_category = _ethnic_category(r)
    if ethnic_category is not None:
        details["ethnic_category"] = ethnic_category
    address = _address(r, as_of)
    shielded: tuple[str, ...] = ()
    if address is not None:
        details["address"] = address
        if set(_labels(meta, "security", CONFIDENTIALITY_SYSTEM)) & {"R", "V"}:
            shielded = ("details.address",)
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
        for extension in _extensions(resource, HOUSEHOLD_EXTENSION)
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
