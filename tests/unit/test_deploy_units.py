"""The systemd units in deploy/ run commands the CLI accepts: every built-in consumer (and the
federation transfers consumer) from the consumer unit, and the federation units."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from hub.cli import build_parser
from hub.consumer_registry import built_in_consumer_names

UNIT = Path(__file__).parents[2] / "deploy" / "systemd" / "hub-consumer@.service"
BUILT_IN_CONSUMERS = built_in_consumer_names()


@pytest.mark.parametrize("consumer", [*BUILT_IN_CONSUMERS, "feed-cp-is", "transfers"])
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


SYSTEMD = UNIT.parent
FEDERATION_UNITS = {
    "hub-federation-receive.service": ("receive", "on-failure"),
    "hub-federation-answer.service": ("answer", "on-failure"),
    "hub-federation-publish-holdings.service": ("publish-holdings", None),
}


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit


@pytest.mark.parametrize("name", sorted(FEDERATION_UNITS))
def test_each_federation_unit_runs_its_federation_command(name: str) -> None:
    subcommand, restart = FEDERATION_UNITS[name]
    service = read_unit(SYSTEMD / name)["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/bin/hub")
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.federation_command) == ("federation", subcommand)
    assert service.get("Restart") == restart
    if subcommand in {"receive", "answer"}:
        assert not args.once, "runs until stopped, restarted only if it fails"
        assert service["KillSignal"] == "SIGTERM", "stops cleanly after the batch in hand"


def test_the_holdings_timer_starts_the_publish_service_daily() -> None:
    timer = read_unit(SYSTEMD / "hub-federation-publish-holdings.timer")
    assert timer["Timer"]["OnCalendar"].startswith("*-*-* ")
    assert timer["Timer"]["Persistent"] == "true"
    assert (
        SYSTEMD / timer["Timer"].get("Unit", "hub-federation-publish-holdings.service")
    ).exists()
    service = read_unit(SYSTEMD / "hub-federation-publish-holdings.service")
    assert service["Service"]["Type"] == "oneshot"
    assert "Install" not in service, "started by the timer, not enabled itself"
