"""The `/inbox` page: what waits for the signed-in practitioner, in one place (docs/inbox.md).

Operation Encompass notices not yet acknowledged come first, each with a form to acknowledge
it with the action taken; then statutory-clock alerts grouped by child, current first, with
older breaches summarised; then notifications, newest first. Listing the inbox releases each
notice and item again through the gate under the audit entry of its delivery (nothing new is
audited); opening the record from an item is a normal audited view of the chronology.

Every change is a POST form carrying the session's CSRF token, answered with a redirect back
(Post/Redirect/Get) and a confirmation: acknowledging a notice, marking an item done, and
opening an item's record (which discloses, so it is a POST like every other chronology
lookup: `POST /inbox/items/{id}/open` asks the gate for the child's chronology for the item's
purpose, holds it in the session, marks the item opened and redirects to the held view). The
child is named to the browser by the item's opaque id only, never in a URL. `/notices` and
`/alerts` redirect here.

Every page's header shows how many things wait (`inbox_count`), counted from the consumers'
documents alone (no disclosure); when that cannot be counted the header just says "Inbox".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from consumers.clock_alerts.shown import AlertListing, OlderBreaches, ShownAlert
from consumers.encompass import ACTION_TAKEN_MAX_CHARS
from consumers.inbox.consumer import UnknownItemError
from hub.api.chronology_views import hold
from hub.api.page_kit import (
    AUDIT_UNAVAILABLE,
    FormText,
    PageKit,
    PageSession,
    PostSession,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.audit_ledger import AuditUnavailableError
from hub.disclosure_gate import UnknownPractitionerError
from hub.reports.inbox_words import NO_LONGER_SHARED, TYPE_NAMES, item_lines, item_title
from hub.reports.rendering import day_text

log = structlog.get_logger("hub.api.inbox")

ACTION_FIELD = "Action taken"
# Each clock in plain words (what must happen by the due date).
CLOCK_WORDS = {
    "assessment": "Social work assessment to complete",
    "initial-conference": "Initial child protection conference to hold",
    "cp-review": "Child protection review conference to hold",
    "incident-notification": "Serious incident notification to send",
    "rapid-review": "Rapid review to complete",
}
NOT_YOURS = (
    "Not in your inbox",
    "That item is not in your inbox (it may have been for someone else). Nothing was done.",
)


def clock_words(clock: str) -> str:
    return CLOCK_WORDS.get(clock, clock.replace("-", " ").capitalize())


def alert_when(alert: ShownAlert) -> str:
    """`3 working days left`, `overdue by 2 working days`, or the clock's state."""
    left = alert.working_days_left
    days = "working day" if abs(left) == 1 else "working days"
    if alert.status == "open":
        return f"{left} {days} left"
    if alert.status == "breached-open":
        return f"overdue by {-left} {days}"
    return "stopped"


def older_breaches_sentence(older: OlderBreaches, after_others: bool) -> str:
    """`And 263 older breaches (over 20 working days overdue): 150 assessments, ...`."""
    noun = "breach" if older.count == 1 else "breaches"
    sentence = (
        f"{older.count} older {noun} (over {older.horizon_working_days} working days overdue) "
        f"are not listed: {older.counts_text()}; the oldest was due {day_text(older.oldest_due)}."
    )
    return ("And " + sentence) if after_others else sentence[0].upper() + sentence[1:]


def inbox_count_text(count: int | None) -> str:
    return "Inbox" if count is None else f"Inbox ({count})"


@dataclass
class AckForm:
    """A notice's acknowledgement that was refused: what was typed, and the problem."""

    notice_id: str
    action_taken: str
    error: str


@dataclass
class AlertGroup:
    """One child's alerts as the page shows them: the child by name where the inbox names
    them, otherwise by identifier."""

    child: str
    alerts: list[ShownAlert] = field(default_factory=list)


def checked_action(text: str) -> str | None:
    """The problem with an action taken, naming the field (never repeating the text)."""
    if not text.strip():
        return f"{ACTION_FIELD}: say what you did about this notice."
    if len(text.strip()) > ACTION_TAKEN_MAX_CHARS:
        return f"{ACTION_FIELD}: write at most {ACTION_TAKEN_MAX_CHARS:,} characters."
    return None


