"""What data protection officers ask of the audit ledger, and subject access exports.

Every query here is itself a disclosure (of who saw what), so it is only answered for a data
protection officer, and is recorded through the disclosure gate before the answer is returned.
What a query shows of a child's record (the withheld items' reasons, a subject access export)
is released by the gate like any other disclosure.

A DPO acts for their own organisation (`hub.policies.dpo_scope`): they are shown the
disclosures to their organisation's staff, and the disclosures of what their organisation
published (of other recipients' disclosures, only their organisation's items), its
withholdings, and its staff's break-glass grants. The partnership's lead DPOs (named in the
agreement) are shown everything, and only they commission practice reviews.

One piece (about 450 lines): every query is authorised, scoped (`_Scope`) and recorded the same
way, and that sameness is what makes a DPO's answers trustworthy; rendering them is
`hub.reports.audit_words` and its table and CSV.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any

from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import ChildIdentity, Disclosure, DisclosureGate, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.canonical_event import ChildRef
from hub.domain.records import BreakGlassGranted, DisclosureAudited, HubRecord
from hub.domain.relationships import ReviewCommission
from hub.domain.uk_time import uk_date
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import Action
from hub.policies.dpo_scope import in_scope, publisher_of

# What opens a record (its content released to the practitioner), as the broad-access query
# counts it: not `notify` or `receive-notice` (told an item arrived), nor `search`.
OPENING_ACTIONS = frozenset({Action.VIEW.value, Action.EXPORT.value})


class NotADataProtectionOfficerError(PermissionError):
    """Audit queries are for data protection officers."""


class NotALeadDataProtectionOfficerError(NotADataProtectionOfficerError):
    """What acts on the whole partnership's records is for its lead DPOs."""


@dataclass(frozen=True)
class _Scope:
    """Whom a DPO acts for: the partnership (a lead DPO) or their own organisation."""

    dpo: Practitioner
    partnership: bool

    def covers(self, record: DisclosureAudited) -> bool:
        staff = record.organisation == self.dpo.organisation
        refs = chain(record.disclosed, record.withheld, record.redacted)  # read only if needed
        return in_scope(self.dpo, self.partnership, refs, staff)

    def row(self, record: DisclosureAudited) -> dict[str, Any]:
        """The audit row as this DPO may read it: of another organisation's recipient, only
        the items their own organisation published."""
        row = _disclosure(record)
        if self.partnership or record.organisation == self.dpo.organisation:
            return row
        own = self.dpo.organisation
        row["disclosed"] = [r for r in row["disclosed"] if publisher_of(r) == own]
        row["withheld"] = [r for r in row["withheld"] if publisher_of(r) == own]
        row["redacted"] = {r: p for r, p in row["redacted"].items() if publisher_of(r) == own}
        row["denied"] = {}  # counts over every publisher's items: not this DPO's to read
        return row


def _audit_ref(record: HubRecord) -> str:
    return f"{record.originator_id.hex}@{record.originator_version}"


