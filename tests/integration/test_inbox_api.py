"""The inbox over HTTP (SQLite and PostgreSQL): `GET /api/v1/inbox` and its counts, marking
items done and back, acknowledging a notice with the action taken (a problem names the field,
never the value), and every page's header count, which falls back to "Inbox" rather than fail
a page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import Hub
from tests.integration.test_inbox import (
    NOW,
    POLICE,
    Clock,
    Publish,
    allocated_case,
    hub,  # noqa: F401  (the fixture)
    publish,  # noqa: F401  (the fixture)
)

ACTION = "Spoke to the child at breakfast club; mother offered support."


@pytest.fixture
def client(hub: Hub, publish: Publish) -> TestClient:  # noqa: F811
    """sw-0002's allocated child, enrolled at dsl-100001's school, under an s47 enquiry; the
    police publish a domestic abuse incident (a notice for the DSL, an item for the worker)."""
    allocated_case(publish)
    publish(POLICE, "DA-1", "police.domestic-abuse-incident", 0.1, categories=["domestic-abuse"])
    for name in ("encompass", "clocks", "inbox"):
        hub.consumer_runner(name, clock=Clock(NOW)).run_once()
    return TestClient(create_app(hub, hub.token_verifier()))


def bearer(of: Hub, practitioner: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(of.token_key, practitioner)}"}


def test_a_worker_lists_their_inbox_and_marks_an_item_done_and_back(
    hub: Hub,  # noqa: F811
    client: TestClient,
) -> None:
    worker = bearer(hub, "sw-0002")
    counts = client.get("/api/v1/inbox/counts", headers=worker).json()
    inbox = client.get("/api/v1/inbox", headers=worker).json()
    assert counts == inbox["counts"] and counts["items"] >= 1
    assert counts["total"] == counts["notices"] + counts["alerts"] + counts["items"]
    [item] = [i for i in inbox["items"] if i["type"] == "change"]
    kinds = {w["kind"] for w in item["what"]}
    assert "police.domestic-abuse-incident" in kinds
    assert item["header"]["identifier"] == item["child"]

    done = client.post(f"/api/v1/inbox/items/{item['id'][:12]}/done", headers=worker)
    assert done.status_code == 200 and done.json()["done_at"] is not None
    listed = client.get("/api/v1/inbox", headers=worker).json()
    assert item["id"] not in {i["id"] for i in listed["items"]}
    assert listed["counts"]["items"] == counts["items"] - 1
    everything = client.get("/api/v1/inbox?include_done=true", headers=worker).json()
    assert item["id"] in {i["id"] for i in everything["items"]}
    back = client.post(f"/api/v1/inbox/items/{item['id']}/not-done", headers=worker)
    assert back.status_code == 200 and back.json()["done_at"] is None

    # Someone else's item, or none: 404 in plain words, the id not repeated.
    other = client.post(f"/api/v1/inbox/items/{item['id']}/done", headers=bearer(hub, "po-0002"))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "item: no such item in your inbox",
        "instance": other.json()["instance"],  # urn:uuid:, not the path: the id not repeated
    }
    assert item["id"] not in other.text


def test_a_dsl_acknowledges_a_notice_with_the_action_taken(
    hub: Hub,  # noqa: F811
    client: TestClient,
) -> None:
    dsl = bearer(hub, "dsl-100001")
    [notice] = client.get("/api/v1/inbox", headers=dsl).json()["notices"]
    assert notice["acknowledged_by"] is None and notice["header"]["identifier"]
    url = f"/api/v1/inbox/notices/{notice['id']}/acknowledge"

    too_long = "Spoke to the child " + "x" * 2000
    for body in ({}, {"action_taken": "   "}, {"action_taken": too_long}):
        refused = client.post(url, json=body, headers=dsl)
        assert refused.status_code == 422
        assert refused.json()["detail"] == "the request is not valid: body.action_taken"
        [problem] = refused.json()["errors"]
        assert problem["loc"] == ["body", "action_taken"]
        assert "Spoke to" not in refused.text  # the field named, never the value
    someone_else = client.post(url, json={"action_taken": ACTION}, headers=bearer(hub, "sw-0002"))
    assert someone_else.status_code == 403
    unknown = client.post(
        "/api/v1/inbox/notices/0123456789abcdef/acknowledge",
        json={"action_taken": ACTION},
        headers=dsl,
    )
    assert unknown.status_code == 404 and "0123456789abcdef" not in unknown.text

    acknowledged = client.post(url, json={"action_taken": f"  {ACTION}  "}, headers=dsl)
    assert acknowledged.status_code == 200
    assert acknowledged.json()["acknowledged"]["action_taken"] == ACTION
    [after] = client.get("/api/v1/inbox", headers=dsl).json()["notices"]
    assert (after["acknowledged_by"], after["action_taken"]) == ("dsl-100001", ACTION)
    assert client.get("/api/v1/inbox/counts", headers=dsl).json()["notices"] == 0


def signed_in(client: TestClient, of: Hub, practitioner: str) -> str:
    """Sign a browser session in; the session's CSRF token."""
    form = client.get("/").text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    token = issue_dev_token(of.token_key, practitioner)
    client.post(
        "/login",
        data={"token": token, "purpose": "child-protection-planning", "csrf_token": csrf},
    )
    page: str = client.get("/inbox").text
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_every_page_header_counts_the_inbox_and_falls_back_to_inbox(
    hub: Hub,  # noqa: F811
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed_in(client, hub, "sw-0002")
    total = hub.inbox.counts("sw-0002", NOW).total
    assert f"Inbox ({total}" in client.get("/find").text

    def unavailable(*_: Any) -> None:
        raise FileNotFoundError("consumer store absent")

    monkeypatch.setattr(hub.inbox, "counts", unavailable)
    page = client.get("/find")
    assert page.status_code == 200
    assert '<a href="/inbox" class="inbox-link">Inbox</a>' in page.text

    for old in ("/notices", "/alerts"):
        moved = client.get(old, follow_redirects=False)
        assert (moved.status_code, moved.headers["location"]) == (303, "/inbox")


def test_the_inbox_forms_need_the_sessions_csrf_token(
    hub: Hub,  # noqa: F811
    client: TestClient,
) -> None:
    csrf = signed_in(client, hub, "sw-0002")
    [item] = [
        i
        for i in client.get("/api/v1/inbox", headers=bearer(hub, "sw-0002")).json()["items"]
        if i["type"] == "change"
    ]
    for action in ("done", "open"):
        refused = client.post(f"/inbox/items/{item['id']}/{action}", data={"csrf_token": "x"})
        assert refused.status_code == 403
    assert client.get("/api/v1/inbox/counts", headers=bearer(hub, "sw-0002")).json()["items"]
    done = client.post(
        f"/inbox/items/{item['id']}/done", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, "/inbox")
    assert "Notification marked done" in client.get("/inbox").text
