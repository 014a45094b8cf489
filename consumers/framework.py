"""What every consumer shares: following the hub's notification log with its own tracking.

A consumer is a process that reads the child entries the hub records, in log order, and keeps
its own sealed documents (`Documents`) beside its own position in the log. Each page of entries
is folded into the documents, and the changed documents and the new position commit in ONE
transaction, so every entry's effect on the consumer's state happens exactly once however
often the process is killed and restarted. A consumer can be rebuilt from zero: its derived
documents are dropped and the log is read again; documents that record effects already taken
in the world (a notice delivered, a message sent, an acknowledgement) are kept, so a rebuild
never takes them twice.

Documents are named; a name containing `child:<stream>` (`child_document`, which a prefix
such as `notice:` may precede) is sealed with that child's data key (so erasing the child
erases what consumers derived from them), any other with the hub's index key. An entry the
consumer cannot handle is recorded as an error (the log position and the exception type, never
content) and skipped, so one bad entry neither stops the consumer nor loops it; time-driven
work (`act`) is retried on the next pass.

One piece (about 400 lines): the consumer base class and its documents share one transaction;
the log reading itself is `hub.read_models.log_follower`, shared with the chronology projection.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from eventsourcing.persistence import Notification

from hub.adapters.chronology_views import ChronologyViewStore, ProjectionConflictError
from hub.adapters.data_keys import DataKeyErasedError, Keyring
from hub.adapters.envelope import open_sealed, seal
from hub.adapters.event_store import HubStore
from hub.domain.access import Practitioner
from hub.domain.records import ChildRecordEntry
from hub.read_models.log_follower import LogFollower

log = structlog.get_logger("hub.consumers")
PAGE = 2_000
Document = dict[str, Any]
Clock = Callable[[], datetime]


def child_document(stream: str, *parts: str) -> str:
    """The name of a document holding one child's data (sealed with the child's key)."""
    return ":".join(("child", stream, *parts))


class ConsumerState:
    """A consumer's sealed documents and its position in the hub's notification log."""

    def __init__(self, name: str, views: ChronologyViewStore, keyring: Keyring) -> None:
        self.name = name
        self._views = views
        self._keyring = keyring

    @staticmethod
    def _scope(name: str) -> str:
        """`...child:<stream>...` (see `child_document`) is the child's; the rest the index's."""
        parts = name.split(":")
        for index, part in enumerate(parts[:-1]):
            if part == "child" and len(parts[index + 1]) == 32:
                return f"child:{parts[index + 1]}"
        return "index"

    def _associated(self, name: str) -> bytes:
        return f"hub-consumer-v1\x1f{self.name}\x1f{name}".encode()

    def position(self) -> int:
        return self._views.position()

    def get_many(self, names: list[str]) -> dict[str, Document]:
        """The named documents that exist; a document of an erased child does not."""
        found = {}
        for name, sealed in self._views.get_many(names).items():
            try:
                plain = open_sealed(
                    self._keyring, self._scope(name), sealed, self._associated(name)
                )
            except DataKeyErasedError:
                continue
            found[name] = json.loads(plain)
        return found

    def names(self, prefix: str = "") -> Iterator[str]:
        after = prefix
        while batch := self._views.names(after, 1000):
            for name in batch:
                if not name.startswith(prefix):
                    return
                yield name
            after = batch[-1]

    def commit(
        self,
        changed: dict[str, Document | None],
        position: int | None,
        expected: int | None = None,
    ) -> None:
        """Write the changed documents (None deletes) and, unless None, the new position, in
        one transaction; with `expected`, only if nobody moved the position meanwhile."""
        sealed = {
            name: seal(
                self._keyring,
                self._scope(name),
                json.dumps(document, separators=(",", ":"), sort_keys=True).encode(),
                self._associated(name),
            )
            for name, document in changed.items()
            if document is not None
        }
        deleted = [name for name, document in changed.items() if document is None]
        self._views.put(sealed, position, expected=expected, deleted=deleted)

    def reset(self, keep: tuple[str, ...]) -> int:
        """Drop every document except those whose names start with one of `keep`, and go
        back to the start of the log. Returns how many documents were dropped."""
        dropped = [n for n in self.names() if not n.startswith(keep)]
        for start in range(0, len(dropped), 1000):
            self._views.put({}, None, deleted=dropped[start : start + 1000])
        self._views.put({}, 0)
        return len(dropped)


class Documents:
    """A consumer's working set for one pass: reads through to the state, collects changes.

    `entry()` isolates the changes one entry makes, so a failing entry leaves nothing behind.
    Documents handed out are copies: change them, then `put` them back.
    """

    def __init__(self, state: ConsumerState) -> None:
        self._state = state
        self._loaded: dict[str, Document | None] = {}
        self._changed: dict[str, Document | None] = {}
        self._staged: dict[str, Document | None] | None = None

    def _lookup(self, name: str) -> Document | None:
        for layer in (self._staged or {}, self._changed, self._loaded):
            if name in layer:
                return layer[name]
        found = self._state.get_many([name]).get(name)
        self._loaded[name] = found
        return found

    def get(self, name: str) -> Document | None:
        document = self._lookup(name)
        return None if document is None else copy.deepcopy(document)

    def load(self, names: list[str]) -> None:
        """Read many documents in one go (before a loop that `get`s them)."""
        wanted = [n for n in names if n not in self._loaded and n not in self._changed]
        found = self._state.get_many(wanted)
        self._loaded.update({n: found.get(n) for n in wanted})

    def put(self, name: str, document: Document) -> None:
        self._layer()[name] = copy.deepcopy(document)

    def delete(self, name: str) -> None:
        self._layer()[name] = None

    def names(self, prefix: str) -> list[str]:
        """Stored and pending document names with this prefix."""
        names = set(self._state.names(prefix))
        for layer in (self._changed, self._staged or {}):
            for name, document in layer.items():
                if name.startswith(prefix):
                    (names.add if document is not None else names.discard)(name)
        return sorted(names)

    def _layer(self) -> dict[str, Document | None]:
        return self._changed if self._staged is None else self._staged

    @contextmanager
    def entry(self) -> Iterator[None]:
        self._staged = {}
        try:
            yield
            self._changed.update(self._staged)
        finally:
            self._staged = None

    @property
    def changed(self) -> dict[str, Document | None]:
        return self._changed

    def clear_changes(self) -> None:
        self._loaded.update(self._changed)
        self._changed = {}


class Outbound(Protocol):
    """Where a consumer's new items for people go beyond the page (`consumers.inbox.outbound`:
    an email digest, signed webhooks): `queue` is told of each new item inside the pass that
    creates it (its documents commit with the item), `send` delivers in `act`."""

    def queue(self, documents: Documents, practitioner: Practitioner, item: Document) -> None: ...

    def send(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None: ...

    def describe(self, documents: Documents) -> dict[str, Any]:
        """Counts for `hub consumer status`: pending, sent, given up (no personal data)."""
        ...


class NoOutbound:
    """No channel configured: the page, the API and the CLI are where items are read."""

    def queue(self, documents: Documents, practitioner: Practitioner, item: Document) -> None:
        return None

    def send(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        return None

    def describe(self, documents: Documents) -> dict[str, Any]:
        return {}


class Consumer(Protocol):
    name: str
    description: str
    kept_on_rebuild: tuple[str, ...]
    """Document name prefixes that record effects already taken (kept by a rebuild)."""

    def apply(self, entry: ChildRecordEntry, documents: Documents, now: datetime) -> None:
        """Fold one child entry into the documents (no I/O: the runner commits)."""
        ...

    def act(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        """Time-driven work and effects outside the consumer's store (delivering notices,
        raising alerts, sending messages). Call `commit` after each external effect so its
        record is durable; effects must be safe to repeat after a crash before `commit`."""
        ...

    def describe(self, documents: Documents, now: datetime) -> dict[str, Any]:
        """Consumer-specific counters for `hub consumer status` (no personal data)."""
        ...


@dataclass(frozen=True)
class PassReport:
    processed: int
    skipped_erased: int
    errors: int
    position: int


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    description: str
    position: int
    head: int
    errors: int
    last_error: dict[str, Any] | None
    last_pass_at: str | None
    details: dict[str, Any]

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "position": self.position,
            "head": self.head,
            "lag": self.lag,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_pass_at": self.last_pass_at,
            **self.details,
        }


_META = "meta:run"
ERROR_PREFIX = "error:"


def _open_entry(store: HubStore) -> Callable[[Notification], ChildRecordEntry]:
    def open_entry(notification: Notification) -> ChildRecordEntry:
        record = store.mapper.to_domain_event(notification)
        assert isinstance(record, ChildRecordEntry)
        return record

    return open_entry


class ConsumerRunner:
    """Runs one consumer against the hub's store: pass after pass, or until caught up."""

    def __init__(
        self,
        consumer: Consumer,
        store: HubStore,
        state: ConsumerState,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.consumer = consumer
        self._state = state
        self._clock = clock
        self._follower = LogFollower(store, _open_entry(store), PAGE)

    @property
    def state(self) -> ConsumerState:
        return self._state

    def documents(self) -> Documents:
        return Documents(self._state)

    def run_once(self, heartbeat: Callable[[], None] = lambda: None) -> PassReport:
        """Fold everything recorded so far, then act. Returns what the folding did.
        `heartbeat` is called before each page (liveness during a long catch-up)."""
        processed = skipped = errors = 0
        while True:
            heartbeat()
            report = self._fold_page()
            if report is None:
                break
            processed += report.processed
            skipped += report.skipped_erased
            errors += report.errors
        self._act()
        return PassReport(processed, skipped, errors, self._state.position())

    def run_forever(
        self,
        poll_seconds: float,
        stop: threading.Event,
        on_pass: Callable[[PassReport | None], None] | None = None,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        """Pass after pass until `stop`; `on_pass` hears each pass's report (None when the pass
        failed), e.g. to update metrics; `heartbeat` is called per page and per pass."""
        backoff = poll_seconds
        while not stop.is_set():
            heartbeat()
            report: PassReport | None = None
            try:
                report = self.run_once(heartbeat)
                backoff = poll_seconds
                if report.processed:
                    log.info("consumer_pass", consumer=self.consumer.name, **vars(report))
            except Exception as error:  # keep running, e.g. while a database restarts
                backoff = min(backoff * 2, 60.0)
                log.error(
                    "consumer_pass_failed",
                    consumer=self.consumer.name,
                    error=type(error).__name__,
                    retry_in_s=backoff,
                )
            if on_pass is not None:
                on_pass(report)
            stop.wait(backoff)

    def _fold_page(self) -> PassReport | None:
        position = self._state.position()
        page = self._follower.next_page(position)
        if page is None:
            return None
        documents = Documents(self._state)
        now = self._clock()
        processed = errors = 0
        skipped = page.skipped_erased
        for at, record in page.entries:
            try:
                with documents.entry():
                    self.consumer.apply(record, documents, now)
                processed += 1
            except Exception as error:
                errors += 1
                documents.put(
                    f"{ERROR_PREFIX}{at:012d}",
                    {"position": at, "error": type(error).__name__, "at": now.isoformat()},
                )
                log.error(
                    "consumer_entry_failed",
                    consumer=self.consumer.name,
                    position=at,
                    error=type(error).__name__,
                )
        new_position = page.position
        meta = documents.get(_META) or {}
        meta.update(
            last_pass_at=now.isoformat(),
            processed=meta.get("processed", 0) + processed,
            skipped_erased=meta.get("skipped_erased", 0) + skipped,
        )
        documents.put(_META, meta)
        try:
            self._state.commit(documents.changed, new_position, expected=position)
        except ProjectionConflictError:
            return PassReport(0, 0, 0, position)  # another runner folded it: read on from there
        return PassReport(processed, skipped, errors, new_position)

    def _act(self) -> None:
        documents = Documents(self._state)

        def commit() -> None:
            if documents.changed:
                self._state.commit(documents.changed, None)
                documents.clear_changes()

        self.consumer.act(documents, self._clock(), commit)
        commit()

    def rebuild(self) -> PassReport:
        """Drop the derived documents and fold the whole log again."""
        self._state.reset(self.consumer.kept_on_rebuild)
        return self.run_once()

    def status(self) -> ConsumerStatus:
        documents = Documents(self._state)
        error_names = documents.names(ERROR_PREFIX)
        last_error = documents.get(error_names[-1]) if error_names else None
        meta = documents.get(_META) or {}
        return ConsumerStatus(
            name=self.consumer.name,
            description=self.consumer.description,
            position=self._state.position(),
            head=self._follower.head(),
            errors=len(error_names),
            last_error=last_error,
            last_pass_at=meta.get("last_pass_at"),
            details=self.consumer.describe(documents, self._clock()),
        )
