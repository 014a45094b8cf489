"""`hub demo`: a synthetic partnership run end to end on the embedded default.

Every agency's native export goes through its real adapter into the file inbox, and the inbox
through the real ingest core into an encrypted SQLite store, exactly as a deployment would run
them. A re-sent file and a gateway file of malformed messages show duplicates and quarantine.
The demo writes into the data directory so `hub status` and `hub quarantine list` can be run
on its results; it refuses to touch a data directory that holds a hub that is not a demo.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.adapters.agencies.base import AdapterProblem
from hub.adapters.agencies.registry import get_adapter
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.demo.agency_exports import AGENCY_CONTACTS
from hub.demo.disclosures import DisclosureWalkthrough, walk_through
from hub.demo.notices_and_indicators import ConsumersScene, run_consumers
from hub.demo.population import LA, POLICE, PartnershipManifest, generate_partnership
from hub.identities import IdentityService
from hub.onboarding import new_agency
from hub.reports.operations import QuarantineItem, StoreStatus, quarantined_messages, store_status
from hub.settings import HubSettings
from hub.transports.inbox import FileInbox, encode_events, write_inbox_file

DEMO_MARKER = ".hub-demo"


class DemoDirectoryError(RuntimeError):
    """The data directory holds something that is not a previous demo."""


@dataclass
class AgencyLine:
    agency_id: str
    adapter: str
    native_rows: int
    events: int
    not_mapped: list[AdapterProblem]


@dataclass
class DemoReport:
    data_dir: Path
    store: str
    agencies: list[AgencyLine]
    status: StoreStatus
    quarantined: list[QuarantineItem]
    sibling_events: dict[str, int]
    seconds: float
    second_pass_new: int
    walkthrough: DisclosureWalkthrough
    consumers: ConsumersScene

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "store": self.store,
            "seconds": round(self.seconds, 2),
            "events": self.status.events,
            "children": self.status.children,
            "duplicates": self.status.duplicates,
            "quarantined": self.status.quarantined,
            "second_pass_new_events": self.second_pass_new,
            "agencies": [
                {
                    "agency": a.agency_id,
                    "adapter": a.adapter,
                    "native_rows": a.native_rows,
                    "events": a.events,
                    "recorded": self.status.events_by_agency.get(a.agency_id, 0),
                    "not_mapped": [vars(p) for p in a.not_mapped],
                }
                for a in self.agencies
            ],
            "quarantine": [
                {
                    "source": q.source,
                    "position": q.position,
                    "reason_code": q.reason_code,
                    "reason": q.reason,
                }
                for q in self.quarantined
            ],
            "sibling_case_events_by_agency": self.sibling_events,
            "sibling_case_disclosures": self.walkthrough.as_dict(),
            "consumers": self.consumers.as_dict(),
        }

    def print(self) -> None:
        s = self.status
        print(f"Synthetic partnership ingested in {self.seconds:.1f} s\n")
        print(f"{'agency':<24}{'adapter':<13}{'native rows':>12}{'not mapped':>12}{'recorded':>10}")
        for a in self.agencies:
            recorded = s.events_by_agency.get(a.agency_id, 0)
            print(
                f"{a.agency_id:<24}{a.adapter:<13}{a.native_rows:>12,}{len(a.not_mapped):>12}{recorded:>10,}"
            )
        print(
            f"\n{s.events:,} events recorded in {s.children:,} child streams, encrypted per child."
        )
        print(
            f"{s.duplicates:,} duplicates (a re-sent export) were no-ops; "
            f"a second pass over the inbox recorded {self.second_pass_new} more."
        )
        print("\nRows the adapters could not map (the rest still flowed):")
        for a in self.agencies:
            for p in a.not_mapped:
                print(f"  {Path(p.file).name}:{p.line}: {p.reason}")
        print(
            f"\nQuarantined by ingest ({len(self.quarantined)}), kept with raw bytes and position:"
        )
        for code, count in sorted(Counter(q.reason_code for q in self.quarantined).items()):
            print(f"  {count} x {code}")
        print("\nThe sibling case (three children, four years), events recorded by agency:")
        for agency, count in self.sibling_events.items():
            print(f"  {agency:<24}{count:>5}")
        self.walkthrough.print()
        self.consumers.print()
        print(f"\nData lives in {self.data_dir.resolve()}  (store: {self.store})")
        print("Try: hub status | hub quarantine list | hub schema")
        data_dir = f" --data-dir {self.data_dir}" if self.data_dir != Path(".hub") else ""
        print(
            "\nThe sibling case on its web page (who the child is, the timeline, the flags):\n"
            f"  hub token issue --practitioner lcpp-0001{data_dir}   (a token for 60 minutes)\n"
            f"  HUB_DEV_TOKENS=true hub serve{data_dir}   (development tokens are off unless "
            "enabled; never with an OpenID provider)\n"
            "  then open http://127.0.0.1:8080/, sign in with the token "
            "and the purpose 'Child protection planning',\n"
            f"  and on /chronology enter the NHS number {self.walkthrough.child} "
            "(it goes in the form, never in the address)"
        )


def _prepare(data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise DemoDirectoryError(
                f"{data_dir} holds a hub that is not a demo; run the demo with --data-dir "
                "pointing at an empty or demo directory"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, mode=0o700)
    (data_dir / DEMO_MARKER).write_text(
        "created by hub demo; deleted and rebuilt by the next one\n"
    )


def _gateway_messages(resend: list[bytes]) -> list[bytes]:
    """What a partner gateway really sends now and then: each is quarantined, none is lost."""
    good = json.loads(resend[0])
    wrong_agency = {**good, "event_id": "GW-1", "agency": {**good["agency"], "id": POLICE}}
    number = good["child"].get("nhs_number", "9434765919")
    bad_digit = {
        **good,
        "event_id": "GW-2",
        "child": {"nhs_number": number[:9] + str((int(number[9]) + 1) % 10)},
    }
    unknown_field = {**good, "event_id": "GW-3", "priority": "high"}
    future = {**good, "event_id": "GW-4", "recorded_at": "2099-01-01T09:00:00+00:00"}
    return [
        resend[1][: len(resend[1]) // 2],  # truncated in transit
        b"\xff\xfe\x00not utf-8",
        json.dumps(wrong_agency).encode(),
        json.dumps(bad_digit).encode(),
        json.dumps(unknown_field).encode(),
        json.dumps(future).encode(),
    ]


def run_demo(settings: HubSettings, *, children: int, seed: int) -> DemoReport:
    _prepare(settings.data_dir)
    directory = settings.data_dir / "practitioners.yaml"
    shutil.copyfile(SAMPLE_DIRECTORY_PATH, directory)
    settings = settings.model_copy(update={"store": "sqlite", "directory": directory})
    hub = bootstrap(settings)
    try:
        started = time.perf_counter()
        provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(LA)
        inbox_dir = settings.data_dir / "inbox"
        lines, la_lines, manifest = _publish_exports(hub, inbox_dir, seed, children, provisional)
        # Inbox files are read in name order, so they are named in order of arrival.
        write_inbox_file(inbox_dir, LA, "02-resent-export", la_lines[:50])
        write_inbox_file(inbox_dir, LA, "03-partner-gateway", _gateway_messages(la_lines))

        inbox = FileInbox(inbox_dir)
        inbox.drain(hub.ingest, settings.batch_size)
        seconds = time.perf_counter() - started
        second_pass_new = sum(o.accepted for o in inbox.drain(hub.ingest, settings.batch_size))

        status = store_status(hub.store, settings.describe_store())
        sibling_events = _sibling_events(hub, manifest.sibling_nhs_numbers.values())
        walkthrough = walk_through(hub, manifest.sibling_nhs_numbers["Madison"])
        consumers = run_consumers(
            hub, inbox_dir, manifest.sibling_nhs_numbers["Madison"], settings.batch_size
        )
        return DemoReport(
            data_dir=settings.data_dir,
            store=settings.describe_store(),
            agencies=lines,
            status=status,
            quarantined=quarantined_messages(hub.store),
            sibling_events=sibling_events,
            seconds=seconds,
            second_pass_new=second_pass_new,
            walkthrough=walkthrough,
            consumers=consumers,
        )
    finally:
        hub.close()


def _publish_exports(
    hub: Hub, inbox_dir: Path, seed: int, children: int, provisional: str
) -> tuple[list[AgencyLine], list[bytes], PartnershipManifest]:
    """Register the partnership's agencies (the register is authoritative), generate each
    agency's native export and run it through its adapter into the inbox. The exports stand
    for files on the agencies' own systems: they are written to a temporary directory and
    removed once read, so the hub keeps no clear copy of them."""
    exports = Path(tempfile.mkdtemp(prefix="hub-demo-exports-"))
    try:
        manifest = generate_partnership(
            exports, seed=seed, children=children, provisional_id=provisional
        )
        for export in manifest.agencies:
            adapter = get_adapter(export.adapter)
            name, contact = AGENCY_CONTACTS.get(export.agency_id, (None, None))
            hub.agencies.register(
                new_agency(
                    export.agency_id,
                    adapter.agency_type,
                    export.adapter,
                    datetime.now(UTC),
                    name=name,
                    contact=contact,
                )
            )
        lines: list[AgencyLine] = []
        la_lines: list[bytes] = []
        for export in manifest.agencies:
            result = get_adapter(export.adapter).read(export.path, export.agency_id)
            encoded = list(encode_events(result.events))
            write_inbox_file(inbox_dir, export.agency_id, "01-export", encoded)
            if export.agency_id == LA:
                la_lines = encoded
            lines.append(
                AgencyLine(
                    export.agency_id,
                    export.adapter,
                    export.rows_written,
                    len(result.events),
                    result.problems,
                )
            )
    finally:
        shutil.rmtree(exports, ignore_errors=True)
    return lines, la_lines, manifest


def _sibling_events(hub: Any, nhs_numbers: Any) -> dict[str, int]:
    from hub.domain.records import ChildRecordEntry

    counts: Counter[str] = Counter()
    for number in nhs_numbers:
        for entry in hub.store.stream(hub.pseudonyms.nhs_stream(number)):
            if isinstance(entry, ChildRecordEntry) and entry.entry_type == "agency-event":
                counts[entry.body["agency"]["id"]] += 1
    return dict(sorted(counts.items()))
