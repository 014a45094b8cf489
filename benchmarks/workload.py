"""A realistic synthetic workload for benchmarks: many children with few events, a Zipf-like
tail with thousands, four agency types, fixed seed."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.domain.identity import nhs_check_digit

AGENCIES = [
    ("shire-county-council", "local-authority", "la.contact"),
    ("shire-constabulary", "police", "police.household-arrest"),
    ("shire-icb", "health", "health.health-visitor-concern"),
    ("school-100001", "education", "education.safeguarding-disclosure"),
]


def nhs_numbers(count: int) -> list[str]:
    numbers: list[str] = []
    serial = 0
    while len(numbers) < count:
        first_nine = f"9{serial:08d}"
        serial += 1
        check = nhs_check_digit(first_nine)
        if check is not None:
            numbers.append(first_nine + str(check))
    return numbers


MAX_EVENTS_PER_CHILD = 3000


def _capped_choices(
    rng: random.Random, children: int, weights: list[float], total: int
) -> list[int]:
    counts = [0] * children
    chosen: list[int] = []
    while len(chosen) < total:
        for child in rng.choices(range(children), weights=weights, k=total - len(chosen)):
            if counts[child] < MAX_EVENTS_PER_CHILD:
                counts[child] += 1
                chosen.append(child)
    rng.shuffle(chosen)
    return chosen


def canonical_lines(
    total: int, *, children: int, seed: int = 20261122
) -> Iterator[tuple[str, bytes]]:
    """(agency id, canonical event JSON) for `children` children whose event counts follow a
    Zipf-like law capped at MAX_EVENTS_PER_CHILD: most children have a handful, a few have
    thousands (domain.md). An uncapped Zipf over 10^5 children gives one child a tenth of all
    events, which no child's record looks like."""
    rng = random.Random(seed)
    numbers = nhs_numbers(children)
    weights = [1 / (rank**1.1) for rank in range(1, children + 1)]
    chosen = _capped_choices(rng, children, weights, total)
    base = datetime(2022, 1, 1, tzinfo=UTC)
    for serial, child in enumerate(chosen):
        agency_id, agency_type, kind = AGENCIES[serial % 4]
        occurred = base + timedelta(minutes=rng.randrange(0, 3 * 365 * 24 * 60))
        event = {
            "schema_version": 1,
            "event_id": f"BENCH-{serial}",
            "revision": 1,
            "agency": {"id": agency_id, "type": agency_type},
            "child": {"nhs_number": numbers[child]},
            "kind": kind,
            "categories": ["neglect"],
            "occurred_at": occurred.isoformat(),
            "recorded_at": (occurred + timedelta(hours=rng.randrange(1, 72))).isoformat(),
            "summary": "Synthetic safeguarding event for benchmarking "
            + "x" * rng.randrange(20, 200),
            "details": {"note": "synthetic"},
            "sensitivity": "standard",
            "lawful_basis": "public-task",
        }
        yield agency_id, json.dumps(event).encode()


def register_workload_agencies(hub: Any) -> None:
    """Register the workload's agencies with the hub (the agency register is authoritative:
    nothing is ingested from an agency that is not registered)."""
    from hub.onboarding import new_agency

    now = datetime.now(UTC)
    for agency_id, agency_type, _ in AGENCIES:
        hub.agencies.register(new_agency(agency_id, agency_type, "canonical", now))
