"""A data protection officer's audit answers as a person reads them: a table for a terminal, or
CSV for a spreadsheet (`hub audit --format csv`). The JSON form stays the machine's
(`AuditAnswer.rows` as they are, ids, pseudonymous child streams and ISO 8601 times).

What a person reads here says who, not which id: the practitioner's name from the directory (an
id no longer there is shown as the id, saying so), the organisation, the role, purpose, action
and outcome in words, the child's NHS number or provisional id where the disclosure gate named
the child to this DPO (`AuditQueries.child_identities`, audited), otherwise that the child is not
identifiable to them, or that the record was erased, with a short reference only. Times are UK
local time with the zone, never UTC ISO. Long lists are counted ("12 items disclosed,
2 redacted, 1 withheld"); only a break-glass review lists every item disclosed under the grant,
because that is what the review is for.

CSV follows RFC 4180 (the csv module, CRLF line ends) with one row per disclosure, and a value
a spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return) is
written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit_queries import AuditAnswer
from hub.disclosure_gate import ChildIdentity
from hub.domain.access import Practitioner
from hub.domain.agency_records import AgencyRecord
from hub.domain.uk_time import uk_datetime_text, uk_time_text
from hub.reports.rendering import kind_text, readable_label

NOT_IN_DIRECTORY = "(not in the directory)"
NOT_IDENTIFIABLE = "child not identifiable to you"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_GAP = "  "
_NONE = "\N{EN DASH}"  # nothing to show (never a hyphen: a spreadsheet reads one as minus)
_NARROWEST = 8

QUERY_TITLES = {
    "who-saw-child": "Who saw the child's record",
    "what-practitioner-saw": "What the practitioner was shown",
    "outside-relationship": "Access without a legitimate relationship",
    "break-glass": "Break-glass access",
    "withheld": "Items withheld from some recipients",
    "broad-access": "Practitioners who saw unusually many children",
}
_ACTIONS = {
    "view": "Viewed the chronology",
    "export": "Sent to a system (export)",
    "search": "Searched",
    "receive-notice": "Received a notice",
}
_AGENCY_TYPES = {
    "local-authority": "local authority",
    "police": "police",
    "health": "health",
    "education": "education",
}


def organisation_names(agencies: Iterable[AgencyRecord]) -> dict[str, str]:
    """Agency id -> how a person reads it: the registered id with its kind of agency (the
    agency register holds no display names), e.g. `shire-constabulary (police)`."""
    return {
        a.agency_id: f"{a.agency_id} ({_AGENCY_TYPES.get(a.agency_type, a.agency_type)})"
        for a in agencies
    }


@dataclass(frozen=True)
class AuditNames:
    """What turns the ids in audit rows into words: the practitioner directory, the agency
    register's organisations and the children the gate named to this DPO (by stream)."""

    practitioners: Callable[[str], Practitioner | None]
    organisations: Mapping[str, str] = field(default_factory=dict)
    children: Mapping[str, ChildIdentity] = field(default_factory=dict)

    def practitioner(self, practitioner_id: str) -> str:
        known = self.practitioners(practitioner_id)
        if known is None:
            return f"{practitioner_id} {NOT_IN_DIRECTORY}"
        return f"{known.name} ({practitioner_id})"

    def role_of(self, practitioner_id: str) -> str | None:
        known = self.practitioners(practitioner_id)
        return None if known is None else known.role.value

    def organisation(self, agency_id: str | None) -> str:
        if not agency_id:
            return _NONE
        return self.organisations.get(agency_id, agency_id)

    def organisation_of(self, practitioner_id: str) -> str | None:
        known = self.practitioners(practitioner_id)
        return None if known is None else known.organisation

    def child(self, stream: str | None) -> str:
        if not stream:
            return _NONE
        reference = f"ref {stream[:8]}"
        identity = self.children.get(stream)
        if identity is None:
            return f"{NOT_IDENTIFIABLE} ({reference})"
        if identity.erased:
            on = identity.erased_on
            when = f" on {on.day} {on:%b %Y}" if on else ""
            return f"record erased{when} ({reference})"
        if identity.identifier is None:
            return f"{NOT_IDENTIFIABLE} ({reference})"
        return identity.identifier


def child_streams(answer: AuditAnswer) -> list[str]:
    """The child streams an answer's rows name (for the gate to say which child each is)."""
    streams = [row.get("child") for row in answer.rows]
    streams += [d.get("child") for row in answer.rows for d in row.get("disclosures") or ()]
    return [s for s in dict.fromkeys(streams) if isinstance(s, str) and s]


def _plain(text: object) -> str:
    """A value as one safe piece of text: no terminal control sequences."""
    return _CONTROL.sub("?", "" if text is None else str(text))


