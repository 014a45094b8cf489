"""A chronology as text for a terminal: every entry's summary shown, whatever the width.

Wide enough, each entry is one row of columns (when, agency, what happened in plain words (the
taxonomy's description of the kind, `rendering.kind_text`), summary) with the summary
wrapped under its own column; narrower than that, each entry is a short block (when and agency,
then kind, then the summary wrapped). Nothing is cut mid-word and no column is dropped. Times
are UK local time with the zone (GMT or BST), as everything a person reads. Above the entries,
`header_lines` says who the child is, from the header `hub.chronology_header` builds out of the
released view.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

from hub.chronology_header import ChildHeader
from hub.disclosure_release import ShownEntry
from hub.domain.uk_time import UK, uk_date, uk_time_text
from hub.reports.rendering import kind_text

NARROWEST_SUMMARY = 32  # below this many columns for the summary, entries are stacked
_GAP = "  "


def terminal_width(fallback: int = 100) -> int:
    return shutil.get_terminal_size((fallback, 24)).columns


def _summary(entry: ShownEntry) -> str:
    if entry.retracted:
        text = "retracted by the agency that shared it; what it said is not shown"
    else:
        text = entry.summary or "(no summary shared)"
    marks = [] if entry.provenance is None else [entry.provenance]
    if uk_date(entry.recorded_at) != uk_date(entry.occurred_at):
        marks.append(f"recorded {entry.recorded_at.astimezone(UK):%Y-%m-%d}")
    marks += [] if entry.status == "current" else [f"{entry.status} by {entry.replaced_by}"]
    marks += [f"redacted: {', '.join(entry.redacted)}"] if entry.redacted else []
    return f"{text} [{'; '.join(marks)}]" if marks else text


def chronology_lines(
    entries: Sequence[ShownEntry], width: int | None = None, indent: str = "  "
) -> list[str]:
    """The entries as lines no wider than `width` (the terminal's by default), where a single
    word longer than the space it has is the only thing that may run past it."""
    width = width or terminal_width()
    if not entries:
        return []
    when_width = max(len(uk_time_text(e.occurred_at)) for e in entries)
    agency_width = max(len(e.agency) for e in entries)
    kind_width = max(len(kind_text(e.kind)) for e in entries)
    fixed = len(indent) + when_width + agency_width + kind_width + 3 * len(_GAP)
    lines: list[str] = []
    if width - fixed >= NARROWEST_SUMMARY:
        hanging = " " * fixed
        for entry in entries:
            first = (
                f"{indent}{uk_time_text(entry.occurred_at):<{when_width}}{_GAP}"
                f"{entry.agency:<{agency_width}}{_GAP}{kind_text(entry.kind):<{kind_width}}{_GAP}"
            )
            wrapped = textwrap.wrap(
                _summary(entry), width - fixed, break_long_words=False, break_on_hyphens=False
            )
            lines.append(first + wrapped[0])
            lines += [hanging + more for more in wrapped[1:]]
        return lines
    inner = indent + "    "
    for entry in entries:
        heading = f"{uk_time_text(entry.occurred_at)}{_GAP}{entry.agency}"
        kind = kind_text(entry.kind)
        for text, first in ((heading, indent), (kind, inner), (_summary(entry), inner)):
            lines += textwrap.wrap(
                text,
                width,
                initial_indent=first,
                subsequent_indent=inner,
                break_long_words=False,
                break_on_hyphens=False,
            )
    return lines


def header_lines(header: ChildHeader, width: int | None = None, indent: str = "  ") -> list[str]:
    """Who the child is (`hub.chronology_header`, from the released view only), as lines no
    wider than `width`: the name, date of birth and age, identifier and sex, then the status,
    the allocated worker and the agencies involved with their contacts. What the viewer was not
    released is said to be not shared, never guessed."""
    width = width or terminal_width()
    name = header.name or "name not shared with you"
    if header.known_as:
        name += f" (known as {header.known_as})"
    born = f"born {header.date_of_birth}" if header.date_of_birth else ""
    if header.age and header.age != header.date_of_birth:
        born = f"{born} ({header.age})" if born else header.age
    first = "; ".join(
        part
        for part in (
            name,
            born or "date of birth not shared with you",
            f"NHS number or provisional id {header.identifier}",
            header.sex and f"sex: {header.sex}",
        )
        if part
    )
    status = "; ".join(header.statuses) or "none shown to you"
    if header.legal_status:
        status += f"; legal status: {header.legal_status}"
    worker = header.worker or "none shown to you"
    if header.team:
        worker += f"; team: {header.team}"
    agencies = "; ".join(a.name + (f" ({a.contact})" if a.contact else "") for a in header.agencies)
    rows = [first]
    rows += [f"details from {header.details_from}"] if header.details_from else []
    rows += [f"status: {status}", f"allocated worker: {worker}"]
    rows += [f"agencies involved: {agencies}"] if agencies else []
    if header.not_shared_by:
        ask = "; ".join(
            a.name + (f" ({a.contact})" if a.contact else "") for a in header.not_shared_by
        )
        rows.append(f"some records are not shared with you; to ask, contact: {ask}")
    lines: list[str] = []
    for row in rows:
        lines += textwrap.wrap(
            row,
            width,
            initial_indent=indent,
            subsequent_indent=indent + "    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return lines
