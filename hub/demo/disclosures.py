"""The end of `hub demo`: the sibling case as different practitioners may see it.

The lead child protection practitioner, the school's designated safeguarding lead, a police
officer with no relationship (denied), the same officer breaking the glass, and the data
protection officer's view of the audit trail of all of it. Every step goes through the same
decision point and write-ahead audit as any other request. Each view opens with who the child is
(`hub.chronology_header`, from that viewer's release only: the DSL is not told what her
agreement redacts), then the entries with what happened in plain words and every summary
wrapped to the terminal.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.bootstrap import Hub
from hub.chronology_header import ChildHeader, child_header
from hub.disclosure_gate import ChronologyView
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.uk_time import uk_date, uk_time_text
from hub.reports.chronology_text import chronology_lines, header_lines, terminal_width


@dataclass
class Scene:
    title: str
    view: ChronologyView
    header: ChildHeader | None = None  # who the child is, from this view's release


@dataclass
class DisclosureWalkthrough:
    child: str
    scenes: list[Scene]
    audit_trail: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "scenes": [
                {
                    "title": s.title,
                    **s.view.as_dict(),
                    "header": s.header.as_dict() if s.header else None,
                }
                for s in self.scenes
            ],
            "audit_trail": self.audit_trail,
        }

    def print(self) -> None:
        print(
            "\nThe sibling case: one child's chronology as different people may see it "
            f"(child {self.child})"
        )
        for scene in self.scenes:
            view = scene.view
            print(f"\n== {scene.title}")
            _say(
                f"outcome {view.outcome}; relationship: {view.relationship or 'none'}; "
                f"agreement {view.agreement_version}"
            )
            if view.break_glass is not None:
                _say(
                    f"BREAK-GLASS until {uk_time_text(view.break_glass.expires_at)} "
                    f"({view.break_glass.reason}); the DPO is alerted"
                )
            for reason in view.denied_reasons:
                _say(f"denied: {reason}")
            if scene.header is not None and view.entries:
                for line in header_lines(scene.header, indent="   "):
                    print(line)
            for line in chronology_lines(view.entries, indent="   "):
                print(line)
            for flag in view.patterns:
                _say(f"PATTERN {flag.code}: {flag.description}")
            for household, group in view.households.items():
                siblings = ", ".join(
                    s["child"] or "another child (no relationship)" for s in group["siblings"]
                )
                _say(f"household {household}: also {siblings}")
        print(
            "\n== Audit trail (data protection officer dpo-0001): who saw this child; "
            "each entry was written before the disclosure"
        )
        for row in self.audit_trail:
            glass = (
                f", break-glass: {row['break_glass_reason']}" if row["break_glass_reason"] else ""
            )
            at = uk_time_text(datetime.fromisoformat(row["at"]))
            print(
                f"   {at}  {row['practitioner']:<11} {row['role']:<36} "
                f"{row['purpose'] or '-':<26} {row['outcome']:<20} "
                f"{len(row['disclosed']):>3} shown{glass}"
            )


def _say(text: str) -> None:
    """A line of the walkthrough, wrapped to the terminal under its indent."""
    for line in textwrap.wrap(
        text,
        terminal_width(),
        initial_indent="   ",
        subsequent_indent="       ",
        break_long_words=False,
        break_on_hyphens=False,
    ):
        print(line)


def walk_through(hub: Hub, nhs_number: str) -> DisclosureWalkthrough:
    child = ChildRef(nhs_number=nhs_number)
    service = hub.gate
    scenes = [
        Scene(
            "Lead child protection practitioner (lcpp-0001), child protection planning",
            service.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_PLANNING),
        ),
        Scene(
            "School designated safeguarding lead (dsl-100001), child protection planning",
            service.view(child, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING),
        ),
        Scene(
            "Police officer with no relationship (po-0002), child protection enquiry",
            service.view(child, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY),
        ),
        Scene(
            "The same officer, break-glass: child reported missing overnight",
            service.view(
                child,
                "po-0002",
                Purpose.CHILD_PROTECTION_ENQUIRY,
                break_glass_reason="child reported missing overnight; whereabouts unknown",
            ),
        ),
    ]
    # The child is found: the officer ends the emergency access (it would otherwise last
    # HUB_BREAK_GLASS_MINUTES), so afterwards they are refused again, as before it.
    service.end_break_glass(child, "po-0002")
    register = {record.agency_id: record for record in hub.agencies.all()}
    today = uk_date(datetime.now(UTC))
    for scene in scenes:
        scene.header = child_header(scene.view, register, hub.directory.get, today)
    trail = hub.audit_queries.who_saw_child("dpo-0001", child).rows
    return DisclosureWalkthrough(nhs_number, scenes, trail)
