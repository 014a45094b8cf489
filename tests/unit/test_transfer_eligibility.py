"""When a move out of the area makes a transfer to a partner hub due (hub/domain/transfer.py):
the move names, by DfE number, a local authority an active partner covers, and the child had
an open child protection plan, child in need plan, or was looked after on the day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.federation import PartnerRegister
from hub.domain.transfer import move_of, open_involvement, transfer_due
from tests.factories import event_dict

KEY = "ab" * 32
REGISTER = PartnerRegister.model_validate(
    {
        "format": "hub-federation-register-v1",
        "this_hub": {
            "id": "shire",
            "name": "Shire Safeguarding Children Partnership",
            "contact": "Shire MASH",
            "kafka": {"bootstrap": ["localhost:9092"], "topic": "hub.federation.shire"},
        },
        "partners": [
            {
                "id": "wessex",
                "name": "Wessex Safeguarding Children Partnership",
                "contact": "Wessex MASH",
                "public_key": KEY,
                "kafka": {"bootstrap": ["localhost:9092"], "topic": "hub.federation.wessex"},
                "agreement_version": "shire-wessex-2026.1",
                "active_from": "2025-01-01",
                "local_authorities": ["990", "991"],
            },
            {
                "id": "mercia",
                "name": "Mercia Safeguarding Children Partnership",
                "contact": "Mercia MASH",
                "public_key": "cd" * 32,
                "kafka": {"bootstrap": ["localhost:9092"], "topic": "hub.federation.mercia"},
                "agreement_version": "shire-mercia-2026.1",
                "active_from": "2026-01-01",
                "local_authorities": ["992"],
            },
        ],
    }
)
_serial = 0


def entry(
    kind: str, day: str, details: dict[str, Any] | None = None, **kwargs: Any
) -> ChronologyEntry:
    global _serial
    _serial += 1
    event = CanonicalEvent.model_validate(
        event_dict(
            event_id=f"LCS-{_serial}",
            kind=kind,
            categories=[],
            occurred_at=f"{day}T10:00:00+00:00",
            recorded_at=f"{day}T11:00:00+00:00",
            details=details or {},
        )
    )
    return ChronologyEntry(event, datetime(2025, 6, 1, tzinfo=UTC), "a" * 32, _serial, **kwargs)


def moved(day: str = "2025-04-15", code: str | None = "990", **kwargs: Any) -> ChronologyEntry:
    details: dict[str, Any] = {"moved_on": day}
    if code is not None:
        details["receiving_la_code"] = code
    return entry("la.moved-out-of-area", day, details, **kwargs)


def cp_plan(day: str) -> ChronologyEntry:
    return entry("la.cp-plan-started", day, {"category": "neglect"})


def test_a_move_to_a_partner_s_area_with_an_open_protection_plan_is_due() -> None:
    move = moved()
    decision = transfer_due(move, [cp_plan("2025-01-10"), move], REGISTER)
    assert decision.due and decision.partner is not None and decision.partner.id == "wessex"
    assert decision.reason == (
        "moved on 15 April 2025 to local authority 990, which Wessex Safeguarding Children "
        "Partnership covers, with a child protection plan (from 10 January 2025)"
    )
    assert move_of(move) is not None and move_of(move).ref == move.ref  # type: ignore[union-attr]


def test_a_plan_ended_before_the_move_is_not_open() -> None:
    move = moved()
    ended = entry("la.cp-plan-ended", "2025-03-01")
    decision = transfer_due(move, [cp_plan("2025-01-10"), ended, move], REGISTER)
    assert not decision.due
    assert "no child protection plan or child in need plan open" in decision.reason
    # A plan started again after it ended is open.
    again = transfer_due(move, [cp_plan("2024-01-10"), ended, cp_plan("2025-04-01")], REGISTER)
    assert again.due


def test_a_plan_ended_after_the_move_was_open_on_the_day() -> None:
    move = moved()
    ended = entry("la.cp-plan-ended", "2025-05-01")
    assert transfer_due(move, [cp_plan("2025-01-10"), ended], REGISTER).due


def test_looked_after_until_ceased_or_a_care_leaver() -> None:
    move = moved()
    looked_after = entry("la.looked-after", "2024-06-01", {"legal_status": "s31"})
    decision = transfer_due(move, [looked_after], REGISTER)
    assert decision.due and "being looked after (from 1 June 2024)" in decision.reason
    ceased = entry(
        "la.ceased-looked-after", "2025-04-20", {"reason": "E13", "ceased_on": "2025-04-10"}
    )
    assert not transfer_due(move, [looked_after, ceased], REGISTER).due  # ceased on 10 April
    leaver = entry("la.care-leaver-status", "2025-02-01")
    assert not transfer_due(move, [looked_after, leaver], REGISTER).due


def test_a_child_in_need_plan_in_the_last_twelve_months_counts_as_open() -> None:
    move = moved()
    recent = entry("la.child-in-need-plan", "2024-05-01")
    decision = transfer_due(move, [recent], REGISTER)
    assert decision.due
    assert "a child in need plan (last started or reviewed 1 May 2024)" in decision.reason
    stale = entry("la.child-in-need-plan", "2024-04-15")  # exactly a year before: not open
    assert not transfer_due(move, [stale], REGISTER).due
    assert open_involvement([recent], date(2025, 4, 15)) == [
        "a child in need plan (last started or reviewed 1 May 2024)"
    ]


def test_only_current_entries_count() -> None:
    move = moved()
    superseded = ChronologyEntry(
        cp_plan("2025-01-10").event,
        datetime(2025, 6, 1, tzinfo=UTC),
        "a" * 32,
        99,
        EntryStatus.SUPERSEDED,
    )
    retracted = ChronologyEntry(
        cp_plan("2025-01-11").event,
        datetime(2025, 6, 1, tzinfo=UTC),
        "a" * 32,
        100,
        EntryStatus.RETRACTED,
    )
    assert not transfer_due(move, [superseded, retracted], REGISTER).due
    retracted_move = moved(status=EntryStatus.RETRACTED)
    decision = transfer_due(retracted_move, [cp_plan("2025-01-10")], REGISTER)
    assert (decision.due, decision.reason) == (False, "the move was corrected or retracted")


@pytest.mark.parametrize(
    ("move", "reason"),
    [
        (
            moved(code=None),
            "the move does not give the receiving local authority's DfE number",
        ),
        (moved(code="880"), "no partner hub covers local authority 880"),
        (
            moved(code="992"),  # Mercia is a partner from 1 January 2026 only
            "Mercia Safeguarding Children Partnership was not an active partner on 15 April 2025",
        ),
        (entry("la.strategy-discussion", "2025-04-15"), "it is not a move out of the area"),
    ],
)
def test_a_move_nobody_covers_is_not_due_and_says_why(move: ChronologyEntry, reason: str) -> None:
    decision = transfer_due(move, [cp_plan("2025-01-10")], REGISTER)
    assert (decision.due, decision.reason) == (False, reason)


def test_the_register_says_who_covers_an_authority_and_refuses_bad_numbers() -> None:
    covering = REGISTER.covering("991")
    assert covering is not None and covering.id == "wessex"
    assert REGISTER.covering("880") is None
    document = REGISTER.model_dump(mode="json")
    document["partners"][1]["local_authorities"] = ["990"]
    with pytest.raises(ValueError, match="a local authority is listed under two partner hubs"):
        PartnerRegister.model_validate(document)
    document["partners"][1]["local_authorities"] = ["99A"]
    with pytest.raises(ValueError, match="three digits"):
        PartnerRegister.model_validate(document)
