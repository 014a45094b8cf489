"""Placeholder: filled in by this consumer's work."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any, common: argparse.ArgumentParser, formatted: Any) -> None:
    """Register this consumer's own `hub` commands."""
