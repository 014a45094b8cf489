"""Subject access requests as cases: opened, drafted, decided item by item, extended, packed.

A data protection officer opens a case for a request about a child (who asked, on what basis,
when it arrived, how the requester's identity was confirmed); its statutory clock runs from
then (`hub.domain.subject_access.clock`). The draft is the DPO's own view of the child's record
for the data protection audit purpose, released and audited by the disclosure gate like any
other, with each item's flags: what needs the DPO's decision before anything goes to the
requester. Each decision (release, release with fields redacted, withhold; the exemption and
why) is an event in the audit ledger; a later one on the same item supersedes it. The pack is
refused while a flagged item is undecided; it is released by the gate as a subject access
export of exactly the items released (with the decided redactions and the agreement's subject
access list), so it is itself an audited disclosure, and the case records it as completed with
that audit reference.

Whom a case is for follows the DPO scope rules (`hub.policies.dpo_scope`): a case opened by a
partnership lead DPO covers the partnership and is handled by lead DPOs; one opened by an
organisation's DPO covers what the gate releases to that organisation's DPOs, who handle it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from hub.audit_ledger import AuditLedger
from hub.audit_queries import AuditQueries
from hub.disclosure_gate import Disclosure, DisclosureGate, ShownEntry
from hub.domain.access import Practitioner, Purpose
from hub.domain.canonical_event import ChildRef, child_ref
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
    Clock,
    Decision,
    DecisionType,
    Extension,
    Flag,
    ItemFacts,
    ItemFlags,
    Requester,
    RequesterBasis,
    SubjectAccessError,
    check_decision,
    check_extension,
    clock,
    flags,
)
from hub.domain.uk_time import uk_date
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import Action

QUERY = "subject-access"


class CaseRefusedError(PermissionError):
    """The DPO does not handle this case (another organisation's, or the partnership's)."""


class PackRefusedError(SubjectAccessError):
    """The pack cannot be built yet: the message says what is missing."""


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


def _fold(records: list[HubRecord], today: date) -> Case:
    """The case as its events say it stands."""
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
        child=opened.child,
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


def _facts(entry: ShownEntry) -> ItemFacts:
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


class SubjectAccessService:
    def __init__(
        self,
        gate: DisclosureGate,
        audit: AuditLedger,
        queries: AuditQueries,
        agreements: AgreementRegistry,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._queries = queries
        self._agreements = agreements
        self._clock = clock

    # Who ------------------------------------------------------------------------------------

    def _dpo(self, dpo_id: str, action: str) -> Practitioner:
        """A data protection officer (anyone else is refused, and the refusal recorded)."""
        return self._queries.authorise(dpo_id, f"{QUERY}-{action}")

    def _today(self) -> date:
        return uk_date(self._clock())

    def _handles(self, dpo: Practitioner, case: Case) -> bool:
        partnership = self._gate.acts_for_partnership(dpo)
        if case.partnership:
            return partnership
        return not partnership and dpo.organisation == case.organisation

    def _sees(self, dpo: Practitioner, case: Case) -> bool:
        return self._gate.acts_for_partnership(dpo) or (
            not case.partnership and dpo.organisation == case.organisation
        )

    def _case(self, dpo: Practitioner, case_id: str) -> Case:
        records = self._audit.subject_access_case(case_id.strip())
        if not any(isinstance(r, SubjectAccessOpened) for r in records):
            raise LookupError("case: no subject access case has that reference")
        case = _fold(records, self._today())
        if not self._handles(dpo, case):
            self._gate.record_query(dpo, QUERY, "denied", case.child_stream)
            whose = "the partnership's lead DPOs" if case.partnership else "its organisation's DPOs"
            raise CaseRefusedError(f"case: this case is handled by {whose}")
        return case

    # Cases ----------------------------------------------------------------------------------

    def open(
        self,
        dpo_id: str,
        child: ChildRef,
        requester: Requester,
        received: date,
        *,
        identity_verified: str | None = None,
        identity_verified_on: date | None = None,
    ) -> Case:
        """Open a case for a subject access request about the child; its clock starts on the
        day it was received (or the later day the requester's identity was confirmed)."""
        dpo = self._dpo(dpo_id, "open")
        today = self._today()
        if received > today:
            raise SubjectAccessError(
                "received: the date the request arrived cannot be in the future"
            )
        how = (identity_verified or "").strip() or None
        on = (identity_verified_on or received) if how else None
        if on is not None and not received <= on <= today:
            raise SubjectAccessError(
                "identity-verified-on: between the day the request was received and today"
            )
        existing = {r.case_id for r in self._audit.subject_access_cases()}
        case_id = next(
            c for c in (f"SAR-{uuid4().hex[:8].upper()}" for _ in range(100)) if c not in existing
        )
        stream = self._gate.child_stream(child)
        now = self._clock()
        partnership = self._gate.acts_for_partnership(dpo)
        self._gate.record_query(dpo, f"{QUERY}-open", "recorded", stream)
        self._audit.record_subject_access(
            case_id,
            lambda originator, version: SubjectAccessOpened(
                originator_id=originator,
                originator_version=version,
                timestamp=now,
                case_id=case_id,
                child=child.identifier,
                child_stream=stream,
                opened_by=dpo.id,
                organisation=dpo.organisation,
                partnership=partnership,
                requester=requester.name.strip(),
                basis=requester.basis.value,
                authority=(requester.authority or "").strip() or None,
                received=received.isoformat(),
                identity_verified=how,
                identity_verified_on=None if on is None else on.isoformat(),
            ),
            register=True,
        )
        return self._case(dpo, case_id)

    def cases(self, dpo_id: str) -> list[Case]:
        """The cases this DPO may see (a lead DPO: every case; an organisation's DPO: their
        organisation's), open ones first by due date, then completed ones, newest first."""
        dpo = self._dpo(dpo_id, "list")
        today = self._today()
        found = []
        for opened in self._audit.subject_access_cases():
            case = _fold(self._audit.subject_access_case(opened.case_id), today)
            if self._sees(dpo, case):
                found.append(case)
        open_cases = sorted((c for c in found if not c.completed), key=lambda c: c.clock.due)
        done = sorted((c for c in found if c.completed), key=lambda c: c.opened_at, reverse=True)
        return open_cases + done

    def case(self, dpo_id: str, case_id: str) -> Case:
        return self._case(self._dpo(dpo_id, "case"), case_id)

    def verify_identity(self, dpo_id: str, case_id: str, how: str, on: date) -> Case:
        """Record how (and when) the requester's identity was confirmed: the clock runs from
        then if that is after the request was received."""
        dpo = self._dpo(dpo_id, "verify-identity")
        case = self._open_case(dpo, case_id)
        if not how.strip():
            raise SubjectAccessError("how: say how the requester's identity was confirmed")
        if not case.received <= on <= self._today():
            raise SubjectAccessError("on: between the day the request was received and today")
        now = self._clock()
        self._audit.record_subject_access(
            case.id,
            lambda originator, version: SubjectAccessIdentityVerified(
                originator_id=originator,
                originator_version=version,
                timestamp=now,
                case_id=case.id,
                verified_by=dpo.id,
                how=how.strip(),
                on=on.isoformat(),
            ),
        )
        return self._case(dpo, case.id)

    def _open_case(self, dpo: Practitioner, case_id: str) -> Case:
        case = self._case(dpo, case_id)
        if case.completed:
            raise SubjectAccessError(
                f"case: completed on {case.clock.completed_on:%-d %B %Y}; nothing more can be "
                "recorded (open a new case for a new request)"
            )
        return case

    def extend(
        self, dpo_id: str, case_id: str, months: int, reason: str, requester_told: date
    ) -> Case:
        """Extend the time limit by one or two further months (once), with the reason; the
        requester must have been told within the first month."""
        dpo = self._dpo(dpo_id, "extend")
        case = self._open_case(dpo, case_id)
        extension = Extension(months, reason.strip(), requester_told)
        check_extension(
            case.received,
            case.clock.starts,
            extension,
            already=case.extension is not None,
            today=self._today(),
        )
        now = self._clock()
        self._audit.record_subject_access(
            case.id,
            lambda originator, version: SubjectAccessExtended(
                originator_id=originator,
                originator_version=version,
                timestamp=now,
                case_id=case.id,
                extended_by=dpo.id,
                months=months,
                reason=extension.reason,
                requester_told=requester_told.isoformat(),
            ),
        )
        return self._case(dpo, case.id)

    # The draft and decisions --------------------------------------------------------------------

    def _items(
        self, dpo: Practitioner, case: Case, items: frozenset[str] | None
    ) -> tuple[Any, list[DraftItem], list[ShownEntry]]:
        """The child's record as released to this DPO (audited by the gate), with flags."""
        view = self._gate.disclose(
            child_ref(case.child),
            dpo,
            Disclosure(Purpose.DATA_PROTECTION_AUDIT, Action.EXPORT, items=items),
        )
        listed = self._agreements.in_force(self._clock()).subject_access_redact
        drafted, not_yours = [], []
        for entry in view.entries:
            if entry.withheld:  # another agency's item withheld from this DPO: not theirs
                not_yours.append(entry)
                continue
            drafted.append(
                DraftItem(entry, flags(_facts(entry), listed), case.decisions.get(entry.ref))
            )
        return view, drafted, not_yours

    def draft(self, dpo_id: str, case_id: str) -> Draft:
        """The draft response: every item of the child's record this DPO may release, each
        with what needs a decision and the decision in force."""
        dpo = self._dpo(dpo_id, "draft")
        case = self._case(dpo, case_id)
        view, items, not_yours = self._items(dpo, case, None)
        return Draft(
            case,
            view.audit_ref,
            view.agreement_version,
            view.outcome,
            items,
            not_yours,
            list(view.denied_reasons),
        )

    def record_decision(
        self, dpo_id: str, case_id: str, item: str, decision: Decision
    ) -> RecordedDecision:
        """Record a decision on one item of the draft (it supersedes an earlier one)."""
        dpo = self._dpo(dpo_id, "decide")
        case = self._open_case(dpo, case_id)
        ref = item.strip()
        if "@" not in ref or "/" not in ref:
            raise SubjectAccessError("item: an item reference, agency/event_id@revision")
        _, drafted, _ = self._items(dpo, case, frozenset({ref}))
        found = next((d for d in drafted if d.entry.ref == ref), None)
        if found is None:
            raise SubjectAccessError(
                "item: not an item of this case's draft that you may decide (see the draft)"
            )
        check_decision(_facts(found.entry), decision, case.requester.basis)
        now = self._clock()
        self._audit.record_subject_access(
            case.id,
            lambda originator, version: SubjectAccessDecided(
                originator_id=originator,
                originator_version=version,
                timestamp=now,
                case_id=case.id,
                item=ref,
                decided_by=dpo.id,
                decision=decision.decision.value,
                exemption=decision.exemption,
                fields=list(decision.fields),
                reason=decision.reason.strip(),
                opinion=(decision.opinion or "").strip() or None,
            ),
        )
        return RecordedDecision(ref, decision, dpo.id, now)

    # The pack -------------------------------------------------------------------------------

    def pack(self, dpo_id: str, case_id: str) -> Pack:
        """The final response, built only from decided and unflagged items and released by the
        gate as a subject access export (audited); the first pack completes the case."""
        dpo = self._dpo(dpo_id, "pack")
        case = self._case(dpo, case_id)
        if not case.identity_verified:
            raise PackRefusedError(
                "identity: the requester's identity has not been confirmed; record how it was "
                "before anything is released"
            )
        _, items, not_yours = self._items(dpo, case, None)
        undecided = [i for i in items if i.undecided]
        if undecided:
            n = len(undecided)
            items_text = "1 flagged item still needs" if n == 1 else f"{n} flagged items still need"
            raise PackRefusedError(
                f"decisions: {items_text} a decision before the pack can be built"
            )
        released = [i for i in items if i.released]
        redact_items = {
            i.entry.ref: frozenset(i.decision.decision.fields)
            for i in released
            if i.decision is not None and i.decision.decision.fields
        }
        released_withheld = frozenset(
            i.entry.ref for i in released if Flag.WITHHELD in i.flags.flags
        )
        listed = frozenset(self._agreements.in_force(self._clock()).subject_access_redact)
        view = self._gate.disclose(
            child_ref(case.child),
            dpo,
            Disclosure(
                Purpose.DATA_PROTECTION_AUDIT,
                Action.EXPORT,
                subject_access=True,
                items=frozenset(i.entry.ref for i in released),
                redact=listed,
                redact_items=redact_items,
                released_withheld=released_withheld,
            ),
        )
        decided_withheld = [
            i
            for i in items
            if i.decision is not None and i.decision.decision.decision is DecisionType.WITHHOLD
        ]
        now = self._clock()
        shown = [e for e in view.entries if not e.withheld]
        self._audit.record_subject_access(
            case.id,
            lambda originator, version: SubjectAccessPackBuilt(
                originator_id=originator,
                originator_version=version,
                timestamp=now,
                case_id=case.id,
                built_by=dpo.id,
                audit_ref=view.audit_ref,
                released=[e.ref for e in shown],
                withheld=[i.entry.ref for i in decided_withheld],
            ),
        )
        case = self._case(dpo, case.id)
        by_ref = {i.entry.ref: i for i in items}
        exemptions: dict[str, int] = {}
        for item in decided_withheld:
            code = item.decision.decision.exemption if item.decision else None
            exemptions[code or ""] = exemptions.get(code or "", 0) + 1
        document = {
            "title": "Response to a subject access request",
            "case": case.id,
            "child": case.child,
            "requester": case.as_dict()["requester"],
            "received": case.received.isoformat(),
            "due": case.clock.due.isoformat(),
            "generated_at": now.isoformat(),
            "generated_by": {"id": dpo.id, "name": dpo.name, "organisation": dpo.organisation},
            "scope": "partnership" if case.partnership else dpo.organisation,
            "agreement_version": view.agreement_version,
            "audit_ref": view.audit_ref,
            "records": [_released(e, by_ref.get(e.ref)) for e in shown],
            "not_included": [
                {
                    "exemption": code,
                    "label": EXEMPTIONS[code].label,
                    "reference": EXEMPTIONS[code].reference,
                    "items": count,
                }
                for code, count in sorted(exemptions.items())
                if code in EXEMPTIONS
            ],
            "withheld_by_publishers": [
                {"ref": w["ref"], "agency": w["agency"], "note": w["note"]} for w in view.withheld
            ]
            + [{"ref": e.ref, "agency": e.agency, "note": e.summary or ""} for e in not_yours],
            **self._queries.recipients(dpo, case.child_stream),
        }
        return Pack(case, document)


def _released(entry: ShownEntry, item: DraftItem | None) -> dict[str, Any]:
    data = {k: v for k, v in entry.as_dict().items() if k != "withheld_from"}
    decision = None if item is None else item.decision
    if decision is None:
        data["decision"] = "released: nothing in it needed a decision"
    else:
        data["decision"] = DECISION_LABELS[decision.decision.decision]
        exemption = EXEMPTIONS.get(decision.decision.exemption or "")
        if exemption is not None:
            data["redaction_exemption"] = exemption.text
    return data
