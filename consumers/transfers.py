"""The transfers consumer (`hub consumer run transfers`, on a hub with a partner register):
offers a partner hub the record of a child who moved to its area, as the moves arrive
(docs/federation.md, "Transfer: sending").

Folding: each `la.moved-out-of-area` naming, by DfE number, a local authority a partner hub
covers is queued for that partner, once per move revision (a document sealed with the child's
key: the NHS number and the move's reference). Acting: each queued move is offered through the
transfer service (`hub.federation_transfer`), which works out, from the child's record as it
stands then, whether a transfer is due, and sends it through the disclosure gate. A move found
not due (no open plan, a corrected move, a partner no longer active) is recorded as such with
the reason and not tried again; one that fails to send (the partner's brokers unreachable) stays
queued and is tried on the next pass. Offering again after a crash before the record was
committed is safe: the receiving hub records each event once.

Corrections across the boundary: what each transfer sent is kept in its document (the
references, the transfer id, when). An entry that could withdraw something sent (a retraction,
a later revision of a record, an identity unlink) in the stream of a child whose record was
sent queues a check of that child; acting, the check works out which references sent to each
partner the child's record no longer holds as current (`TransferService.corrections_due`) and
sends that partner one signed `correction` (`TransferService.correct`), then marks each
reference corrected in the transfer documents (with the correction id), so each is corrected
once; a revision sent in place of another is remembered as sent, so a later correction of it
follows too. A correction that fails to send stays due and is tried on the next pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from consumers.framework import Document, Documents, child_document
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.federation import CorrectionDue, PartnerRegister
from hub.domain.records import ChildRecordEntry
from hub.domain.transfer import MOVED_OUT
from hub.federation_transfer import CorrectionReceipt, TransferReceipt, TransferRefusedError

log = structlog.get_logger("consumers.transfers")
STATS = "stats"
TRANSFER = "transfer"
PENDING, SENT, NOT_DUE = "pending", "sent", "not-due"
Offer = Callable[[ChildRef, str, str], TransferReceipt]
"""(child, partner hub id, move reference) -> what was sent, or TransferRefusedError."""
CHECK = "corrections-check"
RETRACTED_KIND = "record.retracted"


class Corrections(Protocol):
    """Correcting what transfers sent (`hub.federation_transfer.TransferService`)."""

    def corrections_due(
        self, child: ChildRef | str, sent: Sequence[str], corrected: Sequence[str]
    ) -> list[CorrectionDue]: ...

    def correct(
        self,
        child: ChildRef | str,
        partner_id: str,
        move_ref: str,
        transfer_ids: Sequence[str],
        due: Sequence[CorrectionDue],
    ) -> CorrectionReceipt: ...


def may_withdraw(entry: ChildRecordEntry) -> bool:
    """Whether the entry can withdraw or replace a record already sent: a retraction, a later
    revision of a record, or an identity link undone."""
    if entry.entry_type == "identity-unlinked":
        return True
    if entry.entry_type != "agency-event":
        return False
    return entry.body.get("kind") == RETRACTED_KIND or int(entry.body.get("revision", 1)) > 1


def transfer_document(stream: str, move_ref: str) -> str:
    return child_document(stream, TRANSFER, move_ref)


class TransfersConsumer:
    name = "transfers"
    description = "offers partner hubs the record of a child who moved to their area"
    # What was queued, sent or found not due: a rebuild never offers a transfer again.
    kept_on_rebuild: tuple[str, ...] = ("child:",)

    def __init__(
        self,
        register: Callable[[], PartnerRegister],
        offer: Offer,
        corrections: Corrections | None = None,
    ) -> None:
        self._register = register
        self._offer = offer
        self._corrections = corrections

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        stream = entry.originator_id.hex
        if may_withdraw(entry) and documents.names(child_document(stream, TRANSFER, "")):
            documents.put(child_document(stream, CHECK), {"queued_at": now.isoformat()})
        if entry.entry_type != "agency-event" or entry.body.get("kind") != MOVED_OUT:
            return
        stats = documents.get(STATS) or {}
        event = CanonicalEvent.model_validate(entry.body)
        code = event.details.get("receiving_la_code")
        partner = self._register().covering(code) if isinstance(code, str) else None
        if partner is None or event.child.nhs_number is None:
            _count(stats, "moves_not_to_a_partner")
            documents.put(STATS, stats)
            return
        ref = f"{event.agency.id}/{event.event_id}@{event.revision}"
        name = transfer_document(entry.originator_id.hex, ref)
        if documents.get(name) is None:
            documents.put(
                name,
                {
                    "nhs_number": event.child.nhs_number,
                    "move_ref": ref,
                    "partner": partner.id,
                    "state": PENDING,
                    "queued_at": now.isoformat(),
                },
            )
            _count(stats, "moves_queued")
        documents.put(STATS, stats)

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        for name in documents.names("child:"):
            if f":{TRANSFER}:" not in name:
                continue
            queued = documents.get(name)
            if queued is None or queued["state"] != PENDING:
                continue
            done: Document = dict(queued)
            try:
                receipt = self._offer(
                    ChildRef(nhs_number=queued["nhs_number"]), queued["partner"], queued["move_ref"]
                )
            except TransferRefusedError as refused:
                done.update(state=NOT_DUE, reason=str(refused), decided_at=now.isoformat())
            except Exception as error:  # the partner's brokers, say: tried on the next pass
                log.warning("transfer_not_sent_yet", error=type(error).__name__)
                continue
            else:
                done.update(
                    state=SENT,
                    sent_at=now.isoformat(),
                    transfer_id=receipt.transfer_id,
                    refs=list(receipt.refs),
                    corrected={},
                    events=receipt.events,
                    messages=len(receipt.messages),
                    audit_ref=receipt.audit_ref,
                )
            documents.put(name, done)
            commit()
        self._correct(documents, now, commit)

    def _correct(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        """For each child whose record changed since what was sent: one correction per partner
        of every reference sent there and no longer current (each corrected once)."""
        if self._corrections is None:
            return
        for check in documents.names("child:"):
            if not check.endswith(f":{CHECK}"):
                continue
            stream = check.split(":")[1]
            names = documents.names(child_document(stream, TRANSFER, ""))
            by_partner: dict[str, list[tuple[str, Document]]] = {}
            for name, document in zip(names, (documents.get(n) for n in names), strict=True):
                if document is not None and document["state"] == SENT:
                    by_partner.setdefault(document["partner"], []).append((name, document))
            unsent = False
            for partner, transfers in sorted(by_partner.items()):
                unsent |= not self._correct_partner(partner, transfers, documents, now)
            if not unsent:
                documents.delete(check)
            commit()

    def _correct_partner(
        self,
        partner: str,
        transfers: list[tuple[str, Document]],
        documents: Documents,
        now: datetime,
    ) -> bool:
        """Whether everything due to this partner was corrected (or nothing was due)."""
        if self._corrections is None:
            return True
        first = transfers[0][1]
        sent = [ref for _, d in transfers for ref in d.get("refs", [])]
        corrected = [ref for _, d in transfers for ref in d.get("corrected", {})]
        child = ChildRef(nhs_number=first["nhs_number"])
        due = self._corrections.corrections_due(child, sent, corrected)
        if not due:
            return True
        transfer_ids = [
            d["transfer_id"]
            for _, d in transfers
            if set(d.get("refs", [])) & {item.ref for item in due}
        ]
        try:
            receipt = self._corrections.correct(
                child, partner, first["move_ref"], transfer_ids, due
            )
        except Exception as error:  # the partner's brokers, say: tried on the next pass
            log.warning("correction_not_sent_yet", error=type(error).__name__)
            return False
        for name, document in transfers:
            updated = dict(document)
            marks = dict(updated.get("corrected", {}))
            refs = list(updated.get("refs", []))
            for ref, action in receipt.actions.items():
                if ref in refs and ref not in marks:
                    marks[ref] = {
                        "action": action,
                        "correction_id": receipt.correction_id,
                        "message_id": receipt.message_id,
                        "at": now.isoformat(),
                    }
                    replacement = receipt.replacements.get(ref)
                    if replacement is not None and replacement not in refs:
                        refs.append(replacement)  # sent in its place: corrected in turn
            updated.update(refs=refs, corrected=marks)
            documents.put(name, updated)
        stats = documents.get(STATS) or {}
        _count(stats, "corrections_sent")
        documents.put(STATS, stats)
        return True

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        states: dict[str, int] = {PENDING: 0, SENT: 0, NOT_DUE: 0}
        for name in documents.names("child:"):
            document = documents.get(name) if f":{TRANSFER}:" in name else None
            if document is not None:
                states[document["state"]] = states.get(document["state"], 0) + 1
        stats = documents.get(STATS) or {}
        return {
            "moves_queued": stats.get("moves_queued", 0),
            "moves_not_to_a_partner": stats.get("moves_not_to_a_partner", 0),
            "transfers_pending": states[PENDING],
            "transfers_sent": states[SENT],
            "moves_not_due": states[NOT_DUE],
            "corrections_sent": stats.get("corrections_sent", 0),
        }


def _count(stats: Document, name: str) -> None:
    stats[name] = stats.get(name, 0) + 1
