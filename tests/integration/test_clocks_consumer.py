"""The statutory clocks consumer on the real store (SQLite and PostgreSQL): alerts before
breach to the allocated worker, breaches recorded once, restarts and rebuilds that repeat
nothing, and `hub alerts` disclosing only to the recipient, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from consumers.clock_alerts import ClocksConsumer, ClockSettings, list_alerts
from consumers.framework import ConsumerRunner
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.cli import main
from hub.disclosure_gate import UnknownPractitionerError
from hub.domain.canonical_event import ChildRef
from hub.domain.clocks import ClockKind
from hub.domain.records import DisclosureAudited
from hub.domain.uk_time import uk_date
from hub.domain.working_days import add_working_days, working_days_between
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import VALID_NHS_NUMBER, event_dict, nhs_number, register_agencies

LA = {"id": "shire-county-council", "type": "local-authority"}
CHILD = ChildRef(nhs_number=VALID_NHS_NUMBER)
# Referral on Monday 4 March 2024: assessment due Thursday 9 May (Easter and May Day skipped),
# alert from Wednesday 1 May (5 working days before), breached from Friday 10 May.
BEFORE_ALERT = datetime(2024, 4, 30, 12, tzinfo=UTC)
ALERT_DAY = datetime(2024, 5, 1, 12, tzinfo=UTC)
DUE_DAY = datetime(2024, 5, 9, 12, tzinfo=UTC)
BREACH_DAY = datetime(2024, 5, 10, 12, tzinfo=UTC)


class Publisher:
    """Publishes LA events through the real ingest, one inbox position after another."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.position = 0

    def __call__(self, event_id: str, kind: str, on: str, **fields: Any) -> None:
        details = fields.pop("details", {})
        if kind == "la.referral" and not details:
            details = {"referral_source": "school"}
        document = event_dict(
            event_id=event_id,
            agency=LA,
            kind=kind,
            occurred_at=f"{on}T09:00:00+00:00",
            recorded_at=f"{on}T10:00:00+00:00",
            details=details,
            **fields,
        )
        self.position += 1
        outcome = self.hub.ingest.ingest(
            [
                InboundMessage(
                    "inbox:shire-county-council/clocks",
                    self.position,
                    json.dumps(document).encode(),
                    "shire-county-council",
                )
            ]
        )
        assert outcome.accepted == 1, outcome


