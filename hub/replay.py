"""Replay for serious case reviews: the record exactly as it stood at a past moment.

As of T, the hub *held* the entries it had received by T (with the corrections received by
then, not later ones); agencies had *recorded but not yet shared* the entries recorded by T and
received after it. Beside that: who was shown what by T (from the audit ledger), what the hub
held that nobody was shown, how late each item was shared, the agreement in force at T, and
optionally what a given practitioner would have been shown at T.

The reviewer's own access goes through the disclosure gate like any other disclosure (purpose
practice-review, normally via a review commission), and the replay never shows the reviewer
more than that access released today: every entry's content comes from that release, and what
a practitioner would have been shown then is bounded by it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import ChronologyView, DisclosureGate, ShownEntry
from hub.domain.access import Purpose, Role
from hub.domain.canonical_event import ChildRef
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.domain.latency import LatencyRules, event_latency, latency_by_agency
from hub.domain.records import DisclosureAudited


@dataclass
class ReplayReport:
    child: str
    as_of: datetime
    reviewer: str
    agreement_version: str
    access: ChronologyView  # the reviewer's own (audited) access, today
    held: list[dict[str, Any]] = field(default_factory=list)
    known_not_shared: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    latency_by_agency: dict[str, dict[str, float | int]] = field(default_factory=dict)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    never_shown: list[str] = field(default_factory=list)
    as_practitioner: dict[str, Any] | None = None

    @property
    def permitted(self) -> bool:
        return self.access.outcome in ("disclosed", "partially-disclosed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "as_of": self.as_of.isoformat(),
            "reviewer": self.reviewer,
            "outcome": self.access.outcome,
            "denied_reasons": self.access.denied_reasons,
            "agreement_version_in_force": self.agreement_version,
            "held": self.held,
            "known_not_shared": self.known_not_shared,
            "latency": self.latency,
            "latency_by_agency": self.latency_by_agency,
            "disclosures": self.disclosures,
            "never_shown": self.never_shown,
            "as_practitioner": self.as_practitioner,
            "audit_ref": self.access.audit_ref,
        }


class ReplayService:
    def __init__(
        self,
        gate: DisclosureGate,
        audit: AuditLedger,
        latency_rules: LatencyRules | None = None,
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._rules = latency_rules or LatencyRules()

    def replay(
        self,
        child: ChildRef,
        reviewer_id: str,
        as_of: datetime,
        *,
        as_practitioner: str | None = None,
        as_purpose: Purpose | None = None,
    ) -> ReplayReport:
        reviewer = self._gate.practitioner(reviewer_id)
        purpose = (
            Purpose.DATA_PROTECTION_AUDIT
            if reviewer.role is Role.DATA_PROTECTION_OFFICER
            else Purpose.PRACTICE_REVIEW
        )
        access = self._gate.view(child, reviewer_id, purpose)  # audited like any access
        report = ReplayReport(
            child.identifier,
            as_of,
            reviewer_id,
            self._gate.agreement_in_force(as_of),
            access,
        )
        if not report.permitted:
            return report
        allowed = {e.ref: e for e in access.entries}
        entries = [e for e in self._gate.held_entries(child) if e.ref in allowed]
        held = merge_chronology(e for e in entries if e.received_at <= as_of)
        report.held = [self._held(allowed[e.ref], e) for e in held]
        report.known_not_shared = [
            allowed[e.ref].as_dict()
            for e in entries
            if e.event.recorded_at <= as_of < e.received_at
        ]
        latencies = [
            event_latency(e, self._rules)
            for e in entries
            if e.event.recorded_at <= as_of and not allowed[e.ref].retracted
        ]
        report.latency = [
            vars(item)
            | {
                k: getattr(item, k).isoformat()
                for k in ("occurred_at", "recorded_at", "received_at")
            }
            for item in latencies
        ]
        report.latency_by_agency = latency_by_agency(latencies)
        shown: set[str] = set()
        for record in self._audit.for_child(self._gate.child_stream(child)):
            if (
                isinstance(record, DisclosureAudited)
                and record.timestamp <= as_of
                and record.disclosed
            ):
                shown.update(record.disclosed)
                report.disclosures.append(
                    {
                        "at": record.timestamp.isoformat(),
                        "practitioner": record.practitioner_id,
                        "role": record.role,
                        "organisation": record.organisation,
                        "purpose": record.purpose,
                        "outcome": record.outcome,
                        "shown": record.disclosed,
                        "break_glass_reason": record.break_glass_reason,
                    }
                )
        report.never_shown = [e.ref for e in held if e.ref not in shown]
        if as_practitioner is not None:
            purpose_then = as_purpose or self._last_purpose(child, as_practitioner, as_of)
            then = self._gate.as_of(child, as_practitioner, purpose_then, held, as_of, access)
            report.as_practitioner = then.as_dict()
        return report

    @staticmethod
    def _held(shown: ShownEntry, held: ChronologyEntry) -> dict[str, Any]:
        """An entry as held at the moment: its status then (a correction received later had not
        replaced it yet), unless it was retracted since, which is all the reviewer is told."""
        then = (
            {}
            if shown.retracted
            else {"status": held.status.value, "replaced_by": held.replaced_by}
        )
        return shown.as_dict() | then | {"stream": held.stream, "version": held.version}

    def _last_purpose(self, child: ChildRef, practitioner_id: str, as_of: datetime) -> Purpose:
        for record in reversed(self._audit.for_child(self._gate.child_stream(child))):
            if (
                isinstance(record, DisclosureAudited)
                and record.practitioner_id == practitioner_id
                and record.timestamp <= as_of
                and record.purpose
            ):
                return Purpose(record.purpose)
        return Purpose.CHILD_PROTECTION_ENQUIRY
