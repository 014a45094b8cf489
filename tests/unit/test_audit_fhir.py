"""The audit ledger as IHE BALP `AuditEvent`s (`hub audit --format fhir`): valid FHIR R4
(checked with `fhir.resources`), the child named only where the DPO may see who they are."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from hub.audit_queries import AuditAnswer
from hub.reports.audit_fhir import BALP_READ, audit_fhir
from tests.unit.test_audit_table import HIDDEN, names, row


def test_disclosures_become_a_valid_bundle_of_balp_audit_events() -> None:
    answer = AuditAnswer(
        "who-saw-child",
        [
            row(),
            row(child=HIDDEN, outcome="denied", break_glass_reason="child missing overnight"),
        ],
    )
    document = json.loads(audit_fhir(answer, names(), "2026-07-02T06:00:00+00:00"))
    bundle = Bundle.model_validate(document)
    assert bundle.type == "collection"
    first, second = (entry["resource"] for entry in document["entry"])
    assert first["meta"]["profile"] == [BALP_READ]
    assert (first["type"]["code"], first["subtype"][0]["code"], first["action"]) == (
        "rest",
        "read",
        "R",
    )
    assert first["recorded"] == "2026-07-01T08:30:00+00:00"
    assert (first["outcome"], second["outcome"]) == ("0", "4")
    (agent,) = first["agent"]
    assert agent["requestor"] is True
    assert agent["who"]["identifier"]["value"] == "lcpp-0001"
    assert agent["purposeOfUse"][0]["coding"][0]["code"] == "child-protection-planning"
    assert first["source"]["observer"]["identifier"]["value"] == "hub"
    patient = first["entity"][0]
    assert patient["role"]["code"] == "1"
    assert patient["what"]["identifier"] == {
        "system": "https://fhir.nhs.uk/Id/nhs-number",
        "value": "9434765919",
    }
    # Not the DPO's to see: the short record reference, as the table and CSV show.
    assert second["entity"][0]["what"]["identifier"]["value"] == HIDDEN[:8]
    assert [c["coding"][0]["code"] for c in second["purposeOfEvent"]] == [
        "child-protection-planning",
        "ETREAT",
    ]
