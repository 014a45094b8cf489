"""What every `hub` command shares: exit codes, settings from flags, opening the hub, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.adapters.structured_logging import configure_logging
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED_INPUT, EXIT_DENIED = 0, 1, 2, 3, 4


def settings_from(args: argparse.Namespace) -> HubSettings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return HubSettings(**overrides)


def open_hub(args: argparse.Namespace, *, create: bool = False) -> Hub:
    """The hub the settings name. Only commands that start a hub's life (ingest, serve, a
    consumer, registering an agency, issuing an id) pass `create=True`; every other command
    refuses a data directory or schema that holds no hub (`NoHubError`, exit 2) rather than
    making a new one with fresh keys where a setting was mistyped."""
    settings = settings_from(args)
    configure_logging(settings.log_level if not args.quiet else "warning")
    return bootstrap(settings, create=create)


def emit(args: argparse.Namespace, document: Any, text: Callable[[], None]) -> None:
    if getattr(args, "format", "text") == "json":
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        text()
