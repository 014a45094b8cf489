"""Benchmark: Merkle verify throughput and KEK rotation time, on an existing store.

    python -m benchmarks.verify_and_rotation --data-dir /tmp/hub-bench-1m

Run `benchmarks.chronology_latency --data-dir DIR` first to build a store of >= 1M events.
Verify (recompute every row's leaf, compare with the index, check the signed root) is
measured beside hashing the same rows with `hashlib` in the same run; rotation rewraps every
data key in the key store (one per child stream, plus the hub's own scopes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from hub.bootstrap import bootstrap
from hub.key_rotation import rotate_kek
from hub.settings import HubSettings
from hub.structured_logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    configure_logging("warning")
    hub = bootstrap(HubSettings(data_dir=args.data_dir))

    started = time.perf_counter()
    hub.integrity.checkpoint()
    checkpoint_s = time.perf_counter() - started

    started = time.perf_counter()
    report = hub.integrity.verify()
    verify_s = time.perf_counter() - started
    assert report.ok, report.findings[:3]
    rows = sum(r.rows for r in report.logs)

    started = time.perf_counter()
    hashed = 0
    for log in ("events", "audit"):
        recorder = hub.store.recorder if log == "events" else hub.audit.recorder
        start = 1
        while True:
            page = recorder.select_notifications(start=start, limit=2000)
            for row in page:
                hashlib.sha256(row.state).digest()
                hashed += 1
            if len(page) < 2000:
                break
            start = page[-1].id + 1
    hash_s = time.perf_counter() - started

    keys = hub.key_store.count()
    rotation = rotate_kek(hub.keyring)
    hub.close()

    result = {
        "benchmark": "verify_and_rotation_sqlite",
        "rows": rows,
        "checkpoint_extend_s": round(checkpoint_s, 1),
        "verify_rows_per_s": round(rows / verify_s),
        "hashlib_rows_per_s": round(hashed / hash_s),
        "verify_vs_hashlib": round((rows / verify_s) / (hashed / hash_s), 3),
        "data_keys": keys,
        "kek_rotation_s": round(rotation.seconds, 2),
        "kek_rotation_keys_per_s": round(rotation.rewrapped / rotation.seconds),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "versions": {p: version(p) for p in ("eventsourcing", "cryptography")},
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "at": datetime.now(UTC).isoformat(),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"verify_and_rotation-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
