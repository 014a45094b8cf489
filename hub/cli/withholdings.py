"""`hub withholdings due|review`: the withholding review queue (docs/audit.md, "Withholding
reviews")."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub
from hub.disclosure_withholdings import NOW_SHARED, STILL_WITHHELD, WithholdingForReview
from hub.domain.uk_time import uk_datetime_text
from hub.reports.rendering import kind_text


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    withholdings = commands.add_parser(
        "withholdings", help="review items publishers withheld, by their review dates"
    )
    sub = withholdings.add_subparsers(dest="withholdings_command", required=True)
    due = sub.add_parser(
        "due",
        parents=[common, formatted],
        help="the withholdings you answer for: past their review date first, oldest first",
    )
    due.add_argument("--as", dest="as_practitioner", required=True, help="your practitioner id")
    due.set_defaults(handler=cmd_withholdings_due)
    review = sub.add_parser(
        "review", parents=[common, formatted], help="record a withholding's review"
    )
    review.add_argument("record", metavar="RECORD", help="the record, agency/event_id")
    review.add_argument("--as", dest="as_practitioner", required=True, help="your practitioner id")
    outcome = review.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--still-withheld-until",
        metavar="DATE",
        type=_review_date,
        help="keep it withheld; review it again by DATE (YYYY-MM-DD)",
    )
    outcome.add_argument(
        "--now-shared",
        action="store_true",
        help="the reason no longer holds: share it under the agreement from now on",
    )
    review.add_argument("--notes", required=True, help="why (kept with the review)")
    review.set_defaults(handler=cmd_withholdings_review)


def _review_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date, YYYY-MM-DD") from None


def _row(row: WithholdingForReview) -> dict[str, Any]:
    last = row.last_review
    return {
        "child": row.child,
        "record": row.record,
        "revision": row.revision,
        "agency": row.agency,
        "kind": row.kind,
        "withheld_on": row.withheld_on.isoformat(),
        "review_by": row.review_by.isoformat(),
        "withheld_from": row.withheld_from,
        "last_review": None
        if last is None
        else {
            "by": last.reviewer_id,
            "at": last.timestamp.isoformat(),
            "outcome": last.outcome,
            "until": last.until,
        },
    }


def _whom(withheld_from: list[dict[str, Any]]) -> str:
    return ", ".join(w.get("agency_type") or w.get("role") or "?" for w in withheld_from)


def cmd_withholdings_due(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        queue = hub.withholding_reviews.queue(args.as_practitioner)
    finally:
        hub.close()
    document = {
        "today": queue.today.isoformat(),
        "due": [_row(r) for r in queue.due],
        "upcoming": [_row(r) for r in queue.upcoming],
    }

    def text() -> None:
        print(
            f"{len(queue.due)} withholding review(s) past their date, "
            f"{len(queue.upcoming)} still in date"
        )
        for heading, rows in (("Past their review date", queue.due), ("In date", queue.upcoming)):
            if not rows:
                continue
            print(f"\n{heading}:")
            for row in rows:
                days = (queue.today - row.review_by).days
                late = f", {days} days overdue" if days > 0 else ""
                print(
                    f"  review by {row.review_by:%-d %b %Y}{late}: {row.record} "
                    f"({kind_text(row.kind)}) for child {row.child}, withheld from "
                    f"{_whom(row.withheld_from)} since {row.withheld_on:%-d %b %Y}"
                )
                for w in row.withheld_from:
                    print(f"    reason: {w['reason']} (decided by {w['decided_by']})")
                if row.last_review is not None:
                    print(
                        f"    last reviewed {uk_datetime_text(row.last_review.timestamp)} by "
                        f"{row.last_review.reviewer_id}: {row.last_review.outcome}"
                    )

    emit(args, document, text)
    return EXIT_OK


def cmd_withholdings_review(args: argparse.Namespace) -> int:
    outcome = NOW_SHARED if args.now_shared else STILL_WITHHELD
    hub = open_hub(args)
    try:
        row = hub.withholding_reviews.review(
            args.as_practitioner, args.record, outcome, args.notes, args.still_withheld_until
        )
    finally:
        hub.close()
    document = {"record": row.record, "outcome": outcome}
    if args.still_withheld_until:
        document["until"] = args.still_withheld_until.isoformat()

    def text() -> None:
        if outcome == NOW_SHARED:
            print(f"{row.record}: now shared under the agreement's rules; the review is recorded")
        else:
            print(
                f"{row.record}: still withheld; review again by "
                f"{args.still_withheld_until:%-d %b %Y}. The review is recorded"
            )

    emit(args, document, text)
    return EXIT_OK
