"""Browser sessions for the web pages: sign in with a bearer token, declare a purpose, stay in.

A browser cannot attach a bearer token to ordinary page loads and form posts, so the token is
exchanged once, at `POST /login`, for a server-side session. The cookie carries only a random
id (HttpOnly, SameSite=Strict), nothing about the person; the practitioner, their declared
purpose and the session's CSRF token live in memory on the server, so signing out or a restart
ends every session, and a session never outlives the token it was made from (or 8 hours).

Every state-changing request is a POST form carrying the session's CSRF token, checked in
constant time before anything else happens; a missing or wrong token is refused with 403 and
nothing is disclosed or audited. The login form itself carries a token bound to a short-lived
cookie (double submit), so another site cannot sign a browser in as someone else.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hub.adapters.tokens import InvalidTokenError, TokenVerifier
from hub.api.page_services import PageServices
from hub.domain.access import CHRONOLOGY_PURPOSES, Purpose

SESSION_COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login_csrf"
MAX_SESSION = timedelta(hours=8)


@dataclass
class Session:
    """Who is signed in, for what purpose, until when; the CSRF token their forms carry."""

    id: str
    practitioner_id: str
    name: str
    role: str
    organisation: str
    purpose: Purpose
    csrf: str
    expires_at: datetime
    flash: list[str] = field(default_factory=list)
    # The chronologies released in this session lately (a random key -> what the gate released,
    # `hub.api.chronology_views.Held`), so the page after a lookup, Back, Refresh and the
    # filters render it again instead of disclosing (and auditing) anew.
    disclosed: dict[str, Any] = field(default_factory=dict)
    # The latest search by name and date of birth (`hub.api.find_pages`), shown again by
    # GET /find without searching (or auditing) again.
    search: dict[str, Any] = field(default_factory=dict)

    def take_flash(self) -> list[str]:
        """Messages for the next page only (after a redirect), then gone."""
        messages, self.flash = self.flash, []
        return messages


class SessionStore:
    """Sessions in memory, guarded by a lock because uvicorn serves sync routes from a pool."""

    def __init__(self, clock: Any = lambda: datetime.now(UTC)) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def create(self, **fields: Any) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), **fields)
        now = self._clock()
        with self._lock:
            for expired in [k for k, s in self._sessions.items() if s.expires_at <= now]:
                del self._sessions[expired]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


class LoginRequiredError(Exception):
    """No valid session: the browser is sent to the login page (303)."""


class CsrfRefusedError(Exception):
    """A POST without the session's CSRF token: refused with 403, nothing done."""


def current_session(request: Request) -> Session | None:
    store: SessionStore = request.app.state.sessions
    return store.get(request.cookies.get(SESSION_COOKIE))


def page_session(request: Request) -> Session:
    """Dependency for every page: the signed-in session, or a redirect to the login page."""
    session = current_session(request)
    if session is None:
        raise LoginRequiredError
    return session


def posted_session(
    session: Annotated[Session, Depends(page_session)],
    csrf_token: Annotated[str, Form()] = "",
) -> Session:
    """Dependency for every POST: a session and its CSRF token, checked before the handler."""
    if not hmac.compare_digest(csrf_token.encode(), session.csrf.encode()):
        raise CsrfRefusedError
    return session


def _token_expiry(token: str) -> datetime:
    """The `exp` of a token the verifier has already accepted (so reading it unverified here
    is safe); the verifier itself only answers who the caller is."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


def register_sessions(
    app: FastAPI, hub: PageServices, verifier: TokenVerifier, templates: Jinja2Templates
) -> SessionStore:
    """Add the login page, `POST /login`, `POST /logout` and the session error handlers."""
    store = SessionStore()
    app.state.sessions = store
    secure = bool(getattr(hub.settings, "cookie_secure", False))

    @app.exception_handler(LoginRequiredError)
    async def login_required(_: Request, __: LoginRequiredError) -> Response:
        return RedirectResponse("/", status_code=303)

    @app.exception_handler(CsrfRefusedError)
    async def csrf_refused(request: Request, _: CsrfRefusedError) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "session": current_session(request),
                "title": "Request refused",
                "message": "This form was not sent from a page of this hub (its security token "
                "is missing or wrong), so nothing was done. Go back, reload the page and try "
                "again.",
            },
            status_code=403,
        )

    def login_page(request: Request, error: str | None, status: int = 200) -> Response:
        login_csrf = secrets.token_urlsafe(32)
        response = templates.TemplateResponse(
            request,
            "login.html",
            {"session": None, "purposes": CHRONOLOGY_PURPOSES, "error": error, "csrf": login_csrf},
            status_code=status,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            login_csrf,
            max_age=3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    @app.get("/", include_in_schema=False)
    def login_form(request: Request) -> Response:
        if current_session(request) is not None:
            return RedirectResponse("/chronology", status_code=303)
        return login_page(request, None)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        token: Annotated[str, Form()] = "",
        purpose: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
            raise CsrfRefusedError
        declared = next((p for p in CHRONOLOGY_PURPOSES if p.value == purpose), None)
        if declared is None:
            return login_page(request, "Choose the purpose you are using the hub for.", 400)
        token = token.strip().removeprefix("Bearer ").strip()
        try:
            caller = verifier.verify(token)
        except InvalidTokenError as error:
            return login_page(request, f"That token was not accepted ({error}).", 401)
        practitioner = hub.directory.get(caller.subject)
        if practitioner is None:
            return login_page(
                request, "That token is not for a practitioner in the hub's directory.", 403
            )
        session = store.create(
            practitioner_id=practitioner.id,
            name=practitioner.name,
            role=practitioner.role.value,
            organisation=practitioner.organisation,
            purpose=declared,
            expires_at=min(_token_expiry(token), datetime.now(UTC) + MAX_SESSION),
        )
        response = RedirectResponse("/chronology", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
            expires=session.expires_at,
        )
        response.delete_cookie(
            LOGIN_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
        )
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(session: Annotated[Session, Depends(posted_session)]) -> Response:
        store.end(session.id)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure
        )
        return response

    return store
