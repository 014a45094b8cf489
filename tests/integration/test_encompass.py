"""Operation Encompass notices on the real store (SQLite and PostgreSQL): routing, the
minimal notice, policy and write-ahead audit, exactly-once delivery, acknowledgement and
escalation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.encompass import EncompassConsumer
from consumers.framework import ConsumerRunner, ConsumerState
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.records import DisclosureAudited
from hub.domain.working_days import next_school_day_start
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_dict, nhs_number, register_agencies

INCIDENT_AT = datetime(2026, 11, 19, 21, 30, tzinfo=UTC)  # a Thursday evening
POLICE = {"id": "shire-constabulary", "type": "police"}
SCHOOL = {"id": "school-100001", "type": "education"}
LA = {"id": "shire-county-council", "type": "local-authority"}
ENROLLED, NOT_IN_SCHOOL, WITHHELD, HOME_EDUCATED = (nhs_number(i) for i in (11, 12, 13, 14))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _event(
    agency: dict[str, str], event_id: str, child: str, kind: str, at: datetime, **extra: Any
) -> bytes:
    return json.dumps(
        event_dict(
            event_id=event_id,
            agency=agency,
            child={"nhs_number": child},
            kind=kind,
            categories=extra.pop("categories", ["domestic-abuse"]),
            occurred_at=at.isoformat(),
            recorded_at=(at + timedelta(minutes=30)).isoformat(),
            summary=extra.pop("summary", "Officers attended; mother injured; father arrested"),
            details=extra.pop("details", {}),
            **extra,
        )
    ).encode()


def incident(event_id: str, child: str, at: datetime = INCIDENT_AT, **details: Any) -> bytes:
    fields = {"child_present": True, "police_reference": f"OE-{event_id}", **details}
    return _event(POLICE, event_id, child, "police.domestic-abuse-incident", at, details=fields)


def publish(hub: Hub, agency: str, messages: list[bytes]) -> None:
    start = (hub.store.position(f"inbox:{agency}/t") or 0) + 1
    hub.ingest.ingest(
        [InboundMessage(f"inbox:{agency}/t", start + i, m, agency) for i, m in enumerate(messages)]
    )


@contextmanager
def enrolled_hub(settings: HubSettings) -> Iterator[Hub]:
    settings.directory = SAMPLE_DIRECTORY_PATH
    hub = bootstrap(settings)
    register_agencies(hub)
    enrolled_on = (INCIDENT_AT - timedelta(days=400)).date().isoformat()
    publish(
        hub,
        "school-100001",
        [
            _event(
                SCHOOL,
                f"ENR-{child}",
                child,
                "education.enrolled",
                INCIDENT_AT - timedelta(days=400),
                categories=[],
                details={"school_urn": "100001", "starts_on": enrolled_on},
            )
            for child in (ENROLLED, WITHHELD, HOME_EDUCATED)
        ]
        + [
            _event(
                SCHOOL,
                "EHE-1",
                HOME_EDUCATED,
                "education.elective-home-education-notice",
                INCIDENT_AT - timedelta(days=60),
                categories=[],
                details={"la_consent_required": False},
            )
        ],
    )
    yield hub
    hub.close()


@pytest.fixture
def encompass_hub(settings: HubSettings) -> Iterator[Hub]:
    with enrolled_hub(settings) as hub:
        yield hub


def runner(hub: Hub, clock: Clock) -> ConsumerRunner:
    return hub.consumer_runner("encompass", clock=clock)


def notice_audits(hub: Hub, child: str) -> list[DisclosureAudited]:
    from hub.domain.canonical_event import ChildRef

    stream = hub.pseudonyms.child_stream(ChildRef(nhs_number=child)).hex
    return [
        r
        for r in hub.audit.for_child(stream)
        if isinstance(r, DisclosureAudited) and r.action == "receive-notice"
    ]


def inbox(r: ConsumerRunner, practitioner: str) -> list[dict[str, Any]]:
    consumer = r.consumer
    assert isinstance(consumer, EncompassConsumer)
    return consumer.inbox(r.documents(), practitioner)


def test_a_notice_reaches_the_school_dsl_minimal_and_audited_before_the_school_day(
    encompass_hub: Hub,
) -> None:
    publish(
        encompass_hub,
        "shire-constabulary",
        [incident("DA-1", ENROLLED, child_voice="I hid upstairs")],
    )
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    r.run_once()

    [notice] = inbox(r, "dsl-100001")
    assert {
        k: notice[k]
        for k in ("child", "incident_at", "child_present", "police_reference", "child_voice")
    } == {
        "child": ENROLLED,
        "incident_at": INCIDENT_AT.isoformat(),
        "child_present": True,
        "police_reference": "OE-DA-1",
        "child_voice": "I hid upstairs",
    }
    assert "summary" not in notice and "father arrested" not in json.dumps(notice)
    assert notice["late"] is False and notice["due_by"] == "2026-11-20T08:30:00+00:00"
    assert inbox(r, "mash-0001") == [] and inbox(r, "dsl-100002") == []
    [audited] = notice_audits(encompass_hub, ENROLLED)
    assert (audited.practitioner_id, audited.outcome, audited.purpose) == (
        "dsl-100001",
        "disclosed",
        "operation-encompass",
    )
    assert audited.disclosed == ["shire-constabulary/DA-1@1"]
    assert "summary" in audited.redacted["shire-constabulary/DA-1@1"]
    assert audited.agreement_version.endswith("@2026.1")
    status = r.status().as_dict()
    assert status["notices_delivered"] == 1 and status["lag"] == 0 and status["errors"] == 0


def test_children_not_in_school_go_to_the_front_door(encompass_hub: Hub) -> None:
    publish(
        encompass_hub,
        "shire-constabulary",
        [incident("DA-2", NOT_IN_SCHOOL), incident("DA-3", HOME_EDUCATED)],
    )
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    assert sorted(n["child"] for n in inbox(r, "mash-0001")) == sorted(
        [NOT_IN_SCHOOL, HOME_EDUCATED]
    )
    assert inbox(r, "dsl-100001") == []


def test_an_incident_withheld_from_schools_goes_to_the_front_door_and_the_refusal_is_audited(
    encompass_hub: Hub,
) -> None:
    withheld = [
        {
            "agency_type": "education",
            "reason": "a parent works at the school",
            "decided_by": "DS Kerr",
            "review_by": "2027-01-01",
        }
    ]
    incident_withheld = _event(
        POLICE,
        "DA-4",
        WITHHELD,
        "police.domestic-abuse-incident",
        INCIDENT_AT,
        details={"child_present": False, "police_reference": "OE-DA-4"},
        withheld_from=withheld,
    )
    publish(encompass_hub, "shire-constabulary", [incident_withheld])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    assert inbox(r, "dsl-100001") == []
    assert [n["child"] for n in inbox(r, "mash-0001")] == [WITHHELD]
    outcomes = [(a.practitioner_id, a.outcome) for a in notice_audits(encompass_hub, WITHHELD)]
    assert outcomes == [("dsl-100001", "denied"), ("mash-0001", "disclosed")]


def test_no_notice_when_the_child_does_not_live_there_or_for_a_backfilled_old_incident(
    encompass_hub: Hub,
) -> None:
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            incident("DA-5", ENROLLED, child_lives_at_address=False),
            incident("DA-6", ENROLLED, at=INCIDENT_AT - timedelta(days=90)),
        ],
    )
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    assert inbox(r, "dsl-100001") == [] and notice_audits(encompass_hub, ENROLLED) == []
    assert r.status().as_dict()["historic_not_notified"] == 1


def test_unacknowledged_notices_escalate_to_the_front_door_and_acknowledged_ones_do_not(
    encompass_hub: Hub,
) -> None:
    publish(
        encompass_hub,
        "shire-constabulary",
        [incident("DA-7", ENROLLED), incident("DA-8", WITHHELD)],
    )
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    r.run_once()
    by_child = {n["child"]: n for n in inbox(r, "dsl-100001")}
    consumer = r.consumer
    assert isinstance(consumer, EncompassConsumer)
    documents = r.documents()
    with pytest.raises(PermissionError):
        consumer.acknowledge(documents, by_child[WITHHELD]["id"], "dsl-100002", clock.now)
    consumer.acknowledge(documents, by_child[WITHHELD]["id"], "dsl-100001", clock.now)
    r.state.commit(documents.changed, None)

    deadline = next_school_day_start(INCIDENT_AT)
    clock.now = deadline + timedelta(minutes=119)
    r.run_once()
    assert inbox(r, "mash-0001") == []
    clock.now = deadline + timedelta(minutes=121)
    r.run_once()
    r.run_once()
    [escalated] = inbox(r, "mash-0001")
    assert (
        escalated["child"] == ENROLLED and escalated["escalated_from"] == by_child[ENROLLED]["id"]
    )
    status = r.status().as_dict()
    assert (status["escalated_to_front_door"], status["acknowledged"]) == (1, 1)
    assert [a.practitioner_id for a in notice_audits(encompass_hub, ENROLLED)] == [
        "dsl-100001",
        "mash-0001",
    ]


def test_a_crash_after_the_audit_entry_does_not_audit_or_deliver_twice(
    encompass_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(encompass_hub, "shire-constabulary", [incident("DA-9", ENROLLED)])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    original = ConsumerState.commit

    def crash_on_delivery(
        self: ConsumerState, changed: Any, position: int | None, expected: int | None = None
    ) -> None:
        if any(name.startswith("delivered:") for name in changed):
            raise RuntimeError("killed between the audit entry and the delivery mark")
        original(self, changed, position, expected)

    monkeypatch.setattr(ConsumerState, "commit", crash_on_delivery)
    with pytest.raises(RuntimeError):
        r.run_once()
    assert len(notice_audits(encompass_hub, ENROLLED)) == 1 and inbox(r, "dsl-100001") == []
    monkeypatch.setattr(ConsumerState, "commit", original)
    r.run_once()
    r.run_once()
    assert len(inbox(r, "dsl-100001")) == 1
    assert len(notice_audits(encompass_hub, ENROLLED)) == 1


def test_a_rebuild_keeps_notices_in_flight_and_sends_nothing_again(
    encompass_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(
        encompass_hub,
        "shire-constabulary",
        [incident("DA-10", ENROLLED), incident("DA-13", WITHHELD)],
    )
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    consumer = r.consumer
    assert isinstance(consumer, EncompassConsumer)
    deliver = consumer.act
    with monkeypatch.context() as patched:  # issued, not yet delivered, when the rebuild comes
        patched.setattr(consumer, "act", lambda *args: None)
        r.run_once()
        r.rebuild()
    assert consumer.act == deliver
    r.run_once()
    delivered = inbox(r, "dsl-100001")
    assert len(delivered) == 2
    r.rebuild()
    assert inbox(r, "dsl-100001") == delivered
    assert len(notice_audits(encompass_hub, ENROLLED)) == 1
    status = r.status().as_dict()
    assert (status["notices_pending"], status["awaiting_acknowledgement"]) == (0, 2)
    clock.now = next_school_day_start(INCIDENT_AT) + timedelta(hours=3)
    r.run_once()
    r.run_once()
    assert len(inbox(r, "mash-0001")) == 2  # still escalated after the rebuild


def test_a_corrected_incident_issues_a_corrected_notice(encompass_hub: Hub) -> None:
    publish(encompass_hub, "shire-constabulary", [incident("DA-11", ENROLLED)])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            _event(
                POLICE,
                "DA-11",
                ENROLLED,
                "police.domestic-abuse-incident",
                INCIDENT_AT,
                revision=2,
                details={"child_present": False, "police_reference": "OE-DA-11"},
            )
        ],
    )
    r.run_once()
    notices = inbox(r, "dsl-100001")
    [corrected] = [n for n in notices if n["corrects"]]
    [first] = [n for n in notices if not n["corrects"]]
    assert corrected["corrects"] == first["id"] and corrected["child_present"] is False


def test_the_consumer_state_holds_no_child_data_in_clear(sqlite_settings: HubSettings) -> None:
    # The SQLite file is read byte for byte; PostgreSQL rows are sealed by the same code.
    with enrolled_hub(sqlite_settings) as hub:
        publish(
            hub, "shire-constabulary", [incident("DA-12", ENROLLED, child_voice="Daddy shouted")]
        )
        runner(hub, Clock(INCIDENT_AT + timedelta(hours=1))).run_once()
        raw = b"".join(p.read_bytes() for p in (hub.settings.data_dir / "consumers").iterdir())
    assert b"notice:" in raw  # the notices are there, sealed
    for secret in (ENROLLED, "OE-DA-12", "Daddy shouted", "dsl-100001"):
        assert secret.encode() not in raw


# The child's identifying details, as the local authority and health hold them: canaries for
# what a notice recipient must never be sent.
ETHNICITY, DISABILITY, ADDRESS_LINE = "M", "CANARY-Hearing impairment", "CANARY-7 Example Lane"
ICB = {"id": "shire-icb", "type": "health"}
POLICE_CONTACT = "Shire Constabulary MASH desk, 01632 960001"


def child_details(agency: dict[str, str], event_id: str, child: str, days_before: int) -> bytes:
    return _event(
        agency,
        event_id,
        child,
        f"{agency['type'].replace('local-authority', 'la')}.child-details",
        INCIDENT_AT - timedelta(days=days_before),
        categories=[],
        summary="Child's details",
        details={
            "given_names": ["Madison", "Rose"],
            "family_name": "Wright",
            "known_as": "Maddie",
            "date_of_birth": "2019-03-04",
            "sex": "female",
            "ethnic_category": ETHNICITY,
            "disability": {"status": "yes", "description": DISABILITY},
            "address": {"lines": [ADDRESS_LINE, "Shiretown"], "postcode": "ST1 4AB"},
            **({"legal_status": "s20"} if agency is LA else {}),
        },
    )


def with_details(hub: Hub, *children: str) -> None:
    """Each child's details from health (older) and the local authority (newer), another
    agency's record the notice has nothing to do with, and the police's contact."""
    from hub.onboarding import new_agency

    hub.agencies.register(
        new_agency("shire-constabulary", "police", "canonical", INCIDENT_AT, contact=POLICE_CONTACT)
    )
    for child in children:
        publish(hub, "shire-icb", [child_details(ICB, f"Patient/{child}", child, 20)])
        publish(
            hub,
            "shire-county-council",
            [
                child_details(LA, f"CD-{child}", child, 10),
                _event(
                    LA,
                    f"SD-{child}",
                    child,
                    "la.strategy-discussion",
                    INCIDENT_AT - timedelta(days=5),
                    summary="CANARY-strategy discussion about neglect",
                ),
            ],
        )


def test_a_notice_opens_with_who_the_child_is_and_nothing_else_of_their_record(
    encompass_hub: Hub,
) -> None:
    with_details(encompass_hub, ENROLLED)
    publish(encompass_hub, "shire-constabulary", [incident("DA-20", ENROLLED)])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()

    [notice] = inbox(r, "dsl-100001")
    header = notice["header"]
    assert (header["name"], header["known_as"], header["date_of_birth"], header["sex"]) == (
        "Madison Rose Wright",
        "Maddie",
        "4 March 2019",
        "Female",
    )
    assert header["identifier"] == ENROLLED and header["age"].endswith("years")
    assert header["details_from"].startswith("shire-county-council's record, as of ")
    police = next(a for a in header["agencies"] if a["agency"] == "shire-constabulary")
    assert police["contact"] == POLICE_CONTACT
    assert {a["agency"] for a in header["agencies"]} == {
        "shire-constabulary",
        "shire-county-council",
    }
    # Only what the header's items come from is released: no plan or allocation to say
    # anything of, and the legal status redacted (a marker, never the value).
    assert header["legal_status"] == "[redacted]" and header["statuses"] == []
    assert header["worker"] is None
    text = json.dumps(notice)
    for secret in (ETHNICITY + '"', DISABILITY, ADDRESS_LINE, "s20", "CANARY-strategy", "neglect"):
        assert secret not in text
    # One disclosure, audited once: the incident and the latest details record only, with
    # everything but who the child is redacted from it.
    [audited] = notice_audits(encompass_hub, ENROLLED)
    assert sorted(audited.disclosed) == [
        "shire-constabulary/DA-20@1",
        f"shire-county-council/CD-{ENROLLED}@1",
    ]
    redacted = set(audited.redacted[f"shire-county-council/CD-{ENROLLED}@1"])
    assert {
        "summary",
        "details.ethnic_category",
        "details.disability",
        "details.address",
        "details.legal_status",
    } <= redacted
    assert not redacted & {"details.family_name", "details.given_names", "details.date_of_birth"}
    assert audited.conditions  # the Article 9 / 10 conditions the rule names are recorded
    # Reading the inbox again (as the API and `hub notices list` do) discloses nothing new.
    assert inbox(r, "dsl-100001") == [notice]
    assert len(notice_audits(encompass_hub, ENROLLED)) == 1


def test_a_recipient_the_incident_is_withheld_from_or_withdrawn_from_learns_nothing_of_the_child(
    encompass_hub: Hub,
) -> None:
    with_details(encompass_hub, ENROLLED, WITHHELD)
    withheld = [
        {
            "agency_type": "education",
            "reason": "a parent works at the school",
            "decided_by": "DS Kerr",
            "review_by": "2027-01-01",
        }
    ]
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            incident("DA-21", ENROLLED),
            _event(
                POLICE,
                "DA-22",
                WITHHELD,
                "police.domestic-abuse-incident",
                INCIDENT_AT,
                details={"child_present": False, "police_reference": "OE-DA-22"},
                withheld_from=withheld,
            ),
        ],
    )
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    r.run_once()
    # Withheld from the school: the DSL's refusal discloses nothing, not even the child's
    # details; the front door is told which child it is.
    [refused, front_door] = notice_audits(encompass_hub, WITHHELD)
    assert (refused.practitioner_id, refused.outcome, refused.disclosed) == (
        "dsl-100001",
        "denied",
        [],
    )
    [mash] = inbox(r, "mash-0001")
    assert mash["header"]["name"] == "Madison Rose Wright"
    assert front_door.practitioner_id == "mash-0001"
    # Withdrawn after delivery: the police withhold the incident from education.
    [delivered] = notice_audits(encompass_hub, ENROLLED)
    assert f"shire-county-council/CD-{ENROLLED}@1" in delivered.disclosed
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            _event(
                POLICE,
                "DA-21",
                ENROLLED,
                "police.domestic-abuse-incident",
                INCIDENT_AT,
                revision=2,
                details={"child_present": True, "police_reference": "OE-DA-21"},
                withheld_from=withheld,
            )
        ],
    )
    r.run_once()
    [withdrawn] = [n for n in inbox(r, "dsl-100001") if n["child"] is None]
    assert withdrawn["shared"] is False and withdrawn["header"] is None
    assert "Madison" not in json.dumps(inbox(r, "dsl-100001"))
    later = [a for a in notice_audits(encompass_hub, ENROLLED) if a is not delivered]
    assert all(not a.disclosed for a in later if a.practitioner_id == "dsl-100001")


def test_a_retracted_incident_says_so_and_nothing_of_the_child(encompass_hub: Hub) -> None:
    with_details(encompass_hub, ENROLLED)
    publish(encompass_hub, "shire-constabulary", [incident("DA-23", ENROLLED)])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    [delivered] = inbox(r, "dsl-100001")
    assert delivered["header"]["name"] == "Madison Rose Wright"
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            _event(
                POLICE,
                "RET-23",
                ENROLLED,
                "record.retracted",
                INCIDENT_AT + timedelta(hours=2),
                categories=[],
                supersedes={"event_id": "DA-23"},
            )
        ],
    )
    r.run_once()
    [retracted] = inbox(r, "dsl-100001")
    assert retracted["note"] == "the police retracted this incident"
    assert retracted["header"] is None and "Madison" not in json.dumps(retracted)
    details = f"shire-county-council/CD-{ENROLLED}@1"
    [first, *later] = notice_audits(encompass_hub, ENROLLED)
    assert details in first.disclosed
    assert all(details not in a.disclosed for a in later)


# Routing at delivery, re-routing, and the action taken on acknowledgement.


def enrolment(child: str, event_id: str = "ENR-LATE") -> bytes:
    """The school's enrolment of the child, begun long before the incident."""
    started = INCIDENT_AT - timedelta(days=30)
    return _event(
        SCHOOL,
        f"{event_id}-{child}",
        child,
        "education.enrolled",
        started,
        categories=[],
        details={"school_urn": "100001", "starts_on": started.date().isoformat()},
    )


