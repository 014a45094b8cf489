"""The consumers part of `hub demo`: an overnight police incident becomes an Operation
Encompass notice, and every consumer catches up with the partnership's log once.

Each consumer runs exactly as `hub consumer run NAME --once` would, against the demo's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hub.bootstrap import Hub
from hub.domain.uk_time import UK, uk_date, uk_datetime_text
from hub.transports.inbox import FileInbox, write_inbox_file

POLICE = "shire-constabulary"
CONSUMERS = ("encompass", "clocks", "inbox", "indicators")


@dataclass
class ConsumersScene:
    child: str
    notices: dict[str, list[dict[str, Any]]]  # recipient -> their notices
    recipients: dict[str, str] = field(default_factory=dict)  # recipient -> role, organisation
    published_events: int = 0  # the overnight incident, beyond the agencies' exports
    published_recorded_at: list[str] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    inboxes: dict[str, dict[str, int]] = field(default_factory=dict)  # who -> counts
    outputs: dict[str, str] = field(default_factory=dict)  # what -> file written

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "published_events": self.published_events,
            "published_recorded_at": self.published_recorded_at,
            "notices": self.notices,
            "statuses": self.statuses,
            "inboxes": self.inboxes,
            "outputs": self.outputs,
        }

    def print(self) -> None:
        print("\nLast night police attended a domestic abuse incident at Madison's home.")
        print("Operation Encompass (`hub consumer run encompass`) sent the minimal notice to:")
        for recipient, notices in self.notices.items():
            print(f"  {recipient} ({self.recipients[recipient]}):")
            for notice in notices:
                present = "present" if notice["child_present"] else "not present"
                incident = uk_datetime_text(datetime.fromisoformat(notice["incident_at"]))
                due = uk_datetime_text(datetime.fromisoformat(notice["due_by"]))
                header = notice["header"] or {}
                born = f", born {header['date_of_birth']}" if header.get("date_of_birth") else ""
                who = f"{header['name']}{born}, " if header.get("name") else ""
                print(
                    f"    {who}child {notice['child']}, incident {incident}, child "
                    f"{present}, police ref {notice['police_reference']}, due by "
                    f"{due}; the child's voice: {notice['child_voice']!r}"
                )
        print(
            "  Nothing else of the incident was sent; the disclosure was policy-checked and "
            "audited first. Acknowledge with `hub notices ack ID --as RECIPIENT`."
        )
        if self.inboxes:
            print("\nWaiting in practitioners' inboxes (`hub inbox list --as ID`, page /inbox):")
            for who, counts in self.inboxes.items():
                print(
                    f"  {who} ({self.recipients[who]}): {counts['notices']} notices, "
                    f"{counts['alerts']} clock alerts, {counts['items']} notifications"
                )
        print("\nConsumers (`hub consumer status`):")
        for status in self.statuses:
            print(
                f"  {status['name']:<12} position {status['position']:,} lag {status['lag']} "
                f"errors {status['errors']}"
            )
        for what, path in self.outputs.items():
            print(f"  {what}: {path}")


def _overnight_incident(nhs_number: str, now: datetime) -> bytes:
    evening = datetime.combine(uk_date(now) - timedelta(days=1), time(21, 40), UK)
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": f"OE-DEMO-{evening:%Y%m%d}",
            "revision": 1,
            "agency": {"id": POLICE, "type": "police"},
            "child": {"nhs_number": nhs_number},
            "kind": "police.domestic-abuse-incident",
            "categories": ["domestic-abuse"],
            "occurred_at": evening.isoformat(),
            "recorded_at": (evening + timedelta(hours=2)).isoformat(),
            "summary": "Officers attended after neighbours reported shouting; partner arrested",
            "details": {
                "child_present": True,
                "police_reference": f"SC-{evening:%y%m%d}-0147",
                "child_voice": "Madison said she hid in her room with her brother",
            },
            "sensitivity": "sensitive",
            "lawful_basis": "public-task",
        }
    ).encode()


def run_consumers(hub: Hub, inbox_dir: Path, madison: str, batch_size: int) -> ConsumersScene:
    now = datetime.now(UTC)
    overnight = _overnight_incident(madison, now)
    write_inbox_file(inbox_dir, POLICE, "04-overnight", [overnight])
    outcomes = FileInbox(inbox_dir).drain(hub.ingest, batch_size)
    scene = ConsumersScene(
        child=madison,
        notices={},
        published_events=sum(o.accepted for o in outcomes),
        published_recorded_at=[json.loads(overnight)["recorded_at"]],
    )
    for name in CONSUMERS:
        runner = hub.consumer_runner(name)
        runner.run_once()
        scene.statuses.append(runner.status().as_dict())
        if name == "indicators":
            from consumers.indicator_facts import load_children
            from hub.domain.indicators import build_report, default_as_at
            from hub.reports.indicators_report import render_html, with_comparators

            children = load_children(runner.state)
            # As `hub indicators` chooses: the demo's history ends in December 2025, so this
            # is the quarter to 31 December 2025, and the command reports the same.
            report = with_comparators(
                build_report(
                    children,
                    default_as_at(children, uk_date(now)),
                    reviews=hub.withholding_reviews.facts(),
                )
            )
            dashboard = hub.settings.data_dir / "indicators.html"
            dashboard.write_text(render_html(report))
            scene.outputs[
                f"indicators dashboard, {report.latest.label} (what `hub indicators --format "
                "html` writes)"
            ] = str(dashboard)
        if name == "encompass":
            from consumers.encompass import EncompassConsumer

            consumer = runner.consumer
            assert isinstance(consumer, EncompassConsumer)
            for practitioner in hub.directory.all():
                inbox = consumer.inbox(runner.documents(), practitioner.id)
                if inbox:
                    scene.notices[practitioner.id] = inbox
                    scene.recipients[practitioner.id] = (
                        f"{practitioner.role.value}, {practitioner.organisation}"
                    )
    for practitioner in hub.directory.all():
        counts = hub.inbox.counts(practitioner.id, now)
        if counts.total and practitioner.is_active(uk_date(now)):
            scene.inboxes[practitioner.id] = counts.as_dict()
            scene.recipients[practitioner.id] = (
                f"{practitioner.role.value}, {practitioner.organisation}"
            )
    return scene
