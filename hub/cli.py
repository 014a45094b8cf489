"""`hub`: the command line for operators, integrators and the demo.

Exit codes: 0 done; 1 failed (nothing half-done); 2 bad usage; 3 done, but some input was
rejected (adapter problems or quarantined messages) and is listed in the output; 4 access
denied (audited; the output says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from hub.structured_logging import configure_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED_INPUT, EXIT_DENIED = 0, 1, 2, 3, 4


class CliError(Exception):
    """An error to print for the user, without a traceback."""


def _settings(args: argparse.Namespace) -> HubSettings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return HubSettings(**overrides)


def _open(args: argparse.Namespace) -> Hub:
    settings = _settings(args)
    configure_logging(settings.log_level if not args.quiet else "warning")
    return bootstrap(settings)


def _emit(args: argparse.Namespace, document: Any, text: Callable[[], None]) -> None:
    if getattr(args, "format", "text") == "json":
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        text()


def cmd_schema(args: argparse.Namespace) -> int:
    from hub.domain.canonical_event import canonical_json_schema

    json.dump(canonical_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from hub.reports import store_status

    hub = _open(args)
    try:
        status = store_status(hub.store, hub.settings.describe_store())
    finally:
        hub.close()
    document = {
        "store": status.store,
        "events": status.events,
        "children": status.children,
        "agencies": status.events_by_agency,
        "duplicates": status.duplicates,
        "quarantined": status.quarantined,
        "stored_rows": status.stored_rows,
        "sources": [vars(s) for s in status.sources],
    }

    def text() -> None:
        print(f"store        {status.store}")
        print(f"events       {status.events:,} in {status.children:,} child streams")
        for agency, count in status.events_by_agency.items():
            print(f"  {agency:<28} {count:>9,}")
        print(f"duplicates   {status.duplicates:,} (no-ops)")
        print(f"quarantined  {status.quarantined:,} (hub quarantine list)")
        print("transport positions (last committed):")
        for s in status.sources:
            print(
                f"  {s.source:<48} position {s.position}  consumed {s.consumed:,} = "
                f"{s.accepted:,} accepted + {s.duplicates:,} duplicates + "
                f"{s.quarantined:,} quarantined"
            )

    _emit(args, document, text)
    return EXIT_OK


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    import base64

    from hub.reports import quarantined_messages

    hub = _open(args)
    try:
        items = quarantined_messages(hub.store)
    finally:
        hub.close()
    document = [
        {
            "source": i.source,
            "position": i.position,
            "received_at": i.received_at.isoformat(),
            "reason_code": i.reason_code,
            "reason": i.reason,
            "size_bytes": i.size_bytes,
            **({"raw_base64": base64.b64encode(i.raw).decode()} if args.include_raw else {}),
        }
        for i in items
    ]

    def text() -> None:
        if not items:
            print("nothing quarantined")
        for i in items:
            print(
                f"{i.source} #{i.position}  [{i.reason_code}] {i.reason}  ({i.size_bytes:,} bytes)"
            )

    _emit(args, document, text)
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from hub.ingest import BatchOutcome

    hub = _open(args)
    outcomes: list[BatchOutcome] = []
    try:
        if args.inbox:
            from hub.adapters.transports.inbox import FileInbox

            inbox = FileInbox(Path(args.inbox))
            outcomes = inbox.drain(hub.ingest, hub.settings.batch_size)
            while not args.once:
                import time

                time.sleep(1.0)  # the inbox is polled: new files and appended lines
                outcomes.extend(inbox.drain(hub.ingest, hub.settings.batch_size))
        else:
            from hub.adapters.transports.kafka import KafkaIngestRunner

            runner = KafkaIngestRunner(
                args.kafka,
                hub.ingest,
                batch_size=hub.settings.batch_size,
                bootstrap_timeout_ms=hub.settings.kafka_bootstrap_timeout_ms,
            )
            try:
                outcomes = runner.run(once=args.once)
            finally:
                runner.close()
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()
    totals = {
        "accepted": sum(o.accepted for o in outcomes),
        "duplicates": sum(o.duplicates for o in outcomes),
        "quarantined": sum(sum(o.quarantined.values()) for o in outcomes),
        "already_recorded": sum(o.skipped_already_recorded for o in outcomes),
    }

    def text() -> None:
        print(
            f"ingested {totals['accepted']:,} events, {totals['duplicates']:,} duplicates, "
            f"{totals['quarantined']:,} quarantined"
        )

    _emit(args, totals, text)
    return EXIT_REJECTED_INPUT if totals["quarantined"] else EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from hub.adapters.agencies.registry import get_adapter

    adapter = get_adapter(args.adapter)
    result = adapter.read(Path(args.file), args.agency)
    document: dict[str, Any] = {
        "adapter": adapter.name,
        "agency": args.agency,
        "events": len(result.events),
        "problems": [vars(p) for p in result.problems],
    }
    if args.inbox:
        from hub.adapters.transports.inbox import encode_events, write_inbox_file

        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{Path(args.file).stem}"
        document["written_to"] = str(
            write_inbox_file(Path(args.inbox), args.agency, name, encode_events(result.events))
        )
    else:
        from hub.adapters.transports.kafka import publish_events

        hub = _open(args)
        try:
            receipt = publish_events(args.kafka, args.agency, result.events, hub.pseudonyms)
        finally:
            hub.close()
        document["written_to"] = f"kafka topic {receipt.topic}"

    def text() -> None:
        print(f"{adapter.name}: {len(result.events):,} events -> {document['written_to']}")
        for p in result.problems:
            print(f"  not mapped: {p.file}:{p.line}: {p.reason}")

    _emit(args, document, text)
    return EXIT_REJECTED_INPUT if result.problems else EXIT_OK


def cmd_identity_issue(args: argparse.Namespace) -> int:
    from hub.identities import IdentityService

    hub = _open(args)
    try:
        provisional_id = IdentityService(hub.store, hub.pseudonyms).issue_provisional(args.agency)
    finally:
        hub.close()
    _emit(args, {"provisional_id": provisional_id}, lambda: print(provisional_id))
    return EXIT_OK


def _child(identifier: str) -> Any:
    from hub.domain.canonical_event import ChildRef

    if identifier.strip().upper().startswith("PRV-"):
        return ChildRef(provisional_id=identifier)
    return ChildRef(nhs_number=identifier)


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

    hub = _open(args)
    try:
        view = hub.chronology.view(
            _child(args.child),
            args.as_practitioner,
            Purpose(args.purpose) if args.purpose else None,
            break_glass_reason=args.break_glass,
        )
    finally:
        hub.close()
    _emit(args, view.as_dict(), lambda: _print_chronology(view))
    return EXIT_OK if view.outcome in ("disclosed", "partially-disclosed") else EXIT_DENIED


def cmd_audit(args: argparse.Namespace) -> int:
    hub = _open(args)
    queries = hub.audit_queries
    try:
        if args.sar:
            document: Any = queries.subject_access(args.as_practitioner, _child(args.sar))
        elif args.commission_review:
            commission = queries.commission_review(
                args.as_practitioner,
                _child(args.commission_review),
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
                answer = queries.who_saw_child(args.as_practitioner, _child(args.child))
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

    _emit(args, document, text)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    settings = _settings(args)
    configure_logging("error")  # the report lists what was quarantined and why
    report = run_demo(settings, children=args.children, seed=args.seed)
    _emit(args, report.as_dict(), report.print)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from hub.domain.access import Purpose

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="where the embedded store and keys live (env HUB_DATA_DIR)"
    )
    common.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    formatted = argparse.ArgumentParser(add_help=False)
    formatted.add_argument("--format", choices=["text", "table", "json"], default="text")

    parser = argparse.ArgumentParser(
        prog="hub", description="Multi-agency child safeguarding information-sharing hub."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", parents=[common, formatted], help="run a synthetic partnership end to end"
    )
    demo.add_argument("--children", type=int, default=2000, help="population size (default 2000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=cmd_demo)

    ingest = commands.add_parser(
        "ingest", parents=[common, formatted], help="ingest from the file inbox or Kafka"
    )
    source = ingest.add_mutually_exclusive_group(required=True)
    source.add_argument("--inbox", metavar="DIR", help="directory of <agency-id>/*.jsonl files")
    source.add_argument("--kafka", metavar="HOST:PORT", help="Kafka bootstrap server")
    ingest.add_argument("--once", action="store_true", help="take what is there, then exit")
    ingest.set_defaults(handler=cmd_ingest)

    publish = commands.add_parser(
        "publish", parents=[common, formatted], help="run an agency export through its adapter"
    )
    publish.add_argument(
        "--adapter", required=True, help="la-csv, police-json, health-fhir or school-csv"
    )
    publish.add_argument("--agency", required=True, help="the publishing agency's hub id")
    publish.add_argument("--file", required=True, help="the agency's native export file")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--inbox", metavar="DIR")
    target.add_argument("--kafka", metavar="HOST:PORT")
    publish.set_defaults(handler=cmd_publish)

    quarantine = commands.add_parser("quarantine", help="messages ingest could not accept")
    quarantine_commands = quarantine.add_subparsers(dest="quarantine_command", required=True)
    q_list = quarantine_commands.add_parser(
        "list", parents=[common, formatted], help="list quarantined messages"
    )
    q_list.add_argument(
        "--include-raw", action="store_true", help="include raw bytes (base64; personal data)"
    )
    q_list.set_defaults(handler=cmd_quarantine_list)

    status = commands.add_parser(
        "status", parents=[common, formatted], help="events, children, agencies, positions"
    )
    status.set_defaults(handler=cmd_status)

    schema = commands.add_parser("schema", help="print the canonical event JSON Schema (v1)")
    schema.set_defaults(handler=cmd_schema)

    chronology = commands.add_parser(
        "chronology",
        parents=[common, formatted],
        help="a child's multi-agency chronology, policy-checked and audited",
    )
    chronology.add_argument("child", help="NHS number or provisional id")
    chronology.add_argument("--as", dest="as_practitioner", required=True, help="practitioner id")
    chronology.add_argument(
        "--purpose",
        choices=[p.value for p in Purpose],
        help="why you need it (required to see anything)",
    )
    chronology.add_argument(
        "--break-glass",
        metavar="REASON",
        help="emergency access without a relationship (time-limited, reviewed)",
    )
    chronology.set_defaults(handler=cmd_chronology)

    audit = commands.add_parser(
        "audit", parents=[common, formatted], help="data protection officer queries (audited)"
    )
    audit.add_argument(
        "--as", dest="as_practitioner", required=True, help="the data protection officer's id"
    )
    query = audit.add_mutually_exclusive_group(required=True)
    query.add_argument("--child", help="who saw this child's record, and when")
    query.add_argument("--practitioner", help="what this practitioner saw")
    query.add_argument(
        "--break-glass", action="store_true", help="break-glass access awaiting review"
    )
    query.add_argument(
        "--withheld", action="store_true", help="items withheld from some recipients"
    )
    query.add_argument(
        "--outside-relationship",
        action="store_true",
        help="access without a legitimate relationship",
    )
    query.add_argument(
        "--broad-access", action="store_true", help="practitioners who saw unusually many children"
    )
    query.add_argument("--sar", metavar="CHILD", help="subject access export for a child")
    query.add_argument("--review", metavar="GRANT", help="mark a break-glass grant reviewed")
    query.add_argument(
        "--commission-review",
        metavar="CHILD",
        help="commission a practice review (needs --reviewer, --notes)",
    )
    audit.add_argument("--reviewer", help="the practice reviewer's id, with --commission-review")
    audit.add_argument("--days", type=int, default=90, help="how long the review commission lasts")
    audit.add_argument("--outcome", choices=["appropriate", "inappropriate"], default="appropriate")
    audit.add_argument("--notes")
    audit.set_defaults(handler=cmd_audit)

    identity = commands.add_parser("identity", help="child identifiers")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True)
    issue = identity_commands.add_parser(
        "issue", parents=[common, formatted], help="issue a provisional child id"
    )
    issue.add_argument("--agency", required=True, help="the agency asking for it")
    issue.set_defaults(handler=cmd_identity_issue)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except CliError as error:
        print(f"hub: {error}", file=sys.stderr)
        return EXIT_FAILED
    except PermissionError as error:
        print(f"hub: refused: {error}", file=sys.stderr)
        return EXIT_DENIED
    except (OSError, ValueError, LookupError) as error:
        print(f"hub: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        from kafka.errors import KafkaError

        from hub.audit import AuditUnavailableError

        if isinstance(error, AuditUnavailableError):
            print(f"hub: {error}", file=sys.stderr)
            return EXIT_FAILED
        if not isinstance(error, KafkaError):
            raise
        print(f"hub: Kafka: {error}", file=sys.stderr)
        return EXIT_FAILED
    return result


if __name__ == "__main__":
    sys.exit(main())
