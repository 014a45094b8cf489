"""Which hub event kind a health system's code means, read from a FHIR R4 `ConceptMap`.

Health systems code what happened in SNOMED CT (and an encounter's class in HL7 v3 ActCode),
not in the hub's own codes, so `health-fhir` maps their codings through a concept map: each
`group` maps a source code system to the hub's event kinds
(`https://safeguarding-hub.example/fhir/CodeSystem/event-kind`), each `element` one source code
to one target kind. The default ships in the package (`concept_maps/health-event-kinds.json`);
a partnership gives its own file instead (`HUB_HEALTH_CONCEPT_MAP`), which replaces it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fhir.resources.R4B.conceptmap import ConceptMap
from pydantic import ValidationError

EVENT_KIND_SYSTEM = "https://safeguarding-hub.example/fhir/CodeSystem/event-kind"
SNOMED_CT = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# A target with these equivalences says the source does NOT mean the target.
_NOT_A_MATCH = frozenset({"unmatched", "disjoint"})


class ConceptMapError(ValueError):
    """The concept map file cannot be used; the message names the file and the element."""


@dataclass(frozen=True)
class EventKindMap:
    """(source system, source code) -> hub event kind."""

    kinds: dict[tuple[str, str], str] = field(default_factory=dict)
    source: str = "default"

    @property
    def systems(self) -> frozenset[str]:
        return frozenset(system for system, _ in self.kinds)

    def kind_for(self, system: str, code: str) -> str | None:
        return self.kinds.get((system, code))


def parse_concept_map(document: object, source: str) -> EventKindMap:
    """A validated R4 ConceptMap as an `EventKindMap`. Groups whose target is not the hub's
    event kinds are refused (the map would silently do nothing), as is a code mapped twice."""
    try:
        concept_map = ConceptMap.model_validate(document)
    except ValidationError as error:
        where = "; ".join(
            ".".join(str(part) for part in detail["loc"]) for detail in error.errors()[:5]
        )
        raise ConceptMapError(f"{source}: not a valid FHIR R4 ConceptMap ({where})") from None
    kinds: dict[tuple[str, str], str] = {}
    for number, group in enumerate(concept_map.group or [], start=1):
        if group.target != EVENT_KIND_SYSTEM or not group.source:
            raise ConceptMapError(
                f"{source}: group {number}: needs a source system and target {EVENT_KIND_SYSTEM}"
            )
        for element in group.element or []:
            targets = [t for t in element.target or [] if t.equivalence not in _NOT_A_MATCH]
            if not element.code or not targets:
                continue
            if len(targets) > 1 or (group.source, element.code) in kinds:
                raise ConceptMapError(
                    f"{source}: group {number}: code {element.code!r} is mapped to more than "
                    "one kind"
                )
            if not targets[0].code:
                raise ConceptMapError(f"{source}: group {number}: a target has no code")
            kinds[(group.source, element.code)] = targets[0].code
    return EventKindMap(kinds, source)


def default_concept_map() -> EventKindMap:
    text = (
        resources.files("hub.adapters.agencies")
        .joinpath("concept_maps/health-event-kinds.json")
        .read_text(encoding="utf-8")
    )
    return parse_concept_map(json.loads(text), "default concept map")


def load_concept_map(path: Path) -> EventKindMap:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConceptMapError(f"{path}: cannot be read as JSON ({type(error).__name__})") from None
    return parse_concept_map(document, str(path))
