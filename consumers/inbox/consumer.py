"""The inbox consumer: change, pattern and access notifications (the package docstring says
what each is and who gets it).

One piece (about 540 lines): `InboxConsumer` is one state machine over its documents (fold
what arrived, deliver it through the gate, follow the audit ledger for access, hand new items
to the outbound channels); the listing a person reads is `consumers.inbox.listing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from consumers.encompass import HEADER_PATHS
from consumers.framework import Document, Documents, NoOutbound, Outbound, child_document
from hub.adapters.data_keys import DataKeyErasedError
from hub.disclosure_gate import ChronologyView, Disclosure, DisclosureGate
from hub.domain.access import Practitioner, Purpose, RelationshipBasis, RelationshipGrant
from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.patterns import detect_patterns
from hub.domain.records import ChildRecordEntry, DisclosureAudited, HubRecord
from hub.domain.relationships import derive_relationships, find_relationship
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date
from hub.policies.decision import Action

if TYPE_CHECKING:
    from hub.adapters.directory import PractitionerDirectory
    from hub.adapters.pseudonyms import Pseudonymiser
    from hub.domain.grants import AccessGrants
    from hub.policies.agreements import Agreement

log = structlog.get_logger("hub.consumers.inbox")
NAME = "inbox"
CHANGES, DELIVERED, FLAGS, ITEM, AUDIT_POSITION, CORRECTIONS, TRANSFERS_IN = (
    "changes:",
    "delivered:",
    "flags:",
    "item:",
    "position:audit",
    "corrections:",
    "transfers-in:",
)
CHANGE, PATTERN, ACCESS, CORRECTION, TRANSFER = (
    "change",
    "pattern",
    "access",
    "correction",
    "transfer",
)
# Opening a record is a view or an export; searches, notices and notifications are not.
OPENED = frozenset({Action.VIEW.value, Action.EXPORT.value})
# A data protection officer's audit is oversight, and may be of the worker who would be told.
_NOT_NOTIFIED_PURPOSES = frozenset({Purpose.DATA_PROTECTION_AUDIT.value})
_NOT_NEWS = frozenset({*CHILD_DETAILS_KINDS})
_HEADER = frozenset({*CHILD_DETAILS_KINDS})


@dataclass(frozen=True)
class InboxRules:
    front_door_team: str
    max_age: timedelta = timedelta(days=28)
    """Records an agency recorded longer ago than this (a backfill of its history), and views
    older than this when the consumer first reads the audit ledger, are not notified."""


class AuditFollower(Protocol):
    def disclosures_after(
        self, position: int, limit: int = 500
    ) -> tuple[list[DisclosureAudited], int]: ...

    def grants(self, child_stream: str) -> AccessGrants: ...

    def for_child(self, child_stream: str) -> list[HubRecord]: ...


def item_name(recipient_key: str, stream: str, item_id: str) -> str:
    """Sealed with the child's key (erasing the child erases their items); kept by a rebuild."""
    return f"{ITEM}{recipient_key}:{child_document(stream, item_id)}"


class DirectoryIndex:
    """The directory by id, team and (organisation, role): who a grant can name."""

    def __init__(self, practitioners: Iterable[Practitioner]) -> None:
        self._by_id: dict[str, Practitioner] = {}
        self._by_team: dict[str, list[Practitioner]] = {}
        self._by_post: dict[tuple[str, str], list[Practitioner]] = {}
        for practitioner in practitioners:
            self._by_id[practitioner.id] = practitioner
            for team in practitioner.teams:
                self._by_team.setdefault(team, []).append(practitioner)
            post = (practitioner.organisation, practitioner.role.value)
            self._by_post.setdefault(post, []).append(practitioner)

    def covered(self, grant: RelationshipGrant) -> list[Practitioner]:
        """Who the grant could cover (`RelationshipGrant.covers` still decides)."""
        if grant.practitioner_id is not None:
            found = self._by_id.get(grant.practitioner_id)
            return [] if found is None else [found]
        if grant.team is not None:
            return self._by_team.get(grant.team, [])
        if grant.organisation is not None and grant.role is not None:
            return self._by_post.get((grant.organisation, grant.role.value), [])
        return []


class UnknownItemError(LookupError):
    """Not one of this practitioner's items (or an id too short to tell which)."""


