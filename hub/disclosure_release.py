"""What the disclosure gate releases, and the pure part of releasing it.

The shapes surfaces receive (`ShownEntry`, `ChronologyView`) and ask with (`Disclosure`,
`Screening`); and, for one decided entry, what the viewer is released of it: shaped by the
record's restrictions, the decision's and the surface's redactions, or a retracted record's
stand-in; and the pattern flags of what was released. No I/O: `hub/disclosure_gate.py` reads the
record, decides, audits and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.domain.access import Practitioner, Purpose, RelationshipGrant
from hub.domain.chronology import ChronologyEntry, EntryStatus, Origin, PatternFlag
from hub.domain.markers import RETRACTED, WITHHELD
from hub.domain.patterns import detect_patterns
from hub.domain.records import BreakGlassGranted
from hub.policies.decision import Action, Decision, ItemAttributes
from hub.policies.redaction import (
    RETRACTED_FIELDS,
    Restrictions,
    bounded,
    bounded_details,
    copied,
    outside,
    released_copy,
    restrictions,
    shape,
    withholding_summary,
)
from hub.read_models.chronology_snapshot import ChronologySnapshot


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
    # Received from a partner hub (a transfer): where from. A class default, so stand-ins
    # assembled without it have none.
    origin: Origin | None = None

    @property
    def provenance(self) -> str | None:
        """`From <partnership> (<agency>), received from their hub on <date>`, for an entry
        received from a partner hub; None for a local agency's."""
        return None if self.origin is None else self.origin.label(self.agency)

    @property
    def provenance_text(self) -> str | None:
        """The provenance and whom to contact at the partnership, as a sentence or two, for
        a reader of an export or a pack; None for a local agency's entry."""
        origin = self.origin
        if origin is None:
            return None
        return f"{origin.label(self.agency)}. Contact there: {origin.contact}."

    @property
    def publisher(self) -> str:
        """Who published it, as the gate knows them: the agency's id, or `<hub>:<agency>` for
        an entry received from a partner hub (never a local agency, whatever its id)."""
        return self.agency if self.origin is None else f"{self.origin.hub}:{self.agency}"

    def agency_name(self, names: Mapping[str, str]) -> str:
        """The publishing agency as people read it: a local agency by its name in this hub's
        register (`names`), a partner hub's agency by its id there and the partnership's name
        (`wold-borough-council (Wessex Safeguarding Children Partnership)`), never by a local
        agency's name that happens to share the id."""
        if self.origin is None:
            return names.get(self.agency, self.agency)
        return f"{self.agency} ({self.origin.partnership})"

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

    @property
    def withheld(self) -> bool:
        """A withheld item's stand-in (for a DPO of another organisation): who withheld it,
        when, and when it is to be reviewed; nothing of what it says."""
        return self.kind == WITHHELD

    def as_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for name in ("occurred_at", "recorded_at", "received_at"):
            data[name] = data[name].isoformat()
        origin = self.origin
        data["origin"] = (
            None
            if origin is None
            else {
                "hub": origin.hub,
                "partnership": origin.partnership,
                "contact": origin.contact,
                "received_from_hub_at": origin.received_from_hub_at.isoformat(),
                "label": self.provenance,
            }
        )
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
    # Agencies some of whose items were not released to this viewer (a partial disclosure
    # only), so the viewer is told whom to ask; never said to a viewer who was refused.
    unshared_agencies: list[str] = field(default_factory=list)
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
            "unshared_agencies": self.unshared_agencies,
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
    `redact_items`: redactions for named items only (a subject access pack's decided
    redactions). `released_withheld`: items a publisher withheld from someone that a data
    protection officer decided to release to a subject access requester (otherwise a subject
    access release leaves every withheld item out).
    `to_system`: a system recipient, from which shielded fields and any value carrying a child
    identifier are left out rather than marked. `accompanying`: kinds of which the latest current
    record the viewer is permitted goes with the named `items`, and only when one of them is
    released to the viewer (a notice's header: the child's identifying details, never without
    the notice). `reuse_audit`: a delivery retried after a crash,
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
    redact_items: Mapping[str, frozenset[str]] = field(default_factory=dict)
    released_withheld: frozenset[str] = frozenset()
    to_system: bool = False
    accompanying: frozenset[str] = frozenset()
    reuse_audit: bool = False
    at: datetime | None = None  # a consumer's own clock (tests move it); otherwise now
    # A search by name and date of birth: its terms, recorded in the audit entry (sealed).
    search_terms: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Screening:
    """Whether an item would be released to a recipient, without releasing it."""

    permitted: bool
    policies: tuple[str, ...]  # what refused it (policy ids, or "retracted"); empty if permitted


