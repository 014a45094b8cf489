"""`hub`: the command line for operators, integrators and the demo.

Exit codes: 0 done; 1 failed (nothing half-done); 2 bad usage; 3 done, but some input was
rejected (adapter problems or quarantined messages) and is listed in the output; 4 access
denied (audited; the output says why); 5 verification failed (tampering found and named).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from hub.adapters.file_modes import keep_new_files_private
from hub.bootstrap import NoHubError
from hub.cli.access import cmd_audit, cmd_break_glass_end, cmd_chronology, from_argument
from hub.cli.agencies import add_commands as add_agency_commands
from hub.cli.common import EXIT_DENIED, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from hub.cli.consumers import add_commands as add_consumer_commands
from hub.cli.federation import (
    add_run_options,
    cmd_federation_answer,
    cmd_federation_ask,
    cmd_federation_identity,
    cmd_federation_partners,
    cmd_federation_publish_holdings,
    cmd_federation_receive,
)
from hub.cli.federation_transfer import add_transfer_command
from hub.cli.find import add_commands as add_find_commands
from hub.cli.governance import add_commands as add_governance_commands
from hub.cli.integrity import cmd_checkpoint, cmd_verify
from hub.cli.keys import cmd_keys_init, cmd_keys_retention, cmd_keys_rotate, cmd_keys_shred
from hub.cli.operations import (
    cmd_demo,
    cmd_identity_issue,
    cmd_ingest,
    cmd_publish,
    cmd_quarantine_list,
    cmd_schema,
    cmd_status,
)
from hub.cli.replay import as_of_argument, cmd_projection_rebuild, cmd_replay
from hub.cli.serve import cmd_serve, cmd_token_issue
from hub.cli.subject_access import add_commands as add_subject_access_commands
from hub.cli.withholdings import add_commands as add_withholding_commands
from hub.domain.data_protection import RETENTION_YEARS_AFTER_LAST_EVENT


def _installed_version() -> str:
    """The version of the installed package (its metadata), as pip and the wheel know it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("safeguarding-hub")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def cmd_completion(args: argparse.Namespace) -> int:
    """The completion script for `args.shell`, generated from the parser itself (shtab): no
    hook runs at completion time, so it stays as fast as the shell."""
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from hub.domain.access import CHRONOLOGY_PURPOSES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="where the embedded store and keys live (env HUB_DATA_DIR)"
    )
    common.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    formatted = argparse.ArgumentParser(add_help=False)
    formatted.add_argument(
        "--format",
        choices=["text", "table", "json", "html", "pdf"],
        default="text",
        help="html and pdf: `hub replay` review packs only",
    )

    parser = argparse.ArgumentParser(
        prog="hub", description="Multi-agency child safeguarding information-sharing hub."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or tcsh) to source or install",
    )
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    completion.set_defaults(handler=cmd_completion)

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
    ingest.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Kafka: how many ingest workers share the agency topics' partitions (default 1)",
    )
    ingest.add_argument(
        "--worker-index",
        default="0",
        help="Kafka: this worker's index, 0..workers-1, or 'auto': the hostname's trailing "
        "-<n> (a Kubernetes StatefulSet ordinal)",
    )
    ingest.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /readyz")
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
        "--include-raw",
        action="store_true",
        help="include the raw bytes (base64; may hold personal data): a data protection "
        "officer's action, audited (needs --as)",
    )
    q_list.add_argument("--as", dest="as_practitioner", help="with --include-raw: your DPO id")
    q_list.set_defaults(handler=cmd_quarantine_list)

    status = commands.add_parser(
        "status", parents=[common, formatted], help="events, children, agencies, positions"
    )
    status.add_argument(
        "--inbox", metavar="DIR", help="also list what the file inbox DIR holds but cannot read"
    )
    status.set_defaults(handler=cmd_status)

    schema = commands.add_parser("schema", help="print the canonical event JSON Schema (v1)")
    schema.set_defaults(handler=cmd_schema)

    chronology = commands.add_parser(
        "chronology",
        parents=[common, formatted],
        help="a child's multi-agency chronology, policy-checked and audited",
    )
    chronology.add_argument(
        "child", help="NHS number or provisional id (to find one by name: hub find)"
    )
    chronology.add_argument("--as", dest="as_practitioner", required=True, help="practitioner id")
    chronology.add_argument(
        "--purpose",
        choices=[p.value for p in CHRONOLOGY_PURPOSES],
        help="why you need it (required to see anything)",
    )
    chronology.add_argument(
        "--break-glass",
        metavar="REASON",
        help="emergency access without a relationship (time-limited, reviewed)",
    )
    chronology.set_defaults(handler=cmd_chronology)

    glass = commands.add_parser("break-glass", help="emergency access you hold")
    glass_commands = glass.add_subparsers(dest="glass_command", required=True)
    end = glass_commands.add_parser(
        "end",
        parents=[common, formatted],
        help="end your emergency access to a child now (the emergency is over)",
    )
    end.add_argument("child", help="NHS number or provisional id")
    end.add_argument("--as", dest="as_practitioner", required=True, help="your practitioner id")
    end.set_defaults(handler=cmd_break_glass_end)

    audit = commands.add_parser(
        "audit", parents=[common], help="data protection officer queries (audited)"
    )
    audit.add_argument(
        "--as", dest="as_practitioner", required=True, help="the data protection officer's id"
    )
    audit.add_argument(
        "--format",
        choices=["text", "json", "csv", "fhir"],
        default="text",
        help="text: a table with names and UK times; csv: one row per disclosure; json: the "
        "machine form (ids, child pseudonyms, ISO 8601 times); fhir: disclosures as IHE BALP "
        "AuditEvents in a FHIR R4 Bundle, for a SIEM",
    )
    audit.add_argument(
        "--from",
        dest="since",
        metavar="WHEN",
        type=from_argument,
        help="disclosures (break-glass: grants) from then on: a date (the whole day) or "
        "YYYY-MM-DDTHH:MM, UK time unless a zone is given",
    )
    audit.add_argument(
        "--to",
        dest="until",
        metavar="WHEN",
        type=as_of_argument,
        help="up to then: a date (the whole day, so --to 2026-03-31 includes 31 March) or a time",
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
    audit.add_argument(
        "--days",
        type=int,
        default=90,
        help="days the review commission lasts (90; at most HUB_REVIEW_COMMISSION_MAX_DAYS)",
    )
    audit.add_argument("--outcome", choices=["appropriate", "inappropriate"], default="appropriate")
    audit.add_argument("--notes")
    audit.set_defaults(handler=cmd_audit)

    serve = commands.add_parser("serve", parents=[common], help="run the HTTP API and web pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--metrics-port", type=int, help="serve /metrics, /healthz, /readyz on this port"
    )
    serve.set_defaults(handler=cmd_serve)

    token = commands.add_parser("token", help="development bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue_token = token_commands.add_parser(
        "issue", parents=[common, formatted], help="sign a development token with the local key"
    )
    who = issue_token.add_mutually_exclusive_group(required=True)
    who.add_argument("--practitioner", help="a practitioner id from the directory")
    who.add_argument("--agency", help="an agency id (for publishing events over HTTPS)")
    issue_token.add_argument("--minutes", type=int, default=60)
    issue_token.set_defaults(handler=cmd_token_issue)

    replay = commands.add_parser(
        "replay", parents=[common, formatted], help="the record as it stood at a past moment"
    )
    replay.add_argument("child", help="NHS number or provisional id")
    replay.add_argument(
        "--as-of",
        required=True,
        type=as_of_argument,
        help="a date (the end of that day in England) or a date and time (UK time unless a zone "
        "is given; to the minute, the end of that minute): the same reading as the API and pages",
    )
    replay.add_argument("--by", required=True, help="the reviewer (commissioned) or DPO asking")
    replay.add_argument(
        "--as", dest="as_practitioner", help="also: what this practitioner saw then"
    )
    replay.add_argument("--out", help="write an html or pdf review pack here")
    replay.set_defaults(handler=cmd_replay)

    projection = commands.add_parser("projection", help="the chronology projection")
    projection_commands = projection.add_subparsers(dest="projection_command", required=True)
    rebuild = projection_commands.add_parser(
        "rebuild", parents=[common, formatted], help="rebuild from zero, showing progress and rate"
    )
    rebuild.set_defaults(handler=cmd_projection_rebuild)

    checkpoint = commands.add_parser(
        "checkpoint", parents=[common, formatted], help="sign a Merkle checkpoint of both logs"
    )
    checkpoint.add_argument("--out", help="where to write the witness file for partners")
    checkpoint.set_defaults(handler=cmd_checkpoint)
    verify = commands.add_parser(
        "verify", parents=[common, formatted], help="check the logs against signed checkpoints"
    )
    verify.add_argument("--checkpoint", metavar="FILE", help="a witness file a partner kept")
    verify.add_argument(
        "--event", metavar="REF", help="inclusion proof: agency/event_id@revision or audit:STREAM@V"
    )
    verify.set_defaults(handler=cmd_verify)

    federation = commands.add_parser("federation", help="this hub toward partner hubs")
    federation_commands = federation.add_subparsers(dest="federation_command", required=True)
    federation_commands.add_parser(
        "identity", parents=[common, formatted], help="this hub's id, contact and key fingerprint"
    ).set_defaults(handler=cmd_federation_identity)
    federation_commands.add_parser(
        "partners", parents=[common, formatted], help="the partner hubs in the register"
    ).set_defaults(handler=cmd_federation_partners)
    add_transfer_command(federation_commands, [common, formatted])
    receive = federation_commands.add_parser(
        "receive",
        parents=[common, formatted],
        help="record what partner hubs sent (transfers, corrections), until stopped",
    )
    add_run_options(receive)
    receive.set_defaults(handler=cmd_federation_receive)
    ask = federation_commands.add_parser(
        "ask",
        parents=[common, formatted],
        help="ask partner hubs whether they hold records about a child (is anyone else involved?)",
    )
    ask.add_argument("--child", required=True, metavar="NHS", help="the child's NHS number")
    ask.add_argument("--practitioner", required=True, metavar="ID", help="who is asking")
    ask.set_defaults(handler=cmd_federation_ask)
    publish_holdings = federation_commands.add_parser(
        "publish-holdings",
        parents=[common, formatted],
        help="send this hub's holdings (keyed digests, no NHS numbers) to partner hubs",
    )
    publish_holdings.add_argument("--to", metavar="PARTNER", help="one partner hub (default all)")
    publish_holdings.set_defaults(handler=cmd_federation_publish_holdings)
    answer = federation_commands.add_parser(
        "answer",
        parents=[common, formatted],
        help="answer partner hubs' questions and keep their holdings (the inbound topic)",
    )
    add_run_options(answer)
    answer.set_defaults(handler=cmd_federation_answer)

    keys = commands.add_parser("keys", help="key rotation, crypto-shredding, retention")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = key_commands.add_parser(
        "init",
        parents=[common, formatted],
        help="create the missing keys under HUB_KEYS_DIR (never overwrites one)",
    )
    init.set_defaults(handler=cmd_keys_init)
    rotate = key_commands.add_parser(
        "rotate", parents=[common, formatted], help="rewrap every data key under a new KEK"
    )
    rotate.set_defaults(handler=cmd_keys_rotate)
    shred = key_commands.add_parser(
        "shred", parents=[common, formatted], help="erase a child's record (a DPO action, audited)"
    )
    shred.add_argument("child", help="NHS number or provisional id")
    shred.add_argument("--reason", required=True)
    shred.add_argument("--as", dest="as_practitioner", required=True, help="the DPO's id")
    shred.set_defaults(handler=cmd_keys_shred)
    retention = key_commands.add_parser(
        "retention", parents=[common, formatted], help="apply the retention rule (dry run first)"
    )
    retention.add_argument(
        "--years",
        type=int,
        default=RETENTION_YEARS_AFTER_LAST_EVENT,
        help=f"erase records N years after the last event ({RETENTION_YEARS_AFTER_LAST_EVENT})",
    )
    retention.add_argument("--apply", action="store_true", help="erase; without it, a dry run")
    retention.add_argument("--as", dest="as_practitioner", help="the DPO applying it")
    retention.set_defaults(handler=cmd_keys_retention)

    identity = commands.add_parser("identity", help="child identifiers")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True)
    issue = identity_commands.add_parser(
        "issue", parents=[common, formatted], help="issue a provisional child id"
    )
    issue.add_argument("--agency", required=True, help="the agency asking for it")
    issue.set_defaults(handler=cmd_identity_issue)
    add_consumer_commands(commands, common, formatted)
    add_agency_commands(commands, common, formatted)
    add_find_commands(commands, common, formatted)
    add_governance_commands(commands, common)
    add_withholding_commands(commands, common, formatted)
    add_subject_access_commands(commands, common, formatted)
    return parser


