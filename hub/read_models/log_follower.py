"""Following the hub's log, one way for everything that does: the chronology projection and
every consumer (`consumers.framework`). A follower keeps its own position (the last log
position whose child entries it has folded) beside what it derived, and asks for the next page
after it; it folds the page and commits what changed with the page's `position` in one
transaction, expecting the position it read after, so every entry's effect happens exactly
once however many processes follow the same log.

A page holds the child entries recorded after the position, opened (decrypted) by the
follower's own `open_entry`; an erased child's entries are left out and counted, never folded,
so never resurrected. A page shorter than asked for reaches the log's head as read before the
page (other record types lie between child entries), so its position is that head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.event_store import HubStore
from hub.domain.records import ChildRecordEntry

Entry = TypeVar("Entry")
CHILD_ENTRIES = get_topic(ChildRecordEntry)


@dataclass(frozen=True)
class LogPage(Generic[Entry]):
    after: int  # the position the page was read after: expect it when committing
    position: int  # the position to commit with what the page's entries changed
    entries: list[tuple[int, Entry]]  # (log position, opened entry), in log order
    skipped_erased: int


class LogFollower(Generic[Entry]):
    def __init__(
        self, store: HubStore, open_entry: Callable[[Notification], Entry], page_size: int
    ) -> None:
        self._store = store
        self._open = open_entry
        self._page_size = page_size

    def head(self) -> int:
        return self._store.recorder.max_notification_id() or 0

    def next_page(self, position: int, head: int | None = None) -> LogPage[Entry] | None:
        """The page of child entries after `position`, up to `head` (read now if not given);
        None when there is nothing after it."""
        head = self.head() if head is None else head
        if position >= head:
            return None
        rows = self._store.recorder.select_notifications(
            start=position + 1, limit=self._page_size, stop=head, topics=[CHILD_ENTRIES]
        )
        entries: list[tuple[int, Entry]] = []
        skipped = 0
        for row in rows:
            try:
                entries.append((row.id, self._open(row)))
            except DataKeyErasedError:
                skipped += 1
        reached = rows[-1].id if len(rows) == self._page_size else head
        return LogPage(position, reached, entries, skipped)
