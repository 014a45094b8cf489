"""`hub alerts` (a practitioner's statutory-clock alerts, audited) and `hub clocks` (counts)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.cli.common import EXIT_OK, emit, open_hub
from hub.reports.rendering import day_text, when_text

if TYPE_CHECKING:
    from consumers.clock_alerts import OlderBreaches, ShownAlert


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    """Register this consumer's own `hub` commands."""
    alerts = commands.add_parser(
        "alerts",
        parents=[common, formatted],
        help="your statutory-clock alerts: timescales about to be missed (audited)",
    )
    alerts.add_argument("--as", dest="as_practitioner", required=True, help="practitioner id")
    alerts.add_argument(
        "--all", action="store_true", help="also alerts whose clock has stopped since"
    )
    alerts.add_argument(
        "--all-breaches",
        action="store_true",
        help="list every breach one by one (by default breaches older than "
        "HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS are summarised)",
    )
    alerts.set_defaults(handler=cmd_alerts)
    clocks = commands.add_parser(
        "clocks",
        parents=[common, formatted],
        help="statutory clocks running, alerts and breaches by kind (counts only)",
    )
    clocks.add_argument(
        "--as",
        dest="as_practitioner",
        required=True,
        help="a lead child protection practitioner or data protection officer",
    )
    clocks.set_defaults(handler=cmd_clocks)


def cmd_alerts(args: argparse.Namespace) -> int:
    from consumers.clock_alerts import list_alerts

    hub = open_hub(args)
    try:
        listing = list_alerts(
            hub.gate,
            hub.consumer_runner("clocks"),
            args.as_practitioner,
            datetime.now(UTC),
            args.all,
            all_breaches=args.all_breaches,
        )
    finally:
        hub.close()

    def text() -> None:
        who = listing.practitioner
        print(f"{who.id} ({who.role.value}, {who.organisation}): {len(listing.alerts)} alerts")
        if listing.consumer_lag:
            print(f"  (the clocks consumer is {listing.consumer_lag} log entries behind)")
        groups, older = listing.grouped()
        for group in groups:
            print(f"  {group.child or '(unknown)'}")
            for alert in group.alerts:
                print(f"    {alert.clock:<22} due {day_text(alert.due)}  {_when(alert)}")
        if older.count:
            print(f"  {older_breaches_text(older, bool(groups))}")

    emit(args, listing.as_dict(), text)
    return EXIT_OK


def _when(alert: ShownAlert) -> str:
    if alert.status not in ("open", "breached-open"):
        return alert.status
    left = alert.working_days_left
    return f"{left} working days left" if left >= 0 else f"overdue by {-left} working days"


def older_breaches_text(older: OlderBreaches, after_others: bool = True) -> str:
    """`and 263 older breaches: 150 assessments, 113 reviews, oldest due 3 March 2025`."""
    noun = "breach" if older.count == 1 else "breaches"
    lead = "and " if after_others else ""
    return (
        f"{lead}{older.count} older {noun} (over {older.horizon_working_days} working days "
        f"overdue): {older.counts_text()}, oldest due {day_text(older.oldest_due)}"
    )


def cmd_clocks(args: argparse.Namespace) -> int:
    from hub.domain.access import Role

    hub = open_hub(args)
    try:
        practitioner = hub.gate.practitioner(args.as_practitioner)
        allowed = {Role.LEAD_CHILD_PROTECTION_PRACTITIONER, Role.DATA_PROTECTION_OFFICER}
        if practitioner.role not in allowed or not practitioner.is_active(datetime.now(UTC).date()):
            raise PermissionError(
                "clock counts are for active lead child protection practitioners and data "
                "protection officers"
            )
        status = hub.consumer_runner("clocks").status().as_dict()
    finally:
        hub.close()
    document = {
        key: status[key]
        for key in (
            "position",
            "lag",
            "last_pass_at",
            "open_clocks",
            "alerts_raised",
            "breaches",
            "breaches_withdrawn",
        )
    }

    def text() -> None:
        print(
            f"clocks: position {document['position']} (lag {document['lag']}), "
            f"last pass {when_text(document['last_pass_at']) or 'never'}"
        )
        for heading in ("open_clocks", "alerts_raised", "breaches", "breaches_withdrawn"):
            counts = document[heading]
            shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
            print(f"  {heading.replace('_', ' ')}: {shown}")

    emit(args, document, text)
    return EXIT_OK
