"""The replay pages for practice reviews (Rapid Reviews, local child safeguarding practice reviews):
the record as it stood at a moment, and review packs.

A replay calls `ReplayService.replay` once per request, which decides and audits the reviewer's
own access; the as-of time only chooses which moment of the record is rendered. The page opens
with who the child is (`hub.chronology_header`), from that same release. The review pack
is a download (a neutral file name, never an identifier) built by `hub.reports.review_pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import Response

from hub.api.page_kit import (
    AUDIT_UNAVAILABLE,
    CHILD_HINT,
    NOT_IN_DIRECTORY,
    FormText,
    PageSession,
    PostSession,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.audit_ledger import AuditUnavailableError
from hub.chronology_header import child_header
from hub.disclosure_gate import UnknownPractitionerError
from hub.domain.access import Purpose, Role
from hub.domain.canonical_event import ChildRef
from hub.domain.uk_time import UK, as_of_input_value, parse_as_of, uk_date
from hub.reports import replay_words
from hub.reports.rendering import readable_label
from hub.reports.review_pack import build_pack, render_html, render_pdf

Render = Callable[..., Response]


@dataclass(frozen=True)
class ReplayForm:
    """What a replay form asked for, as typed, so a page can offer it again."""

    child: str = ""
    as_of: str = ""
    as_practitioner: str = ""
    also_as_of: str = ""

    @property
    def practitioner(self) -> str | None:
        return self.as_practitioner or None

    def parse(self, hub: PageServices) -> tuple[ChildRef | None, list[datetime], list[str]]:
        """The child, the as-of times and the problems; nothing is disclosed (or audited)
        for a malformed request."""
        ref = parse_child(self.child)
        errors = [] if ref is not None else [CHILD_HINT]
        moments: list[datetime] = []
        latest = datetime.now(UTC) + timedelta(seconds=hub.settings.clock_skew_seconds)
        for label, text in (("As of", self.as_of), ("Also as of", self.also_as_of)):
            moment = _as_of(text)
            if moment is None and (label == "As of" or text.strip()):
                errors.append(f"{label}: enter a date and time (UK time).")
            elif moment is not None and moment > latest:
                errors.append(f"{label}: choose a time that is not in the future.")
            elif moment is not None:
                moments.append(moment)
        if self.practitioner and hub.directory.get(self.practitioner) is None:
            errors.append(f"As practitioner: {self.practitioner} is not in the hub's directory.")
        return ref, moments, errors


def _as_of(text: str) -> datetime | None:
    try:
        return parse_as_of(text)
    except ValueError:
        return None


def register_replay_pages(app: FastAPI, hub: PageServices, render: Render, error: Render) -> None:
    """Add /replay and /replay/pack, rendering through the pages' templates."""

    def replay_page(
        request: Request, session: Session, form: ReplayForm, status: int = 200, **results: Any
    ) -> Response:
        context: dict[str, Any] = {
            "outcome": None,
            "denied_reasons": [],
            "report": None,
            "header": None,
        }
        context |= {"errors": []} | results | {"words": replay_words}
        return render(request, session, "replay.html", status, form=form, **context)

    def replay_refused(request: Request, session: Session) -> Response | None:
        """Replay is a review's purpose: the session must have declared the purpose the
        replay's own (audited) access is recorded under, or nothing happens."""
        dpo = session.role == Role.DATA_PROTECTION_OFFICER.value
        wanted = Purpose.DATA_PROTECTION_AUDIT if dpo else Purpose.PRACTICE_REVIEW
        if session.purpose is wanted:
            return None
        purpose = readable_label(wanted.value)
        text = (
            f"Sign out and sign in again with the purpose “{purpose}” to replay a "
            "child's record. Nothing was shown or recorded."
        )
        return error(request, session, 403, "Replay is for practice reviews", text)

    def replay_failed(request: Request, session: Session, problem: Exception) -> Response:
        if isinstance(problem, AuditUnavailableError):
            return error(request, session, 503, *AUDIT_UNAVAILABLE)
        return error(request, session, 403, *NOT_IN_DIRECTORY)

    @app.get("/replay", include_in_schema=False)
    def replay_form(request: Request, session: PageSession) -> Response:
        now = ReplayForm(as_of=f"{datetime.now(UK):%Y-%m-%dT%H:%M}")
        return replay_refused(request, session) or replay_page(request, session, now)

    @app.post("/replay", include_in_schema=False)
    def replay(
        request: Request,
        session: PostSession,
        child: FormText = "",
        as_of: FormText = "",
        as_practitioner: FormText = "",
    ) -> Response:
        form = ReplayForm(child.strip(), as_of.strip(), as_practitioner.strip())
        if refused := replay_refused(request, session):
            return refused
        ref, moments, errors = form.parse(hub)
        if errors or ref is None:
            return replay_page(request, session, form, 400, errors=errors)
        try:
            report = hub.replay.replay(
                ref, session.practitioner_id, moments[0], as_practitioner=form.practitioner
            )
        except (UnknownPractitionerError, AuditUnavailableError) as problem:
            return replay_failed(request, session, problem)
        header = None
        if report.permitted:  # who the child is, from the reviewer's own release only
            register = {record.agency_id: record for record in hub.agencies.all()}
            today = uk_date(datetime.now(UTC))
            header = child_header(report.access, register, hub.directory.get, today)
        return replay_page(
            request,
            session,
            replace(form, as_of=as_of_input_value(report.as_of)),
            outcome=report.access.outcome,
            denied_reasons=report.access.denied_reasons,
            report=report if report.permitted else None,
            header=header,
        )

    @app.post("/replay/pack", include_in_schema=False)
    def replay_pack(
        request: Request,
        session: PostSession,
        child: FormText = "",
        as_of: FormText = "",
        also_as_of: FormText = "",
        as_practitioner: FormText = "",
        pack_format: Annotated[str, Form(alias="format")] = "",
    ) -> Response:
        form = ReplayForm(child.strip(), as_of.strip(), as_practitioner.strip(), also_as_of)
        if refused := replay_refused(request, session):
            return refused
        ref, moments, errors = form.parse(hub)
        if pack_format not in ("html", "pdf"):
            errors.append("Choose the review pack's format: PDF or HTML.")
        if errors or ref is None:
            return replay_page(request, session, form, 400, errors=errors)
        try:
            pack = build_pack(
                hub.replay, hub.integrity, ref, session.practitioner_id, moments, form.practitioner
            )
        except (UnknownPractitionerError, AuditUnavailableError) as problem:
            return replay_failed(request, session, problem)
        if not pack.permitted:
            reasons = pack.denied_reasons
            return replay_page(
                request, session, form, 403, outcome=pack.outcome, denied_reasons=reasons
            )
        if pack_format == "pdf":
            content, media = render_pdf(pack), "application/pdf"
        else:
            content, media = render_html(pack).encode(), "text/html; charset=utf-8"
        disposition = f'attachment; filename="review-pack.{pack_format}"'  # no identifier in it
        return Response(content, media_type=media, headers={"Content-Disposition": disposition})
