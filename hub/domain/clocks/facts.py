"""The facts the clocks read: what starts, stops or resets a clock, from each record's latest
revision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.domain.uk_time import uk_date

FACT_KINDS = frozenset(
    {
        "la.referral",
        "la.assessment-completed",
        "la.strategy-discussion",
        "la.s47-enquiry-outcome",
        "la.initial-cp-conference",
        "la.review-cp-conference",
        "la.cp-plan-started",
        "la.cp-plan-ended",
        "la.serious-incident-notifiable",
        "la.serious-incident-notified",
        "la.rapid-review-completed",
        "la.worker-allocated",
        "record.retracted",
    }
)
"""The kinds whose records a clock reads (retractions: only a local authority's matter)."""

_KEPT_DETAILS = frozenset(
    {
        "outcome",
        "decision",
        "completed_on",
        "aware_on",
        "notified_on",
        "practitioner_id",
        "role",
    }
)
"""The only details a clock needs; nothing else of the event is kept (no summary, no names)."""


@dataclass(frozen=True)
class Fact:
    """One local authority record as its publisher last stated it, reduced to what clocks need.

    `kind` is None for a record whose latest revision is of a kind no clock reads: a
    correction can change a record's kind, and the earlier revision must stop counting.
    """

    agency: str
    event_id: str
    revision: int
    kind: str | None
    occurred_at: datetime
    stream: str
    details: Mapping[str, Any] = field(default_factory=dict)
    retracts: str | None = None  # a retraction: the event_id it names

    @property
    def ref(self) -> str:
        return f"{self.agency}/{self.event_id}"

    @property
    def occurred_on(self) -> date:
        return uk_date(self.occurred_at)

    def text(self, name: str) -> str | None:
        value = self.details.get(name)
        return value if isinstance(value, str) and value else None

    def day(self, name: str) -> date:
        """The date a details field gives (e.g. `completed_on`), else the occurred date."""
        value = self.text(name)
        if value is not None:
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return self.occurred_on

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "agency": self.agency,
            "event_id": self.event_id,
            "revision": self.revision,
            "kind": self.kind,
            "occurred_at": self.occurred_at.isoformat(),
            "stream": self.stream,
            "details": dict(self.details),
        }
        if self.retracts is not None:
            document["retracts"] = self.retracts
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Fact:
        return cls(
            agency=document["agency"],
            event_id=document["event_id"],
            revision=document["revision"],
            kind=document["kind"],
            occurred_at=datetime.fromisoformat(document["occurred_at"]),
            stream=document["stream"],
            details=dict(document.get("details", {})),
            retracts=document.get("retracts"),
        )


def fact_from_event(body: Mapping[str, Any], stream: str) -> Fact | None:
    """The fact a canonical event (as recorded, JSON) gives, or None if it is not a local
    authority's. Kinds no clock reads give a fact with `kind` None (see `Fact`)."""
    agency = body.get("agency") or {}
    if agency.get("type") != "local-authority":
        return None
    kind = body["kind"]
    details = body.get("details") or {}
    supersedes = body.get("supersedes") or {}
    relevant = kind in FACT_KINDS
    return Fact(
        agency=agency["id"],
        event_id=body["event_id"],
        revision=int(body["revision"]),
        kind=kind if relevant else None,
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        stream=stream,
        details={k: v for k, v in details.items() if k in _KEPT_DETAILS} if relevant else {},
        retracts=supersedes.get("event_id") if kind == "record.retracted" else None,
    )


def current_facts(facts: Iterable[Fact]) -> list[Fact]:
    """The latest revision of each record, less retracted records, retractions and records
    no clock reads, in occurred-at order (then agency, record id) so "the next" is defined.

    A retraction is read from its own latest revision, so a corrected retraction retracts what
    it now names; it retracts the whole record, whichever revision it names.
    """
    latest: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        key = (fact.agency, fact.event_id)
        current = latest.get(key)
        if current is None or fact.revision > current.revision:
            latest[key] = fact
    retracted = {
        (fact.agency, fact.retracts)
        for fact in latest.values()
        if fact.kind == "record.retracted" and fact.retracts is not None
    }
    kept = [
        fact
        for key, fact in latest.items()
        if key not in retracted and fact.kind is not None and fact.kind != "record.retracted"
    ]
    return sorted(kept, key=lambda f: (f.occurred_at, f.agency, f.event_id))