def front_door_notice(hub: Hub, event_id: str) -> tuple[ConsumerRunner, Clock, dict[str, Any]]:
    """An incident for the child not (yet) known to be at school: delivered to the front door."""
    publish(hub, "shire-constabulary", [incident(event_id, NOT_IN_SCHOOL)])
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(hub, clock)
    r.run_once()
    [notice] = inbox(r, "mash-0001")
    assert inbox(r, "dsl-100001") == [] and notice["rerouted"] is None
    return r, clock, notice


def test_a_notice_is_routed_when_delivered_by_an_enrolment_published_after_the_incident(
    encompass_hub: Hub,
) -> None:
    # In the log the police's incident comes first, the school's enrolment (begun long before)
    # after it; both are folded in one catch-up before the notice is delivered.
    publish(encompass_hub, "shire-constabulary", [incident("DA-30", NOT_IN_SCHOOL)])
    publish(encompass_hub, "school-100001", [enrolment(NOT_IN_SCHOOL)])
    r = runner(encompass_hub, Clock(INCIDENT_AT + timedelta(hours=1)))
    r.run_once()
    [notice] = inbox(r, "dsl-100001")
    assert notice["child"] == NOT_IN_SCHOOL and notice["rerouted_from"] is None
    assert inbox(r, "mash-0001") == []
    assert [a.practitioner_id for a in notice_audits(encompass_hub, NOT_IN_SCHOOL)] == [
        "dsl-100001"
    ]


