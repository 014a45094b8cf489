"""Subject access requests (UK GDPR Article 15): the request, its statutory clock, what of a
child's record needs a data protection officer's decision, and the decisions a DPO may record.

Pure: no I/O. The application service (`hub.subject_access`) reads the record through the
disclosure gate, records the case's events in the audit ledger and builds the pack.

**The clock** (UK GDPR Article 12(3); the ICO's guidance "How long do we have to comply?"):
the time runs from the day the request is received, whether or not that is a working day (or,
if later, the day the information needed to confirm the requester's identity is received), to
the corresponding calendar date in the next month; where the next month has no such date, to
its last day; where that date falls on a weekend or a bank holiday in England, to the next
working day. It may be extended once, by up to two further months, where the request is
complex or numerous, if the requester is told (with the reason) within the first month.

**What needs a decision** (`flags`): an item its publisher withheld from someone; information
about another person (third-party); fields the publisher shielded; police and criminal offence
data, for which the crime exemption may be claimed (DPA 2018 Schedule 2 paragraph 2); and
health, social work or education data that concerns harm or that its publisher marked
sensitive, for which the serious harm test may be met (Schedule 3). An item with no flag is
released without a decision.

**Decisions** (`Decision`): release; release with named fields redacted, under an exemption;
or withhold under an exemption (`EXEMPTIONS`, each with its plain-English label and statutory
reference). A later decision on the same item supersedes an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from hub.domain.taxonomy import AgencyType, HarmCategory, SpecialCategory, classify

MAX_EXTENSION_MONTHS = 2
SUMMARY = "summary"
DETAILS = "details."


class SubjectAccessError(ValueError):
    """A request, decision or extension that cannot be recorded: the message names the field
    and what is expected, never the value given."""


# The requester -------------------------------------------------------------------------------


class RequesterBasis(StrEnum):
    DATA_SUBJECT = "data-subject"  # the child, making their own request
    PARENTAL_RESPONSIBILITY = "parental-responsibility"  # for the child
    REPRESENTATIVE = "representative"  # a solicitor, advocate or other, on the child's authority


BASIS_LABELS: dict[RequesterBasis, str] = {
    RequesterBasis.DATA_SUBJECT: "the child, about their own record",
    RequesterBasis.PARENTAL_RESPONSIBILITY: "a person with parental responsibility for the child",
    RequesterBasis.REPRESENTATIVE: "a representative acting with the child's authority",
}


@dataclass(frozen=True)
class Requester:
    name: str
    basis: RequesterBasis
    authority: str | None = None  # what was seen: "signed consent of the child", "court order"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise SubjectAccessError("requester: give the requester's name")
        if self.basis is RequesterBasis.REPRESENTATIVE and not (self.authority or "").strip():
            raise SubjectAccessError(
                "authority: a representative's request needs the authority seen (for example "
                "the child's signed consent, or a court order)"
            )

    @property
    def basis_label(self) -> str:
        return BASIS_LABELS[self.basis]


def parse_basis(text: str) -> RequesterBasis:
    try:
        return RequesterBasis(text.strip())
    except ValueError:
        raise SubjectAccessError(
            "basis: must be one of " + ", ".join(b.value for b in RequesterBasis)
        ) from None


# Exemptions and decisions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Exemption:
    code: str
    label: str  # what it means, in plain English
    reference: str  # where it is in the law
    note: str = ""  # what the DPO must have before relying on it

    @property
    def text(self) -> str:
        return f"{self.label} ({self.reference})"


CRIME = "crime"
THIRD_PARTY = "third-party"
SERIOUS_HARM_HEALTH = "serious-harm-health"
SERIOUS_HARM_SOCIAL_WORK = "serious-harm-social-work"
SERIOUS_HARM_EDUCATION = "serious-harm-education"
CHILD_ABUSE_DATA = "child-abuse-data"

EXEMPTIONS: dict[str, Exemption] = {
    e.code: e
    for e in (
        Exemption(
            CRIME,
            "crime: releasing it would be likely to prejudice the prevention or detection of "
            "crime or the apprehension or prosecution of offenders",
            "DPA 2018 Schedule 2 Part 1 paragraph 2",
            "usually on the publishing police force's advice",
        ),
        Exemption(
            THIRD_PARTY,
            "another person's information: it identifies someone else who has not consented, "
            "and it is not reasonable to release it without their consent",
            "DPA 2018 Schedule 2 Part 3 paragraph 16",
        ),
        Exemption(
            SERIOUS_HARM_HEALTH,
            "health data: releasing it would be likely to cause serious harm to the physical or "
            "mental health of the child or another person",
            "DPA 2018 Schedule 3 Part 2 paragraph 5 (with paragraph 6)",
            "only with the opinion of the appropriate health professional, obtained within the "
            "last six months",
        ),
        Exemption(
            SERIOUS_HARM_SOCIAL_WORK,
            "social work data: releasing it would be likely to prejudice social work because it "
            "would be likely to cause serious harm to the physical or mental health of the child "
            "or another person",
            "DPA 2018 Schedule 3 Part 3 paragraph 11 (the serious harm test in paragraph 7(2))",
        ),
        Exemption(
            SERIOUS_HARM_EDUCATION,
            "education data: releasing it would be likely to cause serious harm to the physical "
            "or mental health of the child or another person",
            "DPA 2018 Schedule 3 Part 4 paragraph 19",
        ),
        Exemption(
            CHILD_ABUSE_DATA,
            "child abuse data: a request by a person with parental responsibility, where "
            "releasing it would not be in the child's best interests",
            "DPA 2018 Schedule 3 Part 5 paragraph 21",
            "only for a request by a person with parental responsibility",
        ),
    )
}


class DecisionType(StrEnum):
    RELEASE = "release"
    RELEASE_REDACTED = "release-redacted"
    WITHHOLD = "withhold"


DECISION_LABELS: dict[DecisionType, str] = {
    DecisionType.RELEASE: "release",
    DecisionType.RELEASE_REDACTED: "release with fields redacted",
    DecisionType.WITHHOLD: "withhold",
}


@dataclass(frozen=True)
class ItemFacts:
    """What the flags and the decision checks read of one item of the draft: never its
    content, only what it is and which fields it has."""

    ref: str
    agency: str
    agency_type: str
    kind: str
    categories: tuple[str, ...]
    sensitivity: str
    fields: frozenset[str]  # "summary" and "details.<name>" the item has
    shielded: frozenset[str] = frozenset()
    withheld_from: tuple[dict[str, str], ...] = ()  # reason, decided_by, review_by, recipients

    def has_health_data(self) -> bool:
        classification = classify(self.kind, self.categories)
        return (
            SpecialCategory.HEALTH in classification.special_categories
            or self.agency_type == AgencyType.HEALTH.value
        )


@dataclass(frozen=True)
class Decision:
    decision: DecisionType
    reason: str
    exemption: str | None = None
    fields: tuple[str, ...] = ()
    opinion: str | None = None  # the appropriate health professional's opinion: who, when


def check_decision(item: ItemFacts, decision: Decision, basis: RequesterBasis) -> None:
    """Whether a decision can be recorded for this item: the decision type takes an exemption
    (redacting, withholding) or none (releasing), the exemption is one that can apply to this
    kind of data and requester, and redacted fields are the item's own. The message names the
    field, never a value."""
    if not decision.reason.strip():
        raise SubjectAccessError("reason: say why (the decision is part of the record)")
    if decision.decision is DecisionType.RELEASE:
        if decision.exemption is not None or decision.fields:
            raise SubjectAccessError(
                "exemption: a release takes no exemption or fields (to redact fields, choose "
                "release-redacted)"
            )
        return
    if decision.exemption is None:
        raise SubjectAccessError(
            f"exemption: {DECISION_LABELS[decision.decision]} needs an exemption: one of "
            + ", ".join(EXEMPTIONS)
        )
    exemption = EXEMPTIONS.get(decision.exemption)
    if exemption is None:
        raise SubjectAccessError("exemption: must be one of " + ", ".join(EXEMPTIONS))
    if decision.decision is DecisionType.RELEASE_REDACTED:
        if not decision.fields:
            raise SubjectAccessError("fields: name the fields to redact (summary, details.NAME)")
        unknown = [f for f in decision.fields if f not in item.fields]
        if unknown:
            raise SubjectAccessError(
                f"fields: {len(unknown)} of the fields named are not fields of this item; it has "
                + ", ".join(sorted(item.fields))
            )
    elif decision.fields:
        raise SubjectAccessError("fields: withholding an item takes no fields (it is left out)")
    why_not = _exemption_inapplicable(exemption.code, item, basis)
    if why_not:
        raise SubjectAccessError(f"exemption: {why_not}")
    if exemption.code == SERIOUS_HARM_HEALTH and not (decision.opinion or "").strip():
        raise SubjectAccessError(
            "opinion: the serious harm exemption for health data needs the appropriate health "
            "professional's opinion (who gave it, and when)"
        )


def _exemption_inapplicable(code: str, item: ItemFacts, basis: RequesterBasis) -> str | None:
    if code == SERIOUS_HARM_HEALTH and not item.has_health_data():
        return "serious-harm-health applies to health data only"
    if code == SERIOUS_HARM_SOCIAL_WORK and item.agency_type != AgencyType.LOCAL_AUTHORITY.value:
        return "serious-harm-social-work applies to a local authority's social work data only"
    if code == SERIOUS_HARM_EDUCATION and item.agency_type != AgencyType.EDUCATION.value:
        return "serious-harm-education applies to a school's or setting's education data only"
    if code == CHILD_ABUSE_DATA and basis is not RequesterBasis.PARENTAL_RESPONSIBILITY:
        return "child-abuse-data applies only to a request by a person with parental responsibility"
    return None


# What needs a decision --------------------------------------------------------------------------


class Flag(StrEnum):
    WITHHELD = "withheld"
    THIRD_PARTY = "third-party"
    SHIELDED = "shielded"
    CRIME_EXEMPTION_POSSIBLE = "crime-exemption-possible"
    SERIOUS_HARM_POSSIBLE = "serious-harm-possible"


FLAG_LABELS: dict[Flag, str] = {
    Flag.WITHHELD: "withheld by its publisher from some recipients",
    Flag.THIRD_PARTY: "information about another person",
    Flag.SHIELDED: "fields its publisher shielded",
    Flag.CRIME_EXEMPTION_POSSIBLE: "the crime exemption may be claimed",
    Flag.SERIOUS_HARM_POSSIBLE: "the serious harm test may be met",
}

# What is about someone other than the child, defined once. Kinds: a record of another person's
# health, arrest or conduct. Categories: harm that lies in what another person did or suffers
# (a parent's mental health or substance misuse, domestic abuse between adults in the home).
THIRD_PARTY_KINDS = frozenset(
    {
        "health.parental-mental-health-crisis",
        "health.maternity-pre-birth-concern",  # the mother's health and pregnancy
        "police.household-arrest",
        "police.domestic-abuse-incident",
    }
)
THIRD_PARTY_CATEGORIES = frozenset(
    {
        HarmCategory.PARENTAL_MENTAL_HEALTH.value,
        HarmCategory.SUBSTANCE_MISUSE.value,
        HarmCategory.DOMESTIC_ABUSE.value,
    }
)
# Schedule 3 data (health, social work, education) where the serious harm test may be met:
# content about harm (any harm category), or that its publisher marked above standard.
_SCHEDULE_3_AGENCY_TYPES = frozenset(
    {AgencyType.HEALTH.value, AgencyType.LOCAL_AUTHORITY.value, AgencyType.EDUCATION.value}
)


@dataclass(frozen=True)
class ItemFlags:
    """Why an item needs a decision: each flag with what the DPO needs to weigh it."""

    flags: tuple[Flag, ...]
    third_party_fields: tuple[str, ...] = ()
    shielded_fields: tuple[str, ...] = ()
    withholdings: tuple[dict[str, str], ...] = ()  # reason and decider, for the DPO
    notes: tuple[str, ...] = field(default=())

    @property
    def needs_decision(self) -> bool:
        return bool(self.flags)


def flags(item: ItemFacts, third_party_fields: Iterable[str]) -> ItemFlags:
    """What of this item needs a DPO's decision before it may be released to the requester.
    `third_party_fields`: the agreement's subject access list (`subject_access_redact`)."""
    found: list[Flag] = []
    notes: list[str] = []
    if item.withheld_from:
        found.append(Flag.WITHHELD)
        notes.append(
            "its publisher judged sharing it more detrimental to the child: consider the serious "
            "harm test (Schedule 3) before any release"
        )
    listed = tuple(sorted(f for f in third_party_fields if f in item.fields))
    about_others = item.kind in THIRD_PARTY_KINDS or bool(
        THIRD_PARTY_CATEGORIES.intersection(item.categories)
    )
    if listed or about_others:
        found.append(Flag.THIRD_PARTY)
        if about_others:
            notes.append("it is about another person (a parent or someone in the household)")
        if listed:
            notes.append(
                "the agreement redacts some of its fields in every subject access pack: "
                + ", ".join(_field_text(f) for f in listed)
            )
    shielded = tuple(sorted(item.shielded))
    if shielded:
        found.append(Flag.SHIELDED)
        notes.append("shielded fields stay [shielded] in the pack")
    classification = classify(item.kind, item.categories)
    if item.agency_type == AgencyType.POLICE.value or classification.criminal_offence:
        found.append(Flag.CRIME_EXEMPTION_POSSIBLE)
        notes.append(
            "police or criminal offence data: ask the publisher whether release would prejudice "
            "the prevention or detection of crime (Schedule 2 paragraph 2)"
        )
    schedule_3 = item.agency_type in _SCHEDULE_3_AGENCY_TYPES or item.has_health_data()
    about_harm = bool(item.categories) or item.sensitivity != "standard"
    if item.withheld_from or (schedule_3 and about_harm):
        found.append(Flag.SERIOUS_HARM_POSSIBLE)
    return ItemFlags(
        tuple(found),
        listed,
        shielded,
        tuple(item.withheld_from),
        tuple(notes),
    )


def _field_text(path: str) -> str:
    return path.removeprefix(DETAILS).replace("_", " ")


def latest_decisions(
    decided: Sequence[tuple[str, Decision]],
) -> dict[str, Decision]:
    """Each item's decision in force: the latest recorded supersedes the earlier ones."""
    latest: dict[str, Decision] = {}
    for ref, decision in decided:
        latest[ref] = decision
    return latest


def parse_received(text: str, today: date) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise SubjectAccessError("received: a date, YYYY-MM-DD") from None
    if day > today:
        raise SubjectAccessError("received: the date the request arrived cannot be in the future")
    if day < today - timedelta(days=366):
        raise SubjectAccessError("received: a date within the last year")
    return day
