"""How a replay reads: durations in hours or England's working days, backfilled entries marked
as such rather than late, what the agencies recorded beside what the hub held, and every time in
UK time with the zone (an event at 00:30 BST is on its own day, not the day before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.domain.latency import EventLatency, duration_text, latency_by_agency
from hub.reports.replay_words import (
    agency_sentence,
    lateness_text,
    not_held_text,
    recorded_and_held,
    replay_text,
    sharing_text,
)

GMT = UTC  # in winter, England's clock is UTC


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (
            datetime(2024, 3, 1, 9, 0, tzinfo=GMT),
            datetime(2024, 3, 1, 9, 0, 30, tzinfo=GMT),
            "under a minute",
        ),
        (
            datetime(2024, 3, 1, 9, 0, tzinfo=GMT),
            datetime(2024, 3, 1, 9, 40, tzinfo=GMT),
            "40 minutes",
        ),
        (datetime(2024, 3, 1, 9, 0, tzinfo=GMT), datetime(2024, 3, 1, 10, 0, tzinfo=GMT), "1 hour"),
        (
            datetime(2024, 3, 1, 9, 0, tzinfo=GMT),
            datetime(2024, 3, 1, 14, 30, tzinfo=GMT),
            "5 hours",
        ),
        # Friday evening to Monday morning: one working day, three calendar days.
        (
            datetime(2024, 3, 1, 17, 0, tzinfo=GMT),
            datetime(2024, 3, 4, 9, 0, tzinfo=GMT),
            "1 working day (3 calendar days)",
        ),
        # Across Easter 2024: Good Friday and Easter Monday are bank holidays in England.
        (
            datetime(2024, 3, 28, 12, 0, tzinfo=GMT),
            datetime(2024, 4, 2, 12, 0, tzinfo=UTC),
            "1 working day (5 calendar days)",
        ),
        (
            datetime(2024, 3, 4, 9, 0, tzinfo=GMT),
            datetime(2024, 3, 6, 12, 0, tzinfo=GMT),
            "2 working days",
        ),
        (
            datetime(2019, 1, 2, 9, 0, tzinfo=GMT),
            datetime(2024, 6, 3, 9, 0, tzinfo=UTC),
            "1,366 working days (about 5 years)",
        ),
        (
            datetime(2024, 3, 1, 11, 0, tzinfo=GMT),
            datetime(2024, 3, 1, 9, 0, tzinfo=GMT),
            "2 hours before",
        ),
    ],
)
def test_a_duration_reads_in_hours_or_working_days(
    start: datetime, end: datetime, text: str
) -> None:
    assert duration_text(start, end) == text


def latency(
    ref: str, hours: float, *, backfilled: bool = False, late: bool = False
) -> EventLatency:
    recorded = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    received = recorded + timedelta(hours=hours)
    return EventLatency(
        ref=ref,
        agency="shire-icb",
        kind="health.was-not-brought",
        occurred_at=recorded,
        recorded_at=recorded,
        received_at=received,
        recording_hours=0.0,
        sharing_hours=hours,
        expectation="within 24 hours of recording",
        late=late,
        backfilled=backfilled,
        sharing_working_days=0,
        sharing_text="backfilled" if backfilled else duration_text(recorded, received),
    )


def test_backfilled_entries_are_counted_apart_from_the_agencys_sharing_figures() -> None:
    figures = latency_by_agency(
        [
            latency("a", 3.0),
            latency("b", 5.0),
            latency("c", 47_516.0, backfilled=True),  # years before the agency joined
        ]
    )["shire-icb"]
    assert figures["events"] == 3 and figures["backfilled"] == 1 and figures["late"] == 0
    assert figures["max_sharing_hours"] == 5.0 and figures["median_sharing_text"] == "4 hours"
    assert figures["longest_sharing_text"] == "5 hours"
    only_backfill = latency_by_agency([latency("c", 47_516.0, backfilled=True)])["shire-icb"]
    assert (
        only_backfill["median_sharing_hours"] is None and only_backfill["shared_through_hub"] == 0
    )


def entry(**fields: Any) -> dict[str, Any]:
    at = "2024-05-31T23:30:00+00:00"  # 00:30 on 1 June 2024 in England (BST)
    return {
        "ref": "shire-constabulary/DA-1@1",
        "agency": "shire-constabulary",
        "agency_type": "police",
        "kind": "police.domestic-abuse-incident",
        "occurred_at": at,
        "recorded_at": at,
        "received_at": "2024-06-01T07:30:00+00:00",
        "summary": "Officers attended overnight; the children were present",
        "status": "current",
        "backfilled": False,
    } | fields


def report(**fields: Any) -> dict[str, Any]:
    held = entry()
    waiting = entry(
        ref="shire-icb/WNB-1@1",
        agency="shire-icb",
        kind="health.was-not-brought",
        received_at="2026-12-06T16:00:00+00:00",
        backfilled=True,
    )
    return {
        "as_of": "2024-06-01T08:00:00+00:00",
        "crossed_the_boundary": {
            "sent": [],
            "received": [],
            "corrections_sent": [],
            "corrections_received": [],
        },
        "agreement_version_in_force": "shire-safeguarding-partnership@2021.1",
        "outcome": "disclosed",
        "denied_reasons": [],
        "recorded_by_agencies": 2,
        "held_by_hub": 1,
        "agencies": [
            {
                "agency": "shire-icb",
                "name": "Shire Integrated Care Board",
                "agency_type": "health",
                "joined_hub_at": "2026-12-06T15:00:00+00:00",
                "joined_by_as_of": False,
                "recorded": 1,
                "held": 0,
                "backfilled": 1,
                "backfill_from": "2026-12-06T16:00:00+00:00",
                "backfill_to": "2026-12-06T16:00:00+00:00",
                "backfill_held_by_as_of": False,
            }
        ],
        "held": [held],
        "known_not_shared": [waiting],
        "latency": [
            {
                **held,
                "late": False,
                "expectation": "before the next school day",
                "sharing_text": "8 hours",
            }
        ],
        "latency_by_agency": {},
        "disclosures": [
            {
                "at": "2024-05-31T23:45:00+00:00",
                "practitioner": "lcpp-0001",
                "role": "lead-child-protection-practitioner",
                "organisation": "shire-county-council",
                "shown": ["shire-constabulary/DA-1@1"],
                "purpose": "child-protection-planning",
                "outcome": "disclosed",
                "break_glass_reason": None,
            }
        ],
        "never_shown": [],
    } | fields


@pytest.mark.parametrize("width", [60, 100, 160])
def test_the_command_line_replay_shows_uk_days_and_times_with_the_zone(width: int) -> None:
    text = replay_text(report(), width)
    assert all(len(line) <= width for line in text.splitlines()), text
    flat = " ".join(text.split())
    assert "1 Jun 2024, 00:30 BST" in flat and "31 May" not in flat and "23:30" not in flat
    assert "2024-05-31" not in flat and "+00:00" not in flat
    assert "Replay as of 1 Jun 2024, 09:00 BST" in flat
    assert "Domestic abuse incident where the child lives" in flat  # the kind in words
    assert "police.domestic-abuse-incident" not in flat
    assert "the agencies had recorded 2 entries about this child; the hub held 1 of them" in flat
    assert "recorded before shire-icb joined the hub" in flat and "backfill" in flat
    assert "1 Jun 2024, 00:45 BST lcpp-0001" in flat  # a disclosure at 00:45 BST


def test_before_any_backfill_the_hub_is_said_to_have_held_nothing_and_why() -> None:
    waiting = report()["known_not_shared"]
    words = recorded_and_held(report(held=[], held_by_hub=0, recorded_by_agencies=1))
    assert "the hub held 0 of it" in words
    assert "reached it only later, in a backfill when each agency joined the hub" in words
    assert not_held_text(waiting[0]).startswith("recorded before shire-icb joined the hub")
    row = report()["agencies"][0]
    sentence = agency_sentence(row, report()["as_of"])
    assert sentence.startswith("Shire Integrated Care Board joined the hub on 6 December 2026.")
    assert "backfill on 6 December 2026" in sentence and "not late" in sentence
    assert "that backfill had not yet arrived" in sentence


def test_a_backfilled_entry_reads_as_backfilled_not_late() -> None:
    row = {"backfilled": True, "late": False, "received_at": "2026-12-06T16:00:00+00:00"}
    assert sharing_text(row) == "backfilled on 6 December 2026"
    assert lateness_text(row) == "Backfilled (not late)"
    assert lateness_text({"late": True}) == "Late"


def test_the_pack_shows_an_event_at_0030_bst_on_its_own_day_in_uk_time() -> None:
    from hub.reports.review_pack import ReviewPack, render_html, render_pdf
    from tests.integration.test_review_pack import pdf_text

    full = {"details": {}, "redacted": [], "shielded": [], "replaced_by": None}
    replay = report(
        held=[entry(**full)],
        known_not_shared=[
            entry(**full, ref="shire-icb/WNB-1@1", agency="shire-icb", backfilled=True)
        ],
        audit_ref="audit-1",
        as_practitioner=None,
        latency_by_agency=latency_by_agency([latency("a", 3.0)]),
    )
    replay["latency"][0] |= {"recording_text": "under a minute"}
    moment = datetime(2024, 6, 1, 7, 0, tzinfo=UTC)
    pack = ReviewPack(
        child="9999939082",
        reviewer="rev-0001",
        generated_at=moment,
        as_of=[moment],
        outcome="disclosed",
        replays=[replay],
        checkpoint={
            "log": "events",
            "size": 1,
            "root": "00" * 32,
            "time": "2024-05-31T23:30:00+00:00",
            "signer": "hub",
            "signature": "00" * 64,
        },
        public_key="00" * 32,
    )
    html, text = render_html(pack), pdf_text(render_pdf(pack))
    for document in (html, text):
        assert "1 Jun 2024, 00:30 BST" in document and "31 May 2024" not in document
        assert "Practice review pack" in document and "Rapid Review" in document
        assert "serious case review" not in document.lower()
        assert "Domestic abuse incident where the child lives" in document
        assert "backfill" in document