def test_an_enrolment_before_the_school_day_reroutes_a_front_door_notice_to_the_school(
    encompass_hub: Hub,
) -> None:
    r, clock, front_door = front_door_notice(encompass_hub, "DA-31")
    publish(encompass_hub, "school-100001", [enrolment(NOT_IN_SCHOOL)])
    clock.now = INCIDENT_AT + timedelta(hours=3)  # 00:30 on Friday, before the school day
    r.run_once()

    [school] = inbox(r, "dsl-100001")
    assert school["child"] == NOT_IN_SCHOOL and school["rerouted_from"] == front_door["id"]
    assert school["police_reference"] == "OE-DA-31" and school["due_by"] == front_door["due_by"]
    # The front door's delivery is kept, marked, and no longer waits for its acknowledgement.
    [kept] = inbox(r, "mash-0001")
    assert kept["id"] == front_door["id"]
    assert kept["rerouted"] == "re-routed to school-100001 at 20 Nov 2026, 00:30 GMT"
    # Two disclosures, each audited by the gate: the front door's, then the school's.
    assert [
        (a.practitioner_id, a.outcome) for a in notice_audits(encompass_hub, NOT_IN_SCHOOL)
    ] == [
        ("mash-0001", "disclosed"),
        ("dsl-100001", "disclosed"),
    ]
    status = r.status().as_dict()
    assert (status["rerouted_to_school"], status["awaiting_acknowledgement"]) == (1, 1)
    # The school's notice has the usual timer: unacknowledged, it escalates to the front door;
    # the front door's own (cancelled) timer reports nothing.
    clock.now = next_school_day_start(INCIDENT_AT) + timedelta(minutes=121)
    r.run_once()
    r.run_once()
    escalated = [n for n in inbox(r, "mash-0001") if n["escalated_from"]]
    assert [n["escalated_from"] for n in escalated] == [school["id"]]
    status = r.status().as_dict()
    assert (status["escalated_to_front_door"], status["unacknowledged_at_front_door"]) == (1, 0)


