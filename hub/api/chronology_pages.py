"""The chronology pages: look a child up, see who they are and their history, narrow it, see
the picture, open a sibling or several together, export what you see.

Post/Redirect/Get, so Back and Refresh never send a form again or make a second disclosure:
every form that discloses (`POST /chronology`, a sibling, siblings together) asks the gate
once, holds what it released in the server-side session under a random key for a short time
(`HOLD_FOR`, the latest `HOLD_MAX` per session), and redirects (303) to `GET
/chronology/view/<key>`, which only renders what is held: reloading it, going Back to it or
narrowing it (the filters are a GET form on the same page) asks the gate nothing and audits
nothing. The key is random and means nothing outside the session; no child identifier is
ever in a URL (siblings are named to the browser by keys held beside the view, and posted).

An export (`POST /chronology/export`, CSV or Word) is its own audited disclosure, for the
export action, of what the held view shows (the same filters), and downloads a file. A merged
view of siblings is one disclosure per child, each policy-checked and audited on its own.
The header above each timeline is `hub.chronology_header`'s, from the released view only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.chronology_views import (
    HOLD_FOR,
    MAX_TOGETHER,
    Filters,
    Held,
    PartnerQuestionAsked,
    held_view,
    hold,
    utc_now,
    view_context,
)
from hub.api.page_kit import (
    AUDIT_UNAVAILABLE,
    BREAK_GLASS_REASON,
    CHILD_HINT,
    FormText,
    PageKit,
    PageSession,
    PostSession,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.audit_ledger import AuditUnavailableError
from hub.chronology_header import ChildHeader, child_header
from hub.disclosure_gate import ChronologyView, UnknownPractitionerError
from hub.domain.uk_time import uk_date
from hub.policies.decision import Action
from hub.reports.chronology_exports import CONTENT_TYPES, RENDERERS, ExportPart


def register_chronology_pages(
    app: FastAPI,
    hub: PageServices,
    kit: PageKit,
    not_in_directory: Callable[[Request, Session], Response],
) -> None:
    render, error = kit.render, kit.error

    def register() -> dict[str, Any]:
        return {r.agency_id: r for r in hub.agencies.all()}

    def person_name(practitioner_id: str) -> str | None:
        person = hub.directory.get(practitioner_id)
        return person.name if person else None

    def headers(views: Sequence[ChronologyView]) -> list[ChildHeader]:
        agencies, today = register(), uk_date(utc_now())
        return [child_header(v, agencies, hub.directory.get, today) for v in views]

    def form_page(
        request: Request,
        session: Session,
        *,
        child: str = "",
        filters: Filters | None = None,
        errors: list[str] | None = None,
        status: int = 200,
        status_message: str | None = None,
    ) -> Response:
        messages = session.take_flash()
        return render(
            request,
            session,
            "chronology.html",
            status,
            view=None,
            child=child,
            filters=filters or Filters(),
            agencies=[],
            errors=errors or [],
            status_message=status_message or (" ".join(messages) if messages else None),
        )

    def disclose(
        request: Request,
        session: Session,
        children: Sequence[str],
        break_glass_reason: str | None = None,
    ) -> list[ChronologyView] | Response:
        """One gate disclosure per child (each decided and audited), or the error page."""
        views = []
        for identifier in children:
            ref = parse_child(identifier)
            if ref is None:  # held identifiers came from the gate, so this is not expected
                return error(request, session, 400, "Not a child identifier", CHILD_HINT)
            try:
                views.append(
                    hub.gate.view(
                        ref,
                        session.practitioner_id,
                        session.purpose,
                        break_glass_reason=break_glass_reason,
                    )
                )
            except UnknownPractitionerError:
                return not_in_directory(request, session)
            except AuditUnavailableError:
                return error(request, session, 503, *AUDIT_UNAVAILABLE)
        return views

    def shown_at(key: str, filters: Filters) -> str:
        return f"/chronology/view/{key}{filters.query()}"

    def expired(request: Request, session: Session) -> Response:
        return form_page(
            request,
            session,
            status=404,
            status_message="That chronology is no longer held for you (a view is kept for "
            f"{int(HOLD_FOR.total_seconds() // 60)} minutes). Look the child up again; that "
            "is a new disclosure and is recorded.",
        )

    @app.get("/chronology", include_in_schema=False)
    def chronology_form(request: Request, session: PageSession) -> Response:
        return form_page(request, session)

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
            return form_page(
                request, session, child=child, filters=filters, errors=errors, status=400
            )
        views = disclose(request, session, [ref.identifier], reason or None)
        if isinstance(views, Response):
            return views
        return RedirectResponse(shown_at(hold(session, views), filters), status_code=303)

    @app.get("/chronology/view/{key}", include_in_schema=False)
    def chronology_view(
        request: Request,
        session: PageSession,
        key: str,
        agency: Annotated[str, Query()] = "",
        category: Annotated[str, Query()] = "",
        date_from: Annotated[str, Query()] = "",
        date_to: Annotated[str, Query()] = "",
    ) -> Response:
        held = held_view(session, key)
        if held is None:
            return expired(request, session)
        filters, errors = Filters.parse(agency, category, date_from, date_to)
        return held_page(request, session, key, held, filters, errors)

    def held_page(
        request: Request,
        session: Session,
        key: str,
        held: Held,
        filters: Filters,
        errors: list[str],
    ) -> Response:
        agencies_held = register()
        names = {a: r.display_name for a, r in agencies_held.items()}
        return render(
            request,
            session,
            "chronology.html",
            400 if errors else 200,
            **view_context(
                held, headers(held.views), filters, names, person_name, uk_date(utc_now())
            ),
            key=key,
            errors=errors,
            status_message=None,
            ask_partners=can_ask_partners(held),
        )

    def can_ask_partners(held: Held) -> bool:
        """Whether the page offers "Is anyone else involved?": the hub has a partner register
        and the view is of one child known by an NHS number."""
        if hub.settings.federation_register is None or len(held.views) != 1:
            return False
        ref = parse_child(held.views[0].child)
        return ref is not None and ref.nhs_number is not None

    @app.post("/chronology/partner-question", include_in_schema=False)
    def partner_question(request: Request, session: PostSession, view: FormText = "") -> Response:
        """Ask every partner hub whether it holds records about the child of a held view (the
        gate refuses, in words, a practitioner without a relationship or over the question
        limit; audited either way); the answer is held with the view and shown on it."""
        held = held_view(session, view)
        if held is None:
            return expired(request, session)
        ref = parse_child(held.views[0].child)
        if not can_ask_partners(held) or ref is None:
            return held_page(
                request,
                session,
                view,
                held,
                Filters(),
                [
                    "Partner hubs can be asked only about one child with an NHS number, by a "
                    "hub with a partner register."
                ],
            )
        try:
            result = hub.discovery.ask(ref, session.practitioner_id)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except AuditUnavailableError:
            return error(request, session, 503, *AUDIT_UNAVAILABLE)
        asked = PartnerQuestionAsked(result.lines(), bool(result.refused), utc_now())
        session.disclosed = {**session.disclosed, view: replace(held, partner_question=asked)}
        return RedirectResponse(f"/chronology/view/{view}#partner-answers", status_code=303)

    def sibling_children(held: Held, keys: Sequence[str]) -> list[str]:
        wanted = set(keys)
        return [s.identifier for s in held.siblings if s.key in wanted and s.identifier]

    @app.post("/chronology/sibling", include_in_schema=False)
    def open_sibling(
        request: Request, session: PostSession, view: FormText = "", sibling: FormText = ""
    ) -> Response:
        held = held_view(session, view)
        if held is None:
            return expired(request, session)
        children = sibling_children(held, [sibling])
        if not children:
            return held_page(
                request, session, view, held, Filters(), ["Choose a sibling from the list."]
            )
        views = disclose(request, session, children[:1])
        if isinstance(views, Response):
            return views
        return RedirectResponse(shown_at(hold(session, views), Filters()), status_code=303)

    @app.post("/chronology/together", include_in_schema=False)
    def together(
        request: Request,
        session: PostSession,
        view: FormText = "",
        siblings: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        held = held_view(session, view)
        if held is None:
            return expired(request, session)
        children = sibling_children(held, siblings or [])
        if not children:
            return held_page(
                request,
                session,
                view,
                held,
                Filters(),
                ["Siblings: choose at least one sibling to view with this child."],
            )
        main = held.views[0].child
        views = disclose(request, session, [main, *children][:MAX_TOGETHER])
        if isinstance(views, Response):
            return views
        return RedirectResponse(shown_at(hold(session, views), Filters()), status_code=303)

    @app.post("/chronology/export", include_in_schema=False)
    def export(
        request: Request,
        session: PostSession,
        view: FormText = "",
        format: FormText = "",
        agency: FormText = "",
        category: FormText = "",
        date_from: FormText = "",
        date_to: FormText = "",
    ) -> Response:
        held = held_view(session, view)
        if held is None:
            return expired(request, session)
        filters, errors = Filters.parse(agency, category, date_from, date_to)
        if format not in RENDERERS:
            errors.append("Format: choose CSV or Word document.")
        if errors:
            return held_page(request, session, view, held, filters, errors)
        parts: list[ExportPart] = []
        for shown in held.views:
            ref = parse_child(shown.child)
            if ref is None:
                return error(request, session, 400, "Not a child identifier", CHILD_HINT)
            try:
                exported = hub.gate.view(
                    ref, session.practitioner_id, session.purpose, action=Action.EXPORT
                )
            except UnknownPractitionerError:
                return not_in_directory(request, session)
            except AuditUnavailableError:
                return error(
                    request,
                    session,
                    503,
                    "Audit unavailable",
                    "The audit ledger could not be written, so nothing is exported.",
                )
            [header] = headers([exported])
            parts.append(
                ExportPart(exported, header, [e for e in exported.entries if filters.keeps(e)])
            )
        names = {a: r.display_name for a, r in register().items()}
        now = utc_now()
        body = RENDERERS[format](
            parts, names, person_name, f"{session.name} ({session.practitioner_id})", now
        )
        stamp = uk_date(now).isoformat()
        return Response(
            body,
            media_type=CONTENT_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="chronology-{stamp}.{format}"'},
        )

    @app.post("/chronology/end-break-glass", include_in_schema=False)
    def end_break_glass(request: Request, session: PostSession, child: FormText = "") -> Response:
        ref = parse_child(child)
        if ref is None:
            return form_page(request, session, child=child, errors=[CHILD_HINT], status=400)
        try:
            ended = hub.gate.end_break_glass(ref, session.practitioner_id)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        # What emergency access showed is not to be rendered again.
        session.disclosed = {
            k: v
            for k, v in session.disclosed.items()
            if not (isinstance(v, Held) and any(x.child == ref.identifier for x in v.views))
        }
        session.flash.append(
            "Your emergency access to this child has ended. A data protection officer will "
            "still review it."
            if ended
            else "You hold no emergency access to this child, so there was nothing to end."
        )
        return RedirectResponse("/chronology", status_code=303)
