"""The disclosure gate on in-memory fakes of its ports (`hub.ports`): no database, no files but
the sample directory. The real policies decide (Cedar, in process). The same rules are tested on
SQLite and PostgreSQL in `tests/integration/test_gate.py`; these are the fast ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from hub.adapters.directory import load_directory
from hub.adapters.pseudonyms import Pseudonymiser
from hub.disclosure_gate import CorrectionNotice, DisclosureGate
from hub.domain.access import Purpose
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.domain.grants import AccessGrants
from hub.domain.markers import SHIELDED
from hub.domain.records import (
    AuditEntry,
    BreakGlassEnded,
    BreakGlassGranted,
    DisclosureAudited,
    HubRecord,
)
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import CedarDecisionPoint
from hub.read_models.chronology_snapshot import ChronologySnapshot
from tests.factories import event_days_ago, nhs_number

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
SCHOOL = {"id": "school-100001", "type": "education"}
DIRECTORY = Path(__file__).resolve().parents[2] / "hub" / "samples" / "practitioners.yaml"
VOICE = "FAKECANARY-I hid under the stairs"


class FakeReadModel:
    """Children's chronologies held in memory, merged as the projection merges them."""

    def __init__(self) -> None:
        self.streams: dict[str, list[ChronologyEntry]] = {}
        self.erased: set[str] = set()

    def add(self, stream: str, event: CanonicalEvent) -> None:
        entries = self.streams.setdefault(stream, [])
        entries.append(ChronologyEntry(event, NOW, stream, len(entries) + 1))

    def catch_up(self) -> int:
        return 0

    def snapshot(self, stream: UUID) -> ChronologySnapshot:
        return ChronologySnapshot(tuple(merge_chronology(self.streams.get(stream.hex, []))))

    def entries(self, stream: UUID) -> list[ChronologyEntry]:
        return list(self.snapshot(stream).entries)

    def household_members(self, agency_id: str, household_ref: str) -> dict[str, str]:
        return {}

    def withheld_refs(self) -> Iterator[tuple[str, str]]:
        return iter(())

    def documents_erased(self, stream: str) -> bool:
        return stream in self.erased


@dataclass
class FakeAuditTrail:
    """The audit ledger's contract in memory; `unavailable` makes every write fail."""

    written: list[DisclosureAudited] = field(default_factory=list)
    grant_records: dict[str, list[HubRecord]] = field(default_factory=dict)
    unavailable: bool = False

    def record_access(
        self, audited: AuditEntry, at: datetime, grant: tuple[str, timedelta] | None = None
    ) -> DisclosureAudited:
        if self.unavailable:
            raise OSError("the audit store is down")
        if grant is not None:
            grants = self.grant_records.setdefault(audited.child_stream, [])
            grants.append(
                BreakGlassGranted(
                    originator_id=uuid4(),
                    originator_version=len(grants) + 1,
                    timestamp=at,
                    practitioner_id=audited.practitioner_id,
                    child_stream=audited.child_stream,
                    reason=grant[0],
                    expires_at=at + grant[1],
                )
            )
        entry = DisclosureAudited(
            originator_id=uuid4(), originator_version=1, timestamp=at, **vars(audited)
        )
        self.written.append(entry)
        return entry

    def grants(self, child_stream: str) -> AccessGrants:
        return AccessGrants(list(self.grant_records.get(child_stream, [])))

    def end_break_glass(self, grant: BreakGlassGranted, at: datetime) -> None:
        grants = self.grant_records[grant.child_stream]
        grants.append(
            BreakGlassEnded(
                originator_id=grant.originator_id,
                originator_version=len(grants) + 1,
                timestamp=at,
                practitioner_id=grant.practitioner_id,
                child_stream=grant.child_stream,
                grant_version=grant.originator_version,
            )
        )

    def for_child(self, child_stream: str) -> list[HubRecord]:
        return [e for e in self.written if e.child_stream == child_stream]


@dataclass
class World:
    gate: DisclosureGate
    read_model: FakeReadModel
    audit: FakeAuditTrail
    pseudonyms: Pseudonymiser
    child: ChildRef

    def publish(self, agency: dict[str, str], event_id: str, kind: str, **fields: Any) -> None:
        fields.setdefault("child", {"nhs_number": self.child.nhs_number})
        days_ago = fields.pop("days_ago", 5)
        body = event_days_ago(NOW, days_ago, event_id=event_id, agency=agency, kind=kind, **fields)
        stream = self.pseudonyms.child_stream(self.child).hex
        self.read_model.add(stream, CanonicalEvent.model_validate_json(body))

    def on_plan(self) -> None:
        """An s47 enquiry relates the MACPT (lcpp-0001, po-0001); an enrolment the DSL."""
        self.publish(LA, "S47-1", "la.s47-enquiry-started", days_ago=20)
        starts = (NOW - timedelta(days=300)).date().isoformat()
        self.publish(
            SCHOOL,
            "ENROL-1",
            "education.enrolled",
            days_ago=300,
            details={"school_urn": "100001", "starts_on": starts},
        )


@pytest.fixture(scope="module")
def decisions() -> CedarDecisionPoint:
    return CedarDecisionPoint(AgreementRegistry.from_directory())


@pytest.fixture
def world(decisions: CedarDecisionPoint) -> World:
    read_model, audit = FakeReadModel(), FakeAuditTrail()
    pseudonyms = Pseudonymiser(b"k" * 32)
    directory = load_directory(DIRECTORY)
    gate = DisclosureGate(read_model, lambda: directory, decisions, audit, pseudonyms)
    return World(gate, read_model, audit, pseudonyms, ChildRef(nhs_number=nhs_number(9001)))


