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
