"""The adapters by name, so the CLI and configuration can pick one with a string."""

from __future__ import annotations

from pathlib import Path

from hub.adapters.agencies.base import AgencyAdapter
from hub.adapters.agencies.fhir_concept_map import load_concept_map
from hub.adapters.agencies.health_fhir import HealthFhirBundleAdapter
from hub.adapters.agencies.la_csv import LaCaseManagementCsvAdapter
from hub.adapters.agencies.police_json import PoliceIncidentJsonAdapter
from hub.adapters.agencies.school_csv import SchoolSafeguardingLogCsvAdapter

ADAPTERS: dict[str, AgencyAdapter] = {
    adapter.name: adapter
    for adapter in (
        LaCaseManagementCsvAdapter(),
        PoliceIncidentJsonAdapter(),
        HealthFhirBundleAdapter(),
        SchoolSafeguardingLogCsvAdapter(),
    )
}


class UnknownAdapterError(KeyError):
    """No adapter has this name; the message lists the ones that exist."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = (
            f"unknown adapter {name!r}; valid adapters are: {', '.join(sorted(ADAPTERS))}"
        )

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument, which hides the message.
        return self.message


def get_adapter(name: str) -> AgencyAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnknownAdapterError(name) from None


def configured_adapter(name: str, health_concept_map: Path | None = None) -> AgencyAdapter:
    """The adapter by name, the health adapter with the partnership's concept map when one is
    configured (`HUB_HEALTH_CONCEPT_MAP`); a map that cannot be used raises `ConceptMapError`."""
    adapter = get_adapter(name)
    if name == HealthFhirBundleAdapter.name and health_concept_map is not None:
        return HealthFhirBundleAdapter(load_concept_map(health_concept_map))
    return adapter