@dataclass(frozen=True, slots=True)
class ReleaseItem:
    """What every viewer's release of one entry starts from (derived once per snapshot)."""

    entry: ChronologyEntry
    ref: str  # the entry's publisher reference, computed once
    agency: str
    status: str
    restricted: Restrictions
    attributes: ItemAttributes
    categories: tuple[str, ...]


def release_items(snapshot: ChronologySnapshot) -> list[ReleaseItem]:
    """Each entry with its restrictions and what the policy looks at, once per snapshot.
    Equal policy attributes share one object, so the decision point groups them by identity."""

    def derive() -> list[ReleaseItem]:
        restricted = restrictions(snapshot.entries)
        # Equal attributes are one object; looked up first by what they are made of (the
        # agency, the event's kind, sensitivity and categories as recorded, the restrictions
        # in force), so they are built once per distinct set rather than once per entry.
        interned: dict[ItemAttributes, ItemAttributes] = {}
        made_of: dict[tuple[object, ...], ItemAttributes] = {}
        items = []
        for entry in snapshot.entries:
            event, limits = entry.event, restricted[id(entry)]
            agency = event.agency
            # A partner hub's agency is never one of this partnership's organisations, even
            # where the ids are alike: its records are not any local organisation's own.
            publisher = agency.id if entry.origin is None else f"{entry.origin.hub}:{agency.id}"
            categories = tuple(c.value for c in event.categories)
            key = (publisher, agency.type, event.kind, event.sensitivity, categories, limits)
            attributes = made_of.get(key)
            if attributes is None:
                attributes = ItemAttributes(
                    publisher=publisher,
                    agency_type=agency.type.value,
                    kind=event.kind,
                    sensitivity=event.sensitivity,
                    categories=frozenset(categories),
                    withheld_roles=limits.withheld_roles,
                    withheld_agency_types=limits.withheld_agency_types,
                )
                attributes = made_of[key] = interned.setdefault(attributes, attributes)
            items.append(
                ReleaseItem(
                    entry,
                    entry.ref,
                    agency.id,
                    entry.status.value,
                    limits,
                    attributes,
                    categories,
                )
            )
        return items

    found: list[ReleaseItem] = snapshot.derived("release-items", derive)
    return found


def wanted(item: ReleaseItem, items: frozenset[str] | None) -> bool:
    """Whether a request names this entry: by its reference, or by its record (every revision)."""
    if items is None:
        return True
    return item.ref in items or item.ref.rpartition("@")[0] in items


def accompanied(
    items: Sequence[ReleaseItem],
    decisions: Sequence[Decision],
    request: Disclosure,
    organisation: str,
) -> tuple[list[ReleaseItem], list[Decision]]:
    """The items a request names, with the latest current record of its `accompanying` kinds
    that the viewer (of `organisation`) is permitted, only when a named item is released to
    them: permitted, and not retracted by another organisation. Any other accompanying record
    is left out, neither released nor counted as refused."""
    named = [(i, d) for i, d in zip(items, decisions, strict=True) if wanted(i, request.items)]
    released = any(
        d.permitted and not (i.restricted.retracted_by and organisation != i.attributes.publisher)
        for i, d in named
    )
    extra = [
        (i, d)
        for i, d in zip(items, decisions, strict=True)
        if not wanted(i, request.items) and d.permitted
    ]
    if released and extra:
        latest = max(
            extra,
            key=lambda pair: (pair[0].entry.event.occurred_at, pair[0].entry.event.recorded_at),
        )
        named.append(latest)
    return [i for i, _ in named], [d for _, d in named]


