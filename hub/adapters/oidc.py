"""OpenID Connect sign-in for the web pages: the relying party's side of the protocol.

The authorization code flow with PKCE (S256), as NHS CIS2 and Microsoft Entra ID require: the
provider's endpoints come from its discovery document (`<issuer>/.well-known/openid-configuration`),
the client authenticates at the token endpoint with `private_key_jwt` (a key only the hub holds)
or a client secret, and the ID token is checked before anyone is signed in: its signature
against the provider's published keys, `iss`, `aud` (and `azp` when there are several
audiences), `exp` and `iat` with a small clock leeway, the `nonce` this sign-in sent, and that
its `acr` is one the deployment requires. The practitioner is the value of a configurable claim
(`sub` by default), so a provider's opaque subject can be mapped to the hub's directory.

Logout: `logout_url` for RP-initiated logout (the provider's `end_session_endpoint` with the ID
token as hint), and `verify_logout_token` for OpenID Connect Back-Channel Logout 1.0.

The HTTP client and OAuth 2.0 client are Authlib's; JOSE (keys, signatures, claims) is joserfc,
Authlib's own JOSE library.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CLIENT_AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")
HTTP_TIMEOUT_S = 10


class SignInRefusedError(PermissionError):
    """The provider's answer cannot sign anyone in. The message is for the person at the
    browser and names what was wrong, never a token or claim value."""


class ProviderUnavailableError(ConnectionError):
    """The identity provider did not answer (discovery, keys or token endpoint)."""


@dataclass(frozen=True)
class OidcClientConfig:
    issuer: str
    client_id: str
    redirect_uri: str
    auth_method: str  # one of CLIENT_AUTH_METHODS
    client_secret: str | None = None
    client_key_pem: bytes | None = None  # private_key_jwt: the hub's private key (PEM)
    client_key_id: str | None = None
    scopes: str = "openid profile"
    practitioner_claim: str = "sub"
    required_acr: tuple[str, ...] = ()
    leeway_seconds: int = 60
    post_logout_redirect_uri: str | None = None

    def __post_init__(self) -> None:
        if self.auth_method not in CLIENT_AUTH_METHODS:
            raise ValueError(f"client authentication must be one of {CLIENT_AUTH_METHODS}")
        if self.auth_method == "private_key_jwt" and not self.client_key_pem:
            raise ValueError("private_key_jwt needs the client's private key")
        if self.auth_method != "private_key_jwt" and not self.client_secret:
            raise ValueError(f"{self.auth_method} needs the client secret")


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser carries (signed) between leaving for the provider and coming back."""

    state: str
    nonce: str
    code_verifier: str
    purpose: str


@dataclass(frozen=True)
class SignedIn:
    practitioner_id: str
    provider_subject: str
    provider_sid: str | None
    id_token: str
    expires_at: int  # the ID token's exp (seconds since the epoch)


@dataclass(frozen=True)
class LogoutRequest:
    """A verified back-channel logout: end the hub sessions of this subject and/or session."""

    provider_subject: str | None
    provider_sid: str | None


