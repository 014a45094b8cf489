"""The sending side of a transfer between partnerships' hubs (issue 24, docs/federation.md,
"Transfer: sending").

When a local authority publishes that a child with an open plan, or who is looked after,
moved to an area a partner hub's partnership covers (`hub.domain.transfer.transfer_due`), this
hub offers that partner a transfer extract: the child's current records that the information
sharing agreement in force lets leave for an inter-partnership transfer, each with the proof
that its row is in this hub's event log.

Everything leaves through the disclosure gate, which audits before it releases: the recipient
is a system principal for the partner hub (role `partner-hub`), the purpose
`inter-partnership-transfer`, the action `export`, the relationship the move itself (its
description names the move and the inter-partnership agreement version, so the audit entry
records both), and `to_system`, so shielded fields are left out, not marked. Before the gate is
asked, this service narrows the items to what may be sent at all: current revisions only (no
superseded revision, no retracted record, no retraction, no identity link), nothing a
publisher withheld from anyone, and nothing this hub received from another partnership.

The released events are proved against one signed checkpoint of the event log (one is signed
if the latest does not cover them yet), split into parts of at most `TRANSFER_PART_EVENTS`,
each sealed as a `transfer-offer` (`Federation.seal`) and produced to the partner's inbound
topic. If another checkpoint is signed between the proofs and the seal, the proofs are made
again against the sealed one, so every message's proofs verify against its own checkpoint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import structlog
from pydantic import ValidationError

from hub.disclosure_gate import CorrectionNotice, DisclosureGate
from hub.disclosure_release import ChronologyView, Disclosure, ShownEntry
from hub.domain.access import Practitioner, Purpose, RelationshipBasis, RelationshipGrant, Role
from hub.domain.canonical_event import CanonicalEvent, ChildRef, child_ref
from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.federation import (
    TRANSFER_PART_EVENTS,
    CorrectedItem,
    CorrectionBody,
    CorrectionDue,
    FederationMessage,
    InclusionProof,
    KafkaEndpoint,
    PartnerHub,
    PartnerRegister,
    TransferPart,
    TransferredEvent,
    corrections_due,
)
from hub.domain.markers import REDACTED
from hub.domain.taxonomy import AgencyType
from hub.domain.transfer import MOVED_OUT, TransferDecision, move_of, transfer_due
from hub.federation import EVENT_LOG, Federation, FederationError
from hub.integrity import IntegrityService
from hub.policies.decision import Action

log = structlog.get_logger("hub.federation_transfer")
PARTNER_PRINCIPAL_PREFIX = "hub:"
Sender = Callable[[KafkaEndpoint, FederationMessage], None]


class TransferRefusedError(ValueError):
    """No transfer is sent: the message says why in words (never a child's details)."""


def partner_principal(partner: PartnerHub) -> Practitioner:
    """The partner hub as the gate's recipient: a system, never a person; children's social
    care in the receiving area is who a transfer is for."""
    principal_id = f"{PARTNER_PRINCIPAL_PREFIX}{partner.id}"
    return Practitioner(
        id=principal_id,
        name=f"{partner.name} (their hub)",
        organisation=partner.id,  # as the partner's receipts are audited (`hub:<id>` of `<id>`)
        agency_type=AgencyType.LOCAL_AUTHORITY,
        role=Role.PARTNER_HUB,
        active_from=partner.active_from,
        active_to=partner.active_to,
    )


@dataclass
class TransferReceipt:
    """What one offer sent: to whom, why, which messages, how many events, what was not sent
    and why (reason -> how many), and the audit entry of the disclosure."""

    transfer_id: str
    partner: str
    partner_name: str
    agreement_version: str
    move_ref: str
    reason: str
    events: int
    messages: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # what was sent (this hub's references)
    left_out: dict[str, int] = field(default_factory=dict)
    audit_ref: str = ""
    outcome: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class CorrectionReceipt:
    """What one correction sent: the message, and per reference sent earlier what the partner
    was told (`retracted`, `superseded`, `unlinked`) and the revision sent in its place."""

    correction_id: str
    partner: str
    message_id: str
    actions: dict[str, str] = field(default_factory=dict)  # ref -> action
    replacements: dict[str, str] = field(default_factory=dict)  # ref -> the revision sent
    audit_ref: str = ""  # the corrected revisions' release, if any
    notice_audit_ref: str = ""  # the correction's own audit entry, written before sending


class TransferService:
    def __init__(
        self,
        gate: Callable[[], DisclosureGate],
        federation: Callable[[], Federation],
        integrity: IntegrityService,
        send: Sender,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._federation = federation
        self._integrity = integrity
        self._send = send
        self._clock = clock

    # Which transfers are due ---------------------------------------------------------------

    def register(self) -> PartnerRegister:
        """This hub's partner register (who covers which local authorities)."""
        return self._federation().register

    def decisions(self, child: ChildRef | str) -> list[TransferDecision]:
        """For each current move out of the area in the child's record, whether it makes a
        transfer due, to whom, and why (or why not)."""
        entries = self._gate().held_entries(_child(child))
        register = self._federation().register
        return [
            transfer_due(entry, entries, register)
            for entry in entries
            if entry.event.kind == MOVED_OUT and entry.status is EntryStatus.CURRENT
        ]

    # Offering one ---------------------------------------------------------------------------

    def offer(
        self,
        child: ChildRef | str,
        partner_id: str | None = None,
        *,
        move_ref: str | None = None,
    ) -> TransferReceipt:
        """Offer the partner hub the child's transfer extract, for the move `move_ref` (by
        default the latest move out of the area). Refused, saying why, when no transfer is
        due to that partner."""
        ref = _child(child)
        if ref.nhs_number is None:
            raise TransferRefusedError(
                "a transfer names the child by NHS number; this child has only a provisional id"
            )
        gate, federation = self._gate(), self._federation()
        entries = gate.held_entries(ref)
        decision = self._decision(entries, federation, move_ref)
        partner = decision.partner
        if partner is None or not decision.due or decision.move is None:
            raise TransferRefusedError(f"no transfer is due: {decision.reason}")
        if partner_id is not None and partner_id != partner.id:
            raise TransferRefusedError(
                f"no transfer is due to that partner: the move is to an area {partner.name} "
                f"covers (hub id {partner.id})"
            )
        try:
            federation.partner(partner.id)  # active today
        except FederationError as error:
            raise TransferRefusedError(str(error)) from None

        wanted, left_out = _sendable(entries)
        move = next(e for e in entries if e.ref == decision.move.ref)
        view, released, left = self._release(gate, ref, partner, move, wanted)
        left_out.update(left)

        receipt = TransferReceipt(
            transfer_id=uuid4().hex,
            partner=partner.id,
            partner_name=partner.name,
            agreement_version=partner.agreement_version,
            move_ref=decision.move.ref,
            reason=decision.reason,
            events=len(released),
            refs=[entry.ref for entry, _ in released],
            left_out=dict(left_out),
            audit_ref=view.audit_ref,
            outcome=view.outcome,
        )
        if not released:
            log.info("transfer_nothing_to_send", partner=partner.id)
            return receipt
        for message in self._messages(federation, partner, ref.nhs_number, receipt, released):
            self._send(partner.kafka, message)
            receipt.messages.append(message.id)
        log.info(
            "transfer_offered",
            partner=partner.id,
            transfer=receipt.transfer_id,
            events=receipt.events,
            messages=len(receipt.messages),
        )
        return receipt

    def _release(
        self,
        gate: DisclosureGate,
        child: ChildRef,
        partner: PartnerHub,
        move: ChronologyEntry,
        wanted: Sequence[ChronologyEntry],
    ) -> tuple[ChronologyView, list[tuple[ChronologyEntry, dict[str, Any]]], Counter[str]]:
        """The entries the gate releases to the partner hub for the move (audited before
        anything is released), each as the canonical event sent, and what was left out."""
        principal = partner_principal(partner)
        view = gate.disclose(
            child,
            principal,
            Disclosure(
                Purpose.INTER_PARTNERSHIP_TRANSFER,
                Action.EXPORT,
                items=frozenset(e.ref for e in wanted),
                relationship=RelationshipGrant(
                    basis=RelationshipBasis.INTER_PARTNERSHIP_TRANSFER,
                    valid_from=move.event.occurred_at - timedelta(days=1),
                    valid_to=None,
                    source_event_id=(
                        f"{move.ref} under inter-partnership agreement {partner.agreement_version}"
                    ),
                    practitioner_id=principal.id,
                ),
                to_system=True,
            ),
        )
        by_ref = {e.ref: e for e in wanted}
        left_out: Counter[str] = Counter()
        released: list[tuple[ChronologyEntry, dict[str, Any]]] = []
        for shown in view.entries:
            entry = by_ref.get(shown.ref)
            if entry is None or shown.retracted or shown.withheld:
                continue
            event = _released_event(entry, shown)
            if event is None:
                left_out["incomplete once shielded or redacted fields are left out"] += 1
                continue
            released.append((entry, event))
        refused = len(wanted) - len(view.entries)
        if refused:
            left_out["not shared with a partner hub by the agreement in force"] += refused
        return view, released, left_out

    # Correcting what was sent ---------------------------------------------------------------

    def corrections_due(
        self, child: ChildRef | str, sent: Sequence[str], corrected: Sequence[str]
    ) -> list[CorrectionDue]:
        """Which of the references sent to a partner the child's record no longer holds as
        current (`hub.domain.federation.corrections_due`), as the record stands now."""
        return corrections_due(sent, corrected, self._gate().held_entries(_child(child)))

    def correct(
        self,
        child: ChildRef | str,
        partner_id: str,
        move_ref: str,
        transfer_ids: Sequence[str],
        due: Sequence[CorrectionDue],
    ) -> CorrectionReceipt:
        """Tell the partner hub that records its transfers of the child received are withdrawn
        (retracted, or another child's once an identity link was undone) or replaced by a
        corrected revision. A corrected revision leaves through the gate as a transfer's
        events do (audited, with its proof); one the gate does not release to the partner
        (withheld since, say) withdraws the earlier revision as retracted: the partner asks
        this partnership (its contact) for the rest. Nothing of a withdrawn record is sent."""
        ref = _child(child)
        if ref.nhs_number is None or not due:
            raise TransferRefusedError("a correction names the child by NHS number")
        gate, federation = self._gate(), self._federation()
        try:
            partner = federation.partner(partner_id)
        except FederationError as error:
            raise TransferRefusedError(str(error)) from None
        entries = gate.held_entries(ref)
        move = next((e for e in entries if e.ref == move_ref), None)
        replacements = [d.replacement for d in due if d.replacement is not None]
        released: dict[str, tuple[ChronologyEntry, dict[str, Any]]] = {}
        audit_ref = ""
        if replacements and move is not None:
            wanted_refs = {e.ref for e in replacements}
            wanted = [e for e in _sendable(entries)[0] if e.ref in wanted_refs]
            if wanted:
                view, shown, _left = self._release(gate, ref, partner, move, wanted)
                released = {entry.ref: (entry, event) for entry, event in shown}
                audit_ref = view.audit_ref
        receipt = CorrectionReceipt(uuid4().hex, partner.id, "", audit_ref=audit_ref)
        for _attempt in range(3):
            rows = [(str(UUID(entry.stream)), entry.version) for entry, _ in released.values()]
            proofs = dict(zip(released, self._proofs(rows), strict=True)) if rows else {}
            items = []
            for item in due:
                new = item.replacement
                sent = released.get(new.ref) if new is not None else None
                if item.action == "superseded" and sent is not None and new is not None:
                    proof = proofs[new.ref]
                    items.append(
                        CorrectedItem(
                            ref=item.ref,
                            action="superseded",
                            event=TransferredEvent(
                                ref=new.ref,
                                received_at=new.received_at,
                                event=sent[1],
                                inclusion=InclusionProof(
                                    leaf_index=proof["leaf_index"],
                                    leaf_hash=proof["leaf_hash"],
                                    tree_size=proof["tree_size"],
                                    proof=proof["proof"],
                                ),
                            ),
                        )
                    )
                    receipt.replacements[item.ref] = new.ref
                else:
                    action = "retracted" if item.action == "superseded" else item.action
                    items.append(CorrectedItem(ref=item.ref, action=action))
                receipt.actions[item.ref] = items[-1].action
            body = CorrectionBody(
                correction_id=receipt.correction_id,
                transfer_ids=list(dict.fromkeys(transfer_ids)),
                nhs_number=ref.nhs_number,
                items=items,
            )
            message = federation.seal("correction", partner.id, body.model_dump(mode="json"))
            sizes = {p["tree_size"] for p in proofs.values()}
            if not sizes or sizes == {message.checkpoint.size}:
                notice = CorrectionNotice(
                    hub=partner.id,
                    agreement_version=partner.agreement_version,
                    correction_id=receipt.correction_id,
                    transfer_ids=tuple(body.transfer_ids),
                    move_ref=move_ref,
                    message_id=message.id,
                    withdrawn=tuple(i.ref for i in items if i.event is None),
                    superseded=tuple((i.ref, i.event.ref) for i in items if i.event is not None),
                )
                # Audited before it is sent (the gate sends it): if not audited, not sent.
                receipt.notice_audit_ref = gate.record_correction_sent(
                    notice, ref, partial(self._send, partner.kafka, message)
                )
                receipt.message_id = message.id
                log.info(
                    "transfer_corrected",
                    partner=partner.id,
                    correction=receipt.correction_id,
                    items=len(items),
                )
                return receipt
            receipt.replacements.clear()
        raise TransferRefusedError(
            "the event log's checkpoint kept changing while the correction was sealed; try again"
        )

    def _decision(
        self, entries: Sequence[ChronologyEntry], federation: Federation, move_ref: str | None
    ) -> TransferDecision:
        moves = [
            e for e in entries if move_of(e) is not None and (move_ref is None or e.ref == move_ref)
        ]
        if not moves:
            raise TransferRefusedError(
                "no transfer is due: the child's record has no move out of the area"
                + ("" if move_ref is None else " with that reference")
            )
        latest = max(moves, key=lambda e: (e.status is EntryStatus.CURRENT, e.event.occurred_at))
        return transfer_due(latest, entries, federation.register)

    def _messages(
        self,
        federation: Federation,
        partner: PartnerHub,
        nhs_number: str,
        receipt: TransferReceipt,
        released: Sequence[tuple[ChronologyEntry, dict[str, Any]]],
    ) -> list[FederationMessage]:
        """Every part sealed, each message's proofs against the checkpoint it carries."""
        rows = [(str(UUID(entry.stream)), entry.version) for entry, _ in released]
        chunks = [
            released[start : start + TRANSFER_PART_EVENTS]
            for start in range(0, len(released), TRANSFER_PART_EVENTS)
        ]
        for _attempt in range(3):
            proofs = self._proofs(rows)
            size = proofs[0]["tree_size"]
            messages = []
            for number, chunk in enumerate(chunks, start=1):
                offset = (number - 1) * TRANSFER_PART_EVENTS
                part = TransferPart(
                    transfer_id=receipt.transfer_id,
                    part=number,
                    parts=len(chunks),
                    nhs_number=nhs_number,
                    reason=receipt.reason,
                    moved_ref=receipt.move_ref,
                    events=[
                        TransferredEvent(
                            ref=entry.ref,
                            received_at=entry.received_at,
                            event=event,
                            inclusion=InclusionProof(
                                leaf_index=proof["leaf_index"],
                                leaf_hash=proof["leaf_hash"],
                                tree_size=proof["tree_size"],
                                proof=proof["proof"],
                            ),
                        )
                        for (entry, event), proof in zip(
                            chunk, proofs[offset : offset + len(chunk)], strict=True
                        )
                    ],
                )
                messages.append(
                    federation.seal("transfer-offer", partner.id, part.model_dump(mode="json"))
                )
            if all(m.checkpoint.size == size for m in messages):
                return messages
        raise TransferRefusedError(
            "the event log's checkpoint kept changing while the transfer was sealed; try again"
        )

    def _proofs(self, rows: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
        """Inclusion proofs of the rows against the latest checkpoint, signing a new one
        first if the latest does not cover them all."""
        try:
            return self._integrity.inclusions(EVENT_LOG, rows)
        except LookupError:
            self._integrity.checkpoint()
            return self._integrity.inclusions(EVENT_LOG, rows)


def _child(child: ChildRef | str) -> ChildRef:
    return child if isinstance(child, ChildRef) else child_ref(child)


def _sendable(entries: Sequence[ChronologyEntry]) -> tuple[list[ChronologyEntry], Counter[str]]:
    """The entries that may be offered to the gate for a transfer, and how many were not, by
    reason in words."""
    # A record any revision of which its publisher withheld from anyone is not sent (even
    # after a review shared it again: a partner hub is not a recipient the publisher weighed).
    withheld = {(e.event.agency.id, e.event.event_id) for e in entries if e.event.withheld_from}
    # A shielded summary leaves a system nothing to say what the record is (a canonical event
    # needs one): not sent, and so not asked of the gate (its audit lists only what is sent).
    summary_shielded = {
        (e.event.agency.id, e.event.event_id)
        for e in entries
        if "summary" in e.event.shielded_fields
    }
    wanted: list[ChronologyEntry] = []
    left_out: Counter[str] = Counter()
    for entry in entries:
        kind = entry.event.kind
        if kind.startswith("identity."):
            continue  # links between identities are not records about the child
        if kind.startswith("record.") or entry.status is EntryStatus.RETRACTED:
            left_out["retracted"] += 1
        elif entry.status is not EntryStatus.CURRENT:
            left_out["superseded by a later revision"] += 1
        elif getattr(entry, "origin", None) is not None:
            left_out["received from another partnership's hub"] += 1
        elif (entry.event.agency.id, entry.event.event_id) in withheld:
            left_out["withheld by its publisher from some recipients"] += 1
        elif (entry.event.agency.id, entry.event.event_id) in summary_shielded:
            left_out["with a summary its publisher shielded"] += 1
        else:
            wanted.append(entry)
    return wanted, left_out


def _released_event(entry: ChronologyEntry, shown: ShownEntry) -> dict[str, Any] | None:
    """The canonical event as the gate released it: the record's own fields with the released
    summary and details (shielded fields left out; the agreement's redactions left out too, a
    canonical event has no marker for them). None when what is left is not a complete event
    of its kind (a shielded summary, or a required detail left out): it is not sent."""
    if shown.summary is None or shown.summary == REDACTED:
        return None
    # What the gate released, and from the stored record only what says which record this is
    # (its id, revision, what it supersedes, the child) and the publisher's lawful basis.
    record = entry.event
    document: dict[str, Any] = {
        "schema_version": record.schema_version,
        "event_id": record.event_id,
        "revision": record.revision,
        "agency": {"id": shown.agency, "type": shown.agency_type},
        "child": record.child.model_dump(mode="json", exclude_none=True),
        "kind": shown.kind,
        "categories": list(shown.categories),
        "occurred_at": shown.occurred_at.isoformat(),
        "recorded_at": shown.recorded_at.isoformat(),
        "summary": shown.summary,
        "details": {k: v for k, v in shown.details.items() if v != REDACTED},
        "sensitivity": shown.sensitivity,
        "lawful_basis": record.lawful_basis,
        "household_ref": shown.household_ref,
    }
    if record.supersedes is not None:
        document["supersedes"] = record.supersedes.model_dump(mode="json", exclude_none=True)
    try:
        return CanonicalEvent.model_validate(document).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return None