def child_names(notices: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict[str, str]:
    """Each child identifier the inbox already names, to its name (from the released headers)."""
    names: dict[str, str] = {}
    for shown in [*notices, *items]:
        header = shown.get("header") or {}
        name, identifier = header.get("name"), header.get("identifier")
        if identifier and isinstance(name, str) and not name.startswith("["):
            names.setdefault(identifier, name)
    return names


def alert_groups(
    listing: AlertListing | None, names: dict[str, str]
) -> tuple[list[AlertGroup], str]:
    if listing is None:
        return [], ""
    groups, older = listing.grouped()
    shown = [
        AlertGroup(
            names.get(g.child or "", f"Child with NHS number or id {g.child}")
            if g.child
            else "A child not identified to you",
            g.alerts,
        )
        for g in groups
    ]
    return shown, older_breaches_sentence(older, bool(groups)) if older.count else ""


def register_inbox_pages(
    app: FastAPI,
    hub: PageServices,
    kit: PageKit,
    not_in_directory: Callable[[Request, Session], Response],
) -> None:
    """Add `/inbox` (and its forms), the `/notices` and `/alerts` redirects, and the header
    count every page shows."""
    render, error = kit.render, kit.error

    def inbox_count(practitioner_id: str) -> int | None:
        try:
            return hub.inbox.counts(practitioner_id, datetime.now(UTC)).total
        except Exception as problem:  # the header must never fail a page
            log.warning("inbox_count_unavailable", error=type(problem).__name__)
            return None

    kit.templates.env.globals["inbox_count"] = inbox_count

    def person_name(practitioner_id: str | None) -> str:
        person = hub.directory.get(practitioner_id or "")
        return person.name if person else "someone no longer in the directory"

    def page(
        request: Request, session: Session, failed: AckForm | None = None, status: int = 200
    ) -> Response:
        try:
            inbox = hub.inbox.inbox(session.practitioner_id, datetime.now(UTC), include_done=False)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except PermissionError:
            return error(
                request,
                session,
                403,
                "Account not active",
                "Your account is not active in the practitioner directory; nothing is shown.",
            )
        document = inbox.as_dict()
        items = document["items"]
        names = child_names(inbox.notices, items)
        groups, older = alert_groups(inbox.alerts, names)
        waiting = [n for n in inbox.notices if not n.get("acknowledged_by")]
        acknowledged = [n for n in inbox.notices if n.get("acknowledged_by")]
        return render(
            request,
            session,
            "inbox.html",
            status,
            counts=inbox.counts,
            waiting=waiting,
            acknowledged=acknowledged,
            groups=groups,
            older=older,
            items=sorted(items, key=lambda i: i["created_at"], reverse=True),
            titles={i["id"]: item_title(i) for i in items},
            lines={i["id"]: item_lines(i) for i in items},
            type_names=TYPE_NAMES,
            no_longer_shared=NO_LONGER_SHARED,
            person_name=person_name,
            clock_words=clock_words,
            alert_when=alert_when,
            failed=failed,
            max_action=ACTION_TAKEN_MAX_CHARS,
            messages=session.take_flash(),
        )

    @app.get("/inbox", include_in_schema=False)
    def inbox_page(request: Request, session: PageSession) -> Response:
        return page(request, session)

    @app.get("/notices", include_in_schema=False)
    def notices_page(_: PageSession) -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @app.get("/alerts", include_in_schema=False)
    def alerts_page(_: PageSession) -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @app.post("/inbox/notices/{notice_id}/acknowledge", include_in_schema=False)
    def acknowledge(
        request: Request, session: PostSession, notice_id: str, action_taken: FormText = ""
    ) -> Response:
        problem = checked_action(action_taken)
        if problem:  # nothing is recorded
            return page(request, session, AckForm(notice_id, action_taken, problem), 400)
        try:
            hub.inbox.acknowledge(
                session.practitioner_id, notice_id, action_taken.strip(), datetime.now(UTC)
            )
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except (LookupError, PermissionError):
            return error(
                request,
                session,
                404,
                "Not in your inbox",
                "That notice was not delivered to you, so it cannot be acknowledged by you. "
                "Nothing was recorded.",
            )
        session.flash.append("Notice acknowledged, with the action you took.")
        return RedirectResponse("/inbox", status_code=303)

    @app.post("/inbox/items/{item_id}/done", include_in_schema=False)
    def mark_done(request: Request, session: PostSession, item_id: str) -> Response:
        try:  # the full id first: `mark` stores the item under the id it is given
            item_id = hub.inbox.resolve_item(session.practitioner_id, item_id)
            hub.inbox.mark(session.practitioner_id, item_id, "done", datetime.now(UTC))
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except UnknownItemError:
            return error(request, session, 404, *NOT_YOURS)
        session.flash.append("Notification marked done. It is no longer listed.")
        return RedirectResponse("/inbox", status_code=303)

    @app.post("/inbox/items/{item_id}/open", include_in_schema=False)
    def open_record(request: Request, session: PostSession, item_id: str) -> Response:
        now = datetime.now(UTC)
        try:
            item_id = hub.inbox.resolve_item(session.practitioner_id, item_id)
            identifier, purpose = hub.inbox.item_child(session.practitioner_id, item_id, now)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except UnknownItemError:
            return error(request, session, 404, *NOT_YOURS)
        ref = parse_child(identifier) if identifier else None
        if ref is None:
            session.flash.append(NO_LONGER_SHARED)
            return RedirectResponse("/inbox", status_code=303)
        try:
            view = hub.gate.view(ref, session.practitioner_id, purpose)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except AuditUnavailableError:
            return error(request, session, 503, *AUDIT_UNAVAILABLE)
        hub.inbox.mark(session.practitioner_id, item_id, "opened", now)
        return RedirectResponse(f"/chronology/view/{hold(session, [view])}", status_code=303)