def _within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether `moment` falls in a DPO's `--from`/`--to` period (either end open, both
    inclusive)."""
    return (since is None or moment >= since) and (until is None or moment <= until)


def _disclosure(record: DisclosureAudited) -> dict[str, Any]:
    return {
        "at": record.timestamp.isoformat(),
        "audit_ref": _audit_ref(record),
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


def _withheld_row(
    child: str, ref: str, entry: ShownEntry | None, erased: bool, today: date
) -> dict[str, Any]:
    if entry is not None and entry.withheld:  # another agency's, withheld from this DPO
        review_by: str | None = entry.details["review_by"]
        withheld_from = None
    else:
        withheld_from = None if entry is None else entry.withheld_from
        reviews = sorted(w["review_by"] for w in withheld_from or ())
        review_by = reviews[0] if reviews else None
    return {
        "child": child,
        "ref": ref,
        "agency": publisher_of(ref),
        "kind": None if entry is None or entry.withheld else entry.kind,
        "summary": entry.summary if entry is not None and entry.withheld else None,
        "withheld_from": withheld_from,
        "review_by": review_by,
        "review_overdue": review_by is not None and date.fromisoformat(review_by) < today,
        "erased": erased,
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

    def _scope(self, dpo: Practitioner) -> _Scope:
        return _Scope(dpo, self._gate.acts_for_partnership(dpo))

    def _lead(self, practitioner_id: str, query: str) -> Practitioner:
        dpo = self._dpo(practitioner_id, query)
        if not self._gate.acts_for_partnership(dpo):
            self._record(dpo, query, "denied")
            raise NotALeadDataProtectionOfficerError(
                f"{query} acts on every agency's records: it is for the partnership's lead "
                "data protection officers, named in the information sharing agreement"
            )
        return dpo

    def _in_post_organisation(self, practitioner_id: str) -> str | None:
        try:
            return self._gate.practitioner(practitioner_id).organisation
        except LookupError:
            return None

    def authorise(
        self, practitioner_id: str, query: str, *, partnership: bool = False
    ) -> Practitioner:
        """A DPO action outside these queries: refused for anyone else, and recorded either
        way. `partnership`: an action on every agency's data (reading quarantined raw bytes,
        which may be any publisher's), for the partnership's lead DPOs only."""
        dpo = (
            self._lead(practitioner_id, query) if partnership else self._dpo(practitioner_id, query)
        )
        self._record(dpo, query, "answered")
        return dpo

    def child_identities(
        self, dpo_id: str, child_streams: Iterable[str]
    ) -> dict[str, ChildIdentity]:
        """Which child each stream in an answer is (NHS number or provisional id), for a DPO
        to read: named only where the gate would release something of the child's record to
        them, and audited there."""
        dpo = self._dpo(dpo_id, "child-identity")
        return self._gate.child_identities(dpo, child_streams)

    def who_saw_child(
        self,
        dpo_id: str,
        child: ChildRef,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "who-saw-child")
        stream = self._gate.child_stream(child)
        self._record(dpo, "who-saw-child", "answered", stream)
        scope = self._scope(dpo)
        rows = [
            scope.row(r)
            for r in self._audit.for_child(stream)
            if isinstance(r, DisclosureAudited)
            and not r.action.startswith("audit-query")
            and scope.covers(r)
            and _within(r.timestamp, since, until)
        ]
        return AuditAnswer("who-saw-child", rows)

    def what_practitioner_saw(
        self,
        dpo_id: str,
        practitioner_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "what-practitioner-saw")
        self._record(dpo, "what-practitioner-saw", "answered")
        scope = self._scope(dpo)
        rows = [
            scope.row(r)
            for r in self._audit.for_practitioner(practitioner_id)
            if isinstance(r, DisclosureAudited)
            and scope.covers(r)
            and _within(r.timestamp, since, until)
        ]
        return AuditAnswer("what-practitioner-saw", rows)

    def break_glass(
        self,
        dpo_id: str,
        *,
        include_reviewed: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AuditAnswer:
        """Break-glass grants (awaiting review, or all) made within the period, each with what
        was disclosed under it: the holder's audit entries for the child made with emergency
        access between the grant and its end or expiry."""
        dpo = self._dpo(dpo_id, "break-glass")
        self._record(dpo, "break-glass", "answered")
        scope = self._scope(dpo)
        rows = []
        for grant, review in self._audit.break_glass():
            if review is not None and not include_reviewed:
                continue
            if not scope.partnership and (
                self._in_post_organisation(grant.practitioner_id) != dpo.organisation
            ):
                continue  # another organisation's staff: their DPO reviews it
            if not _within(grant.timestamp, since, until):
                continue
            ended = self._audit.grants(grant.child_stream).ended_at(grant)
            closed = grant.expires_at if ended is None else min(ended, grant.expires_at)
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
                    "disclosures": [
                        _disclosure(r)
                        for r in self._audit.for_child(grant.child_stream)
                        if isinstance(r, DisclosureAudited)
                        and r.practitioner_id == grant.practitioner_id
                        and r.break_glass_reason
                        and grant.timestamp <= r.timestamp <= closed
                    ],
                }
            )
        return AuditAnswer("break-glass", rows)

    def review_break_glass(self, dpo_id: str, grant_ref: str, outcome: str, notes: str) -> None:
        dpo = self._dpo(dpo_id, "review-break-glass")
        partnership = self._gate.acts_for_partnership(dpo)
        for grant, _ in self._audit.break_glass():
            if f"{grant.originator_id.hex}@{grant.originator_version}" == grant_ref and (
                partnership or self._in_post_organisation(grant.practitioner_id) == dpo.organisation
            ):
                self._audit.review_break_glass(grant, dpo.id, outcome, notes, self._clock())
                self._record(dpo, "review-break-glass", outcome, grant.child_stream)
                return
        raise LookupError(f"no break-glass grant {grant_ref}")

    def commission_review(
        self, dpo_id: str, child: ChildRef, reviewer_id: str, reason: str, days: int
    ) -> ReviewCommission:
        """Record a practice review commission: the reviewer is related to the child for the
        review's duration. Administered by a DPO on the partnership's instruction; audited."""
        dpo = self._lead(dpo_id, "commission-review")
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
        """The items publishers withheld from some recipients, soonest review first, each with
        its reason, decider and review date (from the child's own record, released to the DPO
        by the gate child by child) and whether its review is overdue. An organisation's DPO is
        shown their own organisation's withholdings, and other agencies' items withheld from
        their organisation only as "an item withheld by <agency> on <date>, review by <date>";
        a lead DPO every withholding."""
        dpo = self._dpo(dpo_id, "withheld")
        self._record(dpo, "withheld", "answered")
        partnership = self._gate.acts_for_partnership(dpo)
        today = uk_date(self._clock())
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
                if entry is None and (partnership or view.outcome == "erased"):
                    rows.append(_withheld_row(child, ref, None, view.outcome == "erased", today))
                elif entry is not None and (entry.withheld or entry.withheld_from):
                    rows.append(_withheld_row(child, ref, entry, False, today))
        rows.sort(key=lambda row: (row["review_by"] or "9999", row["child"], row["ref"]))
        return AuditAnswer("withheld", rows)

    def outside_relationship(
        self, dpo_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> AuditAnswer:
        dpo = self._dpo(dpo_id, "outside-relationship")
        self._record(dpo, "outside-relationship", "answered")
        scope = self._scope(dpo)
        rows = [
            scope.row(r)
            for r in self._audit.all_disclosures()
            if r.relationship is None
            and r.outcome in ("disclosed", "partially-disclosed")
            and not r.action.startswith("audit-query")
            and scope.covers(r)
            and _within(r.timestamp, since, until)
        ]
        return AuditAnswer("outside-relationship", rows)

    def broad_access(self, dpo_id: str) -> AuditAnswer:
        """Practitioners who opened the records of more children than `broad_access_children`
        within the window: only releases of a record's content count (`OPENING_ACTIONS`),
        not being told an item arrived (alerts, inbox notices) nor a search's candidates."""
        dpo = self._dpo(dpo_id, "broad-access")
        self._record(dpo, "broad-access", "answered")
        since = self._clock() - self._broad_window
        partnership = self._gate.acts_for_partnership(dpo)
        children: dict[str, set[str]] = defaultdict(set)
        for record in self._audit.all_disclosures():
            if not partnership and record.organisation != dpo.organisation:
                continue  # another organisation's staff: their DPO watches them
            if (
                record.timestamp >= since
                and record.action in OPENING_ACTIONS
                and record.outcome in ("disclosed", "partially-disclosed")
            ):
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
        scope = self._scope(self._dpo(dpo_id, "subject-access"))
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
        return {
            "child": child.identifier,
            "generated_at": self._clock().isoformat(),
            "agreement_version": view.agreement_version,
            "audit_ref": view.audit_ref,
            "records": [
                {k: v for k, v in e.as_dict().items() if k != "withheld_from"} for e in view.entries
            ],
            "withheld": view.withheld,
            **self.recipients(scope.dpo, self._gate.child_stream(child)),
        }

    def recipients(self, dpo: Practitioner, child_stream: str) -> dict[str, list[dict[str, Any]]]:
        """To whom the child's record was disclosed (organisations and roles, when and why;
        not the DPOs' own audit work) and the break-glass grants made for the child, within
        this DPO's scope: what a subject access response tells the requester."""
        scope = self._scope(dpo)
        disclosures: list[HubRecord] = self._audit.for_child(child_stream)
        return {
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
                and scope.covers(r)
            ],
            "break_glass": [
                {"at": r.timestamp.isoformat(), "reason": r.reason}
                for r in disclosures
                if isinstance(r, BreakGlassGranted)
                and (
                    scope.partnership
                    or self._in_post_organisation(r.practitioner_id) == scope.dpo.organisation
                )
            ],
        }
