"""The feed consumer: queue what a recipient may receive as the log is followed, then relay it
through the disclosure gate at send time, exactly once per recipient.

One piece (a little over 400 lines): `FeedConsumer` is one state machine (queue, relay,
withdraw, count) whose steps share its documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from consumers.feed.fhir_flag import CP_PLAN_ENDED, fhir_flag, flag_code, open_status
from consumers.feed.producer import FeedProducer, ProducerFactory, kafka_producer
from consumers.feed.recipients import (
    OUTBOX,
    PENDING_PREFIX,
    RETRACTED_KIND,
    SCHEMA_VERSION,
    SENT_PREFIX,
    STATS,
    TOTALS,
    FeedConfigError,
    FeedRecipient,
)
from consumers.framework import Document, Documents, child_document
from hub.disclosure_gate import Disclosure, DisclosureGate, ShownEntry
from hub.domain.records import ChildRecordEntry
from hub.policies.decision import Action

if TYPE_CHECKING:
    from hub.adapters.pseudonyms import Pseudonymiser

log = structlog.get_logger("hub.feed")


@dataclass(frozen=True)
class _Pending:
    marker: str
    outbox: str
    stream: str
    item: Document


class FeedConsumer:
    """Relays the events a recipient system may receive to its Kafka topic."""

    kept_on_rebuild: tuple[str, ...] = (SENT_PREFIX, TOTALS)

    def __init__(
        self,
        recipient: FeedRecipient,
        *,
        gate: Callable[[], DisclosureGate],
        pseudonyms: Pseudonymiser,
        bootstrap: str | None,
        producer_factory: ProducerFactory = kafka_producer,
        send_timeout_s: float = 30.0,
    ) -> None:
        self.recipient = recipient
        self.name = f"feed-{recipient.name}"
        self.description = f"outbound feed to {recipient.name}: {recipient.description}"
        self._principal = recipient.principal
        self._gate = gate
        self._pseudonyms = pseudonyms
        self._bootstrap = bootstrap
        self._producer_factory = producer_factory
        self._send_timeout_s = send_timeout_s
        self._producer: FeedProducer | None = None
        # What leaves of each event: the details (the gate leaves out what is shielded or
        # identifying), and the summary only for a recipient configured to take it.
        self._fields = frozenset({"details.*", *(["summary"] if recipient.include_summary else [])})

    # Pseudonyms: keyed by the hub's pseudonym key under labels naming this recipient, so
    # each recipient's pseudonyms are unrelated to every other recipient's and to the hub's.

    def child_pseudonym(self, stream: str) -> str:
        return self._pseudonyms.source_stream(f"feed-child.{self.recipient.name}", stream).hex

    def item_pseudonym(self, item: str) -> str:
        return self._pseudonyms.source_stream(f"feed-item.{self.recipient.name}", item).hex

    def dedupe_key(self, message_type: str, ref: str) -> str:
        """Stable for one message whenever it is (re)built: recipient, type and the
        publisher's reference `agency/event_id@revision` of the entry that caused it."""
        return self._pseudonyms.source_stream(
            f"feed-dedupe.{self.recipient.name}", f"{message_type}\x1f{ref}"
        ).hex

    # Folding ----------------------------------------------------------------------------

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        """Queue a reference to an entry that may change what the recipient holds: an event
        of a kind it takes, a later revision of any record (it may correct or withdraw one
        relayed), a retraction. What it may receive is decided when relaying."""
        if entry.entry_type != "agency-event":
            return  # identity links: a linked provisional stream keeps its own pseudonym
        body: dict[str, Any] = entry.body
        kind, revision = str(body["kind"]), int(body["revision"])
        retraction = kind == RETRACTED_KIND
        if not (self.recipient.takes(kind) or retraction or revision > 1):
            return
        stream = entry.originator_id.hex
        agency = body["agency"]["id"]
        target = (body.get("supersedes") or {}).get("event_id") if retraction else None
        queued = {
            "ref": f"{agency}/{body['event_id']}@{revision}",
            "item": f"{agency}/{target or body['event_id']}",
            "kind": kind,
            "revision": revision,
            "retraction": retraction,
            "received_at": entry.timestamp.isoformat(),
            "value": None,  # the message, once the gate has released it
            "audited": None,
            "decided": False,
        }
        version = f"{entry.originator_version:010d}"
        documents.put(child_document(stream, OUTBOX, version), queued)
        documents.put(f"{PENDING_PREFIX}{stream}:{version}", {})
        self._count(documents, "queued")

    # Acting -----------------------------------------------------------------------------

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        markers = documents.names(PENDING_PREFIX)
        size = self.recipient.batch_size
        for start in range(0, len(markers), size):
            self._relay_chunk(markers[start : start + size], documents, now, commit)

    def _relay_chunk(
        self, markers: list[str], documents: Documents, now: datetime, commit: Callable[[], None]
    ) -> None:
        located = []
        for marker in markers:
            stream, version = marker.removeprefix(PENDING_PREFIX).split(":")
            located.append((marker, stream, child_document(stream, OUTBOX, version)))
        documents.load([outbox for _, _, outbox in located])
        chunk: list[_Pending] = []
        for marker, stream, outbox in located:
            item = documents.get(outbox)
            if item is None:  # the child was erased (or another runner sent it)
                documents.delete(marker)
                continue
            chunk.append(_Pending(marker, outbox, stream, item))
        if not chunk:
            commit()
            return
        producer = self._connect()  # a broker that is down fails the pass before any audit
        by_child: dict[str, list[_Pending]] = {}
        for pending in chunk:
            by_child.setdefault(pending.stream, []).append(pending)
        for stream, items in by_child.items():
            self._prepare(stream, items, documents, now, commit)
        sending = [p for p in chunk if p.item["value"] is not None]
        try:
            results = [
                producer.send(
                    self.recipient.topic,
                    key=str(p.item["value"]["child"]).encode(),
                    value=_encode(p.item["value"]),
                    headers=[
                        ("dedupe_key", str(p.item["value"]["dedupe_key"]).encode()),
                        ("schema_version", str(SCHEMA_VERSION).encode()),
                        ("type", str(p.item["value"]["type"]).encode()),
                    ],
                )
                for p in sending
            ]
            producer.flush(timeout=self._send_timeout_s)
            for result in results:
                result.get(timeout=self._send_timeout_s)
        except BaseException:
            self.close()  # a fresh connection next pass; the outbox is untouched
            raise
        for pending in chunk:
            if pending.item["value"] is not None:
                key = SENT_PREFIX + str(pending.item["value"]["dedupe_key"])
                documents.put(key, {"at": now.isoformat()})
            documents.delete(pending.outbox)
            documents.delete(pending.marker)
        if sending:
            totals = documents.get(TOTALS) or {}
            totals["sent"] = totals.get("sent", 0) + len(sending)
            totals["last_sent_at"] = now.isoformat()
            documents.put(TOTALS, totals)
        commit()
        if sending:
            log.info("feed_relayed", feed=self.name, messages=len(sending))

    def _prepare(
        self,
        stream: str,
        items: list[_Pending],
        documents: Documents,
        now: datetime,
        commit: Callable[[], None],
    ) -> None:
        """Turn one child's queued references (in log order) into messages, through the gate.

        Items already prepared (before a crash) keep their message. For the rest: the gate
        screens what may be released; the child's document says what the recipient holds, so a
        retraction or a revision it may no longer have becomes a withdrawal; what may be
        released is released (and audited) in one disclosure; withdrawals are recorded. The
        intent is committed before the audit, and the messages after it, so a crash in between
        finds the audit entry again instead of writing another."""
        todo = [p for p in items if p.item["value"] is None and not p.item.get("decided")]
        if not todo:
            return
        gate = self._gate()
        retried = any(p.item.get("auditing") for p in todo)
        for pending in todo:
            pending.item["auditing"] = True
            documents.put(pending.outbox, pending.item)
        commit()
        state_name = child_document(stream)
        state = documents.get(state_name) or {"relayed": {}, "retracted": []}
        relayed: dict[str, Any] = state["relayed"]
        events = [p for p in todo if not p.item["retraction"]]
        screened = gate.screen(
            stream,
            self._principal,
            self.recipient.purpose,
            action=Action.EXPORT,
            items=frozenset(p.item["ref"] for p in events),
            at=now,
        )
        releasing: list[_Pending] = []
        withdrawals: list[tuple[_Pending, str]] = []
        for pending in todo:
            queued = pending.item
            item, held = queued["item"], relayed.get(queued["item"])
            sent = self._sent_before(queued["ref"], documents)  # a rebuild reads the log again
            if sent == "event":
                relayed[item] = {"revision": queued["revision"], "lawful_basis": None}
                continue
            if sent == "withdrawn":
                relayed.pop(item, None)
                continue
            if queued["retraction"]:
                state["retracted"] = sorted({*state["retracted"], item})
                queued["held"] = relayed.pop(item, None)
                if queued["held"] is not None:
                    withdrawals.append((pending, "retracted"))
                continue
            if item in state["retracted"] or (held and int(held["revision"]) >= queued["revision"]):
                continue  # retracted, or an older revision arriving late
            screening = screened.get(queued["ref"])
            if screening is None:  # erased since, or not (yet) in the projection
                continue
            if self.recipient.takes(queued["kind"]) and screening.permitted:
                # What else is kept of the item (its Flag's period) survives a correction.
                relayed[item] = {**(held or {}), "revision": queued["revision"]}
                relayed[item]["lawful_basis"] = None
                releasing.append(pending)
                continue
            for policy in screening.policies:
                self._count(documents, "denied", policy)
            queued["held"] = relayed.pop(item, None)
            if queued["held"] is not None:
                withdrawals.append((pending, "no-longer-shared"))
        if releasing:
            self._release(stream, releasing, relayed, documents, now, retried)
        for pending, reason in withdrawals:
            self._withdraw(stream, pending, reason, documents, now, retried)
        documents.put(state_name, state)
        for pending in todo:
            pending.item["decided"] = True  # a restart before it is sent does not decide again
            documents.put(pending.outbox, pending.item)
        commit()

    def _sent_before(self, ref: str, documents: Documents) -> str | None:
        """Which message this entry caused was sent already (kept by a rebuild), if any."""
        for message_type in ("event", "withdrawn"):
            if documents.get(SENT_PREFIX + self.dedupe_key(message_type, ref)) is not None:
                return message_type
        return None

    def _release(
        self,
        stream: str,
        releasing: list[_Pending],
        relayed: dict[str, Any],
        documents: Documents,
        now: datetime,
        retried: bool,
    ) -> None:
        view = self._gate().disclose(
            stream,
            self._principal,
            Disclosure(
                self.recipient.purpose,
                Action.EXPORT,
                items=frozenset(p.item["ref"] for p in releasing),
                fields=self._fields,
                redact=frozenset(self.recipient.redact),
                to_system=True,
                reuse_audit=retried,
                at=now,
            ),
        )
        shown = {e.ref: e for e in view.entries}
        for pending in releasing:
            entry = shown.get(pending.item["ref"])
            if entry is None or entry.retracted:  # refused after all: nothing is sent
                relayed.pop(pending.item["item"], None)
                self._count(documents, "denied", "at-release")
                continue
            relayed[pending.item["item"]]["lawful_basis"] = entry.lawful_basis
            pending.item["value"] = self._message(
                stream, pending, entry, view.agreement_version, now
            )
            if self.recipient.fhir_flags:
                self._add_flag(pending, relayed)
            pending.item["audited"] = view.audit_ref
            self._count(documents, "relayed")

    def _message(
        self, stream: str, pending: _Pending, entry: ShownEntry, agreement: str, now: datetime
    ) -> dict[str, Any]:
        """The message, from what the gate released and nothing else."""
        value: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "type": "event",
            "dedupe_key": self.dedupe_key("event", entry.ref),
            "recipient": self.recipient.name,
            "child": self.child_pseudonym(stream),
            "item": self.item_pseudonym(pending.item["item"]),
            "revision": pending.item["revision"],
            "kind": entry.kind,
            "agency": {"id": entry.agency, "type": entry.agency_type},
            "occurred_at": entry.occurred_at.isoformat(),
            "recorded_at": entry.recorded_at.isoformat(),
            "received_at": entry.received_at.isoformat(),
            "categories": entry.categories,
            "sensitivity": entry.sensitivity,
            "details": entry.details,
            "redacted": entry.redacted,
            "lawful_basis": entry.lawful_basis,
            "agreement_version": agreement,
            "queued_at": now.isoformat(),
        }
        if entry.summary is not None:
            value["summary"] = entry.summary
        return value

    def _add_flag(self, pending: _Pending, relayed: dict[str, Any]) -> None:
        """Add a CP-IS-style FHIR `Flag` to a released message of a status kind, from the
        message and the plan start this recipient was sent before (kept with what it holds),
        and keep the Flag's period with the item so a later end of plan closes the same Flag."""
        value = pending.item["value"]
        code = flag_code(value["kind"])
        if code is None:
            return
        item = pending.item["item"]
        if value["kind"] == CP_PLAN_ENDED:
            opened = open_status(relayed, code, value["agency"]["id"], item)
            kept = relayed[opened]["flag"] if opened is not None else None
            flag_id = kept["id"] if kept else value["item"]
            start = kept["start"] if kept else None
            value["flag"] = fhir_flag(
                value, code, flag_id=flag_id, start=start, end=value["occurred_at"]
            )
            if kept is not None:
                kept.update(end=value["occurred_at"], ended_by=item)
            return
        ended = (relayed[item].get("flag") or {}).get("end")  # a correction of an ended plan
        value["flag"] = fhir_flag(
            value, code, flag_id=value["item"], start=value["occurred_at"], end=ended
        )
        relayed[item]["flag"] = {
            **(relayed[item].get("flag") or {}),
            "code": code,
            "id": value["item"],
            "start": value["occurred_at"],
        }

    def _withdraw(
        self,
        stream: str,
        pending: _Pending,
        reason: str,
        documents: Documents,
        now: datetime,
        retried: bool,
    ) -> None:
        """Tell the recipient to drop an item it holds: retracted by its publisher, or its
        latest revision is not one the recipient may have. It discloses nothing new and
        corrects what was disclosed, so it is sent whatever the policy says now; the gate
        records it under the basis the item was sent under."""
        queued = pending.item
        held = queued.get("held") or {}
        ref = queued["ref"]
        pending.item["audited"] = self._gate().record_withdrawal(
            self._principal,
            self.recipient.purpose,
            stream,
            [ref],
            held.get("lawful_basis"),
            at=now,
            reuse_audit=retried,
        )
        pending.item["value"] = {
            "schema_version": SCHEMA_VERSION,
            "type": "withdrawn",
            "dedupe_key": self.dedupe_key("withdrawn", ref),
            "recipient": self.recipient.name,
            "child": self.child_pseudonym(stream),
            "item": self.item_pseudonym(queued["item"]),
            "revision": held.get("revision", queued["revision"]),
            "reason": reason,
            "queued_at": now.isoformat(),
        }
        self._count(documents, "withdrawals")

    @staticmethod
    def _count(documents: Documents, counter: str, key: str | None = None) -> None:
        stats = documents.get(STATS) or {}
        if key is None:
            stats[counter] = stats.get(counter, 0) + 1
        else:
            bucket = stats.setdefault(counter, {})
            bucket[key] = bucket.get(key, 0) + 1
        documents.put(STATS, stats)

    def _connect(self) -> FeedProducer:
        if self._producer is None:
            if not self._bootstrap:
                raise FeedConfigError(
                    f"feed {self.recipient.name!r} has no Kafka bootstrap servers: set "
                    "bootstrap_servers in its recipient entry or HUB_FEED_BOOTSTRAP"
                )
            self._producer = self._producer_factory(self.recipient, self._bootstrap)
        return self._producer

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close()
            except Exception:  # closing a broken connection: nothing more to do
                log.warning("feed_producer_close_failed", feed=self.name)

    # Status -----------------------------------------------------------------------------

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        stats = documents.get(STATS) or {}
        totals = documents.get(TOTALS) or {}
        return {
            "recipient": self.recipient.name,
            "topic": self.recipient.topic,
            "pending": len(documents.names(PENDING_PREFIX)),
            "sent": totals.get("sent", 0),
            "last_sent_at": totals.get("last_sent_at"),
            "queued": stats.get("queued", 0),
            "relayed": stats.get("relayed", 0),
            "withdrawals": stats.get("withdrawals", 0),
            "denied_by_policy": stats.get("denied", {}),
        }


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
