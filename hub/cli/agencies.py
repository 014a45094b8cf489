"""`hub agency register|list`: onboarding an agency (docs/runbook.md, "Agency onboarding")."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub
from hub.domain.uk_time import uk_date
from hub.reports.rendering import day_text


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    agency = commands.add_parser("agency", help="agency onboarding: topic, credential, ACLs")
    agency_commands = agency.add_subparsers(dest="agency_command", required=True)
    register = agency_commands.add_parser(
        "register",
        parents=[common, formatted],
        help="register an agency: its topic, Kafka credential and ACLs, and the hub's record",
    )
    register.add_argument("agency_id", metavar="ID", help="the agency's hub id, e.g. shire-police")
    register.add_argument(
        "--type",
        dest="agency_type",
        required=True,
        help="local-authority, police, health or education",
    )
    register.add_argument(
        "--adapter",
        required=True,
        help="la-csv, police-json, health-fhir, school-csv, or canonical (publishes canonical "
        "events itself)",
    )
    register.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        help="Kafka bootstrap: also create the agency's topic, credential and ACLs (without it "
        "the agency is registered for the file inbox and HTTPS only)",
    )
    register.add_argument(
        "--name", help="the agency as practitioners know it, e.g. 'Shire Constabulary'"
    )
    register.add_argument(
        "--contact",
        help="whom practitioners ask about the agency's records, e.g. 'Public protection "
        "unit duty desk, 01632 960100, ppu@police.example'",
    )
    register.add_argument("--partitions", type=int, default=3, help="for a new topic (3)")
    register.add_argument(
        "--password-file",
        type=Path,
        help="with --kafka: the agency's Kafka password, read if the file exists, else "
        "generated into it (mode 0600); hand it over by a secure route, never printed",
    )
    register.add_argument(
        "--skip-acls",
        action="store_true",
        help="do not create ACLs (only for a broker without an authorizer, e.g. a test broker)",
    )
    register.set_defaults(handler=cmd_agency_register)
    listing = agency_commands.add_parser(
        "list", parents=[common, formatted], help="the registered agencies"
    )
    listing.set_defaults(handler=cmd_agency_list)


def cmd_agency_register(args: argparse.Namespace) -> int:
    from hub.domain.agency_records import OnboardingError
    from hub.onboarding import new_agency
    from hub.transports.kafka_provisioning import (
        KafkaProvisioning,
        provision_on_kafka,
        read_or_create_password,
    )

    if args.kafka and args.password_file is None:
        raise OnboardingError("--kafka needs --password-file for the agency's Kafka credential")
    record = new_agency(
        args.agency_id,
        args.agency_type,
        args.adapter,
        datetime.now(UTC),
        name=args.name,
        contact=args.contact,
    )
    hub = open_hub(args, create=True)
    provisioned: KafkaProvisioning | None = None
    try:
        if args.kafka:
            provisioned = provision_on_kafka(
                record,
                args.kafka,
                read_or_create_password(args.password_file),
                partitions=args.partitions,
                client_options=hub.settings.kafka_client_options(),
                acls=not args.skip_acls,
                replication_factor=hub.settings.kafka_replication_factor,
            )
        changed = hub.agencies.register(record)
    finally:
        hub.close()
    document = {
        **vars(record),
        "record": "registered" if changed else "already registered",
        "kafka": None
        if provisioned is None
        else {
            "credential": provisioned.credential,
            "acls": provisioned.acls,
            "password_file": str(args.password_file),
        },
    }

    def text() -> None:
        print(
            f"{record.agency_id} ({record.agency_type}, adapter {record.adapter}): "
            f"{document['record']}"
        )
        if record.name or record.contact:
            print(f"  shown as {record.display_name}; contact: {record.contact or 'none given'}")
        if provisioned is None:
            print(
                "  Kafka: not provisioned (no --kafka); the agency publishes through the file "
                f"inbox ({record.agency_id}/ subdirectory) or HTTPS"
            )
            return
        print(f"  topic {record.topic} ({args.partitions} partitions if new)")
        print(f"  Kafka principal User:{record.principal}: SCRAM-SHA-512 credential set")
        print(f"  ACLs (WRITE, DESCRIBE on {record.topic} only): {provisioned.acls}")
        print(f"  password in {args.password_file}: hand it to the agency by a secure route")

    emit(args, document, text)
    return EXIT_OK


def cmd_agency_list(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        records = hub.agencies.all()
    finally:
        hub.close()

    def text() -> None:
        if not records:
            print("no agencies registered")
        for r in records:
            since = day_text(uk_date(datetime.fromisoformat(r.registered_at)))
            print(
                f"{r.agency_id:<28} {r.agency_type:<16} {r.adapter:<12} {r.topic:<40} "
                f"User:{r.principal}  since {since}"
            )
            if r.name or r.contact:
                print(f"  {r.display_name}; contact: {r.contact or 'none given'}")

    emit(args, [vars(r) for r in records], text)
    return EXIT_OK
