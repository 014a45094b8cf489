"""Coded details of the children in care, care leaver and education kinds (issue 23) are read in
words wherever a person reads an entry's details: the chronology page, its CSV export, the
subject access pack, and every other template that lists details (`key_facts.details_words`)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub.api.chronology_views import Filters, Held, view_context
from hub.api.page_kit import page_templates
from hub.chronology_header import ChildHeader
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.markers import REDACTED
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action
from hub.reports import subject_access_pack
from hub.reports.chronology_exports import ExportPart, chronology_csv
from hub.reports.key_facts import detail_words, details_words
from hub.subject_access_cases import Pack

LA, SCHOOL, HEALTH = "shire-county-council", "oakfield-primary", "shire-icb"
AT = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
AGENCY_TYPES = {LA: "local-authority", SCHOOL: "education", HEALTH: "health"}

# kind, agency, details, (words that must be shown), (bare codes that must not be)
CODED: list[tuple[str, str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = [
    (
        "la.ceased-looked-after",
        LA,
        {"reason": "E11", "ceased_on": "2025-02-03"},
        ("Adopted - application for an adoption order unopposed (E11)", "3 February 2025"),
        ("E11", "2025-02-03"),
    ),
    (
        "la.ceased-looked-after",
        LA,
        {"reason": "E45", "ceased_on": "2025-02-03"},
        ("Special guardianship order made to former foster carer(s), who are relatives or",),
        ("E45",),
    ),
    (
        "la.care-leaver-accommodation",
        LA,
        {"accommodation": "D", "suitable": True, "recorded_on": "2025-02-03"},
        ("Semi-independent, transitional or self-contained accommodation with support (D)",),
        ("D", "True", "true"),
    ),
    (
        "la.care-leaver-activity",
        LA,
        {
            "activity": "F2",
            "in_education_employment_or_training": True,
            "recorded_on": "2025-02-03",
        },
        ("Full time in education other than higher education (F2)",),
        ("F2",),
    ),
    (
        "la.care-leaver-activity",
        LA,
        {"activity": "G5", "recorded_on": "2025-02-03"},
        ("Not in education, employment or training: other circumstances (G5)",),
        ("G5",),
    ),
    (
        "education.elective-home-education-ended",
        SCHOOL,
        {"ended_on": "2025-02-03", "reason": "returned-to-school"},
        ("Returned to school",),
        ("returned-to-school",),
    ),
    (
        "health.looked-after-dental-check",
        HEALTH,
        {"completed_on": "2025-02-03"},
        ("3 February 2025",),
        ("2025-02-03",),
    ),
]
IDS = [f"{kind}-{'-'.join(map(str, details.values()))}" for kind, _, details, _, _ in CODED]


def shown(ref: str, kind: str, agency: str, details: dict[str, Any]) -> ShownEntry:
    return ShownEntry(
        ref=ref,
        agency=agency,
        agency_type=AGENCY_TYPES[agency],
        kind=kind,
        categories=[],
        occurred_at=AT,
        recorded_at=AT,
        received_at=AT,
        summary="s",
        details=details,
        sensitivity="standard",
        status="current",
        replaced_by=None,
        household_ref=None,
        redacted=[],
        shielded=[],
        withheld_from=None,
        lawful_basis=None,
    )


def view(entries: list[ShownEntry]) -> ChronologyView:
    viewer = Practitioner("lcpp-0001", "Morag Ellison", LA, AgencyType.LOCAL_AUTHORITY,
                          Role.LEAD_CHILD_PROTECTION_PRACTITIONER)  # fmt: skip
    purpose = Purpose.CHILD_PROTECTION_PLANNING
    return ChronologyView("9999939082", viewer, purpose, Action.VIEW, "a@1", "disclosed",
                          None, None, entries=entries, audit_ref="x@1")  # fmt: skip


def timeline_html(entries: list[ShownEntry]) -> str:
    """The chronology page's timeline, rendered from the page's own context and template."""
    held = Held([view(entries)], AT)
    context = view_context(
        held, [ChildHeader("9999939082")], Filters(), {}, lambda _: None, date(2025, 3, 1)
    )
    env = page_templates().env
    template = env.from_string('{% import "_macros.html" as m %}{% include "_timeline.html" %}')
    return template.render(**context, key="k", session=SimpleNamespace(csrf="c"))


def shown_text(html: str) -> list[str]:
    """Each piece of text between tags, stripped."""
    return [t.strip() for t in re.split(r"<[^>]+>", html) if t.strip()]


@pytest.mark.parametrize(("kind", "agency", "details", "words", "codes"), CODED, ids=IDS)
def test_the_chronology_page_shows_each_coded_detail_in_words(
    kind: str, agency: str, details: dict[str, Any], words: tuple[str, ...], codes: tuple[str, ...]
) -> None:
    html = timeline_html([shown("r/1", kind, agency, details)])
    texts = shown_text(html)
    for said in words:
        assert any(said in t for t in texts), said
    for code in codes:
        assert code not in texts, f"the bare code {code!r} is shown"


def test_a_care_leavers_suitable_accommodation_reads_suitable_yes() -> None:
    details = {"accommodation": "S", "suitable": False, "recorded_on": "2025-02-03"}
    html = timeline_html([shown("r/1", "la.care-leaver-accommodation", LA, details)])
    assert re.search(r"<dt>Suitable</dt><dd>no</dd>", html)
    assert re.search(r"Suitable:</span> <strong>no</strong>", html)
    said = details_words("la.care-leaver-accommodation", details | {"suitable": True})
    assert said["suitable"] == "yes"


@pytest.mark.parametrize(("kind", "agency", "details", "words", "codes"), CODED, ids=IDS)
def test_the_csv_export_says_each_coded_detail_in_words(
    kind: str, agency: str, details: dict[str, Any], words: tuple[str, ...], codes: tuple[str, ...]
) -> None:
    entries = [shown("r/1", kind, agency, details)]
    part = ExportPart(view(entries), ChildHeader("9999939082"), entries)
    text = chronology_csv([part], {}, None, "Morag Ellison (lcpp-0001)", AT)
    rows = list(csv.reader(io.StringIO(text)))
    columns = rows.index(next(r for r in rows if r and r[0] == "Child"))
    row = dict(zip(rows[columns], rows[columns + 1], strict=True))
    for said in words:
        assert said in row["Details"], said
    values = [item.partition(": ")[2] for item in row["Details"].split("; ")]
    for code in codes:
        assert code not in values, f"the bare code {code!r} is exported"


def test_the_code_means_what_the_kind_says_free_text_stays_as_given() -> None:
    # `reason` is an SSDA903 code only where the kind says so: on a police visit it is free text.
    assert detail_words("police.home-visit", "reason", "E11") == "E11"
    assert detail_words("identity.unlinked", "reason", "returned-to-school") == (
        "returned-to-school"
    )
    # An unknown code is shown as sent rather than guessed at; a marker stays a marker.
    assert detail_words("la.ceased-looked-after", "reason", "E44") == "E44"
    assert detail_words("la.ceased-looked-after", "reason", REDACTED) == REDACTED
    assert details_words("education.elective-home-education-ended", {"reason": "other"}) == {
        "reason": "Other reason"
    }


def sar_document(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "case": "SAR-2025-0001",
        "child": "9999939082",
        "requester": {"name": "Jo Smith", "basis_text": "the child's parent"},
        "received": "2025-02-01",
        "due": "2025-03-01",
        "generated_at": "2025-02-10T10:00:00+00:00",
        "generated_by": {"name": "Priya Shah", "organisation": "Shire County Council"},
        "agreement_version": "a@1",
        "audit_ref": "x@1",
        "records": records,
        "not_included": [],
        "withheld_by_publishers": [],
        "disclosed_to": [],
        "break_glass": [],
    }


def test_the_subject_access_pack_says_codes_and_kinds_in_words() -> None:
    records = [
        {
            "ref": f"r/{n}",
            "agency": agency,
            "kind": kind,
            "occurred_at": AT.isoformat(),
            "status": "current",
            "summary": "s",
            "details": details,
        }
        for n, (kind, agency, details, _, _) in enumerate(CODED)
    ]
    html = subject_access_pack.render_html(Pack(None, sar_document(records)))  # type: ignore[arg-type]
    for _, _, _, words, _ in CODED:
        for said in words:
            assert said in html, said
    assert "Reason: E11;" not in html and "Activity: G5" not in html
    assert "Suitable: yes" in html
    assert "(Child ceased to be looked after)" in html and "(la.ceased-looked-after)" not in html


TEMPLATES = [
    *Path("hub/api/templates").glob("*.html"),
    *Path("hub/reports/templates").glob("*.html"),
]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_template_lists_an_entrys_details_without_putting_them_in_words(template: Path) -> None:
    # Each lists them through `in_words` (or, on the chronology page, the view's detail_words).
    raw = re.findall(r"\.details\.items\(\)", template.read_text())
    assert not raw, f"{template} lists details as stored; use `details | in_words(kind)`"
