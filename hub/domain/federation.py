"""Federation between partnerships' hubs: who the partner hubs are and the signed messages
they exchange (issue 24; docs/federation.md).

Each hub has an identity: an id, a name people read, a contact for practitioners, and its
Ed25519 key (the key that already signs its Merkle checkpoints). A hub's register lists its
partner hubs: their ids, names, contacts, public keys, where their inbound Kafka topic is, and
the version of the inter-partnership agreement in force between the two partnerships. There
is no central register: each partnership keeps its own, as it keeps its own agreements.

A federation message is signed by the sender's hub key over its canonical JSON (every field
but the signature, keys sorted, no spaces) and carries the sender's latest signed checkpoint
of its event log, so anything it says about its log can be proved against a tree head its
partner keeps. What a receiving hub checks, in order, and the reason it gives when a message
fails, are `MessageProblem`s: each names the field, never its value.

Pure: no I/O, no clock, no cryptography (the signature check is passed in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.kafka_client import (
    KafkaSaslMechanism,
    KafkaSecurityProtocol,
    needs_sasl_credentials,
)

FORMAT: Literal["hub-federation-v1"] = "hub-federation-v1"
HUB_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_HEX_KEY = r"^[0-9a-f]{64}$"
MessageType = Literal[
    "transfer-offer", "discovery-query", "discovery-answer", "holdings", "correction"
]
SignatureCheck = Callable[[str, bytes, bytes], bool]
"""(public key hex, message, signature) -> whether the Ed25519 signature is valid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnerKafkaClient(_Strict):
    """How this hub connects to one partner's brokers: a credential of its own for that
    partner's cluster, so no partner's operators learn the one this hub reads its own inbound
    topic with (or another partner's). The password is in a file (`password_file`, e.g. a
    mounted secret), never in the register; the transport reads it when it connects."""

    security_protocol: KafkaSecurityProtocol
    sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    username: str | None = Field(default=None, min_length=1)
    password_file: Path | None = Field(
        default=None, description="a file holding the SASL password (never the password itself)"
    )
    ca_file: Path | None = Field(default=None, description="CA that signed the partner's brokers")
    cert_file: Path | None = Field(default=None, description="client certificate (mTLS)")
    key_file: Path | None = None

    @model_validator(mode="after")
    def _credentials_complete(self) -> PartnerKafkaClient:
        if needs_sasl_credentials(self.security_protocol) and not (
            self.username and self.password_file
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs username and password_file"
            )
        return self


class KafkaEndpoint(_Strict):
    """Where a hub receives federation messages: its brokers and its inbound topic. For a
    partner, `client` says how this hub connects to them (its own credential for that
    partner's cluster); without it this hub's own Kafka client settings are used, which is
    only for a test setup where every hub shares one cluster (docs/federation.md)."""

    bootstrap: list[str] = Field(min_length=1, description="host:port of the partner's brokers")
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    client: PartnerKafkaClient | None = None


class ThisHub(_Strict):
    id: str = Field(pattern=HUB_ID_PATTERN)
    name: str = Field(min_length=1, description="the partnership's name, as people read it")
    contact: str = Field(min_length=1, description="who a practitioner elsewhere should call")
    kafka: KafkaEndpoint

    @field_validator("kafka")
    @classmethod
    def _own_brokers_use_the_hub_settings(cls, endpoint: KafkaEndpoint) -> KafkaEndpoint:
        if endpoint.client is not None:
            raise ValueError(
                "client: this hub connects to its own brokers with its Kafka settings "
                "(HUB_KAFKA_*); a client block is for a partner's brokers"
            )
        return endpoint


class PartnerHub(_Strict):
    id: str = Field(pattern=HUB_ID_PATTERN)
    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)
    public_key: str = Field(pattern=_HEX_KEY, description="the partner's Ed25519 key (raw, hex)")
    discovery_public_key: str | None = Field(
        default=None, pattern=_HEX_KEY, description="the partner's discovery (VOPRF) key"
    )
    encryption_public_key: str | None = Field(
        default=None,
        pattern=_HEX_KEY,
        description="the partner's X25519 key (raw, hex): message bodies to it are encrypted "
        "to this key, and bodies from it must be encrypted to this hub's",
    )
    kafka: KafkaEndpoint
    agreement_version: str = Field(
        min_length=1, description="the inter-partnership agreement in force with this partner"
    )
    active_from: date
    active_to: date | None = None
    local_authorities: list[str] = Field(
        default_factory=list,
        description="DfE numbers (three digits) of the local authorities the partner's "
        "partnership covers: a child moving to one of them is offered to this partner",
    )

    @field_validator("local_authorities")
    @classmethod
    def _dfe_numbers(cls, codes: list[str]) -> list[str]:
        if any(not (len(code) == 3 and code.isascii() and code.isdigit()) for code in codes):
            raise ValueError("each is a DfE local authority number, three digits")
        return codes

    def active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


