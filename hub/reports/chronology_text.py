"""A chronology as text for a terminal: every entry's summary shown, whatever the width.

Wide enough, each entry is one row of columns (when, agency, what happened in plain words (the
taxonomy's description of the kind, `rendering.kind_text`), summary) with the summary
wrapped under its own column; narrower than that, each entry is a short block (when and agency,
then kind, then the summary wrapped). Nothing is cut mid-word and no column is dropped. Times
are UK local time with the zone (GMT or BST), as everything a person reads.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

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
    marks = []
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
