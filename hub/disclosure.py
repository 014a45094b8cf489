"""Disclosing a child's chronology: decide, audit first, then show.

The order is the point: the audit entry (who, organisation, role, purpose, lawful basis,
agreement version, child pseudonym, what was disclosed, redacted and withheld, break-glass) is
committed before anything is returned, and if it cannot be written nothing is disclosed.
Denials are audited too. Shielded fields are removed from every entry for every viewer before
anything else happens, so no later step can leak them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from copy import deepcopy
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
from hub.domain.records import BreakGlassGranted, WithholdingIndexed
from hub.domain.relationships import ReviewCommission, derive_relationships, find_relationship
from hub.policies.decision import AccessContext, Action, Decision, DecisionPoint, ItemAttributes

log = structlog.get_logger("hub.disclosure")
SHIELDED = "[shielded]"
REDACTED = "[redacted]"


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
    summary: str
    details: dict[str, Any]
    sensitivity: str
    status: str
    replaced_by: str | None
    household_ref: str | None
    redacted: list[str]
    shielded: list[str]
    withheld_from: list[dict[str, Any]] | None  # only for data protection officers

    @classmethod
    def _assemble(cls, **values: Any) -> ShownEntry:
        """Construct without the frozen dataclass's per-field `object.__setattr__` calls (a
        quarter of the cost; a chronology builds a thousand per request). The caller passes
        every field, as the generated __init__ would require."""
        shown = object.__new__(cls)
        shown.__dict__.update(values)
        return shown

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for name in ("occurred_at", "recorded_at", "received_at"):
            data[name] = data[name].isoformat()
        return data


@dataclass
class ChronologyView:
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


@dataclass(frozen=True, slots=True)
class _Shown:
    """What every viewer's `ShownEntry` of one entry starts from, before redaction (immutable,
    so it is derived once per chronology snapshot and shared by every request)."""

    entry: ChronologyEntry
    ref: str
    agency: str
    agency_type: str
    categories: tuple[str, ...]
    status: str
    shielded: frozenset[str]
    shielded_sorted: tuple[str, ...]


def _shown(entry: ChronologyEntry) -> _Shown:
    event = entry.event
    shielded = frozenset(event.shielded_fields)
    return _Shown(
        entry=entry,
        ref=entry.ref,
        agency=event.agency.id,
        agency_type=event.agency.type.value,
        categories=tuple(c.value for c in event.categories),
        status=entry.status.value,
        shielded=shielded,
        shielded_sorted=tuple(sorted(shielded)),
    )


def _own_copy(value: Any) -> Any:
    """A detail value the view may hand out without sharing the (cached) event's containers."""
    return deepcopy(value) if isinstance(value, dict | list) else value


def _shield_and_redact(
    shown: _Shown, redact: frozenset[str]
) -> tuple[str, dict[str, Any], list[str], list[str]]:
    event = shown.entry.event
    shielded = shown.shielded
    if not shielded and not redact:
        details = {name: _own_copy(value) for name, value in event.details.items()}
        return event.summary, details, [], []
    summary = (
        SHIELDED if "summary" in shielded else (REDACTED if "summary" in redact else event.summary)
    )
    details = {}
    redacted = ["summary"] if "summary" in redact and "summary" not in shielded else []
    for name, value in event.details.items():
        path = f"details.{name}"
        if path in shielded:
            details[name] = SHIELDED
        elif path in redact:
            details[name] = REDACTED
            redacted.append(path)
        else:
            details[name] = _own_copy(value)
    return summary, details, redacted, list(shown.shielded_sorted)


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


def _policy_items(snapshot: ChronologySnapshot) -> list[ItemAttributes]:
    """What the policy looks at of each entry, derived once per snapshot."""

    def derive() -> list[ItemAttributes]:
        # Equal attributes share one object, so grouping them finds each by identity.
        interned: dict[ItemAttributes, ItemAttributes] = {}
        return [
            interned.setdefault(item, item)
            for item in (ItemAttributes.of(e.event) for e in snapshot.entries)
        ]

    items: list[ItemAttributes] = snapshot.derived("policy-items", derive)
    return items


