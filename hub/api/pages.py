"""Server-rendered web pages: the chronology for practitioners, the audit desk for DPOs.

Why server-rendered, with no scripts: the pages must work with a keyboard and a screen reader,
print cleanly, and run under a Content-Security-Policy that allows nothing inline and nothing
from elsewhere. Child identifiers travel only in POST bodies (never in a URL, so never in
history, logs or referrers), every POST carries the session's CSRF token (`hub.api.sessions`),
and every page says who is signed in and for what purpose.

A chronology request calls `DisclosureGate.view` exactly once, which decides and audits the
disclosure; the optional filters (agency, harm category, dates) only narrow what is rendered
from that disclosure afterwards, so they never change what was disclosed or what the audit
ledger records: a filter form names the disclosure it narrows (its audit reference), and the
session keeps its latest disclosure to filter again without asking the gate.

The DPO pages and the withholding review queue are in `hub.api.dpo_pages`, the replay pages for
practice reviewers in `hub.api.replay_pages`; what every page shares (templates, filters, form
types, the child parser) is in `hub.api.page_kit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from hub.adapters.tokens import TokenVerifier
from hub.api.dpo_pages import register_dpo_pages
from hub.api.find_pages import register_find_pages
from hub.api.page_kit import (
    BREAK_GLASS_REASON,
    CHILD_HINT,
    STATIC_DIR,
    FormText,
    PageKit,
    PageSession,
    PostSession,
    page_templates,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.replay_pages import register_replay_pages
from hub.api.sessions import Session, register_sessions
from hub.api.subject_access_pages import register_subject_access_pages
from hub.audit_ledger import AuditUnavailableError
from hub.disclosure_gate import ChronologyView, ShownEntry, UnknownPractitionerError
from hub.domain.taxonomy import HarmCategory


@dataclass(frozen=True)
class Filters:
    """What the viewer asked to narrow the rendered timeline to; never an access decision."""

    agency: str = ""  # "type:<agency type>" or "id:<agency id>"
    category: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def parse(
        cls, agency: str, category: str, date_from: str, date_to: str
    ) -> tuple[Filters, list[str]]:
        errors: list[str] = []
        agency, category = agency.strip(), category.strip()
        kind, _, value = agency.partition(":")
        if agency and (kind not in ("type", "id") or not value):
            errors.append("Choose an agency from the list.")
            agency = ""
        if category and category not in {c.value for c in HarmCategory}:
            errors.append("Choose a harm category from the list.")
            category = ""
        dates: list[date | None] = []
        for label, text in (("From", date_from), ("To", date_to)):
            try:
                dates.append(date.fromisoformat(text.strip()) if text.strip() else None)
            except ValueError:
                errors.append(f"{label} date: enter a date as YYYY-MM-DD.")
                dates.append(None)
        start, end = dates
        if start and end and start > end:
            errors.append("The From date is after the To date.")
        return cls(agency, category, start, end), errors

    @property
    def active(self) -> bool:
        return bool(self.agency or self.category or self.date_from or self.date_to)

    def keeps(self, entry: ShownEntry) -> bool:
        kind, _, value = self.agency.partition(":")
        if kind == "type" and entry.agency_type != value:
            return False
        if kind == "id" and entry.agency != value:
            return False
        if self.category and self.category not in entry.categories:
            return False
        occurred = entry.occurred_at.date()
        if self.date_from and occurred < self.date_from:
            return False
        return not (self.date_to and occurred > self.date_to)


def register_pages(app: FastAPI, hub: PageServices, verifier: TokenVerifier) -> None:
    """Add the web pages, their sessions and /static to an app made by `create_app`."""
    if getattr(app.state, "pages_registered", False):
        return
    app.state.pages_registered = True
    kit = PageKit(page_templates())
    register_sessions(app, hub, verifier, kit.templates)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    render, error = kit.render, kit.error

    def not_in_directory(request: Request, session: Session) -> Response:
        return error(
            request,
            session,
            403,
            "Not in the directory",
            "Your practitioner id is no longer in the hub's directory; nothing is shown.",
        )

    def chronology_page(
        request: Request,
        session: Session,
        *,
        child: str = "",
        filters: Filters | None = None,
        errors: list[str] | None = None,
        status: int = 200,
        **results: Any,
    ) -> Response:
        context: dict[str, Any] = {
            "view": None,
            "shown": [],
            "agencies": [],
            "status_message": None,
        } | results
        return render(
            request,
            session,
            "chronology.html",
            status,
            child=child,
            filters=filters or Filters(),
            errors=errors or [],
            **context,
        )

    @app.get("/chronology", include_in_schema=False)
    def chronology_form(request: Request, session: PageSession) -> Response:
        return chronology_page(request, session)

    @app.post("/chronology", include_in_schema=False)
    def chronology(
        request: Request,
        session: PostSession,
        child: FormText = "",
        agency: FormText = "",
        category: FormText = "",
        date_from: FormText = "",
        date_to: FormText = "",
        break_glass_reason: FormText = "",
        disclosure: FormText = "",
    ) -> Response:
        filters, errors = Filters.parse(agency, category, date_from, date_to)
        ref = parse_child(child)
        if ref is None:
            errors.insert(0, CHILD_HINT)
        reason = break_glass_reason.strip()
        low, high = BREAK_GLASS_REASON
        if reason and not low <= len(reason) <= high:
            errors.append(f"Give a break-glass reason of {low} to {high} characters.")
        if errors or ref is None:  # nothing is disclosed (or audited) for a malformed request
            return chronology_page(
                request, session, child=child, filters=filters, errors=errors, status=400
            )
        shown: ChronologyView | None = session.disclosed.get(disclosure)
        if shown is not None and shown.child == ref.identifier and not reason:
            # Narrowing what this session was already shown: no new disclosure, no audit.
            return chronology_page(
                request,
                session,
                child=child.strip(),
                filters=filters,
                view=shown,
                shown=[e for e in shown.entries if filters.keeps(e)],
                agencies=sorted({(e.agency_type, e.agency) for e in shown.entries}),
            )
        try:
            view = hub.gate.view(
                ref, session.practitioner_id, session.purpose, break_glass_reason=reason or None
            )
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except AuditUnavailableError:
            return error(
                request,
                session,
                503,
                "Audit unavailable",
                "The audit ledger could not be written, so nothing is disclosed. Try again later.",
            )
        session.disclosed = {view.audit_ref: view}  # the latest, to filter: one kept per session
        agencies = sorted({(e.agency_type, e.agency) for e in view.entries})
        return chronology_page(
            request,
            session,
            child=child.strip(),
            filters=filters,
            view=view,
            shown=[e for e in view.entries if filters.keeps(e)],
            agencies=agencies,
        )

    @app.post("/chronology/end-break-glass", include_in_schema=False)
    def end_break_glass(request: Request, session: PostSession, child: FormText = "") -> Response:
        ref = parse_child(child)
        if ref is None:
            return chronology_page(request, session, child=child, errors=[CHILD_HINT], status=400)
        try:
            ended = hub.gate.end_break_glass(ref, session.practitioner_id)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        session.disclosed = {}  # what emergency access showed is not to be filtered again
        return chronology_page(
            request,
            session,
            child=child.strip(),
            status_message="Your emergency access to this child has ended. A data protection "
            "officer will still review it."
            if ended
            else "You hold no emergency access to this child, so there was nothing to end.",
        )

    register_dpo_pages(app, hub, render, error)
    register_find_pages(app, hub, render, error)
    register_replay_pages(app, hub, render, error)
    register_subject_access_pages(app, hub, render, error)
