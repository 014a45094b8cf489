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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from consumers.framework import Document, Documents, child_document
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.federation import PartnerRegister
from hub.domain.records import ChildRecordEntry
from hub.domain.transfer import MOVED_OUT
from hub.federation_transfer import TransferReceipt, TransferRefusedError

log = structlog.get_logger("consumers.transfers")
STATS = "stats"
TRANSFER = "transfer"
PENDING, SENT, NOT_DUE = "pending", "sent", "not-due"
Offer = Callable[[ChildRef, str, str], TransferReceipt]
"""(child, partner hub id, move reference) -> what was sent, or TransferRefusedError."""


def transfer_document(stream: str, move_ref: str) -> str:
    return child_document(stream, TRANSFER, move_ref)


class TransfersConsumer:
    name = "transfers"
    description = "offers partner hubs the record of a child who moved to their area"
    # What was queued, sent or found not due: a rebuild never offers a transfer again.
    kept_on_rebuild: tuple[str, ...] = ("child:",)

    def __init__(self, register: Callable[[], PartnerRegister], offer: Offer) -> None:
        self._register = register
        self._offer = offer

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
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
                    events=receipt.events,
                    messages=len(receipt.messages),
                    audit_ref=receipt.audit_ref,
                )
            documents.put(name, done)
            commit()

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
        }


def _count(stats: Document, name: str) -> None:
    stats[name] = stats.get(name, 0) + 1
