"""Server-rendered web pages: the chronology for practitioners, the audit desk for DPOs.

Why server-rendered, with no scripts: the pages must work with a keyboard and a screen reader,
print cleanly, and run under a Content-Security-Policy that allows nothing inline and nothing
from elsewhere. Child identifiers travel only in POST bodies (never in a URL, so never in
history, logs or referrers), every POST carries the session's CSRF token (`hub.api.sessions`),
and every page says who is signed in and for what purpose.

The chronology pages are `hub.api.chronology_pages` (a lookup calls `DisclosureGate.view`
once, which decides and audits the disclosure, then redirects to a page that renders what the
session holds, so Back, Refresh and the filters never disclose again); the DPO pages and the
withholding review queue are in `hub.api.dpo_pages`, each practitioner's inbox (and the count
every page's header shows) in `hub.api.inbox_pages`, the replay pages for practice reviewers in
`hub.api.replay_pages`; what every page shares (templates, filters, form types, the child
parser) is in `hub.api.page_kit`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from hub.adapters.tokens import TokenVerifier
from hub.api.chronology_pages import register_chronology_pages
from hub.api.chronology_views import Filters
from hub.api.dpo_pages import register_dpo_pages
from hub.api.find_pages import register_find_pages
from hub.api.inbox_pages import register_inbox_pages
from hub.api.oidc_pages import register_oidc_sign_in
from hub.api.page_kit import NOT_IN_DIRECTORY, STATIC_DIR, PageKit, page_templates
from hub.api.page_services import PageServices
from hub.api.replay_pages import register_replay_pages
from hub.api.sessions import Session, register_sessions
from hub.api.subject_access_pages import register_subject_access_pages

__all__ = ["Filters", "register_pages"]  # Filters: the timeline's, in hub.api.chronology_views


def register_pages(app: FastAPI, hub: PageServices, verifier: TokenVerifier) -> None:
    """Add the web pages, their sessions and /static to an app made by `create_app`."""
    if getattr(app.state, "pages_registered", False):
        return
    app.state.pages_registered = True
    kit = PageKit(page_templates())
    register_sessions(app, hub, verifier, kit.templates)
    register_oidc_sign_in(app, hub, kit.templates)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    render, error = kit.render, kit.error

    def not_in_directory(request: Request, session: Session) -> Response:
        return error(request, session, 403, *NOT_IN_DIRECTORY)

    register_chronology_pages(app, hub, kit, not_in_directory)
    register_dpo_pages(app, hub, render, error)
    register_find_pages(app, hub, render, error)
    register_inbox_pages(app, hub, kit, not_in_directory)
    register_replay_pages(app, hub, render, error)
    register_subject_access_pages(app, hub, render, error)
