"""The one disclosure gate: nothing about a child leaves the hub any other way.

Every surface that gives a person or another system anything from a child's record asks the
gate: the chronology (CLI, API, pages), replay and review packs, Operation Encompass notices,
statutory clock alerts, the outbound feed, subject access exports and the data protection
officers' views. For each request the gate, in this order:

1. reads the child's record from the chronology projection itself (callers name items by
   reference, never hand it content);
2. works out each item's restrictions: its record's latest shields and withholdings govern
   every revision, and a retracted record says only that it was retracted
   (`hub.policies.redaction`);
3. decides, through the one decision point, with the relationship the child's own events give
   (or the one a notice was routed by), break-glass and the agreement in force;
4. shields, withholds and redacts (`hub.policies.redaction`, the only code that does);
5. derives pattern flags and household lists from what it released, never from the record;
6. writes the typed audit entry (denials too) and only then returns the release. If the
   audit entry cannot be written, nothing is released.

Deciding without releasing (`screen`, for the outbound feed's queue) writes no audit entry
because it gives nothing out; the data protection officers' audit queries and the withdrawal
of an item a system already holds are recorded through the gate too (`record_query`,
`record_withdrawal`), so the gate is the only writer of audit entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.directory import PractitionerDirectory
from hub.adapters.pseudonyms import Pseudonymiser
from hub.audit import AuditLedger
from hub.chronology_projection import ChronologyProjection, ChronologySnapshot
from hub.domain.access import Practitioner, Purpose, RelationshipGrant, Role
from hub.domain.canonical_event import ChildRef
from hub.domain.chronology import ChronologyEntry, EntryStatus, PatternFlag
from hub.domain.patterns import detect_patterns
from hub.domain.records import (
    AuditEntry,
    BreakGlassGranted,
    DisclosureAudited,
    WithholdingIndexed,
)
from hub.domain.relationships import ReviewCommission, derive_relationships, find_relationship
from hub.policies.decision import AccessContext, Action, Decision, DecisionPoint, ItemAttributes
from hub.policies.redaction import (
    REDACTED,
    RETRACTED,
    RETRACTED_FIELDS,
    SHIELDED,
    Restrictions,
    bounded,
    bounded_details,
    outside,
    released_copy,
    restrictions,
    shape,
    subject_access_withheld,
    withholding_summary,
)

log = structlog.get_logger("hub.disclosure")
__all__ = ["REDACTED", "RETRACTED", "SHIELDED", "DisclosureGate", "ShownEntry"]
SUBJECT_ACCESS_WITHHELD = (
    "withheld by its publisher from some recipients as more detrimental to the child; not "
    "included: a data protection officer decides (DPA 2018 Schedule 3) before any release"
)


class UnknownPractitionerError(LookupError):
    """The practitioner id is not in the directory: nothing is shown to an unknown person."""


@dataclass(frozen=True)
class ShownEntry:
    """One chronology entry as a particular viewer may see it."""

    ref: str
    agency: str
    agency_type: str
    kind: str
    categories: list[str]
    occurred_at: datetime
    recorded_at: datetime
    received_at: datetime
    summary: str | None
    details: dict[str, Any]
    sensitivity: str
    status: str
    replaced_by: str | None
    household_ref: str | None
    redacted: list[str]
    shielded: list[str]
    withheld_from: list[dict[str, Any]] | None  # only for data protection officers
    lawful_basis: str | None  # of the rule that permitted it

    @classmethod
    def _assemble(cls, **values: Any) -> ShownEntry:
        """Construct without the frozen dataclass's per-field `object.__setattr__` calls (a
        quarter of the cost; a chronology builds a thousand per request). The caller passes
        every field, as the generated __init__ would require."""
        shown = object.__new__(cls)
        shown.__dict__.update(values)
        return shown

    @property
    def retracted(self) -> bool:
        """A retracted record's stand-in: that it was retracted, nothing of what it said."""
        return self.kind == RETRACTED

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for name in ("occurred_at", "recorded_at", "received_at"):
            data[name] = data[name].isoformat()
        return data


