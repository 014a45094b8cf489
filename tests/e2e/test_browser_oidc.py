"""Signing in to the web pages with a real OpenID provider, in a real Chromium.

The provider is panva/oidc-provider under Node.js (`tests/identity_provider.py`); the hub is the
real `hub serve` on the demo data, configured as a deployment would be: the authorization code
flow with PKCE, `private_key_jwt` at the token endpoint, the practitioner id from the provider's
`practitioner_id` claim (its subject is the person's login there, not the hub's id), `acr` AAL3
required, development tokens off. The provider's login form lets the test choose the
authentication level the sign-in reached.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_browser as web
from tests.e2e.test_browser import hub_cli, shot, stop
from tests.factories import VALID_NHS_NUMBER
from tests.identity_provider import CLIENT_SECRET, IdentityProvider

browser = web.browser
PURPOSE = "child-protection-planning"


@dataclass(frozen=True)
class OidcHub:
    url: str
    data_dir: str
    provider: IdentityProvider


def start(command: list[str], log: Path, url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `hub serve` with these settings and wait (bounded) until /healthz answers."""
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)  # bounded poll interval while the port opens, not a sync point
    stop(process)
    raise AssertionError(f"server did not answer within 60 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def hub_server(
    identity_provider: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcHub]:
    work = tmp_path_factory.mktemp("oidc-web")
    data_dir = str(work / "hub")
    hub_cli("demo", "--children", "10", "--data-dir", data_dir)
    url = identity_provider.hub_url
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    env = {**os.environ, "HUB_LOG_LEVEL": "warning", **identity_provider.hub_env("hub-key")}
    process = start(
        [*command, "--port", str(identity_provider.hub_port)], work / "server.log", url, env
    )
    try:
        yield OidcHub(url, data_dir, identity_provider)
    finally:
        stop(process)


@pytest.fixture
def new_page(hub_server: OidcHub, browser: Browser) -> Iterator[Callable[[], Page]]:
    contexts = []

    def make() -> Page:
        context = browser.new_context(base_url=hub_server.url)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, login: str, acr: str = "AAL3", *, known_to_provider: bool = False) -> None:
    """From the hub's login page, through the provider's, back to the hub."""
    page.goto("/")
    expect(page.get_by_label("Access token")).to_have_count(0)  # no token box with OIDC
    page.get_by_label("Purpose").select_option(PURPOSE)
    page.get_by_role("button", name="Sign in with your organisation's account").click()
    if known_to_provider:
        return  # the provider's session still stands: straight back to the hub
    expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill("any password will do")
    page.get_by_label("Authentication level").select_option(acr)
    page.get_by_role("button", name="Sign in").click()


def signed_in_as(page: Page, hub: OidcHub, practitioner: str) -> None:
    expect(page).to_have_url(f"{hub.url}/chronology")
    expect(page.locator(".practitioner-id")).to_have_text(practitioner)
    expect(page.locator(".purpose")).to_have_text("Child protection planning")


def signed_out(page: Page, hub: OidcHub) -> None:
    """The hub no longer knows this browser: its pages send it to the login page."""
    page.goto("/chronology")
    expect(page).to_have_url(f"{hub.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_sign_in_with_the_provider_maps_the_claim_and_sign_out_ends_both_sessions(
    hub_server: OidcHub, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sign_in(page, "alice.lead")
    signed_in_as(page, hub_server, "lcpp-0001")  # the provider's subject is "alice.lead"
    expect(page.get_by_role("banner")).to_contain_text("Morag Ellison")
    shot(page, "oidc-signed-in")

    page.get_by_role("button", name="Sign out").click()  # RP-initiated logout
    expect(page).to_have_url(re.compile(re.escape(hub_server.provider.issuer) + "/session/end"))
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page).to_have_url(re.compile(re.escape(f"{hub_server.url}/auth/signed-out")))
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    signed_out(page, hub_server)
    # The provider's session ended too: signing in again asks for the login again.
    sign_in(page, "alice.lead")
    signed_in_as(page, hub_server, "lcpp-0001")


def test_back_channel_logout_from_the_provider_ends_that_hub_session_only(
    hub_server: OidcHub, new_page: Callable[[], Page]
) -> None:
    alice, dora = new_page(), new_page()
    sign_in(alice, "alice.lead")
    signed_in_as(alice, hub_server, "lcpp-0001")
    sign_in(dora, "dora.dpo")
    signed_in_as(dora, hub_server, "dpo-0001")

    # Alice signs out at the provider itself (not through the hub): the provider tells the hub
    # over the back channel (a signed logout token naming her provider session).
    alice.goto(f"{hub_server.provider.issuer}/session/end")
    alice.get_by_role("button", name="Yes, sign me out").click()
    expect(alice.get_by_text("Sign-out Success", exact=False)).to_be_visible()
    signed_out(alice, hub_server)
    dora.goto("/chronology")
    signed_in_as(dora, hub_server, "dpo-0001")


