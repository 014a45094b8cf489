"""Partnership indicators: per-child facts kept for the quarterly dashboard (`hub indicators`).

The consumer folds each agency record about a child into one small document,
`child:<stream>:r:<record key>`, sealed with that child's key, holding only the latest
revision's facts the indicators need: kind, publishing agency, the UK dates it happened and
reached the hub, sharing latency, the start and completion dates in its details (an
assessment's; a health assessment's or dental check's completion), the day the details of
a new kind give (ceasing to be looked after, leaving home education, reaching the end of
compulsory school age, moving out of the area, a care leaver's status: `DETAIL_DAYS`), a
care leaver's accommodation or activity as yes or no (`OUTCOMES`), the date of birth in the
child's details (the care leaver cohort's ages), the category of any withholding reason, and
which record a retraction withdraws. The record key is a hash of the
agency and its record id. An NHS number's stream also has `child:<stream>:links`, the
provisional streams linked to it. No summary, free text, NHS number or agency record id is
kept. (One document per record rather than per child: a child with hundreds of records would
otherwise have their whole document rewritten for each one.) Erasing a child makes their
documents unreadable, so their contribution disappears from the next report at once, and
from the store after a rebuild.

Nothing is aggregated while folding: `load_children` reads the documents at report time, joins
a provisional stream to the NHS number it is linked to, keeps the latest revision of each
record and drops retracted ones, and `hub.domain.indicators.build_report` computes the
figures. The only index-key document is `stats:indicators` (counters for `hub consumer
status`). There is nothing to do in `act`: the consumer takes no action in the world.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consumers.framework import ConsumerState, Document, Documents, child_document
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.chronology import ChronologyEntry
from hub.domain.indicators import Child, RecordFact, current_records, record_fact
from hub.domain.latency import LatencyRules
from hub.domain.records import ChildRecordEntry

RECORD = "r"
LINKS = "links"
STATS = "stats:indicators"
CHILD_PREFIX = "child:"
_LINKS = {"identity-linked": "linked", "identity-unlinked": "unlinked"}
_BATCH = 500


def record_document(stream: str, key: str) -> str:
    return child_document(stream, RECORD, key)


def links_document(stream: str) -> str:
    return child_document(stream, LINKS)


class IndicatorsConsumer:
    name = "indicators"
    description = "Partnership indicators: per-child facts for `hub indicators`"
    kept_on_rebuild: tuple[str, ...] = ()

    def __init__(self, rules: LatencyRules | None = None) -> None:
        self._rules = rules or LatencyRules()

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        stream = entry.originator_id.hex
        stats = documents.get(STATS) or {}
        if entry.entry_type == "agency-event":
            event = CanonicalEvent.model_validate(entry.body)
            fact = record_fact(
                ChronologyEntry(event, entry.timestamp, stream, entry.originator_version),
                self._rules,
            )
            name = record_document(stream, fact.key)
            existing = documents.get(name)
            _count(stats, "records")
            if existing is not None:
                _count(stats, "revisions_replaced" if fact.revision > existing["r"] else "stale")
            if fact.retracts is not None:
                _count(stats, "retractions")
            if fact.withheld:
                _count(stats, "withheld")
            if existing is None or fact.revision > existing["r"]:
                documents.put(name, fact.to_document())
        elif entry.entry_type in _LINKS:
            name = links_document(stream)
            document = documents.get(name) or {"links": {}}
            document["links"][entry.body["provisional_stream"]] = _LINKS[entry.entry_type]
            documents.put(name, document)
            _count(stats, "identity_" + _LINKS[entry.entry_type])
        else:
            _count(stats, "ignored")
        documents.put(STATS, stats)

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        """Nothing: the figures are computed when a report is asked for."""

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        stats = documents.get(STATS) or {}
        return {
            "child_streams": len({n.split(":")[1] for n in documents.names(CHILD_PREFIX)}),
            "records_folded": stats.get("records", 0),
            "corrections": stats.get("revisions_replaced", 0),
            "out_of_order_revisions": stats.get("stale", 0),
            "retractions": stats.get("retractions", 0),
            "withheld_items": stats.get("withheld", 0),
            "identity_links": stats.get("identity_linked", 0),
            "identity_unlinks": stats.get("identity_unlinked", 0),
        }


def _count(stats: Document, name: str) -> None:
    stats[name] = stats.get(name, 0) + 1


@dataclass
class StreamFacts:
    """What the consumer holds about one child stream: its records and its links."""

    records: dict[str, Document] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def resolve_children(streams: Mapping[str, StreamFacts]) -> list[Child]:
    """Each child's current records (by stream hex): a provisional stream linked to an NHS
    number (and not unlinked since) counts as that child."""
    absorbed: dict[str, str] = {}
    for stream, facts in sorted(streams.items()):
        for provisional, state in sorted(facts.links.items()):
            if state == "linked" and provisional in streams and provisional != stream:
                absorbed.setdefault(provisional, stream)
    # Links are recorded in NHS-number streams and name provisional streams, so a stream that
    # absorbs another is never absorbed itself; if it were, its link is ignored.
    absorbed = {p: s for p, s in absorbed.items() if s not in absorbed}
    members: dict[str, list[str]] = {s: [s] for s in sorted(streams) if s not in absorbed}
    for provisional, stream in absorbed.items():
        members[stream].append(provisional)
    children = []
    for group in members.values():
        records = (
            RecordFact.from_document(key, record)
            for s in group
            for key, record in streams[s].records.items()
        )
        child = current_records(records)
        if child:
            children.append(child)
    return children


def load_children(state: ConsumerState) -> list[Child]:
    """Every child's current records from the consumer's documents; the documents of an
    erased child cannot be opened and are left out."""
    streams: dict[str, StreamFacts] = {}
    names = list(state.names(CHILD_PREFIX))
    for start in range(0, len(names), _BATCH):
        for name, document in state.get_many(names[start : start + _BATCH]).items():
            _, stream, part, *rest = name.split(":")
            facts = streams.setdefault(stream, StreamFacts())
            if part == RECORD:
                facts.records[rest[0]] = document
            elif part == LINKS:
                facts.links.update(document["links"])
    return resolve_children(streams)
