"""A chronology exported as its viewer sees it: CSV for a spreadsheet, and a Word document.

Both are rendered from an export the disclosure gate released and audited (`Action.EXPORT`),
never from the record: the same entries, redactions and markers the viewer's page shows, with
the filters they chose. Everything is in words a person reads: UK local times with the zone,
kinds as the taxonomy describes them, roles and agencies by name, the worker by name from the
directory (where the release named them), the key facts for each kind. A cell a spreadsheet
would run as a formula is escaped (`csv_cell`). Each export says who exported it, for what
purpose, when, and under which audit reference.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.chronology_header import ChildHeader
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.markers import REDACTED, RETRACTED, SHIELDED, WITHHELD
from hub.domain.uk_time import uk_datetime_text
from hub.reports.audit_csv import csv_cell
from hub.reports.key_facts import Namer, details_words, key_facts_text
from hub.reports.rendering import kind_text, readable_label

# Where an entry received from a partner hub came from, and whom to contact there.
FROM_PARTNERSHIP = "Received from another partnership"
CSV_COLUMNS = (
    "Child",
    "Occurred (UK time)",
    "Agency",
    "Agency type",
    FROM_PARTNERSHIP,
    "What happened",
    "Summary",
    "Key facts",
    "Harm categories",
    "Status",
    "Recorded (UK time)",
    "Received by the hub (UK time)",
    "Details",
    "Not shown to you",
    "Reference",
)
AGENCY_TYPES = {
    "local-authority": "Local authority",
    "police": "Police",
    "health": "Health",
    "education": "Education",
}


@dataclass(frozen=True)
class ExportPart:
    """One child's part of an export: the audited export view and its header."""

    view: ChronologyView
    header: ChildHeader
    entries: Sequence[ShownEntry]  # after the viewer's filters


