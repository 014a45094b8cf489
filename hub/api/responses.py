"""The API's response bodies, as typed models (published in docs/openapi.json).

Each names the fields a client can rely on. Times are ISO 8601 strings with their offset; a
date a person reads (a child's date of birth in a header, an age) is text as it is shown. The
models allow fields they do not name (`additionalProperties`), so a field added later reaches
clients without a breaking change; nothing is dropped on the way out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# Health -------------------------------------------------------------------------------------


class Liveness(_Open):
    status: str = Field(examples=["ok"])


class Readiness(_Open):
    status: str = Field(examples=["ready"])
    events: int = Field(description="the store's row count (its highest notification id)")


# Publishing ---------------------------------------------------------------------------------


class PublishReceipt(_Open):
    """What became of a batch: each event accepted, a duplicate, or quarantined with a reason."""

    accepted: int
    duplicates: int
    quarantined: dict[str, int] = Field(description="how many events, per quarantine reason")
    positions: list[int] = Field(description="the first and last position given to the batch")


# Chronology ---------------------------------------------------------------------------------


class PractitionerSummary(_Open):
    id: str
    organisation: str
    role: str


class BreakGlassGrant(_Open):
    reason: str
    expires_at: str


class AgencyContact(_Open):
    agency: str
    agency_type: str
    name: str
    contact: str | None


class ChildHeader(_Open):
    """Who the child is, from what this release showed (text as a person reads it)."""

    identifier: str
    name: str | None = None
    known_as: str | None = None
    date_of_birth: str | None = None
    age: str | None = None
    sex: str | None = None
    details_from: str | None = None
    statuses: list[str] = Field(default_factory=list)
    legal_status: str | None = None
    worker: str | None = None
    team: str | None = None
    agencies: list[AgencyContact] = Field(default_factory=list)
    not_shared_by: list[AgencyContact] = Field(
        default_factory=list, description="whom to ask about what this release left out"
    )


class PatternFlag(_Open):
    code: str
    description: str
    refs: list[str]
    window_start: str
    window_end: str


class Chronology(_Open):
    """The chronology as the gate released it to the caller (audited before it was sent)."""

    child: str
    practitioner: PractitionerSummary
    purpose: str | None
    action: str
    agreement_version: str
    outcome: str = Field(description="disclosed, partially-disclosed or denied")
    relationship: str | None
    break_glass: BreakGlassGrant | None
    entries: list[dict[str, Any]] = Field(description="the released entries, oldest first")
    patterns: list[PatternFlag]
    households: dict[str, dict[str, Any]]
    denied_reasons: list[str]
    notes: list[str]
    unshared_agencies: list[str]
    audit_ref: str
    header: ChildHeader


class FoundChild(_Open):
    child: str
    name: str
    given_names: list[str]
    family_name: str | None
    known_as: str | None
    date_of_birth: str | None
    age: str | None
    sex: str | None
    match: str = Field(description="exact or similar")
    given_name_matched: bool | None
    published_by: list[str]
    shielded: list[str]
    audit_ref: str


class FindResults(_Open):
    results: list[FoundChild]
    count: int


class BreakGlassEnded(_Open):
    ended: bool = Field(description="false when the caller held no emergency access")


class Replay(_Open):
    """The record as it stood at `as_of`, and what was shown of it to whom."""

    child: str
    as_of: str
    reviewer: str
    outcome: str
    denied_reasons: list[str]
    agreement_version_in_force: str
    recorded_by_agencies: int
    held_by_hub: int
    agencies: list[dict[str, Any]]
    held: list[dict[str, Any]]
    known_not_shared: list[dict[str, Any]]
    latency: list[dict[str, Any]]
    latency_by_agency: dict[str, dict[str, Any]]
    disclosures: list[dict[str, Any]]
    never_shown: list[str]
    as_practitioner: dict[str, Any] | None
    crossed_the_boundary: dict[str, list[dict[str, Any]]] = Field(
        description="transfers sent to (`sent`) and received from (`received`, with who here "
        "was shown them: `seen_by`) other partnerships' hubs by `as_of`, and corrections of "
        "what was sent (`corrections_sent`) and received (`corrections_received`, with who here "
        "had been shown what they withdrew: `seen_by`) (docs/federation.md)"
    )
    audit_ref: str


# Audit --------------------------------------------------------------------------------------


class AuditAnswer(_Open):
    query: str = Field(description="which audit question was answered")
    rows: list[dict[str, Any]]


class BreakGlassReviewed(_Open):
    reviewed: str = Field(description="the grant reviewed")
    outcome: str


class SubjectAccessExport(_Open):
    """What the hub holds about the child and to whom it was disclosed (redacted as agreed)."""

    child: str
    generated_at: str
    agreement_version: str
    audit_ref: str
    records: list[dict[str, Any]]
    withheld: list[dict[str, Any]]


# Subject access cases -----------------------------------------------------------------------


class Requester(_Open):
    name: str
    basis: str
    basis_text: str
    authority: str | None


class Extension(_Open):
    months: int
    reason: str
    requester_told: str


class RecordedDecision(_Open):
    item: str
    decision: str
    decision_text: str
    exemption: str | None
    exemption_text: str | None
    fields: list[str]
    reason: str
    opinion: str | None
    decided_by: str
    at: str


class PackBuilt(_Open):
    at: str
    by: str
    audit_ref: str
    released: list[str]
    withheld: list[str]


class SubjectAccessCase(_Open):
    case: str
    child: str
    scope: str
    opened_by: str
    opened_at: str
    requester: Requester
    received: str
    identity_verified: str | None
    identity_verified_on: str | None
    status: str
    clock_starts: str
    first_due: str
    due: str
    days_left: int
    overdue: bool
    clock_text: str
    extension: Extension | None
    decisions: list[RecordedDecision]
    packs: list[PackBuilt]


class SubjectAccessCases(_Open):
    cases: list[SubjectAccessCase]


class DraftItem(_Open):
    ref: str
    agency: str
    agency_type: str
    kind: str
    categories: list[str]
    occurred_at: str
    summary: str
    details: dict[str, Any]
    redacted: list[str]
    flags: list[str]
    flag_texts: list[str]
    notes: list[str]
    third_party_fields: list[str]
    shielded_fields: list[str]
    withholdings: list[dict[str, Any]]
    needs_decision: bool
    decision: RecordedDecision | None


class NotYours(_Open):
    ref: str
    agency: str
    summary: str


class SubjectAccessDraft(_Open):
    case: SubjectAccessCase
    audit_ref: str
    agreement_version: str
    outcome: str
    denied_reasons: list[str]
    items: list[DraftItem]
    needing_decision: int
    undecided: int
    not_yours: list[NotYours]


class SubjectAccessPack(_Open):
    """The final response to the requester (JSON; the same as a PDF with `format: pdf`)."""

    audit_ref: str


# Notices and the inbox ----------------------------------------------------------------------


class Notices(_Open):
    notices: list[dict[str, Any]] = Field(description="newest first, each opening with `header`")


class NoticeAcknowledged(_Open):
    notice: str
    acknowledged: dict[str, Any] = Field(description="by whom and when (the first, if again)")


class InboxCounts(_Open):
    notices: int
    alerts: int
    items: int
    total: int


class InboxItem(_Open):
    id: str
    type: str = Field(description="change, pattern or access")
    created_at: str
    opened_at: str | None
    done_at: str | None
    purpose: str
    shared: bool
    child: str | None = None
    header: ChildHeader | None = None
    what: list[dict[str, Any]] = Field(default_factory=list)
    flag: dict[str, Any] | None = None
    access: dict[str, Any] | None = None


class Inbox(_Open):
    practitioner: str
    counts: InboxCounts
    notices: list[dict[str, Any]]
    alerts: dict[str, Any] | None
    items: list[InboxItem]


class InboxItemMarked(_Open):
    id: str
    opened_at: str | None
    done_at: str | None


# Is anyone else involved? (partner hubs) ----------------------------------------------------


class PartnerHubAnswer(_Open):
    """What one partner hub's answer came to: only whether it holds records about the child,
    with the partnership's name and whom to contact there."""

    partnership: str = Field(examples=["Wessex Safeguarding Children Partnership"])
    contact: str = Field(examples=["Wessex MASH, 01234 567890"])
    outcome: str = Field(
        description="holds, does-not-hold, did-not-answer (not in time), no-holdings (none "
        "published under its registered key), refused (its own question limit: see detail) "
        "or did-not-verify (its answer failed the proof against its registered key)"
    )
    words: str = Field(description="the same, in plain English, as the page shows it")
    detail: str = Field(default="", description="the partner's reason, for a refusal")


class PartnerQuestion(_Open):
    """The answer to "Is anyone else involved?": each active partner hub's answer (nothing
    about the child was sent to any of them), and the whole in words. The question and what it
    came to are recorded in the audit ledger."""

    held_elsewhere: bool = Field(description="at least one partner hub holds records")
    answers: list[PartnerHubAnswer]
    words: list[str] = Field(description="what the practitioner is told, line by line")
    audit: str = Field(
        description="that the question was recorded, in words (the audit ledger holds it)"
    )
