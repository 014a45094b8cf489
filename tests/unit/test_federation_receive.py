"""The receiving side of a transfer, its pure parts: a transfer part's events are checked
against the sender's signed checkpoint (each failure names the field, never the value); an
entry from a partner hub has a reference that cannot name a local record, is a record of its
own, is labelled with where it came from, and relates nobody here to the child."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.disclosure_gate import _relationships
from hub.domain.access import Practitioner, Role
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, Origin, merge_chronology
from hub.domain.federation import FederationMessage, MessageProblem
from hub.domain.merkle import inclusion_proof, leaf_hash, root_of
from hub.domain.taxonomy import AgencyType
from hub.federation_ingest import check_part, claim_key, transfer_part
from hub.read_models.chronology_snapshot import ChronologySnapshot
from hub.reports.chronology_text import chronology_lines
from tests.factories import VALID_NHS_NUMBER, event_dict, nhs_number

NOW = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 1 July in England (BST)
WESSEX = Origin(
    hub="wessex",
    partnership="Wessex Safeguarding Children Partnership",
    contact="Wessex MASH, 01234 567890",
    received_from_hub_at=NOW,
)


def message(events: list[dict[str, Any]], size: int, root: bytes, **part: Any) -> FederationMessage:
    body = {
        "transfer_id": "a" * 32,
        "part": 1,
        "parts": 1,
        "nhs_number": VALID_NHS_NUMBER,
        "reason": "The family moved to Shire",
        "moved_ref": "wessex-county-council/MOVE-1@1",
        "events": events,
        **part,
    }
    return FederationMessage(
        id="b" * 32,
        type="transfer-offer",
        sender="wessex",
        recipient="shire",
        sent_at=NOW,
        agreement_version="shire-wessex-2026.1",
        checkpoint={
            "log": "events",
            "size": size,
            "root": root.hex(),
            "time": NOW.isoformat(),
            "signer": "ed25519:0000000000000000",
            "signature": "0" * 128,
        },
        body=body,
        signer="ed25519:0000000000000000",
    )


def transfer(count: int = 3, size: int = 5) -> tuple[FederationMessage, list[bytes]]:
    """A part of `count` events, leaves 1.. of a sender's log of `size` rows, with real proofs."""
    leaves = [leaf_hash(f"row {i}".encode()) for i in range(size)]
    root = root_of(leaves)
    events = []
    for n in range(count):
        event = event_dict(
            event_id=f"REF-{n}", agency={"id": "wessex-county-council", "type": "local-authority"}
        )
        events.append(
            {
                "ref": f"wessex-county-council/REF-{n}@1",
                "received_at": NOW.isoformat(),
                "event": event,
                "inclusion": {
                    "leaf_index": n + 1,
                    "leaf_hash": leaves[n + 1].hex(),
                    "tree_size": size,
                    "proof": [p.hex() for p in inclusion_proof(leaves, n + 1, size)],
                },
            }
        )
    return message(events, size, root), leaves


def problem(sent: FederationMessage) -> MessageProblem:
    with pytest.raises(MessageProblem) as raised:
        check_part(sent, transfer_part(sent))
    return raised.value


def test_a_part_whose_every_proof_verifies_against_the_checkpoint_is_accepted() -> None:
    sent, _ = transfer()
    checked = check_part(sent, transfer_part(sent))
    assert [c.ref for c in checked] == [f"wessex-county-council/REF-{n}@1" for n in range(3)]
    assert [c.leaf_index for c in checked] == [1, 2, 3]
    assert all(isinstance(c.event, CanonicalEvent) for c in checked)


def with_event(sent: FederationMessage, index: int, **changes: Any) -> FederationMessage:
    events = [dict(e) for e in sent.body["events"]]
    events[index] = {**events[index], **changes}
    return sent.model_copy(update={"body": {**sent.body, "events": events}})


def test_a_proof_that_does_not_verify_names_the_event_s_inclusion() -> None:
    sent, leaves = transfer()
    inclusion = dict(sent.body["events"][2]["inclusion"], leaf_hash=leaves[0].hex())
    found = problem(with_event(sent, 2, inclusion=inclusion))
    assert (found.field, found.reason) == (
        "body.events.2.inclusion",
        "does not verify against the sender's checkpoint",
    )
    # A sibling hash that is not hex at all is a proof that does not verify, not a crash.
    inclusion = dict(sent.body["events"][1]["inclusion"], proof=["zz"])
    assert problem(with_event(sent, 1, inclusion=inclusion)).field == "body.events.1.inclusion"


def test_a_proof_against_another_tree_size_is_refused() -> None:
    sent, leaves = transfer()
    inclusion = {
        "leaf_index": 1,
        "leaf_hash": leaves[1].hex(),
        "tree_size": 4,
        "proof": [p.hex() for p in inclusion_proof(leaves, 1, 4)],
    }
    assert problem(with_event(sent, 0, inclusion=inclusion)).field == (
        "body.events.0.inclusion.tree_size"
    )


