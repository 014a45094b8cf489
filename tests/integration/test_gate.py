"""The one disclosure gate on the real store (SQLite and PostgreSQL): what a publisher says of
a record last governs every revision of it, what is derived comes only from what was
released, and every surface gets the same answer.

Each test is a transition a publisher can make (a shield or a withholding added in a later
revision, a retraction) or a surface that used to shape content itself (notices, pattern
flags, household lists, subject access), and would fail without the gate doing it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consumers.encompass import EncompassConsumer
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.markers import REDACTED, RETRACTED, SHIELDED
from hub.domain.records import DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import (
    directory_with_police_dpo,
    event_days_ago,
    nhs_number,
    register_agencies,
)

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
SCHOOL = {"id": "school-100001", "type": "education"}
REFUGE = "GATECANARY-Kestrel-Refuge-Unit-7"
VOICE = "GATECANARY-I hid under the stairs"
ADDRESS = "GATECANARY-14 Heron Close"


@pytest.fixture
def gate_hub(settings: HubSettings, tmp_path: Path) -> Iterator[Hub]:
    """The demo partnership's directory with a police DPO beside the council's."""
    path = directory_with_police_dpo(tmp_path / "practitioners.yaml")
    hub = bootstrap(settings.model_copy(update={"directory": path}))
    register_agencies(hub)
    yield hub
    hub.close()


class Case:
    """One child's record, published through the real ingest core one event at a time."""

    def __init__(self, hub: Hub, serial: int) -> None:
        self.hub = hub
        self.nhs = nhs_number(serial)
        self.child = ChildRef(nhs_number=self.nhs)
        self.positions: dict[str, int] = {}

    def publish(
        self, agency: dict[str, str], event_id: str, kind: str, days_ago: float, **fields: Any
    ) -> None:
        fields.setdefault("child", {"nhs_number": self.nhs})
        value = event_days_ago(NOW, days_ago, event_id=event_id, agency=agency, kind=kind, **fields)
        source = f"inbox:{agency['id']}/gate"
        self.positions[source] = position = self.positions.get(source, 0) + 1
        outcome = self.hub.ingest.ingest([InboundMessage(source, position, value, agency["id"])])
        assert outcome.accepted == 1, outcome

    def on_plan(self) -> None:
        """An s47 enquiry relates the MACPT (lcpp-0001, po-0001, hp-0001); an enrolment the
        school's DSL."""
        self.publish(LA, "S47-1", "la.s47-enquiry-started", 20)
        enrolled = (NOW - timedelta(days=300)).date().isoformat()
        self.publish(
            SCHOOL,
            "ENROL-1",
            "education.enrolled",
            300,
            details={"school_urn": "100001", "starts_on": enrolled},
        )

    def view(self, practitioner: str, purpose: Purpose) -> Any:
        return self.hub.gate.view(self.child, practitioner, purpose)


def shown(view: Any, ref: str) -> Any:
    return next((e for e in view.entries if e.ref == ref), None)


