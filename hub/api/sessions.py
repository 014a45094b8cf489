"""Browser sessions for the web pages: sign in with a bearer token, declare a purpose, stay in.

A browser cannot attach a bearer token to ordinary page loads and form posts, so the token is
exchanged once, at `POST /login`, for a server-side session. The cookie carries only a random
id (HttpOnly, SameSite=Strict), nothing about the person; the practitioner, their declared
purpose and the session's CSRF token live in the hub's database (`hub.adapters.session_stores`:
sealed, found by the SHA-256 of the id, never the id itself), so every API replica serves every
session and signing out on one ends it on all. A session never outlives the token it was made
from (or 8 hours), and ends after `HUB_SESSION_IDLE_MINUTES` without a request.

Every state-changing request is a POST form carrying the session's CSRF token, checked in
constant time before anything else happens; a missing or wrong token is refused with 403 and
nothing is disclosed or audited. The login form itself carries a token bound to a short-lived
cookie (double submit), so another site cannot sign a browser in as someone else.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.adapters.session_stores import SealedSessionStore
from hub.adapters.tokens import InvalidTokenError, TokenVerifier
from hub.api.page_services import PageServices
from hub.api.session_codec import SessionCodecError, decode, encode
from hub.domain.access import CHRONOLOGY_PURPOSES, Purpose

SESSION_COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login_csrf"
MAX_SESSION = timedelta(hours=8)
IDLE_SESSION = timedelta(minutes=30)  # the default of HUB_SESSION_IDLE_MINUTES
_OPENED = "hub.session"  # the scope key of the session a page opened, and how it was then
_KEPT = 2000  # sessions this process keeps opened (reused while their stored version stands)


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
    # The OpenID provider's session (`sid`) this one was made from, for back-channel logout.
    provider_sid: str | None = None
    # The ID token this session was signed in with (`hub.api.oidc_pages`), sent back to the
    # provider as the hint when the person signs out (RP-initiated logout).
    id_token: str | None = None

    def take_flash(self) -> list[str]:
        """Messages for the next page only (after a redirect), then gone."""
        messages, self.flash = self.flash, []
        return messages


class SessionStore:
    """Sessions in the hub's database, shared by every replica. This process keeps the latest
    copy it opened of each (guarded by a lock, as uvicorn serves sync routes from a pool) and
    reuses it while the stored version is the same, so a page does not open the held views
    again unless another replica changed them."""

    def __init__(
        self,
        stored: SealedSessionStore,
        idle: timedelta = IDLE_SESSION,
        clock: Any = lambda: datetime.now(UTC),
    ) -> None:
        self._stored = stored
        self._idle = idle
        self._clock = clock
        self._opened: OrderedDict[str, tuple[int, Session]] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, **fields: Any) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), **fields)
        now = self._clock()
        self._stored.purge_expired(now)
        self._stored.create(
            session.id,
            session.practitioner_id,
            _contents(session),
            session.expires_at,
            now + self._idle,
            provider_sid=session.provider_sid,
        )
        self._keep(session, 1)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle deadline extended; None if there is none
        (never was, signed out on any replica, or past its expiry or idle deadline)."""
        if not session_id:
            return None
        now = self._clock()
        current = self._stored.version(session_id, now)
        if current is None:
            self._forget(session_id)
            return None
        version, idle_until = current
        with self._lock:
            kept = self._opened.get(session_id)
        session = kept[1] if kept is not None and kept[0] == version else None
        if session is None:
            session = self._open(session_id, now)
            if session is None:
                return None
        if session.expires_at <= now:
            self.end(session_id)
            return None
        if idle_until - now < self._idle * 0.9:  # not a write for every page
            self._stored.touch(session_id, now + self._idle)
        return session

    def _open(self, session_id: str, now: datetime) -> Session | None:
        stored = self._stored.get(session_id, now)
        if stored is None:
            return None
        try:
            values = {name: decode(value) for name, value in stored.contents.items()}
            session = Session(id=session_id, **values)
        except (SessionCodecError, KeyError, TypeError, ValueError):  # by another version
            self.end(session_id)
            return None
        self._keep(session, stored.version)
        return session

    def save(self, session: Session) -> None:
        """Store what the session holds now (its messages, held views, latest search), so the
        next page sees it on whichever replica serves it; a session ended meanwhile stays
        ended."""
        version = self._stored.replace(session.id, _contents(session), self._clock() + self._idle)
        if version is None:
            self._forget(session.id)
        else:
            self._keep(session, version)

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._stored.delete(session_id)
            self._forget(session_id)

    def end_sessions_for(
        self, practitioner_id: str | None = None, provider_sid: str | None = None
    ) -> int:
        """End every session of a practitioner, or made from one OpenID provider session
        (back-channel logout), on every replica; how many were ended."""
        ended = self._stored.end_sessions_for(practitioner_id, provider_sid)
        with self._lock:
            for key in [
                k
                for k, (_, s) in self._opened.items()
                if s.practitioner_id == practitioner_id
                or (provider_sid is not None and s.provider_sid == provider_sid)
            ]:
                del self._opened[key]
        return ended

    def _keep(self, session: Session, version: int) -> None:
        with self._lock:
            self._opened[session.id] = (version, session)
            self._opened.move_to_end(session.id)
            while len(self._opened) > _KEPT:
                self._opened.popitem(last=False)

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._opened.pop(session_id, None)


def _contents(session: Session) -> dict[str, Any]:
    """Everything the session holds but its id (stored only as a digest)."""
    return {f.name: encode(getattr(session, f.name)) for f in fields(session) if f.name != "id"}


def _held_now(session: Session) -> tuple[object, ...]:
    """What a page may change in a session: its messages, the views and search it holds (each
    replaced, never changed in place, so their identities tell)."""
    return (
        tuple(session.flash),
        tuple((k, id(v)) for k, v in session.disclosed.items()),
        tuple((k, id(v)) for k, v in session.search.items()),
    )


class _SaveChangedSessions:
    """Store a session a page changed before its response starts, so the browser's next
    request (a redirect's GET, perhaps to another replica) finds the change."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_saving(message: Message) -> None:
            if message["type"] == "http.response.start" and _OPENED in scope:
                session, held = scope.pop(_OPENED)
                if _held_now(session) != held:
                    await run_in_threadpool(self.store.save, session)
            await send(message)

        await self.app(scope, receive, send_after_saving)


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
    request.scope[_OPENED] = (session, _held_now(session))
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
    store = SessionStore(hub.session_store, timedelta(minutes=hub.settings.session_idle_minutes))
    app.state.sessions = store
    app.add_middleware(_SaveChangedSessions, store=store)
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
        if hasattr(request.app.state, "oidc_sign_in"):  # hub.api.oidc_pages: acr, nonce, ...
            return login_page(
                request, "Sign in with your organisation's account: tokens are not taken here.", 400
            )
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
