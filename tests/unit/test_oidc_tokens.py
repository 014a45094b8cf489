"""The checks on the tokens an OpenID provider issues, with a local key (joserfc, Authlib's JOSE
library): the ID token the pages sign in with, the back-channel logout token, the access token
the API takes, and the settings that decide which are accepted. The provider's discovery and
keys are served from memory here; tests/e2e/test_browser_oidc.py runs the real provider."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from hub.adapters.oidc import (
    BACKCHANNEL_LOGOUT_EVENT,
    OidcClientConfig,
    OidcRelyingParty,
    SignInRefusedError,
)
from hub.adapters.tokens import InvalidTokenError, TokenVerifier
from hub.cli import main
from hub.settings import HubSettings

ISSUER = "https://login.example.nhs.uk"
CLIENT = "safeguarding-hub-pages"
API = "https://hub.example/api"
NONCE = "the-nonce-this-sign-in-sent"
KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)


class Answer:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return self.document


class ProviderDocuments:
    """The provider's discovery document and JWKS, as `requests.Session.get` would return."""

    def get(self, url: str, **_: Any) -> Answer:
        documents = {
            f"{ISSUER}/.well-known/openid-configuration": {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "end_session_endpoint": f"{ISSUER}/logout",
            },
            f"{ISSUER}/jwks": {"keys": [KEY.as_dict(private=False)]},
        }
        return Answer(documents[url])


def party(**options: Any) -> OidcRelyingParty:
    config = OidcClientConfig(
        issuer=ISSUER,
        client_id=CLIENT,
        redirect_uri="https://hub.example/auth/callback",
        auth_method="client_secret_basic",
        client_secret="s",  # never sent in these tests
        practitioner_claim="practitioner_id",
        **options,
    )
    return OidcRelyingParty(config, http=ProviderDocuments())  # type: ignore[arg-type]


def sign(claims: dict[str, Any], typ: str = "JWT", key: RSAKey = KEY) -> str:
    return jwt.encode({"alg": "RS256", "kid": "idp-1", "typ": typ}, claims, key)


def id_token(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "a1b2c3",
        "practitioner_id": "lcpp-0001",
        "nonce": NONCE,
        "iat": now,
        "exp": now + 300,
        "acr": "AAL3",
        "sid": "provider-session-1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_an_id_token_issued_20_s_ahead_is_accepted_and_120_s_ahead_refused() -> None:
    now = int(time.time())
    relying = party()
    assert relying.verify_id_token(sign(id_token(iat=now + 20)), NONCE)["sub"] == "a1b2c3"
    with pytest.raises(SignInRefusedError, match="iat"):
        relying.verify_id_token(sign(id_token(iat=now + 120)), NONCE)
    # and either side of exp: 20 s past is within the leeway, 120 s is not
    relying.verify_id_token(sign(id_token(iat=now - 400, exp=now - 20)), NONCE)
    with pytest.raises(SignInRefusedError):
        relying.verify_id_token(sign(id_token(iat=now - 400, exp=now - 120)), NONCE)


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"nonce": "another-sign-in"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"aud": "another-client"}, "aud"),
        ({"iss": "https://login.evil.example"}, "iss"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"aud": [CLIENT, "another-client"]}, "azp"),
        ({"acr": None}, "acr"),
        ({"acr": "AAL1"}, "acr"),
    ],
)
def test_an_id_token_failing_a_check_is_refused_naming_the_claim(
    changes: dict[str, Any], names: str
) -> None:
    token = sign(id_token(**changes))
    with pytest.raises(SignInRefusedError, match=names) as refused:
        party(required_acr=("AAL3",)).verify_id_token(token, NONCE)
    assert "lcpp-0001" not in str(refused.value) and "a1b2c3" not in str(refused.value)


def test_an_id_token_signed_by_another_key_is_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)
    with pytest.raises(SignInRefusedError, match="not signed by a key it publishes"):
        party().verify_id_token(sign(id_token(), key=other), NONCE)


def test_several_acr_values_may_be_required_and_any_one_is_enough() -> None:
    relying = party(required_acr=("AAL3", "AAL2"))
    relying.verify_id_token(sign(id_token(acr="AAL2")), NONCE)