def test_an_enrolment_after_the_school_day_began_does_not_reroute(encompass_hub: Hub) -> None:
    r, clock, front_door = front_door_notice(encompass_hub, "DA-32")
    publish(encompass_hub, "school-100001", [enrolment(NOT_IN_SCHOOL)])
    clock.now = next_school_day_start(INCIDENT_AT) + timedelta(minutes=1)
    r.run_once()
    assert inbox(r, "dsl-100001") == []
    [kept] = inbox(r, "mash-0001")
    assert kept["id"] == front_door["id"] and kept["rerouted"] is None
    assert [a.practitioner_id for a in notice_audits(encompass_hub, NOT_IN_SCHOOL)] == ["mash-0001"]
    assert r.status().as_dict()["rerouted_to_school"] == 0


def test_a_notice_withheld_from_the_school_is_not_rerouted_by_an_enrolment(
    encompass_hub: Hub,
) -> None:
    # WITHHELD is enrolled: the front door has it because the police withheld it from schools.
    withheld = [
        {
            "agency_type": "education",
            "reason": "a parent works at the school",
            "decided_by": "DS Kerr",
            "review_by": "2027-01-01",
        }
    ]
    publish(
        encompass_hub,
        "shire-constabulary",
        [
            _event(
                POLICE,
                "DA-33",
                WITHHELD,
                "police.domestic-abuse-incident",
                INCIDENT_AT,
                details={"child_present": False, "police_reference": "OE-DA-33"},
                withheld_from=withheld,
            )
        ],
    )
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    r.run_once()
    publish(encompass_hub, "school-100001", [enrolment(WITHHELD)])
    clock.now = INCIDENT_AT + timedelta(hours=2)
    r.run_once()
    assert inbox(r, "dsl-100001") == [] and inbox(r, "mash-0001")[0]["rerouted"] is None
    assert [(a.practitioner_id, a.outcome) for a in notice_audits(encompass_hub, WITHHELD)] == [
        ("dsl-100001", "denied"),
        ("mash-0001", "disclosed"),
    ]


