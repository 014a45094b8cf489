"""The subject access pages for data protection officers: the cases with their statutory
clocks, opening a case, the draft with a decision form for each flagged item, extending the
time limit, confirming the requester's identity, and building the pack (PDF or JSON download).

Everything goes through `SubjectAccessService`, which refuses anyone but a DPO (and records the
refusal), releases the draft and the pack through the disclosure gate (audited) and records
each decision as an event. The child's identifier travels only in the opening form's POST
body; case references (`SAR-...`) name no one and may be in URLs. A form with a problem records
nothing and is shown again with an error summary, each message naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.page_kit import (
    AUDIT_UNAVAILABLE,
    CHILD_HINT,
    NOT_IN_DIRECTORY,
    FormText,
    PageSession,
    PostSession,
    item_anchor,
    parse_child,
)
from hub.api.page_services import PageServices
from hub.api.sessions import Session
from hub.audit_ledger import AuditUnavailableError
from hub.disclosure_gate import UnknownPractitionerError
from hub.domain.subject_access import (
    BASIS_LABELS,
    DECISION_LABELS,
    EXEMPTIONS,
    Decision,
    DecisionType,
    Requester,
    RequesterBasis,
    SubjectAccessError,
)
from hub.domain.uk_time import uk_date
from hub.subject_access import CaseRefusedError
from hub.subject_access_cases import Draft

Render = Callable[..., Response]
# A service message's field -> what the page calls it and the id of the control to go to.
FIELDS: dict[str, tuple[str, str]] = {
    "child": ("Child", "child"),
    "requester": ("Requester's name", "requester"),
    "basis": ("Basis of the request", "basis-data-subject"),
    "authority": ("Authority seen", "authority"),
    "received": ("Received", "received"),
    "identity-verified-on": ("Identity confirmed on", "identity_verified_on"),
    "item": ("Item", "decision-release"),
    "decision": ("Decision", "decision-release"),
    "exemption": ("Exemption", "exemption"),
    "fields": ("Fields to redact", "field-1"),
    "reason": ("Reason", "reason"),
    "opinion": ("Health professional's opinion", "opinion"),
    "months": ("Extend by", "months-1"),
    "requester-told": ("Requester told on", "requester_told"),
    "how": ("How the identity was confirmed", "how"),
    "on": ("Confirmed on", "on"),
    "decisions": ("Decisions", "items-heading"),
    "identity": ("Identity", "identity-heading"),
    "case": ("Case", "case-heading"),
    "format": ("Format", "format-pdf"),
}

_DECISION_FIELDS = frozenset({"item", "decision", "exemption", "fields", "reason", "opinion"})


@dataclass
class Problems:
    """A form's problems, by field, and which item's form (if any) they belong to."""

    messages: dict[str, str] = field(default_factory=dict)
    form: str = ""  # "open", "decide", "extend", "identity", "pack"
    item: str = ""  # the item a decision form was for
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        label = FIELDS.get(name, (name.capitalize(), ""))[0]
        text = text.strip()
        self.messages.setdefault(name, f"{label}: {text[:1].upper()}{text[1:]}")

    def add_error(self, error: Exception) -> None:
        name, _, text = str(error).partition(":")
        self.add(name.strip(), text or str(error))

    def links(self) -> list[tuple[str, str]]:
        """Each message with the id of the control it is about (a decision form's controls
        are named by their item)."""
        found = []
        for name, message in self.messages.items():
            target = FIELDS.get(name, ("", ""))[1]
            if self.form == "decide" and self.item and name in _DECISION_FIELDS:
                target = f"{item_anchor(self.item)}-{target}"
            found.append((target, message))
        return found

    def __bool__(self) -> bool:
        return bool(self.messages)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def register_subject_access_pages(
    app: FastAPI, hub: PageServices, render: Render, error: Render
) -> None:
    """Add `/sar` and the case pages under `/sar/{case_id}`."""

    def refused(request: Request, session: Session, problem: Exception) -> Response:
        if isinstance(problem, AuditUnavailableError):
            return error(request, session, 503, *AUDIT_UNAVAILABLE)
        if isinstance(problem, UnknownPractitionerError):
            return error(request, session, 403, *NOT_IN_DIRECTORY)
        if isinstance(problem, CaseRefusedError):
            text = f"{str(problem).partition(':')[2].strip().capitalize()}. Nothing was shown."
            return error(request, session, 403, "Not your case", text)
        if isinstance(problem, LookupError):
            text = "No subject access case has that reference."
            return error(request, session, 404, "No such case", text)
        text = (
            "Subject access requests are handled by data protection officers only. Your "
            "attempt has been recorded in the audit ledger."
        )
        return error(request, session, 403, "Data protection officers only", text)

    def cases_page(
        request: Request, session: Session, problems: Problems | None = None, status: int = 200
    ) -> Response:
        cases = hub.subject_access.cases(session.practitioner_id)
        today = uk_date(datetime.now(UTC))
        return render(
            request,
            session,
            "sar_cases.html",
            status,
            cases=cases,
            problems=problems or Problems(),
            bases=BASIS_LABELS,
            today=today,
            child_hint=CHILD_HINT,
            messages=session.take_flash(),
        )

    def case_page(
        request: Request,
        session: Session,
        case_id: str,
        problems: Problems | None = None,
        status: int = 200,
    ) -> Response:
        draft: Draft = hub.subject_access.draft(session.practitioner_id, case_id)
        return render(
            request,
            session,
            "sar_case.html",
            status,
            draft=draft,
            case=draft.case,
            problems=problems or Problems(),
            exemptions=EXEMPTIONS,
            decision_labels=DECISION_LABELS,
            summary=pack_summary(draft),
            messages=session.take_flash(),
        )

    @app.get("/sar", include_in_schema=False)
    def sar_cases(request: Request, session: PageSession) -> Response:
        try:
            return cases_page(request, session)
        except (PermissionError, LookupError, AuditUnavailableError) as problem:
            return refused(request, session, problem)

    @app.post("/sar/open", include_in_schema=False)
    def sar_open(
        request: Request,
        session: PostSession,
        child: FormText = "",
        requester: FormText = "",
        basis: FormText = "",
        authority: FormText = "",
        received: FormText = "",
        identity_verified: FormText = "",
        identity_verified_on: FormText = "",
    ) -> Response:
        problems = Problems(form="open")
        problems.values = {
            "child": child,
            "requester": requester,
            "basis": basis,
            "authority": authority,
            "received": received,
            "identity_verified": identity_verified,
            "identity_verified_on": identity_verified_on,
        }
        ref = parse_child(child)
        if ref is None:
            problems.add("child", CHILD_HINT)
        if not requester.strip():
            problems.add("requester", "enter the requester's name.")
        if basis not in {b.value for b in RequesterBasis}:
            problems.add("basis", "choose who is asking.")
        day = _date(received)
        if day is None:
            problems.add("received", "enter the date the request arrived.")
        verified_on = _date(identity_verified_on) if identity_verified_on.strip() else None
        if identity_verified_on.strip() and verified_on is None:
            problems.add("identity-verified-on", "enter a date, or leave it blank.")
        who: Requester | None = None
        if not problems:
            try:
                who = Requester(requester, RequesterBasis(basis), authority or None)
            except SubjectAccessError as problem:
                problems.add_error(problem)
        try:
            if problems or ref is None or who is None or day is None:
                return cases_page(request, session, problems, 400)
            case = hub.subject_access.open(
                session.practitioner_id,
                ref,
                who,
                day,
                identity_verified=identity_verified or None,
                identity_verified_on=verified_on,
            )
        except SubjectAccessError as problem:
            problems.add_error(problem)
            return cases_page(request, session, problems, 400)
        except (PermissionError, LookupError, AuditUnavailableError) as problem:
            return refused(request, session, problem)
        session.flash.append(
            f"Case {case.id} opened: due {case.clock.due.day} {case.clock.due:%B %Y}."
        )
        return RedirectResponse(f"/sar/{case.id}", status_code=303)

    @app.get("/sar/{case_id}", include_in_schema=False)
    def sar_case(request: Request, session: PageSession, case_id: str) -> Response:
        try:
            return case_page(request, session, case_id)
        except (PermissionError, LookupError, AuditUnavailableError) as problem:
            return refused(request, session, problem)

    def recorded(
        request: Request,
        session: Session,
        case_id: str,
        problems: Problems,
        action: Callable[[], str],
    ) -> Response:
        """Run the action unless the form has problems; then the case page again, or the
        problems on it (nothing recorded)."""
        try:
            if problems:
                return case_page(request, session, case_id, problems, 400)
            try:
                message = action()
            except SubjectAccessError as problem:
                problems.add_error(problem)
                return case_page(request, session, case_id, problems, 400)
        except (PermissionError, LookupError, AuditUnavailableError) as problem:
            return refused(request, session, problem)
        session.flash.append(message)
        anchor = f"#{problems.item}" if problems.item else ""
        return RedirectResponse(f"/sar/{case_id}{anchor}", status_code=303)

    @app.post("/sar/{case_id}/decide", include_in_schema=False)
    def sar_decide(
        request: Request,
        session: PostSession,
        case_id: str,
        item: FormText = "",
        decision: FormText = "",
        exemption: FormText = "",
        fields: Annotated[list[str] | None, Form()] = None,
        reason: FormText = "",
        opinion: FormText = "",
    ) -> Response:
        problems = Problems(form="decide", item=item.strip())
        problems.values = {"decision": decision, "exemption": exemption, "reason": reason}
        problems.values |= {"fields": fields or [], "opinion": opinion}
        if decision not in {d.value for d in DecisionType}:
            problems.add("decision", "choose release, release with fields redacted, or withhold.")
        if not reason.strip():
            problems.add("reason", "say why (the decision is part of the record).")

        def act() -> str:
            chosen = Decision(
                DecisionType(decision),
                reason,
                exemption or None,
                tuple(fields or ()),
                opinion or None,
            )
            hub.subject_access.record_decision(session.practitioner_id, case_id, item, chosen)
            return f"{item.strip()}: {DECISION_LABELS[chosen.decision]}. Decision recorded."

        return recorded(request, session, case_id, problems, act)

    @app.post("/sar/{case_id}/extend", include_in_schema=False)
    def sar_extend(
        request: Request,
        session: PostSession,
        case_id: str,
        months: FormText = "",
        reason: FormText = "",
        requester_told: FormText = "",
    ) -> Response:
        problems = Problems(form="extend")
        problems.values = {"months": months, "reason": reason, "requester_told": requester_told}
        if months not in ("1", "2"):
            problems.add("months", "choose one or two months.")
        told = _date(requester_told)
        if told is None:
            problems.add("requester-told", "enter the date the requester was told.")
        if not reason.strip():
            problems.add("reason", "say why the request needs longer.")

        def act() -> str:
            assert told is not None
            case = hub.subject_access.extend(
                session.practitioner_id, case_id, int(months), reason, told
            )
            return f"Extended: now due {case.clock.due.day} {case.clock.due:%B %Y}."

        return recorded(request, session, case_id, problems, act)

    @app.post("/sar/{case_id}/identity", include_in_schema=False)
    def sar_identity(
        request: Request,
        session: PostSession,
        case_id: str,
        how: FormText = "",
        on: FormText = "",
    ) -> Response:
        problems = Problems(form="identity")
        problems.values = {"how": how, "on": on}
        day = _date(on)
        if not how.strip():
            problems.add("how", "say how the requester's identity was confirmed.")
        if day is None:
            problems.add("on", "enter the date it was confirmed.")

        def act() -> str:
            assert day is not None
            hub.subject_access.verify_identity(session.practitioner_id, case_id, how, day)
            return "The requester's identity is recorded as confirmed."

        return recorded(request, session, case_id, problems, act)

    @app.post("/sar/{case_id}/pack", include_in_schema=False)
    def sar_pack(
        request: Request,
        session: PostSession,
        case_id: str,
        pack_format: Annotated[str, Form(alias="format")] = "",
    ) -> Response:
        from hub.reports.subject_access_pack import render_json, render_pdf

        problems = Problems(form="pack")
        if pack_format not in ("pdf", "json"):
            problems.add("format", "choose PDF or JSON.")
        try:
            if problems:
                return case_page(request, session, case_id, problems, 400)
            try:
                pack = hub.subject_access.pack(session.practitioner_id, case_id)
            except SubjectAccessError as problem:
                problems.add_error(problem)
                return case_page(request, session, case_id, problems, 409)
        except (PermissionError, LookupError, AuditUnavailableError) as problem:
            return refused(request, session, problem)
        if pack_format == "pdf":
            content, media = render_pdf(pack), "application/pdf"
        else:
            content, media = render_json(pack).encode(), "application/json"
        name = f"subject-access-pack.{pack_format}"  # no identifier in it
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type=media, headers=headers)


def pack_summary(draft: Draft) -> dict[str, int]:
    """How many items the pack would release and leave out, as the decisions stand."""
    released = sum(1 for i in draft.items if i.released and not i.undecided)
    return {"released": released, "withheld": len(draft.items) - released - len(draft.undecided)}
