"""The clocks consumer: each child's facts and clocks, and the alerts and breaches time makes
due (the package docstring says how).

One piece (a little over 400 lines): `ClocksConsumer` is one state machine (fold facts, derive
clocks, raise and deliver alerts) whose steps share its documents; what needs no I/O is in
`hub.domain.clocks` and the shown alert and listing are modules of their own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.clock_alerts.shown import DEFAULT_BREACH_HORIZON_WORKING_DAYS, ShownAlert
from consumers.framework import Document, Documents, child_document
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.access import (
    Practitioner,
    Role,
)
from hub.domain.clocks import (
    BREACHED,
    DEFAULT_ALERT_LEAD,
    Clock,
    ClockKind,
    ClockRules,
    Fact,
    alert_recipient,
    derive_clocks,
    fact_from_event,
)
from hub.domain.records import ChildRecordEntry
from hub.domain.uk_time import uk_date
from hub.domain.working_days import working_days_between

if TYPE_CHECKING:
    pass

NAME = "clocks"
BUCKET_PREFIX = "due:"
ALERT_PREFIX = "alert:"
BREACH_PREFIX = "breach:"
TALLY = "tally:effects"
OPEN_COUNTS = "stats:open"
_LINK_ENTRIES = {"identity-linked": "linked", "identity-unlinked": "unlinked"}


class ClockSettings(BaseSettings):
    """Alert lead times in working days before the due date (env `HUB_CLOCKS_ALERT_LEAD_*`),
    and how long ago, in working days, a breach may be and still be listed one by one in a
    practitioner's alerts (env `HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS`; older ones are
    summarised)."""

    model_config = SettingsConfigDict(env_prefix="HUB_CLOCKS_", extra="ignore")

    alert_lead_assessment: int = Field(
        default=DEFAULT_ALERT_LEAD[ClockKind.ASSESSMENT], ge=0, le=45
    )
    alert_lead_initial_conference: int = Field(
        default=DEFAULT_ALERT_LEAD[ClockKind.INITIAL_CONFERENCE], ge=0, le=15
    )
    alert_lead_cp_review: int = Field(default=DEFAULT_ALERT_LEAD[ClockKind.CP_REVIEW], ge=0, le=60)
    alert_lead_incident_notification: int = Field(
        default=DEFAULT_ALERT_LEAD[ClockKind.INCIDENT_NOTIFICATION], ge=0, le=5
    )
    alert_lead_rapid_review: int = Field(
        default=DEFAULT_ALERT_LEAD[ClockKind.RAPID_REVIEW], ge=0, le=15
    )
    breach_horizon_working_days: int = Field(
        default=DEFAULT_BREACH_HORIZON_WORKING_DAYS, ge=0, le=260
    )

    def rules(self) -> ClockRules:
        return ClockRules(
            alert_lead={
                kind: getattr(self, f"alert_lead_{kind.value.replace('-', '_')}")
                for kind in ClockKind
            }
        )


def _new_child() -> Document:
    """A child's clock state. No identifier: which child an alert is about is released by
    the disclosure gate when it is shown (`list_alerts`), never kept here."""
    return {
        "facts": {},
        "links": {},
        "merged_into": None,
        "clocks": [],
        "scheduled": None,
    }


class ClocksConsumer:
    name = NAME
    description = "statutory timescales: alerts to the allocated worker before breach, breaches"
    kept_on_rebuild: tuple[str, ...] = (ALERT_PREFIX, BREACH_PREFIX, TALLY)

    def __init__(self, pseudonyms: Pseudonymiser, rules: ClockRules | None = None) -> None:
        self._pseudonyms = pseudonyms
        self.rules = rules or ClockRules()

    # Names ---------------------------------------------------------------------------------

    def clock_key(self, clock_id: str) -> str:
        """A keyed pseudonym of a clock: clock ids name the agency's record, which is not for
        document names (they are stored in clear)."""
        return self._pseudonyms.source_stream("clock", clock_id).hex

    def alert_prefix(self, recipient_key: str) -> str:
        recipient = self._pseudonyms.source_stream("clock-recipient", recipient_key).hex
        return f"{ALERT_PREFIX}{recipient}:"

    def breach_name(self, clock: Clock) -> str:
        return f"{BREACH_PREFIX}{clock.stream}:{self.clock_key(clock.id)}"

    # Folding -------------------------------------------------------------------------------

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        stream = entry.originator_id.hex
        today = uk_date(now)
        if entry.entry_type in _LINK_ENTRIES:
            self._link(documents, stream, entry, today)
            return
        if entry.entry_type != "agency-event":
            return
        body = entry.body
        fact = fact_from_event(body, stream)
        if fact is None:
            return
        found = documents.get(child_document(stream))
        if fact.kind is None and (found is None or fact.ref not in found["facts"]):
            return  # of no interest, and not a correction of anything that was
        doc = found or _new_child()
        stored = doc["facts"].get(fact.ref)
        if stored is not None and stored["revision"] >= fact.revision:
            return  # an earlier revision arriving after a later one
        doc["facts"][fact.ref] = fact.as_dict()
        documents.put(child_document(stream), doc)
        self._refresh(documents, doc.get("merged_into") or stream, today)

    def _link(
        self, documents: Documents, stream: str, entry: ChildRecordEntry, today: date
    ) -> None:
        provisional = entry.body["provisional_stream"]
        state = _LINK_ENTRIES[entry.entry_type]
        own = documents.get(child_document(stream)) or _new_child()
        other = documents.get(child_document(provisional)) or _new_child()
        own["links"][provisional] = state
        if state == "linked":
            other["merged_into"] = stream
        elif other.get("merged_into") == stream:
            other["merged_into"] = None
        documents.put(child_document(stream), own)
        documents.put(child_document(provisional), other)
        self._refresh(documents, provisional, today)
        self._refresh(documents, stream, today)

    def member_streams(self, documents: Documents, stream: str, doc: Document) -> list[str]:
        """The child's streams: their own and the provisional streams linked into it."""
        members = [stream]
        for other, state in sorted(doc["links"].items()):
            if state != "linked":
                continue
            linked = documents.get(child_document(other))
            if linked is not None and linked.get("merged_into") == stream:
                members.append(other)
        return members

    def facts(self, documents: Documents, stream: str, doc: Document) -> list[Fact]:
        """The child's facts, from all their streams."""
        items = [Fact.from_dict(f) for f in doc["facts"].values()]
        for other in self.member_streams(documents, stream, doc)[1:]:
            linked = documents.get(child_document(other))
            if linked is not None:
                items += [Fact.from_dict(f) for f in linked["facts"].values()]
        return items

    def _refresh(self, documents: Documents, stream: str, today: date) -> None:
        """Recompute a child's clocks from their facts and have `act` look at them."""
        doc = documents.get(child_document(stream))
        if doc is None:
            return  # erased
        old = [Clock.from_dict(c) for c in doc["clocks"]]
        merged = doc.get("merged_into") is not None
        new = [] if merged else derive_clocks(self.facts(documents, stream, doc), self.rules)
        counts = Counter(documents.get(OPEN_COUNTS) or {})
        counts.subtract(c.kind.value for c in old if not c.closed)
        counts.update(c.kind.value for c in new if not c.closed)
        documents.put(OPEN_COUNTS, {kind: n for kind, n in sorted(counts.items()) if n})
        doc["clocks"] = [c.as_dict() for c in new]
        pending = doc.get("scheduled")
        if merged or not (old or new):
            when = None
        elif pending is not None and pending <= today.isoformat():
            when = date.fromisoformat(pending)
        else:
            when = today
        self._schedule(documents, stream, doc, when)
        documents.put(child_document(stream), doc)

    # Scheduling ----------------------------------------------------------------------------

    @staticmethod
    def _bucket(day: str, stream: str) -> str:
        return f"{BUCKET_PREFIX}{day}:{stream[:2]}"

    def _schedule(
        self, documents: Documents, stream: str, doc: Document, when: date | None
    ) -> None:
        """Move the child to the bucket of `when` (None: out of every bucket)."""
        old = doc.get("scheduled")
        new = None if when is None else when.isoformat()
        if old == new:
            return
        if old is not None:
            self._unbucket(documents, old, stream)
        if new is not None:
            name = self._bucket(new, stream)
            bucket = documents.get(name) or {"streams": []}
            if stream not in bucket["streams"]:
                bucket["streams"] = sorted([*bucket["streams"], stream])
            documents.put(name, bucket)
        doc["scheduled"] = new

    def _unbucket(self, documents: Documents, day: str, stream: str) -> None:
        name = self._bucket(day, stream)
        bucket = documents.get(name)
        if bucket is None:
            return
        bucket["streams"] = [s for s in bucket["streams"] if s != stream]
        if bucket["streams"]:
            documents.put(name, bucket)
        else:
            documents.delete(name)

    # Acting --------------------------------------------------------------------------------

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        today = uk_date(now)
        for name in documents.names(BUCKET_PREFIX):
            day = name.split(":")[1]
            if day > today.isoformat():
                break  # names sort by date: nothing later is owed yet
            bucket = documents.get(name)
            for stream in [] if bucket is None else bucket["streams"]:
                self._visit(documents, stream, day, now, today)
                commit()  # each child's effects are durable before the next child's

    def _visit(
        self, documents: Documents, stream: str, day: str, now: datetime, today: date
    ) -> None:
        name = child_document(stream)
        doc = documents.get(name)
        if doc is None or doc.get("scheduled") != day:
            self._unbucket(documents, day, stream)  # erased, or moved since
            return
        clocks = [Clock.from_dict(c) for c in doc["clocks"]]
        facts = self.facts(documents, stream, doc)
        breached: set[str] = set()
        for clock in clocks:
            if clock.needs_alert(today):
                self._raise_alert(documents, stream, clock, facts, now, today)
            if clock.status(today) in BREACHED:
                breached.add(self._record_breach(documents, stream, clock, now))
        streams = [stream] + [s for s, state in sorted(doc["links"].items()) if state == "linked"]
        for source in streams:
            for breach_name in documents.names(f"{BREACH_PREFIX}{source}:"):
                if breach_name not in breached:
                    self._withdraw_breach(documents, breach_name, today)
        upcoming = [d for d in (c.next_action(today) for c in clocks) if d is not None]
        self._schedule(documents, stream, doc, min(upcoming, default=None))
        documents.put(name, doc)

    def _tally(self, documents: Documents, what: str, kind: str, change: int = 1) -> None:
        tally = documents.get(TALLY) or {}
        counts = tally.setdefault(what, {})
        counts[kind] = counts.get(kind, 0) + change
        documents.put(TALLY, tally)

    def _raise_alert(
        self,
        documents: Documents,
        stream: str,
        clock: Clock,
        facts: list[Fact],
        now: datetime,
        today: date,
    ) -> None:
        recipient = alert_recipient(facts, clock, today, self.rules)
        name = self.alert_prefix(recipient.key) + self.clock_key(clock.id)
        existing = documents.get(name)
        if existing is not None:
            if existing["child_stream"] != stream:  # an unlink gave the clock back to its stream
                documents.put(name, dict(existing, child_stream=stream))
            return
        documents.put(
            name,
            {
                "recipient": recipient.key,
                "relationship": recipient.relationship,
                "clock_id": clock.id,
                "clock": clock.kind.value,
                "authority": clock.authority,
                "child_stream": stream,
                "due": clock.due.isoformat(),
                "raised_on": today.isoformat(),
                "raised_at": now.astimezone(UTC).isoformat(),
            },
        )
        self._tally(documents, "alerts", clock.kind.value)

    def _record_breach(self, documents: Documents, stream: str, clock: Clock, now: datetime) -> str:
        name = self.breach_name(clock)
        existing = documents.get(name)
        stopped = None if clock.stopped_on is None else clock.stopped_on.isoformat()
        if existing is None:
            documents.put(
                name,
                {
                    "clock_id": clock.id,
                    "clock": clock.kind.value,
                    "authority": clock.authority,
                    "child_stream": stream,
                    "started_on": clock.started_on.isoformat(),
                    "due": clock.due.isoformat(),
                    "breached_on": clock.breached_on.isoformat(),
                    "stopped_on": stopped,
                    "recorded_at": now.astimezone(UTC).isoformat(),
                    "withdrawn_on": None,
                },
            )
            self._tally(documents, "breaches", clock.kind.value)
            return name
        updated = dict(existing, stopped_on=stopped, due=clock.due.isoformat())
        updated["breached_on"] = clock.breached_on.isoformat()
        if existing.get("withdrawn_on") is not None:
            updated["withdrawn_on"] = None  # breached again after all
            self._tally(documents, "withdrawn", clock.kind.value, -1)
        if updated != existing:
            documents.put(name, updated)
        return name

    def _withdraw_breach(self, documents: Documents, name: str, today: date) -> None:
        """The clock is no longer breached (its record was retracted or its dates corrected):
        the breach record stays, marked, because it was believed and may have been reported."""
        breach = documents.get(name)
        if breach is None or breach.get("withdrawn_on") is not None:
            return
        breach["withdrawn_on"] = today.isoformat()
        documents.put(name, breach)
        self._tally(documents, "withdrawn", breach["clock"])

    # Reporting -----------------------------------------------------------------------------

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        """Counts only: clocks running, alerts raised and breaches recorded, by clock kind."""
        tally = documents.get(TALLY) or {}
        recorded, withdrawn = tally.get("breaches", {}), tally.get("withdrawn", {})
        breaches = {k: n - withdrawn.get(k, 0) for k, n in sorted(recorded.items())}
        return {
            "open_clocks": dict(sorted((documents.get(OPEN_COUNTS) or {}).items())),
            "alerts_raised": dict(sorted(tally.get("alerts", {}).items())),
            "breaches": {k: n for k, n in breaches.items() if n},
            "breaches_withdrawn": {k: n for k, n in sorted(withdrawn.items()) if n},
        }

    def alerts_for(
        self,
        documents: Documents,
        practitioner: Practitioner,
        today: date,
        include_closed: bool = False,
    ) -> list[ShownAlert]:
        """The alerts this practitioner is the recipient of now: raised to them (or to a MACPT
        they lead) and still theirs. A case reallocated since has its alert with the new worker
        instead, so the old one is not shown; nor is one whose clock stopped (unless
        `include_closed`) or whose starting record was retracted."""
        keys = [f"practitioner:{practitioner.id}"]
        if practitioner.role is Role.LEAD_CHILD_PROTECTION_PRACTITIONER:
            keys += [f"team:{t}" for t in sorted(practitioner.teams) if t.startswith("macpt:")]
        shown: list[ShownAlert] = []
        for key in keys:
            for name in documents.names(self.alert_prefix(key)):
                alert = documents.get(name)
                if alert is None:
                    continue
                item = self._current(documents, alert, key, today, include_closed)
                if item is not None:
                    shown.append(item)
        return sorted(shown, key=lambda a: (a.due, a.clock, a.child_stream))

    def _current(
        self,
        documents: Documents,
        alert: Document,
        key: str,
        today: date,
        include_closed: bool,
    ) -> ShownAlert | None:
        stream = alert["child_stream"]
        doc = documents.get(child_document(stream))
        if doc is not None and doc.get("merged_into"):
            stream = doc["merged_into"]
            doc = documents.get(child_document(stream))
        if doc is None:
            return None  # erased
        clock = next(
            (Clock.from_dict(c) for c in doc["clocks"] if c["id"] == alert["clock_id"]), None
        )
        if clock is None or (clock.closed and not include_closed):
            return None
        recipient = alert_recipient(self.facts(documents, stream, doc), clock, today, self.rules)
        if recipient.key != key:
            return None
        return ShownAlert(
            child=None,  # released by the gate (`list_alerts`)
            child_stream=stream,
            source=clock.source,
            team=key.removeprefix("team:") if key.startswith("team:") else None,
            clock=clock.kind.value,
            authority=clock.authority,
            started_on=clock.started_on,
            due=clock.due,
            working_days_left=working_days_between(today, clock.due),
            status=clock.status(today).value,
            raised_at=alert["raised_at"],
            relationship=recipient.relationship,
        )
