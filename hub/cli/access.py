"""Commands that disclose: the chronology, and data protection officers' audit queries."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub.chronology_header import ChildHeader, child_header
from hub.cli.common import EXIT_DENIED, EXIT_OK, EXIT_USAGE, emit, open_hub
from hub.cli.find import HOW_TO_FIND
from hub.domain.canonical_event import ChildRef, child_ref
from hub.domain.identity import InvalidIdentifierError
from hub.domain.uk_time import UK, parse_from, uk_datetime_text, uk_time_text
from hub.reports.chronology_text import chronology_lines, header_lines, terminal_width


def _print_chronology(view: Any, header: ChildHeader) -> None:
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
    if view.entries:
        for line in header_lines(header):
            print(line)
    for line in chronology_lines(view.entries):
        print(line)
    for flag in view.patterns:
        print(f"  PATTERN {flag.code}: {flag.description}")


def child_argument(command: str, text: str) -> ChildRef | None:
    """The CHILD argument as a child reference; or None, having said on stderr what is wrong
    with it (never repeating it: it may be a name) and how to find a child by name instead."""
    try:
        return child_ref(text)
    except InvalidIdentifierError as error:
        print(
            f"hub {command}: CHILD must be an NHS number or a provisional id: {error}.\n"
            f"  {HOW_TO_FIND}",
            file=sys.stderr,
        )
        return None


def cmd_chronology(args: argparse.Namespace) -> int:
    from hub.domain.access import Purpose

    child = child_argument("chronology", args.child)
    if child is None:
        return EXIT_USAGE
    hub = open_hub(args)
    try:
        view = hub.gate.view(
            child,
            args.as_practitioner,
            Purpose(args.purpose) if args.purpose else None,
            break_glass_reason=args.break_glass,
        )
        register = {r.agency_id: r for r in hub.agencies.all()}
        header = child_header(view, register, hub.directory.get, datetime.now(UK).date())
    finally:
        hub.close()
    document = {**view.as_dict(), "header": header.as_dict()}
    emit(args, document, lambda: _print_chronology(view, header))
    # Only a refusal is "access denied": a child the hub holds nothing about (outcome
    # "no-record") or whose record was erased is an answer, not a refusal.
    return EXIT_DENIED if view.outcome == "denied" else EXIT_OK


def cmd_break_glass_end(args: argparse.Namespace) -> int:
    """The practitioner ends their own emergency access to a child: the emergency is over."""
    child = child_argument("break-glass end", args.child)
    if child is None:
        return EXIT_USAGE
    hub = open_hub(args)
    try:
        ended = hub.gate.end_break_glass(child, args.as_practitioner)
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


_LISTING = ("child", "practitioner", "break_glass", "outside_relationship")
_ROWS = (*_LISTING, "withheld", "broad_access")


def from_argument(text: str) -> datetime:
    """`--from`: the start of what it names (a date is the whole day, in UK time)."""
    try:
        return parse_from(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _audit_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options, if anything (argparse cannot say)."""
    listing = any(getattr(args, name) for name in _LISTING)
    if (args.since or args.until) and not listing:
        return (
            "--from/--to filter --child, --practitioner, --break-glass and "
            "--outside-relationship (--broad-access has its own window)"
        )
    if args.since and args.until and args.since > args.until:
        return "--from is after --to: nothing can fall between them"
    if args.format == "csv" and not any(getattr(args, name) for name in _ROWS):
        return "--format csv is for the audit queries that list rows, not this one"
    if args.format == "fhir" and not (args.child or args.practitioner or args.outside_relationship):
        return (
            "--format fhir is for the disclosure queries (--child, --practitioner, "
            "--outside-relationship)"
        )
    return None


def _audit_answer(args: argparse.Namespace, queries: Any) -> Any:
    who, period = args.as_practitioner, {"since": args.since, "until": args.until}
    if args.child:
        return queries.who_saw_child(who, child_ref(args.child), **period)
    if args.practitioner:
        return queries.what_practitioner_saw(who, args.practitioner, **period)
    if args.break_glass:
        return queries.break_glass(who, **period)
    if args.withheld:
        return queries.withheld(who)
    if args.outside_relationship:
        return queries.outside_relationship(who, **period)
    return queries.broad_access(who)


def _audit_action(args: argparse.Namespace, queries: Any) -> tuple[Any, Callable[[], None]]:
    """A subject access export, a review commission or a break-glass review: the document,
    and how it reads as text."""
    if args.sar:
        document = queries.subject_access(args.as_practitioner, child_ref(args.sar))
        return document, lambda: print(json.dumps(document, indent=2, default=str))
    if args.commission_review:
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
        return document, lambda: print(
            f"review commissioned: {commission.reviewer_id} is related to the child from "
            f"{uk_datetime_text(commission.starts_at)} until {uk_datetime_text(commission.ends_at)}"
        )
    queries.review_break_glass(args.as_practitioner, args.review, args.outcome, args.notes or "")
    document = {"reviewed": args.review, "outcome": args.outcome}
    return document, lambda: print(f"break-glass grant {args.review} reviewed: {args.outcome}")


def cmd_audit(args: argparse.Namespace) -> int:
    from hub.reports.audit_csv import audit_csv
    from hub.reports.audit_table import audit_text
    from hub.reports.audit_words import AuditNames, child_streams, organisation_names

    if (problem := _audit_usage(args)) is not None:
        print(f"hub audit: {problem}", file=sys.stderr)
        return EXIT_USAGE
    hub = open_hub(args)
    queries = hub.audit_queries
    try:
        if args.sar or args.commission_review or args.review:
            document, text = _audit_action(args, queries)
            emit(args, document, text)
            return EXIT_OK
        answer = _audit_answer(args, queries)
        names = None
        if args.format != "json":  # names and children for a person to read
            directory = hub.directory
            names = AuditNames(
                practitioners=directory.get,
                organisations=organisation_names(hub.agencies.all()),
                children=queries.child_identities(args.as_practitioner, child_streams(answer)),
            )
    finally:
        hub.close()
    if names is None:
        emit(args, {"query": answer.query, "rows": answer.rows}, lambda: None)
    elif args.format == "csv":
        sys.stdout.write(audit_csv(answer, names))
    elif args.format == "fhir":
        from datetime import UTC, datetime

        from hub.reports.audit_fhir import audit_fhir

        sys.stdout.write(audit_fhir(answer, names, datetime.now(UTC).isoformat()))
    else:
        subject = args.child if args.child else names.practitioner(args.practitioner or "") or None
        sys.stdout.write(
            audit_text(
                answer,
                names,
                subject=subject if (args.child or args.practitioner) else None,
                since=args.since,
                until=args.until,
                width=terminal_width(),
            )
        )
    return EXIT_OK