class ChronologyService:
    def __init__(
        self,
        projection: ChronologyProjection,
        directory: PractitionerDirectory,
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

    def child_stream(self, child: ChildRef) -> str:
        return self._pseudonyms.child_stream(child).hex

    def withheld_items(self) -> list[tuple[str, dict[str, Any]]]:
        """Every item a publisher withheld from some recipients, with reason, decider and
        review date read from the child's own record (for data protection officers)."""
        by_child: dict[str, list[WithholdingIndexed]] = {}
        for record in self._projection.store.records(WithholdingIndexed):
            if isinstance(record, WithholdingIndexed):
                by_child.setdefault(record.child_stream, []).append(record)
        self._projection.catch_up()
        items = []
        for child, indexed in by_child.items():
            try:
                events = {e.ref: e.event for e in self._projection.entries(UUID(child))}
            except DataKeyErasedError:
                events = {}
            for record in indexed:
                event = events.get(record.ref)
                items.append(
                    (
                        child,
                        {
                            "ref": record.ref,
                            "kind": record.kind,
                            "withheld_from": None
                            if event is None
                            else [
                                w.model_dump(mode="json", exclude_none=True)
                                for w in event.withheld_from
                            ],
                            "erased": event is None,
                        },
                    )
                )
        return items

    def practitioner(self, practitioner_id: str) -> Practitioner:
        practitioner = self._directory.get(practitioner_id)
        if practitioner is None:
            log.warning("unknown_practitioner_refused")
            raise UnknownPractitionerError("that practitioner id is not in the directory")
        return practitioner

    def view(
        self,
        child: ChildRef,
        practitioner_id: str,
        purpose: Purpose | None,
        *,
        action: Action = Action.VIEW,
        break_glass_reason: str | None = None,
        extra_redact: frozenset[str] = frozenset(),
    ) -> ChronologyView:
        """The child's chronology as this practitioner may see it for this purpose, audited
        before it is returned. `extra_redact` adds redactions (subject access exports)."""
        practitioner = self.practitioner(practitioner_id)
        now = self._clock()
        stream = self._pseudonyms.child_stream(child)
        self._projection.catch_up()
        erased_documents = False
        try:
            snapshot = self._projection.snapshot(stream)
        except DataKeyErasedError:  # e.g. a projection restored from before an erasure
            snapshot, erased_documents = ChronologySnapshot(()), True
        entries = snapshot.entries
        grants = self._audit.grants(stream.hex)
        commissions = tuple(grants.commissions())
        grant = find_relationship(
            practitioner,
            _relationships(snapshot, commissions),
            now,
        )
        break_glass = None if grant else grants.active_break_glass(practitioner.id, now)
        new_grant = None
        if (
            grant is None
            and break_glass is None
            and break_glass_reason
            and break_glass_reason.strip()
        ):
            new_grant = (break_glass_reason.strip(), self._break_glass_duration)
        context = AccessContext(
            purpose, grant, break_glass is not None or new_grant is not None, now
        )
        decisions = (
            self._decisions.decide(practitioner, action, _policy_items(snapshot), context)
            if entries
            else []
        )
        agreement = self._decisions.agreement_in_force(now)
        view = self._build(
            child,
            practitioner,
            purpose,
            action,
            agreement,
            grant,
            entries,
            decisions,
            extra_redact,
            snapshot,
        )
        erased_at = grants.erased_at
        if not entries and not erased_documents:
            erased_documents = self._projection.keyring.was_erased(f"child:{stream.hex}")
        if erased_documents or (erased_at is not None and not entries):
            view.outcome = "erased"
            when = f" on {erased_at:%Y-%m-%d}" if erased_at else ""
            view.denied_reasons = [f"this child's record was erased{when}"]
        elif erased_at is not None:
            view.notes.append(
                f"an earlier record for this child was erased on {erased_at:%Y-%m-%d}"
            )
        audited = self._audit.record_access(
            self._audit_fields(view, stream.hex, decisions, entries, grant, break_glass, new_grant),
            now,
            new_grant,
        )
        view.audit_ref = f"{audited.originator_id.hex}@{audited.originator_version}"
        view.break_glass = break_glass or (
            self._audit.grants(stream.hex).active_break_glass(practitioner.id, now)
            if new_grant
            else None
        )
        return view

    def as_of(
        self,
        child: ChildRef,
        practitioner_id: str,
        purpose: Purpose | None,
        entries: Sequence[ChronologyEntry],
        at: datetime,
    ) -> ChronologyView:
        """What this practitioner would have been shown at `at`, from the entries the hub held
        then, under the relationships, break-glass grants, directory dates and agreement version
        in force then. A computation for reviews: it discloses nothing itself and writes no
        audit entry (the reviewer's own access is audited by the caller)."""
        practitioner = self.practitioner(practitioner_id)
        stream = self._pseudonyms.child_stream(child).hex
        grants = self._audit.grants(stream)
        commissions = grants.commissions(started_by=at)
        grant = find_relationship(
            practitioner, derive_relationships((e.event for e in entries), commissions), at
        )
        glass = None if grant else grants.active_break_glass(practitioner.id, at)
        context = AccessContext(purpose, grant, glass is not None, at)
        decisions = (
            self._decisions.decide(
                practitioner, Action.VIEW, [ItemAttributes.of(e.event) for e in entries], context
            )
            if entries
            else []
        )
        view = self._build(
            child,
            practitioner,
            purpose,
            Action.VIEW,
            self._decisions.agreement_in_force(at),
            grant,
            list(entries),
            decisions,
            frozenset(),
        )
        view.break_glass = glass
        return view

    def agreement_in_force(self, at: datetime) -> str:
        return self._decisions.agreement_in_force(at)

    def entries(self, child: ChildRef) -> list[ChronologyEntry]:
        """Every entry the hub holds for the child (caught up), for replay."""
        self._projection.catch_up()
        return self._projection.entries(self._pseudonyms.child_stream(child))

    def _build(
        self,
        child: ChildRef,
        practitioner: Practitioner,
        purpose: Purpose | None,
        action: Action,
        agreement: str,
        grant: RelationshipGrant | None,
        entries: Sequence[ChronologyEntry],
        decisions: Sequence[Decision],
        extra_redact: frozenset[str],
        snapshot: ChronologySnapshot | None = None,
    ) -> ChronologyView:
        """`snapshot`: where `entries` came from, to reuse what was derived from them."""
        view = ChronologyView(
            child=child.identifier,
            practitioner=practitioner,
            purpose=purpose,
            action=action,
            agreement_version=agreement,
            outcome="no-record",
            relationship=None
            if grant is None
            else f"{grant.basis.value} via {grant.source_event_id}",
            break_glass=None,
        )
        if not entries:
            return view
        shown: list[ChronologyEntry] = []
        reasons: Counter[str] = Counter()
        is_dpo = practitioner.role is Role.DATA_PROTECTION_OFFICER
        bases = (
            snapshot.derived("shown", lambda: [_shown(e) for e in entries])
            if snapshot is not None
            else [_shown(e) for e in entries]
        )
        for base, decision in zip(bases, decisions, strict=True):
            if not decision.permitted:
                reasons.update(decision.reasons)
                continue
            summary, details, redacted, shielded = _shield_and_redact(
                base, decision.redact | extra_redact if extra_redact else decision.redact
            )
            entry = base.entry
            event = entry.event
            view.entries.append(
                ShownEntry._assemble(
                    ref=base.ref,
                    agency=base.agency,
                    agency_type=base.agency_type,
                    kind=event.kind,
                    categories=list(base.categories),
                    occurred_at=event.occurred_at,
                    recorded_at=event.recorded_at,
                    received_at=entry.received_at,
                    summary=summary,
                    details=details,
                    sensitivity=event.sensitivity,
                    status=base.status,
                    replaced_by=entry.replaced_by,
                    household_ref=event.household_ref,
                    redacted=redacted,
                    shielded=shielded,
                    withheld_from=[
                        w.model_dump(mode="json", exclude_none=True) for w in event.withheld_from
                    ]
                    if is_dpo
                    else None,
                )
            )
            shown.append(entry)
        self._group_households(view, practitioner, {e.stream for e in entries})
        current = [e for e in shown if e.status is EntryStatus.CURRENT]
        view.patterns = list(
            detect_patterns(current)
            if snapshot is None
            # Patterns depend only on which entries are shown: the same for most viewers.
            else snapshot.derived(
                ("patterns", tuple(id(e) for e in current)),
                lambda: tuple(detect_patterns(current)),
            )
        )
        if not view.entries:
            view.outcome = "denied"
            view.denied_reasons = sorted(reasons)
        else:
            view.outcome = "partially-disclosed" if reasons else "disclosed"
        return view

    def _group_households(
        self, view: ChronologyView, practitioner: Practitioner, own: set[str]
    ) -> None:
        """Group entries by the household they name, and say which siblings share it. A
        sibling is identified only to a viewer with a relationship to that sibling too."""
        now = self._clock()
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

    def _audit_fields(
        self,
        view: ChronologyView,
        child_stream: str,
        decisions: Sequence[Decision],
        entries: Sequence[ChronologyEntry],
        grant: RelationshipGrant | None,
        break_glass: BreakGlassGranted | None,
        new_grant: tuple[str, timedelta] | None,
    ) -> dict[str, Any]:
        withheld = [e.ref for e, d in zip(entries, decisions, strict=True) if d.withheld]
        denied: Counter[str] = Counter(
            p for d in decisions if not d.permitted and not d.withheld for p in d.policies
        )
        lawful = next((d.lawful_basis for d in decisions if d.permitted), None)
        reason = new_grant[0] if new_grant else (break_glass.reason if break_glass else None)
        return {
            "practitioner_id": view.practitioner.id,
            "organisation": view.practitioner.organisation,
            "role": view.practitioner.role.value,
            "action": view.action.value,
            "purpose": view.purpose.value if view.purpose else None,
            "lawful_basis": lawful,
            "agreement_version": view.agreement_version,
            "child_stream": child_stream,
            "outcome": view.outcome,
            "disclosed": [e.ref for e in view.entries],
            "redacted": {e.ref: e.redacted for e in view.entries if e.redacted},
            "withheld": withheld,
            "denied": dict(denied),
            "relationship": view.relationship,
            "break_glass_reason": reason,
            "siblings": sorted(view.sibling_streams),
        }