@dataclass
class ChronologyView:
    """What the gate released to one viewer for one request (and what it audited)."""

    child: str
    practitioner: Practitioner
    purpose: Purpose | None
    action: Action
    agreement_version: str
    outcome: str
    relationship: str | None
    break_glass: BreakGlassGranted | None
    entries: list[ShownEntry] = field(default_factory=list)
    patterns: list[PatternFlag] = field(default_factory=list)
    households: dict[str, dict[str, Any]] = field(default_factory=dict)
    sibling_streams: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    denied_reasons: list[str] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)  # subject access markers
    audit_ref: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "practitioner": {
                "id": self.practitioner.id,
                "organisation": self.practitioner.organisation,
                "role": self.practitioner.role.value,
            },
            "purpose": self.purpose.value if self.purpose else None,
            "action": self.action.value,
            "agreement_version": self.agreement_version,
            "outcome": self.outcome,
            "relationship": self.relationship,
            "break_glass": None
            if self.break_glass is None
            else {
                "reason": self.break_glass.reason,
                "expires_at": self.break_glass.expires_at.isoformat(),
            },
            "entries": [e.as_dict() for e in self.entries],
            "patterns": [
                {
                    "code": p.code,
                    "description": p.description,
                    "refs": list(p.refs),
                    "window_start": p.window_start.isoformat(),
                    "window_end": p.window_end.isoformat(),
                }
                for p in self.patterns
            ],
            "households": self.households,
            "denied_reasons": self.denied_reasons,
            "notes": self.notes,
            "audit_ref": self.audit_ref,
        }


@dataclass(frozen=True)
class Disclosure:
    """What a surface asks the gate to release.

    `items` names what is wanted by publisher reference (`agency/event_id@revision`, or
    `agency/event_id` for every revision of a record); None is the whole record. `fields` is
    the surface's own limit on what may leave (`summary`, `details.<name>`, `details.*`);
    anything else is redacted (for a system, left out). `redact` adds redactions beyond the
    agreement's (a subject access export's, a feed recipient's own). `relationship` is one a
    surface established for this disclosure alone (the enrolment or front door a notice was
    routed by); otherwise the child's events decide.
    `to_system`: a system recipient, from which shielded fields and any value carrying a child
    identifier are left out rather than marked. `reuse_audit`: a delivery retried after a crash,
    or a notice read again; an audit entry already written for the same recipient, action and
    items, that redacted no more, stands for this one.
    """

    purpose: Purpose | None
    action: Action = Action.VIEW
    items: frozenset[str] | None = None
    fields: frozenset[str] | None = None
    relationship: RelationshipGrant | None = None
    break_glass_reason: str | None = None
    subject_access: bool = False
    redact: frozenset[str] = frozenset()
    to_system: bool = False
    reuse_audit: bool = False
    at: datetime | None = None  # a consumer's own clock (tests move it); otherwise now


@dataclass(frozen=True)
class Screening:
    """Whether an item would be released to a recipient, without releasing it."""

    permitted: bool
    policies: tuple[str, ...]  # what refused it (policy ids, or "retracted"); empty if permitted


@dataclass(frozen=True, slots=True)
class _Item:
    """What every viewer's release of one entry starts from (derived once per snapshot)."""

    entry: ChronologyEntry
    restricted: Restrictions
    attributes: ItemAttributes
    categories: tuple[str, ...]


def _items(snapshot: ChronologySnapshot) -> list[_Item]:
    """Each entry with its restrictions and what the policy looks at, once per snapshot.
    Equal policy attributes share one object, so the decision point groups them by identity."""

    def derive() -> list[_Item]:
        restricted = restrictions(snapshot.entries)
        interned: dict[ItemAttributes, ItemAttributes] = {}
        items = []
        for entry in snapshot.entries:
            event, limits = entry.event, restricted[id(entry)]
            attributes = ItemAttributes(
                publisher=event.agency.id,
                agency_type=event.agency.type.value,
                kind=event.kind,
                sensitivity=event.sensitivity,
                categories=frozenset(c.value for c in event.categories),
                withheld_roles=limits.withheld_roles,
                withheld_agency_types=limits.withheld_agency_types,
            )
            items.append(
                _Item(
                    entry,
                    limits,
                    interned.setdefault(attributes, attributes),
                    tuple(c.value for c in event.categories),
                )
            )
        return items

    found: list[_Item] = snapshot.derived("gate-items", derive)
    return found