def _value(value: Any) -> str:
    if isinstance(value, str) and value in (REDACTED, SHIELDED):
        return value  # the marker itself, as the page shows it
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Mapping):
        return "; ".join(f"{readable_label(str(k))}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    return "" if value is None else str(value)


def _details(entry: ShownEntry, name: Namer | None) -> str:
    return "; ".join(
        f"{readable_label(k)}: {_value(v)}"
        for k, v in details_words(entry.kind, entry.details, name).items()
    )


def _not_shown(entry: ShownEntry) -> str:
    parts = []
    if entry.redacted:
        fields = ", ".join(readable_label(f.removeprefix("details.")) for f in entry.redacted)
        parts.append(f"redacted by the agreement: {fields}")
    if entry.shielded:
        fields = ", ".join(readable_label(f.removeprefix("details.")) for f in entry.shielded)
        parts.append(f"shielded by the publisher: {fields}")
    return "; ".join(parts)


def entry_row(
    entry: ShownEntry, child: str, agency_names: Mapping[str, str], name: Namer | None
) -> list[str]:
    """One entry as the export's columns (`CSV_COLUMNS`), in words. An entry received from a
    partner hub names the partnership, when it came and whom to contact there."""
    agency = entry.agency_name(agency_names)
    provenance = entry.provenance_text or ""
    if entry.kind in (RETRACTED, WITHHELD):
        what = "Retracted record" if entry.kind == RETRACTED else "Withheld record"
        return [
            child,
            uk_datetime_text(entry.occurred_at),
            agency,
            AGENCY_TYPES.get(entry.agency_type, entry.agency_type),
            provenance,
            what,
            f"{agency} withdrew or withheld a record; what it said is not shown",
            "",
            "",
            readable_label(entry.status),
            "",
            uk_datetime_text(entry.received_at),
            "",
            "",
            entry.ref,
        ]
    return [
        child,
        uk_datetime_text(entry.occurred_at),
        agency,
        AGENCY_TYPES.get(entry.agency_type, entry.agency_type),
        provenance,
        kind_text(entry.kind),
        _value(entry.summary),
        key_facts_text(entry.kind, entry.details, name),
        ", ".join(readable_label(c) for c in entry.categories),
        readable_label(entry.status)
        + (f" (replaced by {entry.replaced_by})" if entry.replaced_by else ""),
        uk_datetime_text(entry.recorded_at),
        uk_datetime_text(entry.received_at),
        _details(entry, name),
        _not_shown(entry),
        entry.ref,
    ]


def _child_label(part: ExportPart) -> str:
    return f"{part.header.name} ({part.view.child})" if part.header.name else part.view.child


def _merged(parts: Sequence[ExportPart]) -> list[tuple[ShownEntry, ExportPart]]:
    rows = [(e, p) for p in parts for e in p.entries]
    return sorted(rows, key=lambda r: r[0].occurred_at)


def _about(parts: Sequence[ExportPart], exported_by: str, at: datetime) -> list[str]:
    first = parts[0].view
    lines = [
        f"Exported by {exported_by} on {uk_datetime_text(at)} for "
        f"{readable_label(first.purpose.value if first.purpose else 'no stated purpose').lower()}.",
        f"Agreement {first.agreement_version}. Every export is recorded in the audit ledger.",
    ]
    for part in parts:
        lines.append(f"{_child_label(part)}: audit reference {part.view.audit_ref}")
        if part.view.outcome == "partially-disclosed":
            ask = "; ".join(
                f"{a.name}" + (f" ({a.contact})" if a.contact else "")
                for a in part.header.not_shared_by
            )
            lines.append(
                "Some records are not shared with your role for this purpose"
                + (f"; to ask about them, contact {ask}." if ask else ".")
            )
    return lines


def chronology_csv(
    parts: Sequence[ExportPart],
    agency_names: Mapping[str, str],
    name: Namer | None,
    exported_by: str,
    at: datetime,
) -> str:
    """The export as CSV: a few lines saying what it is, a blank line, then one row per
    entry (oldest first) under a header row."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in _about(parts, exported_by, at):
        writer.writerow([csv_cell(line)])
    writer.writerow([])
    writer.writerow(CSV_COLUMNS)
    for entry, part in _merged(parts):
        row = entry_row(entry, _child_label(part), agency_names, name)
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def _header_lines(header: ChildHeader) -> list[tuple[str, str]]:
    rows = [
        ("Name", header.name or "Not shared with you"),
        ("Known as", header.known_as or ""),
        ("Date of birth", header.date_of_birth or ""),
        ("Age", header.age or ""),
        ("NHS number or provisional id", header.identifier),
        ("Sex", header.sex or ""),
        ("Status", "; ".join(header.statuses) or "None shown to you"),
        ("Legal status", header.legal_status or ""),
        ("Allocated worker", header.worker or "None shown to you"),
        ("Team", header.team or ""),
        (
            "Agencies involved",
            "; ".join(a.name + (f" ({a.contact})" if a.contact else "") for a in header.agencies),
        ),
    ]
    return [(k, v) for k, v in rows if v]


def chronology_docx(
    parts: Sequence[ExportPart],
    agency_names: Mapping[str, str],
    name: Namer | None,
    exported_by: str,
    at: datetime,
) -> bytes:
    """The export as a Word document: who each child is, what the export is, then a table
    with one row per entry (oldest first)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(10)
    titles = " and ".join(_child_label(p) for p in parts)
    document.add_heading(f"Multi-agency chronology: {titles}", level=0)
    document.add_paragraph(
        "OFFICIAL-SENSITIVE. Shared under the partnership's information "
        "sharing agreement; do not copy outside case records."
    )
    for line in _about(parts, exported_by, at):
        document.add_paragraph(line)
    for part in parts:
        document.add_heading(f"Who the child is: {_child_label(part)}", level=1)
        table = document.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for label, text in _header_lines(part.header):
            cells = table.add_row().cells
            cells[0].text, cells[1].text = label, text
    document.add_heading("Timeline", level=1)
    columns = ("Child", "Occurred (UK time)", "Agency", "What happened", "Summary", "Key facts")
    merged = _merged(parts)
    table = document.add_table(rows=1, cols=len(columns) - (len(parts) == 1))
    table.style = "Table Grid"
    heads = columns[1:] if len(parts) == 1 else columns
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        cell.text = text
    for entry, part in merged:
        texts = entry_row(entry, _child_label(part), agency_names, name)
        row = dict(zip(CSV_COLUMNS, texts, strict=True))
        # A partner hub's entry says where it came from, under the agency's name.
        row["Agency"] = "\n".join(filter(None, (row["Agency"], row[FROM_PARTNERSHIP])))
        for cell, column in zip(table.add_row().cells, heads, strict=True):
            cell.text = row[column]
    if not merged:
        document.add_paragraph("No entries match the filters chosen.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
Render = Callable[
    [Sequence[ExportPart], Mapping[str, str], Namer | None, str, datetime], str | bytes
]
RENDERERS: dict[str, Render] = {"csv": chronology_csv, "docx": chronology_docx}
