"""What every page shares: the templates and their filters, the form and session types, the
child identifier a form names, and rendering a page or an error page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from starlette.templating import Jinja2Templates

from hub.api.sessions import Session, page_session, posted_session
from hub.domain.canonical_event import ChildRef, child_ref
from hub.domain.identity import InvalidIdentifierError
from hub.domain.markers import REDACTED, RETRACTED, SHIELDED
from hub.domain.taxonomy import AgencyType, HarmCategory
from hub.reports.rendering import readable_label, template_environment

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
AGENCY_TYPE_LABELS = {
    AgencyType.LOCAL_AUTHORITY.value: "Local authority",
    AgencyType.POLICE.value: "Police",
    AgencyType.HEALTH.value: "Health",
    AgencyType.EDUCATION.value: "Education",
}
BREAK_GLASS_REASON = (3, 500)  # the same bounds as the API's break-glass request
CHILD_HINT = "Enter an NHS number (10 digits, spaces allowed) or a provisional id starting PRV-."

PageSession = Annotated[Session, Depends(page_session)]
PostSession = Annotated[Session, Depends(posted_session)]
FormText = Annotated[str, Form()]


def parse_child(identifier: str) -> ChildRef | None:
    """The child reference a form names, or None when it is not a valid identifier."""
    try:
        return child_ref(identifier)
    except InvalidIdentifierError:
        return None


_NOT_IN_ANCHOR = re.compile(r"[^A-Za-z0-9./@:-]")


def item_anchor(ref: str) -> str:
    """The id of an item's entry on the chronology page (`item-` and its reference), so another
    page can link to exactly that item. Characters a URL fragment would need escaped (and `_`,
    the escape) are written `_xx`, so two references never share an anchor."""
    return "item-" + _NOT_IN_ANCHOR.sub(lambda m: "".join(f"_{b:02x}" for b in m[0].encode()), ref)


def page_templates() -> Jinja2Templates:
    """The page templates (`hub.reports.rendering`: autoescaped, strict, UK times)."""
    env = template_environment(TEMPLATES_DIR)
    env.filters["field"] = lambda path: readable_label(str(path).removeprefix("details."))
    env.filters["anchor"] = item_anchor
    env.globals.update(
        agency_type_labels=AGENCY_TYPE_LABELS,
        harm_categories=[c.value for c in HarmCategory],
        REDACTED=REDACTED,
        SHIELDED=SHIELDED,
        RETRACTED=RETRACTED,
        child_hint=CHILD_HINT,
    )
    return Jinja2Templates(env=env)


# The error page for a signed-in practitioner no longer in the directory: (title, text).
NOT_IN_DIRECTORY = (
    "Not in the directory",
    "Your practitioner id is no longer in the hub's directory; nothing is shown.",
)

# The error page when the audit entry could not be written, so nothing was disclosed (503).
AUDIT_UNAVAILABLE = (
    "Audit unavailable",
    "The audit ledger could not be written, so nothing is shown. Try again later.",
)


class PageKit:
    """Renders a template as a page, with the session, or the error page."""

    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates

    def render(
        self,
        request: Request,
        session: Session | None,
        name: str,
        status: int = 200,
        **context: Any,
    ) -> Response:
        return self.templates.TemplateResponse(
            request, name, {"session": session, **context}, status_code=status
        )

    def error(
        self, request: Request, session: Session | None, status: int, title: str, text: str
    ) -> Response:
        return self.render(request, session, "error.html", status, title=title, message=text)
