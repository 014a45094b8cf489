"""Facts: one `RecordFact` per agency record (the latest revision's), grouped by child."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.domain.chronology import ChronologyEntry
from hub.domain.indicators.common import (
    ASSESSMENT_COMPLETED,
    CARE_LEAVER_ACCOMMODATION,
    CARE_LEAVER_ACTIVITY,
    RETRACTED,
)
from hub.domain.latency import LatencyRules
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date


def record_key(agency_id: str, event_id: str) -> str:
    """A short stable key for an agency's record (so documents need not hold record ids)."""
    return hashlib.sha256(f"{agency_id}\x1f{event_id}".encode()).hexdigest()[:24]


WITHHOLDING_CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # code -> (label, keywords looked for in the publisher's free-text reason, in this order)
    "investigation": (
        "Live investigation or prosecution",
        ("investigat", "suspect", "prosecut", "criminal", "trial", "evidence", "enquir"),
    ),
    "location": (
        "Would reveal an address or whereabouts",
        ("address", "whereabouts", "location", "refuge", "where the", "placement"),
    ),
    "risk-of-harm": (
        "Risk of harm to the child or another person",
        ("harm", "risk", "danger", "retaliat", "reprisal", "intimidat", "threat", "violen"),
    ),
    "health-confidentiality": (
        "Health or clinical confidentiality",
        ("clinical", "medical", "health", "diagnos", "treatment", "therap", "sexual health"),
    ),
    "child-wishes": (
        "The child's wishes or consent",
        ("wish", "consent", "child asked", "young person asked", "gillick", "competent"),
    ),
    "third-party": (
        "Third-party or informant information",
        ("third party", "third-party", "informant", "witness", "anonymous", "source"),
    ),
}
OTHER_WITHHOLDING = "other"
WITHHOLDING_LABELS = {
    **{code: label for code, (label, _) in WITHHOLDING_CATEGORIES.items()},
    OTHER_WITHHOLDING: "Other reason",
}


def withholding_category(reason: str) -> str:
    """The category of a publisher's free-text reason for withholding (the first whose
    keywords it contains); only the category is kept, never the text."""
    text = reason.casefold()
    for code, (_, keywords) in WITHHOLDING_CATEGORIES.items():
        if any(keyword in text for keyword in keywords):
            return code
    return OTHER_WITHHOLDING


@dataclass(frozen=True)
class RecordFact:
    """What the indicators need of one revision of one agency record about a child."""

    key: str
    revision: int
    kind: str
    agency: str
    agency_type: str
    occurred: date  # UK date
    received: date  # UK date the hub received this revision
    sharing_hours: float  # recorded -> received by the hub (never negative)
    late: bool  # later than the partnership expects (hub.domain.latency.LatencyRules)
    started_on: date | None = None  # assessments
    completed_on: date | None = None  # assessments, health assessments, dental checks
    withheld: tuple[str, ...] = ()  # withholding categories
    retracts: str | None = None  # key of the record a retraction retracts
    review_by: date | None = None  # the soonest review date of its withholdings
    dated: date | None = None  # the day its details give (`DETAIL_DAYS`)
    born: date | None = None  # the child's date of birth (the child's details)
    outcome: bool | None = None  # `OUTCOMES`: a care leaver's accommodation suitable, or in EET

    @property
    def day(self) -> date:
        """The day the fact is about: the date its details give (a child ceasing to be looked
        after, home education ending, a move; a health assessment or dental check completed),
        else the day it occurred."""
        if self.dated is not None:
            return self.dated
        if self.completed_on is not None and self.kind != ASSESSMENT_COMPLETED:
            return self.completed_on
        return self.occurred

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "r": self.revision,
            "k": self.kind,
            "a": self.agency,
            "t": self.agency_type,
            "o": self.occurred.isoformat(),
            "rx": self.received.isoformat(),
            "h": self.sharing_hours,
            "l": self.late,
        }
        if self.started_on is not None:
            document["s"] = self.started_on.isoformat()
        if self.completed_on is not None:
            document["c"] = self.completed_on.isoformat()
        if self.withheld:
            document["w"] = list(self.withheld)
        if self.retracts is not None:
            document["x"] = self.retracts
        if self.review_by is not None:
            document["rb"] = self.review_by.isoformat()
        if self.dated is not None:
            document["d"] = self.dated.isoformat()
        if self.born is not None:
            document["b"] = self.born.isoformat()
        if self.outcome is not None:
            document["g"] = self.outcome
        return document

    @classmethod
    def from_document(cls, key: str, document: Mapping[str, Any]) -> RecordFact:
        def day(name: str) -> date | None:
            value = document.get(name)
            return None if value is None else date.fromisoformat(value)

        return cls(
            key=key,
            revision=int(document["r"]),
            kind=str(document["k"]),
            agency=str(document["a"]),
            agency_type=str(document["t"]),
            occurred=date.fromisoformat(document["o"]),
            received=date.fromisoformat(document["rx"]),
            sharing_hours=float(document["h"]),
            late=bool(document["l"]),
            started_on=day("s"),
            completed_on=day("c"),
            withheld=tuple(document.get("w", ())),
            retracts=document.get("x"),
            review_by=day("rb"),
            dated=day("d"),
            born=day("b"),
            outcome=document.get("g"),
        )


