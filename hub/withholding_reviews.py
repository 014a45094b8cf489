"""Withholding reviews: a publisher's decision to withhold an item is reviewed by its date.

A withholding (`withheld_from` in an agency's event) names a review date. Once the date has
passed, the item is in the review queue of the publishing agency's data protection officer (a
partnership lead DPO's queue holds every agency's) and of the person who decided it, when they
are in the practitioner directory (named by id or name in `decided_by`), oldest review date
first. A review is recorded in the audit ledger as an event: "still withheld until <date>" (the
item is to be reviewed again then) or "now shared" (the withholding no longer applies: the
disclosure gate releases the item under the agreement's rules as for any other). It covers the
record as it stood; a later revision from the publisher that states a withholding again is
governed by what it states. What the queue shows is released by the disclosure gate
(`withholdings_for_review`), and each review is itself audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hub.audit_ledger import AuditLedger
from hub.disclosure_gate import DisclosureGate
from hub.disclosure_withholdings import NOW_SHARED, STILL_WITHHELD, WithholdingForReview
from hub.domain.indicators.facts import WithholdingReviewFact, record_key
from hub.domain.uk_time import uk_date

OUTCOMES = (STILL_WITHHELD, NOW_SHARED)


class ReviewRefusedError(PermissionError):
    """The practitioner does not answer for this withholding."""


@dataclass(frozen=True)
class ReviewQueue:
    due: list[WithholdingForReview]  # review date passed, oldest first
    upcoming: list[WithholdingForReview]  # still in date, soonest first
    today: date


class WithholdingReviews:
    def __init__(
        self,
        gate: DisclosureGate,
        audit: AuditLedger,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._audit = audit
        self._clock = clock

    def queue(self, practitioner_id: str) -> ReviewQueue:
        """The withholdings this practitioner answers for: those past their review date, oldest
        first, then the rest by review date."""
        reviewer = self._gate.practitioner(practitioner_id)
        today = uk_date(self._clock())
        rows = sorted(
            self._gate.withholdings_for_review(reviewer),
            key=lambda row: (row.review_by, row.withheld_on, row.record),
        )
        return ReviewQueue(
            [r for r in rows if r.review_by < today],
            [r for r in rows if r.review_by >= today],
            today,
        )

    def facts(self) -> dict[str, list[WithholdingReviewFact]]:
        """Every review, by the indicators' record key, for the count of withheld items past
        their review date (`hub.domain.indicators`)."""
        found: dict[str, list[WithholdingReviewFact]] = {}
        for review in self._audit.withholding_reviews():
            agency, _, event_id = review.record.partition("/")
            key = record_key(agency, event_id)
            found.setdefault(key, []).append(
                WithholdingReviewFact(
                    key,
                    review.revision,
                    uk_date(review.timestamp),
                    review.outcome == NOW_SHARED,
                    None if review.until is None else date.fromisoformat(review.until),
                )
            )
        return found

    def review(
        self,
        practitioner_id: str,
        record: str,
        outcome: str,
        notes: str,
        until: date | None = None,
    ) -> WithholdingForReview:
        """Record a review of the withheld record (`agency/event_id`) by a practitioner who
        answers for it: still withheld until a later date, or now shared. Audited."""
        reviewer = self._gate.practitioner(practitioner_id)
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: must be one of {', '.join(OUTCOMES)}")
        if not notes.strip():
            raise ValueError("notes: say why (the review is part of the record)")
        today = uk_date(self._clock())
        if outcome == STILL_WITHHELD and (until is None or until <= today):
            raise ValueError("until: a still-withheld item needs its next review date, after today")
        if outcome == NOW_SHARED and until is not None:
            raise ValueError("until: a shared item has no review date")
        row = next(
            (r for r in self._gate.withholdings_for_review(reviewer) if r.record == record),
            None,
        )
        if row is None:
            self._gate.record_query(reviewer, "review-withholding", "denied")
            raise ReviewRefusedError(
                "record: you do not answer for a withholding of that record (its publisher's "
                "data protection officer, a lead DPO, or whoever decided it reviews it)"
            )
        now = self._clock()
        self._gate.record_query(reviewer, "review-withholding", outcome, row.child_stream)
        self._audit.review_withholding(
            row.child_stream,
            record,
            row.revision,
            reviewer.id,
            outcome,
            None if until is None else until.isoformat(),
            notes.strip(),
            now,
        )
        return row
