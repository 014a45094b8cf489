"""The event-kind taxonomy (schema v1) and the harm categories.

Kinds are named `<agency-type>.<what-happened>`; an agency may publish only the kinds of its
own type, plus the cross-agency `record.*` and `identity.*` kinds. `docs/taxonomy.md` is the
human-readable table; `hub schema` publishes the machine-readable one.

Which content is special category data (UK GDPR Article 9(1)) or criminal offence data
(Article 10, and DPA 2018 s.11(2): alleged offences and proceedings too) is defined here once:
per kind (`KindSpec.classification`: health records are data concerning health; police records
are about offences, alleged offences, their victims and witnesses; a child's identifying
details may say their ethnic category and whether they are disabled) and per harm category
(`CATEGORY_CLASSIFICATION`: sexual abuse is data about sex life and alleged offences, parental
mental health and substance misuse are health, radicalisation reveals political opinions or
beliefs, ...). `classify` combines them for one item.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hub.domain import details as d


class AgencyType(StrEnum):
    LOCAL_AUTHORITY = "local-authority"
    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"


class HarmCategory(StrEnum):
    DOMESTIC_ABUSE = "domestic-abuse"
    NEGLECT = "neglect"
    PHYSICAL_ABUSE = "physical-abuse"
    SEXUAL_ABUSE = "sexual-abuse"
    EMOTIONAL_ABUSE = "emotional-abuse"
    EXPLOITATION = "exploitation"
    HARM_OUTSIDE_HOME = "harm-outside-the-home"
    ONLINE_HARM = "online-harm"
    RADICALISATION = "radicalisation"
    PARENTAL_MENTAL_HEALTH = "parental-mental-health"
    SUBSTANCE_MISUSE = "substance-misuse"
    DISENGAGEMENT = "disengagement"


class SpecialCategory(StrEnum):
    """The special categories of personal data, UK GDPR Article 9(1)."""

    RACIAL_OR_ETHNIC_ORIGIN = "racial-or-ethnic-origin"
    POLITICAL_OPINIONS = "political-opinions"
    RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS = "religious-or-philosophical-beliefs"
    TRADE_UNION_MEMBERSHIP = "trade-union-membership"
    GENETIC = "genetic"
    BIOMETRIC = "biometric"
    HEALTH = "health"
    SEX_LIFE_OR_SEXUAL_ORIENTATION = "sex-life-or-sexual-orientation"


SPECIAL_CATEGORY_LABELS: dict[SpecialCategory, str] = {
    SpecialCategory.RACIAL_OR_ETHNIC_ORIGIN: "racial or ethnic origin",
    SpecialCategory.POLITICAL_OPINIONS: "political opinions",
    SpecialCategory.RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS: "religious or philosophical beliefs",
    SpecialCategory.TRADE_UNION_MEMBERSHIP: "trade union membership",
    SpecialCategory.GENETIC: "genetic data",
    SpecialCategory.BIOMETRIC: "biometric data identifying a person",
    SpecialCategory.HEALTH: "data concerning health",
    SpecialCategory.SEX_LIFE_OR_SEXUAL_ORIENTATION: "data concerning sex life or orientation",
}


@dataclass(frozen=True)
class DataClassification:
    """What kind of personal data some content is, for UK GDPR Articles 9 and 10."""

    special_categories: frozenset[SpecialCategory] = frozenset()
    criminal_offence: bool = False

    @property
    def special_category(self) -> bool:
        return bool(self.special_categories)

    def __or__(self, other: DataClassification) -> DataClassification:
        return DataClassification(
            self.special_categories | other.special_categories,
            self.criminal_offence or other.criminal_offence,
        )


ORDINARY = DataClassification()
_HEALTH_DATA = DataClassification(frozenset({SpecialCategory.HEALTH}))
_OFFENCE_DATA = DataClassification(criminal_offence=True)
_HARM_AND_OFFENCE = DataClassification(frozenset({SpecialCategory.HEALTH}), criminal_offence=True)
# A child's identifying details may carry their ethnic category (racial or ethnic origin) and
# whether they are disabled (health), so every item of those kinds is classified as both:
# classification is per kind, never per value, so it does not depend on which fields one
# revision happens to fill.
_IDENTIFYING_DETAILS = DataClassification(
    frozenset({SpecialCategory.RACIAL_OR_ETHNIC_ORIGIN, SpecialCategory.HEALTH})
)

# Every category is classified (a new one must be decided: tests/unit/test_governance.py).
# Categories say what an item is about whatever its kind: a school's record of a child's
# disclosure of sexual abuse is data about sex life and an alleged offence.
CATEGORY_CLASSIFICATION: dict[HarmCategory, DataClassification] = {
    HarmCategory.DOMESTIC_ABUSE: _OFFENCE_DATA,  # alleged offences, their victims and witnesses
    HarmCategory.NEGLECT: ORDINARY,
    HarmCategory.PHYSICAL_ABUSE: _HARM_AND_OFFENCE,  # injuries; alleged assault or cruelty
    HarmCategory.SEXUAL_ABUSE: DataClassification(
        frozenset({SpecialCategory.SEX_LIFE_OR_SEXUAL_ORIENTATION}), criminal_offence=True
    ),
    HarmCategory.EMOTIONAL_ABUSE: ORDINARY,
    HarmCategory.EXPLOITATION: _OFFENCE_DATA,  # CSE, CCE, county lines: offences against the child
    HarmCategory.HARM_OUTSIDE_HOME: ORDINARY,
    HarmCategory.ONLINE_HARM: ORDINARY,
    HarmCategory.RADICALISATION: DataClassification(
        frozenset(
            {SpecialCategory.POLITICAL_OPINIONS, SpecialCategory.RELIGIOUS_OR_PHILOSOPHICAL_BELIEFS}
        )
    ),
    HarmCategory.PARENTAL_MENTAL_HEALTH: _HEALTH_DATA,
    HarmCategory.SUBSTANCE_MISUSE: _HEALTH_DATA,
    HarmCategory.DISENGAGEMENT: ORDINARY,
}


@dataclass(frozen=True)
class KindSpec:
    """One kind of event. `routine`: a record of this kind is routine case administration, a
    routine check, or about the record itself (who the child is, a link, a retraction); it does
    not by itself say that a child may be at risk, so it is not counted as a concern (the
    multi-agency concerns pattern, `hub.domain.patterns`)."""

    description: str
    publishers: frozenset[AgencyType]
    details: type[d.Details] | None = None
    classification: DataClassification = ORDINARY
    routine: bool = False


_ALL = frozenset(AgencyType)
_LA = frozenset({AgencyType.LOCAL_AUTHORITY})
_POLICE = frozenset({AgencyType.POLICE})
_HEALTH = frozenset({AgencyType.HEALTH})
_EDUCATION = frozenset({AgencyType.EDUCATION})
_LA_HEALTH = frozenset({AgencyType.LOCAL_AUTHORITY, AgencyType.HEALTH})


def _k(
    description: str,
    publishers: frozenset[AgencyType],
    details: type[d.Details] | None = None,
    classification: DataClassification | None = None,
    *,
    routine: bool = False,
) -> KindSpec:
    # A kind a health body or the police publishes is health or criminal offence data by what
    # it is: a health record, or a police record of an incident, offence, victim or witness.
    if classification is None:
        classification = ORDINARY
        if publishers == _HEALTH:
            classification = _HEALTH_DATA
        elif publishers == _POLICE:
            classification = _OFFENCE_DATA
    return KindSpec(description, publishers, details, classification, routine)


KINDS: dict[str, KindSpec] = {
    # Local authority children's social care
    "la.child-details": _k(
        "The child's identifying details (names, date of birth or expected date of delivery, "
        "sex; ethnicity, disability, address and legal status where held)",
        _LA,
        d.LaChildDetails,
        _IDENTIFYING_DETAILS,
        routine=True,
    ),
    "la.contact": _k("Contact received by the front door", _LA),
    "la.referral": _k(
        "Referral accepted (re-referral within 12 months is a key indicator)",
        _LA,
        d.ReferralDetails,
    ),
    "la.assessment-started": _k(
        "Child and family assessment started (45 working-day timescale)", _LA, d.AssessmentDetails
    ),
    "la.assessment-completed": _k(
        "Child and family assessment completed", _LA, d.AssessmentDetails
    ),
    "la.child-in-need-plan": _k("Child in need plan started or reviewed", _LA),
    "la.family-help-episode": _k("Family Help episode and lead practitioner allocation", _LA),
    "la.strategy-discussion": _k("Strategy discussion held", _LA),
    "la.s47-enquiry-started": _k("Section 47 enquiry started", _LA),
    "la.s47-enquiry-outcome": _k("Section 47 enquiry outcome", _LA, d.Section47OutcomeDetails),
    "la.initial-cp-conference": _k("Initial child protection conference", _LA, d.ConferenceDetails),
    "la.review-cp-conference": _k("Review child protection conference", _LA, d.ConferenceDetails),
    "la.cp-plan-started": _k(
        "Child protection plan started (repeat plans are a key indicator)",
        _LA,
        d.ChildProtectionPlanDetails,
    ),
    "la.cp-plan-reviewed": _k("Child protection plan reviewed", _LA, routine=True),
    "la.core-group-meeting": _k(
        "Core group meeting for a child on a protection plan (not a review conference)",
        _LA,
        d.CoreGroupMeetingDetails,
        routine=True,
    ),
    "la.cp-plan-ended": _k("Child protection plan ended", _LA, routine=True),
    "la.pre-proceedings": _k("Pre-proceedings (PLO) started", _LA),
    "la.looked-after": _k("Child became looked after (s20 / s31)", _LA, d.LookedAfterDetails),
    "la.ceased-looked-after": _k(
        "Child ceased to be looked after",
        _LA,
        d.CeasedLookedAfterDetails,
        # Sentenced to custody (E9) and remand ended (E14) are criminal proceedings.
        _OFFENCE_DATA,
        routine=True,
    ),
    "la.placement-started": _k("Placement started", _LA, routine=True),
    "la.placement-moved": _k("Placement moved", _LA, routine=True),
    "la.placement-ended": _k("Placement ended", _LA, routine=True),
    "la.care-leaver-status": _k("Care leaver status (to 25)", _LA, routine=True),
    "la.care-leaver-accommodation": _k(
        "Care leaver's accommodation, and whether it is suitable",
        _LA,
        d.CareLeaverAccommodationDetails,
        _OFFENCE_DATA,  # in custody (X)
        routine=True,
    ),
    "la.care-leaver-activity": _k(
        "Care leaver's main activity (education, employment or training)",
        _LA,
        d.CareLeaverActivityDetails,
        _HEALTH_DATA,  # not in education, employment or training through illness or disability
        routine=True,
    ),
    "la.moved-out-of-area": _k(
        "The family moved out of the local authority's area",
        _LA,
        d.MovedOutOfAreaDetails,
        routine=True,
    ),
    "la.fgdm": _k("Family group decision making offered, held or declined", _LA),
    "la.decision": _k("Decision recorded with rationale and decider", _LA, d.DecisionDetails),
    "la.worker-allocated": _k(
        "Worker allocated or changed", _LA, d.WorkerAllocationDetails, routine=True
    ),
    "la.serious-incident-notifiable": _k(
        "The authority became aware of a serious incident it must notify to the national Panel",
        _LA,
        d.SeriousIncidentDetails,
        _HARM_AND_OFFENCE,  # death or serious harm; abuse or neglect known or suspected
    ),
    "la.serious-incident-notified": _k(
        "Serious incident notified to the Child Safeguarding Practice Review Panel",
        _LA,
        d.SeriousIncidentNotifiedDetails,
        _HARM_AND_OFFENCE,
    ),
    "la.rapid-review-completed": _k(
        "Rapid Review of a serious incident completed",
        _LA,
        d.RapidReviewDetails,
        _HARM_AND_OFFENCE,
    ),
    # Police
    "police.domestic-abuse-incident": _k(
        "Domestic abuse incident where the child lives (Operation Encompass)",
        _POLICE,
        d.DomesticAbuseIncidentDetails,
    ),
    "police.police-protection": _k("Child taken into police protection", _POLICE),
    "police.home-visit": _k(
        "Police visit to the home (child seen and spoken to?)", _POLICE, d.HomeVisitDetails
    ),
    "police.household-arrest": _k("Arrest or charge of a household member", _POLICE),
    "police.missing-episode": _k("Missing episode", _POLICE, d.MissingEpisodeDetails),
    "police.exploitation-concern": _k("Exploitation concern (county lines, CSE, CCE)", _POLICE),
    "police.nrm-referral": _k("National Referral Mechanism referral", _POLICE),
    # Health / ICB
    "health.child-details": _k(
        "The child's identifying details (names, date of birth or expected date of delivery, "
        "sex; ethnicity and address where held)",
        _HEALTH,
        d.ChildDetails,
        _IDENTIFYING_DETAILS,
        routine=True,
    ),
    "health.health-visitor-concern": _k("Health visitor concern", _HEALTH),
    "health.was-not-brought": _k(
        "Child was not brought to an appointment", _HEALTH, d.WasNotBroughtDetails
    ),
    "health.urgent-care-attendance": _k("A&E or urgent care attendance", _HEALTH),
    "health.non-mobile-infant-injury": _k("Injury in a non-mobile infant", _HEALTH),
    "health.parental-mental-health-crisis": _k("Parental mental health crisis", _HEALTH),
    "health.maternity-pre-birth-concern": _k("Maternity pre-birth concern", _HEALTH),
    "health.looked-after-health-assessment": _k(
        "Health assessment for a child in care",
        _HEALTH,
        d.LookedAfterHealthAssessmentDetails,
        routine=True,
    ),
    "health.looked-after-dental-check": _k(
        "Dental check for a child in care", _HEALTH, d.DentalCheckDetails, routine=True
    ),
    # Schools and education settings
    "education.enrolled": _k(
        "Child enrolled at a school or setting", _EDUCATION, d.EnrolmentDetails, routine=True
    ),
    "education.safeguarding-disclosure": _k("Safeguarding disclosure by the child", _EDUCATION),
    "education.attendance-concern": _k(
        "Attendance concern or persistent absence", _EDUCATION, d.AttendanceConcernDetails
    ),
    "education.suspension-or-exclusion": _k(
        "Suspension or exclusion", _EDUCATION, d.ExclusionDetails
    ),
    "education.child-missing-education": _k("Child missing education", _EDUCATION),
    "education.elective-home-education-notice": _k(
        "Elective home education notice", _EDUCATION, d.HomeEducationNoticeDetails
    ),
    "education.not-in-school-register": _k("Children-not-in-school register entry", _EDUCATION),
    "education.elective-home-education-ended": _k(
        "The child stopped being electively home educated",
        _EDUCATION,
        d.HomeEducationEndedDetails,
        routine=True,
    ),
    "education.compulsory-school-age-ended": _k(
        "The child reached the end of compulsory school age",
        _EDUCATION,
        d.CompulsorySchoolAgeEndedDetails,
        routine=True,
    ),
    # Cross-agency
    "record.retracted": _k(
        "The publisher retracts an earlier record (`supersedes` names it)", _ALL, routine=True
    ),
    "identity.linked": _k(
        "A provisional child id is found to be this NHS number",
        _LA_HEALTH,
        d.IdentityLinkDetails,
        routine=True,
    ),
    "identity.unlinked": _k(
        "An earlier link was wrong: two different children",
        _LA_HEALTH,
        d.IdentityUnlinkDetails,
        routine=True,
    ),
}


# Kinds that say who the child is rather than something that happened to them: not a concern,
# and not an agency's contribution to the safeguarding picture.
CHILD_DETAILS_KINDS = frozenset({"la.child-details", "health.child-details"})

# Kinds that are routine case administration, routine checks or about the record itself
# (`KindSpec.routine`): not concerns.
ROUTINE_KINDS = frozenset(kind for kind, spec in KINDS.items() if spec.routine)


def classify(kind: str, categories: Iterable[str]) -> DataClassification:
    """Special category and criminal offence data in an item of this kind with these categories
    (unknown kinds and categories add nothing: the canonical event admits none)."""
    spec = KINDS.get(kind)
    classification = spec.classification if spec else ORDINARY
    for category in categories:
        if category in CATEGORY_CLASSIFICATION:
            classification |= CATEGORY_CLASSIFICATION[HarmCategory(category)]
    return classification


# What the harm categories can add to any item: a rule's category filter cannot rule them out,
# because an item carrying one of its categories may carry others too.
ANY_CATEGORY = DataClassification(
    frozenset(c for k in CATEGORY_CLASSIFICATION.values() for c in k.special_categories),
    any(k.criminal_offence for k in CATEGORY_CLASSIFICATION.values()),
)
