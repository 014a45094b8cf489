"""Statutory clocks: the timescales a safeguarding partnership is judged on, from its events.

Each clock is a pure function of facts a local authority has already published about a child
(a referral, a strategy discussion, a conference, a plan, a serious incident) and it starts,
stops, is cancelled or breaches exactly as those facts say. Nothing is entered by hand, so a
clock cannot be forgotten, and a clock is never "reset": a correction to the referral date
moves its clock, a retraction removes it, and what happened to it is recomputed from the
facts every time. `docs/clocks.md` tabulates the rules with their sources; in short:

- assessment: from a referral (unless no further action or early help), 45 working days,
  stopped by the assessment's completion;
- initial conference: from a strategy discussion, 15 working days, stopped by the initial
  child protection conference; cancelled by an s47 outcome calling for no conference, or by a
  later strategy discussion held before it was due (the timescale runs from the last one);
- child protection review: from the initial conference deciding a plan (else the plan's
  start), 3 calendar months to the first review, then 6 months from each review, stopped by
  the review conference; cancelled when the plan ends before the review is due;
- serious incident notification and Rapid Review: from the day the authority became aware of
  the incident, 5 and 15 working days, stopped by the notification and the completed review.

Working days are English working days (`working_days`); every date is the England calendar
date of the event (or the date its details give: an assessment's `completed_on`, an incident's
`aware_on`). A clock belongs to the local authority that started it: only that authority's
events stop it, and its alerts go to that authority's allocated worker.

Only facts still believed count, as for relationships: the latest revision of each record,
less what its publisher retracted.
"""

from __future__ import annotations

from hub.domain.clocks.derivation import Clock, derive_clocks
from hub.domain.clocks.facts import Fact, current_facts, fact_from_event
from hub.domain.clocks.recipients import alert_recipient
from hub.domain.clocks.timescales import (
    BREACHED,
    DEFAULT_ALERT_LEAD,
    ClockKind,
    ClockRules,
    ClockStatus,
)

__all__ = [
    "BREACHED",
    "DEFAULT_ALERT_LEAD",
    "Clock",
    "ClockKind",
    "ClockRules",
    "ClockStatus",
    "Fact",
    "alert_recipient",
    "current_facts",
    "derive_clocks",
    "fact_from_event",
]
