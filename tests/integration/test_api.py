"""The HTTP API on the real store: authentication on every route, purposes, publishing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import DEV_AUDIENCE, DEV_ISSUER, issue_dev_token
from hub.api.app import PUBLIC_PATHS, create_app
from hub.bootstrap import Hub, bootstrap
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import VALID_NHS_NUMBER, event_dict, register_agencies
from tests.integration.test_disclosure import CASE

# Every API route with a body that would succeed for an authorised caller. A new route fails
# test_the_route_list_is_the_apps_real_route_list until it is added here (and so tested).
API_ROUTES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/api/v1/events"): None,
    ("POST", "/api/v1/chronology"): {"child": VALID_NHS_NUMBER},
    ("POST", "/api/v1/find"): {"family_name": "Smith", "date_of_birth": "2020-06-02"},
    ("POST", "/api/v1/break-glass"): {"child": VALID_NHS_NUMBER, "reason": "missing child"},
    ("POST", "/api/v1/break-glass/end"): {"child": VALID_NHS_NUMBER},
    ("POST", "/api/v1/partner-question"): {"child": VALID_NHS_NUMBER},
    ("POST", "/api/v1/audit/who-saw"): {"child": VALID_NHS_NUMBER},
    ("GET", "/api/v1/audit/practitioners/{practitioner_id}"): None,
    ("GET", "/api/v1/audit/break-glass"): None,
    ("POST", "/api/v1/audit/break-glass/review"): {"grant": "x@1", "outcome": "appropriate"},
    ("GET", "/api/v1/audit/withheld"): None,
    ("POST", "/api/v1/replay"): {"child": VALID_NHS_NUMBER, "as_of": "2025-01-01T00:00:00+00:00"},
    ("POST", "/api/v1/audit/subject-access"): {"child": VALID_NHS_NUMBER},
    ("POST", "/api/v1/sar"): {
        "child": VALID_NHS_NUMBER,
        "requester": "Jo Parent",
        "basis": "parental-responsibility",
        "received": "2026-01-05",
    },
    ("GET", "/api/v1/sar"): None,
    ("GET", "/api/v1/sar/{case_id}"): None,
    ("POST", "/api/v1/sar/{case_id}/decisions"): {
        "item": "shire-county-council/REF-0001@1",
        "decision": "release",
        "reason": "about the child",
    },
    ("POST", "/api/v1/sar/{case_id}/extension"): {
        "months": 1,
        "reason": "complex",
        "requester_told": "2026-01-06",
    },
    ("POST", "/api/v1/sar/{case_id}/identity"): {"how": "passport", "on": "2026-01-05"},
    ("POST", "/api/v1/sar/{case_id}/pack"): {"format": "json"},
    ("GET", "/api/v1/notices"): None,
    ("POST", "/api/v1/notices/{notice_id}/ack"): None,
    ("GET", "/api/v1/inbox"): None,
    ("GET", "/api/v1/inbox/counts"): None,
    ("POST", "/api/v1/inbox/items/{item_id}/done"): None,
    ("POST", "/api/v1/inbox/items/{item_id}/not-done"): None,
    ("POST", "/api/v1/inbox/notices/{notice_id}/acknowledge"): {"action_taken": "Spoke to her"},
}


# Every page route. Without a session a page redirects to sign-in (GET) or is refused (POST:
# no session and no CSRF token); the sign-in form is the only page served to strangers.
PAGE_ROUTES: set[tuple[str, str]] = {
    ("GET", "/"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/chronology"),
    ("POST", "/chronology"),
    ("POST", "/chronology/end-break-glass"),
    ("GET", "/find"),
    ("POST", "/find"),
    ("GET", "/chronology/view/{key}"),
    ("POST", "/chronology/sibling"),
    ("POST", "/chronology/together"),
    ("POST", "/chronology/export"),
    ("POST", "/chronology/partner-question"),
    ("GET", "/dpo"),
    ("POST", "/dpo/review"),
    ("POST", "/dpo/who-saw"),
    ("POST", "/dpo/practitioner"),
    ("GET", "/dpo/withholdings"),
    ("POST", "/dpo/withholdings/review"),
    ("GET", "/replay"),
    ("POST", "/replay"),
    ("POST", "/replay/pack"),
    ("GET", "/sar"),
    ("POST", "/sar/open"),
    ("GET", "/sar/{case_id}"),
    ("POST", "/sar/{case_id}/decide"),
    ("POST", "/sar/{case_id}/extend"),
    ("POST", "/sar/{case_id}/identity"),
    ("POST", "/sar/{case_id}/pack"),
    ("GET", "/inbox"),
    ("GET", "/notices"),
    ("GET", "/alerts"),
    ("POST", "/inbox/notices/{notice_id}/acknowledge"),
    ("POST", "/inbox/items/{item_id}/done"),
    ("POST", "/inbox/items/{item_id}/open"),
}


@pytest.fixture
def api(settings: HubSettings) -> Iterator[tuple[Hub, TestClient]]:
    hub = bootstrap(settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))
    register_agencies(hub)
    for agency, values in CASE.items():
        hub.ingest.ingest(
            [InboundMessage(f"inbox:{agency}/case", i + 1, v, agency) for i, v in enumerate(values)]
        )
    yield hub, TestClient(create_app(hub, hub.token_verifier()))
    hub.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    url = path.replace("{practitioner_id}", "lcpp-0001").replace("{notice_id}", "n")
    return client.request(method, url, json=body if body is not None else [], headers=headers)


def test_the_route_list_is_the_apps_real_route_list(api: tuple[Hub, TestClient]) -> None:
    _, client = api
    real = {
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path not in PUBLIC_PATHS
        for method in route.methods
    }
    assert real == set(API_ROUTES) | PAGE_ROUTES


def test_every_page_refuses_strangers_and_sign_in_refuses_bad_tokens(
    api: tuple[Hub, TestClient],
) -> None:
    hub, client = api
    for method, path in sorted(PAGE_ROUTES - {("GET", "/"), ("POST", "/login")}):
        response = client.request(
            method, path, data={"child": VALID_NHS_NUMBER}, follow_redirects=False
        )
        if method == "GET":
            assert (response.status_code, response.headers["location"]) == (303, "/"), path
        else:
            assert response.status_code in (303, 403), (path, response.status_code)
            assert VALID_NHS_NUMBER not in response.text

    def csrf_of(page: str) -> str:
        return page.split('name="csrf_token" value="')[1].split('"')[0]

    csrf = csrf_of(client.get("/").text)  # each sign-in form carries a fresh token
    now = datetime.now(UTC)
    expired = jwt.encode(
        {
            "sub": "lcpp-0001",
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "iat": now - timedelta(hours=2),
            "exp": now - timedelta(hours=1),
        },
        hub.token_key,
        algorithm="HS256",
    )
    good = issue_dev_token(hub.token_key, "lcpp-0001")
    for token in ("", expired, good[:-4] + "AAAA", issue_dev_token(b"k" * 32, "lcpp-0001")):
        refused = client.post(
            "/login",
            data={"token": token, "purpose": "child-protection-planning", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert refused.status_code == 401 and "hub_session" not in refused.cookies
        csrf = csrf_of(refused.text)
    forged_csrf = client.post(
        "/login",
        data={"token": good, "purpose": "child-protection-planning", "csrf_token": "x"},
        follow_redirects=False,
    )
    assert forged_csrf.status_code == 403
    accepted = client.post(
        "/login",
        data={"token": good, "purpose": "child-protection-planning", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert (accepted.status_code, accepted.headers["location"]) == (303, "/chronology")


def test_every_route_refuses_missing_expired_tampered_and_wrongly_signed_tokens(
    api: tuple[Hub, TestClient],
) -> None:
    hub, client = api
    good = issue_dev_token(hub.token_key, "lcpp-0001")
    now = datetime.now(UTC)
    expired = jwt.encode(
        {
            "sub": "lcpp-0001",
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "iat": now - timedelta(hours=2),
            "exp": now - timedelta(hours=1),
        },
        hub.token_key,
        algorithm="HS256",
    )
    header, _payload, signature = good.split(".")
    tampered = ".".join(
        (
            header,
            jwt.utils.base64url_encode(json.dumps({"sub": "dpo-0001"}).encode()).decode(),
            signature,
        )
    )
    wrong_key = issue_dev_token(b"k" * 32, "lcpp-0001")
    unsigned = jwt.encode(
        {
            "sub": "lcpp-0001",
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "iat": now,
            "exp": now + timedelta(hours=1),
        },
        None,
        algorithm="none",
    )
    for (method, path), body in API_ROUTES.items():
        for label, headers in [
            ("missing", {}),
            ("expired", bearer(expired)),
            ("tampered", bearer(tampered)),
            ("wrong key", bearer(wrong_key)),
            ("alg none", bearer(unsigned)),
            ("not a token", bearer("garbage")),
        ]:
            response = call(client, method, path, body, headers)
            assert response.status_code == 401, (method, path, label, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 401 and response.json()["title"] == "Unauthorized"
    assert client.get("/healthz").status_code == 200
    assert {"/healthz", "/readyz"} == PUBLIC_PATHS


def test_chronology_needs_a_declared_purpose_and_is_audited(api: tuple[Hub, TestClient]) -> None:
    hub, client = api
    token = bearer(issue_dev_token(hub.token_key, "lcpp-0001"))
    denied = client.post("/api/v1/chronology", json={"child": VALID_NHS_NUMBER}, headers=token)
    assert denied.status_code == 200 and denied.json()["outcome"] == "denied"
    shown = client.post(
        "/api/v1/chronology",
        json={"child": VALID_NHS_NUMBER},
        headers={**token, "X-Hub-Purpose": "child-protection-enquiry"},
    )
    body = shown.json()
    assert (body["outcome"], len(body["entries"]), body["purpose"]) == (
        "disclosed",
        16,
        "child-protection-enquiry",
    )
    # The header is read from the released entries: who the child is, their agencies.
    header = body["header"]
    assert header["identifier"] == VALID_NHS_NUMBER and header["not_shared_by"] == []
    assert {a["agency"] for a in header["agencies"]} == {e["agency"] for e in body["entries"]}
    for name in ("Content-Security-Policy", "X-Frame-Options", "Cache-Control"):
        assert name in shown.headers
    assert shown.headers["Cache-Control"] == "no-store"
    who = client.post(
        "/api/v1/audit/who-saw",
        json={"child": VALID_NHS_NUMBER},
        headers=bearer(issue_dev_token(hub.token_key, "dpo-0001")),
    )
    assert [r["outcome"] for r in who.json()["rows"]] == ["denied", "disclosed"]
    refused = client.get("/api/v1/audit/break-glass", headers=token)
    assert refused.status_code == 403
    unknown = client.post(
        "/api/v1/chronology",
        json={"child": VALID_NHS_NUMBER},
        headers=bearer(issue_dev_token(hub.token_key, "nobody")),
    )
    assert unknown.status_code == 403


def test_only_the_documented_purposes_open_a_chronology(api: tuple[Hub, TestClient]) -> None:
    hub, client = api
    token = bearer(issue_dev_token(hub.token_key, "lcpp-0001"))
    for path, body in (
        ("/api/v1/chronology", {"child": VALID_NHS_NUMBER}),
        ("/api/v1/break-glass", {"child": VALID_NHS_NUMBER, "reason": "child missing"}),
    ):
        for undocumented in ("operation-encompass", "curiosity", "CHILD-PROTECTION-ENQUIRY"):
            refused = client.post(path, json=body, headers={**token, "X-Hub-Purpose": undocumented})
            assert refused.status_code == 422, (path, undocumented)
            detail = refused.json()["detail"]
            assert "X-Hub-Purpose" in detail and undocumented not in detail
            assert "child-protection-enquiry" in detail  # says what it accepts
    dpo = issue_dev_token(hub.token_key, "dpo-0001")
    who = client.post(
        "/api/v1/audit/who-saw", json={"child": VALID_NHS_NUMBER}, headers=bearer(dpo)
    )
    assert who.json()["rows"] == []  # nothing was disclosed, so nothing was recorded


def test_an_officer_ends_emergency_access_over_the_api(api: tuple[Hub, TestClient]) -> None:
    hub, client = api
    headers = {
        **bearer(issue_dev_token(hub.token_key, "po-0002")),
        "X-Hub-Purpose": "child-protection-enquiry",
    }
    child = {"child": VALID_NHS_NUMBER}
    glass = client.post(
        "/api/v1/break-glass", json={**child, "reason": "child missing"}, headers=headers
    )
    assert glass.json()["outcome"] == "disclosed"
    # An emergency view opens with who the child is, like every chronology view.
    assert glass.json()["header"]["identifier"] == VALID_NHS_NUMBER
    assert client.post("/api/v1/break-glass/end", json=child, headers=headers).json() == {
        "ended": True
    }
    after = client.post("/api/v1/chronology", json=child, headers=headers).json()
    assert (after["outcome"], after["break_glass"]) == ("denied", None)
    assert client.post("/api/v1/break-glass/end", json=child, headers=headers).json() == {
        "ended": False
    }


def test_agencies_publish_over_https_with_the_same_validation_and_idempotency(
    api: tuple[Hub, TestClient],
) -> None:
    hub, client = api
    agency = bearer(issue_dev_token(hub.token_key, "agency:shire-county-council"))
    events = [
        event_dict(event_id="HTTP-1"),
        event_dict(event_id="HTTP-2", child={"nhs_number": "9434765918"}),
    ]
    first = client.post("/api/v1/events", json=events, headers=agency).json()
    assert (first["accepted"], first["quarantined"]) == (1, {"invalid-event": 1})
    again = client.post("/api/v1/events", json=events[:1], headers=agency).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    other = client.post(
        "/api/v1/events",
        json=[event_dict(event_id="HTTP-3")],
        headers=bearer(issue_dev_token(hub.token_key, "agency:shire-constabulary")),
    ).json()
    assert other["quarantined"] == {"wrong-agency": 1}
    practitioner = client.post(
        "/api/v1/events", json=events, headers=bearer(issue_dev_token(hub.token_key, "lcpp-0001"))
    )
    assert practitioner.status_code == 403


def test_over_https_too_only_registered_agencies_publish_and_only_as_their_type(
    api: tuple[Hub, TestClient],
) -> None:
    """A token names the agency; the register says what it is. A school claiming to be a local
    authority (to allocate a worker, which would give them access to the child) and an agency
    the hub has never registered are quarantined, each with its own reason."""
    hub, client = api
    school = bearer(issue_dev_token(hub.token_key, "agency:school-100001"))
    claim = event_dict(
        event_id="SPOOF-1",
        agency={"id": "school-100001", "type": "local-authority"},
        kind="la.worker-allocated",
        details={"practitioner_id": "po-0002", "role": "social-worker"},
    )
    spoofed = client.post("/api/v1/events", json=[claim], headers=school).json()
    assert (spoofed["accepted"], spoofed["quarantined"]) == (0, {"wrong-agency-type": 1})
    stranger = bearer(issue_dev_token(hub.token_key, "agency:rogue-council"))
    unknown = event_dict(event_id="R-1", agency={"id": "rogue-council", "type": "local-authority"})
    refused = client.post("/api/v1/events", json=[unknown], headers=stranger).json()
    assert (refused["accepted"], refused["quarantined"]) == (0, {"unregistered-agency": 1})
    council = bearer(issue_dev_token(hub.token_key, "agency:shire-county-council"))
    outsider = event_dict(
        event_id="ALLOC-9",
        kind="la.worker-allocated",
        details={"practitioner_id": "po-0002", "role": "social-worker"},
    )
    allocation = client.post("/api/v1/events", json=[outsider], headers=council).json()
    assert allocation["quarantined"] == {"allocation-outside-authority": 1}


def test_oidc_tokens_are_verified_against_the_providers_published_keys(
    tmp_path: Path, sqlite_settings: HubSettings
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(
        json.dumps({"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]})
    )
    settings = sqlite_settings.model_copy(
        update={
            "directory": SAMPLE_DIRECTORY_PATH,
            "dev_tokens": False,
            "oidc_issuer": "https://idp.example",
            "oidc_audience": "hub",
            "oidc_jwks_file": jwks_file,
        }
    )
    hub = bootstrap(settings)
    register_agencies(hub)
    client = TestClient(create_app(hub, hub.token_verifier()))
    now = datetime.now(UTC)
    claims = {
        "sub": "lcpp-0001",
        "iss": "https://idp.example",
        "aud": "hub",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    # An access token (RFC 9068 typ at+jwt): the API refuses anything else (an ID token).
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "idp-1", "typ": "at+jwt"})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "idp-1"})
    wrong_issuer = jwt.encode(
        {**claims, "iss": "https://evil.example"}, key, algorithm="RS256", headers={"kid": "idp-1"}
    )
    dev = issue_dev_token(hub.token_key, "lcpp-0001")
    headers = {"X-Hub-Purpose": "child-protection-enquiry"}
    assert (
        client.post(
            "/api/v1/chronology",
            json={"child": VALID_NHS_NUMBER},
            headers={**headers, **bearer(good)},
        ).status_code
        == 200
    )
    for token in (forged, wrong_issuer, dev):
        assert (
            client.post(
                "/api/v1/chronology",
                json={"child": VALID_NHS_NUMBER},
                headers={**headers, **bearer(token)},
            ).status_code
            == 401
        )
    hub.close()


def test_every_error_is_problem_details_naming_the_field_never_the_value(
    api: tuple[Hub, TestClient],
) -> None:
    """RFC 9457: the hub's own refusals, FastAPI's validation errors and Starlette's 404 and
    405 for unknown routes and methods all answer `application/problem+json`."""
    hub, client = api
    token = bearer(issue_dev_token(hub.token_key, "lcpp-0001"))
    answers = {
        "unknown route": client.get("/api/v1/no-such-route", headers=token),
        "unknown method": client.delete("/api/v1/chronology", headers=token),
        "forbidden": client.get("/api/v1/audit/withheld", headers=token),
        "not valid": client.post(
            "/api/v1/chronology", json={"child": "Jo Bloggs 2020"}, headers=token
        ),
        "not JSON": client.post(
            "/api/v1/chronology",
            content=b"{not json",
            headers={**token, "Content-Type": "application/json"},
        ),
    }
    expected = {
        "unknown route": (404, "Not Found"),
        "unknown method": (405, "Method Not Allowed"),
        "forbidden": (403, "Forbidden"),
        "not valid": (422, "Unprocessable Entity"),
        "not JSON": (422, "Unprocessable Entity"),
    }
    for label, response in answers.items():
        assert response.headers["content-type"] == "application/problem+json", label
        problem = response.json()
        assert (problem["status"], problem["title"]) == expected[label], label
        assert response.status_code == problem["status"]
        assert {"type", "title", "status", "detail", "instance"} <= set(problem), label
        assert problem["instance"].startswith("urn:uuid:")  # this occurrence, nothing sent
    assert answers["unknown method"].headers["allow"] == "POST"
    invalid = answers["not valid"].json()
    assert invalid["detail"] == "the request is not valid: body.child"
    assert [e["loc"] for e in invalid["errors"]] == [["body", "child"]]
    assert "Bloggs" not in answers["not valid"].text


def test_openapi_is_generated_and_published(api: tuple[Hub, TestClient]) -> None:
    _, client = api
    published = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text()
    )
    assert client.app.openapi() == published  # type: ignore[attr-defined]
    assert client.get("/openapi.json").status_code == 404  # not served unauthenticated
    assert client.get("/docs").status_code == 404


def test_a_school_dsl_reads_and_acknowledges_their_notices(api: tuple[Hub, TestClient]) -> None:
    hub, client = api
    at = datetime.now(UTC) - timedelta(hours=1)
    incident = event_dict(
        event_id="DA-API-1",
        agency={"id": "shire-constabulary", "type": "police"},
        kind="police.domestic-abuse-incident",
        categories=["domestic-abuse"],
        occurred_at=at.isoformat(),
        recorded_at=at.isoformat(),
        summary="Shouting heard by neighbours",
        details={"child_present": True, "police_reference": "OE-API-1"},
    )
    details = event_dict(
        event_id="CD-API-1",
        agency={"id": "shire-county-council", "type": "local-authority"},
        kind="la.child-details",
        categories=[],
        details={
            "given_names": ["Madison"],
            "family_name": "Wright",
            "date_of_birth": "2019-03-04",
            "sex": "female",
            "ethnic_category": "M",
        },
    )
    hub.ingest.ingest(
        [
            InboundMessage(
                "inbox:shire-county-council/api",
                1,
                json.dumps(details).encode(),
                "shire-county-council",
            )
        ]
    )
    hub.ingest.ingest(
        [
            InboundMessage(
                "inbox:shire-constabulary/api",
                1,
                json.dumps(incident).encode(),
                "shire-constabulary",
            ),
        ]
    )
    hub.consumer_runner("encompass").run_once()
    dsl = bearer(issue_dev_token(hub.token_key, "dsl-100001"))
    # The case's own recent incidents reach the DSL too: a notice is routed when delivered, by
    # the enrolment the school published after the police published them.
    notices = client.get("/api/v1/notices", headers=dsl).json()["notices"]
    [notice] = [n for n in notices if n["police_reference"] == "OE-API-1"]
    # It opens with who the child is, as the chronology does, and nothing else of the record.
    header = notice["header"]
    assert (header["name"], header["date_of_birth"]) == ("Madison Wright", "4 March 2019")
    assert '"M"' not in json.dumps(notice)
    assert (notice["child"], notice["police_reference"], notice["acknowledged_by"]) == (
        VALID_NHS_NUMBER,
        "OE-API-1",
        None,
    )
    assert "Shouting" not in json.dumps(notice)
    other = bearer(issue_dev_token(hub.token_key, "dsl-100002"))
    assert client.get("/api/v1/notices", headers=other).json() == {"notices": []}
    refused = client.post(f"/api/v1/notices/{notice['id']}/ack", headers=other)
    assert refused.status_code == 403
    missing = client.post("/api/v1/notices/0000/ack", headers=dsl)
    assert missing.status_code == 404
    acked = client.post(f"/api/v1/notices/{notice['id']}/ack", headers=dsl)
    assert acked.status_code == 200 and acked.json()["acknowledged"]["by"] == "dsl-100001"
    [after] = [
        n
        for n in client.get("/api/v1/notices", headers=dsl).json()["notices"]
        if n["id"] == notice["id"]
    ]
    assert after["acknowledged_by"] == "dsl-100001"
