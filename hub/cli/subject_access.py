"""`hub sar open|list|show|decide|extend|verify|pack`: subject access requests as cases
(docs/audit.md, "Subject access requests")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.cli.common import EXIT_FAILED, EXIT_OK, emit, open_hub
from hub.domain.canonical_event import child_ref
from hub.domain.subject_access import (
    EXEMPTIONS,
    MAX_EXTENSION_MONTHS,
    Decision,
    DecisionType,
    Requester,
    RequesterBasis,
    SubjectAccessError,
)
from hub.domain.uk_time import uk_date
from hub.subject_access_cases import Case, Draft


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    sar = commands.add_parser(
        "sar", help="subject access requests: open a case, decide each flagged item, build the pack"
    )
    sub = sar.add_subparsers(dest="sar_command", required=True)

    def command(name: str, text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        parser = sub.add_parser(name, parents=[common, formatted], help=text)
        parser.add_argument("--as", dest="as_practitioner", required=True, help="your DPO id")
        parser.set_defaults(handler=lambda args: _run(handler, args))
        return parser

    opened = command("open", "open a case for a subject access request about a child", cmd_open)
    opened.add_argument("child", help="the child's NHS number or provisional id")
    opened.add_argument("--requester", required=True, help="the requester's name")
    opened.add_argument(
        "--basis",
        required=True,
        choices=[b.value for b in RequesterBasis],
        help="the child; a person with parental responsibility; a representative",
    )
    opened.add_argument(
        "--authority",
        help="a representative's authority, as seen (e.g. 'signed consent of the child')",
    )
    opened.add_argument(
        "--received", required=True, type=_date, help="the day the request arrived (YYYY-MM-DD)"
    )
    opened.add_argument(
        "--identity-verified", metavar="HOW", help="how the requester's identity was confirmed"
    )
    opened.add_argument(
        "--identity-verified-on",
        type=_date,
        metavar="DATE",
        help="when it was confirmed, if after the request arrived (the clock runs from then)",
    )
    command("list", "the cases you may see, with their statutory clocks", cmd_list)
    show = command("show", "the draft: each item, what needs a decision, decisions", cmd_show)
    show.add_argument("case", metavar="CASE", help="the case reference, SAR-...")
    decide = command("decide", "record a decision on one item of the draft", cmd_decide)
    decide.add_argument("case", metavar="CASE")
    decide.add_argument("item", metavar="ITEM", help="the item, agency/event_id@revision")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--release", action="store_true", help="release it as it is")
    choice.add_argument(
        "--redact",
        nargs="+",
        metavar="FIELD",
        help="release it with these fields redacted (summary, details.NAME); needs --exemption",
    )
    choice.add_argument(
        "--withhold", metavar="EXEMPTION", choices=list(EXEMPTIONS), help="leave it out"
    )
    decide.add_argument(
        "--exemption", choices=list(EXEMPTIONS), help="with --redact: the exemption relied on"
    )
    decide.add_argument("--reason", required=True, help="why (kept with the decision)")
    decide.add_argument(
        "--opinion",
        help="serious-harm-health: the appropriate health professional's opinion (who, when)",
    )
    extend = command("extend", "extend the time limit by one or two months (once)", cmd_extend)
    extend.add_argument("case", metavar="CASE")
    extend.add_argument(
        "--months", required=True, type=int, choices=range(1, MAX_EXTENSION_MONTHS + 1)
    )
    extend.add_argument("--reason", required=True, help="why (complexity, number of requests)")
    extend.add_argument(
        "--requester-told",
        required=True,
        type=_date,
        metavar="DATE",
        help="when the requester was told (within the first month)",
    )
    verify = command("verify", "record how the requester's identity was confirmed", cmd_verify)
    verify.add_argument("case", metavar="CASE")
    verify.add_argument("--how", required=True, help="how it was confirmed")
    verify.add_argument("--on", type=_date, help="when (default today)")
    pack = command("pack", "build the final pack (pack.json, pack.pdf): audited", cmd_pack)
    pack.add_argument("case", metavar="CASE")
    pack.add_argument("--out", required=True, type=Path, help="a directory to write the pack to")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date, YYYY-MM-DD") from None


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Refusals of what a DPO entered say which field and why (never the value), exit 1."""
    try:
        return handler(args)
    except SubjectAccessError as error:
        print(f"hub: {error}", file=sys.stderr)
        return EXIT_FAILED


def _case_lines(case: Case) -> None:
    requester = case.requester
    print(f"{case.id}: child {case.child}; {case.clock.status.value}; {case.clock.text}")
    print(f"  requested by {requester.name}, {requester.basis_label}")
    if requester.authority:
        print(f"  authority seen: {requester.authority}")
    print(
        f"  received {case.received:%-d %B %Y}; identity "
        + (
            f"confirmed ({case.identity_verified})"
            if case.identity_verified
            else "NOT yet confirmed"
        )
    )
    if case.extension is not None:
        print(
            f"  extended by {case.extension.months} month(s): {case.extension.reason} (requester "
            f"told {case.extension.requester_told:%-d %B %Y})"
        )
    for pack in case.packs:
        print(f"  pack released {uk_date(pack.timestamp):%-d %B %Y}, audit {pack.audit_ref}")