def _when(moment: str | None, *, precise: bool = False) -> str:
    if not moment:
        return ""
    at = datetime.fromisoformat(moment)
    return uk_time_text(at, with_seconds=True) if precise else uk_datetime_text(at)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def items_summary(row: Mapping[str, Any]) -> str:
    """`12 items disclosed, 2 redacted, 1 withheld` (and refusals, counted by policy)."""
    parts = [f"{_plural(len(row.get('disclosed') or ()), 'item')} disclosed"]
    if row.get("redacted"):
        parts.append(f"{len(row['redacted'])} redacted")
    if row.get("withheld"):
        parts.append(f"{len(row['withheld'])} withheld")
    refused = sum((row.get("denied") or {}).values())
    if refused:
        parts.append(f"{refused} refused")
    return ", ".join(parts)


def action_text(action: str | None) -> str:
    if not action:
        return _NONE
    if action.startswith("audit-query:"):
        return f"Audit query: {readable_label(action.partition(':')[2]).lower()}"
    return _ACTIONS.get(action, readable_label(action))


def purpose_text(purpose: str | None) -> str:
    return f"for {readable_label(purpose).lower()}" if purpose else "no stated purpose"


def _why(row: Mapping[str, Any]) -> str:
    lines = [action_text(row.get("action")), purpose_text(row.get("purpose"))]
    if row.get("relationship"):
        lines.append(f"relationship: {row['relationship']}")
    if row.get("lawful_basis"):
        lines.append(f"basis: {row['lawful_basis']}")
    if row.get("break_glass_reason"):
        lines.append(f"BREAK-GLASS: {row['break_glass_reason']}")
    return "\n".join(lines)


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
    cells = [[_plain(c) for c in row] for row in rows]
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
        cells = [_when(row.get("at"))]
        cells += [
            names.organisation(row.get("organisation"))
            if by_practitioner
            else _practitioner_cell(names, row)
        ]
        cells += [] if by_child else [names.child(row.get("child"))]
        cells += [_why(row), f"{readable_label(row.get('outcome'))}\n{items_summary(row)}"]
        rows.append(cells)
    return table_lines(headers, rows, width, keep=(0,))


def _review_text(review: Mapping[str, Any] | None, names: AuditNames) -> str:
    if not review:
        return "awaiting review"
    return f"{readable_label(review.get('outcome'))}, by {names.practitioner(review['by'])}"