DETAIL_DAYS = {
    # kind -> the detail that says the day it is about (hub.domain.details)
    "la.ceased-looked-after": "ceased_on",
    "education.elective-home-education-ended": "ended_on",
    "education.compulsory-school-age-ended": "on",
    "la.moved-out-of-area": "moved_on",
    CARE_LEAVER_ACCOMMODATION: "recorded_on",
    CARE_LEAVER_ACTIVITY: "recorded_on",
}
OUTCOMES = {
    # kind -> the boolean detail a care leaver indicator counts (hub.domain.details)
    CARE_LEAVER_ACCOMMODATION: "suitable",
    CARE_LEAVER_ACTIVITY: "in_education_employment_or_training",
}


def _detail_flag(details: Mapping[str, Any], name: str) -> bool | None:
    value = details.get(name)
    return value if isinstance(value, bool) else None


def _detail_date(details: Mapping[str, Any], name: str) -> date | None:
    value = details.get(name)
    return date.fromisoformat(value) if isinstance(value, str) else None


def record_fact(entry: ChronologyEntry, rules: LatencyRules) -> RecordFact:
    """The facts of one received agency event (one revision of one record)."""
    event = entry.event
    deadline, _ = rules.deadline(entry)
    sharing = (entry.received_at - event.recorded_at).total_seconds() / 3600
    retracts = None
    if event.kind == RETRACTED and event.supersedes is not None:
        retracts = record_key(event.agency.id, event.supersedes.event_id)
    return RecordFact(
        key=record_key(event.agency.id, event.event_id),
        revision=event.revision,
        kind=event.kind,
        agency=event.agency.id,
        agency_type=event.agency.type.value,
        occurred=uk_date(event.occurred_at),
        received=uk_date(entry.received_at),
        sharing_hours=round(max(sharing, 0.0), 2),
        late=entry.received_at > deadline,
        started_on=_detail_date(event.details, "started_on"),
        completed_on=_detail_date(event.details, "completed_on"),
        withheld=tuple(sorted({withholding_category(w.reason) for w in event.withheld_from})),
        retracts=retracts,
        review_by=min((w.review_by for w in event.withheld_from), default=None),
        dated=_detail_date(event.details, DETAIL_DAYS[event.kind])
        if event.kind in DETAIL_DAYS
        else None,
        born=_detail_date(event.details, "date_of_birth")
        if event.kind in CHILD_DETAILS_KINDS
        else None,
        outcome=_detail_flag(event.details, OUTCOMES[event.kind])
        if event.kind in OUTCOMES
        else None,
    )


@dataclass(frozen=True)
class WithholdingReviewFact:
    """A withholding's review (`hub.withholding_reviews`), as the indicators count it."""

    record: str  # `record_key` of the reviewed record
    revision: int  # the revision it covers
    reviewed_on: date  # UK date
    now_shared: bool
    until: date | None  # the next review date, when still withheld


def newer(existing: RecordFact | None, candidate: RecordFact) -> bool:
    """Whether `candidate` replaces `existing` as the record's latest revision."""
    return existing is None or candidate.revision > existing.revision


Child = tuple[RecordFact, ...]
"""One child's current records: the latest revision of each, retracted records left out."""


def current_records(records: Iterable[RecordFact]) -> Child:
    """The latest revision of each record, without the records a retraction names (as the
    chronology does: a retraction withdraws the record whatever its revision)."""
    latest: dict[str, RecordFact] = {}
    for record in records:
        if newer(latest.get(record.key), record):
            latest[record.key] = record
    retracted = {r.retracts for r in latest.values() if r.kind == RETRACTED and r.retracts}
    return tuple(
        sorted(
            (r for r in latest.values() if r.key not in retracted),
            key=lambda r: (r.occurred, r.received, r.key),
        )
    )


def event_dates(child: Child, kinds: str | frozenset[str]) -> list[date]:
    wanted = frozenset({kinds}) if isinstance(kinds, str) else kinds
    return sorted(r.day for r in child if r.kind in wanted)
