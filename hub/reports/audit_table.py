"""A data protection officer's audit answers as a table for a terminal (`hub audit`). The
JSON form stays the machine's (`AuditAnswer.rows` as they are); the CSV form is `audit_csv`;
the words both use are `audit_words`. Long lists are counted ("12 items disclosed,
2 redacted, 1 withheld"); only a break-glass review lists every item disclosed under the
grant, because that is what the review is for.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hub.audit_queries import AuditAnswer
from hub.domain.uk_time import uk_datetime_text
from hub.reports.audit_words import (
    NOTHING,
    QUERY_TITLES,
    AuditNames,
    action_text,
    items_summary,
    plain,
    plural,
    purpose_text,
    review_text,
    when_uk,
    why_text,
    withholding_text,
)
from hub.reports.rendering import kind_text, readable_label

_GAP = "  "
_NARROWEST = 8

# The table ------------------------------------------------------------------------------------


def _wrap(cell: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in cell.split("\n"):
        lines += textwrap.wrap(paragraph, width, break_on_hyphens=False) or [""]
    return lines


def table_lines(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    keep: Sequence[int] = (),
) -> list[str]:
    """Columns that fit `width`: the widest column gives way first (never the columns in
    `keep`), and a cell too long for its column wraps under it (nothing cut). Rows of more
    than one line are set apart."""
    cells = [[plain(c) for c in row] for row in rows]
    widths = [
        max([len(h), *(len(line) for row in cells for line in row[i].split("\n"))])
        for i, h in enumerate(headers)
    ]
    floor = [
        widths[i] if i in keep else max(_NARROWEST, min(len(h), 16)) for i, h in enumerate(headers)
    ]
    while sum(widths) + len(_GAP) * (len(widths) - 1) > width:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floor[i])
        if widths[widest] <= floor[widest]:
            break  # as narrow as it goes: a very narrow terminal wraps the lines itself
        widths[widest] -= 1

    def line(parts: Sequence[str]) -> str:
        return _GAP.join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    wrapped = [[_wrap(c, w) for c, w in zip(row, widths, strict=True)] for row in cells]
    spaced = any(len(cell) > 1 for row in wrapped for cell in row)
    for number, row_cells in enumerate(wrapped):
        if spaced and number:
            out.append("")
        for index in range(max(len(c) for c in row_cells)):
            out.append(line([c[index] if index < len(c) else "" for c in row_cells]))
    return out


def _practitioner_cell(names: AuditNames, row: Mapping[str, Any]) -> str:
    """Name (id), role, organisation: the role and organisation the audit entry recorded (as
    they were then), or the directory's."""
    who = row.get("practitioner") or ""
    role = row.get("role") or names.role_of(who)
    organisation = row.get("organisation") or names.organisation_of(who)
    lines = [names.practitioner(who)]
    lines += [readable_label(role)] if role else []
    lines += [names.organisation(organisation)] if organisation else []
    return "\n".join(lines)


