"""Builders for canonical events in tests: a valid event, with overrides where a test needs them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from hub.domain.identity import nhs_check_digit
from hub.ingest import IngestService

VALID_NHS_NUMBER = "9434765919"


def nhs_number(serial: int) -> str:
    """A distinct valid NHS number in the 999 test range for each serial below 100,000."""
    for last in range(10):
        first_nine = f"999{serial:05d}{last}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError("unreachable: one of ten ninth digits always has a check digit")


def event_dict(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": "REF-0001",
        "revision": 1,
        "agency": {"id": "shire-county-council", "type": "local-authority"},
        "child": {"nhs_number": VALID_NHS_NUMBER},
        "kind": "la.referral",
        "categories": ["neglect"],
        "occurred_at": "2024-03-04T09:15:00+00:00",
        "recorded_at": "2024-03-04T11:40:00+00:00",
        "summary": "Referral from school about unexplained bruising",
        "details": {"referral_source": "school"},
        "sensitivity": "standard",
        "lawful_basis": "public-task",
    }
    event.update(overrides)
    return event


def event_bytes(**overrides: Any) -> bytes:
    return json.dumps(event_dict(**overrides)).encode()


def event_days_ago(now: datetime, days_ago: float, **overrides: Any) -> bytes:
    """Event bytes for something that happened `days_ago` before `now` and was recorded about
    a quarter of an hour later (details empty unless given)."""
    overrides.setdefault("details", {})
    return event_bytes(
        occurred_at=(now - timedelta(days=days_ago)).isoformat(),
        recorded_at=(now - timedelta(days=days_ago - 0.01)).isoformat(),
        **overrides,
    )


# The agencies the tests publish as, with their registered types. The agency register is
# authoritative on every transport: a hub ingests only from agencies registered with it.
TEST_AGENCIES: dict[str, str] = {
    "shire-county-council": "local-authority",
    "wold-borough-council": "local-authority",
    "shire-constabulary": "police",
    "shire-icb": "health",
    "school-100001": "education",
    "school-100002": "education",
    "school-100003": "education",
    "school-100004": "education",
}
_CANONICAL_ADAPTER = "canonical"


def register_agencies(
    hub: Any, agencies: dict[str, str] | None = None, at: datetime | None = None
) -> None:
    """Register agencies (by default `TEST_AGENCIES`) with a hub, as `hub agency register`
    without Kafka does; `at` is when they joined the hub (now by default: anything they
    recorded before then counts as backfilled in a replay)."""
    from datetime import UTC

    from hub.onboarding import new_agency

    now = at or datetime.now(UTC)
    for agency_id, agency_type in (agencies or TEST_AGENCIES).items():
        hub.agencies.register(new_agency(agency_id, agency_type, _CANONICAL_ADAPTER, now))


def register_agencies_for(settings: Any, agencies: dict[str, str] | None = None) -> None:
    """Register agencies with the hub these settings open (for tests that run `hub` commands
    in other processes)."""
    from hub.bootstrap import bootstrap

    hub = bootstrap(settings)
    try:
        register_agencies(hub, agencies)
    finally:
        hub.close()


def ingest_service(hub: Any, clock: Any) -> IngestService:
    """The hub's ingest core as bootstrap wires it, but receiving at the times `clock` gives
    (tests that replay time)."""
    from hub.onboarding import RegisteredAgencies

    directory = hub.directory if hub.settings.directory_path.exists() else None
    return IngestService(
        hub.store,
        hub.pseudonyms,
        agencies=RegisteredAgencies(hub.agencies),
        find_practitioner=lambda pid: None if directory is None else directory.get(pid),
        max_message_bytes=hub.settings.max_message_bytes,
        clock_skew=timedelta(seconds=hub.settings.clock_skew_seconds),
        clock=clock,
    )


POLICE_DPO = {
    "id": "dpo-police",
    "name": "Test Police DPO",
    "organisation": "shire-constabulary",
    "agency_type": "police",
    "role": "data-protection-officer",
}


def directory_with_police_dpo(path: Any) -> Any:
    """The demo partnership's directory with a police DPO beside the council's, written to
    `path` (for tests of what each organisation's DPO may see)."""
    import yaml

    from hub.adapters.directory import SAMPLE_DIRECTORY_PATH

    directory = yaml.safe_load(SAMPLE_DIRECTORY_PATH.read_text())
    directory["practitioners"].append(POLICE_DPO)
    path.write_text(yaml.safe_dump(directory))
    return path


def publish_event(
    hub: Any,
    agency: dict[str, str],
    event_id: str,
    kind: str,
    at: datetime,
    child: str,
    source: str = "t",
    **extra: Any,
) -> None:
    """Ingest one event that happened at `at` (recorded 20 minutes later) for the child's NHS
    number, as the agency's next message on its own inbox source; it must be accepted."""
    from hub.ingest import InboundMessage

    message = json.dumps(
        event_dict(
            event_id=event_id,
            agency=agency,
            child={"nhs_number": child},
            kind=kind,
            categories=extra.pop("categories", []),
            occurred_at=at.isoformat(),
            recorded_at=(at + timedelta(minutes=20)).isoformat(),
            summary=extra.pop("summary", "Something happened"),
            details=extra.pop("details", {}),
            **extra,
        )
    ).encode()
    name = f"{source}:{agency['id']}/t"
    start = (hub.store.position(name) or 0) + 1
    outcome = hub.ingest.ingest([InboundMessage(name, start, message, agency["id"])])
    assert outcome.accepted == 1, outcome
