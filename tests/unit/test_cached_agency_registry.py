"""The agency register as readers use it is read at most once per interval, so a busy API does
not query it (or hold a PostgreSQL connection for it in every worker thread) per request; a
registration made through it is seen at once."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.adapters.agency_registries import CachedAgencyRegistry
from hub.domain.agency_records import AgencyRecord
from hub.onboarding import new_agency


class CountingRegistry:
    def __init__(self) -> None:
        self.records: list[AgencyRecord] = []
        self.reads = 0

    def register(self, record: AgencyRecord) -> bool:
        self.records.append(record)
        return True

    def all(self) -> list[AgencyRecord]:
        self.reads += 1
        return list(self.records)


def test_reads_once_per_interval_and_sees_its_own_registrations_at_once() -> None:
    now = [0.0]
    inner = CountingRegistry()
    cached = CachedAgencyRegistry(inner, ttl=30.0, clock=lambda: now[0])
    police = new_agency("shire-constabulary", "police", "police-json", datetime.now(UTC))
    assert cached.all() == [] and cached.all() == []
    assert inner.reads == 1
    cached.register(police)  # through the cache: seen at once
    assert [r.agency_id for r in cached.all()] == ["shire-constabulary"]
    assert inner.reads == 2
    inner.records.append(new_agency("shire-icb", "health", "health-fhir", datetime.now(UTC)))
    assert len(cached.all()) == 1  # another process's registration: not yet
    now[0] = 31.0
    assert len(cached.all()) == 2 and inner.reads == 3