def test_a_shield_added_in_a_later_revision_hides_the_same_field_in_every_earlier_one(
    gate_hub: Hub,
) -> None:
    case = Case(gate_hub, 7001)
    case.on_plan()
    case.publish(LA, "CONTACT-1", "la.contact", 10, details={"address": REFUGE})
    before = case.view("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert shown(before, "shire-county-council/CONTACT-1@1").details == {"address": REFUGE}

    case.publish(
        LA,
        "CONTACT-1",
        "la.contact",
        10,
        revision=2,
        details={"address": REFUGE},
        shielded_fields=["details.address"],
    )
    for practitioner, purpose in (
        ("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
        ("dpo-0001", Purpose.DATA_PROTECTION_AUDIT),
    ):
        after = case.view(practitioner, purpose)
        first = shown(after, "shire-county-council/CONTACT-1@1")
        assert (first.status, first.details, first.shielded) == (
            "superseded",
            {"address": SHIELDED},
            ["details.address"],
        )
        assert REFUGE not in json.dumps(after.as_dict())


def test_a_withholding_added_later_hides_every_revision_from_those_it_names(
    gate_hub: Hub,
) -> None:
    case = Case(gate_hub, 7002)
    case.on_plan()
    details = {"child_present": True, "police_reference": "OE-1", "child_voice": VOICE}
    case.publish(POLICE, "DA-1", "police.domestic-abuse-incident", 5, details=details)
    dsl = case.view("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    assert shown(dsl, "shire-constabulary/DA-1@1") is not None

    withholding = {
        "role": "school-designated-safeguarding-lead",
        "reason": "the school is where the suspect works",
        "decided_by": "DI Hale",
        "review_by": (NOW + timedelta(days=60)).date().isoformat(),
    }
    case.publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        5,
        revision=2,
        details=details,
        withheld_from=[withholding],
    )
    dsl = case.view("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    assert {e.ref for e in dsl.entries}.isdisjoint(
        {"shire-constabulary/DA-1@1", "shire-constabulary/DA-1@2"}
    )
    assert VOICE not in json.dumps(dsl.as_dict())
    (audited,) = [
        r
        for r in gate_hub.audit.for_practitioner("dsl-100001")
        if isinstance(r, DisclosureAudited) and r.withheld
    ]
    assert sorted(audited.withheld) == ["shire-constabulary/DA-1@1", "shire-constabulary/DA-1@2"]
    # Those it does not name still see both revisions.
    lcpp = case.view("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert shown(lcpp, "shire-constabulary/DA-1@1").details["child_voice"] == VOICE


def test_a_retracted_record_says_only_that_it_was_retracted_outside_its_publisher(
    gate_hub: Hub,
) -> None:
    case = Case(gate_hub, 7003)
    case.on_plan()
    details = {"child_present": True, "police_reference": "OE-2", "child_voice": VOICE}
    case.publish(
        POLICE,
        "DA-2",
        "police.domestic-abuse-incident",
        8,
        summary=f"Attended {ADDRESS}",
        details=details,
    )
    case.publish(POLICE, "DA-2", "police.domestic-abuse-incident", 8, revision=2, details=details)
    case.publish(POLICE, "RETRACT-1", "record.retracted", 2, supersedes={"event_id": "DA-2"})

    for practitioner, purpose in (
        ("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
        ("dpo-0001", Purpose.DATA_PROTECTION_AUDIT),  # a DPO of another agency
        ("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING),
    ):
        view = case.view(practitioner, purpose)
        stubs = [e for e in view.entries if e.ref.startswith("shire-constabulary/DA-2@")]
        assert len(stubs) == 2, practitioner
        for stub in stubs:
            assert (stub.kind, stub.summary, stub.details, stub.status) == (
                RETRACTED,
                RETRACTED,
                {},
                "retracted",
            )
            assert stub.occurred_at == stub.received_at and stub.categories == []
            assert stub.replaced_by == "RETRACT-1@1"
        text = json.dumps(view.as_dict())
        assert VOICE not in text and ADDRESS not in text
        assert "police.domestic-abuse-incident" not in text

    # The publisher's own staff and its DPO still see what it said, marked retracted.
    for practitioner, purpose in (
        ("po-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
        ("dpo-police", Purpose.DATA_PROTECTION_AUDIT),
    ):
        own = shown(case.view(practitioner, purpose), "shire-constabulary/DA-2@1")
        assert (own.kind, own.status, own.details["child_voice"]) == (
            "police.domestic-abuse-incident",
            "retracted",
            VOICE,
        )


def test_pattern_flags_come_only_from_what_was_released(gate_hub: Hub) -> None:
    """The visit's "not spoken to" is shielded: no flag can restate it."""
    case = Case(gate_hub, 7004)
    case.on_plan()
    visit = {"reason": "welfare", "child_seen": True, "child_spoken_to": False}
    case.publish(POLICE, "VISIT-1", "police.home-visit", 6, details=visit)
    flagged = case.view("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert "child-not-seen-on-visit" in {f.code for f in flagged.patterns}

    case.publish(
        POLICE,
        "VISIT-1",
        "police.home-visit",
        6,
        revision=2,
        details=visit,
        shielded_fields=["details.child_spoken_to"],
    )
    view = case.view("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert "child-not-seen-on-visit" not in {f.code for f in view.patterns}
    assert "not spoken to" not in json.dumps(view.as_dict())


def test_households_are_grouped_only_from_released_entries(gate_hub: Hub) -> None:
    case = Case(gate_hub, 7005)
    case.on_plan()
    withheld = {
        "agency_type": "education",
        "reason": "live investigation",
        "decided_by": "DS Kerr",
        "review_by": (NOW + timedelta(days=30)).date().isoformat(),
    }
    case.publish(
        POLICE,
        "DA-3",
        "police.domestic-abuse-incident",
        4,
        details={"child_present": False, "police_reference": "OE-3"},
        household_ref="HH-SECRET-1",
        withheld_from=[withheld],
    )
    dsl = case.view("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    assert dsl.households == {} and "HH-SECRET-1" not in json.dumps(dsl.as_dict())
    lcpp = case.view("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert list(lcpp.households) == ["shire-constabulary/HH-SECRET-1"]


def test_a_subject_access_export_leaves_out_withheld_items_and_says_so(gate_hub: Hub) -> None:
    case = Case(gate_hub, 7006)
    case.on_plan()
    withheld = {
        "agency_type": "education",
        "reason": "reveals the new address to a parent",
        "decided_by": "DI Hale",
        "review_by": (NOW + timedelta(days=30)).date().isoformat(),
    }
    case.publish(
        POLICE,
        "DA-4",
        "police.domestic-abuse-incident",
        3,
        summary=f"Mother moved to {ADDRESS}",
        details={"child_present": True, "police_reference": "OE-4"},
        withheld_from=[withheld],
    )
    export = gate_hub.audit_queries.subject_access("dpo-0001", case.child)
    assert "shire-constabulary/DA-4@1" not in {r["ref"] for r in export["records"]}
    assert ADDRESS not in json.dumps(export, default=str)
    (marker,) = export["withheld"]
    assert marker["ref"] == "shire-constabulary/DA-4@1"
    assert "more detrimental to the child" in marker["note"]
    (audited,) = [
        r
        for r in gate_hub.audit.for_practitioner("dpo-0001")
        if isinstance(r, DisclosureAudited) and r.action == "export"
    ]
    assert audited.withheld == ["shire-constabulary/DA-4@1"]
    assert export["audit_ref"] == f"{audited.originator_id.hex}@{audited.originator_version}"


def test_a_notice_carries_shielding_and_later_restrictions_to_its_recipient(
    gate_hub: Hub,
) -> None:
    """The leak this closes: a shielded child's voice sent in full in an Operation Encompass
    notice, and a withholding published after delivery not reaching the recipient's inbox."""
    case = Case(gate_hub, 7007)
    case.on_plan()
    details = {"child_present": True, "police_reference": "OE-5", "child_voice": VOICE}
    case.publish(
        POLICE,
        "DA-5",
        "police.domestic-abuse-incident",
        0.2,
        details=details,
        shielded_fields=["details.child_voice"],
    )
    runner = gate_hub.consumer_runner("encompass")
    runner.run_once()
    consumer = runner.consumer
    assert isinstance(consumer, EncompassConsumer)
    (notice,) = [
        n for n in consumer.inbox(runner.documents(), "dsl-100001") if n["child"] == case.nhs
    ]
    assert (notice["child_voice"], notice["police_reference"], notice["shared"]) == (
        SHIELDED,
        "OE-5",
        True,
    )
    assert VOICE not in json.dumps(notice)

    case.publish(
        POLICE,
        "DA-5",
        "police.domestic-abuse-incident",
        0.2,
        revision=2,
        details=details,
        shielded_fields=["details.child_voice"],
        withheld_from=[
            {
                "agency_type": "education",
                "reason": "a parent works at the school",
                "decided_by": "DS Kerr",
                "review_by": (NOW + timedelta(days=30)).date().isoformat(),
            }
        ],
    )
    inbox = [n for n in consumer.inbox(runner.documents(), "dsl-100001") if n["id"] == notice["id"]]
    assert [(n["shared"], n["child"], n["police_reference"]) for n in inbox] == [
        (False, None, None)
    ]
    assert REDACTED not in json.dumps(inbox)  # nothing left to mark: nothing is shown
