"""The event-kind taxonomy (schema v1) and the harm categories.

Kinds are named `<agency-type>.<what-happened>`; an agency may publish only the kinds of its
own type, plus the cross-agency `record.*` and `identity.*` kinds. `docs/taxonomy.md` is the
human-readable table; `hub schema` publishes the machine-readable one.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class KindSpec:
    description: str
    publishers: frozenset[AgencyType]
    details: type[d.Details] | None = None


_ALL = frozenset(AgencyType)
_LA = frozenset({AgencyType.LOCAL_AUTHORITY})
_POLICE = frozenset({AgencyType.POLICE})
_HEALTH = frozenset({AgencyType.HEALTH})
_EDUCATION = frozenset({AgencyType.EDUCATION})
_LA_HEALTH = frozenset({AgencyType.LOCAL_AUTHORITY, AgencyType.HEALTH})


def _k(
    description: str, publishers: frozenset[AgencyType], details: type[d.Details] | None = None
) -> KindSpec:
    return KindSpec(description, publishers, details)


KINDS: dict[str, KindSpec] = {
    # Local authority children's social care
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
    "la.cp-plan-reviewed": _k("Child protection plan reviewed", _LA),
    "la.cp-plan-ended": _k("Child protection plan ended", _LA),
    "la.pre-proceedings": _k("Pre-proceedings (PLO) started", _LA),
    "la.looked-after": _k("Child became looked after (s20 / s31)", _LA, d.LookedAfterDetails),
    "la.placement-started": _k("Placement started", _LA),
    "la.placement-moved": _k("Placement moved", _LA),
    "la.placement-ended": _k("Placement ended", _LA),
    "la.care-leaver-status": _k("Care leaver status (to 25)", _LA),
    "la.fgdm": _k("Family group decision making offered, held or declined", _LA),
    "la.decision": _k("Decision recorded with rationale and decider", _LA, d.DecisionDetails),
    "la.worker-allocated": _k("Worker allocated or changed", _LA, d.WorkerAllocationDetails),
    "la.serious-incident-notifiable": _k(
        "The authority became aware of a serious incident it must notify to the national Panel",
        _LA,
        d.SeriousIncidentDetails,
    ),
    "la.serious-incident-notified": _k(
        "Serious incident notified to the Child Safeguarding Practice Review Panel",
        _LA,
        d.SeriousIncidentNotifiedDetails,
    ),
    "la.rapid-review-completed": _k(
        "Rapid Review of a serious incident completed", _LA, d.RapidReviewDetails
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
    "health.health-visitor-concern": _k("Health visitor concern", _HEALTH),
    "health.was-not-brought": _k(
        "Child was not brought to an appointment", _HEALTH, d.WasNotBroughtDetails
    ),
    "health.urgent-care-attendance": _k("A&E or urgent care attendance", _HEALTH),
    "health.non-mobile-infant-injury": _k("Injury in a non-mobile infant", _HEALTH),
    "health.parental-mental-health-crisis": _k("Parental mental health crisis", _HEALTH),
    "health.maternity-pre-birth-concern": _k("Maternity pre-birth concern", _HEALTH),
    "health.looked-after-health-assessment": _k("Health assessment for a child in care", _HEALTH),
    # Schools and education settings
    "education.enrolled": _k(
        "Child enrolled at a school or setting", _EDUCATION, d.EnrolmentDetails
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
    # Cross-agency
    "record.retracted": _k(
        "The publisher retracts an earlier record (`supersedes` names it)", _ALL
    ),
    "identity.linked": _k(
        "A provisional child id is found to be this NHS number", _LA_HEALTH, d.IdentityLinkDetails
    ),
    "identity.unlinked": _k(
        "An earlier link was wrong: two different children", _LA_HEALTH, d.IdentityUnlinkDetails
    ),
}
