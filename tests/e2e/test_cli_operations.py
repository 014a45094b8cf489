"""What an operator relies on from the `hub` command: its version, shell completion, errors a
program can read, refusing a mistyped data directory, metrics on every long-running command's
`--metrics-port`, and a clean exit 0 when SIGTERM stops one. Real processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.tcp_proxy import free_port

LOOKS_LIKE_AN_NHS_NUMBER = "9434765919"
SAMPLE_DIRECTORY = Path(__file__).resolve().parents[2] / "hub" / "samples" / "practitioners.yaml"


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@contextmanager
def running(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A long-running `hub` command; the test stops it (SIGTERM), else it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HUB_LOG_LEVEL": "warning", "HUB_DIRECTORY": str(SAMPLE_DIRECTORY)},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def scrape(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return response.text


def stop_with_sigterm(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def test_version_is_the_installed_package_version() -> None:
    result = hub("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hub {version('safeguarding-hub')}"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_know_the_commands_and_their_options(shell: str) -> None:
    result = hub("completion", shell)
    assert result.returncode == 0, result.stderr
    for word in ("ingest", "consumer", "--metrics-port", "--data-dir", "--format"):
        assert word in result.stdout
    if shell == "bash":  # the script parses as bash
        checked = subprocess.run(
            ["bash", "-n"], input=result.stdout, text=True, capture_output=True, check=False
        )
        assert checked.returncode == 0, checked.stderr


READ_ONLY_COMMANDS = [
    ("status",),
    ("quarantine", "list"),
    ("chronology", LOOKS_LIKE_AN_NHS_NUMBER, "--as", "sw-1", "--purpose", "family-help"),
    ("audit", "--as", "dpo-0001", "--break-glass"),
    ("verify",),
    ("replay", LOOKS_LIKE_AN_NHS_NUMBER, "--as-of", "2026-01-01", "--by", "dpo-0001"),
    ("consumer", "status"),
    ("inbox", "list", "--as", "sw-0001"),
    ("notices", "list", "--as", "sw-0001"),
    ("agency", "list"),
    ("token", "issue", "--agency", "shire-icb"),
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_refuse_a_data_dir_that_holds_no_hub(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    mistyped = tmp_path / "mistyped"
    result = hub(*command, "--data-dir", str(mistyped))
    assert result.returncode == 2, result.stderr  # bad usage
    assert "no hub in the data directory --data-dir (HUB_DATA_DIR)" in result.stderr
    assert not mistyped.exists()  # no new hub, no fresh keys


def test_a_json_error_is_one_object_on_stderr_and_nothing_on_stdout(tmp_path: Path) -> None:
    result = hub("status", "--data-dir", str(tmp_path / "none"), "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["type"] == "NoHubError"
    assert error["exit_code"] == 2
    assert "HUB_DATA_DIR" in error["message"]
    # Under the default text format, the same failure is one line for a person.
    text = hub("status", "--data-dir", str(tmp_path / "none"))
    assert text.stderr.startswith("hub: no hub in the data directory")


def test_a_command_that_starts_a_hub_still_creates_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "new-hub"
    registered = hub(
        "agency", "register", "shire-icb", "--type", "health", "--adapter", "health-fhir",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    status = hub("status", "--data-dir", str(data_dir), "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)


def test_inbox_ingest_serves_metrics_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    data_dir, inbox, port = tmp_path / "hub", tmp_path / "inbox", free_port()
    inbox.mkdir()
    (inbox / "in-no-agency-directory.jsonl").write_text("{}\n")  # --once: exit 3
    once = hub("ingest", "--inbox", str(inbox), "--once", "--data-dir", str(data_dir))
    assert once.returncode == 3, once.stderr
    common = ("--data-dir", str(data_dir), "--format", "json")
    with running("ingest", "--inbox", str(inbox), "--metrics-port", str(port), *common) as process:
        wait_for(lambda: "hub_ingest" in scrape(port) or process.poll() is not None, "metrics")
        assert process.poll() is None, process.communicate()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        code, stdout, stderr = stop_with_sigterm(process)
    assert code == 0, stderr  # a clean stop, though a file could not be placed
    totals = json.loads(stdout)
    assert totals["skipped_files"] and totals["skipped_files"][0]["file"].endswith(".jsonl")


def test_consumer_run_serves_metrics_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    args = ("clocks", "--poll", "0.2", "--metrics-port", str(port), "--data-dir", str(tmp_path))
    with running("consumer", "run", *args) as process:
        wait_for(lambda: 'hub_consumer_lag{consumer="clocks"}' in scrape(port), "consumer lag")
        code, _, stderr = stop_with_sigterm(process)
    assert code == 0, stderr


def test_serve_counts_requests_by_route_template_on_the_metrics_port(tmp_path: Path) -> None:
    app_port, metrics_port = free_port(), free_port()
    args = ("--port", str(app_port), "--metrics-port", str(metrics_port))
    with running("serve", *args, "--data-dir", str(tmp_path)) as process:
        app = f"http://127.0.0.1:{app_port}"
        wait_for(lambda: httpx.get(f"{app}/healthz").status_code == 200, "the API")
        who = f"{app}/api/v1/audit/practitioners/{LOOKS_LIKE_AN_NHS_NUMBER}"
        assert httpx.get(who).status_code == 401  # no token
        assert httpx.get(f"{app}/no-such-page/{LOOKS_LIKE_AN_NHS_NUMBER}").status_code == 404
        assert httpx.get(f"{app}/metrics").status_code in {401, 404}  # not on the user port
        metrics = scrape(metrics_port)
        code, _, stderr = stop_with_sigterm(process)
    assert code == 0, stderr
    counted = parse(metrics)
    template = "/api/v1/audit/practitioners/{practitioner_id}"
    assert counted[("http_requests_total", (("handler", template), ("method", "GET"), ("status", "401")))] == 1  # fmt: skip  # noqa: E501
    assert counted[("http_requests_total", (("handler", "none"), ("method", "GET"), ("status", "404")))] >= 1  # fmt: skip  # noqa: E501
    histogram = ("http_request_duration_seconds_count", (("handler", template), ("method", "GET")))
    assert counted[histogram] == 1
    assert LOOKS_LIKE_AN_NHS_NUMBER not in metrics  # labels hold templates, never paths
    assert "hub_verify_ok" in metrics  # the hub's own metrics beside them


@pytest.mark.kafka
def test_kafka_ingest_serves_metrics_and_exits_0_on_sigterm(
    kafka_broker: str, tmp_path: Path
) -> None:
    port = free_port()
    args = ("--kafka", kafka_broker, "--metrics-port", str(port), "--data-dir", str(tmp_path))
    with running("ingest", *args) as process:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, "ready")
        assert "hub_ingest" in scrape(port)
        code, _, stderr = stop_with_sigterm(process)
    assert code == 0, stderr


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text format as {(name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values
