"""Benchmark: 50 concurrent readers of the HTTP API while ingest runs.

    python -m benchmarks.api_load [--readers 50] [--requests 40] [--children 2000]

Builds a demo partnership, starts `hub serve` and a continuous `hub ingest --inbox` as separate
processes, feeds new agency files into the inbox during the run, and has N concurrent readers
request chronologies (the full path: token check, projection read, relationships, Cedar, the
write-ahead audit entry). Reports p50/p95/p99 latency, throughput, errors and events ingested
during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.common import Figure, add_common_args, refuse, write_result
from benchmarks.workload import canonical_lines
from hub.transports.inbox import write_inbox_file
from tests.tcp_proxy import free_port

# The readers sign in with a development token (`hub token issue`): off unless enabled.
HUB_ENV = {**os.environ, "HUB_DEV_TOKENS": "true"}


def hub_cli(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        env=HUB_ENV,
    ).stdout


def council_children(inbox: Path) -> list[str]:
    """The NHS numbers in the council's files the demo left in its inbox (it keeps no native
    exports; some files are deliberately malformed, so they are searched as bytes)."""
    numbers: set[str] = set()
    for path in sorted((inbox / "shire-county-council").glob("*.jsonl")):
        found = re.findall(rb'"nhs_number":\s*"(\d{10})"', path.read_bytes())
        numbers.update(number.decode() for number in found)
    return sorted(numbers)


def feed_inbox(inbox: Path, stop: threading.Event, written: list[int]) -> None:
    """New agency files keep arriving while the readers read."""
    lines = [
        line
        for agency, line in canonical_lines(20_000, children=4_000, seed=99)
        if agency == "shire-county-council"
    ]
    for number, start in enumerate(range(0, len(lines), 500)):
        if stop.is_set():
            return
        write_inbox_file(
            inbox, "shire-county-council", f"90-load-{number:03d}", lines[start : start + 500]
        )
        written.append(min(500, len(lines) - start))
        stop.wait(0.5)


async def reader(
    client: httpx.AsyncClient,
    children: list[str],
    requests: int,
    timings: list[float],
    errors: list[str],
) -> None:
    rng = random.Random(id(timings) ^ len(errors))
    for _ in range(requests):
        child = rng.choice(children)
        started = time.perf_counter()
        try:
            response = await client.post("/api/v1/chronology", json={"child": child})
            if response.status_code != 200:
                errors.append(f"{response.status_code}")
        except httpx.HTTPError as error:
            errors.append(type(error).__name__)
        timings.append(time.perf_counter() - started)


async def read_concurrently(
    base: str, token: str, children: list[str], readers: int, requests: int
) -> tuple[list[float], list[str], float]:
    headers = {"Authorization": f"Bearer {token}", "X-Hub-Purpose": "child-protection-planning"}
    timings: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=readers)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=120, limits=limits
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(
            *(reader(client, children, requests, timings, errors) for _ in range(readers))
        )
        return timings, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser)
    parser.add_argument("--readers", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--children", type=int)
    args = parser.parse_args()
    args.readers = args.readers or (10 if args.quick else 50)
    args.requests = args.requests or (5 if args.quick else 40)
    args.children = args.children or (200 if args.quick else 2000)
    data_dir = Path(tempfile.mkdtemp(prefix="hub-load-")) / "hub"
    report = json.loads(
        hub_cli(
            "demo",
            "--children",
            str(args.children),
            "--data-dir",
            str(data_dir),
            "--format",
            "json",
        )
    )
    sibling = report["sibling_case_disclosures"]["child"]
    population = council_children(data_dir / "inbox")
    if not population:
        refuse(f"the demo left no council records in {data_dir / 'inbox'} to read chronologies of")
    children = [sibling] * 10 + population[:200]
    token = json.loads(
        hub_cli(
            "token",
            "issue",
            "--practitioner",
            "lcpp-0001",
            "--minutes",
            "120",
            "--data-dir",
            str(data_dir),
            "--format",
            "json",
        )
    )["token"]

    port = free_port()
    env_args = ["--data-dir", str(data_dir)]
    server = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), *env_args, "--quiet"],
        stderr=subprocess.DEVNULL,
        env=HUB_ENV,
    )
    ingest = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "ingest",
            "--inbox",
            str(data_dir / "inbox"),
            *env_args,
            "--quiet",
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.1)
    events_before = httpx.get(f"{base}/readyz").json()["events"]
    stop = threading.Event()
    written: list[int] = []
    feeder = threading.Thread(target=feed_inbox, args=(data_dir / "inbox", stop, written))
    feeder.start()
    try:
        timings, errors, elapsed = asyncio.run(
            read_concurrently(base, token, children, args.readers, args.requests)
        )
    finally:
        stop.set()
        feeder.join()
        rows_after = httpx.get(f"{base}/readyz").json()["events"]
        server.terminate()
        ingest.terminate()
        server.wait(timeout=30)
        ingest.wait(timeout=30)
    q = statistics.quantiles(sorted(timings), n=100, method="inclusive")
    rate = len(timings) / elapsed
    figures = [
        Figure(
            f"API chronology p50, {args.readers} readers + ingest",
            round(q[49] * 1000, 1),
            "ms",
            better="lower",
        ),
        Figure("API chronology p95", round(q[94] * 1000, 1), "ms", better="lower"),
        Figure("API chronology p99", round(q[98] * 1000, 1), "ms", better="lower"),
        Figure("API chronology throughput", round(rate, 1), "requests/s"),
        Figure("API errors", len(errors), "requests", target={"max": 0}, better="lower"),
    ]
    write_result(
        args,
        "api_load_sqlite",
        figures,
        params={
            "readers": args.readers,
            "requests_per_reader": args.requests,
            "children": args.children,
        },
        notes=["no baseline: latency under concurrent load with ingest running is reported"],
        extra={
            "requests": len(timings),
            "error_kinds": sorted(set(errors)),
            "inbox_events_written_during_run": sum(written),
            "store_rows_added_during_run": rows_after - events_before,
        },
    )


if __name__ == "__main__":
    main()
