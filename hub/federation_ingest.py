"""The receiving side of a transfer between partnerships' hubs (issue 24, docs/federation.md).

Messages read from this hub's inbound federation topic (`hub.transports.federation_kafka`) are
checked (`hub.federation.Federation.receive`: recipient, sender, agreement version, signature,
checkpoint signature) and, for a `transfer-offer`, its body: a `TransferPart` whose every event
parses as a canonical event about the child named, whose reference names it, and whose Merkle
inclusion proof verifies against the tree head in the message's signed checkpoint. If anything
fails, the whole message is quarantined with the field that failed (never its value), its raw
bytes kept sealed (with the child's key when the message names a child readably), and nothing
of it is recorded.

Otherwise each event is recorded in the child's stream (the NHS number's) as a
`federated-event` entry with its provenance (the partner hub and partnership, whom to contact
there, when the sending hub received it, when this hub received it from theirs, the message,
the transfer, the checkpoint and the leaf), exactly once: each event claims a key made of the
partner hub and the sending hub's reference, so the same event sent again (a repeated
transfer) is a duplicate, and the message's Kafka position commits in the same transaction,
so a restart resumes after it. Messages of other types are quarantined as not yet handled by
this hub (never dropped), except the discovery messages ("Is anyone else involved?") that
share the topic: `hub federation answer` reads those, keeping its own positions, so they are
passed over here. A recorded transfer is audited through the disclosure gate.

A `correction` (a partner withdrawing or replacing records its transfers sent) is checked the
same way, its corrected revisions proved as a transfer's events are; each record withdrawn is
recorded as a retraction in the partner agency's name (`withdrawal_event`: why, in words, and
nothing of the record), each corrected revision as a federated event, so the chronology shows
the earlier entry retracted or superseded; once each (claim keys), audited through the gate
(`record_correction_received`). The inbox consumer tells whoever here saw a withdrawn record.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import structlog
from eventsourcing.persistence import Tracking
from pydantic import ValidationError

from hub.adapters.envelope import seal
from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.disclosure_gate import DisclosureGate, TransferSender
from hub.domain.canonical_event import CanonicalEvent, ChildRef, Supersedes
from hub.domain.federation import (
    CorrectionBody,
    FederationMessage,
    MessageProblem,
    PartnerHub,
    TransferPart,
    TransferredEvent,
    error_location,
    parse_message,
    record_of_ref,
)
from hub.domain.merkle import verify_inclusion
from hub.domain.records import ChildRecordEntry, HubRecord, IngestKeyClaimed, MessageQuarantined
from hub.federation import CommittedPositions, Federation
from hub.ingest import OVERSIZE_KEPT_BYTES, quarantined_raw_context
from hub.transports.federation_kafka import Received

log = structlog.get_logger("hub.federation_ingest")

ENTRY_TYPE = "federated-event"
# "Is anyone else involved?" messages on the same inbound topic: `hub.federation_discovery`'s.
DISCOVERY_TYPES = frozenset({"discovery-query", "discovery-answer", "holdings"})
NOT_HANDLED = "not handled by this hub yet"


@dataclass
class ReceiveOutcome:
    """What one batch of received messages came to."""

    recorded: int = 0  # events recorded in children's records
    duplicates: int = 0  # events this hub already held from that partner
    transfers: int = 0  # transfer-offer messages that recorded at least one event
    corrections: int = 0  # correction messages that recorded at least one withdrawal or revision
    not_held: int = 0  # corrected references this hub never received from that partner
    quarantined: Counter[str] = field(default_factory=Counter)  # by the field that failed
    skipped_already_recorded: int = 0  # messages at or before a committed position
    left_for_discovery: int = 0  # discovery messages (`hub federation answer` reads them)
    audit_refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedEvent:
    """One event of a transfer part that passed every check, as it will be recorded."""

    index: int
    ref: str
    received_at: datetime
    event: CanonicalEvent
    canonical: bytes  # the event's canonical JSON (its digest is the claim's)
    leaf_index: int


def transfer_part(message: FederationMessage) -> TransferPart:
    """The message's body as a transfer part, or the first problem with it (names the field
    under `body.`)."""
    try:
        return TransferPart.model_validate(message.body)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        location = error_location(first)
        raise MessageProblem(f"body.{location}" if location else "body", first["msg"]) from None


def check_part(message: FederationMessage, part: TransferPart) -> list[CheckedEvent]:
    """Every event of the part, if each is proved to be in the sender's log as of the signed
    checkpoint the message carries, is a canonical event about the child named, and is the
    event its reference names; else the first problem, naming the field. Pure."""
    return [
        check_event(message, part.nhs_number, sent, f"body.events.{index}", index)
        for index, sent in enumerate(part.events)
    ]


def check_event(
    message: FederationMessage, nhs_number: str, sent: TransferredEvent, at: str, index: int
) -> CheckedEvent:
    """One event sent (`at` is where it is in the body, for the reason), if it is proved to be
    in the sender's log as of the message's signed checkpoint, is a canonical event about the
    child, and is the event its reference names; else the problem, naming the field. Pure."""
    checkpoint = message.checkpoint
    root = bytes.fromhex(checkpoint.root)
    proof = sent.inclusion
    if proof.tree_size != checkpoint.size:
        raise MessageProblem(
            f"{at}.inclusion.tree_size", "is not the size of the sender's checkpoint"
        )
    try:
        path = [bytes.fromhex(node) for node in proof.proof]
        verified = verify_inclusion(
            bytes.fromhex(proof.leaf_hash), proof.leaf_index, proof.tree_size, path, root
        )
    except ValueError:
        verified = False
    if not verified:
        raise MessageProblem(f"{at}.inclusion", "does not verify against the sender's checkpoint")
    try:
        event = CanonicalEvent.model_validate(sent.event)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        raise MessageProblem(f"{at}.event.{error_location(first)}", first["msg"]) from None
    if event.child.nhs_number is not None and event.child.nhs_number != nhs_number:
        raise MessageProblem(f"{at}.event.child", "is not the child the transfer is about")
    if sent.ref != f"{event.agency.id}/{event.event_id}@{event.revision}":
        raise MessageProblem(f"{at}.ref", "does not name the event it carries")
    canonical = event.model_dump_json(exclude_none=True).encode()
    return CheckedEvent(index, sent.ref, sent.received_at, event, canonical, proof.leaf_index)


def correction_body(message: FederationMessage) -> CorrectionBody:
    """The message's body as a correction, or the first problem with it (under `body.`)."""
    try:
        return CorrectionBody.model_validate(message.body)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        location = error_location(first)
        raise MessageProblem(f"body.{location}" if location else "body", first["msg"]) from None


