"""What crossed the boundary between partnerships, for a replay (issue 24: "a review in either
partnership can replay what crossed the boundary, when, and who saw it"; docs/federation.md,
"Replay across the boundary").

Worked out from the audit ledger and the child's chronology as of a moment T, so only what had
happened by T counts:

- **sent**: each transfer this hub disclosed to a partner hub (an `export` to the principal
  `hub:<partner>`, whose relationship names the move and the inter-partnership agreement
  version, `hub.federation_transfer`): to which partnership, when, under which agreement, which
  entries, and why (the move it was for, in words when the reviewer may see the move);
- **received**: each transfer this hub recorded from a partner hub (the gate's
  `federation-transfer-received` entries, one a part, grouped by transfer; and any entries
  received from a partner hub, by their provenance, that no receipt names): from which
  partnership, when, under which agreement, which entries; and who at this hub was shown any of
  them, and when (first shown, how many times), by name and role;
- **corrections received**: each correction a partner hub sent of what its transfers had sent
  here (the gate's `federation-correction-received` entries, `record_correction_received`):
  from which partnership, when, under which agreement, which correction of which transfer, the
  entries withdrawn and those replaced by a corrected revision (the receipt names them in pairs,
  the entry withdrawn then the entry recorded for it: a retraction, `...:withdrawn@1`, or the
  corrected revision; `hub.federation_ingest`), and who here had been shown them before;
- **corrections sent**: each correction this hub told a partner hub of what its transfers had
  sent (the gate's `federation-correction-sent` entries, `record_correction_sent`, written
  before the message was sent): to which partnership, when, under which agreement, which
  correction of which transfers for which move, the message, the entries withdrawn there and
  those replaced by a corrected revision. What the ledger holds from before corrections were
  audited is still told from the exports and the chronology: a corrected revision released to
  a partner hub that no correction names (told apart from a transfer by being only later
  revisions of records sent to that partner before), and each entry sent that the child's
  record here had withdrawn by T (retracted, or superseded by a revision not sent) and that no
  correction sent by T names, with when it was withdrawn here: no correction telling the
  partner is recorded by then.

Pure: no I/O, no clock. Names come from the caller (`name_of`), partnerships' names from the
entries' provenance or the caller's register (`partner_names`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.chronology import ChronologyEntry, EntryStatus, merge_chronology
from hub.domain.federation import record_of_ref
from hub.domain.records import DisclosureAudited
from hub.domain.transfer import move_of

PARTNER_HUB_ROLE = "partner-hub"
RECEIVED_ACTION = "federation-transfer-received"
CORRECTION_RECEIVED_ACTION = "federation-correction-received"
CORRECTION_SENT_ACTION = "federation-correction-sent"
WITHDRAWAL_MARK = ":withdrawn@"  # the retraction recorded for a withdrawn partner's record
SENT_ACTION = "export"
_SENT = re.compile(
    r"^inter-partnership-transfer via (?P<move>\S+) under inter-partnership agreement "
    r"(?P<version>.+)$"
)
_RECEIVED = re.compile(
    r"^inter-partnership agreement (?P<version>.+) via transfer (?P<transfer>\S+) "
    r"\(message (?P<message>[^)]+)\)$"
)
_CORRECTION_RECEIVED = re.compile(
    r"^inter-partnership agreement (?P<version>.+) via correction (?P<correction>\S+) "
    r"of transfer (?P<transfers>.+) \(message (?P<message>[^)]+)\)$"
)

_CORRECTION_SENT = re.compile(
    r"^correction (?P<correction>\S+) of transfer (?P<transfers>.*?) for (?P<move>\S+) under "
    r"inter-partnership agreement (?P<version>.+) \(message (?P<message>[^)]+)\)$"
)


@dataclass(frozen=True)
class SentRelationship:
    move_ref: str | None
    agreement_version: str | None


@dataclass(frozen=True)
class ReceivedRelationship:
    agreement_version: str | None
    transfer_id: str | None


@dataclass(frozen=True)
class CorrectionRelationship:
    agreement_version: str | None
    correction_id: str | None
    transfer_ids: tuple[str, ...]
    message_id: str | None


def sent_relationship(text: str | None) -> SentRelationship:
    """The move and agreement a transfer's audit entry names (`hub.federation_transfer`)."""
    found = _SENT.match(text or "")
    if found is None:
        return SentRelationship(None, None)
    return SentRelationship(found["move"], found["version"])


def received_relationship(text: str | None) -> ReceivedRelationship:
    """The agreement and transfer a receipt's audit entry names (`record_transfer_received`)."""
    found = _RECEIVED.match(text or "")
    if found is None:
        return ReceivedRelationship(None, None)
    return ReceivedRelationship(found["version"], found["transfer"])


