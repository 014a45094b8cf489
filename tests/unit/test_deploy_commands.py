"""Every `hub` command line that deploy/compose and deploy/k8s run is one the hub's own parser
accepts, so a renamed option fails here rather than in a partnership's cluster."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted((DEPLOY / "compose").glob("compose*.yaml")):
        services = yaml.safe_load(path.read_text()).get("services", {})
        for name, service in services.items():
            build = service.get("build") or {}
            built_here = isinstance(build, dict) and "Dockerfile" in str(build.get("dockerfile"))
            if built_here and isinstance(service.get("command"), list):
                found.append((f"{path.name}:{name}", list(service["command"])))
    return found


def k8s_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted([*(DEPLOY / "k8s").glob("*.yaml"), *(DEPLOY / "k8s").glob("*/*.yaml")]):
        for document in yaml.safe_load_all(path.read_text()):
            for container in _containers(document):
                command = [*container.get("command", []), *container.get("args", [])]
                if command[:1] == ["hub"]:
                    found.append((f"{path.name}:{container['name']}", command[1:]))
                elif command[:2] in (["/bin/sh", "-c"], ["/bin/bash", "-c"]):
                    found += [
                        (f"{path.name}:{container['name']}", _without_variables(line)[1:])
                        for line in _script_lines(command[2])
                        if line.startswith("hub ")
                    ]
    return found


def _containers(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    spec = document.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", spec).get("template", {})
    return list(template.get("spec", {}).get("containers", []))


def _without_variables(line: str) -> list[str]:
    """A script line's words, each shell variable standing for a value (`"$1"` -> `0`)."""
    return ["0" if "$" in word else word for word in shlex.split(line)]


def _script_lines(script: str) -> list[str]:
    return [line.strip() for line in script.replace("\\\n", " ").splitlines()]


COMMANDS = compose_commands() + k8s_commands()


def test_the_deployments_run_hub_commands() -> None:
    assert len(compose_commands()) >= 7 and len(k8s_commands()) >= 5


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_each_hub_command_line_parses(where: str, argv: list[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as error:
        raise AssertionError(
            f"{where}: `hub {' '.join(argv)}` is not a valid hub command"
        ) from error