def test_a_reroute_is_delivered_once_across_a_crash_and_a_rebuild(
    encompass_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    r, clock, _ = front_door_notice(encompass_hub, "DA-34")
    publish(encompass_hub, "school-100001", [enrolment(NOT_IN_SCHOOL)])
    clock.now = INCIDENT_AT + timedelta(hours=3)
    original = ConsumerState.commit

    def crash_on_delivery(
        self: ConsumerState, changed: Any, position: int | None, expected: int | None = None
    ) -> None:
        if any(name.startswith("delivered:") for name in changed):
            raise RuntimeError("killed between the audit entry and the delivery mark")
        original(self, changed, position, expected)

    monkeypatch.setattr(ConsumerState, "commit", crash_on_delivery)
    with pytest.raises(RuntimeError):
        r.run_once()
    assert inbox(r, "dsl-100001") == [] and inbox(r, "mash-0001")[0]["rerouted"] is None
    monkeypatch.setattr(ConsumerState, "commit", original)
    r.run_once()
    [school] = inbox(r, "dsl-100001")
    r.rebuild()  # the enrolment is folded again, still before the deadline
    r.run_once()
    assert inbox(r, "dsl-100001") == [school]
    assert [a.practitioner_id for a in notice_audits(encompass_hub, NOT_IN_SCHOOL)] == [
        "mash-0001",
        "dsl-100001",
    ]
    status = r.status().as_dict()
    assert (status["notices_delivered"], status["rerouted_to_school"]) == (2, 1)


def test_an_acknowledgement_records_the_action_taken_sealed_with_the_child(
    encompass_hub: Hub,
) -> None:
    publish(encompass_hub, "shire-constabulary", [incident("DA-35", ENROLLED)])
    clock = Clock(INCIDENT_AT + timedelta(hours=1))
    r = runner(encompass_hub, clock)
    r.run_once()
    [notice] = inbox(r, "dsl-100001")
    assert notice["action_taken"] is None
    consumer = r.consumer
    assert isinstance(consumer, EncompassConsumer)
    documents = r.documents()
    too_long = "Spoke to the child " + "x" * 2000
    with pytest.raises(ValueError, match="action_taken") as refused:
        consumer.acknowledge(documents, notice["id"], "dsl-100001", clock.now, too_long)
    assert "Spoke to" not in str(refused.value)
    ack = consumer.acknowledge(
        documents,
        notice["id"],
        "dsl-100001",
        clock.now,
        action_taken="  Spoke to the child at breakfast club; mother offered support.  ",
    )
    r.state.commit(documents.changed, None)
    taken = "Spoke to the child at breakfast club; mother offered support."
    assert ack == {"by": "dsl-100001", "at": clock.now.isoformat(), "action_taken": taken}
    [acknowledged] = inbox(r, "dsl-100001")
    assert (acknowledged["acknowledged_by"], acknowledged["action_taken"]) == ("dsl-100001", taken)
    # The free text is sealed with the child's key (erasing the child erases it), and kept by
    # a rebuild like the acknowledgement itself.
    from hub.domain.canonical_event import ChildRef

    stream = encompass_hub.pseudonyms.child_stream(ChildRef(nhs_number=ENROLLED)).hex
    assert list(r.state.names("action-taken:")) == [f"action-taken:child:{stream}:{notice['id']}"]
    r.rebuild()
    assert inbox(r, "dsl-100001")[0]["action_taken"] == taken
    # Acknowledging again changes nothing.
    again = consumer.acknowledge(r.documents(), notice["id"], "dsl-100001", clock.now, "other")
    assert again["action_taken"] == taken


def test_hub_notices_ack_records_the_action_and_list_prints_it(
    sqlite_settings: HubSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hub.cli import main

    monkeypatch.setenv("HUB_DIRECTORY", str(SAMPLE_DIRECTORY_PATH))
    with enrolled_hub(sqlite_settings) as hub:
        publish(hub, "shire-constabulary", [incident("DA-36", ENROLLED)])
        r = runner(hub, Clock(INCIDENT_AT + timedelta(hours=1)))
        r.run_once()
        [notice] = inbox(r, "dsl-100001")
    at = ["--data-dir", str(sqlite_settings.data_dir)]
    capsys.readouterr()
    action = "Class teacher told; check-in with the child at morning registration"
    acked = main(["notices", "ack", notice["id"], "--as", "dsl-100001", "--action", action, *at])
    assert acked == 0
    assert f"action taken: {action}" in capsys.readouterr().out
    assert main(["notices", "list", "--as", "dsl-100001", *at]) == 0
    listed = capsys.readouterr().out
    assert "acknowledged by dsl-100001" in listed and f"action taken: {action}" in listed
    too_long = main(
        ["notices", "ack", notice["id"], "--as", "dsl-100001", "--action", "y" * 2001, *at]
    )
    errors = capsys.readouterr().err
    assert too_long != 0 and "action_taken" in errors and "yyy" not in errors
