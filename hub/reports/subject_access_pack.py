"""The subject access pack as files: JSON (the machine form) and PDF (what the requester reads).

Both are written from the one pack document `SubjectAccessService.pack` released through the
disclosure gate (audited), so they hold exactly what was decided for release. The PDF is plain
text in the core fonts, like the review pack, with a title, subject, language and
an outline (bookmarks) of its sections for assistive technology and navigation; times are UK
time with the zone, dates in words. File names are left to the caller: nothing here puts
personal data in one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hub.reports.rendering import latin1
from hub.reports.rendering import readable_label as label
from hub.reports.rendering import when_text as when
from hub.subject_access_cases import Pack

TITLE = "Response to a subject access request"


def render_json(pack: Pack) -> str:
    return json.dumps(pack.document, indent=2, ensure_ascii=False, default=str) + "\n"


def _day(text: str) -> str:
    day = date.fromisoformat(text)
    return f"{day.day} {day:%B %Y}"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else str(value)


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"{TITLE} - page {self.page_no()}/{{nb}}", align="C")

    def heading(self, text: str, level: int = 0) -> None:
        self.ln(4 if level == 0 else 2)
        self.start_section(latin1(text), level=level)
        self.para(text, style="B", size={0: 15, 1: 12}.get(level, 10.5))

    def para(self, text: Any, *, style: str = "", size: float = 10) -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(self.epw, size * 0.5, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def facts(self, rows: Sequence[tuple[str, Any]]) -> None:
        for key, value in rows:
            self.para(f"{key}: {_value(value) or '-'}")


def render_pdf(pack: Pack) -> bytes:
    """The response as the requester reads it: who asked and when, each record released (with
    what was redacted or shielded and why), what was not included and why, and to whom the
    child's information was disclosed."""
    doc = pack.document
    pdf = _Pdf(format="A4")
    pdf.set_title(TITLE)
    pdf.set_subject(f"Subject access request {doc['case']}")
    pdf.set_author(latin1(doc["generated_by"]["organisation"]))
    pdf.set_creator("safeguarding hub")
    pdf.set_lang("en-GB")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.heading(TITLE)
    requester = doc["requester"]
    pdf.facts(
        [
            ("Request", doc["case"]),
            ("About the child", doc["child"]),
            ("Requested by", f"{requester['name']} ({requester['basis_text']})"),
            ("Authority seen", requester.get("authority") or "not needed"),
            ("Received", _day(doc["received"])),
            ("Due", _day(doc["due"])),
            ("Prepared", when(doc["generated_at"])),
            (
                "Prepared by",
                f"{doc['generated_by']['name']}, data protection officer, "
                f"{doc['generated_by']['organisation']}",
            ),
            ("Information sharing agreement", doc["agreement_version"]),
            ("Audit reference of this release", doc["audit_ref"]),
        ]
    )
    pdf.heading("The records", 1)
    records = doc["records"]
    if not records:
        pdf.para("No records are released in this response.")
    pdf.para(
        "Each record below is as the agency that holds it shared it with the hub. [redacted] "
        "marks information taken out of this response, [shielded] information the agency "
        "protects in every copy (for example an address that must stay private)."
    )
    for record in records:
        _record(pdf, record)
    pdf.heading("Information not included", 1)
    left_out = doc["not_included"]
    if not left_out and not doc["withheld_by_publishers"]:
        pdf.para("Nothing was left out of this response.")
    for note in left_out:
        items = note["items"]
        pdf.para(
            f"{items} record{'s' if items != 1 else ''}: {note['label']} ({note['reference']})."
        )
    for withheld in doc["withheld_by_publishers"]:
        pdf.para(f"A record held by {withheld['agency']}: {withheld['note']}.")
    pdf.heading("Who the child's information was shared with", 1)
    if not doc["disclosed_to"]:
        pdf.para("The hub has no record of sharing this child's information with anyone.")
    for shared in doc["disclosed_to"]:
        pdf.para(
            f"{when(shared['at'])}: {shared['organisation']} ({label(shared['role'])}), for "
            f"{label(shared['purpose'])}, lawful basis {label(shared['lawful_basis'])}, "
            f"{shared['items']} record{'s' if shared['items'] != 1 else ''}."
        )
    if doc["break_glass"]:
        pdf.heading("Emergency access", 1)
        for grant in doc["break_glass"]:
            pdf.para(f"{when(grant['at'])}: emergency access was used. Reason: {grant['reason']}")
    return bytes(pdf.output())


def _record(pdf: _Pdf, record: dict[str, Any]) -> None:
    occurred = record.get("occurred_at")
    heading = f"{when(occurred) if occurred else ''} - {record['agency']} ({record['kind']})"
    pdf.para(heading, style="B")
    pdf.para(f"Reference {record['ref']}; status {label(record.get('status'))}", size=8.5)
    if record.get("summary") is not None:
        pdf.para(f"Summary: {record['summary']}")
    details = record.get("details") or {}
    if details:
        pdf.para(
            "Details: " + "; ".join(f"{label(k)}: {_value(v)}" for k, v in details.items()),
            size=9,
        )
    redacted = ", ".join(label(f.removeprefix("details.")) for f in record.get("redacted") or [])
    if redacted:
        why = record.get("redaction_exemption") or "information about other people"
        pdf.para(f"Redacted: {redacted} (under {why}).", style="I", size=9)
    shielded = ", ".join(label(f.removeprefix("details.")) for f in record.get("shielded") or [])
    if shielded:
        pdf.para(f"Shielded by the agency: {shielded}.", style="I", size=9)
    pdf.ln(1)
