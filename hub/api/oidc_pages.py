"""Signing in to the web pages with the partnership's OpenID provider (NHS CIS2, Entra ID, ...).

Present only when `HUB_OIDC_CLIENT_ID` is set (`hub.settings`); the login page then offers
"Sign in with your organisation's account" instead of the token box:

- `POST /auth/sign-in` (the purpose, and the login form's CSRF token) sends the browser to the
  provider with a fresh `state`, `nonce` and PKCE challenge; the verifier and nonce wait in a
  short-lived HttpOnly cookie (SameSite=Lax, so it comes back on the provider's redirect).
- `GET /auth/callback` checks `state`, exchanges the code and checks the ID token
  (`hub.adapters.oidc`), maps the configured claim to a practitioner in the directory and makes
  the hub session. It answers with a page that moves on to the chronology itself (as do the
  pages that leave for the provider): the session cookie is SameSite=Strict, and a browser
  arriving from the provider's site would not send it on a plain redirect.
- `POST /auth/sign-out` ends the hub session and sends the browser to the provider's
  `end_session_endpoint` with the ID token as hint (RP-initiated logout); the provider sends it
  back to `GET /auth/signed-out`.
- `POST /auth/backchannel-logout` receives the provider's logout token (Back-Channel Logout
  1.0) and ends the hub sessions made from that provider session (`sid`), or the subject's.

Nothing a provider sends is logged: refusals name the check that failed, never a value.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hub.adapters.oidc import (
    OidcClientConfig,
    OidcRelyingParty,
    PendingSignIn,
    ProviderUnavailableError,
    SignInRefusedError,
)
from hub.api.page_services import PageServices
from hub.api.sessions import (
    LOGIN_COOKIE,
    MAX_SESSION,
    SESSION_COOKIE,
    CsrfRefusedError,
    Session,
    SessionStore,
    posted_session,
)
from hub.domain.access import CHRONOLOGY_PURPOSES
from hub.settings import HubSettings

log = structlog.get_logger(__name__)

PENDING_COOKIE = "hub_oidc_pending"
PENDING_SECONDS = 600
CALLBACK_PATH = "/auth/callback"
SIGNED_OUT_PATH = "/auth/signed-out"
BACKCHANNEL_PATH = "/auth/backchannel-logout"
_PROVIDER_ERROR = re.compile(r"^[a-z_]{1,64}$")


def relying_party(settings: HubSettings) -> OidcRelyingParty | None:
    """The configured provider and client, or None when the pages sign in with tokens."""
    if not (settings.oidc_client_id and settings.oidc_issuer):
        return None
    base = settings.public_url.rstrip("/")
    key_file = settings.oidc_client_key_file
    return OidcRelyingParty(
        OidcClientConfig(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            redirect_uri=base + CALLBACK_PATH,
            auth_method=settings.oidc_client_method(),
            client_secret=(
                settings.oidc_client_secret.get_secret_value()
                if settings.oidc_client_secret
                else None
            ),
            client_key_pem=key_file.read_bytes() if key_file else None,
            scopes=settings.oidc_scopes,
            practitioner_claim=settings.oidc_practitioner_claim,
            required_acr=settings.oidc_required_acr_values,
            leeway_seconds=settings.oidc_leeway_seconds,
            post_logout_redirect_uri=base + SIGNED_OUT_PATH,
        )
    )


def _encode_pending(pending: PendingSignIn) -> str:
    raw = json.dumps(
        [pending.state, pending.nonce, pending.code_verifier, pending.purpose]
    ).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_pending(value: str | None) -> PendingSignIn | None:
    if not value:
        return None
    try:
        state, nonce, verifier, purpose = json.loads(base64.urlsafe_b64decode(value.encode()))
        return PendingSignIn(str(state), str(nonce), str(verifier), str(purpose))
    except (ValueError, TypeError):
        return None


def register_oidc_sign_in(app: FastAPI, hub: PageServices, templates: Jinja2Templates) -> None:
    """Add the OpenID Connect sign-in routes when a provider is configured."""
    party = relying_party(hub.settings)
    if party is None:
        return
    app.state.oidc_sign_in = party
    store: SessionStore = app.state.sessions
    secure = bool(hub.settings.cookie_secure)

    def moving_on(request: Request, url: str, heading: str, message: str, link: str) -> Response:
        """A page that moves the browser on by itself (meta refresh, and a link). Not a
        redirect: to the provider, the Content-Security-Policy's form-action 'self' would stop
        a form's redirect; from it, a redirect would arrive without the SameSite=Strict
        session cookie."""
        context = {
            "session": None, "next": url, "heading": heading, "message": message,
            "link_text": link,
        }  # fmt: skip
        return templates.TemplateResponse(request, "moving_on.html", context)

    def sign_in_page(
        request: Request, error: str | None, status: int, notice: str | None = None
    ) -> Response:
        """The login page again, with what went wrong (and a fresh login CSRF token)."""
        login_csrf = secrets.token_urlsafe(32)
        context = {
            "session": None, "purposes": CHRONOLOGY_PURPOSES, "error": error,
            "csrf": login_csrf, "notice": notice,
        }  # fmt: skip
        response = templates.TemplateResponse(request, "login.html", context, status_code=status)
        response.set_cookie(
            LOGIN_COOKIE, login_csrf, max_age=3600, path="/", httponly=True,
            samesite="strict", secure=secure,
        )  # fmt: skip
        response.delete_cookie(PENDING_COOKIE, path="/auth", httponly=True, secure=secure)
        return response

    @app.post("/auth/sign-in", include_in_schema=False)
    def start_sign_in(
        request: Request,
        purpose: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
            raise CsrfRefusedError
        if purpose not in {p.value for p in CHRONOLOGY_PURPOSES}:
            return sign_in_page(request, "Choose the purpose you are using the hub for.", 400)
        try:
            url, pending = party.start(purpose)
        except ProviderUnavailableError:
            return sign_in_page(request, PROVIDER_UNAVAILABLE, 503)
        response = moving_on(
            request,
            url,
            "Signing in",
            "Taking you to your organisation's sign-in service.",
            "Continue to sign in",
        )
        response.set_cookie(
            PENDING_COOKIE, _encode_pending(pending), max_age=PENDING_SECONDS, path="/auth",
            httponly=True, samesite="lax", secure=secure,
        )  # fmt: skip
        return response

    @app.get(CALLBACK_PATH, include_in_schema=False)
    def finish_sign_in(
        request: Request, code: str = "", state: str = "", error: str = "", iss: str = ""
    ) -> Response:
        pending = _decode_pending(request.cookies.get(PENDING_COOKIE))
        if (
            pending is None
            or not state
            or not secrets.compare_digest(state.encode(), pending.state.encode())
        ):
            return sign_in_page(
                request,
                "That sign-in was not started from this browser, or took longer than 10 "
                "minutes. Sign in again.",
                400,
            )
        if iss and iss != party.config.issuer:  # RFC 9207: a response from another provider
            return sign_in_page(request, "That answer came from another sign-in service.", 400)
        if error or not code:
            reason = error if _PROVIDER_ERROR.match(error) else "no code"
            return sign_in_page(
                request, f"Your organisation's sign-in service did not sign you in ({reason}).", 401
            )
        try:
            signed_in = party.finish(pending, code)
        except SignInRefusedError as refused:
            log.info("oidc sign-in refused", reason=str(refused))
            return sign_in_page(request, f"You were not signed in: {refused}.", 403)
        except ProviderUnavailableError:
            return sign_in_page(request, PROVIDER_UNAVAILABLE, 503)
        practitioner = hub.directory.get(signed_in.practitioner_id)
        if practitioner is None:
            return sign_in_page(
                request,
                "You signed in, but your account is not linked to a practitioner in the hub's "
                "directory. Ask your hub administrator to add you.",
                403,
            )
        purpose = next(p for p in CHRONOLOGY_PURPOSES if p.value == pending.purpose)
        session = store.create(
            practitioner_id=practitioner.id,
            name=practitioner.name,
            role=practitioner.role.value,
            organisation=practitioner.organisation,
            purpose=purpose,
            expires_at=datetime.now(UTC) + MAX_SESSION,
            provider_sid=signed_in.provider_sid,
            id_token=signed_in.id_token,
        )
        response = moving_on(
            request, "/chronology", "Signed in", "You are signed in.", "Continue to the hub"
        )
        response.set_cookie(
            SESSION_COOKIE, session.id, path="/", httponly=True, samesite="strict",
            secure=secure, expires=session.expires_at,
        )  # fmt: skip
        response.delete_cookie(PENDING_COOKIE, path="/auth", httponly=True, secure=secure)
        response.delete_cookie(
            LOGIN_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
        )
        return response

    @app.post("/auth/sign-out", include_in_schema=False)
    def sign_out(
        request: Request, session: Annotated[Session, Depends(posted_session)]
    ) -> Response:
        store.end(session.id)
        url = party.logout_url(session.id_token, secrets.token_urlsafe(16))
        response: Response
        if url is None:
            response = RedirectResponse(SIGNED_OUT_PATH, status_code=303)
        else:
            response = moving_on(
                request,
                url,
                "Signing out",
                "You are signed out of the hub; now your organisation's sign-in service.",
                "Continue to sign out",
            )
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
        )
        return response

    @app.get(SIGNED_OUT_PATH, include_in_schema=False)
    def signed_out(request: Request) -> Response:
        return sign_in_page(
            request, None, 200, "You are signed out of the hub and of your organisation's account."
        )

    @app.post(BACKCHANNEL_PATH, include_in_schema=False)
    def backchannel_logout(logout_token: Annotated[str, Form()] = "") -> Response:
        headers = {"Cache-Control": "no-store"}
        try:
            logout = party.verify_logout_token(logout_token)
        except (SignInRefusedError, ProviderUnavailableError) as refused:
            log.info("back-channel logout refused", reason=str(refused))
            body: dict[str, Any] = {"error": "invalid_request", "error_description": str(refused)}
            return Response(json.dumps(body), 400, headers, media_type="application/json")
        if logout.provider_sid is not None:
            ended = store.end_sessions_for(provider_sid=logout.provider_sid)
        elif hub.settings.oidc_practitioner_claim == "sub":
            ended = store.end_sessions_for(practitioner_id=logout.provider_subject)
        else:
            # The provider's subject is not the practitioner id here, and sessions are found by
            # practitioner or provider session: the provider must send `sid`.
            body = {"error": "invalid_request", "error_description": "the logout token has no sid"}
            return Response(json.dumps(body), 400, headers, media_type="application/json")
        log.info("back-channel logout", sessions_ended=ended)
        return Response(status_code=200, headers=headers)


PROVIDER_UNAVAILABLE = (
    "Your organisation's sign-in service is not answering. Try again in a few minutes; if it "
    "goes on, tell your hub administrator."
)
