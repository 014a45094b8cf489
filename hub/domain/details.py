"""Shapes of `details` for the event kinds that define one.

A kind listed in `taxonomy.KINDS` with a `details` model has its details validated against it
(unknown fields rejected); other kinds accept any JSON object of facts.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.domain.identity import validate_nhs_number, validate_provisional_id
from hub.domain.uk_time import UK

NhsNumber = Annotated[str, AfterValidator(validate_nhs_number)]
ProvisionalId = Annotated[str, AfterValidator(validate_provisional_id)]


class Details(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferralDetails(Details):
    referral_source: str = Field(min_length=1, max_length=100, description="who referred")
    outcome: (
        Literal["no-further-action", "assessment", "strategy-discussion", "early-help"] | None
    ) = None


class AssessmentDetails(Details):
    started_on: date
    completed_on: date | None = None


class Section47OutcomeDetails(Details):
    outcome: Literal[
        "concerns-not-substantiated", "concerns-substantiated-icpc", "no-further-action"
    ]


class ConferenceDetails(Details):
    decision: Literal["cp-plan", "no-plan", "continue-plan", "end-plan"]


class ChildProtectionPlanDetails(Details):
    category: Literal["neglect", "physical-abuse", "emotional-abuse", "sexual-abuse", "multiple"]


LegalStatus = Literal["s20", "s31", "interim-care-order", "police-protection", "remand"]


class LookedAfterDetails(Details):
    legal_status: LegalStatus


class DecisionDetails(Details):
    decision: str = Field(min_length=1, max_length=500)
    rationale: str = Field(min_length=1, max_length=2000)
    decided_by: str = Field(min_length=1, max_length=100)


class WorkerAllocationDetails(Details):
    practitioner_id: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=100)


class DomesticAbuseIncidentDetails(Details):
    child_present: bool
    child_lives_at_address: bool = True
    child_voice: str | None = Field(default=None, max_length=2000)
    police_reference: str = Field(min_length=1, max_length=50)


class HomeVisitDetails(Details):
    reason: str = Field(min_length=1, max_length=200)
    child_seen: bool
    child_spoken_to: bool


class MissingEpisodeDetails(Details):
    reported_missing_at: str | None = None
    returned: bool


class WasNotBroughtDetails(Details):
    service: str = Field(min_length=1, max_length=100)
    appointment_type: str = Field(min_length=1, max_length=100)


class AttendanceConcernDetails(Details):
    attendance_percent: float = Field(ge=0, le=100)
    period: str = Field(min_length=1, max_length=50)


class ExclusionDetails(Details):
    kind: Literal["suspension", "permanent-exclusion"]
    days: int | None = Field(default=None, ge=0, le=365)


class HomeEducationNoticeDetails(Details):
    la_consent_required: bool
    reason_given: str | None = Field(default=None, max_length=500)


class EnrolmentDetails(Details):
    school_urn: str = Field(
        pattern=r"^[0-9]{6}$", description="the school's unique reference number"
    )
    starts_on: date


class IdentityLinkDetails(Details):
    """Joins the event's provisional child id to an NHS number."""

    nhs_number: NhsNumber


class IdentityUnlinkDetails(IdentityLinkDetails):
    """Records that an earlier link was wrong: the two records are different children."""

    reason: str = Field(min_length=1, max_length=500)


class SeriousIncidentDetails(Details):
    """A serious child safeguarding incident the local authority must notify to the Child
    Safeguarding Practice Review Panel (Children Act 2004 s16C). The 5 and 15 working-day
    clocks run from when the authority became aware, which may be before it recorded it."""

    aware_on: date | None = Field(
        default=None, description="the day the authority became aware (default: occurred_at)"
    )


class SeriousIncidentNotifiedDetails(Details):
    notified_on: date | None = Field(
        default=None, description="the day the Panel was notified (default: occurred_at)"
    )


class RapidReviewDetails(Details):
    completed_on: date | None = Field(
        default=None, description="the day the Rapid Review was completed (default: occurred_at)"
    )


# The child's identifying details ---------------------------------------------------------

# Sex as FHIR's AdministrativeGender value set (http://hl7.org/fhir/ValueSet/administrative-gender)
# codes it; the NHS Data Model and Dictionary's PERSON STATED GENDER CODE maps onto it (1 male,
# 2 female, 9 indeterminate = other, X not known = unknown).
Sex = Literal["male", "female", "other", "unknown"]

