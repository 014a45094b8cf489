"""Shapes of `details` for the event kinds that define one.

A kind listed in `taxonomy.KINDS` with a `details` model has its details validated against it
(unknown fields rejected); other kinds accept any JSON object of facts.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.domain.identity import validate_nhs_number, validate_provisional_id

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


class LookedAfterDetails(Details):
    legal_status: Literal["s20", "s31", "interim-care-order", "police-protection", "remand"]


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