class InboxConsumer:
    name = NAME
    description = "inbox items: new records and pattern flags for related practitioners, access"
    kept_on_rebuild: tuple[str, ...] = (DELIVERED, FLAGS, ITEM, AUDIT_POSITION, "outbox:", "sent:")

    def __init__(
        self,
        rules: InboxRules,
        directory: PractitionerDirectory,
        gate: Callable[[], DisclosureGate],
        held: Callable[[str], Sequence[ChronologyEntry]],
        audit: Callable[[], AuditFollower],
        agreement: Callable[[datetime], Agreement],
        pseudonyms: Pseudonymiser,
        outbound: Outbound | None = None,
    ) -> None:
        self._rules = rules
        self._directory = directory
        self._gate = gate
        self._held = held  # the child's merged chronology (the projection, caught up)
        self._audit = audit
        self._agreement = agreement
        self._pseudonyms = pseudonyms
        self.outbound: Outbound = outbound or NoOutbound()
        self._directory_index = DirectoryIndex(())

    def recipient_key(self, practitioner_id: str) -> str:
        """A keyed pseudonym of the recipient for document names (stored in clear)."""
        return self._pseudonyms.source_stream("inbox-recipient", practitioner_id).hex

    def _item_id(self, *parts: str) -> str:
        return self._pseudonyms.source_stream("inbox-item", "|".join(parts)).hex

    # -- folding the log ---------------------------------------------------------------

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        if entry.entry_type == "federated-event":
            if entry.body.get("provenance", {}).get("correction"):
                self._note_correction(entry, documents)
            else:
                self._note_transfer(entry, documents, now)
            return
        if entry.entry_type != "agency-event":
            return
        body = entry.body
        kind = body["kind"]
        if kind in _NOT_NEWS:
            return  # who the child is, not something that happened
        recorded = datetime.fromisoformat(body["recorded_at"])
        if now - recorded > self._rules.max_age:
            return  # an agency's history arriving (onboarding, a backfill): not news
        stream = entry.originator_id.hex
        ref = f"{body['agency']['id']}/{body['event_id']}@{body['revision']}"
        delivered = documents.get(DELIVERED + child_document(stream)) or {"refs": {}}
        if ref in delivered["refs"]:
            return  # told before a rebuild: never twice
        name = CHANGES + child_document(stream)
        pending = documents.get(name) or {"refs": {}}
        pending["refs"][ref] = {
            "kind": kind,
            "agency": body["agency"]["id"],
            "recorded_at": recorded.isoformat(),
        }
        documents.put(name, pending)

    def _note_correction(self, entry: ChildRecordEntry, documents: Documents) -> None:
        """A partner hub's correction of a record it sent (`hub.federation_ingest`): whoever
        here saw the withdrawn record is told (on acting), as of the entry recorded for it."""
        correction = entry.body.get("provenance", {}).get("correction")
        if not correction:
            return
        event = entry.body["event"]
        new_ref = (
            f"{entry.body['provenance']['hub']}:"
            f"{event['agency']['id']}/{event['event_id']}@{event['revision']}"
        )
        name = CORRECTIONS + child_document(entry.originator_id.hex)
        pending = documents.get(name) or {"withdrawn": {}}
        pending["withdrawn"][correction["withdrawn"]] = new_ref
        documents.put(name, pending)

    def _note_transfer(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        """A record received in a transfer from a partner hub (the child moved into this
        partnership's area): the child's allocated worker, or the front door, is told (on
        acting), once per transfer. One received long ago (a rebuild) is not news."""
        provenance = entry.body["provenance"]
        received = datetime.fromisoformat(provenance["received_from_hub_at"])
        if now - received > self._rules.max_age:
            return
        event = entry.body["event"]
        ref = f"{provenance['hub']}:{event['agency']['id']}/{event['event_id']}@{event['revision']}"
        name = TRANSFERS_IN + child_document(entry.originator_id.hex)
        pending = documents.get(name) or {"transfers": {}}
        transfer = pending["transfers"].setdefault(
            provenance.get("transfer_id") or provenance["message_id"],
            {
                "partnership": provenance["partnership"],
                "contact": provenance["contact"],
                "received_at": received.isoformat(),
                "refs": [],
            },
        )
        transfer["refs"].append(ref)
        documents.put(name, pending)

    # -- acting ------------------------------------------------------------------------

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        agreement = self._agreement(now)
        self._directory_index = DirectoryIndex(self._directory.all())  # as it is this pass
        deliveries: tuple[tuple[str, Callable[[str, Document], None]], ...] = (
            (CHANGES, lambda c, p: self._deliver_changes(c, p["refs"], agreement, documents, now)),
            (
                CORRECTIONS,
                lambda c, p: self._deliver_corrections(c, p["withdrawn"], documents, now),
            ),
            (TRANSFERS_IN, lambda c, p: self._deliver_transfers(c, p["transfers"], documents, now)),
        )
        for prefix, deliver in deliveries:
            for name in documents.names(prefix):
                pending = documents.get(name)
                if pending is not None:
                    deliver(name.split(":")[2], pending)  # the child's stream
                documents.delete(name)
                commit()  # each child's items are durable before the next child's
        self._follow_audit(documents, now, commit)
        self.outbound.send(documents, now, commit)

    def _entries(self, stream: str) -> list[ChronologyEntry] | None:
        try:
            return list(self._held(stream))
        except DataKeyErasedError:
            return None  # erased since: nobody is told anything of them

    def _grants(self, stream: str, entries: Iterable[ChronologyEntry]) -> list[RelationshipGrant]:
        commissions = tuple(self._audit().grants(stream).commissions())
        return derive_relationships((e.event for e in entries), commissions)

    def _related(
        self, grants: list[RelationshipGrant], now: datetime
    ) -> list[tuple[Practitioner, RelationshipGrant]]:
        """Everyone with a current relationship to the child (not a one-notice routing): the
        people the grants name, by id, team or organisation and role, each with their
        strongest grant (so a large directory is not read once per child)."""
        candidates: dict[str, Practitioner] = {}
        for grant in grants:
            if grant.basis in (
                RelationshipBasis.NOTICE_ROUTING,
                RelationshipBasis.FRONT_DOOR_SEARCH,
            ):
                continue
            for practitioner in self._directory_index.covered(grant):
                candidates[practitioner.id] = practitioner
        related = []
        for practitioner in sorted(candidates.values(), key=lambda p: p.id):
            best = find_relationship(practitioner, grants, now)
            if best is not None and best.basis not in (
                RelationshipBasis.NOTICE_ROUTING,
                RelationshipBasis.FRONT_DOOR_SEARCH,
            ):
                related.append((practitioner, best))
        return related

    def _deliver_changes(
        self,
        stream: str,
        pending: dict[str, dict[str, str]],
        agreement: Agreement,
        documents: Documents,
        now: datetime,
    ) -> None:
        entries = self._entries(stream)
        if entries is None or not agreement.notifications:
            return
        held = {e.ref for e in entries}
        fresh = {ref: what for ref, what in pending.items() if ref in held}
        related = self._related(self._grants(stream, entries), now)
        flags = detect_patterns(entries) if fresh else []
        for practitioner, grant in related:
            told: dict[Purpose, list[str]] = {}
            for ref, what in sorted(fresh.items()):
                if what["agency"] == practitioner.organisation:
                    continue  # their own agency's record: not news to them
                rule = agreement.notification_rule(practitioner.role, what["kind"])
                if rule is not None:
                    told.setdefault(rule.purpose, []).append(ref)
            for purpose, refs in told.items():
                self._tell_change(stream, practitioner, grant, purpose, refs, documents, now)
            pattern_rule = agreement.notification_rule(practitioner.role)
            if pattern_rule is not None and pattern_rule.patterns:
                self._tell_patterns(
                    stream, practitioner, grant, pattern_rule.purpose, flags, fresh, documents, now
                )
        name = DELIVERED + child_document(stream)
        delivered = documents.get(name) or {"refs": {}}
        horizon = (now - 2 * self._rules.max_age).isoformat()
        kept = {r: at for r, at in delivered["refs"].items() if at >= horizon}
        kept.update({ref: what["recorded_at"] for ref, what in pending.items()})
        documents.put(name, {"refs": kept})

    def _deliver_corrections(
        self, stream: str, withdrawn: dict[str, str], documents: Documents, now: datetime
    ) -> None:
        """Each person whose audited view or export of the child included a record another
        partnership's hub has since withdrawn or corrected is told: one item naming the
        withdrawal (or the corrected revision), released to them by the gate as any item."""
        entries = self._entries(stream)
        if entries is None:
            return
        seen: dict[str, tuple[Purpose, set[str]]] = {}
        for record in self._audit().for_child(stream):
            if (
                not isinstance(record, DisclosureAudited)
                or record.action not in OPENED
                or record.outcome not in ("disclosed", "partially-disclosed")
                or record.purpose is None
                or record.purpose in _NOT_NOTIFIED_PURPOSES
            ):
                continue
            saw = withdrawn.keys() & set(record.disclosed)
            if saw:
                _, refs = seen.setdefault(record.practitioner_id, (Purpose(record.purpose), set()))
                refs.update(saw)
        if not seen:
            return
        grants = self._grants(stream, entries)
        for practitioner_id, (purpose, refs) in sorted(seen.items()):
            practitioner = self._directory.get(practitioner_id)
            if practitioner is None:
                continue  # not a person in this hub's directory (a partner hub, say)
            grant = find_relationship(practitioner, grants, now)
            told = sorted({withdrawn[ref] for ref in refs})
            view = self._release(stream, practitioner, grant, purpose, told, now)
            released = [e.ref for e in view.entries if e.ref in set(told)]
            if not released:
                continue  # no longer related to the child, or not theirs to see
            item_id = self._item_id(CORRECTION, practitioner.id, stream, *sorted(refs))
            item = self._item(item_id, CORRECTION, practitioner, stream, purpose, grant, now)
            item["refs"] = released
            item["withdrawn"] = sorted(refs)
            self._put_item(documents, practitioner, item)

    def _deliver_transfers(
        self,
        stream: str,
        transfers: dict[str, dict[str, Any]],
        documents: Documents,
        now: datetime,
    ) -> None:
        """Records about a child arrived from another partnership's hub (the child moved into
        this area): the child's allocated worker here, or the front door when none is
        allocated, gets one item per transfer, released to them by the gate as any item (the
        records' kinds and publishers, and who the child is)."""
        entries = self._entries(stream)
        if entries is None:
            return
        recipients = self._access_recipients(self._grants(stream, entries), now)
        purpose = Purpose.CHILD_PROTECTION_PLANNING
        for transfer_id, transfer in sorted(transfers.items()):
            refs = sorted(set(transfer["refs"]))
            for recipient, grant in recipients:
                view = self._release(stream, recipient, grant, purpose, refs, now)
                released = [e.ref for e in view.entries if e.ref in set(refs)]
                if not released:
                    continue  # nothing of it is theirs to see under the agreement
                item_id = self._item_id(TRANSFER, recipient.id, stream, transfer_id)
                item = self._item(item_id, TRANSFER, recipient, stream, purpose, grant, now)
                item["refs"] = released
                item["transfer"] = {
                    "partnership": transfer["partnership"],
                    "contact": transfer["contact"],
                    "received_at": transfer["received_at"],
                }
                self._put_item(documents, recipient, item)

    def _release(
        self,
        stream: str,
        practitioner: Practitioner,
        grant: RelationshipGrant | None,
        purpose: Purpose,
        refs: Iterable[str],
        now: datetime | None,
    ) -> ChronologyView:
        """What an item may say, released by the gate (action `notify`): the items' kinds
        and publishers, and who the child is. Audited once per recipient and items: delivering
        again after a crash, or listing the inbox again, finds the first entry."""
        return self._gate().disclose(
            stream,
            practitioner,
            Disclosure(
                purpose,
                Action.NOTIFY,
                items=frozenset(refs),
                fields=HEADER_PATHS,
                accompanying=_HEADER,
                relationship=grant,
                reuse_audit=True,
                at=now,
            ),
        )

    def _tell_change(
        self,
        stream: str,
        practitioner: Practitioner,
        grant: RelationshipGrant,
        purpose: Purpose,
        refs: list[str],
        documents: Documents,
        now: datetime,
    ) -> None:
        view = self._release(stream, practitioner, grant, purpose, refs, now)
        wanted = set(refs)
        released = [e for e in view.entries if e.ref in wanted]
        if not released:
            return  # withheld from them, shielded, or not theirs under the agreement
        item_id = self._item_id(CHANGE, practitioner.id, stream, *sorted(e.ref for e in released))
        item = self._item(item_id, CHANGE, practitioner, stream, purpose, grant, now)
        item["refs"] = [e.ref for e in released]
        item["what"] = [{"kind": e.kind, "agency": e.agency} for e in released]
        self._put_item(documents, practitioner, item)

    def _tell_patterns(
        self,
        stream: str,
        practitioner: Practitioner,
        grant: RelationshipGrant,
        purpose: Purpose,
        flags: list[Any],
        fresh: dict[str, Any],
        documents: Documents,
        now: datetime,
    ) -> None:
        """A flag that starts to hold (it holds now, on entries released to them, and did not
        when they were last told) is an item; one that stops holding may be told again."""
        name = FLAGS + child_document(stream)
        state = documents.get(name) or {}
        key = self.recipient_key(practitioner.id)
        told = set(state.get(key, []))
        holding = set()
        for flag in flags:
            holding.add(flag.code)
            if flag.code in told or not fresh.keys() & set(flag.refs):
                continue
            view = self._release(stream, practitioner, grant, purpose, flag.refs, now)
            shown = next((f for f in view.patterns if f.code == flag.code), None)
            if shown is None:
                continue  # the flag rests on something they may not see
            item_id = self._item_id(PATTERN, practitioner.id, stream, flag.code, *flag.refs)
            item = self._item(item_id, PATTERN, practitioner, stream, purpose, grant, now)
            item["refs"] = list(shown.refs)
            item["flag"] = {"code": shown.code, "description": shown.description}
            self._put_item(documents, practitioner, item)
            told.add(flag.code)
        state[key] = sorted(told & holding)
        documents.put(name, state)

    def _item(
        self,
        item_id: str,
        kind: str,
        practitioner: Practitioner,
        stream: str,
        purpose: Purpose,
        grant: RelationshipGrant | None,
        now: datetime,
    ) -> Document:
        return {
            "id": item_id,
            "type": kind,
            "practitioner": practitioner.id,
            "child_stream": stream,
            "purpose": purpose.value,
            "relationship": None if grant is None else grant.basis.value,
            "routed_to_team": grant.team
            if grant and grant.basis is RelationshipBasis.NOTICE_ROUTING
            else None,
            "created_at": now.astimezone(UTC).isoformat(),
            "opened_at": None,
            "done_at": None,
        }

    def _put_item(self, documents: Documents, practitioner: Practitioner, item: Document) -> None:
        name = item_name(self.recipient_key(practitioner.id), item["child_stream"], item["id"])
        existing = documents.get(name)
        if existing is not None and item["type"] != ACCESS:
            return  # delivered before a crash: the same item, never twice
        documents.put(name, item)
        if existing is None:
            self.outbound.queue(documents, practitioner, item)

    # -- access notifications (CP-IS parity) ----------------------------------------------

    def _follow_audit(
        self, documents: Documents, now: datetime, commit: Callable[[], None]
    ) -> None:
        """Read the audit ledger on from this consumer's own position in it: each record
        opened by someone from another organisation (or under break-glass) tells the child's
        allocated worker, or the front door when none is allocated. The position and the
        items it led to commit together, so each view is told once."""
        audit = self._audit()
        tracking = documents.get(AUDIT_POSITION) or {"position": 0}
        since = now - self._rules.max_age
        while True:
            records, reached = audit.disclosures_after(tracking["position"])
            if reached == tracking["position"]:
                return
            for record in records:
                if (
                    record.action in OPENED
                    and record.outcome in ("disclosed", "partially-disclosed")
                    and record.purpose not in _NOT_NOTIFIED_PURPOSES
                    and record.timestamp >= since
                ):
                    self._tell_access(record, documents, now)
            tracking = {"position": reached}
            documents.put(AUDIT_POSITION, tracking)
            commit()

    def _access_recipients(
        self, grants: list[RelationshipGrant], at: datetime
    ) -> list[tuple[Practitioner, RelationshipGrant]]:
        today = uk_date(at)
        workers = [
            g
            for g in grants
            if g.basis is RelationshipBasis.ALLOCATED_WORKER
            and g.valid_from <= at
            and (g.valid_to is None or at < g.valid_to)
        ]
        found = []
        for grant in workers:
            worker = self._directory.get(grant.practitioner_id or "")
            if worker is not None and worker.is_active(today):
                found.append((worker, grant))
        if found:
            return found
        team = self._rules.front_door_team
        routed = RelationshipGrant(
            basis=RelationshipBasis.NOTICE_ROUTING,
            valid_from=at - timedelta(days=1),
            valid_to=None,
            source_event_id="access-notification",
            team=team,
        )
        return [(p, routed) for p in self._directory_index.covered(routed) if p.is_active(today)]

    def _tell_access(self, record: DisclosureAudited, documents: Documents, now: datetime) -> None:
        stream = record.child_stream
        entries = self._entries(stream)
        if not entries:
            return  # erased, or nothing held
        at = record.timestamp
        break_glass = record.break_glass_reason is not None
        details = [
            e.ref
            for e in entries
            if e.event.kind in CHILD_DETAILS_KINDS and e.status is EntryStatus.CURRENT
        ]
        about = details or [entries[0].ref]
        for recipient, grant in self._access_recipients(self._grants(stream, entries), at):
            if recipient.id == record.practitioner_id:
                continue
            if recipient.organisation == record.organisation and not break_glass:
                continue  # a colleague in their own organisation: not what CP-IS tells
            view = self._release(
                stream, recipient, grant, Purpose.CHILD_PROTECTION_PLANNING, about, now
            )
            day = uk_date(at).isoformat()
            item_id = self._item_id(ACCESS, recipient.id, stream, record.practitioner_id, day)
            name = item_name(self.recipient_key(recipient.id), stream, item_id)
            item = documents.get(name) or self._item(
                item_id,
                ACCESS,
                recipient,
                stream,
                Purpose.CHILD_PROTECTION_PLANNING,
                grant,
                now,
            )
            looked = item.setdefault(
                "access",
                {
                    "viewer": record.practitioner_id,
                    "organisation": record.organisation,
                    "role": record.role,
                    "purposes": [],
                    "break_glass": False,
                    "first_at": at.astimezone(UTC).isoformat(),
                    "times": 0,
                },
            )
            if record.purpose and record.purpose not in looked["purposes"]:
                looked["purposes"].append(record.purpose)
            looked["break_glass"] = looked["break_glass"] or break_glass
            looked["last_at"] = at.astimezone(UTC).isoformat()
            looked["times"] += 1
            item["refs"] = [e.ref for e in view.entries]
            if looked["times"] > 1:
                item["done_at"] = None  # looked again: back to the top of the inbox
            self._put_item(documents, recipient, item)

    # -- the recipient's side -------------------------------------------------------------

    def items_for(self, documents: Documents, practitioner_id: str) -> list[Document]:
        """This practitioner's items (not yet released again: `listing` does that)."""
        prefix = f"{ITEM}{self.recipient_key(practitioner_id)}:"
        names = documents.names(prefix)
        documents.load(names)
        found = [d for d in (documents.get(n) for n in names) if d is not None]
        return sorted(found, key=lambda d: d["created_at"], reverse=True)

    def release_item(
        self, item: Document, practitioner: Practitioner, now: datetime | None
    ) -> ChronologyView:
        """The item released again as at its delivery (the gate finds that audit entry, so
        reading the inbox writes none), under the relationship they have now: a worker no
        longer related to the child, or a record withheld since, is told nothing of it."""
        team = item.get("routed_to_team")
        grant = (
            None
            if team is None
            else RelationshipGrant(
                basis=RelationshipBasis.NOTICE_ROUTING,
                valid_from=datetime.fromisoformat(item["created_at"]) - timedelta(days=1),
                valid_to=None,
                source_event_id="access-notification",
                team=team,
            )
        )
        purpose = Purpose(item["purpose"])
        return self._release(
            item["child_stream"], practitioner, grant, purpose, item.get("refs", []), now
        )

    def find_item(self, documents: Documents, practitioner_id: str, item_id: str) -> Document:
        """One of their items by id, or by the first characters of its id (as printed)."""
        prefix = f"{ITEM}{self.recipient_key(practitioner_id)}:"
        matches = [n for n in documents.names(prefix) if n.rpartition(":")[2].startswith(item_id)]
        found = documents.get(matches[0]) if len(matches) == 1 and len(item_id) >= 8 else None
        if found is None:
            raise UnknownItemError("item: no such item in your inbox")
        return found

    def mark(
        self, documents: Documents, practitioner_id: str, item_id: str, what: str, now: datetime
    ) -> Document:
        """Record `opened` or `done` (or `not-done`, to bring it back) on one of their items."""
        item = self.find_item(documents, practitioner_id, item_id)
        stamp = now.astimezone(UTC).isoformat()
        if what == "opened":
            item["opened_at"] = item.get("opened_at") or stamp
        elif what == "done":
            item["done_at"] = item.get("done_at") or stamp
        elif what == "not-done":
            item["done_at"] = None
        else:
            raise ValueError("what: must be opened, done or not-done")
        name = item_name(self.recipient_key(practitioner_id), item["child_stream"], item["id"])
        documents.put(name, item)
        return item

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        tracking = documents.get(AUDIT_POSITION) or {"position": 0}
        return {
            "children_awaiting_delivery": len(documents.names(CHANGES)),
            "children_awaiting_corrections": len(documents.names(CORRECTIONS)),
            "children_awaiting_transfer_notices": len(documents.names(TRANSFERS_IN)),
            "audit_position": tracking["position"],
            **self.outbound.describe(documents),
        }
