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

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.page_kit import (
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
from hub.disclosure_gate import ChronologyView, ShownEntry, UnknownPractitionerError
from hub.domain.taxonomy import HarmCategory
from hub.domain.uk_time import uk_date
from hub.policies.decision import Action
from hub.reports.chronology_exports import CONTENT_TYPES, RENDERERS, ExportPart
from hub.reports.chronology_picture import SHAPES, picture
from hub.reports.key_facts import key_facts

HOLD_FOR = timedelta(minutes=30)  # how long a view stays to be re-rendered without the gate
HOLD_MAX = 6  # views held per session (a few tabs); the oldest goes first
MAX_TOGETHER = 6  # children in one merged view


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

    def query(self) -> str:
        """The filters as a query string (no child identifier: agency ids, a category, dates)."""
        pairs = {
            "agency": self.agency,
            "category": self.category,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        kept = {k: v for k, v in pairs.items() if v}
        return f"?{urlencode(kept)}" if kept else ""

    def keeps(self, entry: ShownEntry) -> bool:
        kind, _, value = self.agency.partition(":")
        if kind == "type" and entry.agency_type != value:
            return False
        if kind == "id" and entry.agency != value:
            return False
        if self.category and self.category not in entry.categories:
            return False
        occurred = uk_date(entry.occurred_at)
        if self.date_from and occurred < self.date_from:
            return False
        return not (self.date_to and occurred > self.date_to)


@dataclass
class Sibling:
    """A child who shares a household reference with the one viewed, as the view may say."""

    key: str  # random, for forms; never the identifier
    identifier: str | None  # None: the viewer has no relationship with them
    via: list[str] = field(default_factory=list)  # the agencies whose references link them


@dataclass
class Held:
    """What the gate released for one request (one child, or siblings together), held in the
    session so the page can be rendered again without a new disclosure."""

    views: list[ChronologyView]
    held_at: datetime
    siblings: list[Sibling] = field(default_factory=list)
    unidentified: int = 0  # at least this many other children the viewer may not know of


def family(view: ChronologyView) -> tuple[list[Sibling], int]:
    """The children linked to this one through any agency's household reference, as one
    household (not one per agency): siblings the viewer may know of, once each, with the
    agencies that link them; and how many others at least (a group's unnamed siblings cannot
    be matched across agencies without naming them, so the largest count is a floor)."""
    named: dict[str, Sibling] = {}
    unnamed = 0
    for key, group in view.households.items():
        agency = key.partition("/")[0]
        anonymous = 0
        for sibling in group["siblings"]:
            identifier = sibling.get("child")
            if identifier:
                found = named.setdefault(identifier, Sibling(secrets.token_urlsafe(12), identifier))
                if agency not in found.via:
                    found.via.append(agency)
            else:
                anonymous += 1
        unnamed = max(unnamed, anonymous)
    return sorted(named.values(), key=lambda s: s.identifier or ""), unnamed


def _now() -> datetime:
    return datetime.now(UTC)


def hold(session: Session, views: list[ChronologyView]) -> str:
    """Keep what was released in the session under a new random key; drop the expired and the
    oldest beyond `HOLD_MAX`."""
    now = _now()
    held: dict[str, Any] = {
        k: v
        for k, v in session.disclosed.items()
        if isinstance(v, Held) and now - v.held_at < HOLD_FOR
    }
    while len(held) >= HOLD_MAX:
        held.pop(next(iter(held)))
    siblings, unidentified = family(views[0]) if len(views) == 1 else ([], 0)
    key = secrets.token_urlsafe(18)
    held[key] = Held(views, now, siblings, unidentified)
    session.disclosed = held
    return key


def held_view(session: Session, key: str) -> Held | None:
    found = session.disclosed.get(key)
    if isinstance(found, Held) and _now() - found.held_at < HOLD_FOR:
        return found
    return None


def view_context(
    held: Held,
    headers: Sequence[ChildHeader],
    filters: Filters,
    agency_names: Mapping[str, str],
    person_name: Callable[[str], str | None],
    today: date,
) -> dict[str, Any]:
    """What the chronology template renders for a held view (no I/O): the headers, the
    merged and filtered timeline with each entry's key facts and child, the pattern flags
    linked both ways with the entries, and the picture."""
    views = held.views
    labels = {v.child: (h.name or v.child) for v, h in zip(views, headers, strict=True)}
    every = sorted(((e, v) for v in views for e in v.entries), key=lambda pair: pair[0].occurred_at)
    shown = [(e, v) for e, v in every if filters.keeps(e)]
    flags = [
        (f"flag-{n}", v, flag)
        for n, (v, flag) in enumerate(((v, f) for v in views for f in v.patterns), start=1)
    ]
    flags_by_ref: dict[str, list[tuple[str, Any]]] = {}
    for flag_id, _, flag in flags:
        for ref in flag.refs:
            flags_by_ref.setdefault(ref, []).append((flag_id, flag))
    return {
        "view": views[0],
        "views": views,
        "headers": headers,
        "child_labels": labels,
        "together": len(views) > 1,
        "held": held,
        "child": views[0].child,
        "filters": filters,
        "shown": [e for e, _ in shown],
        "shown_with_child": shown,
        "total": len(every),
        "agencies": sorted({(e.agency_type, e.agency) for e, _ in every}),
        "agency_names": agency_names,
        "flags": flags,
        "flags_by_ref": flags_by_ref,
        "entries_by_ref": {e.ref: e for e, _ in shown},
        "facts": {e.ref: key_facts(e.kind, e.details, person_name) for e, _ in shown},
        "picture": picture([e for e, _ in shown], [f for _, _, f in flags], agency_names, today),
        "shapes": SHAPES,
    }


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
        agencies, today = register(), uk_date(_now())
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
                return error(
                    request,
                    session,
                    503,
                    "Audit unavailable",
                    "The audit ledger could not be written, so nothing is disclosed. "
                    "Try again later.",
                )
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
            **view_context(held, headers(held.views), filters, names, person_name, uk_date(_now())),
            key=key,
            errors=errors,
            status_message=None,
        )

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
        now = _now()
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
