"""`hub governance ropa|dpia`: the record of processing activities (UK GDPR Article 30) and the
data protection impact assessment's description, generated from the agreement in force, the
taxonomy, the retention rule and this deployment's settings
(hub.reports.governance_documents). They hold no child's information, so nothing here goes
through the disclosure gate."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.adapters.directory import load_directory
from hub.bootstrap import NoHubError
from hub.cli.common import EXIT_OK, open_hub, settings_from
from hub.domain.data_protection import RETENTION_YEARS_AFTER_LAST_EVENT
from hub.domain.uk_time import parse_as_of


def _as_of(text: str) -> datetime:
    try:
        return parse_as_of(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    governance = commands.add_parser(
        "governance", help="records of processing and the DPIA, from the agreement in force"
    )
    documents = governance.add_subparsers(dest="governance_command", required=True)
    for name, description in (
        ("ropa", "the UK GDPR Article 30 record of processing activities, per controller"),
        ("dpia", "the data protection impact assessment: data flows, bases, risks"),
    ):
        document = documents.add_parser(name, parents=[common], help=description)
        document.add_argument(
            "--format", choices=["markdown", "html"], default="markdown", help="(markdown)"
        )
        document.add_argument("--output", metavar="FILE", help="write to FILE, not stdout")
        document.add_argument(
            "--as-of",
            type=_as_of,
            help="use the agreement in force then: a date (the end of that day in England) or "
            "a date and time (UK time unless a zone is given); default now",
        )
        document.add_argument(
            "--retention-years",
            type=int,
            default=RETENTION_YEARS_AFTER_LAST_EVENT,
            help="the retention rule this deployment applies with `hub keys retention --years` "
            f"({RETENTION_YEARS_AFTER_LAST_EVENT})",
        )
        document.set_defaults(handler=cmd_governance, document=name)


def _registered_agencies(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The agencies registered with the hub: none yet where no hub has been made (a DPIA is
    written before go-live), and that data directory is left as it was."""
    try:
        hub = open_hub(args)
    except NoHubError:
        return []
    try:
        return [(a.agency_id, a.agency_type) for a in hub.agencies.all()]
    finally:
        hub.close()


def cmd_governance(args: argparse.Namespace) -> int:
    from hub.policies.agreements import AgreementRegistry
    from hub.reports.governance import DeploymentFacts, render
    from hub.reports.governance_documents import build_dpia, build_ropa, controllers

    settings = settings_from(args)
    now = datetime.now(UTC)
    as_of = args.as_of or now
    # The agreement first: a malformed one is refused before anything is opened.
    registry = (
        AgreementRegistry.from_directory(settings.agreements_dir)
        if settings.agreements_dir
        else AgreementRegistry.from_directory()
    )
    agreement = registry.in_force(as_of)
    registered = _registered_agencies(args)
    if settings.directory_path.exists():
        practitioners = load_directory(settings.directory_path).all()
    else:
        practitioners = []
        print(
            f"note: no practitioner directory at {settings.directory_path}: data protection "
            "officers and recipients' employers are not named",
            file=sys.stderr,
        )
    facts = DeploymentFacts(
        store=settings.store,
        store_location=settings.describe_store(),
        kek_from_secret_store=settings.kek is not None,
        keys_dir_explicit=settings.keys_dir is not None,
        kafka_security_protocol=settings.kafka_security_protocol,
        oidc_issuer=settings.oidc_issuer,
        dev_tokens=settings.dev_tokens,
        cookie_secure=settings.cookie_secure,
        break_glass_minutes=settings.break_glass_minutes,
        review_commission_max_days=settings.review_commission_max_days,
        max_message_bytes=settings.max_message_bytes,
        retention_years=args.retention_years,
    )
    build = build_ropa if args.document == "ropa" else build_dpia
    document = build(
        agreement, controllers(agreement, registered, practitioners), facts, as_of, now
    )
    content = render(document, args.format)
    if args.output:
        Path(args.output).write_text(content)
        print(f"{document.title} ({args.format}) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(content)
    return EXIT_OK
