"""The outbound feed: hub events relayed to a named recipient system over Kafka.

One consumer per recipient system (`hub consumer run feed-<name>`), configured in YAML
(docs/feed.md). The recipient acts as a `Practitioner` principal (`feed:<name>`) with an
organisation, agency type, role, teams and one purpose, so the partnership's information
sharing agreement decides what it receives exactly as it would for a person.

Folding (`apply`, no I/O) keeps, in each child's own document (sealed with the child's key),
the facts that establish relationships and the items already relayed. When an entry of a kind
the recipient takes arrives, the policy decision is made there and then, with the relationship
valid at that moment (the time of relaying). A permitted item is queued in the child's outbox
already shaped as it will leave: shielded fields removed, the decision's and the recipient's
redactions applied, free-text summary only if the recipient is configured for it, no NHS
number, provisional id or hub stream id, the child named by a pseudonym only this recipient
sees. A queued item is marked by an index-key `pending:` document.

Acting (`act`) relays the queue, chunk by chunk: connect to the broker; commit the intent to
audit; write one audit entry per child (write-ahead) and commit that each is written; produce;
flush and wait for the broker's acknowledgement; then drop the outbox items and record
`sent:<dedupe key>` (kept on rebuild) in one commit. A crash after producing and before that
commit sends the chunk again on restart: at-least-once, with the same dedupe key and the same
bytes, so the receiving system discards the repeat. A crash between writing an audit entry
and recording it finds the entry in the ledger on restart, so nothing is audited twice.
docs/feed.md has the message format and the receiving system's side of the contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.framework import Document, Documents, child_document
from hub.domain.access import Practitioner, Purpose, RelationshipGrant, Role
from hub.domain.canonical_event import CanonicalEvent, describe_validation_error
from hub.domain.identity import InvalidIdentifierError, validate_nhs_number
from hub.domain.records import ChildRecordEntry, DisclosureAudited
from hub.domain.relationships import derive_relationships, find_relationship
from hub.domain.taxonomy import KINDS, AgencyType
from hub.policies.decision import AccessContext, Action, DecisionPoint, ItemAttributes

if TYPE_CHECKING:
    from hub.adapters.pseudonyms import Pseudonymiser
    from hub.audit import AuditLedger
    from hub.bootstrap import Hub
    from hub.settings import HubSettings

log = structlog.get_logger("hub.feed")

SCHEMA_VERSION = 1
FEED_PRINCIPAL_PREFIX = "feed:"
CONFIG_FILE = "feed-recipients.yaml"
SAMPLE_RECIPIENTS_PATH = Path(__file__).resolve().parents[1] / "hub" / "samples" / CONFIG_FILE
REDACTED = "[redacted]"
RETRACTED_KIND = "record.retracted"

# The kinds whose events establish or end a relationship (hub/domain/relationships.py): the
# child's document keeps the latest revision of each, so the relationship at any moment can be
# derived without reading the child's whole record again.
RELATIONSHIP_KINDS = frozenset(
    {
        "la.worker-allocated",
        "la.s47-enquiry-started",
        "la.s47-enquiry-outcome",
        "la.cp-plan-started",
        "la.cp-plan-ended",
        "education.enrolled",
        "education.elective-home-education-notice",
        RETRACTED_KIND,
    }
)
# What a relationship rule reads of an event; the rest (summary, withholding, shielding,
# household) is not kept in the feed's copy of the facts.
_FACT_FIELDS = (
    "schema_version",
    "event_id",
    "revision",
    "agency",
    "child",
    "kind",
    "categories",
    "occurred_at",
    "recorded_at",
    "details",
    "sensitivity",
    "lawful_basis",
    "supersedes",
)

# Document names. `child:<stream>...` documents are sealed with the child's key.
PENDING_PREFIX = "pending:"  # pending:<stream>:<version>, one per queued item (index key)
SENT_PREFIX = "sent:"  # sent:<dedupe key>, one per item the broker acknowledged (kept)
TOTALS = "sent-totals"  # how many sent, when last (kept)
STATS = "stats"  # what folding decided: queued, denied by policy (derived)
_OUTBOX = "out"

# NHS numbers as people write them (943 476 5919, 943-476-5919, 9434765919) and provisional
# ids: any details value or summary containing one is never relayed, whoever's it is.
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
_PROVISIONAL_LIKE = re.compile(r"PRV-[0-9A-Z]{10}[0-9A-Z*~$=]", re.IGNORECASE)


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


def recipients_path(settings: HubSettings) -> Path:
    return FeedSettings().recipients or settings.data_dir / CONFIG_FILE


def feed_recipients(settings: HubSettings) -> list[FeedRecipient]:
    """The configured recipient systems: none unless a recipients file is configured
    (HUB_FEED_RECIPIENTS) or present in the data directory. The sample is never used
    implicitly: relaying is something a partnership switches on, recipient by recipient."""
    path = recipients_path(settings)
    if FeedSettings().recipients is None and not path.exists():
        return []
    return load_recipients(path)


def build_feed(hub: Hub, recipient: str) -> FeedConsumer:
    for candidate in feed_recipients(hub.settings):
        if candidate.name == recipient:
            return FeedConsumer(
                candidate,
                decisions=lambda: hub.decisions,
                audit=lambda: hub.audit,
                pseudonyms=hub.pseudonyms,
                bootstrap=candidate.bootstrap_servers or FeedSettings().bootstrap,
            )
    raise LookupError(
        f"no outbound feed recipient called {recipient!r} in {recipients_path(hub.settings)}"
    )


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
        decisions: Callable[[], DecisionPoint],
        audit: Callable[[], AuditLedger],
        pseudonyms: Pseudonymiser,
        bootstrap: str | None,
        producer_factory: ProducerFactory = kafka_producer,
        send_timeout_s: float = 30.0,
    ) -> None:
        self.recipient = recipient
        self.name = f"feed-{recipient.name}"
        self.description = f"outbound feed to {recipient.name}: {recipient.description}"
        self._principal = recipient.principal
        self._decisions = decisions
        self._audit = audit
        self._pseudonyms = pseudonyms
        self._bootstrap = bootstrap
        self._producer_factory = producer_factory
        self._send_timeout_s = send_timeout_s
        self._producer: FeedProducer | None = None

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
        if entry.entry_type != "agency-event":
            return  # identity links: a linked provisional stream keeps its own pseudonym
        body: dict[str, Any] = entry.body
        kind, revision = str(body["kind"]), int(body["revision"])
        if not (
            self.recipient.takes(kind)
            or kind in RELATIONSHIP_KINDS
            or revision > 1  # may correct an item already relayed
        ):
            return
        stream = entry.originator_id.hex
        state_name = child_document(stream)
        state = documents.get(state_name) or {"facts": {}, "relayed": {}, "retracted": []}
        event = CanonicalEvent.model_validate(body)
        item = f"{event.agency.id}/{event.event_id}"
        changed = self._remember_fact(state, event, item, body)
        queued = self._decide(state, event, item, stream, entry, documents, now)
        if changed or queued is not None:
            documents.put(state_name, state)
        if queued is None:
            return
        version = f"{entry.originator_version:010d}"
        if documents.get(SENT_PREFIX + queued["dedupe_key"]) is not None:
            return  # sent before a rebuild: the recipient has it
        documents.put(child_document(stream, _OUTBOX, version), queued)
        documents.put(f"{PENDING_PREFIX}{stream}:{version}", {})
        self._count(documents, "queued" if queued["value"]["type"] == "event" else "withdrawals")

    @staticmethod
    def _remember_fact(
        state: Document, event: CanonicalEvent, item: str, body: dict[str, Any]
    ) -> bool:
        facts: dict[str, Any] = state["facts"]
        if event.kind not in RELATIONSHIP_KINDS and item not in facts:
            return False
        known = facts.get(item)
        if known is not None and int(known["revision"]) >= event.revision:
            return False
        fact = {name: body[name] for name in _FACT_FIELDS if name in body}
        fact["summary"] = "-"  # not needed to derive relationships; not kept
        facts[item] = fact
        if event.kind == RETRACTED_KIND and event.supersedes is not None:
            target = f"{event.agency.id}/{event.supersedes.event_id}"
            if target not in state["retracted"]:
                state["retracted"].append(target)
        return True

    def _relationship(self, state: Document, now: datetime) -> RelationshipGrant | None:
        facts = [CanonicalEvent.model_validate(f) for f in state["facts"].values()]
        return find_relationship(self._principal, derive_relationships(facts), now)

    def _decide(
        self,
        state: Document,
        event: CanonicalEvent,
        item: str,
        stream: str,
        entry: ChildRecordEntry,
        documents: Documents,
        now: datetime,
    ) -> Document | None:
        """The outbox item this event causes (an event or a withdrawal), or None."""
        relayed: dict[str, Any] = state["relayed"]
        ref = f"{item}@{event.revision}"
        if event.kind == RETRACTED_KIND:
            target = f"{event.agency.id}/{event.supersedes.event_id}" if event.supersedes else ""
            held = relayed.pop(target, None)
            if held is None:
                return None
            return self._withdrawal(stream, target, held, ref, "retracted", state, now)
        held = relayed.get(item)
        if held is not None and int(held["revision"]) >= event.revision:
            return None  # an older revision arriving late, or the same one again
        if item in state["retracted"]:
            return None
        if not self.recipient.takes(event.kind):
            if held is None:
                return None
            del relayed[item]
            return self._withdrawal(stream, item, held, ref, "no-longer-shared", state, now)
        grant = self._relationship(state, now)
        decisions = self._decisions()
        decision = decisions.decide(
            self._principal,
            Action.EXPORT,
            [ItemAttributes.of(event)],
            AccessContext(self.recipient.purpose, grant, False, now),
        )[0]
        if not decision.permitted:
            for policy in decision.policies:
                self._count(documents, "denied", policy)
            if held is None:
                return None
            del relayed[item]
            return self._withdrawal(stream, item, held, ref, "no-longer-shared", state, now)
        relayed[item] = {"revision": event.revision, "lawful_basis": decision.lawful_basis}
        details, redacted = self._shape(event, decision.redact | frozenset(self.recipient.redact))
        dedupe = self.dedupe_key("event", ref)
        value: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "type": "event",
            "dedupe_key": dedupe,
            "recipient": self.recipient.name,
            "child": self.child_pseudonym(stream),
            "item": self.item_pseudonym(item),
            "revision": event.revision,
            "kind": event.kind,
            "agency": {"id": event.agency.id, "type": event.agency.type.value},
            "occurred_at": event.occurred_at.isoformat(),
            "recorded_at": event.recorded_at.isoformat(),
            "received_at": entry.timestamp.isoformat(),
            "categories": [c.value for c in event.categories],
            "sensitivity": event.sensitivity,
            "details": details,
            "redacted": redacted,
            "lawful_basis": decision.lawful_basis,
            "agreement_version": decision.agreement_version,
            "queued_at": now.isoformat(),
        }
        summary = self._summary(event, decision.redact | frozenset(self.recipient.redact))
        if summary is not None:
            value["summary"] = summary
            if summary == REDACTED:
                value["redacted"] = ["summary", *redacted]
        return {
            "ref": ref,
            "dedupe_key": dedupe,
            "key": value["child"],
            "value": value,
            "lawful_basis": decision.lawful_basis,
            "agreement_version": decision.agreement_version,
            "relationship": _describe_grant(grant),
            "redacted": value["redacted"],
            "audited": None,
        }

    def _withdrawal(
        self,
        stream: str,
        item: str,
        held: dict[str, Any],
        ref: str,
        reason: str,
        state: Document,
        now: datetime,
    ) -> Document:
        """Tells the recipient to drop an item it holds: retracted by its publisher, or its
        latest revision is not one the recipient may receive. Sent whatever the policy says
        now (it discloses nothing new and corrects what was disclosed), under the lawful
        basis the item was disclosed under."""
        dedupe = self.dedupe_key("withdrawn", ref)
        value = {
            "schema_version": SCHEMA_VERSION,
            "type": "withdrawn",
            "dedupe_key": dedupe,
            "recipient": self.recipient.name,
            "child": self.child_pseudonym(stream),
            "item": self.item_pseudonym(item),
            "revision": held["revision"],
            "reason": reason,
            "queued_at": now.isoformat(),
        }
        return {
            "ref": ref,
            "dedupe_key": dedupe,
            "key": value["child"],
            "value": value,
            "lawful_basis": held["lawful_basis"],
            "agreement_version": self._decisions().agreement_in_force(now),
            "relationship": _describe_grant(self._relationship(state, now)),
            "redacted": [],
            "audited": None,
        }

    @staticmethod
    def _shape(event: CanonicalEvent, redact: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
        """Details as they may leave: shielded fields and anything carrying a child
        identifier removed (not marked: their existence is not disclosed either), redactions
        marked."""
        shielded = set(event.shielded_fields)
        details: dict[str, Any] = {}
        redacted: list[str] = []
        for name, value in event.details.items():
            path = f"details.{name}"
            if path in shielded or name == "nhs_number" or _carries_identifier(value):
                continue
            if path in redact:
                details[name] = REDACTED
                redacted.append(path)
            else:
                details[name] = value
        return details, redacted

    def _summary(self, event: CanonicalEvent, redact: frozenset[str]) -> str | None:
        if not self.recipient.include_summary or "summary" in event.shielded_fields:
            return None
        if _carries_identifier(event.summary):
            return None
        return REDACTED if "summary" in redact else event.summary

    @staticmethod
    def _count(documents: Documents, counter: str, key: str | None = None) -> None:
        stats = documents.get(STATS) or {}
        if key is None:
            stats[counter] = stats.get(counter, 0) + 1
        else:
            bucket = stats.setdefault(counter, {})
            bucket[key] = bucket.get(key, 0) + 1
        documents.put(STATS, stats)

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
        self._audit_chunk(chunk, documents, now, commit)
        try:
            results = [
                producer.send(
                    self.recipient.topic,
                    key=str(p.item["key"]).encode(),
                    value=_encode(p.item["value"]),
                    headers=[
                        ("dedupe_key", str(p.item["dedupe_key"]).encode()),
                        ("schema_version", str(SCHEMA_VERSION).encode()),
                        ("type", str(p.item["value"]["type"]).encode()),
                    ],
                )
                for p in chunk
            ]
            producer.flush(timeout=self._send_timeout_s)
            for result in results:
                result.get(timeout=self._send_timeout_s)
        except BaseException:
            self.close()  # a fresh connection next pass; the outbox is untouched
            raise
        for pending in chunk:
            documents.put(SENT_PREFIX + str(pending.item["dedupe_key"]), {"at": now.isoformat()})
            documents.delete(pending.outbox)
            documents.delete(pending.marker)
        totals = documents.get(TOTALS) or {}
        totals["sent"] = totals.get("sent", 0) + len(chunk)
        totals["last_sent_at"] = now.isoformat()
        documents.put(TOTALS, totals)
        commit()
        log.info("feed_relayed", feed=self.name, messages=len(chunk))

    def _audit_chunk(
        self, chunk: list[_Pending], documents: Documents, now: datetime, commit: Callable[[], None]
    ) -> None:
        """One audit entry per child (and lawful basis, agreement, relationship) for the items
        not yet audited, each committed as audited before anything is produced.

        The intent to audit is committed first. An item found with the intent but no audit
        reference was being audited when the process died: its entry is looked for in the
        ledger before a new one is written, so a crash never audits an item twice."""
        todo = [p for p in chunk if p.item["audited"] is None]
        if not todo:
            return
        ledger = self._audit()
        for stream in sorted({p.stream for p in todo if p.item.get("auditing")}):
            found = self._audited_refs(ledger, stream)
            for pending in todo:
                if pending.stream == stream and pending.item["ref"] in found:
                    pending.item["audited"] = found[pending.item["ref"]]
                    documents.put(pending.outbox, pending.item)
        todo = [p for p in todo if p.item["audited"] is None]
        for pending in todo:
            pending.item["auditing"] = True
            documents.put(pending.outbox, pending.item)
        commit()
        groups: dict[tuple[str, str | None, str, str | None], list[_Pending]] = {}
        for pending in todo:
            key = (
                pending.stream,
                pending.item["lawful_basis"],
                pending.item["agreement_version"],
                pending.item["relationship"],
            )
            groups.setdefault(key, []).append(pending)
        for (stream, lawful_basis, agreement, relationship), items in groups.items():
            audited = ledger.record_access(
                self._audit_fields(stream, lawful_basis, agreement, relationship, items), now
            )
            audit_ref = f"{audited.originator_id.hex}@{audited.originator_version}"
            for pending in items:
                pending.item["audited"] = audit_ref
                documents.put(pending.outbox, pending.item)
            commit()

    def _audited_refs(self, ledger: AuditLedger, stream: str) -> dict[str, str]:
        """The items this feed has had audited for the child: reference -> audit entry."""
        found = {}
        for record in ledger.for_child(stream):
            if (
                isinstance(record, DisclosureAudited)
                and record.practitioner_id == self._principal.id
                and record.action == Action.EXPORT.value
            ):
                entry = f"{record.originator_id.hex}@{record.originator_version}"
                found.update(dict.fromkeys(record.disclosed, entry))
        return found

    def _audit_fields(
        self,
        stream: str,
        lawful_basis: str | None,
        agreement: str,
        relationship: str | None,
        items: Iterable[_Pending],
    ) -> dict[str, Any]:
        items = list(items)
        return {
            "practitioner_id": self._principal.id,
            "organisation": self._principal.organisation,
            "role": self._principal.role.value,
            "action": Action.EXPORT.value,
            "purpose": self.recipient.purpose.value,
            "lawful_basis": lawful_basis,
            "agreement_version": agreement,
            "child_stream": stream,
            "outcome": "disclosed",
            "disclosed": [str(p.item["ref"]) for p in items],
            "redacted": {
                str(p.item["ref"]): p.item["redacted"] for p in items if p.item["redacted"]
            },
            "withheld": [],
            "denied": {},
            "relationship": relationship,
            "break_glass_reason": None,
            "siblings": [],
        }

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
            "withdrawals_queued": stats.get("withdrawals", 0),
            "denied_by_policy": stats.get("denied", {}),
        }


def _describe_grant(grant: RelationshipGrant | None) -> str | None:
    return None if grant is None else f"{grant.basis.value} via {grant.source_event_id}"


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _carries_identifier(value: Any) -> bool:
    """True if the value mentions anything that could be an NHS number or a provisional id."""
    text = value if isinstance(value, str) else json.dumps(value)
    if _PROVISIONAL_LIKE.search(text):
        return True
    for candidate in _NHS_LIKE.findall(text):
        try:
            validate_nhs_number(candidate)
        except InvalidIdentifierError:
            continue
        return True
    return False
