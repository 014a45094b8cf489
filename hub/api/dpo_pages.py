"""The data protection officer's pages, and the withholding review queue.

`/dpo` is a DPO's audit desk: whom they act for (their own organisation, or the partnership as
a lead DPO named in the agreement), the break-glass grants awaiting review with what was
disclosed under each, the withheld items with their review dates, and two questions for the
audit ledger (who saw a child, what a practitioner was shown). The answers are the audit
queries' (`hub.audit_queries`, which apply the DPO's scope and audit every question), read as
`hub audit` prints them (`hub.reports.audit_table`): practitioners by name with their
organisation, the child by NHS number or provisional id only where the disclosure gate names
the child to this DPO (`child_identities`, audited), times in UK time with the zone.

`/dpo/withholdings` is the withholding review queue (`hub.withholding_reviews`) of whoever is
signed in: a publishing agency's DPO, a lead DPO, or the person who decided a withholding (who
need not be a DPO). Each item has a form to record "still withheld until <date>" or "now
shared" with notes; a review is recorded (and audited) only when the whole form is valid, and
the page then redirects with a message (post-redirect-get). A problem is named by its field in
an error summary, and the value typed is never written anywhere but back into the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.page_kit import (
    CHILD_HINT,
    NOT_IN_DIRECTORY,
    FormText,
    PageSession,
    PostSession,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.audit_queries import AuditAnswer
from hub.disclosure_gate import UnknownPractitionerError
from hub.disclosure_withholdings import NOW_SHARED, STILL_WITHHELD, WithholdingForReview
from hub.reports.audit_words import (
    AuditNames,
    action_text,
    child_streams,
    items_summary,
    organisation_names,
    purpose_text,
)
from hub.reports.rendering import day_text, readable_label
from hub.withholding_reviews import OUTCOMES, ReviewRefusedError

Render = Callable[..., Response]
NOTES_LIMIT = 2000
# A review form's fields: the label a person reads, and the suffix of the input's id.
REVIEW_FIELDS = {
    "outcome": ("Outcome", "outcome-still"),
    "until": ("Review again by", "until"),
    "notes": ("Notes", "notes"),
    "record": ("Record", None),
}


@dataclass(frozen=True)
class QueueItem:
    """One withholding in the review queue, with the id its form's fields are named by."""

    key: str
    row: WithholdingForReview
    days_overdue: int


@dataclass
class ReviewForm:
    """A review form as it was posted, and what is wrong with it (field -> message)."""

    record: str
    outcome: str = ""
    until: str = ""
    notes: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        return list(self.errors.items())


def _review_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def check_review(form: ReviewForm) -> date | None:
    """What the page can tell before asking the service; the service checks the rest (a date
    after today, who answers for the record) and says which field is wrong."""
    if form.outcome not in OUTCOMES:
        form.errors["outcome"] = "Outcome: choose still withheld (with a date) or now shared."
    until = None
    if form.outcome == STILL_WITHHELD:
        until = _review_date(form.until) if form.until.strip() else None
        if until is None:
            form.errors["until"] = (
                "Review again by: enter the date of the next review, as YYYY-MM-DD."
                if form.until.strip()
                else "Review again by: enter the date of the next review."
            )
    if not form.notes.strip():
        form.errors["notes"] = "Notes: say why (the review is part of the record)."
    elif len(form.notes) > NOTES_LIMIT:
        form.errors["notes"] = f"Notes: write at most {NOTES_LIMIT:,} characters."
    return until


def service_problem(message: str) -> tuple[str, str]:
    """A service error (`field: what is wrong`, never the value given) as the page names it."""
    name, _, text = message.partition(":")
    label = REVIEW_FIELDS.get(name.strip(), ("Review", None))[0]
    text = text.strip() or message
    return name.strip(), f"{label}: {text[:1].upper()}{text[1:]}."


def queue_items(
    today: date, due: Iterable[WithholdingForReview], upcoming: Iterable[WithholdingForReview]
) -> tuple[list[QueueItem], list[QueueItem]]:
    """The queue's items, each with the id its form's fields are named by."""
    return (
        [QueueItem(f"due-{n}", r, (today - r.review_by).days) for n, r in enumerate(due, 1)],
        [QueueItem(f"upcoming-{n}", r, 0) for n, r in enumerate(upcoming, 1)],
    )