@pytest.fixture
def clock_hub(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    yield hub
    hub.close()


@pytest.fixture
def publish(clock_hub: Hub) -> Publisher:
    return Publisher(clock_hub)


def runner(hub: Hub, at: datetime) -> ConsumerRunner:
    return hub.consumer_runner("clocks", clock=lambda: at)


def documents(hub: Hub, prefix: str) -> dict[str, dict[str, Any]]:
    docs = runner(hub, ALERT_DAY).documents()
    return {name: doc for name in docs.names(prefix) if (doc := docs.get(name)) is not None}


def details(hub: Hub, at: datetime = BREACH_DAY) -> dict[str, Any]:
    return runner(hub, at).status().details


def referral_with_worker(publish: Publisher, worker: str = "sw-0002") -> None:
    publish("REF-1", "la.referral", "2024-03-04")
    publish(
        "ALLOC-1",
        "la.worker-allocated",
        "2024-03-05",
        details={"practitioner_id": worker, "role": "social-worker"},
    )


def test_alert_before_breach_then_breach_each_once_across_passes_and_restarts(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish)
    report = runner(clock_hub, BEFORE_ALERT).run_once()
    assert (report.processed, report.errors) == (2, 0)
    assert documents(clock_hub, "alert:") == {}
    assert details(clock_hub)["open_clocks"] == {"assessment": 1}

    for _ in range(2):  # a second pass, then a restarted process, on the alert day
        runner(clock_hub, ALERT_DAY).run_once()
    runner(clock_hub, DUE_DAY).run_once()  # still due, not breached: nothing new
    (alert,) = documents(clock_hub, "alert:").values()
    assert alert["recipient"] == "practitioner:sw-0002"
    assert alert["relationship"] == "allocated-worker via shire-county-council/ALLOC-1"
    assert (alert["clock"], alert["due"], alert["raised_on"]) == (
        "assessment",
        "2024-05-09",
        "2024-05-01",
    )
    assert alert["child_stream"] == clock_hub.gate.child_stream(CHILD)
    assert documents(clock_hub, "breach:") == {}

    for _ in range(2):
        runner(clock_hub, BREACH_DAY).run_once()
    (breach,) = documents(clock_hub, "breach:").values()
    assert (breach["clock"], breach["due"], breach["breached_on"], breach["stopped_on"]) == (
        "assessment",
        "2024-05-09",
        "2024-05-10",
        None,
    )
    status = runner(clock_hub, BREACH_DAY).status().as_dict()
    assert (status["lag"], status["errors"]) == (0, 0)
    assert status["alerts_raised"] == {"assessment": 1}
    assert status["breaches"] == {"assessment": 1}
    assert VALID_NHS_NUMBER not in json.dumps(status)

    # Completed late: the same breach record is closed, no second one is raised.
    publish(
        "ASS-1",
        "la.assessment-completed",
        "2024-05-14",
        details={"started_on": "2024-03-05", "completed_on": "2024-05-13"},
    )
    runner(clock_hub, datetime(2024, 5, 14, 12, tzinfo=UTC)).run_once()
    (breach,) = documents(clock_hub, "breach:").values()
    assert breach["stopped_on"] == "2024-05-13"
    assert details(clock_hub) == {
        "open_clocks": {},
        "alerts_raised": {"assessment": 1},
        "breaches": {"assessment": 1},
        "breaches_withdrawn": {},
    }


def test_a_pass_long_after_the_alert_day_raises_the_alert_and_the_breach_once(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish)
    runner(clock_hub, BREACH_DAY).run_once()  # the consumer was not running in between
    assert len(documents(clock_hub, "alert:")) == 1
    assert len(documents(clock_hub, "breach:")) == 1


def test_rebuild_keeps_alerts_and_breaches_and_raises_none_again(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish)
    runner(clock_hub, ALERT_DAY).run_once()
    runner(clock_hub, BREACH_DAY).run_once()
    before = (documents(clock_hub, "alert:"), documents(clock_hub, "breach:"))
    report = runner(clock_hub, BREACH_DAY).rebuild()
    assert report.processed == 2
    assert (documents(clock_hub, "alert:"), documents(clock_hub, "breach:")) == before
    assert details(clock_hub) == {
        "open_clocks": {"assessment": 1},  # derived: dropped and recounted
        "alerts_raised": {"assessment": 1},
        "breaches": {"assessment": 1},
        "breaches_withdrawn": {},
    }
    assert documents(clock_hub, "child:") != {}  # rebuilt


def test_clock_met_in_time_raises_no_breach(clock_hub: Hub, publish: Publisher) -> None:
    referral_with_worker(publish)
    runner(clock_hub, ALERT_DAY).run_once()
    publish(
        "ASS-1",
        "la.assessment-completed",
        "2024-05-08",
        details={"started_on": "2024-03-05", "completed_on": "2024-05-08"},
    )
    runner(clock_hub, datetime(2024, 7, 1, tzinfo=UTC)).run_once()
    assert documents(clock_hub, "breach:") == {}
    assert details(clock_hub)["open_clocks"] == {}


def test_a_retraction_withdraws_the_breach_without_deleting_it(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish)
    runner(clock_hub, BREACH_DAY).run_once()
    publish("RET-1", "record.retracted", "2024-05-13", supersedes={"event_id": "REF-1"})
    runner(clock_hub, datetime(2024, 5, 13, 12, tzinfo=UTC)).run_once()
    (breach,) = documents(clock_hub, "breach:").values()
    assert breach["withdrawn_on"] == "2024-05-13"
    assert details(clock_hub) == {
        "open_clocks": {},
        "alerts_raised": {"assessment": 1},
        "breaches": {},
        "breaches_withdrawn": {"assessment": 1},
    }


def test_a_corrected_referral_date_moves_the_alert(clock_hub: Hub, publish: Publisher) -> None:
    referral_with_worker(publish)
    publish("REF-1", "la.referral", "2024-03-11", revision=2)  # due 16 May, alert 9 May
    runner(clock_hub, ALERT_DAY).run_once()
    assert documents(clock_hub, "alert:") == {}
    runner(clock_hub, DUE_DAY).run_once()
    (alert,) = documents(clock_hub, "alert:").values()
    assert alert["due"] == "2024-05-16"


def test_a_reallocated_case_alerts_the_new_worker_and_only_they_see_it(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish, "sw-0002")
    runner(clock_hub, ALERT_DAY).run_once()
    publish(
        "ALLOC-2",
        "la.worker-allocated",
        "2024-05-02",
        details={"practitioner_id": "sw-0001", "role": "social-worker"},
    )
    at = datetime(2024, 5, 2, 12, tzinfo=UTC)
    runner(clock_hub, at).run_once()
    recipients = sorted(a["recipient"] for a in documents(clock_hub, "alert:").values())
    assert recipients == ["practitioner:sw-0001", "practitioner:sw-0002"]
    assert (
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "sw-0002", at).alerts == []
    )
    (alert,) = list_alerts(
        clock_hub.gate, clock_hub.consumer_runner("clocks"), "sw-0001", at
    ).alerts
    assert alert.relationship == "allocated-worker via shire-county-council/ALLOC-2"


