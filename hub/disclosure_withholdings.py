"""The gate's pure part for withheld items: a withholding's reviews applied to the items they
cover, the rows of the withholding review queue, and the stand-in a data protection officer of
another organisation is shown for an item withheld from them. No I/O: `hub/disclosure_gate.py`
reads the record and the reviews, audits, and calls these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from hub.disclosure_release import ReleaseItem, ShownEntry
from hub.domain.access import Practitioner, Role
from hub.domain.markers import WITHHELD
from hub.domain.records import WithholdingReviewed
from hub.domain.uk_time import uk_date
from hub.policies.redaction import RETRACTED_FIELDS, withholding_summary

STILL_WITHHELD = "still-withheld"
NOW_SHARED = "now-shared"


def after_reviews(
    items: Sequence[ReleaseItem], reviews: Mapping[str, WithholdingReviewed]
) -> Sequence[ReleaseItem]:
    """The items with their withholdings' reviews applied: a record reviewed "now shared" is
    withheld from nobody, one reviewed "still withheld" is to be reviewed again by the new
    date. A review covers its record as it stood; once the publisher sends a later revision,
    what that revision states governs again."""
    if not reviews:
        return items
    latest: dict[str, int] = {}
    for item in items:
        record = item.ref.rpartition("@")[0]
        latest[record] = max(latest.get(record, 0), item.entry.event.revision)
    applied = []
    for item in items:
        record = item.ref.rpartition("@")[0]
        review = reviews.get(record)
        if review is None or not item.restricted.withholdings or latest[record] > review.revision:
            applied.append(item)
            continue
        limits = item.restricted
        if review.outcome == NOW_SHARED:
            limits = replace(limits, withholdings=(), withheld_on=())
        elif review.until is not None:
            until = date.fromisoformat(review.until)
            limits = replace(
                limits,
                withholdings=tuple(
                    w.model_copy(update={"review_by": until}) for w in limits.withholdings
                ),
            )
        attributes = replace(
            item.attributes,
            withheld_roles=limits.withheld_roles,
            withheld_agency_types=limits.withheld_agency_types,
        )
        applied.append(replace(item, restricted=limits, attributes=attributes))
    return applied


@dataclass(frozen=True)
class WithholdingForReview:
    """One withheld record as its reviewer reads it: whose, which kind, withheld from whom,
    why, by whom, since when and until when; nothing of what the record says."""

    child_stream: str
    child: str  # the child's identifier in the publisher's own record
    record: str  # "agency/event_id"
    revision: int  # the latest revision held, which a review covers
    agency: str
    kind: str
    withheld_from: list[dict[str, Any]]  # reason, decider, review date, recipients
    withheld_on: date
    review_by: date
    last_review: WithholdingReviewed | None


def for_review(
    items: Sequence[ReleaseItem],
    reviewer: Practitioner,
    *,
    partnership: bool,
    reviews: Mapping[str, WithholdingReviewed],
) -> list[WithholdingForReview]:
    """The withheld records this reviewer answers for: every publisher's for a partnership
    lead DPO; their own organisation's for its DPO; those they decided themselves (named by id
    or name as `decided_by`) for anyone else. One row per record, from its latest revision;
    none for a retracted record."""
    latest: dict[str, ReleaseItem] = {}
    for item in items:
        record = item.ref.rpartition("@")[0]
        held = latest.get(record)
        if held is None or item.entry.event.revision > held.entry.event.revision:
            latest[record] = item
    rows = []
    for record, item in latest.items():
        withholdings = item.restricted.withholdings
        if not withholdings or item.restricted.retracted_by:
            continue  # (a retracted record has nothing left to review, and says nothing)
        own = item.agency == reviewer.organisation
        decided = own and any(w.decided_by in (reviewer.id, reviewer.name) for w in withholdings)
        is_dpo = reviewer.role is Role.DATA_PROTECTION_OFFICER
        if not (partnership or (own and is_dpo) or decided):
            continue
        rows.append(
            WithholdingForReview(
                child_stream=item.entry.stream,
                child=item.entry.event.child.identifier,
                record=record,
                revision=item.entry.event.revision,
                agency=item.agency,
                kind=item.entry.event.kind,
                withheld_from=withholding_summary(withholdings),
                withheld_on=uk_date(min(item.restricted.withheld_on)),
                review_by=min(w.review_by for w in withholdings),
                last_review=reviews.get(record),
            )
        )
    return rows


def withheld_entry(item: ReleaseItem, viewer: Practitioner) -> ShownEntry:
    """An item its publisher withheld from the viewer's agency type or role, as a data
    protection officer of another organisation sees it: "an item withheld by <agency> on
    <date>, review by <date>", and nothing of what it says (not even its kind)."""
    limits = item.restricted
    applying = [
        (w, on)
        for w, on in zip(limits.withholdings, limits.withheld_on, strict=True)
        if w.role == viewer.role or w.agency_type == viewer.agency_type
    ] or list(zip(limits.withholdings, limits.withheld_on, strict=True))
    withholding, withheld_on = min(applying, key=lambda pair: pair[0].review_by)
    on, review_by = uk_date(withheld_on), withholding.review_by
    return ShownEntry._assemble(
        ref=item.ref,
        agency=item.agency,
        agency_type=item.attributes.agency_type,
        kind=WITHHELD,
        categories=[],
        occurred_at=withheld_on,
        recorded_at=withheld_on,
        received_at=withheld_on,
        summary=f"an item withheld by {item.agency} on {on.day} {on:%B %Y}, "
        f"review by {review_by.day} {review_by:%B %Y}",
        details={
            "withheld_by": item.agency,
            "withheld_on": on.isoformat(),
            "review_by": review_by.isoformat(),
        },
        sensitivity="standard",
        status=item.status,
        replaced_by=None,
        household_ref=None,
        redacted=list(RETRACTED_FIELDS),
        shielded=[],
        withheld_from=None,
        lawful_basis=None,
    )
