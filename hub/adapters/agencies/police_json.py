"""Police: a records management system's incident export (JSON).

A police occurrence is about a household, not a child: one incident may name several
children (and adults, who are not published). The hub's events are per child, so each child
subject becomes one event, with an event id of `<occurrence_ref>/<nominal_ref>` (or
`<occurrence_ref>/C<n>` for the n-th child subject when the export has no nominal refs).
An incident naming several children is itself the household link: their events carry the
occurrence ref as `household_ref`; an incident naming one child carries the incident's own
`household_ref` field, if the force exports one.
Problems report `line` as the 1-based index of the incident in the `incidents` array.

An incident maps whole or not at all: if one child subject cannot be mapped, the incident is
one problem and none of its children's events flow, so a household's incident is never
published for one sibling and silently missing for another.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.adapters.agencies.base import AdapterResult
from hub.adapters.agencies.errors import AdapterFileError, MappingError
from hub.adapters.agencies.native import (
    as_bool,
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
    optional_str,
    parse_iso_datetime,
    parse_revision,
    parse_sensitivity,
)
from hub.domain.canonical_event import CanonicalEvent, Sensitivity
from hub.domain.taxonomy import AgencyType, HarmCategory

INCIDENT_TYPES: dict[str, tuple[str, Sensitivity]] = {
    "DOMESTIC": ("police.domestic-abuse-incident", "sensitive"),
    "POLICE_PROTECTION": ("police.police-protection", "sensitive"),
    "WELFARE_VISIT": ("police.home-visit", "sensitive"),
    "ARREST_HOUSEHOLD": ("police.household-arrest", "sensitive"),
    "MISSING": ("police.missing-episode", "sensitive"),
    "EXPLOITATION": ("police.exploitation-concern", "restricted"),
    "NRM": ("police.nrm-referral", "restricted"),
    "RETRACTION": ("record.retracted", "standard"),
}

FLAGS: dict[str, str | None] = {
    "DA": HarmCategory.DOMESTIC_ABUSE,
    "NEGLECT": HarmCategory.NEGLECT,
    "PHYSICAL": HarmCategory.PHYSICAL_ABUSE,
    "SEXUAL": HarmCategory.SEXUAL_ABUSE,
    "EMOTIONAL": HarmCategory.EMOTIONAL_ABUSE,
    "CSE": HarmCategory.EXPLOITATION,
    "CCE": HarmCategory.EXPLOITATION,
    "COUNTY_LINES": HarmCategory.EXPLOITATION,
    "MODERN_SLAVERY": HarmCategory.EXPLOITATION,
    "EXTRAFAMILIAL": HarmCategory.HARM_OUTSIDE_HOME,
    "ONLINE": HarmCategory.ONLINE_HARM,
    "PREVENT": HarmCategory.RADICALISATION,
    "MENTAL_HEALTH": HarmCategory.PARENTAL_MENTAL_HEALTH,
    "DRUGS": HarmCategory.SUBSTANCE_MISUSE,
    "ALCOHOL": HarmCategory.SUBSTANCE_MISUSE,
    # Operational markers that are not harm categories.
    "VULNERABLE_ADULT": None,
    "REPEAT_LOCATION": None,
}


def _domestic(incident: dict[str, Any], subject: dict[str, Any], where: str) -> dict[str, Any]:
    details: dict[str, Any] = {
        "child_present": as_bool(subject.get("present"), f"{where}.present"),
        "police_reference": as_str(incident.get("occurrence_ref"), "occurrence_ref"),
    }
    if "lives_at_address" in subject:
        details["child_lives_at_address"] = as_bool(
            subject["lives_at_address"], f"{where}.lives_at_address"
        )
    if subject.get("voice") is not None:
        details["child_voice"] = as_str(subject["voice"], f"{where}.voice")
    return details


def _visit(incident: dict[str, Any], subject: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "reason": as_str(incident.get("visit_reason"), "visit_reason"),
        "child_seen": as_bool(subject.get("seen"), f"{where}.seen"),
        "child_spoken_to": as_bool(subject.get("spoken_to"), f"{where}.spoken_to"),
    }


def _missing(incident: dict[str, Any], subject: dict[str, Any], where: str) -> dict[str, Any]:
    details: dict[str, Any] = {"returned": as_bool(subject.get("returned"), f"{where}.returned")}
    if incident.get("reported_missing_at") is not None:
        reported = parse_iso_datetime(incident["reported_missing_at"], "reported_missing_at")
        details["reported_missing_at"] = reported.isoformat()
    return details


DETAILS: dict[str, Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]] = {
    "DOMESTIC": _domestic,
    "WELFARE_VISIT": _visit,
    "MISSING": _missing,
}


def _children(incident: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(event-id suffix, field path for reasons, subject) for each child subject."""
    children: list[tuple[str, str, dict[str, Any]]] = []
    for index, raw in enumerate(as_list(incident.get("subjects"), "subjects")):
        where = f"subjects[{index}]"
        subject = as_obj(raw, where)
        if as_str(subject.get("role"), f"{where}.role").lower() != "child":
            continue
        nominal = optional_str(subject.get("nominal_ref"), f"{where}.nominal_ref")
        children.append((nominal or f"C{len(children) + 1}", where, subject))
    if not children:
        raise MappingError("subjects: no subject has role 'child'; nothing to publish")
    return children


