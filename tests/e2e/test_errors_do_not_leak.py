"""Errors that tell and do not leak, against a real `hub serve`: every API route that takes a
child answers a malformed identifier with 422 naming the field, never repeating the value, and
nothing the server writes (logs, tracebacks) contains it. A failure inside the hub answers 500
saying nothing of what was being handled."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.settings import HubSettings
from tests.e2e.test_concurrency import start_server, stop_server
from tests.integration.test_api import API_ROUTES

MALFORMED = [
    "Madison Okafor",  # a name where the identifier goes
    "9434765918",  # a real-looking NHS number with a wrong check digit
    "0000000000",  # a placeholder, valid by the check digit
    "943 476 59190",  # eleven digits
    "PRV-7K2M9QX4TBZ",  # a provisional id with a wrong check character
    "LEAKCANARY-9434765919-Heron-Close",
]
CHILD_ROUTES = sorted(route for route, body in API_ROUTES.items() if body and "child" in body)


def test_every_route_answers_a_malformed_child_with_422_and_never_repeats_it(
    tmp_path: Path,
) -> None:
    # chronology, break-glass (and its end), the partner question, replay, who-saw, the SAR
    # export, opening a SAR case
    assert len(CHILD_ROUTES) == 8
    settings = HubSettings(data_dir=tmp_path / "hub", directory=SAMPLE_DIRECTORY_PATH)
    hub = bootstrap(settings)
    token = issue_dev_token(hub.token_key, "dpo-0001", 30)
    hub.close()
    log = tmp_path / "server.log"
    server, url = start_server(settings, log)
    answers = []
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for (method, path), body in ((r, API_ROUTES[r]) for r in CHILD_ROUTES):
                for malformed in MALFORMED:
                    assert body is not None
                    response = http.request(
                        method,
                        path,
                        json={**body, "child": malformed},
                        headers={
                            "Authorization": f"Bearer {token}",
                            "X-Hub-Purpose": "data-protection-audit",
                        },
                    )
                    assert response.status_code == 422, (path, malformed, response.text)
                    problems = response.json()["errors"]
                    assert [p["loc"] for p in problems] == [["body", "child"]], response.text
                    answers.append(response.text)
    finally:
        stop_server(server)
    written = log.read_text()
    assert "Traceback" not in written and '"status": 500' not in written
    for malformed in MALFORMED:
        for text in (*answers, written):
            assert malformed not in text
            assert malformed.replace(" ", "") not in text


def test_a_failure_inside_the_hub_says_nothing_of_what_it_was_handling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A defect (here: the projection failing while it holds a child's details) is a 500 that
    names no value, in the answer and in the log."""
    settings = HubSettings(data_dir=tmp_path / "hub", directory=SAMPLE_DIRECTORY_PATH)
    hub = bootstrap(settings)
    try:
        canary = "LEAKCANARY-refuge-at-14-Heron-Close"

        def broken(*_: object) -> None:
            raise RuntimeError(f"could not fold {canary}")

        monkeypatch.setattr(hub.projection, "catch_up", broken)
        client = TestClient(create_app(hub, hub.token_verifier()), raise_server_exceptions=False)
        response = client.post(
            "/api/v1/chronology",
            json={"child": "943 476 5919"},
            headers={
                "Authorization": f"Bearer {issue_dev_token(hub.token_key, 'lcpp-0001', 5)}",
                "X-Hub-Purpose": "child-protection-enquiry",
            },
        )
    finally:
        hub.close()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the hub could not complete this request; nothing was disclosed",
        "instance": response.json()["instance"],
    }
    captured = capsys.readouterr()
    for text in (response.text, captured.out, captured.err):
        assert canary not in text and "9434765919" not in text
    logged = captured.out + captured.err
    assert "request_failed" in logged and "RuntimeError" in logged  # what kind, nothing else
