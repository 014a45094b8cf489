"""What a replay says crossed the boundary between partnerships (hub/domain/boundary.py, the
words in hub/reports/replay_words.py): transfers sent and received as of a moment, from the
audit ledger and the entries' provenance, and who here was shown what was received, by name
and role, in UK time with the zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from hub.domain.boundary import (
    crossings,
    move_reason,
    received_relationship,
    sent_relationship,
)
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, Origin
from hub.domain.records import DisclosureAudited
from hub.reports.replay_words import (
    boundary_summary,
    received_sentence,
    replay_text,
    sent_sentence,
)
from tests.factories import event_dict

SENT_AT = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)  # GMT in December
RECEIVED_AT = datetime(2026, 12, 3, 10, 20, tzinfo=UTC)
SEEN_AT = datetime(2026, 12, 4, 9, 2, tzinfo=UTC)
MOVE = "shire-county-council/MOVE-1@1"
NAMES = {"sw-0001": "Sam Patel", "lcpp-0001": "Morag Ellison"}


def audited(at: datetime, **fields: Any) -> DisclosureAudited:
    entry: dict[str, Any] = {
        "practitioner_id": "sw-0001",
        "organisation": "wessex-county-council",
        "role": "social-worker",
        "action": "view",
        "purpose": "child-protection-enquiry",
        "lawful_basis": "public-task",
        "agreement_version": "wessex@2026.1",
        "child_stream": "ab" * 16,
        "outcome": "disclosed",
        "disclosed": [],
        "redacted": {},
        "withheld": [],
        "denied": {},
        "relationship": None,
        "break_glass_reason": None,
        "siblings": [],
    }
    entry.update(fields)
    return DisclosureAudited(originator_id=uuid4(), originator_version=1, timestamp=at, **entry)


def sent_to_wessex(at: datetime = SENT_AT) -> DisclosureAudited:
    return audited(
        at,
        practitioner_id="hub:wessex",
        organisation="wessex",
        role="partner-hub",
        action="export",
        purpose="inter-partnership-transfer",
        disclosed=[MOVE, "shire-county-council/CP-1@1"],
        relationship=(
            f"inter-partnership-transfer via {MOVE} under inter-partnership agreement "
            "shire-wessex-2026.1"
        ),
    )


def received_from_shire(at: datetime, refs: list[str], message: str) -> DisclosureAudited:
    return audited(
        at,
        practitioner_id="hub:shire",
        organisation="shire",
        role="partner-hub",
        action="federation-transfer-received",
        purpose=None,
        lawful_basis=None,
        outcome="received",
        disclosed=refs,
        relationship=(
            f"inter-partnership agreement shire-wessex-2026.1 via transfer t-1 (message {message})"
        ),
    )


def move_entry(**details: Any) -> ChronologyEntry:
    event = CanonicalEvent.model_validate(
        event_dict(
            event_id="MOVE-1",
            kind="la.moved-out-of-area",
            categories=[],
            details={"moved_on": "2024-03-01"} | details,
        )
    )
    return ChronologyEntry(event, SENT_AT - timedelta(days=1), "a" * 32, 1)


def federated_entry(event_id: str, received_at: datetime, transfer: str = "t-1") -> ChronologyEntry:
    event = CanonicalEvent.model_validate(event_dict(event_id=event_id))
    origin = Origin(
        hub="shire",
        partnership="Shire Safeguarding Children Partnership",
        contact="Shire MASH",
        received_from_hub_at=received_at,
        transfer_id=transfer,
    )
    return ChronologyEntry(event, received_at, "a" * 32, 2, origin=origin)


def test_the_audit_relationships_are_read_back() -> None:
    said = sent_relationship(sent_to_wessex().relationship)
    assert (said.move_ref, said.agreement_version) == (MOVE, "shire-wessex-2026.1")
    receipt = received_from_shire(RECEIVED_AT, ["shire:x/1@1"], "m-1")
    got = received_relationship(receipt.relationship)
    assert (got.agreement_version, got.transfer_id) == ("shire-wessex-2026.1", "t-1")
    assert sent_relationship("child-protection-enquiry via x").move_ref is None
    assert received_relationship(None).transfer_id is None


def test_the_reason_names_where_the_family_moved_only_when_the_move_is_seen() -> None:
    move = move_entry(receiving_authority="Westvale Borough Council", receiving_la_code="990")
    assert move_reason(MOVE, {MOVE: move}) == "the family moved to Westvale Borough Council's area"
    coded = move_entry(receiving_la_code="990")
    assert move_reason(MOVE, {MOVE: coded}) == (
        "the family moved to the area of local authority 990"
    )
    assert move_reason(MOVE, {}) == f"for the move recorded as {MOVE}"


def test_sent_as_of_a_moment_only_what_had_been_sent_by_then_in_words() -> None:
    move = move_entry(receiving_authority="Westvale Borough Council", receiving_la_code="990")
    records = [sent_to_wessex(), audited(SENT_AT, disclosed=[MOVE])]  # and a person's view
    names = {"wessex": "Wessex Safeguarding Children Partnership"}
    before = crossings(records, [move], SENT_AT - timedelta(minutes=1), partner_names=names)
    assert before == {"sent": [], "received": []}
    (row,) = crossings(records, [move], SENT_AT, partner_names=names)["sent"]
    assert (row["partner"], row["entries"], row["move_ref"]) == ("wessex", 2, MOVE)
    assert sent_sentence(row) == (
        "Sent to Wessex Safeguarding Children Partnership on 3 December 2026 at 10:15 GMT: "
        "2 entries, because the family moved to Westvale Borough Council's area "
        "(inter-partnership agreement shire-wessex-2026.1)"
    )


def test_received_grouped_by_transfer_with_who_saw_them_by_name_and_role() -> None:
    refs = ["shire:shire-county-council/A@1", "shire:shire-county-council/B@1"]
    records = [
        received_from_shire(RECEIVED_AT, refs[:1], "m-1"),
        received_from_shire(RECEIVED_AT + timedelta(seconds=1), refs[1:], "m-2"),
        audited(SEEN_AT, disclosed=[*refs, "wessex-county-council/OWN@1"]),
        audited(SEEN_AT + timedelta(hours=1), disclosed=refs[:1]),
        audited(
            SEEN_AT + timedelta(days=1),
            practitioner_id="lcpp-0001",
            role="lead-child-protection-practitioner",
            disclosed=refs[1:],
        ),
        audited(SEEN_AT, practitioner_id="gone-0001", disclosed=["wessex-county-council/X@1"]),
    ]
    entries = [federated_entry("A", RECEIVED_AT), federated_entry("B", RECEIVED_AT)]
    got = crossings(records, entries, SEEN_AT + timedelta(hours=2), name_of=NAMES.get)
    (row,) = got["received"]
    assert (row["partnership"], row["entries"], row["refs"]) == (
        "Shire Safeguarding Children Partnership",
        2,
        refs,
    )
    assert len(row["audit_refs"]) == 2
    (person,) = row["seen_by"]  # Morag saw them only after the moment
    assert (person["name"], person["times"], person["entries"]) == ("Sam Patel", 2, 2)
    assert received_sentence(row) == (
        "Received from Shire Safeguarding Children Partnership on 3 December 2026 at 10:20 GMT: "
        "2 entries (inter-partnership agreement shire-wessex-2026.1); seen by Sam Patel "
        "(social worker) on 4 December 2026 at 09:02 GMT and 1 more time"
    )
    unseen = crossings(records, entries, SEEN_AT - timedelta(minutes=1))["received"][0]
    assert unseen["seen_by"] == []
    assert received_sentence(unseen).endswith("; not shown to anyone at this hub by then")
    assert crossings(records, entries, RECEIVED_AT - timedelta(seconds=1))["received"] == []


def test_entries_received_without_a_receipt_are_told_from_their_provenance() -> None:
    entries = [federated_entry("A", RECEIVED_AT, "t-9")]
    (row,) = crossings([], entries, RECEIVED_AT)["received"]
    assert (row["transfer_id"], row["refs"]) == ("t-9", ["shire:shire-county-council/A@1"])
    assert received_sentence(row).startswith(
        "Received from Shire Safeguarding Children Partnership on 3 December 2026 at 10:20 GMT: "
        "1 entry; "
    )


def test_a_british_summer_time_moment_reads_in_bst() -> None:
    row = {
        "partnership": "Wessex Safeguarding Children Partnership",
        "at": "2026-07-01T23:30:00+00:00",
        "entries": 1,
        "reason": "the family moved out of the area",
        "agreement_version": None,
    }
    assert sent_sentence(row) == (
        "Sent to Wessex Safeguarding Children Partnership on 2 July 2026 at 00:30 BST: 1 entry, "
        "because the family moved out of the area"
    )


def test_the_terminal_replay_says_what_crossed_or_that_nothing_did() -> None:
    report: dict[str, Any] = {
        "as_of": SEEN_AT.isoformat(),
        "crossed_the_boundary": {"sent": [], "received": []},
    }
    assert boundary_summary(report) == (
        "By 4 Dec 2026, 09:02 GMT nothing about this child had crossed the boundary with "
        "another partnership: no transfer sent or received."
    )
    move = move_entry(receiving_authority="Westvale Borough Council", receiving_la_code="990")
    report["crossed_the_boundary"] = crossings([sent_to_wessex()], [move], SEEN_AT)
    report |= {
        "agreement_version_in_force": "shire@2026.1",
        "outcome": "disclosed",
        "recorded_by_agencies": 1,
        "held_by_hub": 1,
        "known_not_shared": [],
        "agencies": [],
        "never_shown": [],
        "held": [],
        "latency_by_agency": {},
        "latency": [],
        "disclosures": [],
    }
    text = replay_text(report, 300)
    assert "crossed the boundary with other partnerships:" in text
    assert "Sent to wessex on 3 December 2026 at 10:15 GMT: 2 entries, because the family" in text