# ETHNIC CATEGORY as the NHS Data Model and Dictionary defines it (the 2001 census categories),
# coded as UK Core's CodeSystem UKCore-EthnicCategoryEngland codes it, with its label. `Z` is
# "not stated" (the person was asked and chose not to say); `99` is "not known" (not asked).
ETHNIC_CATEGORIES: dict[str, str] = {
    "A": "White - British",
    "B": "White - Irish",
    "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean",
    "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian",
    "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian",
    "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean",
    "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese",
    "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": "Not stated",
    "99": "Not known",
}
EthnicCategory = Literal[
    "A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99"
]

# Plausibility, from the day the record was made (its `recorded_at` in England): a date of
# birth is not after it, nor more than 30 years before it (a typed year); an expected date of
# delivery is within a pregnancy after it (44 weeks), or a little before it (a late baby whose
# record is not yet updated: 6 weeks).
OLDEST_RECORD_YEARS = 30
EDD_AHEAD = timedelta(weeks=44)
EDD_OVERDUE = timedelta(weeks=6)
# A UK postcode in its canonical form: upper case, one space before the inward code.
UK_POSTCODE = r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$"
_SPACES = re.compile(r"\s+")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def normalise_postcode(value: object) -> object:
    """`sw1a1aa` and ` SW1A  1AA ` as `SW1A 1AA`; anything else is left for the pattern."""
    if not isinstance(value, str):
        return value
    compact = _SPACES.sub("", value).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


class Disability(Details):
    """Whether the child is disabled, as the publisher's system records it."""

    status: Literal["yes", "no", "not-known"]
    description: str | None = Field(default=None, min_length=1, max_length=500)


class Address(Details):
    """Where the child lives. The publisher can shield it (`shielded_fields:
    [details.address]`), as for a refuge: then no view, export or notice carries it."""

    lines: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    ] = Field(min_length=1, max_length=6)
    postcode: Annotated[str, BeforeValidator(normalise_postcode)] | None = Field(
        default=None, pattern=UK_POSTCODE
    )


def _recorded_on(info: ValidationInfo) -> date:
    """The day the record was made, which the canonical event gives as validation context
    (`recorded_on`), so a stored event validates the same whenever it is read; standing alone,
    today in England."""
    context = info.context if isinstance(info.context, dict) else {}
    recorded_on = context.get("recorded_on")
    return recorded_on if isinstance(recorded_on, date) else datetime.now(UK).date()


class ChildDetails(Details):
    """The child's identifying details as the publisher's system holds them: names, date of
    birth (or, for an unborn child, the expected date of delivery), sex, and optionally ethnic
    category, disability and address. A correction is a new revision of the same record."""

    given_names: list[Name] = Field(
        default_factory=list, max_length=5, description="first name, then any middle names"
    )
    family_name: Name
    known_as: Name | None = Field(default=None, description="the name the child is known by")
    date_of_birth: date | None = None
    expected_delivery_date: date | None = Field(
        default=None, description="for an unborn child, instead of date_of_birth"
    )
    sex: Sex = Field(description="FHIR administrative gender")
    ethnic_category: EthnicCategory | None = Field(
        default=None, description="NHS Data Dictionary ETHNIC CATEGORY code"
    )
    disability: Disability | None = None
    address: Address | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _born_by_the_record(cls, born: date | None, info: ValidationInfo) -> date | None:
        if born is None:
            return None
        recorded_on = _recorded_on(info)
        if born > recorded_on:
            raise ValueError(
                "is after the day the record was made; a birth cannot be recorded early"
            )
        if born.year < recorded_on.year - OLDEST_RECORD_YEARS:
            raise ValueError(
                f"is more than {OLDEST_RECORD_YEARS} years before the record; check the date"
            )
        return born

    @field_validator("expected_delivery_date")
    @classmethod
    def _due_within_a_pregnancy(cls, due: date | None, info: ValidationInfo) -> date | None:
        if due is None:
            return None
        recorded_on = _recorded_on(info)
        if due > recorded_on + EDD_AHEAD:
            raise ValueError("is more than 44 weeks after the day the record was made")
        if due < recorded_on - EDD_OVERDUE:
            raise ValueError(
                "is more than 6 weeks before the day the record was made; "
                "a child born since has a date_of_birth"
            )
        return due

    @model_validator(mode="after")
    def _born_or_expected(self) -> Self:
        if (self.date_of_birth is None) == (self.expected_delivery_date is None):
            raise ValueError(
                "give exactly one of date_of_birth (a child) "
                "or expected_delivery_date (an unborn child)"
            )
        if self.date_of_birth is not None and not self.given_names:
            raise ValueError("given_names: a child who has been born needs a given name")
        return self