def _supersedes(incident: dict[str, Any], incident_type: str, suffix: str) -> dict[str, Any] | None:
    if incident.get("supersedes") is None:
        if incident_type == "RETRACTION":
            raise MappingError("supersedes: missing (needed for RETRACTION)")
        return None
    earlier = as_obj(incident["supersedes"], "supersedes")
    supersedes: dict[str, Any] = {
        "event_id": f"{as_str(earlier.get('occurrence_ref'), 'supersedes.occurrence_ref')}/{suffix}"
    }
    if earlier.get("revision") is not None:
        supersedes["revision"] = parse_revision(earlier["revision"], "supersedes.revision")
    return supersedes


class PoliceIncidentJsonAdapter:
    """Incident export: {"force", "exported_at", "incidents": [...]}, ISO 8601 times."""

    name: str = "police-json"
    agency_type: AgencyType = AgencyType.POLICE
    description: str = "Police records management system incident export (JSON)"

    def read(self, path: Path, agency_id: str) -> AdapterResult:
        document = load_json(path, adapter=self.name)
        if not isinstance(document, dict) or not isinstance(document.get("incidents"), list):
            raise AdapterFileError(
                f"{self.name}: {path} is not an incident export: no 'incidents' list"
            )
        incidents = enumerate(document["incidents"], start=1)
        return collect(path, incidents, lambda incident: self._map(incident, agency_id))

    def _map(self, raw: object, agency_id: str) -> list[CanonicalEvent]:
        incident = as_obj(raw, "incident")
        native_type = as_str(incident.get("incident_type"), "incident_type")
        kind, default_sensitivity = lookup(native_type, INCIDENT_TYPES, "incident_type")
        incident_type = native_type.upper()
        occurrence_ref = as_str(incident.get("occurrence_ref"), "occurrence_ref")
        shared: dict[str, Any] = {
            "revision": parse_revision(incident.get("revision"), "revision"),
            "agency": {"id": agency_id, "type": self.agency_type},
            "kind": kind,
            "categories": map_categories(
                [as_str(flag, "flags[]") for flag in as_list(incident.get("flags", []), "flags")],
                FLAGS,
                "flags",
            ),
            "occurred_at": parse_iso_datetime(incident.get("occurred"), "occurred"),
            "recorded_at": parse_iso_datetime(incident.get("recorded"), "recorded"),
            "summary": as_str(incident.get("synopsis"), "synopsis"),
            "sensitivity": parse_sensitivity(
                optional_str(incident.get("sensitivity"), "sensitivity"),
                "sensitivity",
                default_sensitivity,
            ),
            "lawful_basis": "public-task",
            "withheld_from": as_list(incident.get("withheld_from", []), "withheld_from"),
            "shielded_fields": as_list(incident.get("shielded_fields", []), "shielded_fields"),
        }
        children = _children(incident)
        shared["household_ref"] = (
            occurrence_ref
            if len(children) > 1
            else household_ref(
                optional_str(incident.get("household_ref"), "household_ref"), "household_ref"
            )
        )
        details_of = DETAILS.get(incident_type)
        events = []
        for suffix, where, subject in children:
            child = child_from_fields(
                optional_str(subject.get("nhs_number"), f"{where}.nhs_number"),
                optional_str(subject.get("provisional_id"), f"{where}.provisional_id"),
                nhs_field=f"{where}.nhs_number",
                provisional_field=f"{where}.provisional_id",
            )
            fields = {
                **shared,
                "event_id": f"{occurrence_ref}/{suffix}",
                "child": child,
                "details": details_of(incident, subject, where) if details_of else {},
                "supersedes": _supersedes(incident, incident_type, suffix),
            }
            try:
                events.append(build_event(fields))
            except MappingError as error:
                raise MappingError(f"child subject {where}: {error}") from None
        return events