def correction_relationship(text: str | None) -> CorrectionRelationship:
    """The agreement, correction, transfers and message a correction's receipt names
    (`record_correction_received`)."""
    found = _CORRECTION_RECEIVED.match(text or "")
    if found is None:
        return CorrectionRelationship(None, None, (), None)
    return CorrectionRelationship(
        found["version"],
        found["correction"],
        tuple(found["transfers"].split(", ")),
        found["message"],
    )


@dataclass(frozen=True)
class CorrectionSentRelationship:
    correction_id: str | None
    transfer_ids: tuple[str, ...]
    move_ref: str | None
    agreement_version: str | None
    message_id: str | None


def correction_sent_relationship(text: str | None) -> CorrectionSentRelationship:
    """The correction, transfers, move, agreement and message a correction sent names in its
    audit entry (`record_correction_sent`)."""
    found = _CORRECTION_SENT.match(text or "")
    if found is None:
        return CorrectionSentRelationship(None, (), None, None, None)
    return CorrectionSentRelationship(
        found["correction"],
        tuple(t for t in found["transfers"].split(", ") if t),
        found["move"],
        found["version"],
        found["message"],
    )


def move_reason(move_ref: str | None, entries: Mapping[str, ChronologyEntry]) -> str:
    """Why a transfer was sent, in words: `the family moved to Westvale Borough Council's
    area`, from the move the reviewer may see; else naming the move's reference only."""
    if move_ref is None:
        return "for a move out of the area"
    entry = entries.get(move_ref)
    move = None if entry is None else move_of(entry)
    if move is None:
        return f"for the move recorded as {move_ref}"
    if move.receiving_authority:
        return f"the family moved to {move.receiving_authority}'s area"
    if move.receiving_la_code:
        return f"the family moved to the area of local authority {move.receiving_la_code}"
    return "the family moved out of the area"


def is_sent_transfer(record: DisclosureAudited) -> bool:
    return (
        record.role == PARTNER_HUB_ROLE
        and record.action == SENT_ACTION
        and record.practitioner_id.startswith("hub:")
        and bool(record.disclosed)
    )


def is_transfer_receipt(record: DisclosureAudited) -> bool:
    return record.action == RECEIVED_ACTION and bool(record.disclosed)


def is_correction_receipt(record: DisclosureAudited) -> bool:
    return record.action == CORRECTION_RECEIVED_ACTION and bool(record.disclosed)


def is_correction_sent(record: DisclosureAudited) -> bool:
    return record.action == CORRECTION_SENT_ACTION and bool(record.disclosed)


def is_partner_receipt(record: DisclosureAudited) -> bool:
    """Recorded here from a partner hub (a transfer or a correction): nobody was shown it."""
    return is_transfer_receipt(record) or is_correction_receipt(record)