class LaChildDetails(ChildDetails):
    """A local authority's record of the child also says the child's legal status, when the
    child is looked after."""

    legal_status: LegalStatus | None = None


# Children in care, care leavers, education and moves (issue 23) ---------------------------


def _not_after_the_record(day: date, info: ValidationInfo) -> date:
    """A day something happened is not after the day the record of it was made."""
    if day > _recorded_on(info):
        raise ValueError("is after the day the record was made; record it once it has happened")
    return day


# The day something happened, judged against the record's `recorded_at` (as a date of birth).
HappenedOn = Annotated[date, AfterValidator(_not_after_the_record)]

# SSDA903 "reason episode ceased" (REC) codes that end a period of being looked after, with the
# DfE children looked after return's wording, shortened. X1 (an episode ends and a new one
# starts the same day) is not listed: the child is still looked after.
REASONS_CEASED: dict[str, str] = {
    "E11": "Adopted - application for an adoption order unopposed",
    "E12": "Adopted - consent dispensed with by the court",
    "E13": "Left care to live with parent(s), relative(s), or other person(s) with no "
    "parental responsibility",
    "E14": "Accommodation on remand ended",
    "E15": "Age assessment determined the child is aged 18 or over",
    "E16": "Child moved abroad",
    "E17": "Aged 18 (or over) and remained with current carers (including staying put)",
    "E2": "Died",
    "E3": "Care taken over by another local authority in the UK",
    "E41": "Residence order or child arrangements order (with whom the child is to live) granted",
    "E45": "Special guardianship order made to former foster carer(s), who are relatives or "
    "friends",
    "E46": "Special guardianship order made to former foster carer(s), other than relatives "
    "or friends",
    "E47": "Special guardianship order made to carer(s), other than former foster carer(s), "
    "who are relatives or friends",
    "E48": "Special guardianship order made to carer(s), other than former foster carer(s), "
    "other than relatives or friends",
    "E4A": "Returned home to live with parent(s) or others with parental responsibility, as "
    "part of the care planning process",
    "E4B": "Returned home to live with parent(s) or others with parental responsibility, not "
    "part of the current care planning process",
    "E5": "Moved into independent living with formalised advice or support",
    "E6": "Moved into independent living without formalised advice or support",
    "E7": "Transferred to residential care funded by adult social care services",
    "E8": "Ceased to be looked after for any other reason",
    "E9": "Sentenced to custody",
}
ReasonCeased = Literal[
    "E11", "E12", "E13", "E14", "E15", "E16", "E17", "E2", "E3", "E41", "E45", "E46", "E47",
    "E48", "E4A", "E4B", "E5", "E6", "E7", "E8", "E9",
]  # fmt: skip


class CeasedLookedAfterDetails(Details):
    """The child stopped being looked after, and why (SSDA903 REC code)."""

    reason: ReasonCeased = Field(description="SSDA903 reason episode ceased (REC) code")
    ceased_on: HappenedOn


class LookedAfterHealthAssessmentDetails(Details):
    """A statutory health assessment of a child in care. `completed_on` is optional (default:
    the event's occurred_at) and other keys are kept as they are: until this shape was
    defined the kind took any object, and an event valid then is valid now."""

    model_config = ConfigDict(extra="allow", frozen=True)

    completed_on: HappenedOn | None = Field(
        default=None, description="the day the assessment was completed (default: occurred_at)"
    )


class DentalCheckDetails(Details):
    completed_on: HappenedOn