def _break_glass_lines(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    out: list[str] = []
    total = len(answer.rows)
    for number, row in enumerate(answer.rows, start=1):
        who = row.get("practitioner") or ""
        role = names.role_of(who)
        ended = row.get("ended_at")
        out += [
            f"Break-glass grant {number} of {total}: {_review_text(row.get('review'), names)}",
            f"  Practitioner  {names.practitioner(who)}"
            + (f", {readable_label(role).lower()}" if role else ""),
            f"  Organisation  {names.organisation(names.organisation_of(who))}",
            f"  Child         {names.child(row.get('child'))}",
            f"  Reason        {_plain(row.get('reason'))}",
            f"  Granted       {_when(row.get('granted_at'))}",
            f"  Expires       {_when(row.get('expires_at'))}",
            f"  Ended         {_when(ended) + ' (ended by the practitioner)' if ended else _NONE}",
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
            f"  Disclosed under the grant: {_plural(len(disclosures), 'disclosure')}, "
            f"{items_summary(totals)}"
        )
        for disclosure in disclosures:
            out += textwrap.wrap(
                f"{_when(disclosure.get('at'))}, audit {disclosure.get('audit_ref')}: "
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
                    "; ".join(_plain(r) for r in refs),
                    max(width - 8, 20),
                    initial_indent="      disclosed: ",
                    subsequent_indent="        ",
                    break_on_hyphens=False,
                )
            if disclosure.get("withheld"):
                out += textwrap.wrap(
                    "; ".join(_plain(r) for r in disclosure["withheld"]),
                    max(width - 8, 20),
                    initial_indent="      withheld: ",
                    subsequent_indent="        ",
                    break_on_hyphens=False,
                )
        out.append("")
    return out


def _withholding_text(row: Mapping[str, Any]) -> str:
    parts = []
    for w in row.get("withheld_from") or ():
        whom = readable_label(w.get("agency_type") or w.get("role"))
        parts.append(f"{whom}: {w.get('reason', '')} (decided by {w.get('decided_by', '?')})")
    if not parts and row.get("summary"):
        parts.append(str(row["summary"]))
    return "\n".join(parts) or _NONE


def _withheld_table(answer: AuditAnswer, names: AuditNames, width: int) -> list[str]:
    rows = [
        [
            names.child(row.get("child")),
            f"{row.get('ref')}\n{kind_text(row.get('kind'))}".rstrip(),
            _withholding_text(row),
            ("OVERDUE " if row.get("review_overdue") else "") + (row.get("review_by") or _NONE),
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
    lines = [_plain(heading), f"{_plural(count, noun)}{order}; times are UK time"]
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


# CSV ------------------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """A value for a spreadsheet cell: text that a spreadsheet would run as a formula gets a
    leading apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


DISCLOSURE_COLUMNS = (
    "when_uk",
    "practitioner_id",
    "practitioner",
    "role",
    "organisation_id",
    "organisation",
    "child",
    "action",
    "purpose",
    "lawful_basis",
    "agreement_version",
    "relationship",
    "break_glass_reason",
    "outcome",
    "items_disclosed",
    "items_redacted",
    "items_withheld",
    "disclosed",
    "redacted",
    "withheld",
    "audit_ref",
)
BREAK_GLASS_COLUMNS = (
    "granted_uk",
    "expires_uk",
    "ended_uk",
    "practitioner_id",
    "practitioner",
    "organisation",
    "child",
    "reason",
    "review",
    "grant_ref",
    "disclosure_when_uk",
    "disclosure_audit_ref",
    "items_disclosed",
    "items_redacted",
    "items_withheld",
    "disclosed",
    "withheld",
)
WITHHELD_COLUMNS = (
    "child",
    "item",
    "kind",
    "published_by",
    "withheld_from",
    "review_by",
    "review_overdue",
    "erased",
)
BROAD_ACCESS_COLUMNS = ("practitioner_id", "practitioner", "organisation", "children", "days")


def _disclosure_record(row: Mapping[str, Any], names: AuditNames) -> dict[str, object]:
    who = row.get("practitioner") or ""
    return {
        "when_uk": _when(row.get("at"), precise=True),
        "practitioner_id": who,
        "practitioner": names.practitioner(who),
        "role": readable_label(row.get("role")),
        "organisation_id": row.get("organisation"),
        "organisation": names.organisation(row.get("organisation")),
        "child": names.child(row.get("child")),
        "action": action_text(row.get("action")),
        "purpose": readable_label(row.get("purpose")),
        "lawful_basis": row.get("lawful_basis"),
        "agreement_version": row.get("agreement_version"),
        "relationship": row.get("relationship"),
        "break_glass_reason": row.get("break_glass_reason"),
        "outcome": readable_label(row.get("outcome")),
        "items_disclosed": len(row.get("disclosed") or ()),
        "items_redacted": len(row.get("redacted") or ()),
        "items_withheld": len(row.get("withheld") or ()),
        "disclosed": " ".join(row.get("disclosed") or ()),
        "redacted": " ".join(row.get("redacted") or ()),
        "withheld": " ".join(row.get("withheld") or ()),
        "audit_ref": row.get("audit_ref"),
    }


def _break_glass_records(row: Mapping[str, Any], names: AuditNames) -> list[dict[str, object]]:
    who = row.get("practitioner") or ""
    review = row.get("review")
    grant: dict[str, object] = {
        "granted_uk": _when(row.get("granted_at"), precise=True),
        "expires_uk": _when(row.get("expires_at"), precise=True),
        "ended_uk": _when(row.get("ended_at"), precise=True),
        "practitioner_id": who,
        "practitioner": names.practitioner(who),
        "organisation": names.organisation(names.organisation_of(who)),
        "child": names.child(row.get("child")),
        "reason": row.get("reason"),
        "review": _review_text(review, names),
        "grant_ref": row.get("grant"),
    }
    disclosures = row.get("disclosures") or []
    if not disclosures:
        return [grant]
    return [
        {
            **grant,
            "disclosure_when_uk": _when(d.get("at"), precise=True),
            "disclosure_audit_ref": d.get("audit_ref"),
            "items_disclosed": len(d.get("disclosed") or ()),
            "items_redacted": len(d.get("redacted") or ()),
            "items_withheld": len(d.get("withheld") or ()),
            "disclosed": " ".join(d.get("disclosed") or ()),
            "withheld": " ".join(d.get("withheld") or ()),
        }
        for d in disclosures
    ]


def audit_csv(answer: AuditAnswer, names: AuditNames) -> str:
    """The answer as CSV (RFC 4180): a header row, then one row per disclosure (per
    disclosure under a grant for break-glass, per item for withheld)."""
    columns: Sequence[str]
    records: list[dict[str, object]]
    if answer.query == "break-glass":
        columns = BREAK_GLASS_COLUMNS
        records = [r for row in answer.rows for r in _break_glass_records(row, names)]
    elif answer.query == "withheld":
        columns = WITHHELD_COLUMNS
        records = [
            {
                "child": names.child(row.get("child")),
                "item": row.get("ref"),
                "kind": row.get("kind"),
                "published_by": names.organisation(row.get("agency")),
                "withheld_from": _withholding_text(row).replace("\n", "; "),
                "review_by": row.get("review_by"),
                "review_overdue": "yes" if row.get("review_overdue") else "no",
                "erased": "yes" if row.get("erased") else "no",
            }
            for row in answer.rows
        ]
    elif answer.query == "broad-access":
        columns = BROAD_ACCESS_COLUMNS
        records = [
            {
                "practitioner_id": row["practitioner"],
                "practitioner": names.practitioner(row["practitioner"]),
                "organisation": names.organisation(names.organisation_of(row["practitioner"])),
                "children": row.get("children"),
                "days": row.get("window_days"),
            }
            for row in answer.rows
        ]
    else:
        columns = DISCLOSURE_COLUMNS
        records = [_disclosure_record(row, names) for row in answer.rows]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(record.get(column)) for column in columns])
    return out.getvalue()
