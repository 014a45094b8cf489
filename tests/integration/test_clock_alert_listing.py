"""`hub alerts` for a lead child protection practitioner with many alerts: listing them again
audits nothing new, being told of alerts is not counted as opening records by the DPOs'
broad-access query, and the text output leads with current alerts, grouped by child, with old
breaches summarised (real SQLite stores, real ingest, consumer and gate)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from consumers.clock_alerts import list_alerts
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.audit_queries import AuditQueries
from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.disclosure_gate import Disclosure
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.domain.uk_time import uk_date
from hub.domain.working_days import add_working_days, working_days_between
from hub.reports.rendering import day_text
from hub.settings import HubSettings
from tests.factories import nhs_number, register_agencies
from tests.integration.test_clocks_consumer import Publisher, runner

# Referred on 4 March 2024 (assessment due 9 May), strategy discussion on 5 March (initial
# conference due 26 March): by 2 September both are long breached.
LATE = datetime(2024, 9, 2, 12, tzinfo=UTC)


@pytest.fixture
def lead_hub(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    yield hub
    hub.close()


@pytest.fixture
def publish(lead_hub: Hub) -> Publisher:
    return Publisher(lead_hub)


def child(serial: int) -> dict[str, str]:
    return {"nhs_number": nhs_number(6000 + serial)}


def unallocated_children(publish: Publisher, count: int) -> None:
    """Children with no allocated worker: their alerts go to the MACPT's lead, lcpp-0001."""
    for n in range(count):
        publish(f"REF-{n}", "la.referral", "2024-03-04", child=child(n))
        publish(f"SD-{n}", "la.strategy-discussion", "2024-03-05", child=child(n))


def audited(hub: Hub, practitioner: str) -> list[DisclosureAudited]:
    return [r for r in hub.audit.for_practitioner(practitioner) if isinstance(r, DisclosureAudited)]


def test_listing_alerts_again_writes_no_new_audit_entry(lead_hub: Hub, publish: Publisher) -> None:
    unallocated_children(publish, 3)
    runner(lead_hub, LATE).run_once()
    clocks = lead_hub.consumer_runner("clocks")
    first = list_alerts(lead_hub.gate, clocks, "lcpp-0001", LATE)
    assert len(first.alerts) == 6
    before = audited(lead_hub, "lcpp-0001")
    assert len(before) == 3  # one per child
    assert {r.action for r in before} == {"notify"}
    assert {r.outcome for r in before} == {"disclosed"}

    again = list_alerts(lead_hub.gate, clocks, "lcpp-0001", LATE + timedelta(hours=1))
    assert len(audited(lead_hub, "lcpp-0001")) == len(before)
    assert sorted(again.audit_refs) == sorted(first.audit_refs)
    # However the listing is laid out, the same records are put to the gate: still nothing new.
    list_alerts(lead_hub.gate, clocks, "lcpp-0001", LATE, all_breaches=True)
    list_alerts(lead_hub.gate, clocks, "lcpp-0001", LATE, breach_horizon_working_days=0)
    assert len(audited(lead_hub, "lcpp-0001")) == len(before)


def test_broad_access_counts_records_opened_not_alerts_listed(
    lead_hub: Hub, publish: Publisher
) -> None:
    unallocated_children(publish, 3)  # lcpp-0001 is told of three children's alerts
    for n in range(3, 6):  # sw-0002 is allocated three others and opens their chronologies
        publish(f"REF-{n}", "la.referral", "2024-08-01", child=child(n))
        publish(
            f"ALLOC-{n}",
            "la.worker-allocated",
            "2024-08-01",
            child=child(n),
            details={"practitioner_id": "sw-0002", "role": "social-worker"},
        )
    runner(lead_hub, LATE).run_once()
    clocks = lead_hub.consumer_runner("clocks")
    for _ in range(2):
        assert len(list_alerts(lead_hub.gate, clocks, "lcpp-0001", LATE).alerts) == 6
    for n in range(3, 6):
        view = lead_hub.gate.disclose(
            ChildRef(nhs_number=child(n)["nhs_number"]),
            "sw-0002",
            Disclosure(Purpose.CHILD_PROTECTION_PLANNING, at=LATE),
        )
        assert view.outcome == "disclosed"
    queries = AuditQueries(
        lead_hub.audit,
        lead_hub.gate,
        lead_hub.decisions.agreements,
        broad_access_children=2,
        clock=lambda: LATE,
    )
    assert len({r.child_stream for r in audited(lead_hub, "lcpp-0001")}) == 3
    assert queries.broad_access("dpo-0001").rows == [
        {"practitioner": "sw-0002", "children": 3, "window_days": 30}
    ]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("restore_logging")
