"""Replay for practice reviews (Rapid Reviews, local child safeguarding practice reviews): the
record exactly as it stood at a past moment.

As of T, the hub *held* the entries it had received by T (with the corrections received by
then, not later ones); the agencies had *recorded* the entries recorded by T, and those received
after it were recorded but not yet held. Each agency's joining the hub (the agency register's
`registered_at`) tells the two apart: what an agency recorded before it joined reached the hub
in a backfill, and is marked backfilled rather than late (`hub.domain.latency`); the report says
per agency when it joined, how many of its entries were recorded and held by T, and when its
backfill arrived. Beside that: who was shown what by T (from the audit ledger), what the hub
held that nobody was shown, how long each item took to be shared, the agreement in force at T,
and optionally what a given practitioner would have been shown at T. And what crossed the
boundary with other partnerships by T (`hub.domain.boundary`): every transfer this hub sent
(to which partnership, when, under which inter-partnership agreement, which entries and why)
and received (from which partnership, when, which entries, and who here was shown them, when),
and the corrections of what was sent, each way, as far as the audit ledger tells them.

The reviewer's own access goes through the disclosure gate like any other disclosure (purpose
practice-review, normally via a review commission), and the replay never shows the reviewer
more than that access released today: every entry's content comes from that release, and what
a practitioner would have been shown then is bounded by it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.adapters.agency_registries import AgencyRegistry
from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import (
    ChronologyView,
    DisclosureGate,
    ShownEntry,
    UnknownPractitionerError,
)
from hub.domain.access import Purpose, Role
from hub.domain.boundary import crossings, is_partner_receipt
from hub.domain.canonical_event import ChildRef
from hub.domain.chronology import ChronologyEntry, merge_chronology
from hub.domain.latency import LatencyRules, event_latency, is_backfilled, latency_by_agency
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
    latency_by_agency: dict[str, dict[str, object]] = field(default_factory=dict)
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    never_shown: list[str] = field(default_factory=list)
    as_practitioner: dict[str, Any] | None = None
    agencies: list[dict[str, Any]] = field(default_factory=list)  # per agency: joined, counts
    recorded_count: int = 0  # entries the agencies had recorded by T
    # What crossed the boundary with partner hubs by T: {"sent": [...], "received": [...],
    # "corrections_sent": [...], "corrections_received": [...]}
    boundary: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            "sent": [],
            "received": [],
            "corrections_sent": [],
            "corrections_received": [],
        }
    )

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
            "recorded_by_agencies": self.recorded_count,
            "held_by_hub": len(self.held),
            "agencies": self.agencies,
            "held": self.held,
            "known_not_shared": self.known_not_shared,
            "latency": self.latency,
            "latency_by_agency": self.latency_by_agency,
            "disclosures": self.disclosures,
            "never_shown": self.never_shown,
            "as_practitioner": self.as_practitioner,
            "crossed_the_boundary": self.boundary,
            "audit_ref": self.access.audit_ref,
        }


class ReplayService:
    def __init__(
        self,
        gate: DisclosureGate,
        audit: AuditLedger,
        latency_rules: LatencyRules | None = None,
        agencies: AgencyRegistry | None = None,
        partner_names: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._rules = latency_rules or LatencyRules()
        self._agencies = agencies
        self._partner_names = partner_names  # partner hub id -> its partnership's name

    def _register(self) -> tuple[dict[str, datetime], dict[str, str]]:
        """When each registered agency joined the hub (its registration), and its name."""
        records = [] if self._agencies is None else self._agencies.all()
        joined = {
            r.agency_id: datetime.fromisoformat(r.registered_at) for r in records if r.registered_at
        }
        return joined, {r.agency_id: r.display_name for r in records}

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
        joined, names = self._register()

        def backfill(entry: ChronologyEntry) -> dict[str, Any]:
            return {"backfilled": is_backfilled(entry, joined.get(entry.event.agency.id))}

        held = merge_chronology(e for e in entries if e.received_at <= as_of)
        report.held = [self._held(allowed[e.ref], e) | backfill(e) for e in held]
        report.known_not_shared = [
            allowed[e.ref].as_dict() | backfill(e)
            for e in entries
            if e.event.recorded_at <= as_of < e.received_at
        ]
        report.recorded_count = sum(1 for e in entries if e.event.recorded_at <= as_of)
        report.agencies = _agencies(entries, joined, names, as_of)
        latencies = [
            event_latency(e, self._rules, joined.get(e.event.agency.id))
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
        audited = self._audit.for_child(self._gate.child_stream(child))
        report.boundary = crossings(
            [r for r in audited if isinstance(r, DisclosureAudited)],
            entries,
            as_of,
            partner_names=self._partner_names() if self._partner_names else None,
            name_of=self._name,
        )
        for record in audited:
            if (
                isinstance(record, DisclosureAudited)
                and record.timestamp <= as_of
                and record.disclosed
            ):
                if not is_partner_receipt(record):  # recorded from a partner, not shown
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

    def _name(self, practitioner_id: str) -> str | None:
        """A practitioner's name from the directory (None for one no longer in it)."""
        try:
            return self._gate.practitioner(practitioner_id).name
        except UnknownPractitionerError:
            return None

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


def _agencies(
    entries: list[ChronologyEntry],
    joined: dict[str, datetime],
    names: dict[str, str],
    as_of: datetime,
) -> list[dict[str, Any]]:
    """Per agency with entries about the child: when it joined the hub, how many entries it had
    recorded and the hub held by `as_of`, and its backfill (entries recorded before it joined:
    how many, and when they reached the hub, whether by `as_of` or later)."""
    rows = []
    for agency in sorted({e.event.agency.id for e in entries}):
        own = [e for e in entries if e.event.agency.id == agency]
        at = joined.get(agency)
        backfilled = sorted(e.received_at for e in own if is_backfilled(e, at))
        rows.append(
            {
                "agency": agency,
                "name": names.get(agency, agency),
                "agency_type": own[0].event.agency.type.value,
                "joined_hub_at": None if at is None else at.isoformat(),
                "joined_by_as_of": at is not None and at <= as_of,
                "recorded": sum(1 for e in own if e.event.recorded_at <= as_of),
                "held": sum(1 for e in own if e.received_at <= as_of),
                "backfilled": len(backfilled),
                "backfill_from": backfilled[0].isoformat() if backfilled else None,
                "backfill_to": backfilled[-1].isoformat() if backfilled else None,
                "backfill_held_by_as_of": bool(backfilled) and backfilled[-1] <= as_of,
            }
        )
    return rows