def check_correction(message: FederationMessage, body: CorrectionBody) -> dict[int, CheckedEvent]:
    """The corrected revisions the correction carries (by item), if each is proved and is a
    later revision of the very record its item names; else the first problem. Pure."""
    checked = {}
    for index, item in enumerate(body.items):
        if item.event is None:
            continue
        at = f"body.items.{index}.event"
        event = check_event(message, body.nhs_number, item.event, at, index)
        agency, event_id = record_of_ref(item.ref)
        revision = item.ref.rpartition("@")[2]
        if (event.event.agency.id, event.event.event_id) != (agency, event_id) or not (
            revision.isdigit() and event.event.revision > int(revision)
        ):
            raise MessageProblem(
                f"{at}.ref", "is not a later revision of the record the item corrects"
            )
        checked[index] = event
    return checked


WITHDRAWN_SUMMARY = {
    "retracted": "Withdrawn by {partnership}: its publisher retracted this record",
    "unlinked": (
        "Withdrawn by {partnership}: this record was about another child (an identity link "
        "was undone)"
    ),
    "superseded": "Withdrawn by {partnership}: its publisher corrected this record",
}


def withdrawal_event(
    withdrawn: CanonicalEvent, action: str, partnership: str, at: datetime
) -> CanonicalEvent:
    """The retraction this hub records for a partner's record the partner withdrew (a
    `record.retracted` naming it, in the partner's agency's name, saying why in words and
    nothing of the record): the chronology then shows the record retracted. Pure."""
    return CanonicalEvent(
        schema_version=1,
        event_id=f"{withdrawn.event_id}:withdrawn",
        revision=1,
        agency=withdrawn.agency,
        child=withdrawn.child,
        kind="record.retracted",
        occurred_at=at,
        recorded_at=at,
        summary=WITHDRAWN_SUMMARY[action].format(partnership=partnership),
        sensitivity="standard",
        lawful_basis=withdrawn.lawful_basis,
        supersedes=Supersedes(event_id=withdrawn.event_id),
    )