class PartnerRegister(_Strict):
    """This hub and its partner hubs (one file per partnership: `docs/federation.md`)."""

    format: Literal["hub-federation-register-v1"]
    this_hub: ThisHub
    partners: list[PartnerHub] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct(self) -> PartnerRegister:
        ids = [p.id for p in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("partners: each partner hub is listed once (an id appears twice)")
        if self.this_hub.id in ids:
            raise ValueError("partners: this hub is not its own partner")
        keys = [p.public_key for p in self.partners]
        if len(set(keys)) != len(keys):
            raise ValueError("partners: two partner hubs have the same public_key")
        codes = [code for p in self.partners for code in set(p.local_authorities)]
        if len(set(codes)) != len(codes):
            raise ValueError("partners: a local authority is listed under two partner hubs")
        return self

    def covering(self, la_code: str) -> PartnerHub | None:
        """The partner hub whose partnership covers that local authority (DfE number)."""
        return next((p for p in self.partners if la_code in p.local_authorities), None)

    def partner(self, hub_id: str) -> PartnerHub | None:
        return next((p for p in self.partners if p.id == hub_id), None)


class Checkpoint(_Strict):
    """A hub's signed tree head of one of its logs (`hub.integrity`)."""

    log: str
    size: int = Field(ge=0)
    root: str = Field(pattern=_HEX_KEY)
    time: str = Field(description="as signed (ISO 8601)")
    signer: str
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")

    def signed_fields(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"signature"})


class FederationMessage(_Strict):
    format: Literal["hub-federation-v1"] = FORMAT
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="unique per message (uuid4 hex)")
    type: MessageType
    sender: str = Field(pattern=HUB_ID_PATTERN)
    recipient: str = Field(pattern=HUB_ID_PATTERN)
    sent_at: AwareDatetime
    agreement_version: str = Field(min_length=1)
    checkpoint: Checkpoint
    body: dict[str, Any]
    signer: str
    signature: str = Field(default="", pattern=r"^([0-9a-f]{128})?$")

    def signed_bytes(self) -> bytes:
        """The canonical JSON the signature covers: every field but the signature."""
        document = self.model_dump(mode="json", exclude={"signature"})
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


class MessageProblem(ValueError):
    """Why a received message is refused (and quarantined): the field, never its value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def error_location(error: Any) -> str:
    """A pydantic error's location as a dotted path; a key the format does not define is
    named only as such (whoever wrote it chose it, and it is not repeated back)."""
    parts = [str(part) for part in error["loc"]]
    if error["type"] == "extra_forbidden" and parts:
        parts[-1] = "(a field the format does not define)"
    return ".".join(parts)


def key_id(public_key_hex: str) -> str:
    """The id a hub's key signs under: as `hub.adapters.signing.CheckpointSigner.key_id`."""
    return "ed25519:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def parse_message(raw: bytes) -> FederationMessage:
    """The message in `raw`, or the first problem with its shape (names the field)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MessageProblem("(message)", "is not JSON") from None
    if not isinstance(document, dict):
        raise MessageProblem("(message)", "is not a JSON object")
    try:
        return FederationMessage.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        raise MessageProblem(error_location(first) or "(message)", first["msg"]) from None


def check_message(
    message: FederationMessage,
    register: PartnerRegister,
    signature_valid: SignatureCheck,
    checkpoint_bytes: Callable[[dict[str, Any]], bytes],
    now: datetime,
    *,
    max_skew: timedelta = timedelta(minutes=5),
    max_age: timedelta = timedelta(days=7),
) -> PartnerHub:
    """The sending partner, if the message is one this hub accepts; else the first problem:
    the recipient is this hub, the sender a partner active today under the same agreement,
    signed by the partner's registered key over exactly these bytes, carrying a checkpoint
    that key signed, sent neither in the future nor too long ago."""
    if message.recipient != register.this_hub.id:
        raise MessageProblem("recipient", "is not this hub")
    partner = register.partner(message.sender)
    if partner is None:
        raise MessageProblem("sender", "is not a partner hub in this hub's register")
    if not partner.active_on(now.date()):
        raise MessageProblem("sender", "is not an active partner today")
    if message.agreement_version != partner.agreement_version:
        raise MessageProblem(
            "agreement_version", "is not the inter-partnership agreement in force with the sender"
        )
    if message.signer != key_id(partner.public_key):
        raise MessageProblem("signer", "is not the sender's registered key")
    if not signature_valid(
        partner.public_key, message.signed_bytes(), bytes.fromhex(message.signature or "")
    ):
        raise MessageProblem("signature", "does not verify with the sender's registered key")
    checkpoint = message.checkpoint
    if checkpoint.signer != message.signer or not signature_valid(
        partner.public_key,
        checkpoint_bytes(checkpoint.signed_fields()),
        bytes.fromhex(checkpoint.signature),
    ):
        raise MessageProblem("checkpoint.signature", "is not the sender's signed checkpoint")
    if message.sent_at > now + max_skew:
        raise MessageProblem("sent_at", "is in the future")
    if message.sent_at < now - max_age:
        raise MessageProblem("sent_at", f"is more than {max_age.days} days old")
    return partner


# -- The transfer extract (the body of a `transfer-offer`) --------------------------------------

TRANSFER_PART_EVENTS = 200
"""Events per `transfer-offer` message: a 1,000-event child's extract is five messages, each
well under a broker's default 1 MB message limit with its proofs."""