_DISK_FULL = (
    "the store's disk is full ({detail}); nothing half-done: whatever was committed is kept. "
    "Free space (or grow the volume) and run the command again: it carries on from there"
)


def _disk_full(error: BaseException) -> str | None:
    """The error's database detail if it (or what caused it) is a full disk: SQLITE_FULL,
    ENOSPC, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    import errno
    import sqlite3

    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == 13:
            return str(seen)  # SQLITE_FULL
        if isinstance(seen, sqlite3.OperationalError) and "disk is full" in str(seen):
            return str(seen)
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return seen.strerror or "no space left on device"
        if getattr(seen, "sqlstate", None) == "53100":
            return "PostgreSQL: could not extend a file, no space left on device"
        seen = seen.__cause__ or seen.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A failure is told on stderr: `hub: <what went wrong>`, or under
    `--format json` one JSON object, `{"error": {"type", "message", "exit_code"}}`, so a
    program reading stdout never mistakes an error for a result."""
    args = build_parser().parse_args(argv)
    keep_new_files_private()  # inbox files and exports hold children's records too
    try:
        try:
            result: int = args.handler(args)
        except Exception as error:
            if (detail := _disk_full(error)) is None:
                raise
            return _fail(args, "DiskFull", _DISK_FULL.format(detail=detail), EXIT_FAILED)
    except PermissionError as error:
        return _fail(args, type(error).__name__, f"refused: {error}", EXIT_DENIED)
    except NoHubError as error:
        return _fail(args, type(error).__name__, str(error), EXIT_USAGE)
    except (OSError, ValueError, LookupError) as error:
        return _fail(args, type(error).__name__, f"{type(error).__name__}: {error}", EXIT_FAILED)
    except Exception as error:
        from kafka.errors import KafkaError

        from hub.adapters.secrets import SecretConfigurationError
        from hub.audit_ledger import AuditUnavailableError

        if isinstance(error, AuditUnavailableError | SecretConfigurationError):
            return _fail(args, type(error).__name__, str(error), EXIT_FAILED)
        if not isinstance(error, KafkaError):
            raise
        return _fail(args, type(error).__name__, f"Kafka: {error}", EXIT_FAILED)
    return result


def _fail(args: argparse.Namespace, error_type: str, message: str, exit_code: int) -> int:
    """Tell the failure on stderr, as text or (under `--format json`) as a JSON object."""
    if getattr(args, "format", "text") == "json":
        error = {"type": error_type, "message": message, "exit_code": exit_code}
        print(json.dumps({"error": error}), file=sys.stderr)
    else:
        print(f"hub: {message}", file=sys.stderr)
    return exit_code
