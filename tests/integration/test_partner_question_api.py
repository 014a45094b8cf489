""" "Is anyone else involved?" from the API and the chronology page: two hubs (two data
directories) over the tansu broker, Wessex answering in a thread (the setup of
`test_federation_discovery`). `POST /api/v1/partner-question` answers each partner's answer in
words with its contact; refuses a practitioner with no relationship (403, the reason in words)
and one over the question limit (429, when they can ask again in UK time, and Retry-After); and
says so (409) on a hub without a partner register. The chronology page offers the question only
with a register, and shows the answers under a heading of their own."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from tests.factories import register_agencies
from tests.integration.test_federation_discovery import (
    ASKER,
    HELD,
    NOT_HELD,
    STRANGER,
    Answering,
    allocation,
    audited,
    ingest,
    receive_holdings,
    two_hubs,
)

__all__ = ["two_hubs"]  # the fixture, used here by name

WESSEX_HOLDS = (
    "Wessex Safeguarding Children Partnership holds records about this child; contact "
    "Wessex MASH, 01234 567890"
)
UK_TIME = re.compile(r"You can ask again from \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)\.")


def bearer(hub: Hub, practitioner: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(hub.token_key, practitioner)}"}


@pytest.fixture
def shire_client(two_hubs: tuple[Hub, Hub]) -> tuple[Hub, Hub, TestClient]:
    shire, wessex = two_hubs
    suffix = secrets.token_hex(4)
    for hub in two_hubs:  # topics of this test's own, before either hub reads its register
        register = hub.settings.federation_register
        assert register is not None
        text = register.read_text().replace("discovery-", f"question-{suffix}-")
        register.write_text(text)
    # A small question limit, set before the discovery service is first built.
    shire.settings = shire.settings.model_copy(
        update={"discovery_questions_per_hour": 3, "discovery_questions_per_day": 10}
    )
    wessex.discovery.publish_holdings("shire")
    assert receive_holdings(shire) == {"holdings-kept": 1}
    return shire, wessex, TestClient(create_app(shire, shire.token_verifier()))


@pytest.mark.kafka
def test_the_api_answers_refuses_and_limits_the_question(
    shire_client: tuple[Hub, Hub, TestClient],
) -> None:
    shire, wessex, client = shire_client
    with Answering(wessex):
        held = client.post(
            "/api/v1/partner-question", json={"child": HELD}, headers=bearer(shire, ASKER)
        )
        assert held.status_code == 200, held.text
        assert held.json()["held_elsewhere"] is True
        assert held.json()["words"] == [WESSEX_HOLDS]
        [answer] = held.json()["answers"]
        assert answer == {
            "partnership": "Wessex Safeguarding Children Partnership",
            "contact": "Wessex MASH, 01234 567890",
            "outcome": "holds",
            "words": WESSEX_HOLDS,
            "detail": "",
        }
        assert "recorded" in held.json()["audit"]
        nobody = client.post(
            "/api/v1/partner-question", json={"child": NOT_HELD}, headers=bearer(shire, ASKER)
        )
        assert nobody.json()["held_elsewhere"] is False
        assert nobody.json()["words"] == ["No partner hub holds records about this child."]
        assert nobody.json()["answers"][0]["outcome"] == "does-not-hold"

        stranger = client.post(
            "/api/v1/partner-question", json={"child": HELD}, headers=bearer(shire, STRANGER)
        )
        assert stranger.status_code == 403
        assert stranger.headers["content-type"] == "application/problem+json"
        assert stranger.json()["detail"].startswith(
            "You can ask whether partner hubs hold records only about a child you have a "
            "relationship with"
        )
        assert HELD not in stranger.text

        client.post("/api/v1/partner-question", json={"child": HELD}, headers=bearer(shire, ASKER))
        limited = client.post(
            "/api/v1/partner-question", json={"child": HELD}, headers=bearer(shire, ASKER)
        )
    assert limited.status_code == 429, limited.text
    assert limited.json()["detail"].startswith(
        "You have asked 3 questions in the last hour (the limit is 3)"
    )
    assert UK_TIME.search(limited.json()["detail"]), limited.json()["detail"]
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    assert HELD not in limited.text
    outcomes = [q.outcome for q in audited(shire, "discovery-question")]
    assert sorted(outcomes) == ["asked"] * 3 + ["limit-reached", "no-relationship"]


def sign_in(client: TestClient, hub: Hub, practitioner: str) -> str:
    """A browser session; its CSRF token."""
    form = client.get("/").text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    token = issue_dev_token(hub.token_key, practitioner)
    client.post(
        "/login", data={"token": token, "purpose": "child-protection-planning", "csrf_token": csrf}
    )
    page: str = client.get("/chronology").text
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def view_key(client: TestClient, csrf: str, child: str) -> str:
    shown = client.post(
        "/chronology", data={"child": child, "csrf_token": csrf}, follow_redirects=False
    )
    assert shown.status_code == 303
    return str(shown.headers["location"]).removeprefix("/chronology/view/")


@pytest.mark.kafka
def test_the_chronology_page_asks_and_shows_the_answers(
    shire_client: tuple[Hub, Hub, TestClient],
) -> None:
    shire, wessex, client = shire_client
    csrf = sign_in(client, shire, ASKER)
    key = view_key(client, csrf, HELD)
    page = client.get(f"/chronology/view/{key}").text
    assert "Is anyone else involved?" in page and "never which child" in page
    assert "What the partner hubs said" not in page
    with Answering(wessex):
        asked = client.post(
            "/chronology/partner-question",
            data={"view": key, "csrf_token": csrf},
            follow_redirects=False,
        )
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/chronology/view/{key}#partner-answers"
    shown = client.get(f"/chronology/view/{key}").text
    assert "What the partner hubs said" in shown and WESSEX_HOLDS in shown
    # Showing it again asks nothing again.
    assert len(audited(shire, "discovery-question")) == 1
    forged = client.post("/chronology/partner-question", data={"view": key, "csrf_token": "x"})
    assert forged.status_code == 403 and len(audited(shire, "discovery-question")) == 1

    # A practitioner with no relationship is told why, on the page, and nothing is sent.
    stranger = TestClient(client.app)
    csrf = sign_in(stranger, shire, STRANGER)
    key = view_key(stranger, csrf, HELD)
    stranger.post("/chronology/partner-question", data={"view": key, "csrf_token": csrf})
    refused = stranger.get(f"/chronology/view/{key}").text
    assert "Your question was not sent" in refused and "What the partner hubs said" not in refused
    assert "You can ask whether partner hubs hold records only about a child you have" in refused
    assert [q.outcome for q in audited(shire, "discovery-question")] == ["asked", "no-relationship"]


@pytest.fixture
def lone_hub(tmp_path: Path) -> Iterator[Hub]:
    hub = bootstrap(HubSettings(data_dir=tmp_path / "lone", directory=SAMPLE_DIRECTORY_PATH))
    register_agencies(hub)
    ingest(hub, allocation(HELD, "ALLOC-1"))
    yield hub
    hub.close()


def test_a_hub_without_a_partner_register_says_so_and_the_page_does_not_offer_it(
    lone_hub: Hub,
) -> None:
    client = TestClient(create_app(lone_hub, lone_hub.token_verifier()))
    answer = client.post(
        "/api/v1/partner-question", json={"child": HELD}, headers=bearer(lone_hub, ASKER)
    )
    assert answer.status_code == 409
    assert "no partner register" in answer.json()["detail"]
    csrf = sign_in(client, lone_hub, ASKER)
    key = view_key(client, csrf, HELD)
    page = client.get(f"/chronology/view/{key}").text
    assert "Chronology for child" in page and "Is anyone else involved?" not in page
    refused = client.post("/chronology/partner-question", data={"view": key, "csrf_token": csrf})
    assert refused.status_code == 400 and "partner register" in refused.text
    assert audited(lone_hub, "discovery-question") == []
