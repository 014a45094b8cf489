"""The `/find` page: find a child by family name and date of birth (given name optional).

`POST /find` checks the terms (a problem is named by field, never repeated, and nothing is
searched or audited), searches through `hub.child_search` (the gate decides and audits), keeps
the answer in the server-side session and redirects to `GET /find`, which shows the session's
latest answer: Back and Refresh never search again, and no name, date of birth or identifier
is ever in a URL. Each result opens the child's chronology by a POST form naming the child in
its body (docs/web.md, docs/find.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.page_kit import NOT_IN_DIRECTORY, FormText, PageSession, PostSession
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.child_search import SearchTermError, search_terms
from hub.disclosure_gate import UnknownPractitionerError

SEARCH_KEY = "find"  # where the session keeps its latest search
# Each term's field on the form (error links) and its name in words.
FIELDS = {
    "family_name": ("family-name", "Family name"),
    "date_of_birth": ("date-of-birth", "Date of birth"),
    "given_name": ("given-name", "Given name"),
}


Render = Callable[..., Response]


@dataclass
class FindForm:
    """What was typed (shown again with a problem) and each field's problem."""

    family_name: str = ""
    date_of_birth: str = ""
    given_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def register_find_pages(app: FastAPI, hub: PageServices, render: Render, error: Render) -> None:
    """Add `GET /find` and `POST /find` to the app."""

    def page(
        request: Request, session: Session, form: FindForm | None = None, status: int = 200
    ) -> Response:
        latest = session.search.get(SEARCH_KEY) if form is None or not form.errors else None
        return render(
            request,
            session,
            "find.html",
            status,
            form=form or FindForm(),
            fields=FIELDS,
            search=latest,
            agencies={r.agency_id: r.display_name for r in hub.agencies.all()},
        )

    @app.get("/find", include_in_schema=False)
    def find_form(request: Request, session: PageSession) -> Response:
        return page(request, session)

    @app.post("/find", include_in_schema=False)
    def find(
        request: Request,
        session: PostSession,
        family_name: FormText = "",
        date_of_birth: FormText = "",
        given_name: FormText = "",
    ) -> Response:
        form = FindForm(family_name, date_of_birth, given_name)
        for name, value, required in (
            ("family_name", family_name, True),
            ("date_of_birth", date_of_birth, True),
            ("given_name", given_name, False),
        ):
            try:  # each field on its own, so every problem is named at once
                search_terms(
                    value if name == "family_name" else "x",
                    value if name == "date_of_birth" else "2000-01-01",
                    value if name == "given_name" else None,
                )
            except SearchTermError as problem:
                if required or value.strip():
                    form.errors[problem.field] = f"{FIELDS[problem.field][1]}: {problem.problem}"
        if form.errors:  # nothing is searched or audited
            return page(request, session, form, 400)
        try:
            answer = hub.child_search.find(
                session.practitioner_id, family_name, date_of_birth, given_name, session.purpose
            )
        except SearchTermError as problem:
            form.errors[problem.field] = f"{FIELDS[problem.field][1]}: {problem.problem}"
            return page(request, session, form, 400)
        except UnknownPractitionerError:
            return error(request, session, 403, *NOT_IN_DIRECTORY)
        session.search[SEARCH_KEY] = {"terms": answer.terms, "results": answer.results}
        return RedirectResponse("/find", status_code=303)