class InclusionProof(_Strict):
    """RFC 6962 inclusion of the event's stored (sealed) row in the sender's event log, against
    the tree head in the message's `checkpoint` (`hub.integrity`)."""

    leaf_index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=_HEX_KEY)
    tree_size: int = Field(ge=1)
    proof: list[str] = Field(description="sibling hashes, hex, leaf to root")


class TransferredEvent(_Strict):
    """One event as the sender's gate released it for the transfer (shielding, withholding and
    the inter-partnership agreement's redactions applied), with the proof its row is in the
    sender's log."""

    ref: str = Field(description="agency/event_id@revision at the sending hub")
    received_at: AwareDatetime = Field(description="when the sending hub received it")
    event: dict[str, Any] = Field(description="the canonical event as released")
    inclusion: InclusionProof


class TransferPart(_Strict):
    """The body of a `transfer-offer`: part `part` of `parts` of one transfer of one child."""

    transfer_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    part: int = Field(ge=1)
    parts: int = Field(ge=1)
    nhs_number: str = Field(pattern=r"^\d{10}$", description="the child (the NHS number)")
    reason: str = Field(min_length=1, max_length=500, description="why, in words")
    moved_ref: str = Field(description="the sending hub's ref of the event that caused it")
    events: list[TransferredEvent] = Field(max_length=TRANSFER_PART_EVENTS)

    @model_validator(mode="after")
    def _part_of_parts(self) -> TransferPart:
        if self.part > self.parts:
            raise ValueError("part: is after the last part")
        return self


# -- Corrections across the boundary (the body of a `correction`) ------------------------------

CorrectionAction = Literal["retracted", "superseded", "unlinked"]


class CorrectedItem(_Strict):
    """One record a transfer sent that the sending hub now withdraws: its publisher retracted
    it, published a corrected revision (`event`, released through the sender's gate as a
    transfer's events are, with its inclusion proof), or an identity link that put it in the
    child's record was undone (it is about another child). Only a superseding revision carries
    content."""

    ref: str = Field(description="agency/event_id@revision at the sending hub, as it was sent")
    action: CorrectionAction
    event: TransferredEvent | None = None

    @model_validator(mode="after")
    def _content_only_for_a_revision(self) -> CorrectedItem:
        if self.action == "superseded" and self.event is None:
            raise ValueError("event: a superseding revision is carried with its proof")
        if self.action != "superseded" and self.event is not None:
            raise ValueError("event: only a superseding revision carries content")
        return self


class CorrectionBody(_Strict):
    """The body of a `correction`: records earlier transfers of one child sent to this
    partner, withdrawn or replaced."""

    correction_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    transfer_ids: list[str] = Field(min_length=1)
    nhs_number: str = Field(pattern=r"^\d{10}$", description="the child (the NHS number)")
    items: list[CorrectedItem] = Field(min_length=1, max_length=TRANSFER_PART_EVENTS)


def record_of_ref(ref: str) -> tuple[str, str]:
    """(agency, event_id) of an `agency/event_id@revision` reference."""
    agency, _, rest = ref.partition("/")
    return agency, rest.rpartition("@")[0]


@dataclass(frozen=True)
class CorrectionDue:
    """A record sent to a partner that must be corrected there, and its current revision
    when it was superseded (to be sent in its place)."""

    ref: str
    action: CorrectionAction
    replacement: ChronologyEntry | None = None


def corrections_due(
    sent: Iterable[str], corrected: Iterable[str], entries: Sequence[ChronologyEntry]
) -> list[CorrectionDue]:
    """Of the references sent to a partner (`sent`, transfers' and corrections' alike) not yet
    corrected there, those the child's record (its merged chronology, as it stands now) no
    longer holds as current: retracted by the publisher, superseded by a later revision (with
    that revision), or gone from the record altogether (an identity link undone: the records
    were another child's). Pure; in the order sent."""
    done = set(corrected)
    local = [e for e in entries if e.origin is None]
    by_ref = {e.ref: e for e in local}
    current = {e.record: e for e in local if e.status is EntryStatus.CURRENT}
    due: list[CorrectionDue] = []
    for ref in dict.fromkeys(sent):
        if ref in done:
            continue
        entry = by_ref.get(ref)
        if entry is None:
            due.append(CorrectionDue(ref, "unlinked"))
        elif entry.status is EntryStatus.RETRACTED:
            due.append(CorrectionDue(ref, "retracted"))
        elif entry.status is EntryStatus.SUPERSEDED:
            newest = current.get(entry.record)
            if newest is None:  # (a record's newest revision is current unless retracted)
                due.append(CorrectionDue(ref, "retracted"))
            else:
                due.append(CorrectionDue(ref, "superseded", newest))
    return due
