"""The chronology page's renderers: key facts per kind, the picture, the exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import docx

from hub.api.chronology_views import relationship_words
from hub.chronology_header import ChildHeader
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.chronology import PatternFlag
from hub.domain.markers import REDACTED
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action
from hub.reports.chronology_exports import ExportPart, chronology_csv, chronology_docx
from hub.reports.chronology_picture import picture
from hub.reports.key_facts import detail_words, key_facts, key_facts_text

LA, POLICE = "shire-county-council", "shire-constabulary"
AT = datetime(2024, 3, 7, 7, 40, tzinfo=UTC)


def entry(ref: str, kind: str, when: datetime, agency: str = POLICE, **fields: Any) -> ShownEntry:
    values: dict[str, Any] = {
        "ref": ref,
        "agency": agency,
        "agency_type": "police" if agency == POLICE else "local-authority",
        "kind": kind,
        "categories": [],
        "occurred_at": when,
        "recorded_at": when,
        "received_at": when,
        "summary": "s",
        "details": {},
        "sensitivity": "standard",
        "status": "current",
        "replaced_by": None,
        "household_ref": None,
        "redacted": [],
        "shielded": [],
        "withheld_from": None,
        "lawful_basis": None,
    }
    return ShownEntry(**(values | fields))


def test_the_facts_that_matter_for_a_kind_in_words() -> None:
    visit = {"reason": "r", "child_seen": True, "child_spoken_to": False}
    assert key_facts_text("police.home-visit", visit) == "Child seen: yes; spoken to: no"
    assert key_facts("police.home-visit", {"child_seen": REDACTED}) == [("Child seen", REDACTED)]
    assert key_facts("police.home-visit", {}) == []  # a field not released gives no fact
    named = key_facts("la.worker-allocated", {"practitioner_id": "sw-1", "role": "social-worker"},
                      {"sw-1": "Tomasz Brennan"}.get)  # fmt: skip
    assert named == [("Worker", "Tomasz Brennan"), ("Role", "social worker")]
    assert key_facts("la.looked-after", {"legal_status": "interim-care-order"}) == [
        ("Legal status", "interim care order")
    ]
    assert key_facts("health.was-not-brought", {"appointment_type": "1-year review"})[0] == (
        "Appointment",
        "1-year review",
    )
    assert key_facts("la.contact", {"anything": 1}) == []


def test_the_picture_has_a_lane_per_agency_a_mark_per_entry_and_bands() -> None:
    entries = [
        entry("p/1", "police.home-visit", AT, categories=["neglect"]),
        entry("l/1", "la.cp-plan-started", datetime(2025, 7, 9, tzinfo=UTC), LA),
        entry("l/2", "la.cp-plan-ended", datetime(2025, 12, 9, tzinfo=UTC), LA),
        entry("l/3", "la.looked-after", datetime(2025, 8, 1, tzinfo=UTC), LA),
        entry("l/4", "la.contact", datetime(2023, 1, 1, tzinfo=UTC), LA),
    ]
    flag = PatternFlag("child-not-seen", "d", ("p/1",), AT, AT)
    drawn = picture(entries, [flag], {POLICE: "Shire Constabulary"}, date(2026, 12, 6))
    assert [(lane.label, lane.count) for lane in drawn.lanes] == [
        (LA, 4),
        ("Shire Constabulary", 1),
    ]
    shapes = {m.anchor_ref: (m.shape, m.flagged) for m in drawn.markers}
    assert shapes == {
        "p/1": ("concern", True),
        "l/1": ("status", False),
        "l/2": ("status", False),
        "l/3": ("status", False),
        "l/4": ("other", False),
    }
    bands = {(b.label, b.start, b.end) for b in drawn.bands}
    assert bands == {
        ("Child protection plan", date(2025, 7, 9), date(2025, 12, 9)),
        ("Looked after", date(2025, 8, 1), None),
    }
    assert len(drawn.windows) == 1
    xs = sorted(m.x for m in drawn.markers)
    assert all(200 <= x <= drawn.width for x in xs)  # right of the lane labels, inside
    assert picture([], [], {}, date(2026, 12, 6)).empty


def view(entries: list[ShownEntry]) -> ChronologyView:
    viewer = Practitioner("lcpp-0001", "Morag Ellison", LA, AgencyType.LOCAL_AUTHORITY,
                          Role.LEAD_CHILD_PROTECTION_PRACTITIONER)  # fmt: skip
    purpose = Purpose.CHILD_PROTECTION_PLANNING
    return ChronologyView("9999939082", viewer, purpose, Action.EXPORT, "a@1", "disclosed",
                          None, None, entries=entries, audit_ref="x@1")  # fmt: skip


def test_exports_say_what_the_viewer_sees_in_words_and_escape_formulas() -> None:
    entries = [
        entry(
            "p/1",
            "police.home-visit",
            AT,
            summary='=HYPERLINK("http://x")',
            details={"child_seen": True, "child_spoken_to": False, "reason": REDACTED},
            redacted=["details.reason"],
        ),
    ]
    header = ChildHeader("9999939082", name="Madison Greenhalgh", date_of_birth="2 June 2020")
    part = ExportPart(view(entries), header, entries)
    names = {POLICE: "Shire Constabulary"}
    text = chronology_csv([part], names, None, "Morag Ellison (lcpp-0001)", AT)
    rows = list(csv.reader(io.StringIO(text)))
    columns = rows.index(next(r for r in rows if r and r[0] == "Child"))
    row = dict(zip(rows[columns], rows[columns + 1], strict=True))
    assert row["Summary"] == '\'=HYPERLINK("http://x")'
    assert row["Occurred (UK time)"] == "7 Mar 2024, 07:40 GMT"
    assert row["Agency"] == "Shire Constabulary" and row["Key facts"].startswith("Child seen: yes")
    assert row["What happened"] == "Police visit to the home (child seen and spoken to?)"
    assert row["Details"] == "Child seen: yes; Child spoken to: no; Reason: [redacted]"
    assert row["Not shown to you"] == "redacted by the agreement: Reason"
    document = docx.Document(
        io.BytesIO(chronology_docx([part], names, None, "Morag Ellison (lcpp-0001)", AT))
    )
    who, timeline = document.tables
    assert who.rows[0].cells[1].text == "Madison Greenhalgh"
    assert [c.text for c in timeline.rows[1].cells][:3] == [
        "7 Mar 2024, 07:40 GMT",
        "Shire Constabulary",
        "Police visit to the home (child seen and spoken to?)",
    ]


def test_details_and_the_relationship_in_words() -> None:
    names = {"sw-1": "Tomasz Brennan"}.get
    assert detail_words("la.looked-after", "legal_status", "interim-care-order") == (
        "interim care order"
    )
    assert detail_words("la.worker-allocated", "practitioner_id", "sw-1", names) == (
        "Tomasz Brennan"
    )
    assert detail_words("la.child-details", "date_of_birth", "2020-06-02") == "2 June 2020"
    said = detail_words("police.domestic-abuse-incident", "child_voice", "I was scared")
    assert said == "I was scared"  # free text as given
    assert detail_words("police.home-visit", "reason", REDACTED) == REDACTED
    assert detail_words("la.child-details", "address", {"postcode": "SH1"}) == {"postcode": "SH1"}
    said = relationship_words("macpt-member via shire-county-council/LCS-1", {LA: "Shire Council"})
    assert said == (
        "You are in the multi-agency child protection team working with the child "
        "(from Shire Council's record LCS-1)"
    )
    assert relationship_words(None, {}) == "None"
