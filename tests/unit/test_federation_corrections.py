"""Corrections across the boundary, the pure parts: which records sent to a partner must be
corrected there (retracted, superseded with the revision to send, or gone from the record by
an identity unlink; each once), the shape of a correction (content only for a revision), the
checks a receiving hub makes of a corrected revision, and the retraction it records for a
record the partner withdrew (saying why, nothing of the record)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, EntryStatus, merge_chronology
from hub.domain.federation import (
    CorrectedItem,
    CorrectionBody,
    FederationMessage,
    MessageProblem,
    corrections_due,
)
from hub.federation_ingest import check_correction, withdrawal_event
from hub.reports.inbox_words import TRANSFER_IN_PLAN, item_lines, item_title
from tests.factories import event_dict

NHS = "9434765919"
AT = datetime(2026, 3, 7, 12, tzinfo=UTC)


def entry(event_id: str, revision: int = 1, **extra: Any) -> ChronologyEntry:
    event = CanonicalEvent.model_validate(
        event_dict(
            event_id=event_id,
            revision=revision,
            child={"nhs_number": NHS},
            summary=f"{event_id} revision {revision}",
            **extra,
        )
    )
    return ChronologyEntry(event, AT, "a" * 32, revision)


def ref(event_id: str, revision: int = 1) -> str:
    return f"{entry(event_id).event.agency.id}/{event_id}@{revision}"


def test_retracted_superseded_and_unlinked_records_sent_are_due_once() -> None:
    held = merge_chronology(
        [
            entry("KEEP"),
            entry("RET"),
            entry("R-1", kind="record.retracted", supersedes={"event_id": "RET"}),
            entry("FIX"),
            entry("FIX", revision=2),
        ]
    )
    sent = [ref("KEEP"), ref("RET"), ref("FIX"), ref("GONE")]  # GONE: an unlinked stream's
    due = corrections_due(sent, [], held)
    assert [(d.ref, d.action) for d in due] == [
        (ref("RET"), "retracted"),
        (ref("FIX"), "superseded"),
        (ref("GONE"), "unlinked"),
    ]
    assert due[1].replacement is not None and due[1].replacement.ref == ref("FIX", 2)
    # Corrected already: not due again; the revision sent in its place is current.
    assert corrections_due([*sent, ref("FIX", 2)], [d.ref for d in due], held) == []


def test_a_superseding_revision_retracted_since_is_sent_as_a_retraction() -> None:
    held = merge_chronology(
        [
            entry("FIX"),
            entry("FIX", revision=2),
            entry("R-1", kind="record.retracted", supersedes={"event_id": "FIX"}),
        ]
    )
    (due,) = corrections_due([ref("FIX")], [], held)
    assert (due.action, due.replacement) == ("retracted", None)


def test_a_record_still_current_is_not_due() -> None:
    assert all(e.status is EntryStatus.CURRENT for e in merge_chronology([entry("A")]))
    assert corrections_due([ref("A")], [], merge_chronology([entry("A")])) == []


def test_only_a_superseding_revision_carries_content() -> None:
    with pytest.raises(ValidationError, match="a superseding revision is carried"):
        CorrectedItem(ref=ref("A"), action="superseded")
    with pytest.raises(ValidationError, match="only a superseding revision"):
        CorrectedItem.model_validate(
            {
                "ref": ref("A"),
                "action": "retracted",
                "event": {
                    "ref": ref("A", 2),
                    "received_at": AT.isoformat(),
                    "event": {},
                    "inclusion": {"leaf_index": 0, "leaf_hash": "0" * 64, "tree_size": 1,
                                  "proof": []},
                },
            }
        )  # fmt: skip
    with pytest.raises(ValidationError):
        CorrectionBody(correction_id="0" * 32, transfer_ids=["t"], nhs_number=NHS, items=[])


def test_a_corrected_revision_must_be_proved_and_a_later_revision_of_the_record() -> None:
    event = entry("FIX", revision=2).event.model_dump(mode="json", exclude_none=True)
    leaf = "ab" * 32  # a one-leaf tree: the root is the leaf
    item: dict[str, Any] = {
        "ref": ref("FIX"),
        "action": "superseded",
        "event": {
            "ref": ref("FIX", 2),
            "received_at": AT.isoformat(),
            "event": event,
            "inclusion": {"leaf_index": 0, "leaf_hash": leaf, "tree_size": 1, "proof": []},
        },
    }
    body = {"correction_id": "0" * 32, "transfer_ids": ["t"], "nhs_number": NHS}
    message = FederationMessage(
        id="1" * 32, type="correction", sender="shire", recipient="wessex", sent_at=AT,
        agreement_version="v1",
        checkpoint={"log": "events", "size": 1, "root": leaf, "time": AT.isoformat(),
                    "signer": "k", "signature": "0" * 128},
        body={**body, "items": [item]}, signer="k",
    )  # fmt: skip
    parsed = CorrectionBody.model_validate(message.body)
    assert check_correction(message, parsed)[0].ref == ref("FIX", 2)

    older = {**item, "ref": ref("FIX", 2)}  # "corrected" by the same revision
    parsed = CorrectionBody.model_validate({**body, "items": [older]})
    with pytest.raises(MessageProblem) as problem:
        check_correction(message, parsed)
    assert problem.value.field == "body.items.0.event.ref"

    unproved = {**item, "event": {**item["event"], "inclusion": {
        "leaf_index": 0, "leaf_hash": "cd" * 32, "tree_size": 1, "proof": []}}}  # fmt: skip
    parsed = CorrectionBody.model_validate({**body, "items": [unproved]})
    with pytest.raises(MessageProblem) as problem:
        check_correction(message, parsed)
    assert problem.value.field == "body.items.0.event.inclusion"


@pytest.mark.parametrize(
    ("action", "words"),
    [("retracted", "its publisher retracted"), ("unlinked", "about another child")],
)
def test_a_withdrawal_retracts_the_record_saying_why_and_nothing_of_it(
    action: str, words: str
) -> None:
    withdrawn = entry("RET").event
    retraction = withdrawal_event(withdrawn, action, "Shire Partnership", AT)
    assert retraction.kind == "record.retracted"
    assert retraction.supersedes is not None and retraction.supersedes.event_id == "RET"
    assert words in retraction.summary and "RET revision" not in retraction.summary
    assert retraction.summary.startswith("Withdrawn by Shire Partnership")


def test_a_correction_item_says_what_changed_in_words() -> None:
    what = [{"kind": "record.retracted", "agency_name": "A"}, {"kind": "la.contact",
            "agency_name": "A"}]  # fmt: skip
    title = item_title({"type": "correction", "shared": True, "what": what})
    assert title == (
        "Another partnership's hub changed what you saw: 1 record withdrawn and 1 record "
        "corrected (open the record to see which)."
    )


def test_records_arrived_from_a_partnership_say_whom_to_ask_and_what_a_plan_means() -> None:
    transfer = {
        "partnership": "Wessex Safeguarding Children Partnership",
        "contact": "Wessex MASH, 01234 567890",
        "received_at": "2026-07-01T08:30:00+00:00",
    }
    plan = [{"kind": "la.cp-plan-started", "agency_name": "w"}, {"kind": "la.contact",
            "agency_name": "w"}]  # fmt: skip
    item = {"type": "transfer", "shared": True, "what": plan, "transfer": transfer}
    assert item_title(item) == (
        "2 records about this child arrived from Wessex Safeguarding Children Partnership's "
        "hub on 1 Jul 2026, 09:30 BST: the child has moved into this area."
    )
    assert item_lines(item) == ["Contact there: Wessex MASH, 01234 567890.", TRANSFER_IN_PLAN]
    ended = [*plan, {"kind": "la.cp-plan-ended", "agency_name": "w"}]
    assert item_lines({**item, "what": ended}) == ["Contact there: Wessex MASH, 01234 567890."]
    assert item_lines({**item, "shared": False}) == []
