"""The one disclosure gate: nothing about a child leaves the hub any other way.

Every surface that gives a person or another system anything from a child's record asks the
gate: the chronology (CLI, API, pages), a search by name and date of birth (`search`), replay
and review packs, Operation Encompass notices, statutory clock alerts, the outbound feed,
subject access exports and the data protection officers' views. For each request the gate,
in this order:

1. reads the child's record from the chronology projection itself (callers name items by
   reference, never hand it content);
2. works out each item's restrictions: its record's latest shields and withholdings govern
   every revision (as its withholding reviews left them), and a retracted record says only
   that it was retracted (`hub.policies.redaction`);
3. decides, through the one decision point, with the relationship the child's own events give
   (or the one a notice was routed by), break-glass and the agreement in force, confined to
   their organisation's scope for a data protection officer (`hub.policies.dpo_scope`);
4. shields, withholds and redacts (`hub.policies.redaction`, the only code that does);
5. derives pattern flags and household lists from what it released, never from the record;
6. writes the typed audit entry (denials too) and only then returns the release. If the
   audit entry cannot be written, nothing is released.

Deciding without releasing (`screen`, for the outbound feed's queue) writes no audit entry
because it gives nothing out; the data protection officers' audit queries and the withdrawal
of an item a system already holds are recorded through the gate too (`record_query`,
`record_withdrawal`), as is a correction told to a partner hub, audited before the gate sends
it (`record_correction_sent`), so the gate is the only writer of audit entries.

One piece on purpose (about 870 lines): the gate is one class in one module, so that
`tests/unit/test_one_gate.py`, which reads the code, can hold that nothing else decides,
audits or builds an audit entry. What needs no I/O (one entry's release, the views, flags) is
its pure half, `hub.disclosure_release`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import structlog

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.directory import PractitionerDirectory
from hub.adapters.pseudonyms import Pseudonymiser
from hub.disclosure_release import (
    ChronologyView,
    Disclosure,
    ReleaseItem,
    Screening,
    ShownEntry,
    accompanied,
    release_items,
    released_patterns,
    retracted_entry,
    shown_entry,
    wanted,
)
from hub.disclosure_withholdings import (
    WithholdingForReview,
    after_reviews,
    for_review,
    withheld_entry,
)
from hub.domain.access import (
    Practitioner,
    Purpose,
    RelationshipBasis,
    RelationshipGrant,
    Role,
)
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.discovery import QuestionAudited, QuestionLimit
from hub.domain.records import (
    AuditEntry,
    BreakGlassGranted,
    DisclosureAudited,
)
from hub.domain.relationships import ReviewCommission, derive_relationships, find_relationship
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date
from hub.policies.decision import AccessContext, Action, Decision, DecisionPoint
from hub.policies.dpo_scope import confine_to_organisation, record_of
from hub.policies.redaction import RETRACTED_FIELDS, subject_access_withheld
from hub.ports import AuditTrail, ChronologyReadModel
from hub.read_models.chronology_snapshot import ChronologySnapshot

log = structlog.get_logger("hub.disclosure_gate")
__all__ = [
    "ChronologyView",
    "CorrectionNotice",
    "Disclosure",
    "DisclosureGate",
    "Screening",
    "ShownEntry",
    "TransferSender",
    "UnknownPractitionerError",
]
# What a search by name and date of birth may show of a child's details: enough to pick the
# right child, and nothing else (shielded fields are marked, never shown).
SEARCH_FIELDS = frozenset(
    {
        "details.given_names",
        "details.family_name",
        "details.known_as",
        "details.date_of_birth",
        "details.sex",
    }
)
# Searching with these purposes, a front-door or MACPT member may be shown any child's details.
SEARCH_PURPOSES = frozenset({Purpose.CHILD_PROTECTION_ENQUIRY, Purpose.CHILD_PROTECTION_PLANNING})
SEARCH_TEAMS = ("front-door:", "macpt:")
# A correction of what was transferred, told to a partner hub (`record_correction_sent`).
CORRECTION_SENT = "federation-correction-sent"
# "Is anyone else involved?": the audited actions and the outcome that counts a question.
DISCOVERY_ASKED = ("discovery-question", "asked")
DISCOVERY_ANSWERED = ("discovery-question-received", "answered")
DISCOVERY_NEEDS_RELATIONSHIP = (
    "You can ask whether partner hubs hold records only about a child you have a relationship "
    "with (as their allocated worker, a MACPT member, their school's DSL or under a review "
    "commission). The refusal has been recorded."
)
SUBJECT_ACCESS_WITHHELD = (
    "withheld by its publisher from some recipients as more detrimental to the child; not "
    "included: a data protection officer decides (DPA 2018 Schedule 3) before any release"
)


@dataclass(frozen=True)
class TransferSender:
    """Who sent a transfer this hub recorded, for its audit entry: the partner hub, the
    inter-partnership agreement in force, the transfer and the message."""

    hub: str
    agreement_version: str
    transfer_id: str
    message_id: str


@dataclass(frozen=True)
class CorrectionNotice:
    """A correction this hub is about to send a partner hub of what its transfers sent
    (`hub.federation_transfer`), for its audit entry: the partner hub, the inter-partnership
    agreement, the correction, the transfers it corrects, the move they were for, the sealed
    message, the references withdrawn there (retracted, or another child's) and each reference
    superseded with the corrected revision sent in its place, as the partner will see them."""

    hub: str
    agreement_version: str
    correction_id: str
    transfer_ids: tuple[str, ...]
    move_ref: str
    message_id: str
    withdrawn: tuple[str, ...]
    superseded: tuple[tuple[str, str], ...]  # (the reference sent before, its revision sent)

    @property
    def refs(self) -> list[str]:
        """What the audit entry names: the references the correction withdraws or supersedes,
        in its order, then the corrected revisions (each a later revision of one of them)."""
        return [*self.withdrawn, *(old for old, _ in self.superseded)] + [
            new for _, new in self.superseded
        ]


class UnknownPractitionerError(LookupError):
    """The practitioner id is not in the directory: nothing is shown to an unknown person."""


def _relationships(
    snapshot: ChronologySnapshot, commissions: tuple[ReviewCommission, ...]
) -> tuple[RelationshipGrant, ...]:
    """The relationships the child's events and these commissions establish, derived once per
    snapshot and set of commissions."""
    grants: tuple[RelationshipGrant, ...] = snapshot.derived(
        ("relationships", commissions),
        lambda: tuple(derive_relationships(_local_events(snapshot.entries), commissions)),
    )
    return grants


def _local_events(entries: Iterable[ChronologyEntry]) -> Iterator[CanonicalEvent]:
    """The events local agencies published: relationships come from these alone. An entry
    received from a partner hub (an allocation to one of their workers, an enrolment at one
    of their schools) relates nobody here to the child, nor ends a relationship here."""
    return (e.event for e in entries if e.origin is None)


@dataclass(frozen=True)
class ChildIdentity:
    """Who a child stream is, as a data protection officer may be told: the NHS number or
    provisional id (None when not theirs to see, or when the record was erased)."""

    identifier: str | None
    erased: bool = False
    erased_on: date | None = None


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
        projection: ChronologyReadModel,
        directory: Callable[[], PractitionerDirectory],
        decisions: DecisionPoint,
        audit: AuditTrail,
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

    def acts_for_partnership(self, practitioner: Practitioner) -> bool:
        """Whether a data protection officer is one of the partnership's lead DPOs (named in
        the agreement in force), rather than acting for their own organisation."""
        return self._decisions.acts_for_partnership(practitioner, self._clock())

    def _decide(
        self,
        practitioner: Practitioner,
        action: Action,
        items: Sequence[ReleaseItem],
        context: AccessContext,
        child_stream: str,
    ) -> list[Decision]:
        """The decision point's answer for each item, confined to an organisation's data
        protection scope when the practitioner is a DPO acting for their organisation."""
        if not items:
            return []
        decisions = self._decisions.decide(
            practitioner, action, [i.attributes for i in items], context
        )
        if self._audits_for_organisation(practitioner, context.purpose, context.at):
            decisions = confine_to_organisation(
                practitioner,
                [i.ref for i in items],
                [i.agency for i in items],
                decisions,
                self._received_by(practitioner.organisation, child_stream),
            )
        return decisions

    def _audits_for_organisation(
        self, practitioner: Practitioner, purpose: Purpose | None, at: datetime
    ) -> bool:
        return (
            practitioner.role is Role.DATA_PROTECTION_OFFICER
            and purpose is Purpose.DATA_PROTECTION_AUDIT
            and not self._decisions.acts_for_partnership(practitioner, at)
        )

    def _received_by(self, organisation: str, child_stream: str) -> set[str]:
        """The records of this child (`agency/event_id`) disclosed to the organisation's
        staff, from the audit ledger (what a DPO of the organisation answers for)."""
        return {
            record_of(ref)
            for record in self._audit.for_child(child_stream)
            if isinstance(record, DisclosureAudited)
            and record.organisation == organisation
            and record.outcome in ("disclosed", "partially-disclosed")
            and record.purpose != Purpose.DATA_PROTECTION_AUDIT.value
            for ref in record.disclosed
        }

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
        for child_stream, ref in self._projection.withheld_refs():
            by_child.setdefault(child_stream, []).append(ref)
        return by_child

    def withholdings_for_review(self, reviewer: Practitioner) -> list[WithholdingForReview]:
        """The withheld records this reviewer answers for (`for_review`), with what a review
        needs and nothing the records say; audited per child before it is returned."""
        now = self._clock()
        partnership = self._decisions.acts_for_partnership(reviewer, now)
        self._projection.catch_up()
        found: list[WithholdingForReview] = []
        for stream in sorted(self.withheld_streams()):
            try:
                snapshot = self._projection.snapshot(UUID(stream))
            except DataKeyErasedError:
                continue  # erased: nothing left to review
            reviews = self._audit.grants(stream).withholding_reviews()
            items = after_reviews(release_items(snapshot), reviews)
            rows = for_review(items, reviewer, partnership=partnership, reviews=reviews)
            if not rows:
                continue
            shown = [i.ref for i in items if i.ref.rpartition("@")[0] in {r.record for r in rows}]
            self._audit.record_access(
                self._entry(
                    reviewer,
                    "review-withholdings",
                    Purpose.DATA_PROTECTION_AUDIT.value,
                    "legal-obligation",
                    stream,
                    "disclosed",
                    now,
                    refs=shown,
                    unreleased=("summary", "details"),
                ),
                now,
            )
            found += rows
        return found

    def child_identities(
        self, dpo: Practitioner, child_streams: Iterable[str]
    ) -> dict[str, ChildIdentity]:
        """Which child each stream is, for a data protection officer reading audit rows: the
        identifier only of a child some item of whose record the agreement (and the DPO's
        scope) would release to them for a data protection audit. Naming a child is a
        disclosure: each answer, refusals and erasures too, is audited."""
        now = self._clock()
        self._projection.catch_up()
        found: dict[str, ChildIdentity] = {}
        for stream in dict.fromkeys(s for s in child_streams if s):
            erased_at = self._audit.grants(stream).erased_at
            try:
                snapshot = self._projection.snapshot(UUID(stream))
            except DataKeyErasedError:
                snapshot = ChronologySnapshot(())
            items = release_items(snapshot)
            if not items:
                if erased_at is not None or self._projection.documents_erased(stream):
                    on = None if erased_at is None else uk_date(erased_at)
                    found[stream] = ChildIdentity(None, True, on)
                    self.record_query(dpo, "child-identity", "erased", stream)
                else:
                    found[stream] = ChildIdentity(None)  # nothing held: nobody to name
                continue
            context = AccessContext(Purpose.DATA_PROTECTION_AUDIT, None, False, now)
            decisions = self._decide(dpo, Action.VIEW, items, context, stream)
            if any(d.permitted for d in decisions):
                found[stream] = ChildIdentity(_identifier(snapshot.entries, stream) or None)
                self.record_query(dpo, "child-identity", "answered", stream)
            else:
                found[stream] = ChildIdentity(None)
                self.record_query(dpo, "child-identity", "denied", stream)
        return found

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
            if grant is None and break_glass is None and reason and practitioner.in_post_at(now)
            else None  # no grant for one no longer in post: they are refused, and nothing held
        )
        context = AccessContext(
            request.purpose, grant, break_glass is not None or new_grant is not None, now
        )
        items = [
            i
            for i in after_reviews(release_items(snapshot), grants.withholding_reviews())
            if wanted(i, request.items)
            or (i.attributes.kind in request.accompanying and i.status == EntryStatus.CURRENT)
        ]
        decisions = self._decide(practitioner, request.action, items, context, stream)
        if request.accompanying:
            items, decisions = accompanied(items, decisions, request, practitioner.organisation)
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
            erased_documents = self._projection.documents_erased(stream)
        if erased_documents or (erased_at is not None and not snapshot.entries):
            view.outcome = "erased"
            when = f" on {erased_at:%Y-%m-%d}" if erased_at else ""
            view.denied_reasons = [f"this child's record was erased{when}"]
        elif erased_at is not None:
            view.notes.append(
                f"an earlier record for this child was erased on {erased_at:%Y-%m-%d}"
            )
        entry = self._audit_entry(view, stream, items, decisions, break_glass, new_grant)
        if request.search_terms is not None:
            entry = replace(entry, search_terms=dict(request.search_terms))
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
        grants = self._audit.grants(child_stream)
        grant = find_relationship(
            viewer, _relationships(snapshot, tuple(grants.commissions())), now
        )
        reviewed = after_reviews(release_items(snapshot), grants.withholding_reviews())
        asked = [i for i in reviewed if wanted(i, items)]
        if not asked:
            return {}
        decisions = self._decisions.decide(
            viewer,
            action,
            [i.attributes for i in asked],
            AccessContext(purpose, grant, False, now),
        )
        screened = {}
        for item, decision in zip(asked, decisions, strict=True):
            if not decision.permitted:
                screened[item.ref] = Screening(False, decision.policies)
            elif item.restricted.retracted_by and viewer.organisation != item.attributes.publisher:
                screened[item.ref] = Screening(False, ("retracted",))
            else:
                screened[item.ref] = Screening(True, ())
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
            practitioner, derive_relationships(_local_events(held), commissions), at
        )
        glass = None if grant else grants.active_break_glass(practitioner.id, at)
        snapshot = ChronologySnapshot(tuple(held))
        items = after_reviews(release_items(snapshot), grants.withholding_reviews(by=at))
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

    def search(
        self,
        practitioner_id: str,
        purpose: Purpose | None,
        terms: Mapping[str, str],
        candidates: Sequence[str],
    ) -> list[tuple[str, ChronologyView]]:
        """A search by name and date of birth (`hub.child_search`): for each candidate child
        stream the blind index found, what this practitioner may be shown to pick the right
        child by (`SEARCH_FIELDS` of the child-details records), decided for the search action
        and audited first, each with the search terms (which the ledger seals with the audit
        key). A front-door or MACPT member searching for child protection is related to every
        candidate for the search alone (`FRONT_DOOR_SEARCH`); anyone else only to the children
        their relationships cover. With no candidate the search itself is audited. Returns
        each candidate's stream with its release."""
        practitioner = self.practitioner(practitioner_id)
        now = self._clock()
        front_door = purpose in SEARCH_PURPOSES and any(
            team.startswith(SEARCH_TEAMS) for team in practitioner.teams
        )
        self._projection.catch_up()
        views: list[tuple[str, ChronologyView]] = []
        for stream in dict.fromkeys(candidates):
            try:
                snapshot = self._projection.snapshot(UUID(stream))
            except DataKeyErasedError:
                continue
            refs = frozenset(e.ref for e in snapshot.entries if e.event.kind in CHILD_DETAILS_KINDS)
            if not refs:
                continue
            grant = find_relationship(
                practitioner,
                _relationships(snapshot, tuple(self._audit.grants(stream).commissions())),
                now,
            )
            if grant is None and front_door:
                grant = RelationshipGrant(
                    RelationshipBasis.FRONT_DOOR_SEARCH, now, None, "search",
                    practitioner_id=practitioner.id,
                )  # fmt: skip
            request = Disclosure(
                purpose,
                Action.SEARCH,
                items=refs,
                fields=SEARCH_FIELDS,
                relationship=grant,
                search_terms=dict(terms),
                at=now,
            )
            views.append((stream, self.disclose(stream, practitioner, request)))
        if not views:  # nobody (still) held matches: the search itself is recorded
            entry = self._entry(
                practitioner, Action.SEARCH.value, purpose.value if purpose else None, None, "",
                "no-match", now,
            )  # fmt: skip
            self._audit.record_access(replace(entry, search_terms=dict(terms)), now)
        return views

    def end_break_glass(self, child: ChildRef, practitioner_id: str) -> bool:
        """The practitioner ends their emergency access to the child now (the emergency is
        over); False if they held none. The grant stays in the review queue."""
        practitioner = self.practitioner(practitioner_id)
        now = self._clock()
        stream = self.child_stream(child)
        grant = self._audit.grants(stream).active_break_glass(practitioner.id, now)
        if grant is None:
            return False
        self._audit.end_break_glass(grant, now)
        return True

    # Questions to and from partner hubs ("Is anyone else involved?") -------------------------

    def question_partners(
        self, child: ChildRef, practitioner_id: str, limit: QuestionLimit, partners: Sequence[str]
    ) -> QuestionAudited:
        """Whether this practitioner may ask the partner hubs whether they hold records about
        the child (`hub.federation_discovery`): only with a relationship to the child, and
        within this hub's question limit (counted from their audited questions). Audited
        either way, before anything is sent."""
        practitioner = self.practitioner(practitioner_id)
        now = self._clock()
        stream = self.child_stream(child)
        self._projection.catch_up()
        try:
            snapshot = self._projection.snapshot(UUID(stream))
        except DataKeyErasedError:
            snapshot = ChronologySnapshot(())
        grants = self._audit.grants(stream)
        grant = find_relationship(
            practitioner, _relationships(snapshot, tuple(grants.commissions())), now
        )
        next_allowed_at = None
        if grant is None:
            outcome, reason = "no-relationship", DISCOVERY_NEEDS_RELATIONSHIP
        else:
            decision = limit.decide(self._questions(practitioner.id, DISCOVERY_ASKED), now)
            outcome, reason = (
                ("asked", "") if decision.allowed else ("limit-reached", decision.reason)
            )
            next_allowed_at = decision.next_allowed_at
        entry = self._entry(practitioner, DISCOVERY_ASKED[0], None, None, stream, outcome, now)
        entry = replace(
            entry, relationship=_describe(grant), discovery={"partners": list(partners)}
        )
        audited = self._audit.record_access(entry, now)
        ref = f"{audited.originator_id.hex}@{audited.originator_version}"
        return QuestionAudited(outcome == "asked", reason, ref, outcome, next_allowed_at)

    def record_partner_answers(
        self, child: ChildRef, practitioner_id: str, outcomes: Mapping[str, list[str]]
    ) -> str:
        """What the partner hubs' answers came to, as the practitioner was told (`outcomes`:
        outcome -> partner hub ids, with the query ids under "queries"); returns the audit
        reference."""
        practitioner = self.practitioner(practitioner_id)
        now = self._clock()
        outcome = "held-elsewhere" if outcomes.get("holds") else "not-held-elsewhere"
        entry = self._entry(
            practitioner, "discovery-answer", None, None, self.child_stream(child), outcome, now
        )
        audited = self._audit.record_access(
            replace(entry, discovery={k: list(v) for k, v in outcomes.items()}), now
        )
        return f"{audited.originator_id.hex}@{audited.originator_version}"

    def question_from_partner(
        self,
        partner: str,
        asker: str,
        role: str,
        organisation: str,
        agreement_version: str,
        query_id: str,
        limit: QuestionLimit,
    ) -> QuestionAudited:
        """A partner hub's practitioner (`asker`, the partner's pseudonym for them) asks
        whether this hub holds records about a child it does not name: within this hub's
        question limit per asking practitioner, audited before the question is evaluated."""
        now = self._clock()
        who = f"{partner}:{asker}"
        decision = limit.decide(self._questions(who, DISCOVERY_ANSWERED), now)
        outcome = "answered" if decision.allowed else "limit-reached"
        entry = AuditEntry(
            practitioner_id=who,
            organisation=f"{partner}:{organisation}",
            role=role,
            action=DISCOVERY_ANSWERED[0],
            purpose=None,
            lawful_basis=None,
            agreement_version=agreement_version,
            child_stream="",
            outcome=outcome,
            disclosed=[],
            redacted={},
            withheld=[],
            denied={},
            relationship=None,
            break_glass_reason=None,
            siblings=[],
            discovery={"partner": [partner], "queries": [query_id]},
        )
        audited = self._audit.record_access(entry, now)
        ref = f"{audited.originator_id.hex}@{audited.originator_version}"
        return QuestionAudited(
            decision.allowed, decision.reason, ref, outcome, decision.next_allowed_at
        )

    def _questions(self, practitioner_id: str, counted: tuple[str, str]) -> list[datetime]:
        """When this practitioner's questions (action, outcome) were recorded."""
        action, outcome = counted
        return [
            record.timestamp
            for record in self._audit.for_practitioner(practitioner_id)
            if isinstance(record, DisclosureAudited)
            and record.action == action
            and record.outcome == outcome
        ]

    # Recording what is not a release of content -----------------------------------------------

    def _entry(
        self,
        who: Practitioner,
        action: str,
        purpose: str | None,
        lawful_basis: str | None,
        child_stream: str,
        outcome: str,
        at: datetime,
        *,
        refs: Sequence[str] = (),
        unreleased: Sequence[str] = (),
    ) -> AuditEntry:
        """An audit entry for what gives out no content of the record: `refs` named, with the
        fields `unreleased` of each withheld (recorded as redacted)."""
        return AuditEntry(
            practitioner_id=who.id,
            organisation=who.organisation,
            role=who.role.value,
            action=action,
            purpose=purpose,
            lawful_basis=lawful_basis,
            agreement_version=self._decisions.agreement_in_force(at),
            child_stream=child_stream,
            outcome=outcome,
            disclosed=list(refs),
            redacted={ref: list(unreleased) for ref in refs} if unreleased else {},
            withheld=[],
            denied={},
            relationship=None,
            break_glass_reason=None,
            siblings=[],
        )

    def record_query(
        self, dpo: Practitioner, query: str, outcome: str, child_stream: str = ""
    ) -> str:
        """A data protection officer's audit query (itself a disclosure, of who saw what), or a
        refusal of one; returns the audit reference."""
        now = self._clock()
        audited = self._audit.record_access(
            self._entry(
                dpo,
                f"audit-query:{query}",
                Purpose.DATA_PROTECTION_AUDIT.value,
                "legal-obligation",
                child_stream,
                outcome,
                now,
            ),
            now,
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
        entry = self._entry(
            recipient,
            Action.EXPORT.value,
            purpose.value,
            lawful_basis,
            child_stream,
            "withdrawn",
            now,
            refs=refs,
            unreleased=RETRACTED_FIELDS,
        )
        earlier = self._audited_before(child_stream, entry) if reuse_audit else None
        if earlier is not None:
            return earlier
        audited = self._audit.record_access(entry, now)
        return f"{audited.originator_id.hex}@{audited.originator_version}"

    def record_transfer_received(
        self,
        sender: TransferSender,
        child_stream: str,
        refs: Sequence[str],
        at: datetime | None = None,
    ) -> str:
        """A partner hub's transfer recorded in a child's record here (`hub.federation_ingest`):
        who sent it (the partner hub, as the "practitioner" `hub:<id>` of organisation `<id>`),
        which child, the references of the events recorded (never content), the transfer and
        the inter-partnership agreement it came under. Returns the audit reference."""
        return self._received_from_partner(
            sender,
            "federation-transfer-received",
            f"via transfer {sender.transfer_id}",
            child_stream,
            refs,
            at,
        )

    def record_correction_received(
        self,
        sender: TransferSender,
        correction_id: str,
        child_stream: str,
        refs: Sequence[str],
        at: datetime | None = None,
    ) -> str:
        """A partner hub's correction of what its transfers sent, recorded here: as a transfer's
        receipt, with the references withdrawn and any corrected revisions recorded (never
        content) and the correction. Returns the audit reference."""
        return self._received_from_partner(
            sender,
            "federation-correction-received",
            f"via correction {correction_id} of transfer {sender.transfer_id}",
            child_stream,
            refs,
            at,
        )

    def record_correction_sent(
        self, notice: CorrectionNotice, child: ChildRef, send: Callable[[], None]
    ) -> str:
        """A correction told to a partner hub, audited before it is sent: the audit entry is
        written (the partner hub as the recipient `hub:<id>` of organisation `<id>`, the child,
        the references the correction names, and the correction, transfers, move, agreement and
        message in its relationship), and only then `send` is called. If the entry cannot be
        written, nothing is sent. Returns the audit reference."""
        now = self._clock()
        entry = AuditEntry(
            practitioner_id=f"hub:{notice.hub}",
            organisation=notice.hub,
            role=Role.PARTNER_HUB.value,
            action=CORRECTION_SENT,
            purpose=Purpose.INTER_PARTNERSHIP_TRANSFER.value,
            lawful_basis=None,
            agreement_version=self._decisions.agreement_in_force(now),
            child_stream=self.child_stream(child),
            outcome="correction-sent",
            disclosed=notice.refs,
            redacted={},
            withheld=[],
            denied={},
            relationship=(
                f"correction {notice.correction_id} of transfer "
                f"{', '.join(notice.transfer_ids)} for {notice.move_ref} under "
                f"inter-partnership agreement {notice.agreement_version} "
                f"(message {notice.message_id})"
            ),
            break_glass_reason=None,
            siblings=[],
        )
        audited = self._audit.record_access(entry, now)  # raises: nothing is sent
        send()
        return f"{audited.originator_id.hex}@{audited.originator_version}"

    def _received_from_partner(
        self,
        sender: TransferSender,
        action: str,
        via: str,
        child_stream: str,
        refs: Sequence[str],
        at: datetime | None,
    ) -> str:
        now = at or self._clock()
        entry = AuditEntry(
            practitioner_id=f"hub:{sender.hub}",
            organisation=sender.hub,
            role="partner-hub",
            action=action,
            purpose=None,
            lawful_basis=None,
            agreement_version=self._decisions.agreement_in_force(now),
            child_stream=child_stream,
            outcome="received",
            disclosed=list(refs),
            redacted={},
            withheld=[],
            denied={},
            relationship=(
                f"inter-partnership agreement {sender.agreement_version} {via} "
                f"(message {sender.message_id})"
            ),
            break_glass_reason=None,
            siblings=[],
        )
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
        items: Sequence[ReleaseItem],
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
        unshared: set[str] = set()  # publishers of what was not released, to name if partial
        released: list[tuple[ReleaseItem, ShownEntry, ChronologyEntry]] = []
        is_dpo = practitioner.role is Role.DATA_PROTECTION_OFFICER
        auditing = is_dpo and request.purpose is Purpose.DATA_PROTECTION_AUDIT
        partnership = auditing and self._decisions.acts_for_partnership(practitioner, at)
        for item, decision in zip(items, decisions, strict=True):
            if auditing and decision.withheld and not request.subject_access:
                # Withheld from the DPO's own agency type or role by another organisation:
                # they are told it exists, by whom, when and until when, nothing more.
                view.entries.append(withheld_entry(item, practitioner))
                reasons.update(decision.reasons)
                continue
            if not decision.permitted:
                reasons.update(decision.reasons)
                unshared.add(item.agency)
                continue
            entry = item.entry
            limits = item.restricted
            if (
                request.subject_access
                and subject_access_withheld(limits)
                and item.ref not in request.released_withheld
            ):
                view.withheld.append(
                    {
                        "ref": item.ref,
                        "agency": entry.event.agency.id,
                        "note": SUBJECT_ACCESS_WITHHELD,
                    }
                )
                unshared.add(item.agency)
                continue
            ceiling = bound.get(item.ref) if bound is not None else None
            if bound is not None and ceiling is None:
                continue  # the reviewer was not shown it: neither is its replay
            if (limits.retracted_by and practitioner.organisation != item.attributes.publisher) or (
                ceiling is not None and ceiling.retracted
            ):
                view.entries.append(retracted_entry(item, decision.lawful_basis))
                continue
            # A DPO reads the withholdings (reasons, decider, review date) of what their own
            # organisation published; a lead DPO of every publisher's.
            reads_withholdings = is_dpo and (
                partnership or item.attributes.publisher == practitioner.organisation
            )
            shown, derivable = shown_entry(
                item, decision, request, dpo=reads_withholdings, ceiling=ceiling
            )
            view.entries.append(shown)
            if derivable is not None:
                released.append((item, shown, derivable))
        self._group_households(view, practitioner, {i.entry.stream for i in items}, at)
        view.patterns = released_patterns(snapshot, released)
        if not view.entries:
            view.outcome = "denied"
            view.denied_reasons = sorted(reasons) or (
                [SUBJECT_ACCESS_WITHHELD] if view.withheld else []
            )
        else:
            view.outcome = "partially-disclosed" if reasons or view.withheld else "disclosed"
            if view.outcome == "partially-disclosed":
                view.unshared_agencies = sorted(unshared)
        return view

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
        items: Sequence[ReleaseItem],
        decisions: Sequence[Decision],
        break_glass: BreakGlassGranted | None,
        new_grant: tuple[str, timedelta] | None,
    ) -> AuditEntry:
        withheld = [i.ref for i, d in zip(items, decisions, strict=True) if d.withheld]
        withheld += [w["ref"] for w in view.withheld]
        denied: Counter[str] = Counter(
            p for d in decisions if not d.permitted and not d.withheld for p in d.policies
        )
        # The Article 9 / 10 conditions the permitting rules named, for what was disclosed.
        shown = {e.ref for e in view.entries}
        conditions: dict[str, list[str]] = {}
        for item, decision in zip(items, decisions, strict=True):
            if decision.permitted and item.ref in shown:
                for code in decision.conditions:
                    conditions.setdefault(code, []).append(item.ref)
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
            disclosed=[e.ref for e in view.entries if not e.withheld],
            redacted={e.ref: list(e.redacted) for e in view.entries if e.redacted},
            withheld=withheld,
            denied=dict(denied),
            relationship=view.relationship,
            break_glass_reason=new_grant[0]
            if new_grant
            else (break_glass.reason if break_glass else None),
            siblings=sorted(view.sibling_streams),
            conditions=conditions,
        )

    def _audited_before(self, child_stream: str, entry: AuditEntry) -> str | None:
        """An audit entry already written for the same recipient, action and items (a
        delivery retried after a crash, a notice read again), so the same disclosure is not
        audited twice: one that disclosed these items and redacted no more than this release
        does, or one that withheld the same items from them. One that would show more is new."""
        if not entry.disclosed and not entry.withheld:
            return None
        for record in self._audit.for_child(child_stream):
            if (
                not isinstance(record, DisclosureAudited)
                or record.practitioner_id != entry.practitioner_id
                or record.action != entry.action
            ):
                continue
            same = (
                set(entry.disclosed) <= set(record.disclosed)
                and all(
                    set(record.redacted.get(ref, ())) <= set(entry.redacted.get(ref, ()))
                    for ref in entry.disclosed
                )
                if entry.disclosed
                else record.outcome == entry.outcome and set(entry.withheld) <= set(record.withheld)
            )
            if same:
                return f"{record.originator_id.hex}@{record.originator_version}"
        return None