@pytest.mark.parametrize("acr", ["AAL1", ""])
def test_a_sign_in_below_the_required_assurance_level_is_refused(
    hub_server: OidcHub, new_page: Callable[[], Page], acr: str
) -> None:
    page = new_page()
    sign_in(page, "alice.lead", acr)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("did not meet the assurance level this hub requires")
    expect(alert).to_contain_text("AAL3")
    shot(page, f"oidc-refused-acr-{acr or 'none'}")
    signed_out(page, hub_server)


def test_a_provider_account_not_in_the_directory_is_refused(
    hub_server: OidcHub, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    sign_in(page, "nobody")
    expect(page.get_by_role("alert")).to_contain_text("not linked to a practitioner")
    signed_out(page, hub_server)


def provider_tokens(provider: IdentityProvider, login: str) -> dict[str, Any]:
    """The code flow without a browser, as the `hub-secret` client: the provider's tokens."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    redirect_uri = f"{provider.hub_url}/auth/callback"
    with httpx.Client(base_url=provider.issuer, timeout=10) as client:
        response = client.get(
            "/auth",
            params={
                "client_id": "hub-secret",
                "response_type": "code",
                "scope": "openid profile",
                "redirect_uri": redirect_uri,
                "state": "s",
                "nonce": "n",
                "code_challenge": challenge.decode(),
                "code_challenge_method": "S256",
            },
        )
        assert response.status_code == 303, response.text
        form = client.get(response.headers["location"])
        action = re.search(r'action="([^"]+)"', form.text)
        assert action is not None
        response = client.post(
            action.group(1), data={"login": login, "password": "x", "acr": "AAL3"}
        )
        while response.status_code in (302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                break
            response = client.get(location)
        code = parse_qs(urlparse(location).query)["code"][0]
        tokens = client.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=("hub-secret", CLIENT_SECRET),
        )
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())


def test_the_api_takes_the_providers_access_token_and_refuses_its_id_token(
    hub_server: OidcHub,
) -> None:
    tokens = provider_tokens(hub_server.provider, "alice.lead")
    dev_token = hub_cli("token", "issue", "--practitioner", "lcpp-0001",
                        "--data-dir", hub_server.data_dir)["token"]  # fmt: skip

    def chronology(token: str) -> int:
        response = httpx.post(
            f"{hub_server.url}/api/v1/chronology",
            json={"child": VALID_NHS_NUMBER},
            headers={"Authorization": f"Bearer {token}", "X-Hub-Purpose": PURPOSE},
            timeout=30,
        )
        return response.status_code

    assert chronology(tokens["access_token"]) == 200  # typ at+jwt, practitioner_id claim
    assert chronology(tokens["id_token"]) == 401  # an ID token is not an access token
    assert chronology(dev_token) == 401  # development tokens are off with a provider


def test_the_client_secret_client_signs_in_too(identity_provider: IdentityProvider) -> None:
    """The same flow with client_secret_basic at the token endpoint, through the hub's own
    relying party (`hub.adapters.oidc`), not a browser."""
    from hub.adapters.oidc import OidcClientConfig, OidcRelyingParty

    party = OidcRelyingParty(
        OidcClientConfig(
            issuer=identity_provider.issuer,
            client_id="hub-secret",
            redirect_uri=f"{identity_provider.hub_url}/auth/callback",
            auth_method="client_secret_basic",
            client_secret=CLIENT_SECRET,
            practitioner_claim="practitioner_id",
            required_acr=("AAL3",),
        )
    )
    url, pending = party.start(PURPOSE)
    assert "code_challenge_method=S256" in url
    with httpx.Client(timeout=10) as client:
        response = client.get(url)
        form = client.get(urljoin(url, response.headers["location"]))
        action = re.search(r'action="([^"]+)"', form.text)
        assert action is not None
        response = client.post(
            urljoin(url, action.group(1)),
            data={"login": "dora.dpo", "password": "x", "acr": "AAL3"},
        )
        while not response.headers["location"].startswith(identity_provider.hub_url):
            response = client.get(urljoin(url, response.headers["location"]))
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == [pending.state]
    signed_in = party.finish(pending, query["code"][0])
    assert signed_in.practitioner_id == "dpo-0001"
    assert signed_in.provider_subject == "dora.dpo"
    assert signed_in.provider_sid
    assert signed_in.expires_at > time.time()


def test_the_token_box_is_closed_and_a_callback_not_started_here_is_refused(
    hub_server: OidcHub,
) -> None:
    dev_token = hub_cli("token", "issue", "--practitioner", "lcpp-0001",
                        "--data-dir", hub_server.data_dir)["token"]  # fmt: skip
    with httpx.Client(base_url=hub_server.url, timeout=30) as client:
        login_page = client.get("/")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
        assert csrf is not None
        answer = client.post(
            "/login", data={"token": dev_token, "purpose": PURPOSE, "csrf_token": csrf.group(1)}
        )
        assert answer.status_code == 400
        assert "tokens are not taken here" in answer.text
        # A code and state from elsewhere (login CSRF): no sign-in was started in this client.
        planted = client.get("/auth/callback", params={"code": "abc", "state": "xyz"})
        assert planted.status_code == 400
        assert "not started from this browser" in planted.text
        assert "hub_session" not in client.cookies
