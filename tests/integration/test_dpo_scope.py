"""A data protection officer acts for their own organisation; the partnership's lead DPO (named
in the agreement) for the whole partnership (issue 18).

One child's record holds items of four publishers, two of them withheld: the police withheld an
incident from education, the council withheld a decision from the police. Each DPO (the
council's, who is the lead; the police's; the ICB's; a school's) asks every question a DPO can
ask, and each answer is checked against what their organisation published, what was disclosed
to their organisation's staff, and what was withheld from them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from hub.bootstrap import Hub
from hub.domain.access import Purpose
from hub.domain.markers import WITHHELD
from hub.domain.records import DisclosureAudited
from hub.policies.dpo_scope import OUTSIDE_SCOPE_REASON
from tests.integration.test_gate import LA, NOW, POLICE, SCHOOL, Case, shown

HEALTH = {"id": "shire-icb", "type": "health"}
LEAD, POLICE_DPO, ICB_DPO, SCHOOL_DPO = "dpo-0001", "dpo-0002", "dpo-0003", "dpo-0004"
SECRET = "DPOCANARY-suspect works at the school"
OVERDUE = (NOW - timedelta(days=30)).date()
LATER = (NOW + timedelta(days=90)).date()

INCIDENT = "shire-constabulary/DA-1@1"  # withheld from education, review overdue
VISIT = "shire-constabulary/VISIT-1@1"
DECISION = "shire-county-council/DEC-1@1"  # withheld from the police
S47 = "shire-county-council/S47-1@1"
ENROLMENT = "school-100001/ENROL-1@1"
CONCERN = "school-100001/ATT-1@1"
HEALTH_VISIT = "shire-icb/HV-1@1"
VISITED = {"reason": "welfare", "child_seen": True, "child_spoken_to": True}


@pytest.fixture
def hub(partnership_hub: Hub) -> Hub:
    return partnership_hub


@pytest.fixture
def case(hub: Hub) -> Case:
    case = Case(hub, 8101)
    case.on_plan()
    case.publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        9,
        summary=SECRET,
        details={"child_present": True, "police_reference": "OE-9"},
        withheld_from=[
            {
                "agency_type": "education",
                "reason": "live investigation",
                "decided_by": "DI Hale",
                "review_by": OVERDUE.isoformat(),
            }
        ],
    )
    case.publish(POLICE, "VISIT-1", "police.home-visit", 8, details=VISITED)
    case.publish(
        LA,
        "DEC-1",
        "la.decision",
        7,
        summary=SECRET,
        details={"decision": "strategy", "rationale": "r", "decided_by": "TM"},
        withheld_from=[
            {
                "agency_type": "police",
                "reason": "risk to the child if the suspect learns of it",
                "decided_by": "Team Manager Oyelaran",
                "review_by": LATER.isoformat(),
            }
        ],
    )
    case.publish(
        SCHOOL,
        "ATT-1",
        "education.attendance-concern",
        6,
        details={"attendance_percent": 81.5, "period": "autumn term"},
    )
    case.publish(HEALTH, "HV-1", "health.health-visitor-concern", 5)
    # The school's DSL and a police officer look at the record: what their organisations'
    # staff were disclosed is within their DPOs' scope.
    case.view("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    case.view("po-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    return case


def audit_view(case: Case, dpo: str) -> Any:
    return case.view(dpo, Purpose.DATA_PROTECTION_AUDIT)


def refs(view: Any) -> set[str]:
    return {e.ref for e in view.entries if not e.withheld}


def stand_ins(view: Any) -> set[str]:
    return {e.ref for e in view.entries if e.withheld}


def test_the_lead_dpo_sees_the_whole_partnership_with_every_withholding(case: Case) -> None:
    view = audit_view(case, LEAD)
    assert {INCIDENT, VISIT, DECISION, S47, ENROLMENT, CONCERN, HEALTH_VISIT} <= refs(view)
    assert stand_ins(view) == set()
    assert shown(view, INCIDENT).withheld_from[0]["reason"] == "live investigation"
    assert shown(view, DECISION).withheld_from[0]["decided_by"] == "Team Manager Oyelaran"


def test_a_school_dpo_sees_its_own_records_what_its_staff_were_shown_and_only_a_stand_in(
    case: Case,
) -> None:
    view = audit_view(case, SCHOOL_DPO)
    # Its own school's records, and what the DSL was disclosed (the council's s47 enquiry).
    assert {ENROLMENT, CONCERN, S47} <= refs(view)
    # Another agency's records never disclosed to the school's staff are outside its scope.
    assert refs(view).isdisjoint({VISIT, DECISION, HEALTH_VISIT})
    # The police incident withheld from education: only that it exists, by whom, when.
    assert stand_ins(view) == {INCIDENT}
    stand_in = shown(view, INCIDENT)
    assert stand_in.kind == WITHHELD
    assert stand_in.summary.startswith("an item withheld by shire-constabulary on ")
    assert stand_in.summary.endswith(f"review by {OVERDUE.day} {OVERDUE:%B %Y}")
    assert stand_in.details["review_by"] == OVERDUE.isoformat()
    text = json.dumps(view.as_dict(), default=str)
    assert SECRET not in text and "live investigation" not in text
    assert "police.domestic-abuse-incident" not in text
    # Another agency's record disclosed to its staff is shown without its withholdings.
    assert shown(view, S47).withheld_from is None
    # The stand-in is audited as withheld, not as disclosed.
    (entry,) = [
        r
        for r in case.hub.audit.for_practitioner(SCHOOL_DPO)
        if isinstance(r, DisclosureAudited) and r.action == "view"
    ]
    assert INCIDENT in entry.withheld and INCIDENT not in entry.disclosed
    assert set(entry.disclosed) == refs(view)
    assert entry.denied["outside-organisation-scope"] == 3  # the visit, decision, health visit


def test_the_police_dpo_reads_its_own_withholding_and_sees_the_councils_as_a_stand_in(
    case: Case,
) -> None:
    view = audit_view(case, POLICE_DPO)
    assert {INCIDENT, VISIT} <= refs(view)
    assert shown(view, INCIDENT).withheld_from[0]["reason"] == "live investigation"
    assert stand_ins(view) == {DECISION}
    assert "risk to the child" not in json.dumps(view.as_dict(), default=str)
    # po-0001 (MACPT) was shown the council's s47 enquiry and the school's records.
    assert {S47, ENROLMENT, CONCERN} <= refs(view)


def test_a_dpo_whose_organisation_neither_published_nor_received_an_item_is_not_shown_it(
    hub: Hub,
) -> None:
    case = Case(hub, 8102)
    case.on_plan()
    case.publish(POLICE, "VISIT-1", "police.home-visit", 8, details=VISITED)
    view = audit_view(case, ICB_DPO)
    assert view.outcome == "denied"
    assert view.denied_reasons == [OUTSIDE_SCOPE_REASON]
    assert refs(view) == set() and stand_ins(view) == set()


def test_the_withheld_list_is_scoped_sorted_by_review_date_and_flags_overdue_reviews(
    case: Case,
) -> None:
    hub = case.hub
    lead = hub.audit_queries.withheld(LEAD).rows
    ours = [r for r in lead if r["ref"] in (INCIDENT, DECISION)]
    assert [r["ref"] for r in ours] == [INCIDENT, DECISION]  # soonest review first
    assert [r["review_overdue"] for r in ours] == [True, False]
    assert ours[0]["withheld_from"][0]["reason"] == "live investigation"

    police = hub.audit_queries.withheld(POLICE_DPO).rows
    by_ref = {r["ref"]: r for r in police}
    assert by_ref[INCIDENT]["withheld_from"][0]["decided_by"] == "DI Hale"
    assert by_ref[DECISION]["withheld_from"] is None and by_ref[DECISION]["kind"] is None
    assert by_ref[DECISION]["summary"].startswith("an item withheld by shire-county-council")
    assert by_ref[DECISION]["review_by"] == LATER.isoformat()

    school = hub.audit_queries.withheld(SCHOOL_DPO).rows
    assert [(r["ref"], r["kind"], r["withheld_from"]) for r in school] == [(INCIDENT, None, None)]
    assert school[0]["review_overdue"] is True
    assert hub.audit_queries.withheld(ICB_DPO).rows == []


def test_who_saw_the_child_shows_an_organisations_dpo_its_staff_and_its_own_items(
    case: Case,
) -> None:
    hub = case.hub
    lead = hub.audit_queries.who_saw_child(LEAD, case.child).rows
    assert {"dsl-100001", "po-0001"} <= {r["practitioner"] for r in lead}

    school = hub.audit_queries.who_saw_child(SCHOOL_DPO, case.child).rows
    dsl = [r for r in school if r["practitioner"] == "dsl-100001"]
    assert dsl and S47 in dsl[0]["disclosed"]  # its own staff: everything they were shown
    (officer,) = [r for r in school if r["practitioner"] == "po-0001"]
    # The police officer's view, as far as it disclosed the school's own records only.
    assert set(officer["disclosed"]) == {ENROLMENT, CONCERN}
    assert officer["denied"] == {}

    icb = hub.audit_queries.who_saw_child(ICB_DPO, case.child).rows
    assert [r["practitioner"] for r in icb if r["practitioner"] != ICB_DPO] == ["po-0001"]
    assert [r["disclosed"] for r in icb if r["practitioner"] == "po-0001"] == [[HEALTH_VISIT]]

    practitioner = hub.audit_queries.what_practitioner_saw(SCHOOL_DPO, "po-0001").rows
    assert [set(r["disclosed"]) for r in practitioner] == [{ENROLMENT, CONCERN}]


def test_break_glass_grants_are_reviewed_by_the_dpo_of_the_practitioners_organisation(
    case: Case,
) -> None:
    hub = case.hub
    hub.gate.view(
        case.child, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY, break_glass_reason="missing"
    )
    assert [r["practitioner"] for r in hub.audit_queries.break_glass(LEAD).rows] == ["po-0002"]
    (grant,) = hub.audit_queries.break_glass(POLICE_DPO).rows
    assert hub.audit_queries.break_glass(SCHOOL_DPO).rows == []
    with pytest.raises(LookupError):
        hub.audit_queries.review_break_glass(SCHOOL_DPO, grant["grant"], "justified", "")
    hub.audit_queries.review_break_glass(POLICE_DPO, grant["grant"], "justified", "ok")
    assert hub.audit_queries.break_glass(LEAD).rows == []


def test_only_a_lead_dpo_acts_on_every_agencys_records(case: Case) -> None:
    hub = case.hub
    with pytest.raises(PermissionError, match="lead data protection officers"):
        hub.audit_queries.commission_review(SCHOOL_DPO, case.child, "rev-0001", "review", 30)
    with pytest.raises(PermissionError, match="lead data protection officers"):
        hub.erasure.erase_child(POLICE_DPO, case.child, "retention")
    with pytest.raises(PermissionError, match="lead data protection officers"):
        hub.audit_queries.authorise(ICB_DPO, "quarantine-raw", partnership=True)
    commission = hub.audit_queries.commission_review(LEAD, case.child, "rev-0001", "review", 30)
    assert commission.reviewer_id == "rev-0001"


def test_a_subject_access_export_by_an_organisations_dpo_covers_its_scope(case: Case) -> None:
    export = case.hub.audit_queries.subject_access(SCHOOL_DPO, case.child)
    exported = {r["ref"] for r in export["records"]}
    assert {ENROLMENT, CONCERN} <= exported
    assert exported.isdisjoint({INCIDENT, VISIT, DECISION, HEALTH_VISIT})
    assert SECRET not in json.dumps(export, default=str)
    assert {d["organisation"] for d in export["disclosed_to"]} <= {
        "school-100001",
        "shire-constabulary",
    }
    lead = case.hub.audit_queries.subject_access(LEAD, case.child)
    assert {HEALTH_VISIT, VISIT} <= {r["ref"] for r in lead["records"]}
    assert date.fromisoformat(OVERDUE.isoformat()) < NOW.date()