def crossings(
    records: Iterable[DisclosureAudited],
    entries: Sequence[ChronologyEntry],
    as_of: datetime,
    *,
    partner_names: Mapping[str, str] | None = None,
    name_of: Callable[[str], str | None] = lambda _: None,
) -> dict[str, list[dict[str, Any]]]:
    """`{"sent": [...], "received": [...], "corrections_sent": [...],
    "corrections_received": [...]}` as of `as_of`, oldest first. `records` are the child's
    audit entries, `entries` the chronology entries the reviewer may see."""
    partner_names = partner_names or {}
    by_ref = {e.ref: e for e in entries}
    then = sorted((r for r in records if r.timestamp <= as_of), key=lambda r: r.timestamp)
    partnerships = dict(partner_names)
    for entry in entries:
        if entry.origin is not None:
            partnerships.setdefault(entry.origin.hub, entry.origin.partnership)

    def partnership(partner: str) -> str:
        return partnerships.get(partner, partner)

    sent: list[dict[str, Any]] = []
    revisions_sent: list[dict[str, Any]] = []
    # partner -> (agency, record id) -> the references of its revisions sent there, in order
    sent_to: dict[str, dict[tuple[str, str], list[str]]] = {}
    for record in then:
        if not is_sent_transfer(record):
            continue
        said = sent_relationship(record.relationship)
        row: dict[str, Any] = {
            "at": record.timestamp.isoformat(),
            "partner": record.organisation,
            "partnership": partnership(record.organisation),
            "agreement_version": said.agreement_version,
            "move_ref": said.move_ref,
            "entries": len(record.disclosed),
            "refs": list(record.disclosed),
            "outcome": record.outcome,
            "audit_ref": f"{record.originator_id.hex}@{record.originator_version}",
        }
        known = sent_to.setdefault(record.organisation, {})
        keyed = [(ref, record_of_ref(ref)) for ref in record.disclosed]
        if all(key in known and ref not in known[key] for ref, key in keyed):
            # Only later revisions of records sent there before: a correction's release.
            replaced = [{"ref": known[key][-1], "by": ref} for ref, key in keyed]
            revisions_sent.append(row | {"corrected": replaced, "withdrawn": [], "audited": True})
        else:
            sent.append(row | {"reason": move_reason(said.move_ref, by_ref)})
        for ref, key in keyed:
            known.setdefault(key, []).append(ref)
    told = [
        _correction_sent(record, partnership(record.organisation))
        for record in then
        if is_correction_sent(record)
    ]
    # A corrected revision a correction names is told with that correction, not on its own.
    named = {(row["partner"], c["by"]) for row in told for c in row["corrected"]}
    revisions_sent = [
        row
        for row in revisions_sent
        if not all((row["partner"], c["by"]) in named for c in row["corrected"])
    ]
    corrections_sent = sorted(
        told
        + revisions_sent
        + _withdrawn_after_sending(sent, [*revisions_sent, *told], entries, as_of),
        key=lambda row: datetime.fromisoformat(row["at"]),
    )

    received: dict[tuple[str, str], dict[str, Any]] = {}
    for record in then:
        if not is_transfer_receipt(record):
            continue
        receipt = received_relationship(record.relationship)
        key = (record.organisation, receipt.transfer_id or record.originator_id.hex)
        row = received.setdefault(
            key,
            {
                "at": record.timestamp.isoformat(),
                "partner": record.organisation,
                "partnership": partnership(record.organisation),
                "agreement_version": receipt.agreement_version,
                "transfer_id": receipt.transfer_id,
                "refs": [],
                "audit_refs": [],
            },
        )
        row["refs"] += [ref for ref in record.disclosed if ref not in row["refs"]]
        row["audit_refs"].append(f"{record.originator_id.hex}@{record.originator_version}")
    corrections_received = [
        _correction_received(record, then, partnership(record.organisation), name_of)
        for record in then
        if is_correction_receipt(record)
    ]
    # Entries from a partner hub that no receipt names (recorded before receipts were audited):
    # their provenance says where from and when. What a correction recorded is not a transfer.
    audited = {ref for row in received.values() for ref in row["refs"]}
    audited |= {ref for row in corrections_received for ref in row["refs"]}
    for entry in sorted(entries, key=lambda e: e.received_at):
        origin = entry.origin
        if origin is None or entry.received_at > as_of or entry.ref in audited:
            continue
        key = (origin.hub, origin.transfer_id or origin.received_from_hub_at.isoformat())
        row = received.setdefault(
            key,
            {
                "at": origin.received_from_hub_at.isoformat(),
                "partner": origin.hub,
                "partnership": origin.partnership,
                "agreement_version": None,
                "transfer_id": origin.transfer_id or None,
                "refs": [],
                "audit_refs": [],
            },
        )
        row["refs"].append(entry.ref)
    rows = sorted(received.values(), key=lambda row: datetime.fromisoformat(row["at"]))
    for row in rows:
        row["entries"] = len(row["refs"])
        row["seen_by"] = seen_by(then, set(row["refs"]), name_of)
    return {
        "sent": sent,
        "received": rows,
        "corrections_sent": corrections_sent,
        "corrections_received": corrections_received,
    }


def _withdrawn_after_sending(
    sent: Sequence[dict[str, Any]],
    corrected: Sequence[dict[str, Any]],
    entries: Sequence[ChronologyEntry],
    as_of: datetime,
) -> list[dict[str, Any]]:
    """Each entry sent to a partner that the child's record here no longer held as current at
    `as_of` (retracted, or superseded by a revision not sent there by then) and that no
    correction sent by then names (`corrected`: the corrected revisions released and the
    corrections sent): when it was withdrawn here, by what; no correction telling the partner
    is recorded by then. An entry sent that the record no longer holds at all (an identity link
    undone) or that the reviewer may not see is not told here."""
    local = merge_chronology(e for e in entries if e.origin is None and e.received_at <= as_of)
    by_ref = {e.ref: e for e in local}
    by_revision = {(e.event.agency.id, f"{e.event.event_id}@{e.event.revision}"): e for e in local}
    replaced = {(row["partner"], c["ref"]) for row in corrected for c in row["corrected"]}
    replaced |= {(row["partner"], ref) for row in corrected for ref in row["withdrawn"]}
    rows: list[dict[str, Any]] = []
    done: set[tuple[str, str]] = set()
    # What each partner was sent: transfers' entries and corrected revisions.
    sent_refs = [(row, row["refs"]) for row in sent]
    sent_refs += [(row, [c["by"] for c in row["corrected"]]) for row in corrected]
    for transfer, refs in sent_refs:
        for ref in refs:
            entry = by_ref.get(ref)
            key = (transfer["partner"], ref)
            if entry is None or entry.status is EntryStatus.CURRENT:
                continue
            if key in replaced or key in done:
                continue
            done.add(key)
            by = by_revision.get((entry.event.agency.id, entry.replaced_by or ""))
            rows.append(
                {
                    "at": (by or entry).received_at.isoformat(),
                    "partner": transfer["partner"],
                    "partnership": transfer["partnership"],
                    "agreement_version": transfer["agreement_version"],
                    "withdrawn": [ref],
                    "how": entry.status.value,
                    "by": None if by is None else by.ref,
                    "corrected": [],
                    "refs": [ref],
                    "sent_at": transfer["at"],
                    "audited": False,
                    "audit_ref": None,
                }
            )
    return rows


