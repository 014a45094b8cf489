"""`hub notices list|ack`: a recipient's Operation Encompass notices (consumers/encompass.py)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hub.chronology_header import AgencyContact, ChildHeader
from hub.cli.common import EXIT_OK, emit, open_hub
from hub.reports.chronology_text import header_lines
from hub.reports.rendering import when_text


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    notices = commands.add_parser("notices", help="Operation Encompass notices delivered to you")
    notice_commands = notices.add_subparsers(dest="notices_command", required=True)
    listing = notice_commands.add_parser(
        "list", parents=[common, formatted], help="the notices delivered to a practitioner"
    )
    listing.add_argument("--as", dest="as_practitioner", required=True, help="your id")
    listing.set_defaults(handler=cmd_notices_list)
    ack = notice_commands.add_parser(
        "ack", parents=[common, formatted], help="acknowledge a notice (stops its escalation)"
    )
    ack.add_argument("notice", help="the notice id from `hub notices list`")
    ack.add_argument("--as", dest="as_practitioner", required=True, help="your id")
    ack.add_argument(
        "--action",
        dest="action_taken",
        help="what you did about it, in a few words (at most 2,000 characters)",
    )
    ack.set_defaults(handler=cmd_notices_ack)


def _encompass(hub: Any) -> Any:
    from consumers.encompass import EncompassConsumer

    runner = hub.consumer_runner("encompass")
    assert isinstance(runner.consumer, EncompassConsumer)
    return runner


def _header(data: dict[str, Any]) -> ChildHeader:
    """The header an inbox item carries (`ChildHeader.as_dict`), to print as the chronology's."""
    return ChildHeader(
        **{
            **data,
            "agencies": [AgencyContact(**a) for a in data["agencies"]],
            "not_shared_by": [AgencyContact(**a) for a in data["not_shared_by"]],
        }
    )


def cmd_notices_list(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        hub.gate.practitioner(args.as_practitioner)  # unknown ids are refused
        runner = _encompass(hub)
        notices = runner.consumer.inbox(runner.documents(), args.as_practitioner)
    finally:
        hub.close()

    def text() -> None:
        if not notices:
            print("no notices")
        for n in notices:
            status = (
                f"acknowledged by {n['acknowledged_by']}"
                if n["acknowledged_by"]
                else "NOT ACKNOWLEDGED"
            )
            present = "child present" if n["child_present"] else "child not present"
            incident = when_text(n["incident_at"])
            print(
                f"{n['id']}  child {n['child']}  incident {incident}  {present}  "
                f"police ref {n['police_reference']}  [{status}]"
            )
            if n["header"]:
                for line in header_lines(_header(n["header"]), indent="    "):
                    print(line)
            elif n["note"]:
                print(f"    {n['note']}")
            if n["child_voice"]:
                print(f"    child's voice: {n['child_voice']}")
            if n["escalated_from"]:
                print("    escalated: the school did not acknowledge it in time")
            if n.get("rerouted"):
                print(f"    {n['rerouted']}")
            if n.get("action_taken"):
                print(f"    action taken: {n['action_taken']}")

    emit(args, notices, text)
    return EXIT_OK


def cmd_notices_ack(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        hub.gate.practitioner(args.as_practitioner)
        runner = _encompass(hub)
        documents = runner.documents()
        ack = runner.consumer.acknowledge(
            documents,
            args.notice,
            args.as_practitioner,
            datetime.now(UTC),
            action_taken=args.action_taken,
        )
        runner.state.commit(documents.changed, None)
    finally:
        hub.close()

    def text() -> None:
        print(f"acknowledged by {ack['by']} at {when_text(ack['at'])}")
        if ack.get("action_taken"):
            print(f"action taken: {ack['action_taken']}")

    emit(args, ack, text)
    return EXIT_OK
