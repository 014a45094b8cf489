"""The child's identifying details on the real store (SQLite and PostgreSQL): a related
practitioner is shown them in the chronology as the agreement allows, a shielded address
never appears anywhere, and after crypto-shredding nothing of them can be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from hub.adapters.data_keys import DataKeyErasedError
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.markers import REDACTED, SHIELDED
from hub.domain.records import DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_days_ago, nhs_number, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
ICB = {"id": "shire-icb", "type": "health"}
SCHOOL = {"id": "school-100001", "type": "education"}
CHILD = ChildRef(nhs_number=nhs_number(8101))
# Canaries: if any of these is found where it must not be, something leaked.
FAMILY_NAME = "CHILDCANARY-Fairweather"
REFUGE_LINE = "CHILDCANARY-Kestrel Refuge Unit 7"
FORMER_LINE = "CHILDCANARY-7 Example Lane"
BORN = (NOW - timedelta(days=8 * 365)).date().isoformat()


def details(address_line: str, **more: Any) -> dict[str, Any]:
    return {
        "given_names": ["Ellis", "Jordan"],
        "family_name": FAMILY_NAME,
        "known_as": "Elly",
        "date_of_birth": BORN,
        "sex": "female",
        "ethnic_category": "M",
        "disability": {"status": "yes", "description": "Hearing impairment"},
        "address": {"lines": [address_line, "Shiretown"], "postcode": "ST1 4AB"},
        **more,
    }


@pytest.fixture
def child_hub(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    positions: dict[str, int] = {}

    def publish(
        agency: dict[str, str], event_id: str, kind: str, days_ago: float, **fields: Any
    ) -> None:
        value = event_days_ago(
            NOW, days_ago, event_id=event_id, agency=agency, kind=kind, categories=[],
            child={"nhs_number": CHILD.nhs_number}, **fields,
        )  # fmt: skip
        source = f"inbox:{agency['id']}/child-details"
        positions[source] = position = positions.get(source, 0) + 1
        outcome = hub.ingest.ingest([InboundMessage(source, position, value, agency["id"])])
        assert outcome.accepted == 1, outcome

    # An s47 enquiry relates the multi-agency team; an enrolment the school's DSL.
    publish(LA, "S47-1", "la.s47-enquiry-started", 20)
    enrolled = (NOW - timedelta(days=300)).date().isoformat()
    publish(SCHOOL, "ENROL-1", "education.enrolled", 300,
            details={"school_urn": "100001", "starts_on": enrolled})  # fmt: skip
    publish(LA, "CHILD-1", "la.child-details", 30, details=details(FORMER_LINE))
    # The child moved to a refuge: the correction shields the address, in every revision.
    publish(LA, "CHILD-1", "la.child-details", 5, revision=2, shielded_fields=["details.address"],
            details=details(REFUGE_LINE, legal_status="s20"))  # fmt: skip
    publish(ICB, "Patient/pat-1", "health.child-details", 4, shielded_fields=["details.address"],
            details=details(REFUGE_LINE))  # fmt: skip
    yield hub
    hub.close()


def shown(view: Any, ref: str) -> Any:
    return next((e for e in view.entries if e.ref == ref), None)


def stored_bytes(hub: Hub) -> bytes:
    """Every file the embedded store keeps (SQLite only: PostgreSQL's are elsewhere)."""
    files = [p for p in Path(hub.settings.data_dir).rglob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in files)


def test_a_related_practitioner_is_shown_the_childs_details(child_hub: Hub) -> None:
    view = child_hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    assert view.outcome == "disclosed"
    la = shown(view, "shire-county-council/CHILD-1@2")
    assert la.kind == "la.child-details" and la.status == "current"
    assert {k: la.details[k] for k in ("given_names", "family_name", "date_of_birth", "sex")} == {
        "given_names": ["Ellis", "Jordan"],
        "family_name": FAMILY_NAME,
        "date_of_birth": BORN,
        "sex": "female",
    }
    assert la.details["ethnic_category"] == "M" and la.details["legal_status"] == "s20"
    assert la.details["address"] == SHIELDED and la.shielded == ["details.address"]
    # The earlier revision's address is shielded too: the latest revision governs them all.
    first = shown(view, "shire-county-council/CHILD-1@1")
    assert (first.status, first.details["address"]) == ("superseded", SHIELDED)
    health = shown(view, "shire-icb/Patient/pat-1@1")
    assert health.details["family_name"] == FAMILY_NAME
    assert health.details["address"] == SHIELDED

    # The audit entry records the special category condition the disclosure relied on.
    stream = child_hub.gate.child_stream(CHILD)
    (entry,) = [r for r in child_hub.audit.for_child(stream) if isinstance(r, DisclosureAudited)]
    assert entry.conditions is not None
    assert sorted(entry.conditions["special-category:safeguarding"]) == [
        "shire-county-council/CHILD-1@1",
        "shire-county-council/CHILD-1@2",
        "shire-icb/Patient/pat-1@1",
    ]


def test_a_school_dsl_sees_who_the_child_is_and_nothing_more(child_hub: Hub) -> None:
    view = child_hub.gate.view(CHILD, "dsl-100001", Purpose.CHILD_PROTECTION_PLANNING)
    la = shown(view, "shire-county-council/CHILD-1@2")
    assert la.details == {
        "given_names": ["Ellis", "Jordan"],
        "family_name": FAMILY_NAME,
        "known_as": "Elly",
        "date_of_birth": BORN,
        "sex": "female",
        "ethnic_category": REDACTED,
        "disability": REDACTED,
        "address": SHIELDED,  # the publisher's shield, whatever the agreement says
        "legal_status": REDACTED,
    }
    assert shown(view, "shire-icb/Patient/pat-1@1") is None  # health's record is not shared


def test_a_shielded_address_appears_nowhere(child_hub: Hub) -> None:
    hub = child_hub
    surfaces: list[Any] = [
        hub.gate.view(CHILD, practitioner, purpose).as_dict()
        for practitioner, purpose in (
            ("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
            ("sw-0001", Purpose.FAMILY_HELP),
            ("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING),
            ("dpo-0001", Purpose.DATA_PROTECTION_AUDIT),
            ("rev-0001", Purpose.PRACTICE_REVIEW),
        )
    ]
    surfaces.append(hub.audit_queries.subject_access("dpo-0001", CHILD))
    surfaces += [vars(r) for r in hub.audit.for_child(hub.gate.child_stream(CHILD))]
    text = json.dumps(surfaces, default=str)
    assert FAMILY_NAME in text  # the canary is looked for where it may be
    for line in (REFUGE_LINE, FORMER_LINE, "ST1 4AB"):
        assert line not in text
    if hub.settings.store == "sqlite":
        # Encrypted per child at rest: not even the name is in any file in clear.
        raw = stored_bytes(hub)
        for canary in (FAMILY_NAME, REFUGE_LINE, FORMER_LINE):
            assert canary.encode() not in raw


def test_after_crypto_shredding_nothing_of_the_details_can_be_read(child_hub: Hub) -> None:
    hub = child_hub
    assert hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).entries
    hub.erasure.erase_child("dpo-0001", CHILD, "retention period ended")

    for practitioner, purpose in (
        ("lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY),
        ("dsl-100001", Purpose.CHILD_PROTECTION_PLANNING),
        ("dpo-0001", Purpose.DATA_PROTECTION_AUDIT),
    ):
        view = hub.gate.view(CHILD, practitioner, purpose)
        assert (view.outcome, view.entries) == ("erased", [])
    assert hub.audit_queries.subject_access("dpo-0001", CHILD)["records"] == []
    assert hub.projection.rebuild() == 0  # nothing of the child folds again
    assert hub.gate.view(CHILD, "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY).outcome == "erased"
    stream = hub.gate.child_stream(CHILD)
    with pytest.raises(DataKeyErasedError):  # the key is gone: the rows cannot be opened
        list(hub.store.events.get(UUID(stream)))
    if hub.settings.store == "sqlite":
        raw = stored_bytes(hub)
        for canary in (FAMILY_NAME, REFUGE_LINE, FORMER_LINE):
            assert canary.encode() not in raw