def test_a_related_practitioner_is_shown_the_record_and_the_disclosure_is_audited(
    world: World,
) -> None:
    world.on_plan()
    view = world.gate.view(world.child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.outcome == "disclosed"
    (audited,) = world.audit.written
    assert sorted(audited.disclosed) == sorted(e.ref for e in view.entries)
    assert view.audit_ref == f"{audited.originator_id.hex}@{audited.originator_version}"


def test_nothing_is_released_when_the_audit_entry_cannot_be_written(world: World) -> None:
    world.on_plan()
    world.audit.unavailable = True
    with pytest.raises(OSError):
        world.gate.view(world.child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)


def test_no_relationship_is_refused_and_the_refusal_is_audited(world: World) -> None:
    world.publish(LA, "REF-1", "la.referral", details={"referral_source": "school"})
    view = world.gate.view(world.child, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert (view.outcome, view.entries) == ("denied", [])
    (audited,) = world.audit.written
    assert (audited.outcome, audited.disclosed) == ("denied", [])


def test_a_later_shield_hides_the_field_in_the_earlier_revision_too(world: World) -> None:
    world.on_plan()
    details = {"child_present": True, "police_reference": "OE-1", "child_voice": VOICE}
    world.publish(POLICE, "DA-1", "police.domestic-abuse-incident", details=details)
    world.publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        revision=2,
        details=details,
        shielded_fields=["details.child_voice"],
    )
    view = world.gate.view(world.child, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    for ref in ("shire-constabulary/DA-1@1", "shire-constabulary/DA-1@2"):
        (entry,) = [e for e in view.entries if e.ref == ref]
        assert entry.details["child_voice"] == SHIELDED
    assert VOICE not in json.dumps(view.as_dict())


def test_a_withholding_keeps_the_item_from_those_it_names_only(world: World) -> None:
    world.on_plan()
    withholding = {
        "role": "school-designated-safeguarding-lead",
        "reason": "the school is where the suspect works",
        "decided_by": "DI Hale",
        "review_by": (NOW + timedelta(days=60)).date().isoformat(),
    }
    world.publish(
        POLICE,
        "DA-2",
        "police.domestic-abuse-incident",
        details={"child_present": False, "police_reference": "OE-2"},
        withheld_from=[withholding],
    )
    ref = "shire-constabulary/DA-2@1"
    dsl = world.gate.view(world.child, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    lcpp = world.gate.view(world.child, "lcpp-0001", Purpose.CHILD_PROTECTION_PLANNING)
    assert ref not in [e.ref for e in dsl.entries]
    assert ref in [e.ref for e in lcpp.entries]
    assert ref in world.audit.written[0].withheld


def test_break_glass_is_granted_once_recorded_and_ended_by_its_holder(world: World) -> None:
    world.publish(LA, "REF-1", "la.referral", details={"referral_source": "school"})
    view = world.gate.view(
        world.child,
        "po-0002",
        Purpose.CHILD_PROTECTION_ENQUIRY,
        break_glass_reason="child found alone at an address, immediate risk",
    )
    assert view.outcome == "disclosed" and view.break_glass is not None
    assert world.gate.end_break_glass(world.child, "po-0002")
    again = world.gate.view(world.child, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert again.outcome == "denied"
    assert not world.gate.end_break_glass(world.child, "po-0002")


def correction_notice() -> CorrectionNotice:
    return CorrectionNotice(
        hub="wessex",
        agreement_version="shire-wessex-2026.1",
        correction_id="c-1",
        transfer_ids=("t-1", "t-2"),
        move_ref="shire-county-council/MOVE-1@1",
        message_id="m-9",
        withdrawn=("shire-county-council/A@1",),
        superseded=(("shire-county-council/B@1", "shire-county-council/B@2"),),
    )


def test_a_correction_sent_to_a_partner_hub_is_audited_before_it_is_sent(world: World) -> None:
    stream = world.pseudonyms.child_stream(world.child).hex
    sent: list[list[DisclosureAudited]] = []
    ref = world.gate.record_correction_sent(
        correction_notice(), world.child, lambda: sent.append(list(world.audit.written))
    )
    (audited,) = world.audit.written
    assert sent == [[audited]]  # the ledger held the entry when the message was sent
    assert ref == f"{audited.originator_id.hex}@{audited.originator_version}"
    assert (
        audited.practitioner_id,
        audited.organisation,
        audited.role,
        audited.action,
        audited.purpose,
        audited.child_stream,
        audited.outcome,
    ) == (
        "hub:wessex",
        "wessex",
        "partner-hub",
        "federation-correction-sent",
        "inter-partnership-transfer",
        stream,
        "correction-sent",
    )
    assert audited.disclosed == [
        "shire-county-council/A@1",
        "shire-county-council/B@1",
        "shire-county-council/B@2",
    ]
    assert audited.relationship == (
        "correction c-1 of transfer t-1, t-2 for shire-county-council/MOVE-1@1 under "
        "inter-partnership agreement shire-wessex-2026.1 (message m-9)"
    )


def test_a_correction_is_not_sent_when_its_audit_entry_cannot_be_written(world: World) -> None:
    world.audit.unavailable = True
    sent: list[str] = []
    with pytest.raises(OSError):
        world.gate.record_correction_sent(
            correction_notice(), world.child, lambda: sent.append("sent")
        )
    assert (sent, world.audit.written) == ([], [])
