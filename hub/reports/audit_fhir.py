"""A data protection officer's audit answer as FHIR R4 `AuditEvent`s in a `collection`
Bundle (`hub audit --format fhir`), shaped as IHE Basic Audit Log Patterns (BALP) read events
so a SIEM or an NHS audit store can take them: `type` rest, `subtype` the RESTful interaction
(`read`), `action` R, `recorded`, `outcome`, an agent for the practitioner (`who` by directory
id, `requestor`, their role, `purposeOfUse`), `source.observer` the hub, and an entity for
the patient. The child is named by NHS number (or provisional id) only where the gate names
them to this DPO, as in the text and CSV forms; otherwise by the same short record reference.
Break-glass is the HL7 purpose of use `ETREAT` beside the hub's own purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hub.audit_queries import AuditAnswer
from hub.reports.audit_words import AuditNames

BALP_READ = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# The hub's own namespace, as in the health adapter.
PROVISIONAL_ID_SYSTEM = "https://safeguarding-hub.example/Id/provisional-id"
PRACTITIONER_SYSTEM = "https://safeguarding-hub.example/Id/practitioner"
ORGANISATION_SYSTEM = "https://safeguarding-hub.example/Id/organisation"
RECORD_REF_SYSTEM = "https://safeguarding-hub.example/Id/child-record-ref"
PURPOSE_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/purpose"
ROLE_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/practitioner-role"
HUB_DEVICE = {
    "display": "Safeguarding information-sharing hub",
    "identifier": {"system": "https://safeguarding-hub.example/Id/system", "value": "hub"},
}
# The disclosure queries: other answers (withheld items, broad access) are not read events.
DISCLOSURE_QUERIES = frozenset({"who-saw-child", "what-practitioner-saw", "outside-relationship"})
# AuditEvent.outcome: 0 success, 4 minor failure (refused), 8 serious failure.
_OUTCOME = {"denied": "4", "no-record": "4", "erased": "4"}
_FHIR_ID = re.compile(r"[^A-Za-z0-9\-.]")


def _child_entity(stream: str | None, names: AuditNames) -> dict[str, Any]:
    identity = names.children.get(stream or "")
    identifier: dict[str, str]
    if identity is not None and identity.identifier and not identity.erased:
        system = (
            PROVISIONAL_ID_SYSTEM if identity.identifier.startswith("PRV-") else NHS_NUMBER_SYSTEM
        )
        identifier = {"system": system, "value": identity.identifier}
    else:
        identifier = {"system": RECORD_REF_SYSTEM, "value": (stream or "unknown")[:8]}
    return {
        "what": {"identifier": identifier},
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
    }


def _purposes(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    purpose = row.get("purpose") or "unspecified"
    purposes = [{"coding": [{"system": PURPOSE_SYSTEM, "code": str(purpose)}]}]
    if row.get("break_glass_reason"):
        emergency = {"system": ACT_REASON, "code": "ETREAT", "display": "Emergency Treatment"}
        purposes.append({"coding": [emergency]})
    return purposes


def audit_event(row: Mapping[str, Any], names: AuditNames) -> dict[str, Any]:
    """One disclosure audit row as a BALP patient read `AuditEvent`."""
    who = str(row.get("practitioner") or "unknown")
    practitioner: dict[str, Any] = {"system": PRACTITIONER_SYSTEM, "value": who}
    agent: dict[str, Any] = {
        "type": {
            "coding": [
                {"system": PARTICIPATION_TYPE, "code": "IRCP", "display": "information recipient"}
            ]
        },
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": str(row.get("role") or "unknown")}]}],
        "who": {"identifier": practitioner, "display": names.practitioner(who)},
        "requestor": True,
        "purposeOfUse": _purposes(row),
    }
    if row.get("organisation"):
        agent["who"]["display"] += f", {names.organisation(row['organisation'])}"
    audit_ref = str(row.get("audit_ref") or "")
    return {
        "resourceType": "AuditEvent",
        "id": _FHIR_ID.sub("-", audit_ref)[:64] or None,
        "meta": {"profile": [BALP_READ]},
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [{"system": RESTFUL_INTERACTION, "code": "read", "display": "read"}],
        "action": "R",
        "recorded": row.get("at"),
        "outcome": _OUTCOME.get(str(row.get("outcome")), "0"),
        "outcomeDesc": str(row.get("outcome") or ""),
        "purposeOfEvent": _purposes(row),
        "agent": [agent],
        "source": {
            "observer": HUB_DEVICE,
            "type": [
                {"system": SECURITY_SOURCE_TYPE, "code": "4", "display": "Application Server"}
            ],
        },
        "entity": [
            _child_entity(row.get("child"), names),
            *(
                {
                    "what": {"identifier": {"system": RECORD_REF_SYSTEM, "value": audit_ref}},
                    "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                    "description": f"{len(row.get('disclosed') or ())} items disclosed, "
                    f"{len(row.get('withheld') or ())} withheld",
                }
                for _ in ([1] if audit_ref else [])
            ),
        ],
    }


def audit_fhir_bundle(answer: AuditAnswer, names: AuditNames, timestamp: str) -> dict[str, Any]:
    events = [audit_event(row, names) for row in answer.rows]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timestamp,
        "entry": [{"resource": {k: v for k, v in e.items() if v is not None}} for e in events],
    }


def audit_fhir(answer: AuditAnswer, names: AuditNames, timestamp: str) -> str:
    return json.dumps(audit_fhir_bundle(answer, names, timestamp), indent=2) + "\n"
