"""Prometheus metrics, and the health endpoints every long-running hub process serves.

`hub serve`, `hub ingest`, `hub consumer run`, `hub federation receive` and
`hub federation answer` take `--metrics-port PORT`; on it they answer
`GET /metrics` (Prometheus text format), `GET /healthz` (liveness: 200 while the process's main
loop has reported within its stall limit, else 503) and `GET /readyz` (readiness: 200 when the
process's dependencies answer, else 503). The port is meant for the monitoring network only:
the API's user-facing port does not serve `/metrics`.

Labels carry agency ids, topics, partitions, reason codes and outcomes: never a child, an NHS
number, a practitioner or any content, so a metrics store holds no personal data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("hub.adapters.metrics")

INGEST_EVENTS = Counter(
    "hub_ingest_events",
    "Messages ingested, by publishing agency and outcome",
    ["agency", "outcome"],  # outcome: accepted | duplicate | quarantined
)
INGEST_QUARANTINED = Counter(
    "hub_ingest_quarantined", "Messages quarantined, by reason code", ["reason"]
)
INGEST_LAG = Gauge(
    "hub_ingest_lag",
    "Messages on the broker not yet recorded in the store, per partition this worker owns",
    ["topic", "partition"],
)
DISCLOSURES = Counter(
    "hub_disclosures",
    "Access decisions audited with something shown, by action and outcome",
    ["action", "outcome"],  # outcome: disclosed | partially-disclosed | no-record
)
DENIALS = Counter("hub_denials", "Access decisions audited as denied, by action", ["action"])
BREAK_GLASS = Counter("hub_break_glass", "Break-glass grants taken (each audited and reviewed)")
CONSUMER_LAG = Gauge("hub_consumer_lag", "Log entries a consumer has not read yet", ["consumer"])
CONSUMER_ERRORS = Counter(
    "hub_consumer_errors", "Entries a consumer could not handle (recorded, skipped)", ["consumer"]
)

FEDERATION_MESSAGES = Counter(
    "hub_federation_messages",
    "Messages read from this hub's inbound federation topic, by the command reading them",
    ["command"],  # receive | answer (each reads every message; each deals with its own kinds)
)
FEDERATION_EVENTS = Counter(
    "hub_federation_events",
    "Events in transfers from partner hubs, by outcome",
    ["outcome"],  # recorded | duplicate (already held from that partner)
)
FEDERATION_QUARANTINED = Counter(
    "hub_federation_quarantined",
    "Messages from partner hubs quarantined by `hub federation receive`, by the field that failed",
    ["field"],
)
FEDERATION_DISCOVERY = Counter(
    "hub_federation_discovery",
    "Partner hubs' discovery messages dealt with by `hub federation answer`, by outcome",
    ["outcome"],  # answered | too-old | holdings-kept | refused
)
FEDERATION_DISCOVERY_REFUSED = Counter(
    "hub_federation_discovery_refused",
    "Partner hubs' discovery messages refused, by the field that failed",
    ["field"],
)


def record_federation_receive(
    read: int, recorded: int, duplicates: int, quarantined: dict[str, int]
) -> None:
    FEDERATION_MESSAGES.labels("receive").inc(read)
    FEDERATION_EVENTS.labels("recorded").inc(recorded)
    FEDERATION_EVENTS.labels("duplicate").inc(duplicates)
    for failed_field, count in quarantined.items():
        FEDERATION_QUARANTINED.labels(failed_field).inc(count)


REFUSED = "refused: "
"""How `hub.federation_discovery.serve` counts a refused message: "refused: <field> <reason>"."""


def record_federation_answer(read: int, done: Mapping[str, int]) -> None:
    FEDERATION_MESSAGES.labels("answer").inc(read)
    for what, count in done.items():
        if what.startswith(REFUSED):
            FEDERATION_DISCOVERY.labels("refused").inc(count)
            FEDERATION_DISCOVERY_REFUSED.labels(what[len(REFUSED) :].split(" ")[0]).inc(count)
        else:
            FEDERATION_DISCOVERY.labels(what).inc(count)


def record_ingest(agency: str, accepted: int, duplicates: int, quarantined: dict[str, int]) -> None:
    INGEST_EVENTS.labels(agency, "accepted").inc(accepted)
    INGEST_EVENTS.labels(agency, "duplicate").inc(duplicates)
    INGEST_EVENTS.labels(agency, "quarantined").inc(sum(quarantined.values()))
    for reason, count in quarantined.items():
        INGEST_QUARANTINED.labels(reason).inc(count)


def count_access(action: str, outcome: str, break_glass: bool) -> None:
    if outcome == "denied":
        DENIALS.labels(action).inc()
    else:
        DISCLOSURES.labels(action, outcome).inc()
    if break_glass:
        BREAK_GLASS.inc()


class VerifyStatusCollector(Collector):
    """`hub_verify_ok` and `hub_verify_last_run_timestamp_seconds`, read at scrape time from the
    store, where each `hub verify` run records its result (whichever process ran it)."""

    def __init__(self, last_verification: Callable[[], dict[str, Any] | None]) -> None:
        self._last_verification = last_verification

    def collect(self) -> Iterator[GaugeMetricFamily]:
        last = self._last_verification()
        ok = GaugeMetricFamily(
            "hub_verify_ok",
            "1 if the last `hub verify` found nothing wrong, 0 if it found tampering, "
            "-1 if it never ran",
        )
        at = GaugeMetricFamily(
            "hub_verify_last_run_timestamp_seconds", "When `hub verify` last ran (Unix time)"
        )
        if last is None:
            ok.add_metric([], -1)
        else:
            ok.add_metric([], 1 if last["ok"] else 0)
            at.add_metric([], float(last["at_epoch"]))
        yield ok
        yield at


@dataclass
class Health:
    """Liveness from heartbeats of the process's main loop; readiness from a check of what the
    process depends on (a store query, a broker request), bounded by the check itself."""

    ready_check: Callable[[], object]
    stall_after_s: float = 180.0
    _last_beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last_beat <= self.stall_after_s

    def ready(self) -> tuple[bool, str]:
        try:
            self.ready_check()
        except Exception as error:  # any failure means not ready; the type says which
            return False, type(error).__name__
        return True, "ready"


class _Handler(BaseHTTPRequestHandler):
    health: Health

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            alive = self.health.alive()
            self._send(200 if alive else 503, b"ok\n" if alive else b"stalled\n")
        elif self.path == "/readyz":
            ready, detail = self.health.ready()
            self._send(200 if ready else 503, f"{detail}\n".encode())
        else:
            self._send(404, b"not found\n")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes and probes every few seconds are not worth a log line


def serve_metrics(
    port: int,
    health: Health,
    collectors: Iterable[Collector] = (),
    host: str = "0.0.0.0",  # noqa: S104
) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on `port` from a daemon thread."""
    for collector in collectors:
        REGISTRY.register(collector)
    handler = type("HealthHandler", (_Handler,), {"health": health})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics_serving", port=server.server_address[1])
    return server
