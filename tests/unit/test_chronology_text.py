"""The chronology as text: every summary shown in full at any terminal width (before, a narrow
terminal lost the summary column, and the demo printed kind codes only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.disclosure_release import ShownEntry
from hub.domain.markers import RETRACTED
from hub.reports.chronology_text import chronology_lines, header_lines
from hub.reports.rendering import kind_text

SUMMARY = (
    "Officers attended a domestic incident at the family home overnight; the children were "
    "present and were not spoken to; mother declined a referral to the refuge service"
)


def entry(**fields: Any) -> ShownEntry:
    at = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July in England (BST)
    base: dict[str, Any] = {
        "ref": "shire-constabulary/N-1@1",
        "agency": "shire-constabulary",
        "agency_type": "police",
        "kind": "police.domestic-abuse-incident",
        "categories": ["domestic-abuse"],
        "occurred_at": at,
        "recorded_at": at + timedelta(days=3),
        "received_at": at + timedelta(days=3),
        "summary": SUMMARY,
        "details": {},
        "sensitivity": "sensitive",
        "status": "current",
        "replaced_by": None,
        "household_ref": None,
        "redacted": [],
        "shielded": [],
        "withheld_from": None,
        "lawful_basis": "legal-obligation",
    }
    return ShownEntry(**(base | fields))


@pytest.mark.parametrize("width", [40, 60, 80, 100, 140, 220])
def test_every_word_of_every_summary_is_shown_within_the_width(width: int) -> None:
    entries = [
        entry(),
        entry(agency="school-100001", kind="education.enrolled", summary="Started in Reception"),
        entry(status="superseded", replaced_by="N-1@2", redacted=["details.police_reference"]),
    ]
    lines = chronology_lines(entries, width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    words = " ".join(lines).split()
    for shown in entries:
        assert shown.agency in words and shown.kind not in words  # in words, not codes
        assert all(word in words for word in kind_text(shown.kind).split())
        assert all(word in words for word in (shown.summary or "").split())
    assert words.count("2024-07-02") == 3 and words.count("BST") == 3  # the day in England
    assert "recorded 2024-07-05" in " ".join(words)  # recorded days later (UK date): said
    assert "superseded by N-1@2; redacted: details.police_reference]" in " ".join(words)


def test_a_wide_terminal_gets_one_row_per_short_entry() -> None:
    short = entry(summary="Mother taken to hospital", recorded_at=entry().occurred_at)
    (line,) = chronology_lines([short], 180)
    assert " ".join(line.split()) == (
        "2024-07-02 00:30 BST shire-constabulary Domestic abuse incident where the child lives "
        "(Operation Encompass) "
        "Mother taken to hospital"
    )


def test_a_retracted_entry_says_so_and_nothing_it_said() -> None:
    retracted = entry(kind=RETRACTED, summary=RETRACTED, status="retracted")
    text = " ".join(chronology_lines([retracted], 80))
    assert "retracted by the agency that shared it" in text and SUMMARY not in text


def test_the_header_says_who_the_child_is_within_the_width_and_what_was_not_shared() -> None:
    from hub.chronology_header import AgencyContact, ChildHeader

    header = ChildHeader(
        identifier="9999939082",
        name="Madison Greenhalgh",
        date_of_birth="2 June 2020",
        age="6 years",
        statuses=["On a child protection plan since 9 July 2025"],
        agencies=[AgencyContact("shire-icb", "health", "Shire ICB", "01632 960003")],
    )
    lines = header_lines(header, 40)
    assert all(len(line) <= 40 for line in lines), "\n".join(lines)
    text = " ".join(" ".join(lines).split())
    assert text.startswith("Madison Greenhalgh; born 2 June 2020 (6 years); NHS number")
    assert "allocated worker: none shown to you" in text
    assert "agencies involved: Shire ICB (01632 960003)" in text
    hidden = " ".join(header_lines(ChildHeader(identifier="9999939082"), 100))
    assert "name not shared with you; date of birth not shared with you" in hidden
