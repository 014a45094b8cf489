"""`hub consumer run|status|rebuild` and each consumer's own commands."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from hub.cli.common import EXIT_OK, emit, open_hub
from hub.reports.rendering import when_text


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    from hub.cli import alerts, inbox, indicator_reports, notices

    consumer = commands.add_parser("consumer", help="processes that follow the hub's log")
    consumer_commands = consumer.add_subparsers(dest="consumer_command", required=True)
    run = consumer_commands.add_parser(
        "run", parents=[common, formatted], help="run a consumer (until stopped, or --once)"
    )
    run.add_argument("name", help="encompass, clocks, inbox, indicators or feed-<recipient>")
    run.add_argument("--once", action="store_true", help="catch up, act, then exit")
    run.add_argument("--poll", type=float, default=2.0, help="seconds between passes (2)")
    run.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /readyz")
    run.set_defaults(handler=cmd_consumer_run)
    status = consumer_commands.add_parser(
        "status", parents=[common, formatted], help="position, lag and errors of each consumer"
    )
    status.add_argument("name", nargs="?", help="one consumer (default: all)")
    status.set_defaults(handler=cmd_consumer_status)
    rebuild = consumer_commands.add_parser(
        "rebuild",
        parents=[common, formatted],
        help="drop a consumer's derived state and read the whole log again",
    )
    rebuild.add_argument("name")
    rebuild.set_defaults(handler=cmd_consumer_rebuild)
    for module in (inbox, notices, alerts, indicator_reports):
        module.add_commands(commands, common, formatted)


def cmd_consumer_run(args: argparse.Namespace) -> int:
    hub = open_hub(args, create=True)
    try:
        runner = hub.consumer_runner(args.name)
        if args.once:
            report = runner.run_once()
            emit(
                args,
                vars(report),
                lambda: print(
                    f"{args.name}: folded {report.processed} entries "
                    f"({report.skipped_erased} of erased children skipped, {report.errors} "
                    f"errors); position {report.position}"
                ),
            )
            return EXIT_OK
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if args.metrics_port is None:
            runner.run_forever(args.poll, stop)
        else:
            health, on_pass = _serve_consumer_metrics(hub, args.name, args.metrics_port)
            runner.run_forever(args.poll, stop, on_pass, health.beat)
        return EXIT_OK
    finally:
        hub.close()


def _serve_consumer_metrics(hub: Any, name: str, port: int) -> tuple[Any, Any]:
    """Start the metrics port; return its health and what the runner calls after a pass."""
    from consumers.framework import PassReport
    from hub.adapters.metrics import CONSUMER_ERRORS, CONSUMER_LAG, Health, serve_metrics

    health = Health(ready_check=lambda: hub.store.recorder.max_notification_id())
    serve_metrics(port, health)

    def on_pass(report: PassReport | None) -> None:
        if report is not None:
            CONSUMER_ERRORS.labels(name).inc(report.errors)
            head = hub.store.recorder.max_notification_id() or 0
            CONSUMER_LAG.labels(name).set(max(0, head - report.position))

    return health, on_pass


def cmd_consumer_status(args: argparse.Namespace) -> int:
    from hub.consumer_registry import consumer_names

    hub = open_hub(args)
    try:
        names = [args.name] if args.name else consumer_names(hub)
        statuses = [hub.consumer_runner(name).status().as_dict() for name in names]
    finally:
        hub.close()

    def text() -> None:
        for status in statuses:
            print(
                f"{status['name']}: position {status['position']} of {status['head']} "
                f"(lag {status['lag']}), {status['errors']} errors, "
                f"last pass {when_text(status['last_pass_at']) or 'never'}"
            )
            for key, value in status.items():
                if key not in {
                    "name",
                    "description",
                    "position",
                    "head",
                    "lag",
                    "errors",
                    "last_pass_at",
                    "last_error",
                }:
                    shown = when_text(value) if key.endswith("_at") and value else value
                    print(f"  {key}: {shown}")

    emit(args, statuses, text)
    return EXIT_OK


def cmd_consumer_rebuild(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        report = hub.consumer_runner(args.name).rebuild()
    finally:
        hub.close()
    emit(
        args,
        vars(report),
        lambda: print(f"{args.name}: rebuilt from {report.processed} entries"),
    )
    return EXIT_OK
