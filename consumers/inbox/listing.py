"""A practitioner's inbox as they read it: notices, alerts and items in one place, released by
the gate (the same audit entries as their delivery: listing again writes none), with counts
for every page's header that read only the consumers' own documents."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from consumers.clock_alerts import ClocksConsumer, ClockSettings, list_alerts
from consumers.clock_alerts.shown import is_older_breach
from consumers.encompass import EncompassConsumer
from consumers.inbox.consumer import ACCESS, InboxConsumer
from hub.chronology_header import child_header
from hub.domain.access import Purpose
from hub.domain.uk_time import uk_date

if TYPE_CHECKING:
    from consumers.clock_alerts import AlertListing
    from consumers.framework import ConsumerRunner
    from hub.adapters.directory import PractitionerDirectory
    from hub.disclosure_gate import DisclosureGate
    from hub.domain.agency_records import AgencyRecord


@dataclass(frozen=True)
class InboxCounts:
    """What a page header shows: how many things are waiting for this person."""

    notices: int  # Operation Encompass notices not yet acknowledged
    alerts: int  # statutory-clock alerts current for them (older breaches are summarised)
    items: int  # notifications not yet marked done

    @property
    def total(self) -> int:
        return self.notices + self.alerts + self.items

    def as_dict(self) -> dict[str, int]:
        return {
            "notices": self.notices,
            "alerts": self.alerts,
            "items": self.items,
            "total": self.total,
        }


@dataclass
class ShownItem:
    """One notification as its recipient reads it. `shared` False: nothing of it is released
    to them any more (withheld or erased since), and it says nothing of itself."""

    id: str
    type: str  # change | pattern | access | correction | transfer
    created_at: str
    opened_at: str | None
    done_at: str | None
    purpose: str
    shared: bool
    child: str | None = None  # the NHS number (or provisional id), to open the record by
    header: dict[str, Any] | None = None  # who the child is (`ChildHeader.as_dict`)
    what: list[dict[str, str]] = field(default_factory=list)  # kind, agency, agency_name
    flag: dict[str, str] | None = None  # code, description
    access: dict[str, Any] | None = None  # who looked, from where, why, when
    transfer: dict[str, Any] | None = None  # from which partnership, whom to ask, when

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Inbox:
    practitioner: str
    counts: InboxCounts
    notices: list[dict[str, Any]]
    alerts: AlertListing | None
    items: list[ShownItem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "practitioner": self.practitioner,
            "counts": self.counts.as_dict(),
            "notices": self.notices,
            "alerts": None if self.alerts is None else self.alerts.as_dict(),
            "items": [i.as_dict() for i in self.items],
        }


class InboxService:
    """The inbox of each practitioner, over the three consumers' documents."""

    def __init__(
        self,
        gate: DisclosureGate,
        runner: Callable[[str], ConsumerRunner],
        directory: PractitionerDirectory,
        register: Callable[[], Mapping[str, AgencyRecord]],
    ) -> None:
        self._gate = gate
        self._build_runner = runner
        self._directory = directory
        self._register = register
        self._runners: dict[str, ConsumerRunner] = {}
        self._lock = threading.Lock()

    def _runner(self, name: str) -> ConsumerRunner:
        """One runner per consumer for the service's life: every page's header counts, so
        opening the consumers' stores per request would cost a connection each time."""
        with self._lock:
            if name not in self._runners:
                self._runners[name] = self._build_runner(name)
            return self._runners[name]

    def _inbox_runner(self) -> tuple[ConsumerRunner, InboxConsumer]:
        runner = self._runner("inbox")
        assert isinstance(runner.consumer, InboxConsumer)
        return runner, runner.consumer

    def _encompass_runner(self) -> tuple[ConsumerRunner, EncompassConsumer]:
        runner = self._runner("encompass")
        assert isinstance(runner.consumer, EncompassConsumer)
        return runner, runner.consumer

    def counts(self, practitioner_id: str, now: datetime) -> InboxCounts:
        """Counted from the consumers' documents alone: no disclosure, nothing audited."""
        practitioner = self._gate.practitioner(practitioner_id)
        runner, inbox = self._inbox_runner()
        items = inbox.items_for(runner.documents(), practitioner_id)
        notices_runner, encompass = self._encompass_runner()
        notices = encompass.unacknowledged(notices_runner.documents(), practitioner_id)
        clocks_runner = self._runner("clocks")
        assert isinstance(clocks_runner.consumer, ClocksConsumer)
        alerts = clocks_runner.consumer.alerts_for(
            clocks_runner.documents(), practitioner, uk_date(now)
        )
        horizon = ClockSettings().breach_horizon_working_days
        return InboxCounts(
            notices=notices,
            alerts=sum(1 for a in alerts if not is_older_breach(a, horizon)),
            items=sum(1 for i in items if i["done_at"] is None),
        )

    def inbox(self, practitioner_id: str, now: datetime, include_done: bool = False) -> Inbox:
        """Everything waiting for them: unacknowledged notices first, then current alerts
        grouped by child, then notifications newest first (done ones only if asked)."""
        practitioner = self._gate.practitioner(practitioner_id)
        if not practitioner.is_active(uk_date(now)):
            raise PermissionError("your account is not active in the practitioner directory")
        notices_runner, encompass = self._encompass_runner()
        notices = encompass.inbox(notices_runner.documents(), practitioner_id, now)
        alerts = list_alerts(self._gate, self._runner("clocks"), practitioner_id, now)
        runner, inbox = self._inbox_runner()
        stored = inbox.items_for(runner.documents(), practitioner_id)
        shown = [
            self._shown(practitioner_id, item, now)
            for item in stored
            if include_done or item["done_at"] is None
        ]
        counts = InboxCounts(
            notices=sum(1 for n in notices if not n.get("acknowledged_by")),
            alerts=sum(
                1
                for a in alerts.alerts
                if not is_older_breach(a, alerts.breach_horizon_working_days)
            ),
            items=sum(1 for i in stored if i["done_at"] is None),
        )
        return Inbox(practitioner_id, counts, notices, alerts, shown)

    def _shown(self, practitioner_id: str, item: dict[str, Any], now: datetime) -> ShownItem:
        """The item as the gate releases it to them now (finding its delivery's audit entry),
        so a record withheld or erased since is not named."""
        _, inbox = self._inbox_runner()
        practitioner = self._gate.practitioner(practitioner_id)
        view = inbox.release_item(item, practitioner, now)
        wanted = set(item.get("refs", []))
        released = [e for e in view.entries if e.ref in wanted and not e.retracted]
        register = self._register()
        shown = ShownItem(
            id=item["id"],
            type=item["type"],
            created_at=item["created_at"],
            opened_at=item.get("opened_at"),
            done_at=item.get("done_at"),
            purpose=item["purpose"],
            shared=bool(released),
        )
        if not released:
            return shown
        shown.child = view.child
        shown.header = child_header(view, register, self._directory.get, uk_date(now)).as_dict()
        if item["type"] == ACCESS:
            looked = dict(item["access"])
            viewer = self._directory.get(looked["viewer"])
            looked["viewer_name"] = viewer.name if viewer else looked["viewer"]
            agency = register.get(looked["organisation"])
            looked["organisation_name"] = agency.display_name if agency else looked["organisation"]
            shown.access = looked
            return shown
        names = {e.ref: e for e in released}
        agency_names = {agency: record.display_name for agency, record in register.items()}
        shown.what = [
            {
                "kind": entry.kind,
                "agency": entry.agency,
                "agency_name": entry.agency_name(agency_names),  # a partner's never a local's
            }
            for ref in item["refs"]
            if (entry := names.get(ref)) is not None
        ]
        shown.transfer = item.get("transfer")
        if item.get("flag"):
            flag = next((f for f in view.patterns if f.code == item["flag"]["code"]), None)
            shown.flag = (
                None if flag is None else {"code": flag.code, "description": flag.description}
            )
            shown.shared = flag is not None
        return shown

    def mark(self, practitioner_id: str, item_id: str, what: str, now: datetime) -> dict[str, Any]:
        """Mark one of their items opened, done or not done (nothing disclosed, nothing
        audited: opening the record itself is the audited view)."""
        self._gate.practitioner(practitioner_id)
        runner, inbox = self._inbox_runner()
        documents = runner.documents()
        item = inbox.mark(documents, practitioner_id, item_id, what, now)
        runner.state.commit(documents.changed, None)
        return {"id": item["id"], "opened_at": item["opened_at"], "done_at": item["done_at"]}

    def resolve_item(self, practitioner_id: str, item_id: str) -> str:
        """The full id of one of their items, from its id or first characters."""
        runner, inbox = self._inbox_runner()
        return str(inbox.find_item(runner.documents(), practitioner_id, item_id)["id"])

    def item_purpose(self, practitioner_id: str, item_id: str) -> tuple[str, Purpose]:
        """The child stream and purpose to open the record for, from one of their items."""
        runner, inbox = self._inbox_runner()
        item = inbox.find_item(runner.documents(), practitioner_id, item_id)
        return item["child_stream"], Purpose(item["purpose"])

    def item_child(
        self, practitioner_id: str, item_id: str, now: datetime
    ) -> tuple[str | None, Purpose]:
        """The child to open the record of from one of their items (None when nothing of the
        item is shared with them any more), and the purpose it was raised for. Released as
        the listing releases it (its delivery's audit entry: nothing new is audited)."""
        runner, inbox = self._inbox_runner()
        item = inbox.find_item(runner.documents(), practitioner_id, item_id)
        shown = self._shown(practitioner_id, item, now)
        return (shown.child if shown.shared else None), Purpose(item["purpose"])

    def acknowledge(
        self, practitioner_id: str, notice_id: str, action_taken: str | None, now: datetime
    ) -> dict[str, Any]:
        self._gate.practitioner(practitioner_id)
        runner, encompass = self._encompass_runner()
        documents = runner.documents()
        ack = encompass.acknowledge(
            documents, notice_id, practitioner_id, now, action_taken=action_taken
        )
        runner.state.commit(documents.changed, None)
        return ack