def _disclosure_table(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    by_child = answer.query == "who-saw-child"
    by_practitioner = answer.query == "what-practitioner-saw"
    headers = ["When (UK time)"]
    headers += ["Organisation"] if by_practitioner else ["Practitioner"]
    headers += [] if by_child else ["Child"]
    headers += ["Action and purpose", "Outcome"]
    rows = []
    for row in answer.rows:
        cells = [when_uk(row.get("at"))]
        cells += [
            names.organisation(row.get("organisation"))
            if by_practitioner
            else _practitioner_cell(names, row)
        ]
        cells += [] if by_child else [names.child(row.get("child"))]
        cells += [why_text(row), f"{readable_label(row.get('outcome'))}\n{items_summary(row)}"]
        rows.append(cells)
    return table_lines(headers, rows, width, keep=(0,))


def _break_glass_lines(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    out: list[str] = []
    total = len(answer.rows)
    for number, row in enumerate(answer.rows, start=1):
        who = row.get("practitioner") or ""
        role = names.role_of(who)
        ended = row.get("ended_at")
        ended_text = when_uk(ended) + " (ended by the practitioner)" if ended else NOTHING
        out += [
            f"Break-glass grant {number} of {total}: {review_text(row.get('review'), names)}",
            f"  Practitioner  {names.practitioner(who)}"
            + (f", {readable_label(role).lower()}" if role else ""),
            f"  Organisation  {names.organisation(names.organisation_of(who))}",
            f"  Child         {names.child(row.get('child'))}",
            f"  Reason        {plain(row.get('reason'))}",
            f"  Granted       {when_uk(row.get('granted_at'))}",
            f"  Expires       {when_uk(row.get('expires_at'))}",
            f"  Ended         {ended_text}",
            f"  Grant ref     {row.get('grant')} (for hub audit --review)",
        ]
        disclosures = row.get("disclosures") or []
        if not disclosures:
            out += ["  Disclosed under the grant: nothing", ""]
            continue
        totals = {
            "disclosed": [r for d in disclosures for r in d.get("disclosed") or ()],
            "redacted": {r: 1 for d in disclosures for r in d.get("redacted") or {}},
            "withheld": [r for d in disclosures for r in d.get("withheld") or ()],
        }
        out.append(
            f"  Disclosed under the grant: {plural(len(disclosures), 'disclosure')}, "
            f"{items_summary(totals)}"
        )
        for disclosure in disclosures:
            out += textwrap.wrap(
                f"{when_uk(disclosure.get('at'))}, audit {disclosure.get('audit_ref')}: "
                f"{action_text(disclosure.get('action')).lower()} "
                f"{purpose_text(disclosure.get('purpose'))}; {items_summary(disclosure)}",
                max(width - 4, 20),
                initial_indent="    ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
            redacted = disclosure.get("redacted") or {}
            refs = [
                f"{ref} (redacted: {', '.join(redacted[ref])})" if ref in redacted else ref
                for ref in disclosure.get("disclosed") or ()
            ]
            if refs:
                out += textwrap.wrap(
                    "; ".join(plain(r) for r in refs),
                    max(width - 8, 20),
                    initial_indent="      disclosed: ",
                    subsequent_indent="        ",
                    break_on_hyphens=False,
                )
            if disclosure.get("withheld"):
                out += textwrap.wrap(
                    "; ".join(plain(r) for r in disclosure["withheld"]),
                    max(width - 8, 20),
                    initial_indent="      withheld: ",
                    subsequent_indent="        ",
                    break_on_hyphens=False,
                )
        out.append("")
    return out


def _withheld_table(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    rows = [
        [
            names.child(row.get("child")),
            f"{row.get('ref')}\n{kind_text(row.get('kind'))}".rstrip(),
            withholding_text(row),
            ("OVERDUE " if row.get("review_overdue") else "") + (row.get("review_by") or NOTHING),
        ]
        + (["erased"] if row.get("erased") else [""])
        for row in answer.rows
    ]
    headers = ["Child", "Item (its publisher first)", "Withheld from", "Review by", "Note"]
    return table_lines(headers, rows, width, keep=(0, 1, 3))


def _broad_access_table(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    rows = [
        [
            _practitioner_cell(names, {"practitioner": row["practitioner"]}),
            names.organisation(names.organisation_of(row["practitioner"])),
            str(row.get("children")),
            f"{row.get('window_days')} days",
        ]
        for row in answer.rows
    ]
    return table_lines(["Practitioner", "Organisation", "Children", "Within"], rows, width)


def _period_text(since: datetime | None, until: datetime | None) -> str | None:
    if since is None and until is None:
        return None
    start = f"from {uk_datetime_text(since)}" if since else "from the start"
    end = f"to {uk_datetime_text(until)}" if until else "to now"
    return f"Period: {start} {end}"


def audit_text(
    answer: AuditAnswer,
    names: AuditNames,
    *,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    width: int = 100,
) -> str:
    """The answer as a person reads it in a terminal `width` columns wide."""
    title = QUERY_TITLES.get(answer.query, readable_label(answer.query))
    count = len(answer.rows)
    noun = {
        "break-glass": "grant",
        "withheld": "item",
        "broad-access": "practitioner",
    }.get(answer.query, "recorded disclosure")
    heading = f"{title}{f': {subject}' if subject else ''}"
    order = {"withheld": ", soonest review first", "broad-access": ""}.get(
        answer.query, ", oldest first"
    )
    lines = [plain(heading), f"{plural(count, noun)}{order}; times are UK time"]
    period = _period_text(since, until)
    lines += [period] if period else []
    lines.append("")
    if not answer.rows:
        lines.append("The audit ledger has nothing recorded for this question.")
    elif answer.query == "break-glass":
        lines += _break_glass_lines(answer, names, width)
    elif answer.query == "withheld":
        lines += _withheld_table(answer, names, width)
    elif answer.query == "broad-access":
        lines += _broad_access_table(answer, names, width)
    else:
        lines += _disclosure_table(answer, names, width)
    return "\n".join(lines).rstrip("\n") + "\n"
