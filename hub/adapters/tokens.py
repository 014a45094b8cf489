"""Who is calling: signed bearer tokens.

Development: `hub token issue --practitioner ID` signs a short-lived HS256 token with a local
key (`<data-dir>/keys/api-token.key`). Deployment: tokens from the partnership's OIDC provider,
verified against its published keys (a JWKS document) with the configured issuer and audience
(`HUB_OIDC_ISSUER`, `HUB_OIDC_AUDIENCE`, `HUB_OIDC_JWKS_FILE` or `HUB_OIDC_JWKS_URL`). Either
way the token's subject is the practitioner id (or `agency:<id>` for agency systems).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

DEV_ISSUER = "hub-dev"
DEV_AUDIENCE = "hub"


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
    ) -> None:
        self._dev_key = dev_key
        if oidc_issuer and not oidc_audience:
            raise ValueError("an OpenID issuer needs the audience this hub's tokens carry")
        self._issuer = oidc_issuer
        self._audience = oidc_audience
        self._jwks = jwt.PyJWKSet.from_dict(oidc_jwks) if oidc_jwks else None
        self._jwks_client = jwt.PyJWKClient(oidc_jwks_url) if oidc_jwks_url else None

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
                )
            elif self._issuer and (self._jwks or self._jwks_client):
                key = self._signing_key(token, header)
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256", "ES256", "EdDSA"],
                    audience=self._audience,
                    issuer=self._issuer,
                    options={"require": ["exp", "sub", "iat"]},
                )
            else:
                raise InvalidTokenError("token signed with an algorithm this hub does not accept")
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"token refused: {type(error).__name__}") from None
        return Caller(str(claims["sub"]))

    def _signing_key(self, token: str, header: dict[str, Any]) -> Any:
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        assert self._jwks is not None
        kid = header.get("kid")
        for key in self._jwks.keys:
            if key.key_id == kid:
                return key.key
        raise InvalidTokenError("token signed by a key the identity provider does not publish")


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