def _wanted(item: _Item, items: frozenset[str] | None) -> bool:
    if items is None:
        return True
    ref = item.entry.ref
    return ref in items or ref.rpartition("@")[0] in items


def _relationships(
    snapshot: ChronologySnapshot, commissions: tuple[ReviewCommission, ...]
) -> tuple[RelationshipGrant, ...]:
    """The relationships the child's events and these commissions establish, derived once per
    snapshot and set of commissions."""
    grants: tuple[RelationshipGrant, ...] = snapshot.derived(
        ("relationships", commissions),
        lambda: tuple(derive_relationships((e.event for e in snapshot.entries), commissions)),
    )
    return grants


def _describe(grant: RelationshipGrant | None) -> str | None:
    return None if grant is None else f"{grant.basis.value} via {grant.source_event_id}"


def _identifier(entries: Sequence[ChronologyEntry], stream: str) -> str:
    """The child's identifier as their own stream's events give it (for a request by stream)."""
    for entry in entries:
        if entry.stream == stream:
            return entry.event.child.identifier
    for entry in entries:  # an NHS number's stream that holds only linked provisional events
        if entry.event.kind == "identity.linked":
            return str(entry.event.details.get("nhs_number", ""))
    return ""


class DisclosureGate:
    def __init__(
        self,
        projection: ChronologyProjection,
        directory: Callable[[], PractitionerDirectory],
        decisions: DecisionPoint,
        audit: AuditLedger,
        pseudonyms: Pseudonymiser,
        *,
        break_glass_duration: timedelta = timedelta(hours=4),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._projection = projection
        self._directory = directory
        self._decisions = decisions
        self._audit = audit
        self._pseudonyms = pseudonyms
        self._break_glass_duration = break_glass_duration
        self._clock = clock

    # Who and what ---------------------------------------------------------------------------

    def child_stream(self, child: ChildRef) -> str:
        return self._pseudonyms.child_stream(child).hex

    def practitioner(self, practitioner_id: str) -> Practitioner:
        practitioner = self._directory().get(practitioner_id)
        if practitioner is None:
            log.warning("unknown_practitioner_refused")
            raise UnknownPractitionerError("that practitioner id is not in the directory")
        return practitioner

    def agreement_in_force(self, at: datetime) -> str:
        return self._decisions.agreement_in_force(at)

    def held_entries(self, child: ChildRef) -> list[ChronologyEntry]:
        """Every entry the hub holds for the child (caught up), for replay to work out what was
        held when. Their content reaches nobody from here: replay shows only what `view`
        released to the reviewer."""
        self._projection.catch_up()
        return self._projection.entries(self._pseudonyms.child_stream(child))

    def withheld_streams(self) -> dict[str, list[str]]:
        """Child stream -> references of the items its publishers withheld from someone, from
        the withholding index (no content: the reasons are in each child's own record)."""
        by_child: dict[str, list[str]] = {}
        for record in self._projection.store.records(WithholdingIndexed):
            if isinstance(record, WithholdingIndexed):
                by_child.setdefault(record.child_stream, []).append(record.ref)
        return by_child

    # Releasing ------------------------------------------------------------------------------

    def view(
        self,
        child: ChildRef,
        practitioner_id: str,
        purpose: Purpose | None,
        *,
        action: Action = Action.VIEW,
        break_glass_reason: str | None = None,
    ) -> ChronologyView:
        """The child's whole chronology as this practitioner may see it for this purpose."""
        return self.disclose(
            child,
            practitioner_id,
            Disclosure(purpose, action, break_glass_reason=break_glass_reason),
        )

    def disclose(
        self, child: ChildRef | str, viewer: str | Practitioner, request: Disclosure
    ) -> ChronologyView:
        """Release what this viewer may have of the child's record for this request, audited
        before it is returned. `child` is a reference or a child stream (consumers hold
        streams); `viewer` a practitioner id, or a system principal (the outbound feed)."""
        practitioner = viewer if isinstance(viewer, Practitioner) else self.practitioner(viewer)
        now = request.at or self._clock()
        stream = self._pseudonyms.child_stream(child).hex if isinstance(child, ChildRef) else child
        self._projection.catch_up()
        erased_documents = False
        try:
            snapshot = self._projection.snapshot(UUID(stream))
        except DataKeyErasedError:  # e.g. a projection restored from before an erasure
            snapshot, erased_documents = ChronologySnapshot(()), True
        identifier = (
            child.identifier
            if isinstance(child, ChildRef)
            else _identifier(snapshot.entries, stream)
        )
        grants = self._audit.grants(stream)
        grant = request.relationship or find_relationship(
            practitioner, _relationships(snapshot, tuple(grants.commissions())), now
        )
        break_glass = None if grant else grants.active_break_glass(practitioner.id, now)
        reason = (request.break_glass_reason or "").strip()
        new_grant = (
            (reason, self._break_glass_duration)
            if grant is None and break_glass is None and reason
            else None
        )
        context = AccessContext(
            request.purpose, grant, break_glass is not None or new_grant is not None, now
        )
        items = [i for i in _items(snapshot) if _wanted(i, request.items)]
        decisions = (
            self._decisions.decide(
                practitioner, request.action, [i.attributes for i in items], context
            )
            if items
            else []
        )
        view = self._release(
            identifier,
            practitioner,
            request,
            self._decisions.agreement_in_force(now),
            grant,
            items,
            decisions,
            snapshot,
            now,
        )
        erased_at = grants.erased_at
        if not snapshot.entries and not erased_documents:
            erased_documents = self._projection.keyring.was_erased(f"child:{stream}")
        if erased_documents or (erased_at is not None and not snapshot.entries):
            view.outcome = "erased"
            when = f" on {erased_at:%Y-%m-%d}" if erased_at else ""
            view.denied_reasons = [f"this child's record was erased{when}"]
        elif erased_at is not None:
            view.notes.append(
                f"an earlier record for this child was erased on {erased_at:%Y-%m-%d}"
            )
        entry = self._audit_entry(view, stream, items, decisions, break_glass, new_grant)
        earlier = self._audited_before(stream, entry) if request.reuse_audit else None
        if earlier is not None:
            view.audit_ref = earlier
        else:
            audited = self._audit.record_access(entry, now, new_grant)
            view.audit_ref = f"{audited.originator_id.hex}@{audited.originator_version}"
        view.break_glass = break_glass or (
            self._audit.grants(stream).active_break_glass(practitioner.id, now)
            if new_grant
            else None
        )
        return view

    def screen(
        self,
        child_stream: str,
        viewer: Practitioner,
        purpose: Purpose,
        *,
        action: Action,
        items: frozenset[str],
        at: datetime | None = None,
    ) -> dict[str, Screening]:
        """Whether each item would be released to this recipient now, without releasing
        anything (so nothing is audited): for a queue that must not hold what may not leave.
        An item retracted by its publisher is never released to another organisation."""
        now = at or self._clock()
        self._projection.catch_up()
        try:
            snapshot = self._projection.snapshot(UUID(child_stream))
        except DataKeyErasedError:
            return {}
        grant = find_relationship(
            viewer,
            _relationships(snapshot, tuple(self._audit.grants(child_stream).commissions())),
            now,
        )
        wanted = [i for i in _items(snapshot) if _wanted(i, items)]
        if not wanted:
            return {}
        decisions = self._decisions.decide(
            viewer,
            action,
            [i.attributes for i in wanted],
            AccessContext(purpose, grant, False, now),
        )
        screened = {}
        for item, decision in zip(wanted, decisions, strict=True):
            if not decision.permitted:
                screened[item.entry.ref] = Screening(False, decision.policies)
            elif item.restricted.retracted_by and viewer.organisation != item.attributes.publisher:
                screened[item.entry.ref] = Screening(False, ("retracted",))
            else:
                screened[item.entry.ref] = Screening(True, ())
        return screened

    def as_of(
        self,
        child: ChildRef,
        practitioner_id: str,
        purpose: Purpose | None,
        held: Sequence[ChronologyEntry],
        at: datetime,
        bound: ChronologyView,
    ) -> ChronologyView:
        """What this practitioner would have been shown at `at`, from the entries the hub held
        then, under the relationships, break-glass grants, directory dates and agreement in
        force then, and never more than `bound` (the audited view of whoever asks, a reviewer)
        released: a field the reviewer may not see stays marked. A computation for reviews:
        it writes no audit entry (the reviewer's own access is the disclosure, and audited)."""
        practitioner = self.practitioner(practitioner_id)
        stream = self._pseudonyms.child_stream(child).hex
        grants = self._audit.grants(stream)
        commissions = grants.commissions(started_by=at)
        grant = find_relationship(
            practitioner, derive_relationships((e.event for e in held), commissions), at
        )
        glass = None if grant else grants.active_break_glass(practitioner.id, at)
        snapshot = ChronologySnapshot(tuple(held))
        items = _items(snapshot)
        context = AccessContext(purpose, grant, glass is not None, at)
        decisions = (
            self._decisions.decide(
                practitioner, Action.VIEW, [i.attributes for i in items], context
            )
            if items
            else []
        )
        then = self._release(
            child.identifier,
            practitioner,
            Disclosure(purpose),
            self._decisions.agreement_in_force(at),
            grant,
            items,
            decisions,
            snapshot,
            at,
            bound={e.ref: e for e in bound.entries},
        )
        then.break_glass = glass
        return then

    # Recording what is not a release of content -----------------------------------------------

    def record_query(
        self, dpo: Practitioner, query: str, outcome: str, child_stream: str = ""
    ) -> str:
        """A data protection officer's audit query (itself a disclosure, of who saw what), or a
        refusal of one; returns the audit reference."""
        audited = self._audit.record_access(
            AuditEntry(
                practitioner_id=dpo.id,
                organisation=dpo.organisation,
                role=dpo.role.value,
                action=f"audit-query:{query}",
                purpose=Purpose.DATA_PROTECTION_AUDIT.value,
                lawful_basis="legal-obligation",
                agreement_version=self._decisions.agreement_in_force(self._clock()),
                child_stream=child_stream,
                outcome=outcome,
                disclosed=[],
                redacted={},
                withheld=[],
                denied={},
                relationship=None,
                break_glass_reason=None,
                siblings=[],
            ),
            self._clock(),
        )
        return f"{audited.originator_id.hex}@{audited.originator_version}"

    def record_withdrawal(
        self,
        recipient: Practitioner,
        purpose: Purpose,
        child_stream: str,
        refs: list[str],
        lawful_basis: str | None,
        *,
        at: datetime | None = None,
        reuse_audit: bool = False,
    ) -> str:
        """A system is told to drop items it was sent (retracted, or no longer shared). Nothing
        of the record is released, so the policy is not asked again; the notice is recorded
        under the basis the items were sent under (once, when retried after a crash)."""
        now = at or self._clock()
        entry = AuditEntry(
            practitioner_id=recipient.id,
            organisation=recipient.organisation,
            role=recipient.role.value,
            action=Action.EXPORT.value,
            purpose=purpose.value,
            lawful_basis=lawful_basis,
            agreement_version=self._decisions.agreement_in_force(now),
            child_stream=child_stream,
            outcome="withdrawn",
            disclosed=list(refs),
            redacted={ref: list(RETRACTED_FIELDS) for ref in refs},
            withheld=[],
            denied={},
            relationship=None,
            break_glass_reason=None,
            siblings=[],
        )
        earlier = self._audited_before(child_stream, entry) if reuse_audit else None
        if earlier is not None:
            return earlier
        audited = self._audit.record_access(entry, now)
        return f"{audited.originator_id.hex}@{audited.originator_version}"

    # The release itself ---------------------------------------------------------------------

    def _release(
        self,
        identifier: str,
        practitioner: Practitioner,
        request: Disclosure,
        agreement: str,
        grant: RelationshipGrant | None,
        items: Sequence[_Item],
        decisions: Sequence[Decision],
        snapshot: ChronologySnapshot,
        at: datetime,
        bound: dict[str, ShownEntry] | None = None,
    ) -> ChronologyView:
        view = ChronologyView(
            child=identifier,
            practitioner=practitioner,
            purpose=request.purpose,
            action=request.action,
            agreement_version=agreement,
            outcome="no-record",
            relationship=_describe(grant),
            break_glass=None,
        )
        if not items:
            return view
        reasons: Counter[str] = Counter()
        released: list[ChronologyEntry] = []
        is_dpo = practitioner.role is Role.DATA_PROTECTION_OFFICER
        for item, decision in zip(items, decisions, strict=True):
            if not decision.permitted:
                reasons.update(decision.reasons)
                continue
            entry = item.entry
            limits = item.restricted
            if request.subject_access and subject_access_withheld(limits):
                view.withheld.append(
                    {
                        "ref": entry.ref,
                        "agency": entry.event.agency.id,
                        "note": SUBJECT_ACCESS_WITHHELD,
                    }
                )
                continue
            ceiling = bound.get(entry.ref) if bound is not None else None
            if bound is not None and ceiling is None:
                continue  # the reviewer was not shown it: neither is its replay
            if (limits.retracted_by and practitioner.organisation != entry.event.agency.id) or (
                ceiling is not None and ceiling.retracted
            ):
                view.entries.append(self._retracted(item, limits, decision.lawful_basis))
                continue
            shown, out = self._shaped(item, decision, request, is_dpo, ceiling)
            view.entries.append(shown)
            if out is not None:
                released.append(out)
        self._group_households(view, practitioner, {i.entry.stream for i in items}, at)
        view.patterns = self._patterns(snapshot, released)
        if not view.entries:
            view.outcome = "denied"
            view.denied_reasons = sorted(reasons) or (
                [SUBJECT_ACCESS_WITHHELD] if view.withheld else []
            )
        else:
            view.outcome = "partially-disclosed" if reasons or view.withheld else "disclosed"
        return view

    def _shaped(
        self,
        item: _Item,
        decision: Decision,
        request: Disclosure,
        is_dpo: bool,
        ceiling: ShownEntry | None,
    ) -> tuple[ShownEntry, ChronologyEntry | None]:
        """The entry as released, and (if current) the entry patterns may be derived from."""
        entry = item.entry
        event = entry.event
        omit = frozenset() if request.fields is None else outside(event, request.fields)
        shaped = shape(
            event,
            shielded=item.restricted.shielded,
            redact=decision.redact | request.redact,
            omit=omit,
            for_system=request.to_system,
        )
        summary, details = shaped.summary, shaped.details
        if ceiling is not None and (ceiling.redacted or ceiling.shielded):
            summary = bounded(summary, ceiling.summary)
            details = bounded_details(details, ceiling.details)
        shown = ShownEntry._assemble(
            ref=entry.ref,
            agency=event.agency.id,
            agency_type=item.attributes.agency_type,
            kind=event.kind,
            categories=list(item.categories),
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            received_at=entry.received_at,
            summary=summary,
            details=details,
            sensitivity=event.sensitivity,
            status=entry.status.value,
            replaced_by=entry.replaced_by,
            household_ref=event.household_ref,
            redacted=list(
                dict.fromkeys([*shaped.redacted, *(ceiling.redacted if ceiling else ())])
            ),
            shielded=list(shaped.shielded),
            withheld_from=withholding_summary(item.restricted.withholdings) if is_dpo else None,
            lawful_basis=decision.lawful_basis,
        )
        if entry.status is not EntryStatus.CURRENT:
            return shown, None
        if not shown.redacted and not shown.shielded and len(details) == len(event.details):
            return shown, entry  # released whole: derive from the entry as it is
        return shown, released_copy(entry, summary, details)

    @staticmethod
    def _retracted(item: _Item, limits: Restrictions, lawful_basis: str | None) -> ShownEntry:
        """A retracted record as anyone outside its publisher sees it: who published it, when
        the hub received it, that it was retracted and by what; nothing of what it said."""
        entry = item.entry
        return ShownEntry._assemble(
            ref=entry.ref,
            agency=entry.event.agency.id,
            agency_type=item.attributes.agency_type,
            kind=RETRACTED,
            categories=[],
            occurred_at=entry.received_at,
            recorded_at=entry.received_at,
            received_at=entry.received_at,
            summary=RETRACTED,
            details={},
            sensitivity="standard",
            status=EntryStatus.RETRACTED.value,
            replaced_by=limits.retracted_by,
            household_ref=None,
            redacted=list(RETRACTED_FIELDS),
            shielded=[],
            withheld_from=None,
            lawful_basis=lawful_basis,
        )

    @staticmethod
    def _patterns(
        snapshot: ChronologySnapshot, released: list[ChronologyEntry]
    ) -> list[PatternFlag]:
        """Pattern flags from the released current entries only: a shielded or withheld fact
        cannot reappear in a flag's text. Most viewers are released the same entries, so the
        flags are kept per snapshot and release."""
        key = ("patterns", tuple((id(e.event), e.ref) for e in released))
        flags: tuple[PatternFlag, ...] = snapshot.derived(
            key, lambda: tuple(detect_patterns(released))
        )
        return list(flags)

    def _group_households(
        self, view: ChronologyView, practitioner: Practitioner, own: set[str], now: datetime
    ) -> None:
        """Group released entries by the household they name, and say which siblings share it.
        A sibling is identified only to a viewer with a relationship to that sibling too."""
        for shown in view.entries:
            if not shown.household_ref:
                continue
            key = f"{shown.agency}/{shown.household_ref}"
            group = view.households.get(key)
            if group is None:
                group = view.households[key] = {"entries": [], "siblings": []}
                members = self._projection.household_members(shown.agency, shown.household_ref)
                for stream, identifier in sorted(members.items()):
                    if stream in own:
                        continue
                    related = find_relationship(
                        practitioner,
                        _relationships(self._projection.snapshot(UUID(stream)), ()),
                        now,
                    )
                    if related is not None:
                        group["siblings"].append({"child": identifier})
                        view.sibling_streams.add(stream)
                    else:
                        group["siblings"].append(
                            {
                                "child": None,
                                "note": "another child; you have no relationship with them",
                            }
                        )
            group["entries"].append(shown.ref)

    # Auditing -----------------------------------------------------------------------------

    @staticmethod
    def _audit_entry(
        view: ChronologyView,
        child_stream: str,
        items: Sequence[_Item],
        decisions: Sequence[Decision],
        break_glass: BreakGlassGranted | None,
        new_grant: tuple[str, timedelta] | None,
    ) -> AuditEntry:
        withheld = [i.entry.ref for i, d in zip(items, decisions, strict=True) if d.withheld]
        withheld += [w["ref"] for w in view.withheld]
        denied: Counter[str] = Counter(
            p for d in decisions if not d.permitted and not d.withheld for p in d.policies
        )
        return AuditEntry(
            practitioner_id=view.practitioner.id,
            organisation=view.practitioner.organisation,
            role=view.practitioner.role.value,
            action=view.action.value,
            purpose=view.purpose.value if view.purpose else None,
            lawful_basis=next((d.lawful_basis for d in decisions if d.permitted), None),
            agreement_version=view.agreement_version,
            child_stream=child_stream,
            outcome=view.outcome,
            disclosed=[e.ref for e in view.entries],
            redacted={e.ref: list(e.redacted) for e in view.entries if e.redacted},
            withheld=withheld,
            denied=dict(denied),
            relationship=view.relationship,
            break_glass_reason=new_grant[0]
            if new_grant
            else (break_glass.reason if break_glass else None),
            siblings=sorted(view.sibling_streams),
        )

    def _audited_before(self, child_stream: str, entry: AuditEntry) -> str | None:
        """An audit entry already written for this recipient, action and items that redacted
        no more than this release does (a delivery retried after a crash, a notice read again),
        so the same disclosure is not audited twice; one that would show more is audited."""
        if not entry.disclosed:
            return None
        for record in self._audit.for_child(child_stream):
            if (
                isinstance(record, DisclosureAudited)
                and record.practitioner_id == entry.practitioner_id
                and record.action == entry.action
                and set(entry.disclosed) <= set(record.disclosed)
                and all(
                    set(record.redacted.get(ref, ())) <= set(entry.redacted.get(ref, ()))
                    for ref in entry.disclosed
                )
            ):
                return f"{record.originator_id.hex}@{record.originator_version}"
        return None