def test_an_event_that_is_not_a_canonical_event_or_not_the_one_named_is_refused() -> None:
    sent, _ = transfer()
    bad = dict(sent.body["events"][1]["event"], kind="Nonsense kind")
    found = problem(with_event(sent, 1, event=bad))
    assert found.field == "body.events.1.event.kind" and "Nonsense" not in str(found)
    assert problem(with_event(sent, 0, ref="wessex-county-council/OTHER@1")).field == (
        "body.events.0.ref"
    )
    other_child = dict(sent.body["events"][0]["event"], child={"nhs_number": nhs_number(5)})
    assert problem(with_event(sent, 0, event=other_child)).field == "body.events.0.event.child"


def test_a_body_that_is_not_a_transfer_part_names_the_field() -> None:
    sent, _ = transfer()
    broken = sent.model_copy(update={"body": {**sent.body, "nhs_number": "12"}})
    with pytest.raises(MessageProblem) as raised:
        transfer_part(broken)
    assert raised.value.field == "body.nhs_number"


def test_the_claim_key_of_a_partner_s_event_never_meets_a_local_agency_s() -> None:
    assert claim_key("wessex", "a/B@1") != claim_key("dorset", "a/B@1")
    local = CanonicalEvent.model_validate(event_dict()).idempotency_key
    assert not local.startswith("federation:")


def entry(event: CanonicalEvent, origin: Origin | None, version: int) -> ChronologyEntry:
    return ChronologyEntry(event, NOW, "ab" * 16, version, origin=origin)


def test_a_partner_s_entry_has_its_own_reference_and_is_a_record_of_its_own() -> None:
    ours = CanonicalEvent.model_validate(event_dict(event_id="REF-1", revision=2))
    theirs = CanonicalEvent.model_validate(event_dict(event_id="REF-1", revision=1))
    merged = merge_chronology([entry(ours, None, 1), entry(theirs, WESSEX, 2)])
    refs = {e.ref: e.status.value for e in merged}
    # Same agency id and record id at both hubs: neither supersedes the other.
    assert refs == {
        "shire-county-council/REF-1@2": "current",
        "wessex:shire-county-council/REF-1@1": "current",
    }


def test_the_label_says_which_partnership_and_the_uk_date_it_arrived() -> None:
    assert WESSEX.label("wessex-county-council") == (
        "From Wessex Safeguarding Children Partnership (wessex-county-council), "
        "received from their hub on 1 July 2026"
    )


def test_a_partner_s_allocation_relates_nobody_here_to_the_child() -> None:
    """Even one naming a local worker's id: relationships come from local agencies' events."""
    allocation = CanonicalEvent.model_validate(
        event_dict(
            event_id="ALLOC-1",
            kind="la.worker-allocated",
            categories=[],
            occurred_at=(NOW - timedelta(days=3)).isoformat(),
            recorded_at=(NOW - timedelta(days=3)).isoformat(),
            details={"practitioner_id": "sw-0001", "role": "social-worker"},
        )
    )
    worker = Practitioner(
        "sw-0001", "A Worker", "shire-county-council", AgencyType.LOCAL_AUTHORITY,
        Role.SOCIAL_WORKER,
    )  # fmt: skip
    remote = ChronologySnapshot((entry(allocation, WESSEX, 1),))
    assert _relationships(remote, ()) == ()
    local = ChronologySnapshot((entry(allocation, None, 1),))
    assert [g.practitioner_id for g in _relationships(local, ())] == [worker.id]


def test_the_text_chronology_shows_where_a_partner_s_entry_came_from() -> None:
    from hub.disclosure_release import ShownEntry

    event = CanonicalEvent.model_validate(event_dict())
    values: dict[str, Any] = {
        "ref": "wessex:shire-county-council/REF-0001@1",
        "agency": "wessex-county-council",
        "agency_type": "local-authority",
        "kind": event.kind,
        "categories": [],
        "occurred_at": event.occurred_at,
        "recorded_at": event.occurred_at,
        "received_at": NOW,
        "summary": "Referral",
        "details": {},
        "sensitivity": "standard",
        "status": "current",
        "replaced_by": None,
        "household_ref": None,
        "redacted": [],
        "shielded": [],
        "withheld_from": None,
        "lawful_basis": "public-task",
    }
    shown = ShownEntry(**values, origin=WESSEX)
    text = "\n".join(chronology_lines([shown], width=300))
    assert (
        "From Wessex Safeguarding Children Partnership (wessex-county-council), received "
        "from their hub on 1 July 2026" in text
    )
    assert shown.as_dict()["origin"]["label"] == shown.provenance
    assert ShownEntry(**values).provenance is None
    assert ShownEntry(**values).as_dict()["origin"] is None


def test_a_partner_s_records_are_never_a_local_organisation_s_own() -> None:
    """Both partnerships may register an agency under the same id: a partner's record is
    published by `<hub>:<agency>` to the gate, so neither the own-organisation rule nor a
    publisher's view of its own retracted records applies to a local organisation."""
    from hub.disclosure_release import release_items

    record = CanonicalEvent.model_validate(event_dict(event_id="REF-1"))
    remote, local = entry(record, WESSEX, 1), entry(record, None, 2)
    items = release_items(ChronologySnapshot((remote, local)))
    assert [i.attributes.publisher for i in items] == [
        "wessex:shire-county-council",
        "shire-county-council",
    ]