def shown_entry(
    item: ReleaseItem,
    decision: Decision,
    request: Disclosure,
    *,
    dpo: bool,
    ceiling: ShownEntry | None = None,
) -> tuple[ShownEntry, ChronologyEntry | None]:
    """The entry as released to one viewer, and (if current) the entry pattern flags may be
    derived from: the released content, markers in place of what was withheld. `ceiling`: what
    a wider release (a reviewer's) gave of the same entry, which this one may not exceed."""
    entry = item.entry
    event = entry.event
    summary: str | None
    item_redact = request.redact_items.get(item.ref, frozenset())
    if (
        item.restricted.shielded
        or decision.redact
        or request.redact
        or item_redact
        or request.fields is not None
        or request.to_system
        or ceiling is not None
    ):
        omit = frozenset() if request.fields is None else outside(event, request.fields)
        summary, details, redacted, shielded = shape(
            event,
            shielded=item.restricted.shielded,
            redact=decision.redact | request.redact | item_redact,
            omit=omit,
            for_system=request.to_system,
        )
        if ceiling is not None and (ceiling.redacted or ceiling.shielded):
            summary = bounded(summary, ceiling.summary)
            details = bounded_details(details, ceiling.details)
            redacted = tuple(dict.fromkeys([*redacted, *ceiling.redacted]))
    else:  # most entries of most views: nothing to withhold, released whole
        summary, details, redacted, shielded = event.summary, copied(event.details), (), ()
    shown = ShownEntry._assemble(
        ref=item.ref,
        agency=item.agency,
        agency_type=item.attributes.agency_type,
        kind=event.kind,
        categories=list(item.categories),
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        received_at=entry.received_at,
        summary=summary,
        details=details,
        sensitivity=event.sensitivity,
        status=item.status,
        replaced_by=entry.replaced_by,
        household_ref=event.household_ref,
        redacted=list(redacted),
        shielded=list(shielded),
        withheld_from=withholding_summary(item.restricted.withholdings) if dpo else None,
        lawful_basis=decision.lawful_basis,
        origin=entry.origin,
    )
    if entry.status is not EntryStatus.CURRENT:
        return shown, None
    if not redacted and not shielded and len(details) == len(event.details):
        return shown, entry  # released whole: derive from the entry as it is
    return shown, released_copy(entry, summary, details)


def retracted_entry(item: ReleaseItem, lawful_basis: str | None) -> ShownEntry:
    """A retracted record as anyone outside its publisher sees it: who published it, when the
    hub received it, that it was retracted and by what; nothing of what it said."""
    entry = item.entry
    return ShownEntry._assemble(
        ref=item.ref,
        agency=item.agency,
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
        replaced_by=item.restricted.retracted_by,
        household_ref=None,
        redacted=list(RETRACTED_FIELDS),
        shielded=[],
        withheld_from=None,
        lawful_basis=lawful_basis,
        origin=entry.origin,
    )


def released_patterns(
    snapshot: ChronologySnapshot,
    released: list[tuple[ReleaseItem, ShownEntry, ChronologyEntry]],
) -> list[PatternFlag]:
    """Pattern flags from the released current entries only, so a shielded, redacted or
    withheld fact cannot reappear in a flag's text. What a viewer is released of the snapshot
    is fixed by which of its entries they get and each one's redactions and shields, so the
    flags are kept per snapshot and that release (most viewers share one). The snapshot holds
    its entries, so their ids name them for as long as the flags are kept."""
    key = (
        "patterns",
        tuple(
            id(item.entry)
            if entry is item.entry
            else (id(item.entry), tuple(shown.redacted), tuple(shown.shielded))
            for item, shown, entry in released
        ),
    )
    entries = [entry for _, _, entry in released]
    flags: tuple[PatternFlag, ...] = snapshot.derived(key, lambda: tuple(detect_patterns(entries)))
    return list(flags)
