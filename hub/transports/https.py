"""HTTPS transport: an agency system posts a JSON array of canonical events
(`POST /api/v1/events`, authenticated as `agency:<id>`). Each request is one batch on the
agency's own source, `https:<agency id>`, positioned after what the store already holds, so
the same validation, idempotency and quarantine apply as on Kafka and the file inbox, and the
publishing agency is the token's, never what an event claims."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.ingest import InboundMessage, IngestService


@dataclass(frozen=True)
class PublishReceipt:
    accepted: int
    duplicates: int
    quarantined: dict[str, int]
    positions: list[int]  # the first and last position given to this request's events

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "positions": self.positions,
        }


class HttpsPublishing:
    """One agency's requests at a time per process: positions are taken from the store under a
    lock, so two requests cannot be given the same ones."""

    def __init__(self, ingest: Callable[[], IngestService]) -> None:
        self._ingest = ingest  # built at the first request: a replica that never publishes
        self._lock = threading.Lock()  # never builds the ingest service

    def publish(self, agency: str, events: list[dict[str, Any]]) -> PublishReceipt:
        source = f"https:{agency}"
        with self._lock:
            ingest = self._ingest()
            start = (ingest.resume_after(source) or 0) + 1
            batch = [
                InboundMessage(source, start + i, json.dumps(event).encode(), agency)
                for i, event in enumerate(events)
            ]
            outcome = ingest.ingest(batch) if batch else None
        if outcome is None:
            return PublishReceipt(0, 0, {}, [])
        return PublishReceipt(
            outcome.accepted,
            outcome.duplicates,
            dict(outcome.quarantined),
            [start, start + len(events) - 1],
        )
