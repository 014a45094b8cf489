"""Commands that disclose: the chronology, and data protection officers' audit queries."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hub.cli.common import EXIT_DENIED, EXIT_OK, emit, open_hub
from hub.domain.canonical_event import child_ref
from hub.domain.uk_time import uk_time_text
from hub.reports.chronology_text import chronology_lines


def _print_chronology(view: Any) -> None:
    who = view.practitioner
    print(
        f"{who.id} ({who.role.value}, {who.organisation}) for {view.purpose or 'no stated purpose'}"
    )
    print(f"agreement {view.agreement_version}; relationship: {view.relationship or 'none'}")
    if view.break_glass is not None:
        print(
            f"BREAK-GLASS ACCESS until {uk_time_text(view.break_glass.expires_at)}: "
            f"{view.break_glass.reason}"
        )
    print(f"outcome: {view.outcome}; {len(view.entries)} entries; audit {view.audit_ref}")
    if view.outcome == "no-record":
        print("  the hub holds no record of this child: no agency has published anything for them")
    for reason in view.denied_reasons:
        print(f"  denied: {reason}")
    for line in chronology_lines(view.entries):
        print(line)
    for flag in view.patterns:
        print(f"  PATTERN {flag.code}: {flag.description}")


def cmd_chronology(args: argparse.Namespace) -> int:
    from hub.domain.access import Purpose

    hub = open_hub(args)
    try:
        view = hub.gate.view(
            child_ref(args.child),
            args.as_practitioner,
            Purpose(args.purpose) if args.purpose else None,
            break_glass_reason=args.break_glass,
        )
    finally:
        hub.close()
    emit(args, view.as_dict(), lambda: _print_chronology(view))
    # Only a refusal is "access denied": a child the hub holds nothing about (outcome
    # "no-record") or whose record was erased is an answer, not a refusal.
    return EXIT_DENIED if view.outcome == "denied" else EXIT_OK


def cmd_break_glass_end(args: argparse.Namespace) -> int:
    """The practitioner ends their own emergency access to a child: the emergency is over."""
    hub = open_hub(args)
    try:
        ended = hub.gate.end_break_glass(child_ref(args.child), args.as_practitioner)
    finally:
        hub.close()

    def text() -> None:
        print(
            "emergency access ended; a data protection officer will still review it"
            if ended
            else "you hold no emergency access to this child; nothing to end"
        )

    emit(args, {"ended": ended}, text)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    queries = hub.audit_queries
    try:
        if args.sar:
            document: Any = queries.subject_access(args.as_practitioner, child_ref(args.sar))
        elif args.commission_review:
            commission = queries.commission_review(
                args.as_practitioner,
                child_ref(args.commission_review),
                args.reviewer,
                args.notes or "",
                args.days,
            )
            document = {
                "reviewer": commission.reviewer_id,
                "from": commission.starts_at.isoformat(),
                "until": commission.ends_at.isoformat(),
            }
        elif args.review:
            queries.review_break_glass(
                args.as_practitioner, args.review, args.outcome, args.notes or ""
            )
            document = {"reviewed": args.review, "outcome": args.outcome}
        else:
            if args.child:
                answer = queries.who_saw_child(args.as_practitioner, child_ref(args.child))
            elif args.practitioner:
                answer = queries.what_practitioner_saw(args.as_practitioner, args.practitioner)
            elif args.break_glass:
                answer = queries.break_glass(args.as_practitioner)
            elif args.withheld:
                answer = queries.withheld(args.as_practitioner)
            elif args.outside_relationship:
                answer = queries.outside_relationship(args.as_practitioner)
            else:
                answer = queries.broad_access(args.as_practitioner)
            document = {"query": answer.query, "rows": answer.rows}
    finally:
        hub.close()

    def text() -> None:
        print(json.dumps(document, indent=2, default=str))

    emit(args, document, text)
    return EXIT_OK
