"""What a replay says crossed the boundary between partnerships (hub/domain/boundary.py, the
words in hub/reports/replay_words.py): transfers sent and received as of a moment, from the
audit ledger and the entries' provenance, and who here was shown what was received, by name
and role, in UK time with the zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from hub.domain.boundary import (
    CorrectionRelationship,
    CorrectionSentRelationship,
    correction_relationship,
    correction_sent_relationship,
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
    correction_received_sentence,
    correction_sent_sentence,
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
    assert before == {
        "sent": [],
        "received": [],
        "corrections_sent": [],
        "corrections_received": [],
    }
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


# Corrections across the boundary ------------------------------------------------------------

CORRECTED_AT = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
SHIRE = "Shire Safeguarding Children Partnership"
WESSEX = "Wessex Safeguarding Children Partnership"


def local_entry(event_id: str, received_at: datetime, **overrides: Any) -> ChronologyEntry:
    event = CanonicalEvent.model_validate(event_dict(event_id=event_id, **overrides))
    return ChronologyEntry(event, received_at, "a" * 32, 1)


def exported_to_wessex(at: datetime, refs: list[str]) -> DisclosureAudited:
    sent = sent_to_wessex(at)
    return audited(
        at,
        **{k: getattr(sent, k) for k in ("practitioner_id", "organisation", "role", "action")},
        purpose=sent.purpose,
        disclosed=refs,
        relationship=sent.relationship,
    )


def correction_from_shire(at: datetime, refs: list[str]) -> DisclosureAudited:
    return audited(
        at,
        practitioner_id="hub:shire",
        organisation="shire",
        role="partner-hub",
        action="federation-correction-received",
        purpose=None,
        lawful_basis=None,
        outcome="received",
        disclosed=refs,
        relationship=(
            "inter-partnership agreement shire-wessex-2026.1 via correction c-1 of transfer "
            "t-1, t-2 (message m-9)"
        ),
    )


def revised_federated_entry(event_id: str, received_at: datetime) -> ChronologyEntry:
    first = federated_entry(event_id, received_at)
    event = CanonicalEvent.model_validate(event_dict(event_id=event_id, revision=2))
    return ChronologyEntry(event, received_at, "a" * 32, 4, origin=first.origin)


def test_a_corrections_receipt_is_read_back() -> None:
    said = correction_relationship(correction_from_shire(CORRECTED_AT, ["a", "b"]).relationship)
    assert said == CorrectionRelationship("shire-wessex-2026.1", "c-1", ("t-1", "t-2"), "m-9")
    assert correction_relationship(
        received_from_shire(RECEIVED_AT, ["a"], "m-1").relationship
    ) == CorrectionRelationship(None, None, (), None)


def test_a_correction_received_says_what_it_withdrew_and_replaced_and_who_had_seen_them() -> None:
    a, b = "shire:shire-county-council/A@1", "shire:shire-county-council/B@1"
    withdrawal, b2 = "shire:shire-county-council/A:withdrawn@1", "shire:shire-county-council/B@2"
    records = [
        received_from_shire(RECEIVED_AT, [a, b], "m-1"),
        audited(SEEN_AT, disclosed=[a]),  # Sam saw A before the correction
        correction_from_shire(CORRECTED_AT, [a, withdrawal, b, b2]),
        audited(CORRECTED_AT + timedelta(hours=1), practitioner_id="lcpp-0001", disclosed=[b2]),
    ]
    entries = [
        federated_entry("A", RECEIVED_AT),
        federated_entry("B", RECEIVED_AT),
        # what the correction recorded carries the transfer's id in its provenance too
        federated_entry("A:withdrawn", CORRECTED_AT),
        revised_federated_entry("B", CORRECTED_AT),
    ]
    got = crossings(records, entries, CORRECTED_AT + timedelta(hours=2), name_of=NAMES.get)
    (row,) = got["corrections_received"]
    assert (row["partnership"], row["agreement_version"], row["correction_id"]) == (
        SHIRE,
        "shire-wessex-2026.1",
        "c-1",
    )
    assert (row["transfer_ids"], row["message_id"]) == (["t-1", "t-2"], "m-9")
    assert row["withdrawn"] == [a]
    assert row["corrected"] == [{"ref": b, "by": b2}]
    (person,) = row["seen_by"]  # Morag saw only the corrected revision, after it arrived
    assert (person["name"], person["entries"]) == ("Sam Patel", 1)
    assert correction_received_sentence(row) == (
        f"Correction received from {SHIRE} on 5 December 2026 at 11:00 GMT (inter-partnership "
        f"agreement shire-wessex-2026.1): withdrew {a}; sent {b2} in place of {b}; shown here "
        "before by Sam Patel (social worker) on 4 December 2026 at 09:02 GMT"
    )
    # What the correction recorded is not a transfer received, and the receipt shows nobody.
    (transfer,) = got["received"]
    assert transfer["refs"] == [a, b]
    assert [p["name"] for p in transfer["seen_by"]] == ["Sam Patel"]
    # Before the correction arrived: only the transfer.
    before = crossings(records, entries, CORRECTED_AT - timedelta(seconds=1))
    assert before["corrections_received"] == []
    nobody = crossings(records[:1] + records[2:], entries, CORRECTED_AT)["corrections_received"]
    assert correction_received_sentence(nobody[0]).endswith(
        "; not shown to anyone at this hub before"
    )


def test_corrections_sent_from_exports_and_the_record_before_corrections_were_audited() -> None:
    contact1, contact2 = "shire-county-council/C1@1", "shire-county-council/C2@1"
    revised = "shire-county-council/C2@2"
    retracted_at = CORRECTED_AT - timedelta(hours=1)
    entries = [
        move_entry(receiving_authority="Westvale Borough Council"),
        local_entry("C1", SENT_AT - timedelta(days=2)),
        local_entry("C2", SENT_AT - timedelta(days=2)),
        local_entry("RET-1", retracted_at, kind="record.retracted", supersedes={"event_id": "C1"}),
        local_entry("C2", CORRECTED_AT - timedelta(minutes=5), revision=2),
    ]
    records = [
        exported_to_wessex(SENT_AT, [MOVE, contact1, contact2]),
        exported_to_wessex(CORRECTED_AT, [revised]),  # the corrected revision, released
    ]
    names = {"wessex": WESSEX}
    got = crossings(records, entries, CORRECTED_AT, partner_names=names)
    (transfer,) = got["sent"]  # the corrected revision's release is not another transfer
    assert transfer["refs"] == [MOVE, contact1, contact2]
    withdrawn, corrected = got["corrections_sent"]
    assert (withdrawn["audited"], withdrawn["withdrawn"], withdrawn["how"]) == (
        False,
        [contact1],
        "retracted",
    )
    assert withdrawn["at"] == retracted_at.isoformat()
    assert correction_sent_sentence(withdrawn) == (
        f"Withdrawn here on 5 December 2026 at 10:00 GMT (retracted): {contact1}, sent to "
        f"{WESSEX} on 3 December 2026 at 10:15 GMT (inter-partnership agreement "
        "shire-wessex-2026.1); no correction telling them is recorded by then"
    )
    assert (corrected["audited"], corrected["corrected"]) == (
        True,
        [{"ref": contact2, "by": revised}],
    )
    assert correction_sent_sentence(corrected) == (
        f"Sent {WESSEX} a corrected revision on 5 December 2026 at 11:00 GMT: {revised} in "
        f"place of {contact2} (inter-partnership agreement shire-wessex-2026.1)"
    )
    # Before the revision was sent, the revised record was withdrawn here, not yet replaced.
    earlier = crossings(records, entries, CORRECTED_AT - timedelta(minutes=1), partner_names=names)
    superseded = next(r for r in earlier["corrections_sent"] if r["how"] == "superseded")
    assert correction_sent_sentence(superseded).startswith(
        f"Withdrawn here on 5 December 2026 at 10:55 GMT (superseded by {revised}, not sent to "
        f"them by then): {contact2}, sent to {WESSEX} on "
    )
    # Before anything was withdrawn: no correction.
    assert (
        crossings(records, entries, retracted_at - timedelta(seconds=1))["corrections_sent"] == []
    )
    summary = boundary_summary({"as_of": CORRECTED_AT.isoformat(), "crossed_the_boundary": got})
    assert summary.endswith(
        " Corrections: 2 of what was sent (corrections told to partner hubs, and entries sent "
        "that were withdrawn here since) and 0 received."
    )


def correction_to_wessex(at: datetime, refs: list[str]) -> DisclosureAudited:
    return audited(
        at,
        practitioner_id="hub:wessex",
        organisation="wessex",
        role="partner-hub",
        action="federation-correction-sent",
        purpose="inter-partnership-transfer",
        lawful_basis=None,
        outcome="correction-sent",
        disclosed=refs,
        relationship=(
            f"correction c-1 of transfer t-1 for {MOVE} under inter-partnership agreement "
            "shire-wessex-2026.1 (message m-9)"
        ),
    )


def test_a_correction_sent_is_read_back() -> None:
    said = correction_sent_relationship(correction_to_wessex(CORRECTED_AT, ["a"]).relationship)
    assert said == CorrectionSentRelationship("c-1", ("t-1",), MOVE, "shire-wessex-2026.1", "m-9")
    assert correction_sent_relationship(
        correction_from_shire(CORRECTED_AT, ["a"]).relationship
    ) == CorrectionSentRelationship(None, (), None, None, None)


def test_a_correction_sent_says_when_the_partner_was_told_what_and_under_which_agreement() -> None:
    contact1, contact2 = "shire-county-council/C1@1", "shire-county-council/C2@1"
    revised = "shire-county-council/C2@2"
    retracted_at = CORRECTED_AT - timedelta(hours=1)
    told_at = CORRECTED_AT + timedelta(seconds=1)
    entries = [
        move_entry(receiving_authority="Westvale Borough Council"),
        local_entry("C1", SENT_AT - timedelta(days=2)),
        local_entry("C2", SENT_AT - timedelta(days=2)),
        local_entry("RET-1", retracted_at, kind="record.retracted", supersedes={"event_id": "C1"}),
        local_entry("C2", CORRECTED_AT - timedelta(minutes=5), revision=2),
    ]
    records = [
        exported_to_wessex(SENT_AT, [MOVE, contact1, contact2]),
        exported_to_wessex(CORRECTED_AT, [revised]),  # the corrected revision, released
        correction_to_wessex(told_at, [contact1, contact2, revised]),  # then told, audited
    ]
    names = {"wessex": WESSEX}
    got = crossings(records, entries, told_at, partner_names=names)
    (transfer,) = got["sent"]
    assert transfer["refs"] == [MOVE, contact1, contact2]
    (told,) = got["corrections_sent"]  # the revision's release is told with its correction
    assert (told["at"], told["partnership"], told["agreement_version"]) == (
        told_at.isoformat(),
        WESSEX,
        "shire-wessex-2026.1",
    )
    assert (told["correction_id"], told["transfer_ids"], told["move_ref"], told["message_id"]) == (
        "c-1",
        ["t-1"],
        MOVE,
        "m-9",
    )
    assert (told["withdrawn"], told["corrected"]) == (
        [contact1],
        [{"ref": contact2, "by": revised}],
    )
    assert told["audited"] and told["audit_ref"]
    assert correction_sent_sentence(told) == (
        f"Told {WESSEX} on 5 December 2026 at 11:00 GMT, by correction c-1 of transfer t-1 "
        f"(inter-partnership agreement shire-wessex-2026.1): withdrew {contact1}; sent "
        f"{revised} in place of {contact2}"
    )
    # Before the partner was told: withdrawn here, no correction recorded by then.
    before = crossings(records, entries, CORRECTED_AT, partner_names=names)["corrections_sent"]
    assert [row.get("correction_id") for row in before] == [None, None]
    withdrawn = next(row for row in before if not row["audited"])
    assert correction_sent_sentence(withdrawn).endswith(
        "; no correction telling them is recorded by then"
    )
    # The corrected revision sent is itself withdrawn here later: not yet told.
    later = CORRECTED_AT + timedelta(hours=2)
    entries.append(
        local_entry("RET-2", later, kind="record.retracted", supersedes={"event_id": "C2"})
    )
    after = crossings(records, entries, later, partner_names=names)["corrections_sent"]
    assert [(row.get("correction_id"), row["withdrawn"]) for row in after] == [
        ("c-1", [contact1]),
        (None, [revised]),
    ]
