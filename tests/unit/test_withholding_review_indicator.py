"""The information-sharing count of withheld items past their review date (issue 18): a
withholding is overdue at the quarter's end when its review date (or the date a review set)
had passed, unless a review by then shared it; a later revision is governed by what it says."""

from __future__ import annotations

from datetime import date

from hub.domain.indicators import build_report
from hub.domain.indicators.facts import RecordFact, WithholdingReviewFact
from hub.domain.indicators.measures import overdue_withholding_reviews
from hub.domain.indicators.periods import Quarter

Q3 = Quarter(2024, 3)  # October to December 2024


def record(
    key: str,
    review_by: date | None,
    *,
    revision: int = 1,
    received: date,
    occurred: date | None = None,
) -> RecordFact:
    return RecordFact(
        key=key,
        revision=revision,
        kind="police.domestic-abuse-incident",
        agency="shire-constabulary",
        agency_type="police",
        occurred=occurred or received,
        received=received,
        sharing_hours=1.0,
        late=False,
        withheld=("investigation",) if review_by else (),
        review_by=review_by,
    )


def review(
    key: str, on: date, *, shared: bool = False, until: date | None = None, revision: int = 1
) -> WithholdingReviewFact:
    return WithholdingReviewFact(key, revision, on, shared, until)


def test_overdue_reviews_are_counted_at_the_quarters_end() -> None:
    child = (
        record("past", date(2024, 11, 1), received=date(2024, 10, 2)),  # overdue
        record("future", date(2025, 2, 1), received=date(2024, 10, 2)),  # in date
        record("plain", None, received=date(2024, 10, 2)),  # not withheld
        record("late", date(2024, 11, 1), received=date(2025, 1, 5), occurred=date(2025, 1, 2)),
        # happened in the quarter, received later (a backfill): counted
        record(
            "backfill", date(2024, 11, 1), received=date(2026, 1, 5), occurred=date(2024, 10, 2)
        ),
        record("kept", date(2024, 11, 1), received=date(2024, 10, 2)),  # reviewed: until later
        record("shared", date(2024, 11, 1), received=date(2024, 10, 2)),  # reviewed: shared
        record("after", date(2024, 11, 1), received=date(2024, 10, 2)),  # reviewed after the end
        record("restated", date(2024, 11, 1), revision=2, received=date(2024, 10, 9)),
    )
    reviews = {
        "kept": [review("kept", date(2024, 11, 3), until=date(2025, 3, 1))],
        "shared": [review("shared", date(2024, 11, 3), shared=True)],
        "after": [review("after", date(2025, 1, 10), shared=True)],
        "restated": [review("restated", date(2024, 10, 5), shared=True, revision=1)],
    }
    figure = overdue_withholding_reviews([child], Q3, reviews)
    assert figure.value == 4  # past, backfill, after, restated
    assert overdue_withholding_reviews([child], Q3, {}).value == 6


def test_the_report_has_the_row_in_the_information_sharing_section() -> None:
    child = (record("past", date(2024, 11, 1), received=date(2024, 10, 2)),)
    report = build_report([child], date(2025, 1, 15))
    row = report.row("withholding-reviews-overdue")
    assert (row.area, row.section, row.basis) == (
        "Information sharing",
        "withheld-by-reason",
        "at the quarter's end",
    )
    assert row.latest.value == 1
