"""What data protection officers ask of the audit ledger, and subject access exports.

Every query here is itself a disclosure (of who saw what), so it is only answered for a data
protection officer, and is recorded through the disclosure gate before the answer is returned.
What a query shows of a child's record (the withheld items' reasons, a subject access export)
is released by the gate like any other disclosure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import Disclosure, DisclosureGate
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.canonical_event import ChildRef
from hub.domain.records import BreakGlassGranted, DisclosureAudited, HubRecord
from hub.domain.relationships import ReviewCommission
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import Action


class NotADataProtectionOfficerError(PermissionError):
    """Audit queries are for data protection officers."""


def _disclosure(record: DisclosureAudited) -> dict[str, Any]:
    return {
        "at": record.timestamp.isoformat(),
        "practitioner": record.practitioner_id,
        "organisation": record.organisation,
        "role": record.role,
        "action": record.action,
        "purpose": record.purpose,
        "lawful_basis": record.lawful_basis,
        "agreement_version": record.agreement_version,
        "child": record.child_stream,
        "outcome": record.outcome,
        # Copies: the ledger keeps decoded records, so an answer must not share its lists.
        "disclosed": list(record.disclosed),
        "redacted": {ref: list(paths) for ref, paths in record.redacted.items()},
        "withheld": list(record.withheld),
        "denied": dict(record.denied),
        "relationship": record.relationship,
        "break_glass_reason": record.break_glass_reason,
        "conditions": None  # recorded before disclosures recorded their conditions
        if record.conditions is None
        else {condition: list(refs) for condition, refs in record.conditions.items()},
    }


@dataclass(frozen=True)
class AuditAnswer:
    query: str
    rows: list[dict[str, Any]]


class AuditQueries:
    def __init__(
        self,
        audit: AuditLedger,
        gate: DisclosureGate,
        agreements: AgreementRegistry,
        *,
        broad_access_children: int = 20,
        broad_access_window: timedelta = timedelta(days=30),
        longest_commission: timedelta = timedelta(days=365),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._audit = audit
        self._gate = gate
        self._agreements = agreements
        self._broad_children = broad_access_children
        self._broad_window = broad_access_window
        self._longest_commission = longest_commission
        self._clock = clock

    def _dpo(self, practitioner_id: str, query: str) -> Practitioner:
        dpo = self._gate.practitioner(practitioner_id)
        if dpo.role is not Role.DATA_PROTECTION_OFFICER:
            self._record(dpo, query, "denied")
            raise NotADataProtectionOfficerError(
                "audit queries are answered for data protection officers only"
            )
        return dpo

    def _record(self, dpo: Practitioner, query: str, outcome: str, child_stream: str = "") -> None:
        self._gate.record_query(dpo, query, outcome, child_stream)

    def authorise(self, practitioner_id: str, query: str) -> Practitioner:
        """A DPO action outside these queries (e.g. reading quarantined raw bytes): refused for
        anyone else, and recorded either way."""
        dpo = self._dpo(practitioner_id, query)
        self._record(dpo, query, "answered")
        return dpo

    def who_saw_child(self, dpo_id: str, child: ChildRef) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "who-saw-child")
        stream = self._gate.child_stream(child)
        self._record(dpo, "who-saw-child", "answered", stream)
        rows = [
            _disclosure(r)
            for r in self._audit.for_child(stream)
            if isinstance(r, DisclosureAudited) and not r.action.startswith("audit-query")
        ]
        return AuditAnswer("who-saw-child", rows)

    def what_practitioner_saw(self, dpo_id: str, practitioner_id: str) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "what-practitioner-saw")
        self._record(dpo, "what-practitioner-saw", "answered")
        rows = [
            _disclosure(r)
            for r in self._audit.for_practitioner(practitioner_id)
            if isinstance(r, DisclosureAudited)
        ]
        return AuditAnswer("what-practitioner-saw", rows)

    def break_glass(self, dpo_id: str, *, include_reviewed: bool = False) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "break-glass")
        self._record(dpo, "break-glass", "answered")
        rows = []
        for grant, review in self._audit.break_glass():
            if review is not None and not include_reviewed:
                continue
            ended = self._audit.grants(grant.child_stream).ended_at(grant)
            rows.append(
                {
                    "granted_at": grant.timestamp.isoformat(),
                    "expires_at": grant.expires_at.isoformat(),
                    "practitioner": grant.practitioner_id,
                    "child": grant.child_stream,
                    "reason": grant.reason,
                    "ended_at": None if ended is None else ended.isoformat(),
                    "grant": f"{grant.originator_id.hex}@{grant.originator_version}",
                    "review": None
                    if review is None
                    else {"by": review.reviewer_id, "outcome": review.outcome},
                }
            )
        return AuditAnswer("break-glass", rows)

    def review_break_glass(self, dpo_id: str, grant_ref: str, outcome: str, notes: str) -> None:
        dpo = self._dpo(dpo_id, "review-break-glass")
        for grant, _ in self._audit.break_glass():
            if f"{grant.originator_id.hex}@{grant.originator_version}" == grant_ref:
                self._audit.review_break_glass(grant, dpo.id, outcome, notes, self._clock())
                self._record(dpo, "review-break-glass", outcome, grant.child_stream)
                return
        raise LookupError(f"no break-glass grant {grant_ref}")

    def commission_review(
        self, dpo_id: str, child: ChildRef, reviewer_id: str, reason: str, days: int
    ) -> ReviewCommission:
        """Record a practice review commission: the reviewer is related to the child for the
        review's duration. Administered by a DPO on the partnership's instruction; audited."""
        dpo = self._dpo(dpo_id, "commission-review")
        longest = self._longest_commission.days
        if not 1 <= days <= longest:
            raise ValueError(
                f"a review commission lasts 1 to {longest} days (HUB_REVIEW_COMMISSION_MAX_DAYS); "
                "for a longer review, commission it again when this one ends"
            )
        reviewer = self._gate.practitioner(reviewer_id)
        if reviewer.role is not Role.PRACTICE_REVIEWER:
            raise ValueError(f"{reviewer_id} is not a practice reviewer")
        now = self._clock()
        commission = ReviewCommission(reviewer_id, dpo.id, reason, now, now + timedelta(days=days))
        stream = self._gate.child_stream(child)
        self._record(dpo, "commission-review", "recorded", stream)
        self._audit.commission_review(stream, commission, now)
        return commission

    def withheld(self, dpo_id: str) -> AuditAnswer:
        """Every item a publisher withheld from some recipients, with reason, decider and review
        date (from the child's own record, released to the DPO by the gate child by child)."""
        dpo = self._dpo(dpo_id, "withheld")
        self._record(dpo, "withheld", "answered")
        rows = []
        for child, refs in sorted(self._gate.withheld_streams().items()):
            view = self._gate.disclose(
                child,
                dpo.id,
                Disclosure(Purpose.DATA_PROTECTION_AUDIT, items=frozenset(refs)),
            )
            shown = {e.ref: e for e in view.entries}
            for ref in refs:
                entry = shown.get(ref)
                rows.append(
                    {
                        "child": child,
                        "ref": ref,
                        "kind": None if entry is None else entry.kind,
                        "withheld_from": None if entry is None else entry.withheld_from,
                        "erased": view.outcome == "erased",
                    }
                )
        return AuditAnswer("withheld", rows)

    def outside_relationship(self, dpo_id: str) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "outside-relationship")
        self._record(dpo, "outside-relationship", "answered")
        rows = [
            _disclosure(r)
            for r in self._audit.all_disclosures()
            if r.relationship is None
            and r.outcome in ("disclosed", "partially-disclosed")
            and not r.action.startswith("audit-query")
        ]
        return AuditAnswer("outside-relationship", rows)

    def broad_access(self, dpo_id: str) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "broad-access")
        self._record(dpo, "broad-access", "answered")
        since = self._clock() - self._broad_window
        children: dict[str, set[str]] = defaultdict(set)
        for record in self._audit.all_disclosures():
            if record.timestamp >= since and record.outcome in ("disclosed", "partially-disclosed"):
                children[record.practitioner_id].add(record.child_stream)
        rows = [
            {"practitioner": p, "children": len(c), "window_days": self._broad_window.days}
            for p, c in sorted(children.items())
            if len(c) > self._broad_children
        ]
        return AuditAnswer("broad-access", rows)

    def subject_access(self, dpo_id: str, child: ChildRef) -> dict[str, Any]:
        """What the hub holds about the child and to whom it was disclosed, with shielded and
        third-party details redacted (the agreement's subject_access_redact list), and the items
        a publisher withheld as more detrimental to the child left out and marked as such."""
        self._dpo(dpo_id, "subject-access")
        redact = frozenset(self._agreements.in_force(self._clock()).subject_access_redact)
        view = self._gate.disclose(
            child,
            dpo_id,
            Disclosure(
                Purpose.DATA_PROTECTION_AUDIT,
                Action.EXPORT,
                subject_access=True,
                redact=redact,
            ),
        )
        disclosures: list[HubRecord] = self._audit.for_child(self._gate.child_stream(child))
        return {
            "child": child.identifier,
            "generated_at": self._clock().isoformat(),
            "agreement_version": view.agreement_version,
            "audit_ref": view.audit_ref,
            "records": [
                {k: v for k, v in e.as_dict().items() if k != "withheld_from"} for e in view.entries
            ],
            "withheld": view.withheld,
            "disclosed_to": [
                {
                    "at": r.timestamp.isoformat(),
                    "organisation": r.organisation,
                    "role": r.role,
                    "purpose": r.purpose,
                    "lawful_basis": r.lawful_basis,
                    "items": len(r.disclosed),
                }
                for r in disclosures
                if isinstance(r, DisclosureAudited)
                and r.outcome in ("disclosed", "partially-disclosed")
                and r.purpose != Purpose.DATA_PROTECTION_AUDIT.value  # the DPO's own audit work
            ],
            "break_glass": [
                {"at": r.timestamp.isoformat(), "reason": r.reason}
                for r in disclosures
                if isinstance(r, BreakGlassGranted)
            ],
        }
