"""The words a data protection officer's audit answers are read in, shared by the terminal
table (`audit_table`), the CSV export (`audit_csv`) and the DPO pages: who (the practitioner's
name from the directory; an id no longer there is shown as the id, saying so), which
organisation, the child's NHS number or provisional id where the disclosure gate named the
child to this DPO (`DisclosureGate.child_identities`, audited), otherwise that the child is not
identifiable to them or that the record was erased, with a short reference only; actions,
purposes and counts in plain words; times in UK local time with the zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit_queries import AuditAnswer
from hub.disclosure_gate import ChildIdentity
from hub.domain.access import Practitioner
from hub.domain.agency_records import AgencyRecord
from hub.domain.uk_time import uk_datetime_text, uk_time_text
from hub.reports.rendering import readable_label

NOT_IN_DIRECTORY = "(not in the directory)"
NOT_IDENTIFIABLE = "child not identifiable to you"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NOTHING = "\N{EN DASH}"  # nothing to show (never a hyphen: a spreadsheet reads one as minus)

QUERY_TITLES = {
    "who-saw-child": "Who saw the child's record",
    "what-practitioner-saw": "What the practitioner was shown",
    "outside-relationship": "Access without a legitimate relationship",
    "break-glass": "Break-glass access",
    "withheld": "Items withheld from some recipients",
    "broad-access": "Practitioners who saw unusually many children",
}
ACTIONS = {
    "view": "Viewed the chronology",
    "export": "Sent to a system (export)",
    "search": "Searched",
    "notify": "Told a record arrived (inbox)",
    "receive-notice": "Received a notice",
    "federation-transfer-received": "Transfer received from a partner hub",
    "federation-correction-received": "Correction received from a partner hub",
    "federation-correction-sent": (
        "Correction sent to a partner hub (entries withdrawn or replaced)"
    ),
}
AGENCY_TYPES = {
    "local-authority": "local authority",
    "police": "police",
    "health": "health",
    "education": "education",
}


def organisation_names(agencies: Iterable[AgencyRecord]) -> dict[str, str]:
    """Agency id -> how a person reads it: the registered id with its kind of agency (the
    agency register holds no display names), e.g. `shire-constabulary (police)`."""
    return {
        a.agency_id: f"{a.agency_id} ({AGENCY_TYPES.get(a.agency_type, a.agency_type)})"
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
            return NOTHING
        return self.organisations.get(agency_id, agency_id)

    def organisation_of(self, practitioner_id: str) -> str | None:
        known = self.practitioners(practitioner_id)
        return None if known is None else known.organisation

    def child(self, stream: str | None) -> str:
        if not stream:
            return NOTHING
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


def plain(text: object) -> str:
    """A value as one safe piece of text: no terminal control sequences."""
    return CONTROL.sub("?", "" if text is None else str(text))


def when_uk(moment: str | None, *, precise: bool = False) -> str:
    if not moment:
        return ""
    at = datetime.fromisoformat(moment)
    return uk_time_text(at, with_seconds=True) if precise else uk_datetime_text(at)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def items_summary(row: Mapping[str, Any]) -> str:
    """`12 items disclosed, 2 redacted, 1 withheld` (and refusals, counted by policy)."""
    parts = [f"{plural(len(row.get('disclosed') or ()), 'item')} disclosed"]
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
        return NOTHING
    if action.startswith("audit-query:"):
        return f"Audit query: {readable_label(action.partition(':')[2]).lower()}"
    return ACTIONS.get(action, readable_label(action))


def purpose_text(purpose: str | None) -> str:
    return f"for {readable_label(purpose).lower()}" if purpose else "no stated purpose"


def why_text(row: Mapping[str, Any]) -> str:
    lines = [action_text(row.get("action")), purpose_text(row.get("purpose"))]
    if row.get("relationship"):
        lines.append(f"relationship: {row['relationship']}")
    if row.get("lawful_basis"):
        lines.append(f"basis: {row['lawful_basis']}")
    if row.get("break_glass_reason"):
        lines.append(f"BREAK-GLASS: {row['break_glass_reason']}")
    return "\n".join(lines)


def review_text(review: Mapping[str, Any] | None, names: AuditNames) -> str:
    if not review:
        return "awaiting review"
    return f"{readable_label(review.get('outcome'))}, by {names.practitioner(review['by'])}"


def withholding_text(row: Mapping[str, Any]) -> str:
    parts = []
    for w in row.get("withheld_from") or ():
        whom = readable_label(w.get("agency_type") or w.get("role"))
        parts.append(f"{whom}: {w.get('reason', '')} (decided by {w.get('decided_by', '?')})")
    if not parts and row.get("summary"):
        parts.append(str(row["summary"]))
    return "\n".join(parts) or NOTHING
