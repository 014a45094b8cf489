"""What every part of the indicators shares: suppression bounds, the agency types, units and
polarities, and the event kinds the indicators read."""

from __future__ import annotations

from typing import Literal

from hub.domain.taxonomy import AgencyType

SUPPRESSED = "c"
SMALL = range(1, 5)  # 1 to 4: suppressed
ASSESSMENT_WORKING_DAYS = 45
AGENCY_TYPES: tuple[AgencyType, ...] = tuple(AgencyType)
AGENCY_TYPE_LABELS = {
    AgencyType.LOCAL_AUTHORITY: "Local authority",
    AgencyType.POLICE: "Police",
    AgencyType.HEALTH: "Health",
    AgencyType.EDUCATION: "Education",
}

Polarity = Literal["higher", "lower", "neutral"]
Unit = Literal["percent", "count", "hours"]
Rag = Literal["G", "A", "R"]

# Event kinds the indicators read.
REFERRAL = "la.referral"
ASSESSMENT_COMPLETED = "la.assessment-completed"
S47_STARTED = "la.s47-enquiry-started"
CP_PLAN_STARTED = "la.cp-plan-started"
CP_PLAN_ENDED = "la.cp-plan-ended"
# Only a review conference reviews a plan (as the clocks consumer's review clock): a core group
# meeting (`la.core-group-meeting`, and `la.cp-plan-reviewed` as agencies publish one) is not.
CP_REVIEW_CONFERENCE = "la.review-cp-conference"
LOOKED_AFTER = "la.looked-after"
CEASED_LOOKED_AFTER = "la.ceased-looked-after"  # details: reason (SSDA903 code), ceased_on
CARE_LEAVER = "la.care-leaver-status"
CARE_LEAVER_ACCOMMODATION = "la.care-leaver-accommodation"  # details: suitable, recorded_on
CARE_LEAVER_ACTIVITY = "la.care-leaver-activity"  # details: activity (EET or not), recorded_on
FAMILY_HELP = "la.family-help-episode"
LAC_HEALTH_ASSESSMENT = "health.looked-after-health-assessment"  # details: completed_on
LAC_DENTAL_CHECK = "health.looked-after-dental-check"  # details: completed_on
HOME_EDUCATION = "education.elective-home-education-notice"
ENROLLED = "education.enrolled"
# What ends a child's elective home education, besides enrolling at a school.
HOME_EDUCATION_ENDS = frozenset(
    {
        ENROLLED,
        "education.elective-home-education-ended",
        "education.compulsory-school-age-ended",
        "la.moved-out-of-area",
    }
)
RETRACTED = "record.retracted"
