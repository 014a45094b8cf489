"""`hub federation receive` and `hub federation answer` run until stopped: their loops (driven
here in a thread, as the commands drive them until SIGTERM or Ctrl-C sets the stop event) deal
with what they read, then stop when the event is set, and count what they did in the metrics
their --metrics-port serves. Over the tansu broker, with the hubs of
`test_federation_transfer_receive` (topics of each test's own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from hub.adapters.metrics import Health, serve_metrics
from hub.bootstrap import Hub
from hub.cli import build_parser
from hub.cli.federation import run_answer, run_receive
from hub.transports.federation_kafka import send_message
from tests.integration.test_federation_transfer_receive import WOLD, publish, transfer_body
from tests.integration.test_federation_transfer_receive import two_hubs as transfer_hubs

pytestmark = pytest.mark.kafka
__all__ = ["transfer_hubs"]


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Running:
    """A federation loop in a thread until `stop()`; `result` is what it returned."""

    def __init__(self, run: Callable[..., Any], hub: Hub, health: Health) -> None:
        self.stop_event = threading.Event()
        self.result: Any = None

        def target() -> None:
            self.result = run(hub, once=False, idle_s=1.0, stop=self.stop_event, health=health)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the loop did not stop on the stop event"


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_receive_runs_until_stopped_and_counts_in_its_metrics(
    transfer_hubs: tuple[Hub, Hub],
) -> None:
    wessex, shire = transfer_hubs
    shire_id = shire.federation.hub_id
    publish(wessex, WOLD, "REF-9", "la.contact", 10)
    recorded_before = sample("hub_federation_events_total", {"outcome": "recorded"})
    read_before = sample("hub_federation_messages_total", {"command": "receive"})
    health = Health(ready_check=lambda: shire.store.recorder.max_notification_id())
    server = serve_metrics(0, health)
    port = server.server_address[1]
    try:
        running = Running(run_receive, shire, health)
        send_message(
            wessex.federation.partner(shire_id).kafka,
            wessex.federation.seal("transfer-offer", shire_id, transfer_body(wessex)),
        )
        wait_for(
            lambda: sample("hub_federation_events_total", {"outcome": "recorded"}) > recorded_before
        )
        time.sleep(2.5)  # longer than --idle-s: still running, not stopped by idleness
        assert running.thread.is_alive()
        running.stop()
        assert running.result.recorded == 1  # what it read before the stop, recorded
        assert sample("hub_federation_messages_total", {"command": "receive"}) >= read_before + 1
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'hub_federation_events_total{outcome="recorded"}' in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        server.shutdown()


def test_answer_runs_until_stopped_and_counts_in_its_metrics(
    transfer_hubs: tuple[Hub, Hub],
) -> None:
    """Shire's register here gives Wessex no discovery key, so Wessex's holdings are refused
    (naming the field): read, dealt with and counted all the same."""
    wessex, shire = transfer_hubs  # topics of this test's own: nothing left from other tests
    shire_id = shire.federation.hub_id
    publish(wessex, WOLD, "REF-9", "la.contact", 10)
    refused_before = sample("hub_federation_discovery_total", {"outcome": "refused"})
    read_before = sample("hub_federation_messages_total", {"command": "answer"})
    health = Health(ready_check=lambda: shire.store.recorder.max_notification_id())
    running = Running(run_answer, shire, health)
    assert wessex.discovery.publish_holdings(shire_id) == {shire_id: 1}
    wait_for(
        lambda: sample("hub_federation_discovery_total", {"outcome": "refused"}) > refused_before
    )
    time.sleep(2.5)  # longer than --idle-s: still running, not stopped by idleness
    assert running.thread.is_alive()
    running.stop()
    ((what, count),) = running.result.items()
    assert what.startswith("refused: ") and count == 1
    field = what.split(" ")[1]
    assert sample("hub_federation_discovery_refused_total", {"field": field}) >= 1
    assert sample("hub_federation_messages_total", {"command": "answer"}) == read_before + 1
    assert health.alive()


@pytest.mark.parametrize("command", ["receive", "answer"])
def test_both_run_until_stopped_unless_once_and_take_a_metrics_port(command: str) -> None:
    args = build_parser().parse_args(["federation", command, "--metrics-port", "9100"])
    assert (args.once, args.metrics_port) == (False, 9100)
    assert build_parser().parse_args(["federation", command, "--once"]).once
