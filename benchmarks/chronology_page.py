"""Benchmark: the chronology page's server time for a 1,000-event child, picture included,
beside the JSON API in the same run.

    python -m benchmarks.chronology_page [--events 20000] [--children 4000] [--reads 100]
        [--json-out PATH] [--quick]

A hub with the latency benchmark's target child (1,000 events from four agencies, with an
s47 enquiry, so the practitioner is related) among `--events` other events. Through the real
app in process (FastAPI's TestClient, so no network and the same per-request framework cost
on both sides), measured per request:

- the page: `POST /chronology` (the gate's disclosure, audited; held in the session) and the
  `GET /chronology/view/<key>` it redirects to (the header, the timeline with key facts, the
  flags, the SVG picture and its words, rendered from what is held);
- the re-render alone (`GET` of the held view, as Refresh, Back or a filter does);
- baseline: `POST /api/v1/chronology` for the same child (the same disclosure, audited, as JSON
  with the header).

Every view is audited, so the ledger grows by one row per request on both sides.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.chronology_latency import TARGET_NHS, target_events
from benchmarks.common import Figure, add_common_args, write_result
from benchmarks.workload import canonical_lines, register_workload_agencies
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.structured_logging import configure_logging
from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.ingest import InboundMessage
from hub.settings import HubSettings

PURPOSE = "child-protection-enquiry"


def percentiles(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--children", type=int, default=4_000)
    parser.add_argument("--reads", type=int, default=100)
    args = parser.parse_args()
    if args.quick:
        args.events, args.children, args.reads = 2_000, 400, 20
    configure_logging("warning")
    root = Path(tempfile.mkdtemp(prefix="hub-bench-page-"))
    # The page and the API are signed in with development tokens (off by default).
    settings = HubSettings(data_dir=root, directory=SAMPLE_DIRECTORY_PATH, dev_tokens=True)
    hub = bootstrap(settings)
    register_workload_agencies(hub)
    position: dict[str, int] = {}
    batches: dict[str, list[InboundMessage]] = {}
    for agency, line in [
        *target_events(1000),
        *canonical_lines(args.events, children=args.children),
    ]:
        position[agency] = position.get(agency, 0) + 1
        batches.setdefault(agency, []).append(
            InboundMessage(f"bench:{agency}", position[agency], line, agency)
        )
        if len(batches[agency]) >= 1000:
            hub.ingest.ingest(batches.pop(agency))
    for agency in list(batches):
        hub.ingest.ingest(batches.pop(agency))

    client = TestClient(create_app(hub, hub.token_verifier()))
    token = issue_dev_token(hub.token_key, "lcpp-0001")
    api_headers = {"Authorization": f"Bearer {token}", "X-Hub-Purpose": PURPOSE}
    login = client.get("/")
    client.post(
        "/login", data={"token": token, "purpose": PURPOSE, "csrf_token": csrf_of(login.text)}
    )
    csrf = csrf_of(client.get("/chronology").text)

    def api() -> float:
        began = time.perf_counter()
        answer = client.post("/api/v1/chronology", json={"child": TARGET_NHS}, headers=api_headers)
        took = time.perf_counter() - began
        assert answer.status_code == 200, answer.status_code
        assert len(answer.json()["entries"]) == 1000
        return took

    held: list[str] = []

    def page() -> float:
        began = time.perf_counter()
        posted = client.post(
            "/chronology",
            data={"child": TARGET_NHS, "csrf_token": csrf},
            follow_redirects=False,
        )
        shown = client.get(posted.headers["location"])
        took = time.perf_counter() - began
        assert shown.status_code == 200, shown.status_code
        assert shown.text.count('<li id="item-') == 1000
        assert "history-chart" in shown.text
        held.append(posted.headers["location"])
        return took

    def again() -> float:
        began = time.perf_counter()
        shown = client.get(held[-1])
        took = time.perf_counter() - began
        assert shown.status_code == 200
        return took

    for warm in (api, page, again):
        warm()
    samples: dict[str, list[float]] = {"api": [], "page": [], "again": []}
    for _ in range(args.reads):  # interleaved, so drift in the machine's load hits all three
        samples["api"].append(api())
        samples["page"].append(page())
        samples["again"].append(again())
    api_p, page_p, again_p = (percentiles(samples[k]) for k in ("api", "page", "again"))
    baseline = "POST /api/v1/chronology, the same child (JSON with the header), same run"
    figures = [
        Figure(
            f"chronology page {q} (POST + redirected GET, picture included), 1,000 events",
            round(page_p[q], 1),
            "ms",
            baseline,
            round(api_p[q], 1),
            better="lower",
        )
        for q in ("p50", "p99")
    ] + [
        Figure(
            f"chronology page re-rendered (Refresh, Back, a filter) {q}, 1,000 events",
            round(again_p[q], 1),
            "ms",
            baseline,
            round(api_p[q], 1),
            better="lower",
        )
        for q in ("p50", "p99")
    ]
    for figure in figures:
        print(f"{figure.name}: {figure.value} ms (API {figure.baseline_value} ms)")
    write_result(
        args,
        "chronology_page",
        figures,
        params={"events": args.events, "children": args.children, "reads": args.reads},
        notes=[
            "in process through FastAPI's TestClient: no network on either side",
            "every POST is a disclosure audited before it is answered, on both sides",
        ],
        extra={"api_ms": api_p, "page_ms": page_p, "rerender_ms": again_p},
    )
    hub.close()


if __name__ == "__main__":
    main()
