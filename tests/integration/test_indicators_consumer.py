"""The indicators consumer on the real store (SQLite and PostgreSQL): events in through the real
ingest core, the consumer folding them restart-safely, the figures out, no child identifier
anywhere in what it keeps or publishes."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from consumers.indicator_facts import STATS, load_children
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.domain.canonical_event import ChildRef
from hub.domain.indicators import STATUTORY, Definitions, Figure, IndicatorReport, build_report
from hub.identities import IdentityService
from hub.ingest import InboundMessage, IngestService
from hub.reports.indicators_report import render_csv, render_html, render_json
from hub.settings import HubSettings
from tests.factories import event_dict, ingest_service, nhs_number, register_agencies

LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
ICB = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}
RECEIVED_Q2 = datetime(2024, 9, 30, 12, 0, tzinfo=UTC)  # Q2 2024/25
RECEIVED_Q3 = datetime(2024, 12, 20, 12, 0, tzinfo=UTC)  # Q3 2024/25
AS_AT = date(2025, 1, 1)  # latest Q3 2024/25, previous Q2 2024/25
POLICE_HOURS = [2, 4, 6, 8, 10, 30]  # recording to the hub, one home visit per child 0-5
SUMMARY = "Kestrel-Close-summary-text"
REF = "la.referral"  # free text that must never reach the consumer


@dataclass
class Clock:
    now: datetime = RECEIVED_Q2

    def __call__(self) -> datetime:
        return self.now


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def event(
    agency: dict[str, str],
    event_id: str,
    kind: str,
    occurred: datetime,
    child: dict[str, str],
    recorded: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    return event_dict(
        event_id=event_id,
        agency=agency,
        kind=kind,
        child=child,
        occurred_at=occurred.isoformat(),
        recorded_at=(recorded or occurred + timedelta(hours=1)).isoformat(),
        summary=SUMMARY,
        details=fields.pop("details", {"referral_source": "school"} if kind == REF else {}),
        **fields,
    )


def withheld(reason: str) -> list[dict[str, str]]:
    return [
        {
            "agency_type": "education",
            "reason": reason,
            "decided_by": "DS 4471",
            "review_by": "2025-03-01",
        }
    ]


@dataclass
class Partnership:
    """Eight children (0-7) by NHS number and one first known by a provisional id."""

    provisional_id: str
    q2: list[dict[str, Any]] = field(default_factory=list)
    q3: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def child(i: int) -> dict[str, str]:
        return {"nhs_number": nhs_number(i)}

    def build(self) -> Partnership:
        for i in range(8):
            c = self.child(i)
            self.q2.append(event(LA, f"REF-{i}-A", "la.referral", at("2024-02-05"), c))
            if i <= 6:
                self.q3.append(event(LA, f"REF-{i}-B", "la.referral", at("2024-10-07"), c))
            self.q3.append(
                event(
                    LA,
                    f"ASMT-{i}",
                    "la.assessment-completed",
                    at("2024-12-16" if i >= 6 else "2024-10-01"),
                    c,
                    details={
                        "started_on": "2024-09-02",
                        "completed_on": "2024-12-16" if i >= 6 else "2024-10-01",
                    },
                )
            )
            if i <= 5:
                self.q3.append(event(LA, f"S47-{i}", "la.s47-enquiry-started", at("2024-11-04"), c))
                recorded = RECEIVED_Q3 - timedelta(hours=POLICE_HOURS[i])
                self.q3.append(
                    event(
                        POLICE,
                        f"VISIT-{i}",
                        "police.home-visit",
                        recorded - timedelta(hours=1),
                        c,
                        recorded=recorded,
                        details={"reason": "welfare", "child_seen": True, "child_spoken_to": True},
                    )
                )
            if i <= 6:
                reason = (
                    "Live investigation: sharing now could alert suspects"
                    if i <= 5
                    else "Would reveal the refuge address"
                )
                self.q3.append(
                    event(
                        ICB,
                        f"UCA-{i}",
                        "health.urgent-care-attendance",
                        at("2024-11-20"),
                        c,
                        withheld_from=withheld(reason),
                    )
                )
            if i <= 4:
                self.q3.append(
                    event(
                        SCHOOL,
                        f"ATT-{i}",
                        "education.attendance-concern",
                        at("2024-11-11"),
                        c,
                        details={"attendance_percent": 71.0, "period": "Autumn term"},
                    )
                )
        # Child 6's second referral is corrected to a date long before; child 7's retracted.
        self.q3.append(
            event(LA, "REF-6-B", "la.referral", at("2022-01-03"), self.child(6), revision=2)
        )
        self.q3.append(event(LA, "REF-7-B", "la.referral", at("2024-10-07"), self.child(7)))
        self.q3.append(
            event(
                LA,
                "RET-7",
                "record.retracted",
                at("2024-10-08"),
                self.child(7),
                supersedes={"event_id": "REF-7-B"},
            )
        )
        # A pre-birth referral under a provisional id, linked to child 8's NHS number at
        # birth; child 8's own referral in October is then a re-referral.
        provisional = {"provisional_id": self.provisional_id}
        self.q2.append(event(LA, "REF-P", "la.referral", at("2024-03-01"), provisional))
        self.q3.append(
            event(
                LA,
                "LINK-P",
                "identity.linked",
                at("2024-09-10"),
                provisional,
                details={"nhs_number": nhs_number(8)},
            )
        )
        self.q3.append(event(LA, "REF-8", "la.referral", at("2024-10-07"), self.child(8)))
        return self

    @property
    def nhs_numbers(self) -> list[str]:
        return [nhs_number(i) for i in range(9)]


def ingest(service: IngestService, events: list[dict[str, Any]], source: str) -> None:
    by_agency: dict[str, list[bytes]] = {}
    for e in events:
        by_agency.setdefault(e["agency"]["id"], []).append(json.dumps(e).encode())
    for agency, values in by_agency.items():
        outcome = service.ingest(
            [
                InboundMessage(f"inbox:{agency}/{source}", n + 1, v, agency)
                for n, v in enumerate(values)
            ]
        )
        assert not outcome.quarantined, outcome.quarantined


@dataclass
class World:
    hub: Hub
    clock: Clock
    ingest: IngestService
    partnership: Partnership

    def streams(self) -> list[str]:
        refs = [ChildRef(nhs_number=n) for n in self.partnership.nhs_numbers]
        refs.append(ChildRef(provisional_id=self.partnership.provisional_id))
        return [self.hub.pseudonyms.child_stream(r).hex for r in refs]

    def identifiers(self) -> list[str]:
        return [*self.partnership.nhs_numbers, self.partnership.provisional_id, *self.streams()]


@pytest.fixture
def world(settings: HubSettings) -> Iterator[World]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    clock = Clock()
    service = ingest_service(hub, clock)
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(LA["id"])
    yield World(hub, clock, service, Partnership(provisional).build())
    hub.close()


def ingest_all(world: World) -> None:
    world.clock.now = RECEIVED_Q2
    ingest(world.ingest, world.partnership.q2, "q2")
    world.clock.now = RECEIVED_Q3
    ingest(world.ingest, world.partnership.q3, "q3")


ROLLING = Definitions(windows={"re-referrals-12-months": "rolling-12-months"})


def report_of(world: World, definitions: Definitions = STATUTORY) -> IndicatorReport:
    runner = world.hub.consumer_runner("indicators")
    return build_report(load_children(runner.state), AS_AT, definitions=definitions)


def counts(figure: Figure) -> tuple[int | None, int | None]:
    return figure.numerator, figure.denominator


def test_the_figures_from_the_log(world: World) -> None:
    ingest_all(world)
    runner = world.hub.consumer_runner("indicators")
    folded = runner.run_once()
    assert folded.errors == 0
    report = report_of(world)
    assert report.latest.label == "Q3 2024/25"

    # Year to date (April to December 2024), the statutory period: the 7 referrals in
    # October (child 6's corrected and child 7's retracted second ones are out; the
    # provisional referral in March and child 8's are one child's), all re-referrals.
    re_referrals = report.row("re-referrals-12-months")
    assert counts(re_referrals.latest) == (7, 7)
    assert re_referrals.rag == "R"
    assert counts(re_referrals.previous) == (0, 0)  # none April to September
    # Over the 12 months to December, as a partnership may define it: 16 referrals in 2024.
    rolling = report_of(world, ROLLING).row("re-referrals-12-months")
    assert counts(rolling.latest) == (7, 16)
    assert counts(rolling.previous) == (0, 9)  # the 8 in February and the provisional one
    assert counts(re_referrals.rolling or Figure(None)) == (7, 16)  # shown beside it
    # Assessments: 6 of 8 within 45 working days -> 75.0% against >90.3%: amber.
    assessments = report.row("assessments-45-days")
    assert counts(assessments.latest) == (6, 8) and assessments.rag == "A"
    # Children 0-5 in a section 47 enquiry; 0-4 have records from all four agency types.
    assert counts(report.row("all-four-agencies").latest) == (5, 6)
    # Police: the six home visits, received in Q3, 2-30 hours after recording.
    median = report.row("sharing-latency-median/police")
    assert median.latest == Figure(7.0, denominator=6)
    assert report.row("sharing-latency-p90/police").latest.value == 30.0
    assert counts(report.row("shared-within-expectation/police").latest) == (5, 6)
    # Withheld in Q3: 7 items, 6 for a live investigation (hidden, or 7 - 6 would give the
    # single address one away) and 1 that would reveal an address (small: hidden).
    assert report.row("withheld-items/total").latest == Figure(7.0, 7)
    assert report.row("withheld-items/investigation").latest.suppressed
    assert report.row("withheld-items/location").latest.suppressed
    assert report.row("withheld-items/total").previous == Figure(0.0, 0)

    status = runner.status().as_dict()
    assert status["lag"] == 0 and status["errors"] == 0
    agency_events = len(world.partnership.q2) + len(world.partnership.q3)
    assert status["records_folded"] == agency_events
    assert status["corrections"] == 1 and status["retractions"] == 1
    assert status["withheld_items"] == 7 and status["identity_links"] == 1


def test_restart_safe_and_the_same_as_a_rebuild(world: World) -> None:
    world.clock.now = RECEIVED_Q2
    ingest(world.ingest, world.partnership.q2, "q2")
    first = world.hub.consumer_runner("indicators").run_once()
    assert first.processed > 0
    world.clock.now = RECEIVED_Q3
    ingest(world.ingest, world.partnership.q3, "q3")
    second = world.hub.consumer_runner("indicators")  # a new process, its own runner
    assert second.run_once().processed > 0
    assert second.run_once().processed == 0  # caught up: nothing folded twice
    incremental = report_of(world).as_dict()
    status = second.status().as_dict()
    assert status["records_folded"] == len(world.partnership.q2) + len(world.partnership.q3)
    rebuilt = world.hub.consumer_runner("indicators")
    rebuilt.rebuild()
    assert report_of(world).as_dict() == incremental
    assert rebuilt.status().as_dict()["records_folded"] == status["records_folded"]


def test_an_erased_child_no_longer_counts(world: World) -> None:
    ingest_all(world)
    world.hub.consumer_runner("indicators").run_once()
    before = report_of(world, ROLLING).row("re-referrals-12-months").latest
    world.hub.erasure.erase_child("dpo-0001", ChildRef(nhs_number=nhs_number(0)), "test erasure")
    after = report_of(world, ROLLING).row("re-referrals-12-months").latest
    assert counts(after) == (before.numerator - 1, before.denominator - 2)  # type: ignore[operator]
    world.hub.consumer_runner("indicators").rebuild()
    assert report_of(world, ROLLING).row("re-referrals-12-months").latest == after


def test_no_child_identifier_in_outputs_or_the_consumer_store(world: World) -> None:
    ingest_all(world)
    runner = world.hub.consumer_runner("indicators")
    runner.run_once()
    report = report_of(world)
    outputs = {
        "json": render_json(report),
        "csv": render_csv(report),
        "html": render_html(report),
    }
    for name, text in outputs.items():
        for identifier in world.identifiers():
            assert identifier not in text, f"{name} holds a child identifier"
        assert SUMMARY not in text
    # The index-key document holds counters only.
    stats = runner.documents().get(STATS)
    assert stats is not None
    assert not any(i in json.dumps(stats) for i in world.identifiers())
    if world.hub.settings.store != "sqlite":
        return
    world.hub.close()
    path = world.hub.settings.data_dir / "consumers" / "indicators.sqlite"
    raw = b"".join(p.read_bytes() for p in path.parent.glob("indicators.sqlite*"))
    for secret in [*world.partnership.nhs_numbers, world.partnership.provisional_id, SUMMARY]:
        assert secret.encode() not in raw
    assert b"investigation" not in raw and b"shire-constabulary" not in raw  # sealed
    # A stream's pseudonym appears only as the `child:<stream>:` prefix of a document name,
    # which is how the framework chooses the child's key; never inside a document.
    db = sqlite3.connect(path)
    rows = db.execute("SELECT stream, sealed FROM documents").fetchall()
    db.close()
    assert rows
    for name, sealed in rows:
        for stream in world.streams():
            assert stream.encode() not in sealed
            if stream in name:
                assert name.startswith(f"child:{stream}:")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`hub` commands configure logging to the stderr of the moment, here pytest's capture,
    which is closed after the test: later tests must log where they did before."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("restore_logging")
def test_the_cli_catches_up_and_writes_each_format(
    sqlite_settings: HubSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = bootstrap(sqlite_settings)
    register_agencies(hub)
    clock = Clock()
    service = ingest_service(hub, clock)
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(LA["id"])
    partnership = Partnership(provisional).build()
    ingest(service, partnership.q2, "q2")
    clock.now = RECEIVED_Q3
    ingest(service, partnership.q3, "q3")
    hub.close()
    data_dir = str(sqlite_settings.data_dir)
    common = ["--data-dir", data_dir, "--as-at", "2025-01-01", "--quiet"]
    capsys.readouterr()  # the ingest's own log lines
    # Nothing has run the consumer: --no-catch-up reports from nothing and says so.
    assert main(["indicators", *common, "--format", "json", "--no-catch-up"]) == 0
    captured = capsys.readouterr()
    assert "behind" in captured.err
    empty = json.loads(captured.out)
    row = next(r for r in empty["indicators"] if r["code"] == "re-referrals-12-months")
    assert row["latest"]["denominator"] == 0
    # By default the command catches the consumer up first.
    out = tmp_path / "indicators.csv"
    assert main(["indicators", *common, "--format", "csv", "--out", str(out)]) == 0
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["re-referrals-12-months"]["latest"] == "100.0"  # year to date
    assert rows["re-referrals-12-months"]["latest_numerator"] == "7"
    assert rows["re-referrals-12-months"]["period_in_words"] == (
        "year to date (April to December 2024)"
    )
    # A partnership whose report counts over 12 months says so in a definitions file.
    definitions = tmp_path / "definitions.json"
    definitions.write_text(json.dumps({"re-referrals-12-months": {"period": "rolling-12-months"}}))
    rolling = tmp_path / "rolling.csv"
    assert (
        main(
            [
                "indicators",
                *common,
                "--format",
                "csv",
                "--out",
                str(rolling),
                "--definitions",
                str(definitions),
            ]
        )
        == 0
    )
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(rolling.read_text()))}
    assert rows["re-referrals-12-months"]["latest"] == "43.8"
    assert "12 months to the quarter's end" in rows["re-referrals-12-months"]["period_in_words"]
    definitions.write_text(json.dumps({"re-referrals-12-months": {"cohort": "in-care-at-end"}}))
    assert main(["indicators", *common, "--definitions", str(definitions)]) == 2
    # --as-at the quarter's last day reports that quarter, named with its months.
    last_day = ["--data-dir", data_dir, "--as-at", "2024-12-31", "--quiet", "--format", "json"]
    capsys.readouterr()
    assert main(["indicators", *last_day]) == 0
    named = json.loads(capsys.readouterr().out)["latest_period"]
    assert named["name"] == "Q3 2024/25 (October to December 2024)"
    assert rows["withheld-items/location"]["latest"] == "c"
    assert rows["assessments-45-days"]["rag"] == "A"
    assert main(["indicators", *common, "--format", "html", "--out", str(tmp_path / "i.html")]) == 0
    assert "<svg" in (tmp_path / "i.html").read_text()
    assert main(["indicators", *common]) == 0
    assert "Re-referrals to CSC within 12 mths" in capsys.readouterr().out
    assert (
        main(["consumer", "status", "indicators", "--data-dir", data_dir, "--format", "json"]) == 0
    )
    status = json.loads(capsys.readouterr().out)[0]
    assert status["lag"] == 0 and status["records_folded"] > 0
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"re-referrals-12-months": ">40", "assessments-45-days": None}))
    assert main(["indicators", *common, "--format", "json", "--targets", str(targets)]) == 0
    document = json.loads(capsys.readouterr().out)
    by_code = {r["code"]: r for r in document["indicators"]}
    assert by_code["re-referrals-12-months"]["rag"] == "G"
    assert by_code["assessments-45-days"]["target"] is None
    assert main(["indicators", *common, "--targets", str(tmp_path / "missing.json")]) == 2
    assert main(["indicators", "--data-dir", data_dir, "--as-at", "01/01/2025"]) == 2


def test_an_earlier_revision_arriving_late_does_not_replace_the_correction(world: World) -> None:
    ingest_all(world)
    runner = world.hub.consumer_runner("indicators")
    runner.run_once()
    before = report_of(world).row("re-referrals-12-months").latest
    correction = event(LA, "REF-3-C", "la.referral", at("2022-05-03"), Partnership.child(3))
    original = event(LA, "REF-3-C", "la.referral", at("2024-12-02"), Partnership.child(3))
    ingest(world.ingest, [{**correction, "revision": 2}], "late-1")
    runner.run_once()
    ingest(world.ingest, [original], "late-2")  # revision 1, after revision 2
    runner.run_once()
    assert report_of(world).row("re-referrals-12-months").latest == before  # 2022: outside
    assert runner.status().as_dict()["out_of_order_revisions"] == 1


def test_care_leavers_from_the_log_with_the_date_of_birth_sealed(world: World) -> None:
    """Two care leavers aged 19 and 20 and one aged 18, their dates of birth from the local
    authority's child details and their latest accommodation and activity: the figures come
    through the real ingest and consumer, and no date of birth is in the store in clear."""
    births = {20: "2004-05-17", 21: "2005-08-09", 22: "2006-11-23"}
    statuses = {20: ("U", True, "F5"), 21: ("S", False, "G5"), 22: ("E", True, "F2")}
    events = []
    for i, born in births.items():
        c = Partnership.child(i)
        events.append(
            event(
                LA,
                f"DETAILS-{i}",
                "la.child-details",
                at("2024-01-08"),
                c,
                details={
                    "family_name": "Ashdown",
                    "given_names": ["Robin"],
                    "date_of_birth": born,
                    "sex": "unknown",
                },
            )
        )
        events.append(event(LA, f"CL-{i}", "la.care-leaver-status", at("2024-02-01"), c))
        accommodation, suitable, activity = statuses[i]
        details = {"accommodation": accommodation, "suitable": suitable}
        events.append(
            event(
                LA,
                f"ACCOM-{i}",
                "la.care-leaver-accommodation",
                at("2024-11-05"),
                c,
                details={**details, "recorded_on": "2024-11-05"},
            )
        )
        events.append(
            event(
                LA,
                f"ACTIV-{i}",
                "la.care-leaver-activity",
                at("2024-11-05"),
                c,
                details={"activity": activity, "recorded_on": "2024-11-05"},
            )
        )
    world.clock.now = RECEIVED_Q3
    ingest(world.ingest, events, "care-leavers")
    world.hub.consumer_runner("indicators").run_once()
    report = report_of(world)
    accommodation_row = report.row("care-leavers-suitable-accommodation")
    activity_row = report.row("care-leavers-in-education-employment-training")
    # Aged 19 to 21 on 31 December 2024: children 20 (20) and 21 (19), not 22 (18).
    assert counts(accommodation_row.latest) == (1, 2)
    assert counts(activity_row.latest) == (1, 2)
    assert accommodation_row.latest.suppressed  # 1 and 2 are published as "c"
    up_to_21 = report_of(world, Definitions(ages={"care-leavers-suitable-accommodation": "18-21"}))
    assert counts(up_to_21.row("care-leavers-suitable-accommodation").latest) == (2, 3)
    if world.hub.settings.store != "sqlite":
        return
    world.hub.close()
    path = world.hub.settings.data_dir / "consumers" / "indicators.sqlite"
    raw = b"".join(p.read_bytes() for p in path.parent.glob("indicators.sqlite*"))
    for born in births.values():
        assert born.encode() not in raw
