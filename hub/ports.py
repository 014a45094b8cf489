"""The small interfaces the disclosure gate stands on, so that it depends on what it asks of
its stores rather than on the stores: `hub.read_models.chronology_projection` and
`hub.audit_ledger` implement them, and the gate's unit tests use in-memory fakes of them
(`tests/unit/test_gate_with_fakes.py`). The decision point (`hub.policies.decision`) and the
practitioner directory (`hub.adapters.directory`) are interfaces of their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from hub.domain.chronology import ChronologyEntry
    from hub.domain.grants import AccessGrants
    from hub.domain.records import AuditEntry, BreakGlassGranted, DisclosureAudited, HubRecord
    from hub.read_models.chronology_snapshot import ChronologySnapshot


class ChronologyReadModel(Protocol):
    """Children's merged chronologies, as the hub's log has been folded into them."""

    def catch_up(self) -> int:
        """Fold what has arrived since the last call; how many entries were folded."""
        ...

    def snapshot(self, stream: UUID) -> ChronologySnapshot: ...

    def entries(self, stream: UUID) -> list[ChronologyEntry]: ...

    def household_members(self, agency_id: str, household_ref: str) -> dict[str, str]:
        """Child stream -> identifier of every child a publisher put in that household."""
        ...

    def withheld_refs(self) -> Iterator[tuple[str, str]]:
        """(child stream, item reference) of every item a publisher withheld from someone."""
        ...

    def documents_erased(self, stream: str) -> bool:
        """True when the child's key was erased (crypto-shredded)."""
        ...


class AuditTrail(Protocol):
    """Where every disclosure is recorded before it happens, with each child's grants."""

    def record_access(
        self, audited: AuditEntry, at: datetime, grant: tuple[str, timedelta] | None = None
    ) -> DisclosureAudited:
        """Write the entry (and a new break-glass grant) durably, or raise."""
        ...

    def grants(self, child_stream: str) -> AccessGrants: ...

    def end_break_glass(self, grant: BreakGlassGranted, at: datetime) -> None: ...

    def for_child(self, child_stream: str) -> list[HubRecord]: ...

    def for_practitioner(self, practitioner_id: str) -> list[HubRecord]:
        """What was recorded of this practitioner's accesses (their index, resolved)."""
        ...
