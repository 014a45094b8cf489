"""The outbound feed: hub events relayed to a named recipient system over Kafka.

One consumer per recipient system (`hub consumer run feed-<name>`), configured in YAML
(docs/feed.md). The recipient acts as a `Practitioner` principal (`feed:<name>`) with an
organisation, agency type, role, teams and one purpose, so the partnership's information
sharing agreement decides what it receives exactly as it would for a person.

Folding (`apply`, no I/O) queues, in the child's outbox (sealed with the child's key), a
reference to each entry the recipient might take: an event of a kind it takes, a correction,
a retraction. Nothing of the event's content is queued. A queued item is marked by an
index-key `pending:` document.

Acting (`act`) relays the queue, chunk by chunk, child by child, in log order: the disclosure
gate screens the items (decides without releasing), the child's document keeps which items the
recipient holds, and the items the recipient may have now are released by the gate to the
recipient's principal (decided with the relationship the child's record gives at that moment,
shielded and identifying fields left out, the agreement's and the recipient's redactions
marked, the summary only if the recipient is configured for it), which audits the disclosure
first. The messages are built from what the gate released (no NHS number, provisional id or
hub stream id; the child named by a pseudonym only this recipient sees) and committed with the
intent to send; then they are produced, the broker's acknowledgement awaited, and the outbox
items dropped and `sent:<dedupe key>` recorded (kept on rebuild) in one commit. A crash after
producing and before that commit sends the chunk again on restart: at-least-once, with the
same dedupe key and the same bytes, so the receiving system discards the repeat. A crash after
the gate's audit entry and before its commit finds that entry again, so nothing is audited
twice. An item retracted by its publisher before it was relayed is never relayed; one
retracted after is withdrawn. docs/feed.md has the message format and the receiving system's
side of the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.framework import Document, Documents, child_document
from hub.disclosure_gate import Disclosure, DisclosureGate, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.canonical_event import describe_validation_error
from hub.domain.records import ChildRecordEntry
from hub.domain.taxonomy import KINDS, AgencyType
from hub.policies.decision import Action

if TYPE_CHECKING:
    from hub.adapters.pseudonyms import Pseudonymiser

log = structlog.get_logger("hub.feed")

SCHEMA_VERSION = 1
FEED_PRINCIPAL_PREFIX = "feed:"
CONFIG_FILE = "feed-recipients.yaml"
SAMPLE_RECIPIENTS_PATH = Path(__file__).resolve().parents[1] / "hub" / "samples" / CONFIG_FILE
RETRACTED_KIND = "record.retracted"

# Document names. `child:<stream>...` documents are sealed with the child's key.
PENDING_PREFIX = "pending:"  # pending:<stream>:<version>, one per queued item (index key)
SENT_PREFIX = "sent:"  # sent:<dedupe key>, one per item the broker acknowledged (kept)
TOTALS = "sent-totals"  # how many sent, when last (kept)
STATS = "stats"  # what relaying decided: queued, relayed, withdrawn, refused by policy
_OUTBOX = "out"


class FeedConfigError(ValueError):
    """The recipients file is missing or malformed; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedTls(_Strict):
    """TLS to the recipient's brokers (kafka-python `ssl_*` options)."""

    cafile: Path
    certfile: Path | None = None
    keyfile: Path | None = None