def test_hub_alerts_leads_with_current_alerts_by_child_and_summarises_old_breaches(
    lead_hub: Hub,
    publish: Publisher,
    settings: HubSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The command runs at the real time. Assessments are due 45 working days after referral:
    # child 0 referred 43 working days ago (due within 3), child 1 50 ago (overdue by 5),
    # child 2 80 ago (overdue by 35: beyond the 20 working day horizon).
    today = uk_date(datetime.now(UTC))
    referred = {n: add_working_days(today, -back) for n, back in ((0, 43), (1, 50), (2, 80))}
    for n, on in referred.items():
        publish(f"REF-{n}", "la.referral", on.isoformat(), child=child(n))
    runner(lead_hub, datetime.now(UTC)).run_once()
    monkeypatch.setenv("HUB_DIRECTORY", str(SAMPLE_DIRECTORY_PATH))
    monkeypatch.setenv("HUB_STORE", settings.store)
    monkeypatch.setenv("HUB_POSTGRES_DSN", settings.postgres_dsn)
    monkeypatch.setenv("HUB_POSTGRES_SCHEMA", settings.postgres_schema)
    base = ["alerts", "--as", "lcpp-0001", "--data-dir", str(settings.data_dir), "--quiet"]
    capsys.readouterr()

    assert main(base) == 0
    lines = capsys.readouterr().out.splitlines()
    soon, late, old = (child(n)["nhs_number"] for n in range(3))
    due = {n: add_working_days(on, 45) for n, on in referred.items()}
    assert (
        lines[0] == "lcpp-0001 (lead-child-protection-practitioner, shire-county-council): 3 alerts"
    )
    assert lines[1].strip() == soon
    assert f"due {day_text(due[0])}" in lines[2] and "working days left" in lines[2]
    assert lines[3].strip() == late
    overdue = {n: -working_days_between(today, due[n]) for n in (1, 2)}
    assert overdue[1] in (4, 5) and overdue[2] > 20  # 4 and 34 on a weekend or holiday
    assert f"due {day_text(due[1])}" in lines[4]
    assert f"overdue by {overdue[1]} working days" in lines[4]
    assert lines[5].strip() == (
        "and 1 older breach (over 20 working days overdue): 1 assessment, "
        f"oldest due {day_text(due[2])}"
    )
    assert old not in "\n".join(lines)

    assert main([*base, "--all-breaches"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.strip() for line in lines[1::2]] == [soon, late, old]
    assert f"overdue by {overdue[2]} working days" in lines[6]
    assert "older breach" not in "\n".join(lines)

    assert main([*base, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [a["child"] for a in document["alerts"]] == [old, late, soon]  # by due date
    assert [g["child"] for g in document["groups"]] == [soon, late]
    assert document["older_breaches"] == {
        "count": 1,
        "by_clock": {"assessment": 1},
        "oldest_due": due[2].isoformat(),
        "horizon_working_days": 20,
    }

    monkeypatch.setenv("HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS", "40")
    assert main([*base, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [g["child"] for g in document["groups"]] == [soon, late, old]
    assert document["older_breaches"]["count"] == 0
    # Three listings, one disclosure per child: the first audit entries stand for the rest.
    assert len(audited(lead_hub, "lcpp-0001")) == 3
