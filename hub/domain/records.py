"""What the hub's event store records, as `eventsourcing` domain events.

The stored `topic` column is in clear, so these class names say nothing about a child or the
nature of an event: every entry in a child's stream is one generic `ChildRecordEntry` whose
entry type and content live in the encrypted state. `key_scope` tells the mapper which data
key seals each class: a child's own key (so shredding it erases them) or one of the hub's
index keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import DomainEvent


@dataclass(frozen=True)
class HubRecord(DomainEvent):
    key_scope: ClassVar[str]

    def encryption_scope(self) -> str:
        if self.key_scope == "child":
            return f"child:{self.originator_id.hex}"
        return self.key_scope


@dataclass(frozen=True)
class ChildRecordEntry(HubRecord):
    """One entry in a child's stream: an agency event as received, or an identity link.

    `timestamp` is when the hub received it; `source` and `position` say where from.
    """

    key_scope: ClassVar[str] = "child"

    entry_type: str  # "agency-event" | "identity-linked" | "identity-unlinked"
    body: dict[str, Any]
    source: str
    position: int


@dataclass(frozen=True)
class IngestKeyClaimed(HubRecord):
    """Marks (agency, event_id, revision) as recorded, so the same publication twice is a no-op.

    The stream id is a keyed pseudonym of that triple and the version is always 1, so the
    database's uniqueness constraint rejects a racing second copy.
    """

    key_scope: ClassVar[str] = "index"

    content_digest: str
    child_stream: str
    child_version: int


@dataclass(frozen=True)
class MessageQuarantined(HubRecord):
    """A message ingest could not accept, kept with its raw bytes, its position and why.

    When the message names a child validly, its raw bytes are sealed again with that child's
    data key (`raw_child` names the child's stream), so erasing the child erases them too. Of an
    oversize message only the first bytes are kept, with its length and SHA-256 digest, so no
    single message can make a row (and an insert) as large as itself."""

    key_scope: ClassVar[str] = "quarantine"

    source: str
    position: int
    raw: str  # base64 of the bytes as received (sealed with the child's key if named)
    reason: str
    reason_code: str
    raw_child: str | None = None
    raw_length: int | None = None  # an oversize message: its whole length (raw is its start)
    raw_sha256: str | None = None  # and the SHA-256 of all of it


@dataclass(frozen=True)
class BatchCommitted(HubRecord):
    """The ledger of one committed ingest batch from one transport source, so counts reconcile."""

    key_scope: ClassVar[str] = "ledger"

    source: str
    first_position: int
    last_position: int
    accepted: int
    duplicates: int
    quarantined: int
    accepted_by_agency: dict[str, int]


@dataclass(frozen=True)
class WithholdingIndexed(HubRecord):
    """Indexes an event a publisher withheld from some recipients, so data protection
    officers can find withheld items without reading every child's record. One per
    publication (stream named like the ingest claim). The reason and decider stay in the
    child's own record (child key), so erasing the child erases them too."""

    key_scope: ClassVar[str] = "index"

    child_stream: str
    ref: str
    kind: str


@dataclass(frozen=True)
class BlindIndexed(HubRecord):
    """One entry of the blind index a child is found by (name and date of birth): its stream
    is a keyed hash of a token (`hub.domain.name_matching`; `Pseudonymiser.blind_stream`), so
    a look-up is one indexed equality query on the stream id, and the names are nowhere in
    clear. `sealed` (base64) is sealed with the entry's own data key (`blind_index_scope`):
    which child it indexes, the given-name tags and the record it came from. Erasing the child
    erases those keys (docs/find.md), so nothing then links the token to the child. `match`
    says whether the token is the exact normalised family name or a similar one."""

    key_scope: ClassVar[str] = "index"

    match: str  # "exact" | "similar"
    sealed: str


def blind_index_scope(stream: UUID, version: int) -> str:
    """The data key scope of one blind index entry (its stream and version)."""
    return f"blind:{stream.hex}:{version}"


def blind_index_context(stream: UUID, version: int) -> bytes:
    """What a blind index entry's sealed part is bound to: its own stream and version."""
    return f"hub-blind-index-v1\x1f{stream.hex}\x1f{version}".encode()


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What one access decision records: who (and for which organisation, in which role),
    did what, for which purpose, under which lawful basis and agreement, to which child, with
    what outcome, what was disclosed, redacted and withheld, why others were denied, by which
    relationship or break-glass reason, and which siblings were named. Only the disclosure gate
    makes these (`hub/disclosure_gate.py`); the ledger records them as `DisclosureAudited`.

    `disclosed`, `withheld` and the keys of `redacted` are publisher references
    (`agency/event_id@revision`), never content. `conditions` names, for each UK GDPR Article 9
    / Article 10 condition relied on (`special-category:safeguarding`, codes of
    `hub.domain.data_protection`), the disclosed items that are special category or criminal
    offence data and were disclosed under it, as the permitting rule named it; `{}` when none
    were. It has a default so entries recorded before it existed still decode (as `None`:
    not recorded).
    """

    practitioner_id: str
    organisation: str
    role: str
    action: str
    purpose: str | None
    lawful_basis: str | None
    agreement_version: str
    child_stream: str
    outcome: str  # "disclosed" | "partially-disclosed" | "denied" | "no-record" | "erased" ...
    disclosed: list[str]
    redacted: dict[str, list[str]]
    withheld: list[str]
    denied: dict[str, int]  # the policy that denied -> how many items
    relationship: str | None  # "<basis> via <source event>"
    break_glass_reason: str | None
    siblings: list[str]  # pseudonyms of siblings whose identity was shown (household groups)
    # A class attribute default: eventsourcing decodes a stored entry without calling __init__.
    conditions: dict[str, list[str]] | None = None
    # A search's terms (family name, date of birth, given name), for a "search" entry only:
    # kept in the entry, which the ledger seals with the audit data key, never in a log.
    search_terms: dict[str, str] | None = None
    # A question to partner hubs ("Is anyone else involved?", `hub.federation_discovery`):
    # the query and partner hubs by outcome (asked, holds, does-not-hold, did-not-answer, ...).
    discovery: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class DisclosureAudited(HubRecord, AuditEntry):
    """One access decision (an `AuditEntry`, its fields), as the ledger stores it: written
    before anything is disclosed (denials too)."""

    key_scope: ClassVar[str] = "audit"


@dataclass(frozen=True)
class AuditPointer(HubRecord):
    """Indexes an audit entry under a practitioner, so "what did X see" reads one stream."""

    key_scope: ClassVar[str] = "audit"

    audit_stream: str
    audit_version: int


@dataclass(frozen=True)
class BreakGlassGranted(HubRecord):
    """Emergency access without a relationship: time-boxed, with a reason, for DPO review."""

    key_scope: ClassVar[str] = "audit"

    practitioner_id: str
    child_stream: str
    reason: str
    expires_at: datetime


@dataclass(frozen=True)
class BreakGlassEnded(HubRecord):
    """The practitioner ended their emergency access before it expired (the emergency is
    over): the grant gives no access from `timestamp` on. Its review is still due."""

    key_scope: ClassVar[str] = "audit"

    practitioner_id: str
    child_stream: str
    grant_version: int


@dataclass(frozen=True)
class ReviewCommissioned(HubRecord):
    """A practice review commissioned for this child: the reviewer's relationship to them."""

    key_scope: ClassVar[str] = "audit"

    reviewer_id: str
    commissioned_by: str
    reason: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class WithholdingReviewed(HubRecord):
    """A withholding's review, by the publishing agency's data protection officer or the
    person who decided it: the item stays withheld until a new review date, or is now shared.
    It covers the record as it stood (`revision`): a later revision that states a withholding
    again is governed by what it states."""

    key_scope: ClassVar[str] = "audit"

    record: str  # the publisher's record, "agency/event_id"
    revision: int  # the record's latest revision the reviewer reviewed
    reviewer_id: str
    outcome: str  # "still-withheld" | "now-shared"
    until: str | None  # ISO date of the next review, when still withheld
    notes: str


@dataclass(frozen=True)
class ErasureRecorded(HubRecord):
    """A child's record was crypto-shredded: by whom, why, and which streams it covered."""

    key_scope: ClassVar[str] = "audit"

    child_stream: str
    streams: list[str]
    reason: str
    erased_by: str


@dataclass(frozen=True)
class BreakGlassReviewed(HubRecord):
    key_scope: ClassVar[str] = "audit"

    grant_stream: str
    grant_version: int
    reviewer_id: str
    outcome: str  # "appropriate" | "inappropriate"
    notes: str


@dataclass(frozen=True)
class SubjectAccessOpened(HubRecord):
    """A subject access request, opened as a case by a data protection officer: whom it is
    about, who asked and on what basis, when it arrived, and how the requester's identity was
    confirmed. `partnership`: opened by a lead DPO (for the partnership), otherwise for the
    opening DPO's organisation."""

    key_scope: ClassVar[str] = "audit"

    case_id: str
    # The child's pseudonymous stream only, as everywhere in the audit ledger: the ledger
    # outlives a child's erasure, so it never holds the identifier (the gate names the child
    # to a DPO who may know them, `DisclosureGate.child_identities`).
    child_stream: str
    opened_by: str
    organisation: str
    partnership: bool
    requester: str
    basis: str  # "data-subject" | "parental-responsibility" | "representative"
    authority: str | None
    received: str  # ISO date
    identity_verified: str | None  # how, or None when not yet confirmed
    identity_verified_on: str | None  # ISO date


@dataclass(frozen=True)
class SubjectAccessIdentityVerified(HubRecord):
    key_scope: ClassVar[str] = "audit"

    case_id: str
    verified_by: str
    how: str
    on: str  # ISO date the identity was confirmed


@dataclass(frozen=True)
class SubjectAccessDecided(HubRecord):
    """A DPO's decision on one item of a subject access draft; a later one supersedes it."""

    key_scope: ClassVar[str] = "audit"

    case_id: str
    item: str  # "agency/event_id@revision"
    decided_by: str
    decision: str  # "release" | "release-redacted" | "withhold"
    exemption: str | None
    fields: list[str]
    reason: str
    opinion: str | None  # the appropriate health professional's opinion, where needed


@dataclass(frozen=True)
class SubjectAccessExtended(HubRecord):
    key_scope: ClassVar[str] = "audit"

    case_id: str
    extended_by: str
    months: int
    reason: str
    requester_told: str  # ISO date


@dataclass(frozen=True)
class SubjectAccessPackBuilt(HubRecord):
    """The final pack was released (the first one completes the case): the audit entry of its
    disclosure, and which items it released and withheld."""

    key_scope: ClassVar[str] = "audit"

    case_id: str
    built_by: str
    audit_ref: str
    released: list[str]
    withheld: list[str]


@dataclass(frozen=True)
class PartnerHoldingsReceived(HubRecord):
    """One part of a partner hub's published holdings, for "Is anyone else involved?"
    (`hub.federation_discovery`): the digests (concatenated hex) of the children it holds
    records about, under its discovery key. One stream per partner hub; the message id makes
    receiving the same message twice a no-op."""

    key_scope: ClassVar[str] = "index"

    partner: str
    message_id: str
    holdings_id: str
    part: int
    parts: int
    key_id: str
    as_of: datetime
    digests: str
