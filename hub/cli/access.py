"""Commands that disclose: the chronology, and data protection officers' audit queries."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hub.cli.common import EXIT_DENIED, EXIT_OK, child_ref, emit, open_hub


def _print_chronology(view: Any) -> None:
    who = view.practitioner
    print(
        f"{who.id} ({who.role.value}, {who.organisation}) for {view.purpose or 'no stated purpose'}"
    )
    print(f"agreement {view.agreement_version}; relationship: {view.relationship or 'none'}")
    if view.break_glass is not None:
        print(
            f"BREAK-GLASS ACCESS until {view.break_glass.expires_at:%Y-%m-%d %H:%M} UTC: "
            f"{view.break_glass.reason}"
        )
    print(f"outcome: {view.outcome}; {len(view.entries)} entries; audit {view.audit_ref}")
    for reason in view.denied_reasons:
        print(f"  denied: {reason}")
    for e in view.entries:
        marks = [] if e.status == "current" else [f"{e.status} by {e.replaced_by}"]
        marks += [f"redacted {', '.join(e.redacted)}"] if e.redacted else []
        suffix = f"  [{'; '.join(marks)}]" if marks else ""
        print(
            f"  {e.occurred_at:%Y-%m-%d %H:%M}  rec {e.recorded_at:%Y-%m-%d}  {e.agency:<22} "
            f"{e.kind:<36} {e.summary}{suffix}"
        )
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
    shown = ("disclosed", "partially-disclosed", "erased")
    return EXIT_OK if view.outcome in shown else EXIT_DENIED


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