class OidcRelyingParty:
    """One configured provider and client; discovery and keys are fetched once and cached
    (the keys again when a token names a key id not seen yet, i.e. after a rotation)."""

    def __init__(
        self,
        config: OidcClientConfig,
        *,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._http = http or requests.Session()
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    # -- discovery and keys -------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                document = self._get_json(url)
                if document.get("issuer") != self.config.issuer:
                    raise ProviderUnavailableError(
                        "the provider's discovery document names a different issuer"
                    )
                self._metadata = document
            return self._metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, timeout=HTTP_TIMEOUT_S)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailableError(
                f"identity provider unavailable ({type(error).__name__})"
            ) from None
        if not isinstance(document, dict):
            raise ProviderUnavailableError("identity provider answered with no JSON object")
        return document

    def _key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            keys = self._keys
        known = keys is not None and (kid is None or any(k.kid == kid for k in keys.keys))
        if keys is None or not known:
            keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
            with self._lock:
                self._keys = keys
        return keys

    def _decode(self, token: str) -> jwt.Token:
        try:
            kid = extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError):
            raise SignInRefusedError("the identity provider's token could not be read") from None
        try:
            return jwt.decode(token, self._key_set(kid), algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError):
            raise SignInRefusedError(
                "the identity provider's token is not signed by a key it publishes"
            ) from None

    # -- the authorization code flow ----------------------------------------------------

    def _oauth_client(self) -> OAuth2Session:
        config = self.config
        if config.auth_method == "private_key_jwt":
            assert config.client_key_pem is not None  # checked in OidcClientConfig
            client = OAuth2Session(
                config.client_id,
                config.client_key_pem.decode(),
                token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name
                scope=config.scopes,
                redirect_uri=config.redirect_uri,
                code_challenge_method="S256",
            )
            client.register_client_auth_method(
                PrivateKeyJWT(self.metadata()["token_endpoint"], alg="RS256")
            )
            return client
        return OAuth2Session(
            config.client_id,
            config.client_secret,
            token_endpoint_auth_method=config.auth_method,
            scope=config.scopes,
            redirect_uri=config.redirect_uri,
            code_challenge_method="S256",
        )

    def start(self, purpose: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL to send the browser to, and what to remember."""
        pending = PendingSignIn(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            purpose=purpose,
        )
        extra: dict[str, str] = {"nonce": pending.nonce}
        if self.config.required_acr:
            extra["acr_values"] = " ".join(self.config.required_acr)
        url, _ = self._oauth_client().create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.code_verifier,
            **extra,
        )
        return url, pending

    def finish(self, pending: PendingSignIn, code: str) -> SignedIn:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        client = self._oauth_client()
        try:
            tokens = client.fetch_token(
                self.metadata()["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as error:
            raise ProviderUnavailableError(
                f"identity provider unavailable ({type(error).__name__})"
            ) from None
        except Exception as error:  # Authlib's OAuthError: the provider refused the code
            raise SignInRefusedError(
                f"the identity provider refused the sign-in ({type(error).__name__})"
            ) from None
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefusedError("the identity provider sent no ID token")
        claims = self.verify_id_token(id_token, pending.nonce)
        practitioner = claims.get(self.config.practitioner_claim)
        if practitioner is None and "userinfo_endpoint" in self.metadata():
            practitioner = self._userinfo(str(tokens.get("access_token", "")), claims["sub"]).get(
                self.config.practitioner_claim
            )
        if not isinstance(practitioner, str) or not practitioner:
            raise SignInRefusedError(
                f"the identity provider did not say who you are in the hub's directory "
                f"(no {self.config.practitioner_claim} claim)"
            )
        sid = claims.get("sid")
        return SignedIn(
            practitioner_id=practitioner,
            provider_subject=str(claims["sub"]),
            provider_sid=sid if isinstance(sid, str) else None,
            id_token=id_token,
            expires_at=int(claims["exp"]),
        )

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        try:
            response = self._http.get(
                self.metadata()["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=HTTP_TIMEOUT_S,
            )
            response.raise_for_status()
            info = response.json()
        except (requests.RequestException, ValueError):
            return {}
        # OpenID Connect Core 5.3.2: the UserInfo sub must be the ID token's, or ignore it.
        return info if isinstance(info, dict) and info.get("sub") == subject else {}

    def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """OpenID Connect Core 3.1.3.7, with `leeway_seconds` either way on exp and iat."""
        token = self._decode(id_token)
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self.config.leeway_seconds,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            claim = getattr(error, "claim", None)
            raise SignInRefusedError(
                "the identity provider's ID token was refused"
                + (f" (its {claim} claim)" if claim else f" ({type(error).__name__})")
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise SignInRefusedError("the ID token was issued to another client (its azp claim)")
        if self.config.required_acr and claims.get("acr") not in self.config.required_acr:
            raise SignInRefusedError(
                "your sign-in did not meet the assurance level this hub requires (its acr "
                f"claim must be one of: {', '.join(self.config.required_acr)})"
            )
        return claims

    # -- logout -------------------------------------------------------------------------

    def logout_url(self, id_token: str | None, state: str) -> str | None:
        """RP-initiated logout: where to send the browser so the provider ends its session
        too, or None when the provider offers no end_session_endpoint."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except ProviderUnavailableError:
            return None
        if not endpoint:
            return None
        params: dict[str, str] = {"client_id": self.config.client_id, "state": state}
        if id_token:
            params["id_token_hint"] = id_token
        if self.config.post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = self.config.post_logout_redirect_uri
        return str(requests.Request("GET", endpoint, params=params).prepare().url)

    def verify_logout_token(self, logout_token: str) -> LogoutRequest:
        """OpenID Connect Back-Channel Logout 1.0, section 2.6."""
        token = self._decode(logout_token)
        typ = token.header.get("typ")
        if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt"):
            raise SignInRefusedError("not a logout token (its typ header)")
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self.config.leeway_seconds,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            claim = getattr(error, "claim", None)
            reason = claim or type(error).__name__
            raise SignInRefusedError(f"logout token refused ({reason})") from None
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise SignInRefusedError("logout token refused (its events claim)")
        if "nonce" in claims:
            raise SignInRefusedError("logout token refused (it carries a nonce)")
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) and not isinstance(sid, str):
            raise SignInRefusedError("logout token refused (neither sub nor sid)")
        return LogoutRequest(
            provider_subject=sub if isinstance(sub, str) else None,
            provider_sid=sid if isinstance(sid, str) else None,
        )