def _correction_sent(record: DisclosureAudited, partnership: str) -> dict[str, Any]:
    """A correction told to a partner hub, from its audit entry (written before it was sent):
    the references it withdrew there, and each it superseded with the corrected revision sent
    in its place (the entry names the references, then the revisions: a revision is paired
    with the reference of the same record)."""
    said = correction_sent_relationship(record.relationship)
    named: dict[tuple[str, str], str] = {}  # the record -> the reference the correction names
    revisions: dict[tuple[str, str], str] = {}  # the record -> its corrected revision sent
    for ref in record.disclosed:
        key = record_of_ref(ref)
        if key in named:
            revisions[key] = ref
        else:
            named[key] = ref
    return {
        "at": record.timestamp.isoformat(),
        "partner": record.organisation,
        "partnership": partnership,
        "agreement_version": said.agreement_version,
        "correction_id": said.correction_id,
        "transfer_ids": list(said.transfer_ids),
        "move_ref": said.move_ref,
        "message_id": said.message_id,
        "withdrawn": [ref for key, ref in named.items() if key not in revisions],
        "corrected": [
            {"ref": ref, "by": revisions[key]} for key, ref in named.items() if key in revisions
        ],
        "refs": list(record.disclosed),
        "audited": True,
        "audit_ref": f"{record.originator_id.hex}@{record.originator_version}",
    }


def _correction_received(
    record: DisclosureAudited,
    then: Sequence[DisclosureAudited],
    partnership: str,
    name_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """A correction's receipt: the entries it withdrew and those it replaced by a corrected
    revision (the receipt names them in pairs: the entry withdrawn, then what was recorded for
    it), and who here had been shown any of them before it arrived."""
    said = correction_relationship(record.relationship)
    withdrawn: list[str] = []
    corrected: list[dict[str, str]] = []
    for old, new in zip(record.disclosed[0::2], record.disclosed[1::2], strict=False):
        if WITHDRAWAL_MARK in new:
            withdrawn.append(old)
        else:
            corrected.append({"ref": old, "by": new})
    earlier = {*withdrawn, *(c["ref"] for c in corrected)}
    before = [r for r in then if r.timestamp < record.timestamp]
    return {
        "at": record.timestamp.isoformat(),
        "partner": record.organisation,
        "partnership": partnership,
        "agreement_version": said.agreement_version,
        "correction_id": said.correction_id,
        "transfer_ids": list(said.transfer_ids),
        "message_id": said.message_id,
        "withdrawn": withdrawn,
        "corrected": corrected,
        "refs": list(record.disclosed),
        "audit_ref": f"{record.originator_id.hex}@{record.originator_version}",
        "seen_by": seen_by(before, earlier, name_of),
    }


def seen_by(
    records: Iterable[DisclosureAudited],
    refs: set[str],
    name_of: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """Who at this hub was shown any of `refs`, first shown first: name, role, organisation,
    when first shown, how many times, and how many of the entries."""
    people: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.role == PARTNER_HUB_ROLE or is_partner_receipt(record):
            continue
        shown = refs.intersection(record.disclosed)
        if not shown:
            continue
        person = people.setdefault(
            record.practitioner_id,
            {
                "practitioner": record.practitioner_id,
                "name": name_of(record.practitioner_id) or record.practitioner_id,
                "role": record.role,
                "organisation": record.organisation,
                "first_seen_at": record.timestamp.isoformat(),
                "times": 0,
                "entries": set(),
            },
        )
        person["times"] += 1
        person["entries"] |= shown
    return [
        person | {"entries": len(person["entries"])}
        for person in sorted(
            people.values(), key=lambda p: datetime.fromisoformat(p["first_seen_at"])
        )
    ]
