"""A subject access case as its events in the audit ledger say it stands (`Case`, folded by
`fold_case`), its draft (each item of the child's record as released to the DPO, with what needs
a decision and the decision in force) and its pack. The service that records the events and asks
the disclosure gate is `hub.subject_access`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.disclosure_gate import ShownEntry
from hub.domain.records import (
    HubRecord,
    SubjectAccessDecided,
    SubjectAccessExtended,
    SubjectAccessIdentityVerified,
    SubjectAccessOpened,
    SubjectAccessPackBuilt,
)
from hub.domain.subject_access import (
    DECISION_LABELS,
    EXEMPTIONS,
    FLAG_LABELS,
    Decision,
    DecisionType,
    ItemFacts,
    ItemFlags,
    Requester,
    RequesterBasis,
)
from hub.domain.subject_access_clock import Clock, Extension, clock
from hub.domain.uk_time import uk_date


@dataclass(frozen=True)
class RecordedDecision:
    item: str
    decision: Decision
    decided_by: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        exemption = EXEMPTIONS.get(self.decision.exemption or "")
        return {
            "item": self.item,
            "decision": self.decision.decision.value,
            "decision_text": DECISION_LABELS[self.decision.decision],
            "exemption": self.decision.exemption,
            "exemption_text": None if exemption is None else exemption.text,
            "fields": list(self.decision.fields),
            "reason": self.decision.reason,
            "opinion": self.decision.opinion,
            "decided_by": self.decided_by,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Case:
    id: str
    child: str
    child_stream: str
    opened_by: str
    organisation: str
    partnership: bool
    opened_at: datetime
    requester: Requester
    received: date
    identity_verified: str | None
    identity_verified_on: date | None
    clock: Clock
    extension: Extension | None = None
    decisions: dict[str, RecordedDecision] = field(default_factory=dict)  # in force, per item
    history: list[RecordedDecision] = field(default_factory=list)  # every decision recorded
    packs: list[SubjectAccessPackBuilt] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.packs)

    def as_dict(self) -> dict[str, Any]:
        c = self.clock
        return {
            "case": self.id,
            "child": self.child,
            "scope": "partnership" if self.partnership else self.organisation,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "requester": {
                "name": self.requester.name,
                "basis": self.requester.basis.value,
                "basis_text": self.requester.basis_label,
                "authority": self.requester.authority,
            },
            "received": self.received.isoformat(),
            "identity_verified": self.identity_verified,
            "identity_verified_on": None
            if self.identity_verified_on is None
            else self.identity_verified_on.isoformat(),
            "status": c.status.value,
            "clock_starts": c.starts.isoformat(),
            "first_due": c.first_due.isoformat(),
            "due": c.due.isoformat(),
            "days_left": c.days_left,
            "overdue": c.overdue,
            "clock_text": c.text,
            "extension": None
            if self.extension is None
            else {
                "months": self.extension.months,
                "reason": self.extension.reason,
                "requester_told": self.extension.requester_told.isoformat(),
            },
            "decisions": [d.as_dict() for d in self.history],
            "packs": [
                {
                    "at": p.timestamp.isoformat(),
                    "by": p.built_by,
                    "audit_ref": p.audit_ref,
                    "released": list(p.released),
                    "withheld": list(p.withheld),
                }
                for p in self.packs
            ],
        }


def fold_case(records: list[HubRecord], today: date, child: str = "") -> Case:
    """The case as its events say it stands (`child`: how the child is named to the DPO)."""
    opened = next(r for r in records if isinstance(r, SubjectAccessOpened))
    verified, verified_on = opened.identity_verified, opened.identity_verified_on
    extension: Extension | None = None
    history: list[RecordedDecision] = []
    packs: list[SubjectAccessPackBuilt] = []
    for record in records:
        if isinstance(record, SubjectAccessIdentityVerified):
            verified, verified_on = record.how, record.on
        elif isinstance(record, SubjectAccessExtended):
            told = date.fromisoformat(record.requester_told)
            extension = Extension(record.months, record.reason, told)
        elif isinstance(record, SubjectAccessDecided):
            decision = Decision(
                DecisionType(record.decision),
                record.reason,
                record.exemption,
                tuple(record.fields),
                record.opinion,
            )
            history.append(
                RecordedDecision(record.item, decision, record.decided_by, record.timestamp)
            )
        elif isinstance(record, SubjectAccessPackBuilt):
            packs.append(record)
    received = date.fromisoformat(opened.received)
    confirmed = date.fromisoformat(verified_on) if verified_on else None
    return Case(
        id=opened.case_id,
        child=child,
        child_stream=opened.child_stream,
        opened_by=opened.opened_by,
        organisation=opened.organisation,
        partnership=opened.partnership,
        opened_at=opened.timestamp,
        requester=Requester(opened.requester, RequesterBasis(opened.basis), opened.authority),
        received=received,
        identity_verified=verified,
        identity_verified_on=confirmed,
        clock=clock(
            received,
            today,
            identity_confirmed_on=confirmed,
            extension_months=0 if extension is None else extension.months,
            completed_on=uk_date(packs[0].timestamp) if packs else None,
        ),
        extension=extension,
        decisions={d.item: d for d in history},
        history=history,
        packs=packs,
    )


def item_facts(entry: ShownEntry) -> ItemFacts:
    fields = {f"details.{name}" for name in entry.details}
    if entry.summary is not None:
        fields.add("summary")
    return ItemFacts(
        ref=entry.ref,
        agency=entry.agency,
        agency_type=entry.agency_type,
        kind=entry.kind,
        categories=tuple(entry.categories),
        sensitivity=entry.sensitivity,
        fields=frozenset(fields),
        shielded=frozenset(entry.shielded),
        withheld_from=tuple(entry.withheld_from or ()),
    )


@dataclass(frozen=True)
class DraftItem:
    entry: ShownEntry  # as released to the DPO
    flags: ItemFlags
    decision: RecordedDecision | None

    @property
    def needs_decision(self) -> bool:
        return self.flags.needs_decision

    @property
    def undecided(self) -> bool:
        return self.flags.needs_decision and self.decision is None

    @property
    def released(self) -> bool:
        """Whether the pack releases it: unflagged and not withheld, or decided released."""
        if self.decision is None:
            return not self.flags.needs_decision
        return self.decision.decision.decision is not DecisionType.WITHHOLD

    def as_dict(self) -> dict[str, Any]:
        f = self.flags
        return {
            "ref": self.entry.ref,
            "agency": self.entry.agency,
            "agency_type": self.entry.agency_type,
            # Received from a partner hub: the partnership, when, and whom to contact there.
            "source": self.entry.provenance_text,
            "kind": self.entry.kind,
            "categories": list(self.entry.categories),
            "occurred_at": self.entry.occurred_at.isoformat(),
            "summary": self.entry.summary,
            "details": self.entry.details,
            "redacted": list(self.entry.redacted),
            "flags": [flag.value for flag in f.flags],
            "flag_texts": [FLAG_LABELS[flag] for flag in f.flags],
            "notes": list(f.notes),
            "third_party_fields": list(f.third_party_fields),
            "shielded_fields": list(f.shielded_fields),
            "withholdings": [dict(w) for w in f.withholdings],
            "needs_decision": f.needs_decision,
            "decision": None if self.decision is None else self.decision.as_dict(),
        }


@dataclass(frozen=True)
class Draft:
    case: Case
    audit_ref: str
    agreement_version: str
    outcome: str
    items: list[DraftItem]
    not_yours: list[ShownEntry]  # other agencies' items withheld from this DPO: stand-ins only
    denied_reasons: list[str]

    @property
    def undecided(self) -> list[DraftItem]:
        return [i for i in self.items if i.undecided]

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.as_dict(),
            "audit_ref": self.audit_ref,
            "agreement_version": self.agreement_version,
            "outcome": self.outcome,
            "denied_reasons": self.denied_reasons,
            "items": [i.as_dict() for i in self.items],
            "needing_decision": sum(1 for i in self.items if i.needs_decision),
            "undecided": len(self.undecided),
            "not_yours": [
                {"ref": e.ref, "agency": e.agency, "summary": e.summary} for e in self.not_yours
            ],
        }


@dataclass(frozen=True)
class Pack:
    """The final subject access response, as a document (written as JSON and as PDF)."""

    case: Case
    document: dict[str, Any]

    @property
    def audit_ref(self) -> str:
        return str(self.document["audit_ref"])
