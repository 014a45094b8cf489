"""`hub inbox`: a practitioner's notices, alerts and notifications in one list, and marking
items done (`consumers.inbox`)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub
from hub.reports.inbox_words import TYPE_NAMES, item_lines, item_title
from hub.reports.rendering import day_text, when_text


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    inbox = commands.add_parser(
        "inbox", help="what waits for you: notices, clock alerts and notifications"
    )
    inbox_commands = inbox.add_subparsers(dest="inbox_command", required=True)
    listing = inbox_commands.add_parser(
        "list", parents=[common, formatted], help="your inbox (listing it discloses nothing new)"
    )
    listing.add_argument("--as", dest="as_practitioner", required=True, help="your id")
    listing.add_argument("--all", action="store_true", help="also items marked done")
    listing.set_defaults(handler=cmd_inbox_list)
    for verb, what, text in (
        ("done", "done", "mark an item done"),
        ("undo", "not-done", "bring an item marked done back"),
    ):
        command = inbox_commands.add_parser(verb, parents=[common, formatted], help=text)
        command.add_argument("item", help="the item id from `hub inbox list`")
        command.add_argument("--as", dest="as_practitioner", required=True, help="your id")
        command.set_defaults(handler=cmd_inbox_mark, what=what)


def cmd_inbox_list(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        inbox = hub.inbox.inbox(args.as_practitioner, datetime.now(UTC), include_done=args.all)
    finally:
        hub.close()
    document = inbox.as_dict()

    def text() -> None:
        counts = inbox.counts
        print(
            f"{counts.notices} notices to acknowledge, {counts.alerts} clock alerts, "
            f"{counts.items} notifications"
        )
        for notice in inbox.notices:
            if notice.get("acknowledged_by"):
                continue
            who = (notice.get("header") or {}).get("name") or notice.get("child") or "a child"
            incident = when_text(notice["incident_at"])
            print(f"  NOTICE {notice['id']}  domestic abuse incident {incident} for {who}")
        for alert in inbox.alerts.alerts if inbox.alerts else []:
            left = alert.working_days_left
            when = f"{left} working days left" if left >= 0 else f"overdue by {-left} working days"
            child = alert.child or "(unknown)"
            print(f"  ALERT  {child}  {alert.clock} due {day_text(alert.due)}  {when}")
        for item in document["items"]:
            child = (item.get("header") or {}).get("name") or item.get("child") or ""
            done = f"  [done {when_text(item['done_at'])}]" if item["done_at"] else ""
            print(f"  {TYPE_NAMES[item['type']].upper()}  {item['id'][:12]}  {child}{done}")
            print(f"      {item_title(item)}  ({when_text(item['created_at'])})")
            for line in item_lines(item):
                print(f"        - {line}")

    emit(args, document, text)
    return EXIT_OK


def cmd_inbox_mark(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        item_id = _full_id(hub, args.as_practitioner, args.item)
        marked = hub.inbox.mark(args.as_practitioner, item_id, args.what, datetime.now(UTC))
    finally:
        hub.close()
    emit(args, marked, lambda: print(f"item {marked['id'][:12]}: {args.what}"))
    return EXIT_OK


def _full_id(hub: Any, practitioner_id: str, given: str) -> str:
    """An item id as printed (its first 12 characters are enough)."""
    return str(hub.inbox.resolve_item(practitioner_id, given))
