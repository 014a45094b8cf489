"""Finding a child by family name and date of birth on the real store (SQLite and PostgreSQL):
the blind index is written at ingest, a misspelt family name still finds the child, a given
name narrows, a practitioner with no relationship and no front-door role finds nothing, the
search is audited first with its terms never in clear at rest, a shielded field is never in a
result and an erased child is found no more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.audit_ledger import AuditUnavailableError
from hub.bootstrap import Hub, bootstrap
from hub.child_search import SearchTermError, search_terms
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.domain.records import BlindIndexed, DisclosureAudited
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import event_days_ago, nhs_number, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
SCHOOL = {"id": "school-100001", "type": "education"}
JAYDEN = ChildRef(nhs_number=nhs_number(8201))  # at school-100001, under an s47 enquiry
AMBER = ChildRef(nhs_number=nhs_number(8202))  # same family name and birthday, no relationship
HIDDEN = ChildRef(nhs_number=nhs_number(8203))  # the publisher shielded the family name
BORN = (NOW - timedelta(days=6 * 365 + 10)).date()
FAMILY = "Smithwick"
KNOWN_AS = "CANARYKNOWNAS"  # shielded: must never appear in a result


def details(given: list[str], family: str, **more: Any) -> dict[str, Any]:
    return {
        "given_names": given,
        "family_name": family,
        "date_of_birth": BORN.isoformat(),
        "sex": "male",
        **more,
    }


@pytest.fixture
def search_hub(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    positions: dict[str, int] = {}

    def publish(
        child: ChildRef, event_id: str, kind: str, days_ago: float, agency: Any = LA, **fields: Any
    ) -> None:
        value = event_days_ago(
            NOW, days_ago, event_id=event_id, agency=agency, kind=kind, categories=[],
            child={"nhs_number": child.nhs_number}, **fields,
        )  # fmt: skip
        positions[agency["id"]] = position = positions.get(agency["id"], 0) + 1
        message = InboundMessage(f"inbox:{agency['id']}/x", position, value, agency["id"])
        outcome = hub.ingest.ingest([message])
        assert outcome.accepted == 1, outcome

    publish(JAYDEN, "S47-1", "la.s47-enquiry-started", 20)
    enrolled = (NOW - timedelta(days=300)).date().isoformat()
    publish(JAYDEN, "ENROL-1", "education.enrolled", 300, SCHOOL,
            details={"school_urn": "100001", "starts_on": enrolled})  # fmt: skip
    publish(JAYDEN, "CHILD-1", "la.child-details", 30,
            details=details(["Jayden", "Lee"], FAMILY, known_as=KNOWN_AS),
            shielded_fields=["details.known_as"])  # fmt: skip
    refuge = {"lines": ["CANARYREFUGE 1", "Shiretown"], "postcode": "ST1 4AB"}
    publish(AMBER, "CHILD-2", "la.child-details", 30,
            details=details(["Amber"], FAMILY, address=refuge),
            shielded_fields=["details.address"])  # fmt: skip
    publish(HIDDEN, "CHILD-3", "la.child-details", 30,
            details=details(["Noah"], FAMILY), shielded_fields=["details.family_name"])  # fmt: skip
    yield hub
    hub.close()


def stored_bytes(hub: Hub) -> bytes:
    files = [p for p in Path(hub.settings.data_dir).rglob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in files)


def found(
    hub: Hub, who: str, family: str, purpose: Purpose, given: str | None = None
) -> list[dict[str, Any]]:
    answer = hub.child_search.find(who, family, BORN.isoformat(), given, purpose)
    return [r.as_dict() for r in answer.results]


def test_the_blind_index_is_written_at_ingest_with_no_name_in_clear(search_hub: Hub) -> None:
    hub = search_hub
    entries = [r for r in hub.store.records(BlindIndexed) if isinstance(r, BlindIndexed)]
    assert len(entries) == 6  # the exact family name and its two phonetic codes, each
    assert {e.match for e in entries} == {"exact", "similar"}
    # Indexed: the two children whose family name and date of birth were not shielded.
    found = hub.child_search.candidates(search_terms(FAMILY, BORN))
    assert set(found) == {hub.gate.child_stream(JAYDEN), hub.gate.child_stream(AMBER)}
    # Which child an entry indexes is sealed with the entry's own key, never beside it.
    assert "child_stream" not in vars(entries[0])
    if hub.settings.store == "sqlite":
        raw = stored_bytes(hub).lower()
        for name in (FAMILY, "jayden", "amber", KNOWN_AS):
            assert name.lower().encode() not in raw


def test_a_misspelt_family_name_finds_the_child_and_a_given_name_narrows(
    search_hub: Hub,
) -> None:
    hub = search_hub
    # The school's DSL is related to Jayden (enrolled), not to Amber.
    exact = found(hub, "dsl-100001", FAMILY, Purpose.CHILD_PROTECTION_PLANNING)
    assert [r["child"] for r in exact] == [JAYDEN.nhs_number]
    assert exact[0]["match"] == "exact"
    assert exact[0]["name"] == f"Jayden Lee {FAMILY}"
    assert exact[0]["date_of_birth"] == BORN.isoformat() and exact[0]["age"] == "6 years"

    misspelt = found(hub, "dsl-100001", "Smythwick", Purpose.CHILD_PROTECTION_PLANNING)
    assert [(r["child"], r["match"]) for r in misspelt] == [(JAYDEN.nhs_number, "similar")]
    # The front door and the MACPT see every candidate; a given name narrows.
    for searcher in ("mash-0001", "lcpp-0001"):
        both = found(hub, searcher, "smith-wick", Purpose.CHILD_PROTECTION_ENQUIRY)
        assert {r["child"] for r in both} == {JAYDEN.nhs_number, AMBER.nhs_number}
    narrowed = found(hub, "mash-0001", "Smithwick", Purpose.CHILD_PROTECTION_ENQUIRY, "Jaden")
    assert [(r["child"], r["given_name_matched"]) for r in narrowed] == [(JAYDEN.nhs_number, True)]
    # Wrong date of birth, or a name that sounds different: nobody.
    assert hub.child_search.find("mash-0001", "Brown", BORN, None,
                                 Purpose.CHILD_PROTECTION_ENQUIRY).results == []  # fmt: skip


def test_no_relationship_and_no_front_door_role_finds_nothing_identifying(
    search_hub: Hub,
) -> None:
    hub = search_hub
    assert found(hub, "po-0002", FAMILY, Purpose.CHILD_PROTECTION_ENQUIRY) == []
    # The front door only for child protection purposes.
    assert found(hub, "mash-0001", FAMILY, Purpose.FAMILY_HELP) == []
    # Each candidate's refusal is audited as a search.
    stream = hub.gate.child_stream(JAYDEN)
    refused = [
        r
        for r in hub.audit.for_child(stream)
        if isinstance(r, DisclosureAudited) and r.practitioner_id == "po-0002"
    ]
    assert [(r.action, r.outcome, r.disclosed) for r in refused] == [("search", "denied", [])]


def test_the_search_is_audited_first_with_its_terms_never_in_clear(search_hub: Hub) -> None:
    hub = search_hub
    results = found(hub, "mash-0001", "Smythwick", Purpose.CHILD_PROTECTION_ENQUIRY, "Jaden")
    stream = hub.gate.child_stream(JAYDEN)
    (entry,) = [
        r
        for r in hub.audit.for_child(stream)
        if isinstance(r, DisclosureAudited) and r.practitioner_id == "mash-0001"
    ]
    assert entry.action == "search" and entry.outcome == "disclosed"
    assert entry.relationship == "front-door-search via search"
    assert entry.search_terms == {
        "family_name": "Smythwick",
        "date_of_birth": BORN.isoformat(),
        "given_name": "Jaden",
    }
    assert results[0]["audit_ref"] == f"{entry.originator_id.hex}@{entry.originator_version}"
    # A search that matches nobody is audited too.
    assert hub.child_search.find("po-0002", "Nomatchington", BORN, "Qwerty", None).results == []
    (nobody,) = [
        r
        for r in hub.audit.for_practitioner("po-0002")
        if isinstance(r, DisclosureAudited) and r.outcome == "no-match"
    ]
    assert (nobody.action, nobody.child_stream) == ("search", "")
    assert nobody.search_terms is not None and nobody.search_terms["given_name"] == "Qwerty"
    if hub.settings.store == "sqlite":
        raw = stored_bytes(hub)
        for term in (b"Smythwick", b"Jaden", b"Nomatchington", b"Qwerty"):
            assert term not in raw

    # When the audit entry cannot be written, nothing is returned.
    def fail(*_: Any, **__: Any) -> Any:
        raise AuditUnavailableError("ledger down")

    hub.audit.record_access = fail  # type: ignore[method-assign]
    with pytest.raises(AuditUnavailableError):
        hub.child_search.find("mash-0001", FAMILY, BORN, None, Purpose.CHILD_PROTECTION_ENQUIRY)


def test_shielded_values_never_appear_in_results(search_hub: Hub) -> None:
    hub = search_hub
    results = found(hub, "mash-0001", FAMILY, Purpose.CHILD_PROTECTION_ENQUIRY)
    jayden = next(r for r in results if r["child"] == JAYDEN.nhs_number)
    assert jayden["known_as"] is None and jayden["shielded"] == ["details.known_as"]
    assert KNOWN_AS not in json.dumps(results)
    # No address is in a result; nor is it said that one is shielded (a refuge).
    amber = next(r for r in results if r["child"] == AMBER.nhs_number)
    assert amber["shielded"] == []
    assert "CANARYREFUGE" not in json.dumps(results) and "address" not in json.dumps(results)
    # A child whose family name is shielded is not in the index at all.
    assert HIDDEN.nhs_number not in {r["child"] for r in results}


def test_an_erased_child_is_found_no_more(search_hub: Hub) -> None:
    hub = search_hub
    assert found(hub, "mash-0001", FAMILY, Purpose.CHILD_PROTECTION_ENQUIRY)
    hub.erasure.erase_child("dpo-0001", JAYDEN, "retention period ended")
    results = found(hub, "mash-0001", FAMILY, Purpose.CHILD_PROTECTION_ENQUIRY)
    assert [r["child"] for r in results] == [AMBER.nhs_number]
    # The keys of Jayden's three entries are gone: nothing links a token to him any more.
    entries = [r for r in hub.store.records(BlindIndexed) if isinstance(r, BlindIndexed)]
    opened = [hub.child_search._open(e) for e in entries]
    assert sum(o is None for o in opened) == 3
    assert {o[0] for o in opened if o is not None} == {hub.gate.child_stream(AMBER)}
    terms = search_terms(FAMILY, BORN)
    assert hub.child_search.candidates(terms).keys() == {hub.gate.child_stream(AMBER)}


def test_bad_terms_name_the_field_never_the_value(search_hub: Hub) -> None:
    for family, born, field in (
        ("", BORN.isoformat(), "family_name"),
        ("12345", BORN.isoformat(), "family_name"),
        (FAMILY, "31/02/2019", "date_of_birth"),
        (FAMILY, (NOW + timedelta(days=3)).date().isoformat(), "date_of_birth"),
    ):
        with pytest.raises(SearchTermError) as error:
            search_hub.child_search.find("mash-0001", family, born)
        assert error.value.field == field
        assert (family or "\x00") not in str(error.value) and born not in str(error.value)


def test_the_api_finds_from_the_body_and_names_a_bad_field(search_hub: Hub) -> None:
    from fastapi.testclient import TestClient

    from hub.adapters.tokens import issue_dev_token
    from hub.api.app import create_app

    hub = search_hub
    client = TestClient(create_app(hub, hub.token_verifier()))
    headers = {
        "Authorization": f"Bearer {issue_dev_token(hub.token_key, 'mash-0001')}",
        "X-Hub-Purpose": "child-protection-enquiry",
    }
    body = {"family_name": "Smythwick", "date_of_birth": BORN.isoformat(), "given_name": "Jaden"}
    answer = client.post("/api/v1/find", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [r["child"] for r in answer.json()["results"]] == [JAYDEN.nhs_number]
    bad = client.post("/api/v1/find", json={**body, "date_of_birth": "2020-13-45"}, headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["detail"] == "the request is not valid: body.date_of_birth"
    assert bad.json()["errors"] == [
        {
            "loc": ["body", "date_of_birth"],
            "msg": "must be a real date written as YYYY-MM-DD",
            "type": "value_error",
        }
    ]
    assert "2020-13-45" not in bad.text