def register_dpo_pages(app: FastAPI, hub: PageServices, render: Render, error: Render) -> None:
    """Add `/dpo` (and its review and questions) and `/dpo/withholdings` to the app."""

    def not_in_directory(request: Request, session: Session) -> Response:
        return error(request, session, 403, *NOT_IN_DIRECTORY)

    def dpo_refused(request: Request, session: Session) -> Response:
        return error(
            request,
            session,
            403,
            "Data protection officers only",
            "These pages "
            "answer who saw what; only data protection officers may use them. Your "
            "attempt has been recorded in the audit ledger.",
        )

    def audit_names(dpo_id: str, answers: Iterable[AuditAnswer]) -> AuditNames:
        """Names for the ids in these answers; the children only as the gate names them to
        this DPO (each naming audited)."""
        streams = [s for answer in answers for s in child_streams(answer)]
        children = hub.audit_queries.child_identities(dpo_id, streams) if streams else {}
        return AuditNames(
            practitioners=hub.directory.get,
            organisations=organisation_names(hub.agencies.all()),
            children=children,
        )

    def reviewer(practitioner_id: str) -> str:
        return AuditNames(hub.directory.get).practitioner(practitioner_id)

    def decider(text: str) -> str:
        """Whoever decided a withholding: by name and id when the directory knows them (the
        publisher may name them by id), otherwise as the publisher wrote it."""
        known = hub.directory.get(text)
        return text if known is None else f"{known.name} ({known.id})"

    def acts_for(practitioner_id: str, names: AuditNames) -> Mapping[str, Any]:
        dpo = hub.gate.practitioner(practitioner_id)
        return {
            "partnership": hub.gate.acts_for_partnership(dpo),
            "organisation": names.organisation(dpo.organisation),
        }

    @app.get("/dpo", include_in_schema=False)
    def dpo(request: Request, session: PageSession) -> Response:
        try:
            queue = hub.audit_queries.break_glass(session.practitioner_id)
            withheld = hub.audit_queries.withheld(session.practitioner_id)
            names = audit_names(session.practitioner_id, (queue, withheld))
            scope = acts_for(session.practitioner_id, names)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except PermissionError:  # refused and audited by the audit queries themselves
            return dpo_refused(request, session)
        return render(
            request,
            session,
            "dpo.html",
            grants=queue.rows,
            withheld=withheld.rows,
            names=names,
            acts_for=scope,
            action_text=action_text,
            purpose_text=purpose_text,
            items_summary=items_summary,
            messages=session.take_flash(),
        )

    @app.post("/dpo/review", include_in_schema=False)
    def review(
        request: Request,
        session: PostSession,
        grant: FormText = "",
        outcome: FormText = "",
        notes: FormText = "",
    ) -> Response:
        if outcome not in ("appropriate", "inappropriate") or len(notes) > NOTES_LIMIT:
            session.flash.append(
                "Choose appropriate or inappropriate (notes up to 2,000 "
                "characters); the grant was not marked reviewed."
            )
            return RedirectResponse("/dpo", status_code=303)
        try:
            hub.audit_queries.review_break_glass(
                session.practitioner_id, grant, outcome, notes.strip()
            )
        except PermissionError:
            return dpo_refused(request, session)
        except LookupError:
            session.flash.append("That break-glass grant was not found; nothing was recorded.")
            return RedirectResponse("/dpo", status_code=303)
        session.flash.append(f"Break-glass grant {grant} marked {outcome}.")
        return RedirectResponse("/dpo", status_code=303)

    def results(
        request: Request,
        session: Session,
        title: str,
        by: str,
        *,
        answer: AuditAnswer | None = None,
        subject: str | None = None,
        problem: str | None = None,
    ) -> Response:
        names = (
            audit_names(session.practitioner_id, [answer] if by == "child" else [])
            if answer is not None
            else None
        )
        return render(
            request,
            session,
            "dpo_results.html",
            400 if problem else 200,
            title=title,
            rows=[] if answer is None else answer.rows,
            by=by,
            names=names,
            subject=subject,
            error=problem,
            action_text=action_text,
            purpose_text=purpose_text,
            items_summary=items_summary,
        )

    @app.post("/dpo/who-saw", include_in_schema=False)
    def who_saw(request: Request, session: PostSession, child: FormText = "") -> Response:
        title = "Who saw this child"
        ref = parse_child(child)
        if ref is None:
            return results(request, session, title, "practitioner", problem=CHILD_HINT)
        try:
            answer = hub.audit_queries.who_saw_child(session.practitioner_id, ref)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except PermissionError:
            return dpo_refused(request, session)
        return results(request, session, title, "practitioner", answer=answer)

    @app.post("/dpo/practitioner", include_in_schema=False)
    def practitioner_saw(
        request: Request, session: PostSession, practitioner: FormText = ""
    ) -> Response:
        wanted = practitioner.strip()
        title = f"What {wanted or 'a practitioner'} was shown"
        if not wanted:
            return results(
                request,
                session,
                title,
                "child",
                problem="Enter a practitioner id, such as po-0002.",
            )
        try:
            answer = hub.audit_queries.what_practitioner_saw(session.practitioner_id, wanted)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except PermissionError:
            return dpo_refused(request, session)
        known = hub.directory.get(wanted)
        subject = None
        if known is not None:
            organisation = organisation_names(hub.agencies.all()).get(
                known.organisation, known.organisation
            )
            subject = f"{known.name}, {readable_label(known.role.value).lower()}, {organisation}"
        return results(request, session, title, "child", answer=answer, subject=subject)

    def withholdings_page(
        request: Request, session: Session, form: ReviewForm | None = None, status: int = 200
    ) -> Response:
        try:
            queue = hub.withholding_reviews.queue(session.practitioner_id)
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        due, upcoming = queue_items(queue.today, queue.due, queue.upcoming)
        failed_key = None
        if form is not None:
            items = (*due, *upcoming)
            failed_key = next((i.key for i in items if i.row.record == form.record), None)
        return render(
            request,
            session,
            "dpo_withholdings.html",
            status,
            today=queue.today,
            due=due,
            upcoming=upcoming,
            form=form,
            failed_key=failed_key,
            review_fields=REVIEW_FIELDS,
            organisations=organisation_names(hub.agencies.all()),
            decider=decider,
            reviewer=reviewer,
            messages=session.take_flash(),
        )

    @app.get("/dpo/withholdings", include_in_schema=False)
    def withholdings(request: Request, session: PageSession) -> Response:
        return withholdings_page(request, session)

    @app.post("/dpo/withholdings/review", include_in_schema=False)
    def review_withholding(
        request: Request,
        session: PostSession,
        record: FormText = "",
        outcome: FormText = "",
        until: FormText = "",
        notes: FormText = "",
    ) -> Response:
        form = ReviewForm(record.strip(), outcome, until, notes)
        next_review = check_review(form)
        if form.errors:  # nothing is recorded for a form with a problem
            return withholdings_page(request, session, form, 400)
        try:
            row = hub.withholding_reviews.review(
                session.practitioner_id, form.record, form.outcome, form.notes, next_review
            )
        except UnknownPractitionerError:
            return not_in_directory(request, session)
        except ReviewRefusedError as refused:
            form.errors.setdefault(*service_problem(str(refused)))
            return withholdings_page(request, session, form, 403)
        except ValueError as problem:
            form.errors.setdefault(*service_problem(str(problem)))
            return withholdings_page(request, session, form, 400)
        if form.outcome == NOW_SHARED:
            session.flash.append(
                f"{row.record} is now shared under the agreement's rules. Your review is "
                "recorded in the audit ledger."
            )
        else:
            session.flash.append(
                f"{row.record} stays withheld; review it again by {day_text(next_review)}. "
                "Your review is recorded in the audit ledger."
            )
        return RedirectResponse("/dpo/withholdings", status_code=303)
