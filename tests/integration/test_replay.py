"""Replay on the sibling case (real store, SQLite and PostgreSQL): each event is shared an hour
after its agency recorded it, except where a test says otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.adapters.agencies.registry import get_adapter
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.demo.population import generate_partnership
from hub.domain.access import Purpose
from hub.domain.canonical_event import CanonicalEvent, ChildRef
from hub.domain.latency import duration_text
from hub.domain.records import DisclosureAudited
from hub.domain.uk_time import uk_date
from hub.identities import IdentityService
from hub.ingest import InboundMessage
from hub.reports.rendering import day_text
from hub.reports.replay_words import (
    agency_sentence,
    lateness_text,
    recorded_and_held,
    sharing_text,
)
from hub.settings import HubSettings
from tests.factories import ingest_service, register_agencies

JOINED = datetime(2020, 1, 1, tzinfo=UTC)  # when the agencies joined the hub


def ingest_at(hub: Hub, event: CanonicalEvent, received_at: datetime, position: int) -> None:
    """Ingest one event as if the hub received it at `received_at`."""
    service = ingest_service(hub, lambda: received_at)
    source = f"inbox:{event.agency.id}/replay"
    service.ingest(
        [
            InboundMessage(
                source, position, event.model_dump_json(exclude_none=True).encode(), event.agency.id
            )
        ]
    )


@pytest.fixture
def sibling_case(
    settings: HubSettings, tmp_path: Path
) -> Iterator[tuple[Hub, ChildRef, list[CanonicalEvent]]]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub, at=JOINED)  # live before the case began: nothing is backfilled
    provisional = IdentityService(hub.store, hub.pseudonyms).issue_provisional(
        "shire-county-council"
    )
    manifest = generate_partnership(
        tmp_path / "exports", seed=7, children=12, provisional_id=provisional
    )
    madison = manifest.sibling_nhs_numbers["Madison"]
    events: list[CanonicalEvent] = []
    for export in manifest.agencies:
        result = get_adapter(export.adapter).read(export.path, export.agency_id)
        events += [e for e in result.events if e.child.nhs_number == madison]
    events.sort(key=lambda e: e.recorded_at)
    positions: dict[str, int] = {}
    for event in events:
        positions[event.agency.id] = positions.get(event.agency.id, 0) + 1
        ingest_at(hub, event, event.recorded_at + timedelta(hours=1), positions[event.agency.id])
    hub.audit_queries.commission_review(
        "dpo-0001", ChildRef(nhs_number=madison), "rev-0001", "Rapid Review after serious harm", 30
    )
    yield hub, ChildRef(nhs_number=madison), events
    hub.close()


def refs(entries: list[dict[str, object]]) -> set[str]:
    return {str(e["ref"]) for e in entries}


def test_replay_before_the_home_education_notice_does_not_show_it(
    sibling_case: tuple[Hub, ChildRef, list[CanonicalEvent]],
) -> None:
    hub, child, events = sibling_case
    (notice,) = [e for e in events if e.kind == "education.elective-home-education-notice"]
    notice_ref = f"{notice.agency.id}/{notice.event_id}@{notice.revision}"
    before = hub.replay.replay(child, "rev-0001", notice.recorded_at - timedelta(days=1))
    after = hub.replay.replay(child, "rev-0001", notice.recorded_at + timedelta(hours=2))
    assert before.permitted and after.permitted
    assert notice_ref not in refs(before.held) and notice_ref in refs(after.held)
    earlier = {
        f"{e.agency.id}/{e.event_id}@{e.revision}"
        for e in events
        if e.recorded_at + timedelta(hours=1) <= notice.recorded_at - timedelta(days=1)
    }
    assert refs(before.held) == earlier
    # The agreement in force then, not today's.
    expected = "2021.1" if before.as_of.year < 2025 else "2025.1"
    assert before.agreement_version == f"shire-safeguarding-partnership@{expected}"


def test_a_correction_recorded_after_t_is_not_shown_as_of_t(
    sibling_case: tuple[Hub, ChildRef, list[CanonicalEvent]],
) -> None:
    hub, child, events = sibling_case
    ids = [e.event_id for e in events]
    original = next(e for e in events if e.kind == "la.referral" and ids.count(e.event_id) == 1)
    corrected_at = datetime.now(UTC) - timedelta(days=2)
    correction = original.model_copy(
        update={"revision": 2, "summary": "Referral (corrected)", "recorded_at": corrected_at}
    )
    ingest_at(hub, correction, corrected_at + timedelta(hours=1), 999)
    ref1, ref2 = (f"{original.agency.id}/{original.event_id}@{r}" for r in (1, 2))
    then = hub.replay.replay(child, "rev-0001", corrected_at - timedelta(days=1))
    now = hub.replay.replay(child, "rev-0001", datetime.now(UTC))
    held_then = {e["ref"]: e for e in then.held}
    held_now = {e["ref"]: e for e in now.held}
    assert ref2 not in held_then and held_then[ref1]["status"] == "current"
    assert (held_now[ref1]["status"], held_now[ref1]["replaced_by"]) == (
        "superseded",
        f"{original.event_id}@2",
    )
    assert held_now[ref2]["status"] == "current"


def test_a_practitioners_view_at_t_matches_what_the_audit_says_they_were_shown(
    sibling_case: tuple[Hub, ChildRef, list[CanonicalEvent]],
) -> None:
    hub, child, _ = sibling_case
    shown = hub.gate.view(child, "lcpp-0001", Purpose.CHILD_PROTECTION_PLANNING)
    assert shown.outcome == "disclosed"
    (audited,) = [
        r for r in hub.audit.for_practitioner("lcpp-0001") if isinstance(r, DisclosureAudited)
    ]
    replay = hub.replay.replay(child, "rev-0001", audited.timestamp, as_practitioner="lcpp-0001")
    assert replay.as_practitioner is not None
    assert [e["ref"] for e in replay.as_practitioner["entries"]] == audited.disclosed
    assert replay.as_practitioner["purpose"] == "child-protection-planning"  # taken from the audit
    (disclosure,) = [d for d in replay.disclosures if d["practitioner"] == "lcpp-0001"]
    assert disclosure["shown"] == audited.disclosed
    assert replay.never_shown == []  # the LCPP was shown everything held


def test_known_but_not_shared_and_late_sharing_are_flagged(settings: HubSettings) -> None:
    from tests.factories import event_dict

    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))

    register_agencies(hub, at=JOINED)
    now = datetime.now(UTC).replace(microsecond=0)
    child = ChildRef(nhs_number="9434765919")
    s47 = CanonicalEvent.model_validate(
        event_dict(
            event_id="S47",
            kind="la.s47-enquiry-started",
            occurred_at=(now - timedelta(days=40)).isoformat(),
            recorded_at=(now - timedelta(days=40)).isoformat(),
            details={},
        )
    )
    incident = CanonicalEvent.model_validate(
        event_dict(
            event_id="DA-1",
            agency={"id": "shire-constabulary", "type": "police"},
            kind="police.domestic-abuse-incident",
            occurred_at=(now - timedelta(days=30)).isoformat(),
            recorded_at=(now - timedelta(days=30) + timedelta(hours=1)).isoformat(),
            details={"child_present": True, "police_reference": "OE-1"},
        )
    )
    ingest_at(hub, s47, now - timedelta(days=40) + timedelta(minutes=30), 1)
    ingest_at(hub, incident, now - timedelta(days=10), 1)  # shared twenty days late
    hub.audit_queries.commission_review("dpo-0001", child, "rev-0001", "Rapid Review", 30)
    report = hub.replay.replay(child, "rev-0001", now - timedelta(days=20))
    assert refs(report.known_not_shared) == {"shire-constabulary/DA-1@1"}
    assert refs(report.held) == {"shire-county-council/S47@1"}
    late = {item["ref"]: item for item in report.latency}
    assert late["shire-constabulary/DA-1@1"]["late"] is True
    assert late["shire-constabulary/DA-1@1"]["expectation"] == "before the next school day"
    assert late["shire-county-council/S47@1"]["late"] is False
    assert report.latency_by_agency["shire-constabulary"]["late"] == 1
    hub.close()


def test_replay_needs_a_review_commission_and_is_itself_audited(
    sibling_case: tuple[Hub, ChildRef, list[CanonicalEvent]],
) -> None:
    hub, child, _ = sibling_case
    refused = hub.replay.replay(child, "sw-0002", datetime.now(UTC))
    assert not refused.permitted and refused.held == []
    allowed = hub.replay.replay(child, "rev-0001", datetime.now(UTC))
    assert allowed.permitted
    audited = [
        r for r in hub.audit.for_practitioner("rev-0001") if isinstance(r, DisclosureAudited)
    ]
    assert [r.purpose for r in audited] == ["practice-review"]
    assert json.dumps(allowed.as_dict())  # serialisable for the API and CLI


def test_before_go_live_replay_tells_recorded_from_held_and_marks_the_backfill(
    settings: HubSettings,
) -> None:
    """Agencies joined the hub 20 days ago and their history arrived in a backfill an hour
    later: as of a date before that the agencies had recorded entries the hub did not yet
    hold (backfilled, not late); afterwards the backfill is held, never counted late, and
    what was shared through the hub is timed in hours or working days."""
    from tests.factories import VALID_NHS_NUMBER, event_dict

    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    now = datetime.now(UTC).replace(microsecond=0)
    joined = now - timedelta(days=20)
    register_agencies(hub, at=joined)
    child = ChildRef(nhs_number=VALID_NHS_NUMBER)
    police = {"id": "shire-constabulary", "type": "police"}

    def dated(event_id: str, recorded: datetime, **fields: object) -> CanonicalEvent:
        at = recorded.isoformat()
        fields.setdefault("details", {})
        return CanonicalEvent.model_validate(
            event_dict(event_id=event_id, occurred_at=at, recorded_at=at, **fields)
        )

    s47 = dated("S47", now - timedelta(days=400), kind="la.s47-enquiry-started")
    referral = dated("REF-1", now - timedelta(days=300), details={"referral_source": "school"})
    incident = dated(
        "DA-1",
        now - timedelta(days=12),
        agency=police,
        kind="police.domestic-abuse-incident",
        details={"child_present": True, "police_reference": "OE-9"},
    )
    contact = dated("CONTACT-1", now - timedelta(days=5), kind="la.contact")
    backfill_at = joined + timedelta(hours=1)  # the next day, when the test runs after 23:00
    ingest_at(hub, s47, backfill_at, 1)  # the backfill
    ingest_at(hub, referral, backfill_at, 2)
    # shared 8 days later: late whatever weekday the suite runs on (a Friday night's incident
    # received 3 days later, on Monday night, was still before Tuesday's school day)
    ingest_at(hub, incident, incident.recorded_at + timedelta(days=8), 1)
    ingest_at(hub, contact, contact.recorded_at + timedelta(hours=2), 3)  # on time
    hub.audit_queries.commission_review("dpo-0001", child, "rev-0001", "Rapid Review", 30)
    refs_backfilled = {"shire-county-council/S47@1", "shire-county-council/REF-1@1"}

    before = hub.replay.replay(child, "rev-0001", now - timedelta(days=100))
    document = before.as_dict()
    assert before.permitted and before.held == []
    assert (document["recorded_by_agencies"], document["held_by_hub"]) == (2, 0)
    assert {e["ref"]: e["backfilled"] for e in before.known_not_shared} == dict.fromkeys(
        refs_backfilled, True
    )
    la = {row["agency"]: row for row in before.agencies}["shire-county-council"]
    assert (la["recorded"], la["held"], la["backfilled"]) == (2, 0, 2)
    assert la["joined_by_as_of"] is False and la["backfill_held_by_as_of"] is False
    assert la["joined_hub_at"] == joined.isoformat()
    assert all(item["backfilled"] and not item["late"] for item in before.latency)
    assert before.latency_by_agency["shire-county-council"]["late"] == 0
    words = recorded_and_held(document)
    assert "had recorded 2 entries about this child; the hub held 0 of them" in words
    assert "backfill" in words
    sentence = agency_sentence(la, before.as_of)
    assert f"joined the hub on {day_text(uk_date(joined))}" in sentence
    assert "that backfill had not yet arrived" in sentence

    after = hub.replay.replay(child, "rev-0001", now)
    latency = {item["ref"]: item for item in after.latency}
    for ref in refs_backfilled:
        assert latency[ref]["backfilled"] is True and latency[ref]["late"] is False
        assert sharing_text(latency[ref]) == f"backfilled on {day_text(uk_date(backfill_at))}"
        assert lateness_text(latency[ref]) == "Backfilled (not late)"
    late = latency["shire-constabulary/DA-1@1"]
    assert late["late"] is True and late["backfilled"] is False
    assert late["sharing_text"] == duration_text(incident.recorded_at, now - timedelta(days=4))
    assert "working day" in late["sharing_text"] and "hours" not in late["sharing_text"]
    assert latency["shire-county-council/CONTACT-1@1"]["sharing_text"] == "2 hours"
    figures = after.latency_by_agency["shire-county-council"]
    assert (figures["events"], figures["backfilled"], figures["late"]) == (3, 2, 0)
    assert figures["max_sharing_hours"] == 2.0  # the backfill is not a 9,600-hour delay
    assert figures["median_sharing_text"] == "2 hours"
    la = {row["agency"]: row for row in after.agencies}["shire-county-council"]
    assert la["backfill_held_by_as_of"] is True and (la["recorded"], la["held"]) == (3, 3)
    assert {e["ref"] for e in after.held if e["backfilled"]} == refs_backfilled
    hub.close()
