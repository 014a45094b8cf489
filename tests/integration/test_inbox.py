"""The inbox consumer on the real store (SQLite and PostgreSQL): change, pattern and access
notifications go to the people related to the child, through the gate, once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.framework import ConsumerRunner
from consumers.inbox import InboxConsumer
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import DisclosureAudited
from hub.settings import HubSettings
from tests.factories import nhs_number, publish_event, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
HEALTH = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}
CHILD, UNALLOCATED, OLD = nhs_number(301), nhs_number(302), nhs_number(303)
WITHHELD_FROM_HEALTH = {
    "role": "health-practitioner",
    "reason": "would reveal a witness to the family",
    "decided_by": "DI Hale",
    "review_by": (NOW + timedelta(days=90)).date().isoformat(),
}

Publish = Callable[..., None]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hub(settings: HubSettings) -> Iterator[Hub]:
    settings.directory = SAMPLE_DIRECTORY_PATH
    instance = bootstrap(settings)
    register_agencies(instance)
    yield instance
    instance.close()


@pytest.fixture
def publish(hub: Hub) -> Publish:
    def publish(
        agency: dict[str, str],
        event_id: str,
        kind: str,
        days_ago: float,
        child: str = CHILD,
        **extra: Any,
    ) -> None:
        at = NOW - timedelta(days=days_ago)
        if kind == "police.domestic-abuse-incident":
            extra.setdefault("details", {"child_present": True, "police_reference": event_id})
        if kind == "health.was-not-brought":
            wnb = {"service": "paediatrics", "appointment_type": "outpatient"}
            extra.setdefault("details", wnb)
        publish_event(hub, agency, event_id, kind, at, child, **extra)

    return publish


def inbox_runner(hub: Hub, at: datetime = NOW) -> ConsumerRunner:
    return hub.consumer_runner("inbox", clock=Clock(at))


def items(hub: Hub, practitioner: str) -> list[dict[str, Any]]:
    runner = inbox_runner(hub)
    assert isinstance(runner.consumer, InboxConsumer)
    return runner.consumer.items_for(runner.documents(), practitioner)


def audit_rows(hub: Hub) -> list[DisclosureAudited]:
    return [r for r in hub.audit.all_disclosures()]


def allocated_case(publish: Publish) -> None:
    """sw-0002 allocated; an s47 enquiry (the MACPT); enrolled at Brambleford Primary."""
    publish(
        LA,
        "ALLOC-1",
        "la.worker-allocated",
        10,
        details={"practitioner_id": "sw-0002", "role": "social-worker"},
    )
    publish(LA, "S47-1", "la.s47-enquiry-started", 5, categories=["physical-abuse"])
    publish(
        SCHOOL,
        "ENR-1",
        "education.enrolled",
        400,
        details={
            "school_urn": "100001",
            "starts_on": (NOW - timedelta(days=400)).date().isoformat(),
        },
    )


def test_related_practitioners_hear_of_records_from_other_agencies(
    hub: Hub, publish: Publish
) -> None:
    allocated_case(publish)
    publish(POLICE, "DA-1", "police.domestic-abuse-incident", 1, categories=["domestic-abuse"])
    publish(
        POLICE,
        "DA-2",
        "police.domestic-abuse-incident",
        1,
        categories=["domestic-abuse"],
        withheld_from=[WITHHELD_FROM_HEALTH],
    )
    inbox_runner(hub).run_once()

    worker = items(hub, "sw-0002")
    told = {what["kind"] for item in worker if item["type"] == "change" for what in item["what"]}
    assert "police.domestic-abuse-incident" in told
    assert "la.worker-allocated" not in told  # their own authority's record
    police_refs = {r for i in worker for r in i.get("refs", []) if r.startswith("shire-constab")}
    assert police_refs == {"shire-constabulary/DA-1@1", "shire-constabulary/DA-2@1"}

    health = items(hub, "hp-0001")  # in the MACPT during the enquiry
    health_refs = {r for i in health if i["type"] == "change" for r in i["refs"]}
    assert "shire-constabulary/DA-1@1" in health_refs
    assert "shire-constabulary/DA-2@1" not in health_refs  # withheld from health: never told

    officer = items(hub, "po-0001")
    assert all(not r.startswith("shire-constabulary/") for i in officer for r in i["refs"])
    school = items(hub, "dsl-100001")
    school_kinds = {w["kind"] for i in school for w in i.get("what", [])}
    assert school_kinds == {"la.s47-enquiry-started"}  # the agreement: no police records
    assert items(hub, "po-0002") == []  # no relationship to the child

    # Told once: another pass writes no item and no audit entry.
    before = (len(audit_rows(hub)), len(worker))
    inbox_runner(hub).run_once()
    assert (len(audit_rows(hub)), len(items(hub, "sw-0002"))) == before


def test_each_item_is_an_audited_notify_disclosure_of_kind_not_content(
    hub: Hub, publish: Publish
) -> None:
    allocated_case(publish)
    publish(POLICE, "DA-1", "police.domestic-abuse-incident", 1, categories=["domestic-abuse"])
    inbox_runner(hub).run_once()
    notified = [r for r in audit_rows(hub) if r.action == "notify"]
    assert {r.practitioner_id for r in notified} >= {"sw-0002", "hp-0001", "lcpp-0001"}
    worker = next(r for r in notified if r.practitioner_id == "sw-0002")
    assert "shire-constabulary/DA-1@1" in worker.disclosed
    assert "summary" in worker.redacted["shire-constabulary/DA-1@1"]


def test_old_records_arriving_are_not_news(hub: Hub, publish: Publish) -> None:
    allocated_case(publish)
    publish(POLICE, "DA-OLD", "police.domestic-abuse-incident", 200, categories=["domestic-abuse"])
    inbox_runner(hub).run_once()
    refs = {r for i in items(hub, "sw-0002") for r in i["refs"]}
    assert "shire-constabulary/DA-OLD@1" not in refs


def test_a_pattern_flag_starting_to_hold_is_an_item(hub: Hub, publish: Publish) -> None:
    allocated_case(publish)
    inbox_runner(hub).run_once()
    for n, days in enumerate((60, 30, 2)):
        publish(HEALTH, f"WNB-{n}", "health.was-not-brought", days, categories=["neglect"])
    inbox_runner(hub).run_once()
    flags = [i for i in items(hub, "sw-0002") if i["type"] == "pattern"]
    assert [f["flag"]["code"] for f in flags] == ["repeated-was-not-brought"]
    assert "3" in flags[0]["flag"]["description"]
    # Still holding after another record: not told again.
    publish(HEALTH, "WNB-3", "health.was-not-brought", 1, categories=["neglect"])
    inbox_runner(hub).run_once()
    assert len([i for i in items(hub, "sw-0002") if i["type"] == "pattern"]) == 1


def test_the_allocated_worker_is_told_who_looked_from_another_organisation(
    hub: Hub, publish: Publish
) -> None:
    allocated_case(publish)
    inbox_runner(hub).run_once()
    child = ChildRef(nhs_number=CHILD)
    hub.gate.view(child, "hp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    hub.gate.view(child, "hp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    hub.gate.view(child, "sw-0001", Purpose.CHILD_PROTECTION_ENQUIRY)  # same authority
    hub.gate.view(child, "po-0002", Purpose.CHILD_PROTECTION_ENQUIRY, break_glass_reason="x y z")
    inbox_runner(hub).run_once()
    access = [i for i in items(hub, "sw-0002") if i["type"] == "access"]
    by_viewer = {i["access"]["viewer"]: i["access"] for i in access}
    assert set(by_viewer) == {"hp-0001", "po-0002"}
    assert by_viewer["hp-0001"]["organisation"] == "shire-icb"
    assert by_viewer["hp-0001"]["purposes"] == ["child-protection-enquiry"]
    assert by_viewer["hp-0001"]["times"] == 2  # one item per person, child and day
    assert by_viewer["po-0002"]["break_glass"] is True
    # The worker's own notification disclosures are not views: nobody is told of them.
    inbox_runner(hub).run_once()
    assert len([i for i in items(hub, "sw-0002") if i["type"] == "access"]) == 2


def test_without_an_allocated_worker_the_front_door_is_told(hub: Hub, publish: Publish) -> None:
    publish(
        LA,
        "REF-9",
        "la.referral",
        3,
        child=UNALLOCATED,
        categories=["neglect"],
        details={"referral_source": "school"},
    )
    inbox_runner(hub).run_once()
    hub.gate.view(
        ChildRef(nhs_number=UNALLOCATED),
        "po-0002",
        Purpose.CHILD_PROTECTION_ENQUIRY,
        break_glass_reason="urgent welfare check tonight",
    )
    inbox_runner(hub).run_once()
    (item,) = [i for i in items(hub, "mash-0001") if i["type"] == "access"]
    assert item["access"]["viewer"] == "po-0002"
    assert item["access"]["break_glass"] is True


def test_the_inbox_lists_what_was_released_and_listing_again_audits_nothing(
    hub: Hub, publish: Publish
) -> None:
    allocated_case(publish)
    publish(POLICE, "DA-1", "police.domestic-abuse-incident", 1, categories=["domestic-abuse"])
    inbox_runner(hub).run_once()
    hub.gate.view(ChildRef(nhs_number=CHILD), "hp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    inbox_runner(hub).run_once()
    before = len(audit_rows(hub))
    first = hub.inbox.inbox("sw-0002", NOW)
    second = hub.inbox.inbox("sw-0002", NOW)
    assert len(audit_rows(hub)) == before  # listing is not a disclosure
    assert [i.as_dict() for i in first.items] == [i.as_dict() for i in second.items]
    change = next(i for i in first.items if i.type == "change")
    assert change.shared and change.child == CHILD
    assert {"kind": "police.domestic-abuse-incident", "agency": "shire-constabulary"}.items() <= (
        change.what[0].items()
    )
    access = next(i for i in first.items if i.type == "access")
    assert access.access is not None and access.access["viewer_name"] == "Bethan Quayle"
    assert first.counts.items == 2
    assert hub.inbox.counts("sw-0002", NOW).items == 2

    # Done: out of the list and the count; the counts read no gate and write no audit entry.
    hub.inbox.mark("sw-0002", change.id[:12], "done", NOW)  # as printed: its first characters
    assert hub.inbox.counts("sw-0002", NOW).items == 1
    assert [i.id for i in hub.inbox.inbox("sw-0002", NOW).items] == [access.id]
    assert change.id in [i.id for i in hub.inbox.inbox("sw-0002", NOW, include_done=True).items]
    assert len(audit_rows(hub)) == before
    # Opening the record from the item is the normal audited view.
    hub.gate.view(ChildRef(nhs_number=CHILD), "sw-0002", Purpose.CHILD_PROTECTION_PLANNING)
    assert len(audit_rows(hub)) == before + 1


def test_a_record_withheld_after_it_was_notified_is_no_longer_named(
    hub: Hub, publish: Publish
) -> None:
    allocated_case(publish)
    publish(POLICE, "DA-1", "police.domestic-abuse-incident", 1, categories=["domestic-abuse"])
    inbox_runner(hub).run_once()

    def from_police() -> list[str]:
        return [
            i.id
            for i in hub.inbox.inbox("hp-0001", NOW).items
            if any(w["agency"] == "shire-constabulary" for w in i.what)
        ]

    assert len(from_police()) == 1
    publish(
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        1,
        categories=["domestic-abuse"],
        revision=2,
        withheld_from=[WITHHELD_FROM_HEALTH],
    )
    assert from_police() == []  # the police withheld it from health since: not named