def test_hub_alerts_shows_the_child_to_the_recipient_only_and_audits_it(
    clock_hub: Hub, publish: Publisher
) -> None:
    referral_with_worker(publish)
    runner(clock_hub, ALERT_DAY).run_once()
    at = datetime(2024, 5, 2, 12, tzinfo=UTC)
    listing = list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "sw-0002", at)
    (alert,) = listing.alerts
    assert (alert.child, alert.clock, alert.due.isoformat(), alert.status) == (
        VALID_NHS_NUMBER,
        "assessment",
        "2024-05-09",
        "open",
    )
    assert alert.working_days_left == 4  # 3, 7, 8 and 9 May (6 May is a bank holiday)
    stream = clock_hub.gate.child_stream(CHILD)
    (audited,) = [
        r for r in clock_hub.audit.for_practitioner("sw-0002") if isinstance(r, DisclosureAudited)
    ]
    assert listing.audit_refs == [f"{audited.originator_id.hex}@{audited.originator_version}"]
    # Released by the gate: that the referral exists, nothing of what it says.
    assert (
        audited.action,
        audited.purpose,
        audited.outcome,
        audited.child_stream,
        audited.disclosed,
        audited.redacted,
        audited.relationship,
    ) == (
        "notify",
        "child-protection-planning",
        "disclosed",
        stream,
        ["shire-county-council/REF-1@1"],
        {"shire-county-council/REF-1@1": ["summary", "details.referral_source"]},
        "allocated-worker via shire-county-council/ALLOC-1",
    )
    assert audited.timestamp == at

    # Somebody else, even in the same team, sees nothing, and nothing is audited for them.
    assert (
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "sw-0001", at).alerts == []
    )
    assert (
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "lcpp-0001", at).alerts
        == []
    )
    assert clock_hub.audit.for_practitioner("sw-0001") == []
    with pytest.raises(UnknownPractitionerError):
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "nobody-0001", at)
    with pytest.raises(PermissionError):
        list_alerts(
            clock_hub.gate,
            clock_hub.consumer_runner("clocks"),
            "sw-0099",
            datetime(2024, 7, 1, tzinfo=UTC),
        )  # has left


