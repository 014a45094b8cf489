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
  them, and when (first shown, how many times), by name and role.

Pure: no I/O, no clock. Names come from the caller (`name_of`), partnerships' names from the
entries' provenance or the caller's register (`partner_names`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.chronology import ChronologyEntry
from hub.domain.records import DisclosureAudited
from hub.domain.transfer import move_of

PARTNER_HUB_ROLE = "partner-hub"
RECEIVED_ACTION = "federation-transfer-received"
SENT_ACTION = "export"
_SENT = re.compile(
    r"^inter-partnership-transfer via (?P<move>\S+) under inter-partnership agreement "
    r"(?P<version>.+)$"
)
_RECEIVED = re.compile(
    r"^inter-partnership agreement (?P<version>.+) via transfer (?P<transfer>\S+) "
    r"\(message (?P<message>[^)]+)\)$"
)


@dataclass(frozen=True)
class SentRelationship:
    move_ref: str | None
    agreement_version: str | None


@dataclass(frozen=True)
class ReceivedRelationship:
    agreement_version: str | None
    transfer_id: str | None


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


def crossings(
    records: Iterable[DisclosureAudited],
    entries: Sequence[ChronologyEntry],
    as_of: datetime,
    *,
    partner_names: Mapping[str, str] | None = None,
    name_of: Callable[[str], str | None] = lambda _: None,
) -> dict[str, list[dict[str, Any]]]:
    """`{"sent": [...], "received": [...]}` as of `as_of`, oldest first. `records` are the
    child's audit entries, `entries` the chronology entries the reviewer may see."""
    partner_names = partner_names or {}
    by_ref = {e.ref: e for e in entries}
    then = [r for r in records if r.timestamp <= as_of]
    partnerships = dict(partner_names)
    for entry in entries:
        if entry.origin is not None:
            partnerships.setdefault(entry.origin.hub, entry.origin.partnership)

    sent = []
    for record in then:
        if not is_sent_transfer(record):
            continue
        said = sent_relationship(record.relationship)
        sent.append(
            {
                "at": record.timestamp.isoformat(),
                "partner": record.organisation,
                "partnership": partnerships.get(record.organisation, record.organisation),
                "agreement_version": said.agreement_version,
                "move_ref": said.move_ref,
                "reason": move_reason(said.move_ref, by_ref),
                "entries": len(record.disclosed),
                "refs": list(record.disclosed),
                "outcome": record.outcome,
                "audit_ref": f"{record.originator_id.hex}@{record.originator_version}",
            }
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
                "partnership": partnerships.get(record.organisation, record.organisation),
                "agreement_version": receipt.agreement_version,
                "transfer_id": receipt.transfer_id,
                "refs": [],
                "audit_refs": [],
            },
        )
        row["refs"] += [ref for ref in record.disclosed if ref not in row["refs"]]
        row["audit_refs"].append(f"{record.originator_id.hex}@{record.originator_version}")
    # Entries from a partner hub that no receipt names (recorded before receipts were audited):
    # their provenance says where from and when.
    audited = {ref for row in received.values() for ref in row["refs"]}
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
    return {"sent": sent, "received": rows}


def seen_by(
    records: Iterable[DisclosureAudited],
    refs: set[str],
    name_of: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """Who at this hub was shown any of `refs`, first shown first: name, role, organisation,
    when first shown, how many times, and how many of the entries."""
    people: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.role == PARTNER_HUB_ROLE or is_transfer_receipt(record):
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