def cmd_open(args: argparse.Namespace) -> int:
    child = child_ref(args.child)
    requester = Requester(args.requester, RequesterBasis(args.basis), args.authority)
    hub = open_hub(args)
    try:
        case = hub.subject_access.open(
            args.as_practitioner,
            child,
            requester,
            args.received,
            identity_verified=args.identity_verified,
            identity_verified_on=args.identity_verified_on,
        )
    finally:
        hub.close()
    emit(args, case.as_dict(), lambda: _case_lines(case))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        cases = hub.subject_access.cases(args.as_practitioner)
    finally:
        hub.close()

    def text() -> None:
        print(f"{len(cases)} subject access case(s)")
        for case in cases:
            _case_lines(case)

    emit(args, {"cases": [c.as_dict() for c in cases]}, text)
    return EXIT_OK


def _draft_lines(draft: Draft) -> None:
    _case_lines(draft.case)
    needing = sum(1 for i in draft.items if i.needs_decision)
    print(
        f"draft: {len(draft.items)} item(s), {needing} need a decision, "
        f"{len(draft.undecided)} undecided; audit {draft.audit_ref}"
    )
    for reason in draft.denied_reasons:
        print(f"  not shown: {reason}")
    for item in draft.items:
        entry = item.entry
        state = (
            "no decision needed"
            if not item.needs_decision and item.decision is None
            else "UNDECIDED"
            if item.decision is None
            else item.decision.as_dict()["decision_text"]
        )
        print(f"\n{entry.ref} ({entry.kind}, {uk_date(entry.occurred_at):%-d %b %Y}): {state}")
        print(f"  summary: {entry.summary}")
        if entry.provenance_text:
            print(f"  source: {entry.provenance_text}")
        for flag, note in zip(
            [f.value for f in item.flags.flags], item.as_dict()["flag_texts"], strict=True
        ):
            print(f"  flag {flag}: {note}")
        for note in item.flags.notes:
            print(f"    {note}")
        for withholding in item.flags.withholdings:
            print(
                f"    withheld: {withholding.get('reason')} (decided by "
                f"{withholding.get('decided_by')}, review by {withholding.get('review_by')})"
            )
        if item.decision is not None:
            decided = item.decision.as_dict()
            why = f" under {decided['exemption_text']}" if decided["exemption_text"] else ""
            fields = f" fields {', '.join(decided['fields'])}" if decided["fields"] else ""
            print(f"  decided by {decided['decided_by']}{why}{fields}: {decided['reason']}")
    for entry in draft.not_yours:
        print(f"\nnot yours to decide: {entry.summary}")


def cmd_show(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        draft = hub.subject_access.draft(args.as_practitioner, args.case)
    finally:
        hub.close()
    emit(args, draft.as_dict(), lambda: _draft_lines(draft))
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    if args.release:
        decision = Decision(DecisionType.RELEASE, args.reason, args.exemption, (), args.opinion)
    elif args.redact:
        decision = Decision(
            DecisionType.RELEASE_REDACTED,
            args.reason,
            args.exemption,
            tuple(args.redact),
            args.opinion,
        )
    else:
        if args.exemption and args.exemption != args.withhold:
            raise SubjectAccessError("exemption: --withhold names the exemption already")
        decision = Decision(DecisionType.WITHHOLD, args.reason, args.withhold, (), args.opinion)
    hub = open_hub(args)
    try:
        recorded = hub.subject_access.record_decision(
            args.as_practitioner, args.case, args.item, decision
        )
    finally:
        hub.close()
    document = recorded.as_dict()
    emit(
        args,
        document,
        lambda: print(f"{recorded.item}: {document['decision_text']}; the decision is recorded"),
    )
    return EXIT_OK


def cmd_extend(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        case = hub.subject_access.extend(
            args.as_practitioner, args.case, args.months, args.reason, args.requester_told
        )
    finally:
        hub.close()
    emit(args, case.as_dict(), lambda: _case_lines(case))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        on = args.on or uk_date(datetime.now(UTC))
        case = hub.subject_access.verify_identity(args.as_practitioner, args.case, args.how, on)
    finally:
        hub.close()
    emit(args, case.as_dict(), lambda: _case_lines(case))
    return EXIT_OK


def cmd_pack(args: argparse.Namespace) -> int:
    from hub.reports.subject_access_pack import render_json, render_pdf

    hub = open_hub(args)
    try:
        pack = hub.subject_access.pack(args.as_practitioner, args.case)
    finally:
        hub.close()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "pack.json").write_text(render_json(pack), encoding="utf-8")
    (out / "pack.pdf").write_bytes(render_pdf(pack))
    document = {
        "case": pack.case.id,
        "audit_ref": pack.audit_ref,
        "records": len(pack.document["records"]),
        "files": [str(out / "pack.json"), str(out / "pack.pdf")],
    }

    def text() -> None:
        print(
            f"{pack.case.id}: pack released ({len(pack.document['records'])} records), audit "
            f"{pack.audit_ref}; written to {out / 'pack.json'} and {out / 'pack.pdf'}"
        )

    emit(args, document, text)
    return EXIT_OK