def test_an_unallocated_childs_alert_goes_to_the_macpt_lead(
    clock_hub: Hub, publish: Publisher
) -> None:
    publish("SD-1", "la.strategy-discussion", "2024-06-03")  # ICPC due 24 June, alert 19 June
    at = datetime(2024, 6, 19, 12, tzinfo=UTC)
    runner(clock_hub, at).run_once()
    (alert,) = documents(clock_hub, "alert:").values()
    assert (alert["recipient"], alert["clock"]) == (
        "team:macpt:shire-county-council",
        "initial-conference",
    )
    listing = list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "lcpp-0001", at)
    (shown,) = listing.alerts
    assert shown.relationship == "macpt-member via shire-county-council/SD-1"
    # No s47 or plan yet, so no relationship to the child: the alert itself was routed to
    # the team's lead, and that is the relationship the gate was given and audited.
    (audited,) = [
        r for r in clock_hub.audit.for_practitioner("lcpp-0001") if isinstance(r, DisclosureAudited)
    ]
    assert audited.relationship == "notice-routing via shire-county-council/SD-1"
    assert f"{audited.originator_id.hex}@{audited.originator_version}" in listing.audit_refs
    assert (
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "sw-0001", at).alerts == []
    )  # in the team, not its lead
    assert (
        list_alerts(clock_hub.gate, clock_hub.consumer_runner("clocks"), "po-0001", at).alerts == []
    )


def test_a_provisional_childs_clock_is_stopped_by_events_after_the_link(
    clock_hub: Hub, publish: Publisher
) -> None:
    provisional = IdentityService(clock_hub.store, clock_hub.pseudonyms).issue_provisional(
        "shire-county-council"
    )
    newborn = nhs_number(4242)
    publish("REF-P", "la.referral", "2024-03-04", child={"provisional_id": provisional})
    runner(clock_hub, datetime(2024, 3, 20, tzinfo=UTC)).run_once()
    publish(
        "LINK-1",
        "identity.linked",
        "2024-03-25",
        child={"provisional_id": provisional},
        details={"nhs_number": newborn},
    )
    publish(
        "ASS-1",
        "la.assessment-completed",
        "2024-05-20",
        child={"nhs_number": newborn},
        details={"started_on": "2024-03-05", "completed_on": "2024-05-08"},
    )
    runner(clock_hub, datetime(2024, 6, 1, tzinfo=UTC)).run_once()
    assert documents(clock_hub, "breach:") == {}
    assert documents(clock_hub, "alert:") == {}  # it was stopped before the pass on alert day
    assert details(clock_hub)["open_clocks"] == {}


def referred_then_linked(hub: Hub, publish: Publisher, nhs: str) -> tuple[str, str]:
    """A child referred under a provisional id on 4 March 2024, linked to `nhs` on 25 March."""
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(
        "shire-county-council"
    )
    publish("REF-P", "la.referral", "2024-03-04", child={"provisional_id": provisional})
    publish(
        "LINK-1",
        "identity.linked",
        "2024-03-25",
        child={"provisional_id": provisional},
        details={"nhs_number": nhs},
    )
    return provisional, nhs


def test_a_linked_provisional_childs_alert_names_the_nhs_number(
    clock_hub: Hub, publish: Publisher
) -> None:
    _, newborn = referred_then_linked(clock_hub, publish, nhs_number(4243))
    runner(clock_hub, ALERT_DAY).run_once()
    (shown,) = list_alerts(
        clock_hub.gate, clock_hub.consumer_runner("clocks"), "lcpp-0001", ALERT_DAY
    ).alerts
    assert shown.child == newborn
    assert shown.child_stream == clock_hub.gate.child_stream(ChildRef(nhs_number=newborn))
    assert details(clock_hub, ALERT_DAY)["open_clocks"] == {"assessment": 1}


def test_an_unlink_gives_the_clock_and_its_alert_back_to_the_provisional_child(
    clock_hub: Hub, publish: Publisher
) -> None:
    provisional, other_child = referred_then_linked(clock_hub, publish, nhs_number(4244))
    runner(clock_hub, ALERT_DAY).run_once()
    (shown,) = list_alerts(
        clock_hub.gate, clock_hub.consumer_runner("clocks"), "lcpp-0001", ALERT_DAY
    ).alerts
    assert shown.child == other_child
    publish(
        "UNLINK-1",
        "identity.unlinked",
        "2024-05-02",
        child={"provisional_id": provisional},
        details={"nhs_number": other_child, "reason": "two different children"},
    )
    at = datetime(2024, 5, 2, 12, tzinfo=UTC)
    runner(clock_hub, at).run_once()
    (shown,) = list_alerts(
        clock_hub.gate, clock_hub.consumer_runner("clocks"), "lcpp-0001", at
    ).alerts
    assert shown.child == provisional  # never again shown against the wrong child
    assert len(documents(clock_hub, "alert:")) == 1
    assert details(clock_hub, at)["open_clocks"] == {"assessment": 1}


