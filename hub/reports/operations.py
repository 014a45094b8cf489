"""Read-side summaries for operators: what the store holds and what was quarantined.

Counts come from the ingest ledger (one encrypted entry per committed batch), so they
reconcile by construction: for every source, accepted + duplicates + quarantined = consumed.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.envelope import open_sealed
from hub.adapters.event_store import HubStore
from hub.domain.records import BatchCommitted, ChildRecordEntry, MessageQuarantined
from hub.ingest import quarantined_raw_context


@dataclass
class SourceStatus:
    source: str
    position: int | None
    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0


@dataclass
class StoreStatus:
    store: str
    stored_rows: int
    children: int
    events_by_agency: dict[str, int]
    sources: list[SourceStatus] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.events_by_agency.values())

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.sources)


def store_status(store: HubStore, description: str) -> StoreStatus:
    by_agency: Counter[str] = Counter()
    sources: dict[str, SourceStatus] = {}
    for record in store.records(BatchCommitted):
        assert isinstance(record, BatchCommitted)
        status = sources.setdefault(record.source, SourceStatus(record.source, None))
        status.accepted += record.accepted
        status.duplicates += record.duplicates
        status.quarantined += record.quarantined
        status.consumed += record.accepted + record.duplicates + record.quarantined
        by_agency.update(record.accepted_by_agency)
    for status in sources.values():
        status.position = store.position(status.source)
    children = {n.originator_id for n in store.notifications(ChildRecordEntry)}
    return StoreStatus(
        store=description,
        stored_rows=store.recorder.max_notification_id() or 0,
        children=len(children),
        events_by_agency=dict(sorted(by_agency.items())),
        sources=sorted(sources.values(), key=lambda s: s.source),
    )


@dataclass(frozen=True)
class QuarantineItem:
    source: str
    position: int
    received_at: datetime
    reason_code: str
    reason: str
    size_bytes: int  # the message's own length
    raw: bytes | None  # None: it named a child whose record was erased since
    sha256: str | None = None  # set when only the start of an oversize message was kept

    @property
    def truncated(self) -> bool:
        return self.sha256 is not None


def quarantined_messages(store: HubStore) -> list[QuarantineItem]:
    """Every quarantined message; the raw bytes of one naming a child whose record was erased
    since are gone with it (`raw` None)."""
    items = []
    for record in store.records(MessageQuarantined):
        assert isinstance(record, MessageQuarantined)
        stored = base64.b64decode(record.raw)
        raw: bytes | None = stored
        if record.raw_child:
            try:
                raw = open_sealed(
                    store.keyring,
                    f"child:{record.raw_child}",
                    stored,
                    quarantined_raw_context(record.source, record.position),
                )
            except DataKeyErasedError:
                raw = None
        items.append(
            QuarantineItem(
                record.source,
                record.position,
                record.timestamp,
                record.reason_code,
                record.reason,
                record.raw_length or (0 if raw is None else len(raw)),
                raw,
                record.raw_sha256,
            )
        )
    return items
