"""The contract every agency format adapter keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hub.domain.canonical_event import CanonicalEvent
from hub.domain.taxonomy import AgencyType


@dataclass(frozen=True)
class AdapterProblem:
    """A row or entry the adapter could not map; the rest of the file still flows.

    `reason` must be specific enough for the agency's integrator to fix the export, and must
    not quote personal data (no NHS numbers, names or free text) because it is printed.
    """

    file: str
    line: int
    reason: str


@dataclass
class AdapterResult:
    events: list[CanonicalEvent] = field(default_factory=list)
    problems: list[AdapterProblem] = field(default_factory=list)


class AgencyAdapter(Protocol):
    """Reads one native export file and maps it to canonical events."""

    name: str
    agency_type: AgencyType
    description: str

    def read(self, path: Path, agency_id: str) -> AdapterResult: ...