def test_alert_lead_times_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_CLOCKS_ALERT_LEAD_ASSESSMENT", "10")
    rules = ClockSettings().rules()
    assert rules.lead(ClockKind.ASSESSMENT) == 10
    assert rules.lead(ClockKind.INCIDENT_NOTIFICATION) == 2
    monkeypatch.setenv("HUB_CLOCKS_ALERT_LEAD_INCIDENT_NOTIFICATION", "9")
    with pytest.raises(ValueError, match="alert_lead_incident_notification"):
        ClockSettings()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`main` points structlog at the (captured) stderr of this test; later tests must not
    write to it once it is closed."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("restore_logging")
def test_the_cli_lists_alerts_audited_and_counts_clocks(
    clock_hub: Hub,
    publish: Publisher,
    settings: HubSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The command runs at the real time: a referral 43 working days ago is due in 2 (or, on a
    # weekend or holiday, within 3) working days, so its alert is owed now.
    now = datetime.now(UTC)
    referred = add_working_days(uk_date(now), -43)
    publish("REF-1", "la.referral", referred.isoformat())
    publish(
        "ALLOC-1",
        "la.worker-allocated",
        referred.isoformat(),
        details={"practitioner_id": "sw-0002", "role": "social-worker"},
    )
    runner(clock_hub, now).run_once()
    monkeypatch.setenv("HUB_DIRECTORY", str(SAMPLE_DIRECTORY_PATH))
    monkeypatch.setenv("HUB_STORE", settings.store)
    monkeypatch.setenv("HUB_POSTGRES_DSN", settings.postgres_dsn)
    monkeypatch.setenv("HUB_POSTGRES_SCHEMA", settings.postgres_schema)
    base = ["--data-dir", str(settings.data_dir), "--quiet"]
    capsys.readouterr()

    assert main(["alerts", "--as", "sw-0002", "--format", "json", *base]) == 0
    listing = json.loads(capsys.readouterr().out)
    (alert,) = listing["alerts"]
    due = add_working_days(referred, 45)
    assert (alert["child"], alert["clock"], alert["due"], alert["status"]) == (
        VALID_NHS_NUMBER,
        "assessment",
        due.isoformat(),
        "open",
    )
    assert alert["working_days_left"] == working_days_between(uk_date(now), due)
    assert len(listing["audit_refs"]) == 1
    audited = [
        r for r in clock_hub.audit.for_practitioner("sw-0002") if isinstance(r, DisclosureAudited)
    ]
    assert [a.action for a in audited] == ["notify"]
    assert main(["alerts", "--as", "sw-0001", "--format", "json", *base]) == 0
    assert json.loads(capsys.readouterr().out)["alerts"] == []

    assert main(["alerts", "--as", "sw-0002", *base]) == 0
    text = capsys.readouterr().out
    assert VALID_NHS_NUMBER in text and "working days left" in text
    # Showing the same alerts again discloses nothing new: the first entry stands for it.
    assert len(clock_hub.audit.for_practitioner("sw-0002")) == 1

    assert main(["clocks", "--as", "lcpp-0001", "--format", "json", *base]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["open_clocks"] == {"assessment": 1}
    assert counts["alerts_raised"] == {"assessment": 1}
    assert VALID_NHS_NUMBER not in json.dumps(counts)
    assert main(["clocks", "--as", "sw-0002", *base]) == 4  # not for a social worker


def test_the_consumer_is_registered_under_its_name(clock_hub: Hub) -> None:
    assert isinstance(runner(clock_hub, ALERT_DAY).consumer, ClocksConsumer)
