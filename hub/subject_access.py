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

One piece (about 460 lines): the service's steps (open, verify, extend, draft, decide, pack)
share one authorisation and one way of recording events; the case, draft and pack types are
`hub.subject_access_cases`, the rules `hub.domain.subject_access` and its clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from hub.audit_ledger import AuditLedger
from hub.audit_queries import AuditQueries
from hub.disclosure_gate import Disclosure, DisclosureGate, ShownEntry
from hub.domain.access import Practitioner, Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import (
    SubjectAccessDecided,
    SubjectAccessExtended,
    SubjectAccessIdentityVerified,
    SubjectAccessOpened,
    SubjectAccessPackBuilt,
)
from hub.domain.subject_access import (
    DECISION_LABELS,
    EXEMPTIONS,
    Decision,
    DecisionType,
    Flag,
    Requester,
    SubjectAccessError,
    check_decision,
    flags,
)
from hub.domain.subject_access_clock import Extension, check_extension
from hub.domain.uk_time import uk_date
from hub.policies.agreements import AgreementRegistry
from hub.policies.decision import Action
from hub.subject_access_cases import (
    Case,
    Draft,
    DraftItem,
    Pack,
    RecordedDecision,
    fold_case,
    item_facts,
)

QUERY = "subject-access"


class CaseRefusedError(PermissionError):
    """The DPO does not handle this case (another organisation's, or the partnership's)."""


class PackRefusedError(SubjectAccessError):
    """The pack cannot be built yet: the message says what is missing."""


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

    def _named(self, dpo: Practitioner, streams: list[str]) -> dict[str, str]:
        """How each child is named to this DPO: the identifier where the gate names the child
        to them (audited), or why not."""
        named = {}
        for stream, identity in self._gate.child_identities(dpo, streams).items():
            if identity.identifier:
                named[stream] = identity.identifier
            elif identity.erased:
                named[stream] = "the child's record was erased"
            else:
                named[stream] = "child not identifiable to you"
        return {s: named.get(s, "child not identifiable to you") for s in streams}

    def _sees(self, dpo: Practitioner, case: Case) -> bool:
        return self._gate.acts_for_partnership(dpo) or (
            not case.partnership and dpo.organisation == case.organisation
        )

    def _case(self, dpo: Practitioner, case_id: str) -> Case:
        records = self._audit.subject_access_case(case_id.strip())
        if not any(isinstance(r, SubjectAccessOpened) for r in records):
            raise LookupError("case: no subject access case has that reference")
        case = fold_case(records, self._today())
        if self._handles(dpo, case):
            case = replace(case, child=self._named(dpo, [case.child_stream])[case.child_stream])
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
            case = fold_case(self._audit.subject_access_case(opened.case_id), today)
            if self._sees(dpo, case):
                found.append(case)
        names = self._named(dpo, [c.child_stream for c in found])
        found = [replace(c, child=names[c.child_stream]) for c in found]
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
            case.child_stream,
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
                DraftItem(entry, flags(item_facts(entry), listed), case.decisions.get(entry.ref))
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
        check_decision(item_facts(found.entry), decision, case.requester.basis)
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
            case.child_stream,
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