def logout_token(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": int(time.time()),
        "jti": "logout-1",
        "sid": "provider-session-1",
        "sub": "a1b2c3",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_back_channel_logout_token_names_the_provider_session() -> None:
    logout = party().verify_logout_token(sign(logout_token(), typ="logout+jwt"))
    assert (logout.provider_sid, logout.provider_subject) == ("provider-session-1", "a1b2c3")


@pytest.mark.parametrize(
    ("changes", "typ"),
    [
        ({"events": None}, "logout+jwt"),
        ({"events": {"http://schemas.openid.net/event/other": {}}}, "logout+jwt"),
        ({"nonce": "n"}, "logout+jwt"),
        ({"sid": None, "sub": None}, "logout+jwt"),
        ({"aud": "another-client"}, "logout+jwt"),
        ({"jti": None}, "logout+jwt"),
        ({"iat": "120 s ahead"}, "logout+jwt"),  # worked out when the test runs
        ({}, "at+jwt"),
    ],
)
def test_a_logout_token_failing_a_check_is_refused(changes: dict[str, Any], typ: str) -> None:
    if changes.get("iat") == "120 s ahead":  # not at collection: the suite runs for minutes
        changes = {**changes, "iat": int(time.time()) + 120}
    with pytest.raises(SignInRefusedError, match="logout token"):
        party().verify_logout_token(sign(logout_token(**changes), typ=typ))


def test_rp_initiated_logout_sends_the_id_token_as_hint() -> None:
    url = party(post_logout_redirect_uri="https://hub.example/auth/signed-out").logout_url(
        "the.id.token", "st"
    )
    assert url is not None and url.startswith(f"{ISSUER}/logout?")
    assert "id_token_hint=the.id.token" in url
    assert "post_logout_redirect_uri=https%3A%2F%2Fhub.example%2Fauth%2Fsigned-out" in url


def test_the_authorization_request_uses_pkce_a_nonce_and_the_required_acr() -> None:
    url, pending = party(required_acr=("AAL3",)).start("child-protection-planning")
    assert url.startswith(f"{ISSUER}/authorize?")
    assert "code_challenge_method=S256" in url and "code_challenge=" in url
    assert f"nonce={pending.nonce}" in url and f"state={pending.state}" in url
    assert "acr_values=AAL3" in url
    assert pending.code_verifier not in url


def api_verifier(tmp_path: Path, **options: Any) -> TokenVerifier:
    return TokenVerifier(
        dev_key=None,
        oidc_issuer=ISSUER,
        oidc_audience=API,
        oidc_jwks={"keys": [KEY.as_dict(private=False)]},
        practitioner_claim="practitioner_id",
        **options,
    )


def access_token(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": API, "sub": "a1b2c3", "practitioner_id": "lcpp-0001",
              "iat": now, "exp": now + 300, "client_id": CLIENT, "scope": "openid"}  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_the_api_takes_an_access_token_as_the_mapped_practitioner(tmp_path: Path) -> None:
    verifier = api_verifier(tmp_path)
    assert verifier.verify(sign(access_token(), typ="at+jwt")).subject == "lcpp-0001"
    now = int(time.time())
    assert verifier.verify(sign(access_token(iat=now + 20), typ="at+jwt")).subject == "lcpp-0001"
    with pytest.raises(InvalidTokenError, match="ImmatureSignatureError"):
        verifier.verify(sign(access_token(iat=now + 120), typ="at+jwt"))
    with pytest.raises(InvalidTokenError, match="no practitioner_id claim"):
        verifier.verify(sign(access_token(practitioner_id=None), typ="at+jwt"))
    agency = sign(access_token(sub="agency:shire-county-council", practitioner_id=None), "at+jwt")
    assert verifier.verify(agency).agency == "shire-county-council"


def test_the_api_refuses_an_id_token_used_as_an_access_token(tmp_path: Path) -> None:
    verifier = api_verifier(tmp_path)
    # As an ID token comes: typ JWT, the client's audience, a nonce.
    with pytest.raises(InvalidTokenError, match="not an access token"):
        verifier.verify(sign(id_token()))
    # Even with the API's audience and an accepted typ, the ID-token-only claims give it away.
    lenient = api_verifier(tmp_path, access_token_types=("at+jwt", "jwt"))
    for claims in (
        access_token(nonce=NONCE),
        access_token(at_hash="x"),
        access_token(token_use="id"),
    ):
        with pytest.raises(InvalidTokenError, match="an ID token is not an access token"):
            lenient.verify(sign(claims))
    assert lenient.verify(sign(access_token())).subject == "lcpp-0001"  # Entra-style typ JWT


def test_development_tokens_are_off_by_default_and_refused_with_a_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUB_DEV_TOKENS", raising=False)  # tests/conftest.py enables them
    assert HubSettings(data_dir=tmp_path).dev_tokens is False
    with pytest.raises(ValueError, match="HUB_DEV_TOKENS=true and HUB_OIDC_ISSUER"):
        HubSettings(
            dev_tokens=True,
            oidc_issuer=ISSUER,
            oidc_audience=API,
            oidc_jwks_url=f"{ISSUER}/jwks",
        )
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_DEV_TOKENS", "true")
    monkeypatch.setenv("HUB_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("HUB_OIDC_AUDIENCE", API)
    monkeypatch.setenv("HUB_OIDC_CLIENT_ID", CLIENT)
    monkeypatch.setenv("HUB_OIDC_CLIENT_SECRET", "from-a-secret-file")
    assert main(["status"]) == 1  # `hub serve` included: nothing starts
    assert "HUB_DEV_TOKENS=true and HUB_OIDC_ISSUER" in capsys.readouterr().err


def test_a_pages_client_needs_a_way_to_authenticate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DEV_TOKENS", "false")
    base = {"oidc_issuer": ISSUER, "oidc_audience": API, "oidc_client_id": CLIENT}
    with pytest.raises(ValueError, match=r"HUB_OIDC_CLIENT_KEY_FILE .* or HUB_OIDC_CLIENT_SECRET"):
        HubSettings(**base)
    with pytest.raises(ValueError, match="private_key_jwt needs HUB_OIDC_CLIENT_KEY_FILE"):
        HubSettings(**base, oidc_client_auth_method="private_key_jwt", oidc_client_secret="s")
    keyed = HubSettings(**base, oidc_client_key_file=Path("/run/secrets/hub_oidc_client_key"))
    assert keyed.oidc_client_method() == "private_key_jwt"
    secret = HubSettings(**base, oidc_client_secret="s", oidc_required_acr="AAL3, AAL2")
    assert secret.oidc_client_method() == "client_secret_basic"
    assert secret.oidc_required_acr_values == ("AAL3", "AAL2")
    with pytest.raises(ValueError, match="HUB_OIDC_CLIENT_ID is set without HUB_OIDC_ISSUER"):
        HubSettings(oidc_client_id=CLIENT, oidc_client_secret="s")
