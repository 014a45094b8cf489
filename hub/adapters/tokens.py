"""Who is calling: signed bearer tokens.

Development: `hub token issue --practitioner ID` signs a short-lived HS256 token with a local
key (`<data-dir>/keys/api-token.key`). Deployment: tokens from the partnership's OIDC provider,
verified against its published keys (a JWKS document) with the configured issuer and audience
(`HUB_OIDC_ISSUER`, `HUB_OIDC_AUDIENCE`, `HUB_OIDC_JWKS_FILE` or `HUB_OIDC_JWKS_URL`, or the
`jwks_uri` of the provider's discovery document). The practitioner id is the claim
`HUB_OIDC_PRACTITIONER_CLAIM` names (`sub` by default); agency systems are `agency:<id>` subjects.

An API bearer token must be an access token: a provider's ID token (the web pages' sign-in
proof, `hub.adapters.oidc`) is refused here, by its `typ` header (RFC 9068 `at+jwt` unless
`HUB_OIDC_ACCESS_TOKEN_TYPES` says otherwise) and by the claims only ID tokens carry (`nonce`,
`at_hash`, `c_hash`, `token_use: id`). Clocks may disagree by `HUB_OIDC_LEEWAY_SECONDS` (60).
Development tokens are never accepted alongside a provider (`hub.settings`).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

DEV_ISSUER = "hub-dev"
DEV_AUDIENCE = "hub"
DEFAULT_LEEWAY_SECONDS = 60
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash")


class InvalidTokenError(PermissionError):
    """Missing, expired, tampered or wrongly signed token: the request is refused."""


@dataclass(frozen=True)
class Caller:
    subject: str  # practitioner id, or "agency:<agency id>"

    @property
    def agency(self) -> str | None:
        return self.subject.removeprefix("agency:") if self.subject.startswith("agency:") else None


class TokenVerifier:
    def __init__(
        self,
        *,
        dev_key: bytes | None,
        oidc_issuer: str | None = None,
        oidc_audience: str | None = None,
        oidc_jwks: dict[str, Any] | None = None,
        oidc_jwks_url: str | None = None,
        oidc_discovery: bool = False,
        practitioner_claim: str = "sub",
        access_token_types: tuple[str, ...] = ACCESS_TOKEN_TYPES,
        leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self._dev_key = dev_key
        if oidc_issuer and not oidc_audience:
            raise ValueError("an OpenID issuer needs the audience this hub's tokens carry")
        self._issuer = oidc_issuer
        self._audience = oidc_audience
        self._jwks = jwt.PyJWKSet.from_dict(oidc_jwks) if oidc_jwks else None
        self._jwks_client = jwt.PyJWKClient(oidc_jwks_url) if oidc_jwks_url else None
        # No keys configured: the provider's discovery document says where they are (read on
        # the first OIDC token, so the hub starts while the provider is briefly away).
        self._discover = oidc_discovery and not (oidc_jwks or oidc_jwks_url)
        self._lock = threading.Lock()
        self._practitioner_claim = practitioner_claim
        self._access_token_types = tuple(t.lower() for t in access_token_types)
        self._leeway = leeway_seconds

    @classmethod
    def from_jwks_file(cls, path: Path, issuer: str, audience: str) -> TokenVerifier:
        return cls(
            dev_key=None,
            oidc_issuer=issuer,
            oidc_audience=audience,
            oidc_jwks=json.loads(path.read_text()),
        )

    def verify(self, token: str | None) -> Caller:
        if not token:
            raise InvalidTokenError("no bearer token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") == "HS256" and self._dev_key is not None:
                claims = jwt.decode(
                    token,
                    self._dev_key,
                    algorithms=["HS256"],
                    audience=DEV_AUDIENCE,
                    issuer=DEV_ISSUER,
                    options={"require": ["exp", "sub", "iat"]},
                    leeway=self._leeway,
                )
                return Caller(str(claims["sub"]))
            if self._issuer and (self._jwks or self._jwks_client or self._discover):
                self._refuse_non_access_token(header)
                key = self._signing_key(token, header)
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256", "PS256", "ES256", "EdDSA"],
                    audience=self._audience,
                    issuer=self._issuer,
                    options={"require": ["exp", "sub", "iat"]},
                    leeway=self._leeway,
                )
            else:
                raise InvalidTokenError("token signed with an algorithm this hub does not accept")
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"token refused: {type(error).__name__}") from None
        if claims.get("token_use") == "id" or any(c in claims for c in ID_TOKEN_ONLY_CLAIMS):
            raise InvalidTokenError("token refused: an ID token is not an access token")
        return Caller(self._subject(claims))

    def _refuse_non_access_token(self, header: dict[str, Any]) -> None:
        typ = str(header.get("typ", "")).lower()
        if typ not in self._access_token_types:
            raise InvalidTokenError(
                "token refused: not an access token (its typ header is not one of "
                f"{', '.join(self._access_token_types)})"
            )

    def _subject(self, claims: dict[str, Any]) -> str:
        """The practitioner id from the configured claim; an agency system's own subject."""
        subject = str(claims["sub"])
        if subject.startswith("agency:"):
            return subject
        value = claims.get(self._practitioner_claim)
        if not isinstance(value, str) or not value:
            raise InvalidTokenError(f"token refused: no {self._practitioner_claim} claim")
        return value

    def _signing_key(self, token: str, header: dict[str, Any]) -> Any:
        if self._discover and self._jwks_client is None:
            self._jwks_client = self._discovered_jwks_client()
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        assert self._jwks is not None
        kid = header.get("kid")
        for key in self._jwks.keys:
            if key.key_id == kid:
                return key.key
        raise InvalidTokenError("token signed by a key the identity provider does not publish")

    def _discovered_jwks_client(self) -> jwt.PyJWKClient:
        assert self._issuer is not None
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        with self._lock:
            if self._jwks_client is not None:
                return self._jwks_client
            try:
                with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https/http issuer
                    document = json.load(response)
                jwks_uri = str(document["jwks_uri"])
            except (OSError, ValueError, KeyError, TypeError):
                raise InvalidTokenError("identity provider unavailable (discovery)") from None
            self._jwks_client = jwt.PyJWKClient(jwks_uri)
            return self._jwks_client


def issue_dev_token(key: bytes, subject: str, minutes: int = 60) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, key, algorithm="HS256")
