"""`hub indicators`: the partnership indicators report (consumers/indicator_facts.py).

The command first catches the `indicators` consumer up with the log (one pass, as
`hub consumer run indicators --once` would: safe beside a consumer running as a service,
whose folds it never repeats), so the report always reflects everything the hub holds.
`--no-catch-up` reports from the consumer's documents as they stand and says how far behind
the log they are. Then it computes the figures for the last quarter complete on `--as-at`,
its last day included (default: today in England, or, when the hub holds no event in the
quarter before today, the day after the last quarter it holds events in: `default_as_at`; a
later date reports the quarter in progress, marked provisional) and writes them as a terminal
table, JSON, CSV or a self-contained HTML dashboard, under the partnership's own definitions
where `--definitions FILE` gives them (statutory by default). Each dashboard row is put beside
the published England figure and quartile from the shipped comparators file for the quarter's
year (docs/comparators.md), or the partnership's own with `--comparators FILE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.cli.common import EXIT_OK, EXIT_USAGE, open_hub
from hub.domain.indicators import DEFAULT_TARGETS, STATUTORY, Definitions, Target
from hub.domain.uk_time import UK


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    """Register `hub indicators` (its own --format: the shared one has no csv)."""
    indicators = commands.add_parser(
        "indicators",
        parents=[common],
        help="partnership indicators for the last complete quarter (text, json, csv, html)",
    )
    indicators.add_argument(
        "--as-at",
        metavar="YYYY-MM-DD",
        help="report the last quarter complete on this date, its last day included "
        "(default: today)",
    )
    indicators.add_argument(
        "--format", choices=["text", "json", "csv", "html"], default="text", help="(text)"
    )
    indicators.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    indicators.add_argument(
        "--targets",
        metavar="FILE",
        help='JSON {"indicator-code": ">90.3" | "<18.7" | null} over the default targets',
    )
    indicators.add_argument(
        "--definitions",
        metavar="FILE",
        help="JSON: the partnership's own definitions, where its report differs from the "
        'statutory ones: {"re-referrals-12-months": {"period": "rolling-12-months"}, '
        '"cic-health-assessments": {"cohort": "in-care-at-end"}} (docs/indicators.md)',
    )
    indicators.add_argument(
        "--comparators",
        metavar="FILE",
        help="YAML: the partnership's own national comparators file (e.g. with its statistical "
        "neighbours), instead of the shipped one for the quarter's year (docs/comparators.md)",
    )
    indicators.add_argument(
        "--no-catch-up",
        action="store_true",
        help="report from the consumer's documents as they stand (do not fold new entries)",
    )
    indicators.set_defaults(handler=cmd_indicators)


def load_targets(path: str | None) -> dict[str, Target]:
    """The default targets, with a file's targets replacing them (null removes one)."""
    targets = dict(DEFAULT_TARGETS)
    if path is None:
        return targets
    document = json.loads(Path(path).read_text())
    if not isinstance(document, dict):
        raise ValueError("a targets file is a JSON object of indicator code to target")
    for code, text in document.items():
        if text is None:
            targets.pop(code, None)
        else:
            targets[code] = Target.parse(str(text))
    return targets


def load_definitions(path: str | None) -> Definitions:
    """The statutory definitions, or a partnership's own from a JSON file."""
    if path is None:
        return STATUTORY
    return Definitions.parse(json.loads(Path(path).read_text()))


def cmd_indicators(args: argparse.Namespace) -> int:
    from consumers.indicator_facts import load_children
    from hub.adapters.comparators import load_comparators
    from hub.domain.indicators import build_report, default_as_at
    from hub.reports.indicators_report import render, with_comparators

    try:
        given = date.fromisoformat(args.as_at) if args.as_at else None
        targets = load_targets(args.targets)
        definitions = load_definitions(args.definitions)
        if args.comparators:
            load_comparators(args.comparators)  # refused before the hub is opened
    except (ValueError, OSError) as error:
        print(f"hub indicators: {error}", file=sys.stderr)
        return EXIT_USAGE
    hub = open_hub(args)
    try:
        runner = hub.consumer_runner("indicators")
        if not args.no_catch_up:
            runner.run_once()
        status = runner.status()
        children = load_children(runner.state)
        reviews = hub.withholding_reviews.facts()
    finally:
        hub.close()
    if status.lag:
        print(
            f"note: the indicators consumer is {status.lag} log entries behind "
            f"(position {status.position} of {status.head}); run `hub consumer run "
            "indicators --once` or drop --no-catch-up",
            file=sys.stderr,
        )
    today = datetime.now(UK).date()
    as_at = given or default_as_at(children, today)
    if as_at != today and given is None:
        print(
            f"note: the hub holds no record of an event in the last quarter complete before "
            f"today, so this reports the last one it holds events in (as at {as_at:%Y-%m-%d}); "
            f"--as-at {today:%Y-%m-%d} reports the quarter before today anyway",
            file=sys.stderr,
        )
    report = with_comparators(
        build_report(children, as_at, targets, reviews=reviews, definitions=definitions),
        args.comparators,
    )
    if report.latest.end >= datetime.now(UK).date():
        print(
            f"note: {report.latest.name} has not ended yet (--as-at is in the future), so its "
            "figures are provisional",
            file=sys.stderr,
        )
    content = render(report, args.format)
    if args.out:
        Path(args.out).write_text(content if content.endswith("\n") else content + "\n")
        print(
            f"{args.format} indicators for {report.latest.name} written to {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(content if content.endswith("\n") else content + "\n")
    return EXIT_OK