# SSDA903 care leaver accommodation (ACCOM): the type is the code's letter; the return's
# second character (1 suitable, 2 not suitable) is `suitable`. `0` (not in touch) is not an
# accommodation: not in touch is said by `la.care-leaver-status`.
ACCOMMODATION_TYPES: dict[str, str] = {
    "B": "With parents or relatives",
    "C": "Community home or other residential care",
    "D": "Semi-independent, transitional or self-contained accommodation with support",
    "E": "Supported lodgings",
    "G": "Gone abroad",
    "H": "Deported",
    "K": "Ordinary lodgings, without formal support",
    "R": "Residence not known",
    "S": "No fixed abode or homeless",
    "T": "Foyer or similar supported accommodation with education, training or employment",
    "U": "Independent living (own tenancy, university or college accommodation)",
    "V": "Emergency accommodation (night shelter, direct access or emergency hostel)",
    "W": "Bed and breakfast",
    "X": "In custody",
    "Y": "Other accommodation",
    "Z": "With former foster carer(s)",
}
AccommodationType = Literal[
    "B", "C", "D", "E", "G", "H", "K", "R", "S", "T", "U", "V", "W", "X", "Y", "Z"
]  # fmt: skip


class CareLeaverAccommodationDetails(Details):
    accommodation: AccommodationType = Field(description="SSDA903 ACCOM type (its letter)")
    suitable: bool
    recorded_on: HappenedOn


# SSDA903 care leaver main activity (ACTIV), with whether it is education, employment or
# training. F3 and P3 (training or employment) are the codes before apprenticeships were
# counted apart (F4/P4) from other training or employment (F5/P5); older records carry them.
# `0` (not in touch, activity not known) is not an activity, as for accommodation.
ACTIVITIES: dict[str, tuple[str, bool]] = {
    "F1": ("Full time in higher education", True),
    "P1": ("Part time in higher education", True),
    "F2": ("Full time in education other than higher education", True),
    "P2": ("Part time in education other than higher education", True),
    "F3": ("Full time in training or employment", True),
    "P3": ("Part time in training or employment", True),
    "F4": ("Full time in an apprenticeship", True),
    "P4": ("Part time in an apprenticeship", True),
    "F5": ("Full time in training or employment (not an apprenticeship)", True),
    "P5": ("Part time in training or employment (not an apprenticeship)", True),
    "G4": ("Not in education, employment or training: illness or disability", False),
    "G5": ("Not in education, employment or training: other circumstances", False),
    "G6": ("Not in education, employment or training: pregnancy or parenting", False),
}
Activity = Literal["F1", "P1", "F2", "P2", "F3", "P3", "F4", "P4", "F5", "P5", "G4", "G5", "G6"]


class CareLeaverActivityDetails(Details):
    """A care leaver's main activity; `in_education_employment_or_training` follows from the
    code (given, it must agree with it)."""

    activity: Activity = Field(description="SSDA903 main activity (ACTIV) code")
    in_education_employment_or_training: bool | None = None
    recorded_on: HappenedOn

    @model_validator(mode="after")
    def _consistent_with_the_code(self) -> Self:
        derived = ACTIVITIES[self.activity][1]
        if self.in_education_employment_or_training is None:
            object.__setattr__(self, "in_education_employment_or_training", derived)
        elif self.in_education_employment_or_training != derived:
            raise ValueError(
                "in_education_employment_or_training: does not agree with the activity code"
            )
        return self


HOME_EDUCATION_END_REASONS: dict[str, str] = {
    "returned-to-school": "Returned to school",
    "moved-out-of-area": "Moved out of the area",
    "end-of-compulsory-school-age": "Reached the end of compulsory school age",
    "other": "Other reason",
}
HomeEducationEndReason = Literal[
    "returned-to-school", "moved-out-of-area", "end-of-compulsory-school-age", "other"
]


class HomeEducationEndedDetails(Details):
    ended_on: HappenedOn
    reason: HomeEducationEndReason


class CompulsorySchoolAgeEndedDetails(Details):
    on: HappenedOn = Field(description="the day the child reached the end of compulsory school age")


class MovedOutOfAreaDetails(Details):
    moved_on: HappenedOn
    receiving_authority: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the name of the local authority the family moved to, where known",
    )
    receiving_la_code: str | None = Field(
        default=None,
        pattern=r"^\d{3}$",
        description="the DfE number of the local authority the family moved to (three digits, "
        "as the SSDA903 and CIN census returns use), where known",
    )


class CoreGroupMeetingDetails(Details):
    held_on: HappenedOn
