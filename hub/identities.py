"""Issuing provisional identifiers for children who have no NHS number yet (unborn children
on pre-birth plans, some unaccompanied asylum-seeking children).

Issuing one opens the child's provisional stream with an entry saying who asked and when, so
ingest can refuse provisional ids this hub never issued (a typo that passes the check
character, or an id from another hub).
"""

from __future__ import annotations

from datetime import UTC, datetime

from eventsourcing.persistence import IntegrityError

from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.domain.canonical_event import ChildRef
from hub.domain.identity import issue_provisional_id
from hub.domain.records import ChildRecordEntry


class IdentityService:
    def __init__(self, store: HubStore, pseudonyms: Pseudonymiser) -> None:
        self._store = store
        self._pseudonyms = pseudonyms

    def issue_provisional(self, requested_by_agency: str) -> str:
        for _ in range(5):
            provisional_id = issue_provisional_id()
            stream = self._pseudonyms.child_stream(ChildRef(provisional_id=provisional_id))
            entry = ChildRecordEntry(
                originator_id=stream,
                originator_version=1,
                timestamp=datetime.now(UTC),
                entry_type="provisional-id-issued",
                body={"provisional_id": provisional_id, "requested_by_agency": requested_by_agency},
                source="hub:identity",
                position=0,
            )
            try:
                self._store.events.put([entry])
            except IntegrityError:
                continue  # collision with an issued id: draw again
            return provisional_id
        raise RuntimeError("could not issue a unique provisional id after 5 draws")
