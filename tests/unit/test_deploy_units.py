"""The systemd unit in deploy/ runs a command the CLI accepts, for every built-in consumer."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from hub.cli import build_parser
from hub.consumer_registry import built_in_consumer_names

UNIT = Path(__file__).parents[2] / "deploy" / "systemd" / "hub-consumer@.service"
BUILT_IN_CONSUMERS = built_in_consumer_names()


@pytest.mark.parametrize("consumer", [*BUILT_IN_CONSUMERS, "feed-cp-is"])
def test_the_consumer_unit_runs_a_valid_hub_command(consumer: str) -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.read_string(UNIT.read_text())
    command = shlex.split(unit["Service"]["ExecStart"].replace("%i", consumer))
    assert command[0].endswith("/bin/hub")
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.consumer_command, args.name, args.once) == (
        "consumer",
        "run",
        consumer,
        False,
    )
    assert unit["Service"]["Restart"] == "always"
    assert consumer.split("-")[0] in UNIT.read_text()