class FeedRecipient(_Strict):
    """A recipient system: who it is for the policy, what it takes, and where it is sent."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    description: str = Field(min_length=1, max_length=500)
    organisation: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    agency_type: AgencyType
    role: Role
    teams: list[str] = Field(default_factory=list)
    purpose: Purpose
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    kinds: list[str] | None = Field(
        default=None, description="kinds or prefixes ending in '*'; none means every kind"
    )
    redact: list[str] = Field(
        default_factory=list, description="'summary' or 'details.<field>', beyond the agreement"
    )
    include_summary: bool = False
    bootstrap_servers: str | None = None
    tls: FeedTls | None = None
    create_topic: bool = True
    connect_timeout_ms: int = Field(default=10_000, ge=100, le=300_000)
    partitions: int = Field(default=3, ge=1, le=1000)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    active_from: date = date(1990, 1, 1)
    active_to: date | None = None

    @field_validator("role")
    @classmethod
    def _not_exempt(cls, role: Role) -> Role:
        if role is Role.DATA_PROTECTION_OFFICER:
            # Data protection officers are exempt from the relationship and withholding guards.
            raise ValueError("a feed recipient cannot act as a data protection officer")
        return role

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        for kind in kinds or ():
            matched = [k for k in KINDS if _kind_matches(k, kind)]
            if not matched:
                raise ValueError(f"{kind!r} names no kind in docs/taxonomy.md")
            if any(k.startswith("identity.") or k == RETRACTED_KIND for k in matched):
                raise ValueError(
                    f"{kind!r}: identity links carry NHS numbers and are never relayed; "
                    "retractions are relayed as withdrawals of what the recipient holds"
                )
        return kinds

    @field_validator("redact")
    @classmethod
    def _redactable(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if path != "summary" and not (path.startswith("details.") and len(path) > 8):
                raise ValueError(f"redact entry {path!r} must be 'summary' or 'details.<field>'")
        return paths

    @property
    def principal(self) -> Practitioner:
        return Practitioner(
            id=f"{FEED_PRINCIPAL_PREFIX}{self.name}",
            name=self.description,
            organisation=self.organisation,
            agency_type=self.agency_type,
            role=self.role,
            teams=frozenset(self.teams),
            active_from=self.active_from,
            active_to=self.active_to,
        )

    def takes(self, kind: str) -> bool:
        if kind.startswith("identity.") or kind == RETRACTED_KIND:
            return False
        return self.kinds is None or any(_kind_matches(kind, k) for k in self.kinds)


def _kind_matches(kind: str, pattern: str) -> bool:
    return kind == pattern or (pattern.endswith("*") and kind.startswith(pattern[:-1]))


class _RecipientsFile(_Strict):
    recipients: list[FeedRecipient] = Field(default_factory=list)


class FeedSettings(BaseSettings):
    """The feed's own settings (environment, prefix HUB_FEED_)."""

    model_config = SettingsConfigDict(env_prefix="HUB_FEED_", extra="ignore")

    recipients: Path | None = Field(
        default=None, description="recipients YAML; default <data dir>/feed-recipients.yaml"
    )
    bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers for recipients that name none"
    )


def load_recipients(path: Path) -> list[FeedRecipient]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise FeedConfigError(f"{path}: cannot read recipients ({type(error).__name__})") from None
    try:
        parsed = _RecipientsFile.model_validate(document or {})
    except ValidationError as error:
        raise FeedConfigError(f"{path}: {describe_validation_error(error)}") from None
    names = [r.name for r in parsed.recipients]
    if len(set(names)) != len(names):
        raise FeedConfigError(f"{path}: recipient names must be unique")
    return parsed.recipients


def recipients_path(data_dir: Path) -> Path:
    return FeedSettings().recipients or data_dir / CONFIG_FILE


def feed_recipients(data_dir: Path) -> list[FeedRecipient]:
    """The configured recipient systems: none unless a recipients file is configured
    (HUB_FEED_RECIPIENTS) or present in the data directory. The sample is never used
    implicitly: relaying is something a partnership switches on, recipient by recipient."""
    path = recipients_path(data_dir)
    if FeedSettings().recipients is None and not path.exists():
        return []
    return load_recipients(path)


# Kafka --------------------------------------------------------------------------------------


class SendResult(Protocol):
    def get(self, timeout: float | None = None) -> Any: ...


class FeedProducer(Protocol):
    def send(
        self, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
    ) -> SendResult: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


ProducerFactory = Callable[["FeedRecipient", str], FeedProducer]


def _connection_options(recipient: FeedRecipient, bootstrap: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": f"hub-feed-{recipient.name}",
        "bootstrap_timeout_ms": recipient.connect_timeout_ms,
    }
    if recipient.tls is not None:
        options.update(
            security_protocol="SSL",
            ssl_cafile=str(recipient.tls.cafile),
            ssl_certfile=str(recipient.tls.certfile) if recipient.tls.certfile else None,
            ssl_keyfile=str(recipient.tls.keyfile) if recipient.tls.keyfile else None,
        )
    return options


def kafka_producer(recipient: FeedRecipient, bootstrap: str) -> FeedProducer:
    """A producer that waits for every in-sync replica and keeps a child's order on retries
    (one request in flight per connection); creates the topic first if configured to."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    options = _connection_options(recipient, bootstrap)
    if recipient.create_topic:
        admin = KafkaAdminClient(**options)
        try:
            if recipient.topic not in admin.list_topics():
                admin.create_topics(
                    [NewTopic(recipient.topic, recipient.partitions, replication_factor=1)]
                )
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()
    producer: FeedProducer = KafkaProducer(
        acks="all",
        retries=5,
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
        max_block_ms=recipient.connect_timeout_ms,
        **options,
    )
    return producer


# The consumer -------------------------------------------------------------------------------


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
        documents.put(child_document(stream, _OUTBOX, version), queued)
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
            located.append((marker, stream, child_document(stream, _OUTBOX, version)))
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
                relayed[item] = {"revision": queued["revision"], "lawful_basis": None}
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