def _message_type(raw: bytes) -> str | None:
    """The message's type, if it parses as a federation message at all."""
    try:
        return parse_message(raw).type
    except MessageProblem:
        return None


def claim_key(partner_hub: str, sender_ref: str) -> str:
    """What makes an event from a partner hub the same event: the hub and its reference (a
    local agency's idempotency key has no `federation:` prefix, so the two never meet)."""
    return f"federation:{partner_hub}\x1f{sender_ref}"


class FederationIngest:
    def __init__(
        self,
        store: HubStore,
        pseudonyms: Pseudonymiser,
        federation: Federation,
        gate: DisclosureGate,
        *,
        max_message_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._pseudonyms = pseudonyms
        self._federation = federation
        self._gate = gate
        self._max_bytes = max_message_bytes
        self._clock = clock

    def resume_after(self, source: str) -> int | None:
        """The last committed position of `source` (`kafka:<topic>:<partition>`)."""
        return self._store.position(source)

    def positions(self) -> Mapping[str, int]:
        """The committed positions, looked up as `FederationReceiver` asks for each source."""
        return CommittedPositions(self._store)

    def receive(self, batch: Sequence[Received]) -> ReceiveOutcome:
        """Check and record each message, in order; each commits with its position."""
        outcome = ReceiveOutcome()
        for item in batch:
            committed = self._store.position(item.source)
            if committed is not None and item.position <= committed:
                outcome.skipped_already_recorded += 1
                continue
            self._receive_one(item, outcome)
        return outcome

    def _receive_one(self, item: Received, outcome: ReceiveOutcome) -> None:
        now = self._clock()
        tracking = Tracking(item.source, item.position)
        if _message_type(item.raw) in DISCOVERY_TYPES:
            # `hub federation answer` deals with these (keeping its own positions): passed.
            outcome.left_for_discovery += 1
            self._append([], tracking)
            return
        opened: FederationMessage | None = None  # the body in clear, once opened
        try:
            message, partner = self._federation.receive(item.raw)
            opened = message
            if message.type == "correction":
                correction = correction_body(message)
                revisions = check_correction(message, correction)
                self._receive_correction(
                    item, message, partner, correction, revisions, outcome, now
                )
                return
            if message.type != "transfer-offer":
                raise MessageProblem("type", NOT_HANDLED)
            part = transfer_part(message)
            checked = check_part(message, part)
        except MessageProblem as problem:
            outcome.quarantined[problem.field] += 1
            self._append([self._quarantine(item, problem, now, opened)], tracking)
            return
        stream = self._pseudonyms.nhs_stream(part.nhs_number)
        keys = {e.ref: self._pseudonyms.ingest_key(claim_key(partner.id, e.ref)) for e in checked}
        claims = self._claimed(keys.values())
        version = self._store.heads([stream]).get(stream, 0)
        records: list[HubRecord] = []
        recorded: list[str] = []
        for event in checked:
            digest = hashlib.sha256(event.canonical).hexdigest()
            earlier = claims.get(keys[event.ref])
            if earlier is not None:
                if earlier != digest:
                    conflict = MessageProblem(
                        f"body.events.{event.index}.event",
                        "differs from the same event this partner hub sent before",
                    )
                    outcome.quarantined[conflict.field] += 1
                    self._append([self._quarantine(item, conflict, now, message)], tracking)
                    return
                outcome.duplicates += 1
                continue
            claims[keys[event.ref]] = digest
            version += 1
            records.append(
                ChildRecordEntry(
                    originator_id=stream,
                    originator_version=version,
                    timestamp=now,
                    entry_type=ENTRY_TYPE,
                    body={
                        "event": orjson.loads(event.canonical),
                        "provenance": self._provenance(message, partner, part, event, now),
                    },
                    source=item.source,
                    position=item.position,
                )
            )
            records.append(
                IngestKeyClaimed(
                    originator_id=keys[event.ref],
                    originator_version=1,
                    timestamp=now,
                    content_digest=digest,
                    child_stream=stream.hex,
                    child_version=version,
                )
            )
            recorded.append(f"{partner.id}:{event.ref}")
        if recorded:
            # Audited before it is recorded: a crash between the two audits it again when the
            # message is read again, rather than leaving a recorded transfer unaudited.
            sender = TransferSender(
                partner.id, message.agreement_version, part.transfer_id, message.id
            )
            outcome.audit_refs.append(
                self._gate.record_transfer_received(sender, stream.hex, recorded, now)
            )
            outcome.transfers += 1
        self._append(records, tracking)
        outcome.recorded += len(recorded)
        log.info(
            "transfer_part_received",
            source=item.source,
            position=item.position,
            sender=partner.id,
            part=part.part,
            parts=part.parts,
            recorded=len(recorded),
            duplicates=len(checked) - len(recorded),
        )

    def _receive_correction(
        self,
        item: Received,
        message: FederationMessage,
        partner: PartnerHub,
        body: CorrectionBody,
        revisions: dict[int, CheckedEvent],
        outcome: ReceiveOutcome,
        now: datetime,
    ) -> None:
        """Record a partner's correction of records it sent: each record withdrawn gets a
        retraction in the partner's agency's name (saying why in words, nothing of the record),
        each corrected revision is recorded as a transfer's event is (so the chronology shows
        the earlier one superseded); each once (claim keys, committed with the position).
        A reference this hub never received from that partner is passed over. Raises
        `MessageProblem` (quarantined by the caller) before anything is recorded."""
        tracking = Tracking(item.source, item.position)
        child = ChildRef(nhs_number=body.nhs_number)
        stream = self._pseudonyms.nhs_stream(body.nhs_number)
        received = {
            e.origin.sender_ref: e
            for e in self._gate.held_entries(child)
            if e.origin is not None and e.origin.hub == partner.id
        }
        planned: list[tuple[str, CanonicalEvent, bytes, str, str, CheckedEvent | None]] = []
        for index, corrected in enumerate(body.items):
            held = received.get(corrected.ref)
            if held is None:
                outcome.not_held += 1
                continue
            revision = revisions.get(index)
            if revision is not None:
                event, canonical = revision.event, revision.canonical
                key = claim_key(partner.id, revision.ref)
                sender_ref = revision.ref
            else:
                event = withdrawal_event(
                    held.event, corrected.action, partner.name, message.sent_at
                )
                canonical = event.model_dump_json(exclude_none=True).encode()
                key = claim_key(partner.id, f"{corrected.action}:{corrected.ref}")
                sender_ref = f"{event.agency.id}/{event.event_id}@{event.revision}"
            planned.append((corrected.ref, event, canonical, key, sender_ref, revision))
        keys = {key: self._pseudonyms.ingest_key(key) for *_, key, _, _ in planned}
        claims = self._claimed(keys.values())
        version = self._store.heads([stream]).get(stream, 0)
        records: list[HubRecord] = []
        recorded: list[str] = []
        for ref, _event, canonical, key, sender_ref, revision in planned:
            digest = hashlib.sha256(canonical).hexdigest()
            earlier = claims.get(keys[key])
            if earlier is not None:
                if revision is not None and earlier != digest:
                    raise MessageProblem(
                        f"body.items.{revision.index}.event",
                        "differs from the same event this partner hub sent before",
                    )
                outcome.duplicates += 1
                continue
            claims[keys[key]] = digest
            version += 1
            provenance: dict[str, Any] = {
                "hub": partner.id,
                "partnership": partner.name,
                "contact": partner.contact,
                "sender_ref": sender_ref,
                "sender_received_at": (
                    revision.received_at if revision is not None else message.sent_at
                ).isoformat(),
                "received_from_hub_at": now.isoformat(),
                "message_id": message.id,
                "transfer_id": body.transfer_ids[0],
                "agreement_version": message.agreement_version,
                "checkpoint": {
                    "size": message.checkpoint.size,
                    "root": message.checkpoint.root,
                    "signer": message.checkpoint.signer,
                },
                "correction": {
                    "id": body.correction_id,
                    "transfer_ids": list(body.transfer_ids),
                    "action": next(i.action for i in body.items if i.ref == ref),
                    "withdrawn": f"{partner.id}:{ref}",
                },
            }
            if revision is not None:
                provenance["leaf_index"] = revision.leaf_index
            records.append(
                ChildRecordEntry(
                    originator_id=stream,
                    originator_version=version,
                    timestamp=now,
                    entry_type=ENTRY_TYPE,
                    body={"event": orjson.loads(canonical), "provenance": provenance},
                    source=item.source,
                    position=item.position,
                )
            )
            records.append(
                IngestKeyClaimed(
                    originator_id=keys[key],
                    originator_version=1,
                    timestamp=now,
                    content_digest=digest,
                    child_stream=stream.hex,
                    child_version=version,
                )
            )
            # In pairs, the entry withdrawn then what was recorded for it: the replay reads the
            # receipt so (`hub.domain.boundary`).
            recorded += [f"{partner.id}:{ref}", f"{partner.id}:{sender_ref}"]
        if recorded:
            # Audited before it is recorded, as a transfer is.
            sender = TransferSender(
                partner.id, message.agreement_version, ", ".join(body.transfer_ids), message.id
            )
            outcome.audit_refs.append(
                self._gate.record_correction_received(
                    sender, body.correction_id, stream.hex, recorded, now
                )
            )
            outcome.corrections += 1
        self._append(records, tracking)
        outcome.recorded += len(records) // 2
        log.info(
            "correction_received",
            source=item.source,
            position=item.position,
            sender=partner.id,
            items=len(body.items),
            recorded=len(records) // 2,
        )

    def _append(self, records: list[HubRecord], tracking: Tracking) -> None:
        self._store.keyring.ensure({record.encryption_scope() for record in records})
        self._store.append(records, tracking)

    @staticmethod
    def _provenance(
        message: FederationMessage,
        partner: PartnerHub,
        part: TransferPart,
        event: CheckedEvent,
        now: datetime,
    ) -> dict[str, Any]:
        checkpoint = message.checkpoint
        return {
            "hub": partner.id,
            "partnership": partner.name,
            "contact": partner.contact,
            "sender_ref": event.ref,
            "sender_received_at": event.received_at.isoformat(),
            "received_from_hub_at": now.isoformat(),
            "message_id": message.id,
            "transfer_id": part.transfer_id,
            "part": part.part,
            "parts": part.parts,
            "agreement_version": message.agreement_version,
            "checkpoint": {
                "size": checkpoint.size,
                "root": checkpoint.root,
                "signer": checkpoint.signer,
            },
            "leaf_index": event.leaf_index,
        }

    def _claimed(self, keys: Iterable[UUID]) -> dict[UUID, str]:
        """The content digest already claimed under each of these keys (none: not held)."""
        return {
            key: claim.content_digest
            for key, claim in self._store.first_records(keys).items()
            if isinstance(claim, IngestKeyClaimed)
        }

    def _quarantine(
        self,
        item: Received,
        problem: MessageProblem,
        now: datetime,
        opened: FederationMessage | None = None,
    ) -> MessageQuarantined:
        """The message kept as it arrived, with the field that failed and why (never a value):
        sealed with the child's key when it names a child (in clear, or in the body `opened`
        from its encryption), so erasing the child erases it."""
        log.warning(
            "federation_message_quarantined",
            source=item.source,
            position=item.position,
            field=problem.field,
        )
        raw = item.raw
        child = self._named_child(opened.body if opened is not None else _body_of(raw))
        whole: tuple[int, str] | None = None
        if len(raw) > self._max_bytes:
            whole = (len(raw), hashlib.sha256(raw).hexdigest())
            raw = raw[:OVERSIZE_KEPT_BYTES]
        if child is not None:
            raw = seal(
                self._store.keyring,
                f"child:{child}",
                raw,
                quarantined_raw_context(item.source, item.position),
            )
        return MessageQuarantined(
            originator_id=self._pseudonyms.source_stream("quarantine", item.source),
            originator_version=item.position + 1,
            timestamp=now,
            source=item.source,
            position=item.position,
            raw=base64.b64encode(raw).decode(),
            reason=str(problem),
            reason_code=(
                "federation-not-handled" if problem.reason == NOT_HANDLED else "federation"
            ),
            raw_child=child,
            raw_length=None if whole is None else whole[0],
            raw_sha256=None if whole is None else whole[1],
        )

    def _named_child(self, body: object) -> str | None:
        """The stream of the child a message's body names by a valid NHS number, if any."""
        nhs = body.get("nhs_number") if isinstance(body, dict) else None
        if isinstance(nhs, str) and len(nhs) == 10 and nhs.isdigit():
            return self._pseudonyms.nhs_stream(nhs).hex
        return None


def _body_of(raw: bytes) -> object:
    """A message's body as it arrived (encrypted, it names nobody), if it parses at all."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return document.get("body") if isinstance(document, dict) else None
