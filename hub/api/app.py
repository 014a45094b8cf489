"""The FastAPI application: API routes, health checks, security headers, authentication.

Every route except the health checks needs a valid bearer token (API) or a session made from
one (pages), and every disclosure declares a purpose. Child identifiers travel only in request
bodies, never in URLs, so they cannot reach access logs or browser history.

About 500 lines: the API's routes are one table (each a few lines handing a body to
a service), kept together so the OpenAPI document and the routes read as one; the pages are
their own modules (`pages`, `chronology_pages`, `dpo_pages`, `find_pages`, `inbox_pages`,
`replay_pages`, `subject_access_pages`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

import structlog
from fastapi import Body, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from consumers.encompass import UnknownNoticeError
from consumers.inbox.consumer import UnknownItemError
from hub.adapters.tokens import Caller, TokenVerifier
from hub.api import responses as out
from hub.api.body_limit import BodyLimit
from hub.api.contract import document_contract
from hub.api.pages import register_pages
from hub.api.problems import (
    INTERNAL_FAILURE_DETAIL,
    PROBLEM_MEDIA_TYPE,
    install_problem_details,
    new_instance,
    problem,
    problem_body,
    problem_responses,
)
from hub.bootstrap import Hub
from hub.child_search import SearchTermError
from hub.chronology_header import child_header
from hub.disclosure_release import ChronologyView
from hub.domain.access import CHRONOLOGY_PURPOSES, Purpose
from hub.domain.canonical_event import child_ref, validate_child_identifier
from hub.domain.subject_access import (
    Decision,
    DecisionType,
    Requester,
    RequesterBasis,
)
from hub.domain.uk_time import UK, parse_as_of
from hub.subject_access import PackRefusedError
from hub.transports.https import HttpsPublishing

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
PUBLIC_PATHS = {"/healthz", "/readyz"}
access_log = structlog.get_logger("hub.api")


ChildIdentifier = Annotated[
    str,
    AfterValidator(validate_child_identifier),
    Field(description="NHS number or provisional id (in the body, never the URL)"),
]


class ChildRequest(BaseModel):
    child: ChildIdentifier


class FindRequest(BaseModel):
    """A search by name and date of birth (in the body, never the URL): docs/find.md."""

    family_name: str = Field(max_length=200)
    date_of_birth: str = Field(max_length=20, description="YYYY-MM-DD")
    given_name: str | None = Field(default=None, max_length=200)


class BreakGlassRequest(ChildRequest):
    reason: str = Field(min_length=3, max_length=500)


def _as_of(value: object) -> object:
    """Read as the CLI and the pages read it (`hub.domain.uk_time.parse_as_of`)."""
    if isinstance(value, str):
        return parse_as_of(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UK)
    return value


AsOf = Annotated[
    datetime,
    BeforeValidator(_as_of),
    Field(
        description="a date (the end of that day in England) or a date and time (UK time "
        "unless a zone is given; to the minute, the end of that minute)",
        examples=["2026-03-04", "2026-03-04T12:00", "2026-03-04T11:00:00Z"],
    ),
]


class ReplayRequest(ChildRequest):
    as_of: AsOf
    as_practitioner: str | None = None


class SarOpenRequest(ChildRequest):
    requester: str = Field(min_length=1, max_length=200)
    basis: str = Field(pattern="^(data-subject|parental-responsibility|representative)$")
    authority: str | None = Field(default=None, max_length=500)
    received: date
    identity_verified: str | None = Field(default=None, max_length=500)
    identity_verified_on: date | None = None


class SarDecisionRequest(BaseModel):
    item: str = Field(min_length=3, max_length=300)
    decision: str = Field(pattern="^(release|release-redacted|withhold)$")
    exemption: str | None = Field(default=None, max_length=60)
    fields: list[str] = Field(default_factory=list, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    opinion: str | None = Field(default=None, max_length=2000)


class SarExtensionRequest(BaseModel):
    months: int = Field(ge=1, le=2)
    reason: str = Field(min_length=1, max_length=2000)
    requester_told: date


class SarIdentityRequest(BaseModel):
    how: str = Field(min_length=1, max_length=500)
    on: date


class SarPackRequest(BaseModel):
    format: str = Field(default="json", pattern="^(json|pdf)$")


class AcknowledgeRequest(BaseModel):
    """What the practitioner did about an Operation Encompass notice (kept sealed with the
    child's key, so erasing the child erases it)."""

    action_taken: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ]


class ReviewRequest(BaseModel):
    grant: str
    outcome: str = Field(pattern="^(appropriate|inappropriate)$")
    notes: str = Field(default="", max_length=2000)


bearer_token = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A JWT from the partnership's identity provider (or, in development, "
    "`hub token issue`); its subject is a practitioner id or `agency:<agency id>`.",
    auto_error=False,  # the verifier refuses a missing token, with its own 401
)


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_token)],
) -> Caller:
    """The authenticated caller, from the bearer token (refused with 401 otherwise)."""
    token = credentials.credentials.strip() if credentials else None
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(token)


PurposeHeader = Header(
    description="why the caller is looking (docs/api.md#purpose); without it, the answer is "
    "an audited denial",
    json_schema_extra={"enum": [p.value for p in CHRONOLOGY_PURPOSES]},
)


def purpose(x_hub_purpose: Annotated[str | None, PurposeHeader] = None) -> Purpose | None:
    """The purpose the request declares (`X-Hub-Purpose`); without one, nothing is shown."""
    if x_hub_purpose is None:
        return None
    declared = next((p for p in CHRONOLOGY_PURPOSES if p.value == x_hub_purpose), None)
    if declared is None:
        raise HTTPException(
            422,
            "X-Hub-Purpose is not a purpose for looking a child up; use one of "
            + ", ".join(p.value for p in CHRONOLOGY_PURPOSES),
        )
    return declared


CallerDep = Annotated[Caller, Depends(caller)]

NO_PARTNER_REGISTER = (
    "This hub has no partner register (HUB_FEDERATION_REGISTER), so there are no partner hubs "
    "to ask; nothing was asked or recorded."
)
PARTNER_QUESTION_RECORDED = (
    "Your question and what it came to are recorded in this hub's audit ledger; each partner "
    "hub records that a question came from this hub, never which child."
)

# The publish route reads its body as JSON objects (an invalid event is quarantined with its
# reason, not refused) and documents it as an array of canonical events (schema v1).
CANONICAL_EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "canonical events (docs/adapters.md); each validated on its own",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CanonicalEvent"},
                }
            }
        },
    }
}
PurposeDep = Annotated[Purpose | None, Depends(purpose)]


def create_app(hub: Hub, verifier: TokenVerifier) -> FastAPI:
    app = FastAPI(
        title="Safeguarding information-sharing hub",
        version="1",
        description="Policy-checked, audited multi-agency chronology for child safeguarding.",
        # No unauthenticated schema or docs routes (and Swagger UI would load external
        # assets): the OpenAPI document is published in docs/openapi.json instead.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.verifier = verifier
    app.add_middleware(BodyLimit, max_bytes=hub.settings.max_request_bytes)
    install_problem_details(app)
    document_contract(app)
    publishing = HttpsPublishing(lambda: hub.ingest)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as error:
            # A defect, not the caller's mistake. The response and the log say what kind of
            # failure, never its message or traceback: both can carry what was being handled.
            access_log.error("request_failed", error=type(error).__name__)
            response = JSONResponse(
                problem_body(500, INTERNAL_FAILURE_DETAIL, new_instance(request.scope)),
                status_code=500,
                media_type=PROBLEM_MEDIA_TYPE,
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        route = request.scope.get("route")
        # The access log: the route template, never the concrete path or query, no client id.
        access_log.info(
            "request",
            method=request.method,
            route=getattr(route, "path", "unmatched"),
            status=response.status_code,
            problem=request.scope.get("state", {}).get("problem"),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    @app.get(
        "/healthz",
        operation_id="check_liveness",
        tags=["health"],
        response_model=out.Liveness,
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        operation_id="check_readiness",
        tags=["health"],
        response_model=out.Readiness,
    )
    def readyz() -> dict[str, Any]:
        return {
            "status": "ready",
            "events": hub.store.recorder.max_notification_id() or 0,
        }

    @app.post(
        "/api/v1/events",
        operation_id="publish_events",
        tags=["events"],
        response_model=out.PublishReceipt,
        responses=problem_responses(400, 401, 403, 413, 422),
        openapi_extra=CANONICAL_EVENTS_BODY,
    )
    def publish(who: CallerDep, events: Annotated[list[dict[str, Any]], Body()]) -> dict[str, Any]:
        """Publish canonical events over HTTPS (`hub.transports.https`): the same validation,
        idempotency and quarantine as the Kafka and inbox transports. The agency comes from the
        token."""
        agency = who.agency
        if agency is None:
            raise PermissionError("only agency systems (token subject agency:<id>) publish events")
        return publishing.publish(agency, events).as_dict()

    def with_header(view: ChronologyView) -> dict[str, Any]:
        """The released view with who the child is, from that release (`child_header`)."""
        register = {r.agency_id: r for r in hub.agencies.all()}
        header = child_header(view, register, hub.directory.get, datetime.now(UK).date())
        return {**view.as_dict(), "header": header.as_dict()}

    @app.post(
        "/api/v1/chronology",
        operation_id="read_chronology",
        tags=["chronology"],
        response_model=out.Chronology,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def chronology(who: CallerDep, why: PurposeDep, body: ChildRequest) -> dict[str, Any]:
        return with_header(hub.gate.view(child_ref(body.child), who.subject, why))

    @app.post(
        "/api/v1/find",
        operation_id="find_child",
        tags=["chronology"],
        response_model=out.FindResults,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def find(who: CallerDep, why: PurposeDep, body: FindRequest) -> dict[str, Any]:
        """Find a child by family name and date of birth (given name optional): the children
        this caller may see, best first, audited with the terms (docs/find.md). A bad term is
        named (422), never repeated."""
        try:
            answer = hub.child_search.find(
                who.subject, body.family_name, body.date_of_birth, body.given_name, why
            )
        except SearchTermError as error:
            raise RequestValidationError(
                [{"loc": ("body", error.field), "msg": error.problem, "type": "value_error"}]
            ) from None
        return answer.as_dict()

    @app.post(
        "/api/v1/break-glass",
        operation_id="break_glass",
        tags=["chronology"],
        response_model=out.Chronology,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def break_glass(who: CallerDep, why: PurposeDep, body: BreakGlassRequest) -> dict[str, Any]:
        view = hub.gate.view(
            child_ref(body.child), who.subject, why, break_glass_reason=body.reason
        )
        return with_header(view)

    @app.post(
        "/api/v1/break-glass/end",
        operation_id="end_break_glass",
        tags=["chronology"],
        response_model=out.BreakGlassEnded,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def end_break_glass(who: CallerDep, body: ChildRequest) -> dict[str, bool]:
        """The caller ends their own emergency access to the child (the emergency is over)."""
        return {"ended": hub.gate.end_break_glass(child_ref(body.child), who.subject)}

    @app.post(
        "/api/v1/partner-question",
        operation_id="ask_partner_hubs",
        tags=["chronology"],
        response_model=out.PartnerQuestion,
        responses=problem_responses(400, 401, 403, 409, 413, 422, 429),
    )
    def partner_question(
        request: Request, who: CallerDep, body: ChildRequest
    ) -> dict[str, Any] | Response:
        """Is anyone else involved? Ask every partner hub whether it holds records about the
        child (docs/federation.md): only by a practitioner with a relationship to the child
        (403 otherwise, the reason in words) and within the question limit (429, with when
        they can ask again in UK time). Each answer is only "partnership X holds records;
        contact Y" or that it does not; nothing about the child is sent to a partner hub.
        The question and its answers are recorded in the audit ledger either way. 409 when
        this hub has no partner register. Waits for the partners' answers (up to
        HUB_DISCOVERY_ANSWER_TIMEOUT_SECONDS)."""
        if hub.settings.federation_register is None:
            return problem(request, 409, NO_PARTNER_REGISTER)
        child = child_ref(body.child)
        if child.nhs_number is None:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "child"),
                        "msg": "partner hubs can be asked only about a child with an NHS number",
                        "type": "value_error",
                    }
                ]
            )
        result = hub.discovery.ask(child, who.subject)
        if result.refusal == "limit-reached":
            headers = {}
            if result.ask_again_from is not None:
                wait = (result.ask_again_from - datetime.now(UTC)).total_seconds()
                headers["Retry-After"] = str(max(1, int(wait) + 1))
            return problem(request, 429, result.refused, headers=headers)
        if result.refused:
            return problem(request, 403, result.refused)
        return {
            "held_elsewhere": bool(result.holders),
            "answers": [
                {
                    "partnership": a.name,
                    "contact": a.contact,
                    "outcome": a.outcome,
                    "words": a.words(),
                    "detail": a.detail,
                }
                for a in result.answers
            ],
            "words": result.lines(),
            "audit": PARTNER_QUESTION_RECORDED,
        }

    @app.post(
        "/api/v1/replay",
        operation_id="replay_record",
        tags=["replay"],
        response_model=out.Replay,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def replay(who: CallerDep, body: ReplayRequest) -> dict[str, Any]:
        """The record as it stood at `as_of`, for a commissioned reviewer or a DPO."""
        report = hub.replay.replay(
            child_ref(body.child), who.subject, body.as_of, as_practitioner=body.as_practitioner
        )
        return report.as_dict()

    @app.post(
        "/api/v1/audit/who-saw",
        operation_id="audit_who_saw_child",
        tags=["audit"],
        response_model=out.AuditAnswer,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def who_saw(who: CallerDep, body: ChildRequest) -> dict[str, Any]:
        answer = hub.audit_queries.who_saw_child(who.subject, child_ref(body.child))
        return {"query": answer.query, "rows": answer.rows}

    @app.get(
        "/api/v1/audit/practitioners/{practitioner_id}",
        operation_id="audit_what_practitioner_saw",
        tags=["audit"],
        response_model=out.AuditAnswer,
        responses=problem_responses(401, 403, 404, 422),
    )
    def practitioner_saw(who: CallerDep, practitioner_id: str) -> dict[str, Any]:
        answer = hub.audit_queries.what_practitioner_saw(who.subject, practitioner_id)
        return {"query": answer.query, "rows": answer.rows}

    @app.get(
        "/api/v1/audit/break-glass",
        operation_id="audit_break_glass_queue",
        tags=["audit"],
        response_model=out.AuditAnswer,
        responses=problem_responses(401, 403),
    )
    def break_glass_queue(who: CallerDep) -> dict[str, Any]:
        answer = hub.audit_queries.break_glass(who.subject)
        return {"query": answer.query, "rows": answer.rows}

    @app.post(
        "/api/v1/audit/break-glass/review",
        operation_id="review_break_glass",
        tags=["audit"],
        response_model=out.BreakGlassReviewed,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def review(who: CallerDep, body: ReviewRequest) -> dict[str, str]:
        hub.audit_queries.review_break_glass(who.subject, body.grant, body.outcome, body.notes)
        return {"reviewed": body.grant, "outcome": body.outcome}

    @app.get(
        "/api/v1/audit/withheld",
        operation_id="audit_withheld_items",
        tags=["audit"],
        response_model=out.AuditAnswer,
        responses=problem_responses(401, 403),
    )
    def withheld(who: CallerDep) -> dict[str, Any]:
        answer = hub.audit_queries.withheld(who.subject)
        return {"query": answer.query, "rows": answer.rows}

    @app.post(
        "/api/v1/audit/subject-access",
        operation_id="export_subject_access",
        tags=["audit"],
        response_model=out.SubjectAccessExport,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def subject_access(who: CallerDep, body: ChildRequest) -> dict[str, Any]:
        return hub.audit_queries.subject_access(who.subject, child_ref(body.child))

    @app.post(
        "/api/v1/sar",
        operation_id="open_subject_access_case",
        tags=["subject-access"],
        response_model=out.SubjectAccessCase,
        responses=problem_responses(400, 401, 403, 413, 422),
    )
    def sar_open(who: CallerDep, body: SarOpenRequest) -> dict[str, Any]:
        """Open a subject access case (a DPO); the child in the body, never the URL."""
        requester = Requester(body.requester, RequesterBasis(body.basis), body.authority)
        case = hub.subject_access.open(
            who.subject,
            child_ref(body.child),
            requester,
            body.received,
            identity_verified=body.identity_verified,
            identity_verified_on=body.identity_verified_on,
        )
        return case.as_dict()

    @app.get(
        "/api/v1/sar",
        operation_id="list_subject_access_cases",
        tags=["subject-access"],
        response_model=out.SubjectAccessCases,
        responses=problem_responses(401, 403),
    )
    def sar_list(who: CallerDep) -> dict[str, Any]:
        return {"cases": [c.as_dict() for c in hub.subject_access.cases(who.subject)]}

    @app.get(
        "/api/v1/sar/{case_id}",
        operation_id="read_subject_access_draft",
        tags=["subject-access"],
        response_model=out.SubjectAccessDraft,
        responses=problem_responses(401, 403, 404, 422),
    )
    def sar_draft(who: CallerDep, case_id: str) -> dict[str, Any]:
        """The draft: each item as released to the DPO (audited), its flags and decision."""
        return hub.subject_access.draft(who.subject, case_id).as_dict()

    @app.post(
        "/api/v1/sar/{case_id}/decisions",
        operation_id="record_subject_access_decision",
        tags=["subject-access"],
        response_model=out.RecordedDecision,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def sar_decide(who: CallerDep, case_id: str, body: SarDecisionRequest) -> dict[str, Any]:
        decision = Decision(
            DecisionType(body.decision),
            body.reason,
            body.exemption,
            tuple(body.fields),
            body.opinion,
        )
        return hub.subject_access.record_decision(
            who.subject, case_id, body.item, decision
        ).as_dict()

    @app.post(
        "/api/v1/sar/{case_id}/extension",
        operation_id="extend_subject_access_deadline",
        tags=["subject-access"],
        response_model=out.SubjectAccessCase,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def sar_extend(who: CallerDep, case_id: str, body: SarExtensionRequest) -> dict[str, Any]:
        extended = hub.subject_access.extend(
            who.subject, case_id, body.months, body.reason, body.requester_told
        )
        return extended.as_dict()

    @app.post(
        "/api/v1/sar/{case_id}/identity",
        operation_id="record_requester_identity",
        tags=["subject-access"],
        response_model=out.SubjectAccessCase,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def sar_identity(who: CallerDep, case_id: str, body: SarIdentityRequest) -> dict[str, Any]:
        return hub.subject_access.verify_identity(who.subject, case_id, body.how, body.on).as_dict()

    @app.post(
        "/api/v1/sar/{case_id}/pack",
        operation_id="build_subject_access_pack",
        tags=["subject-access"],
        response_model=out.SubjectAccessPack,
        responses={
            200: {
                "description": "the pack: JSON, or with `format: pdf` the PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
            **problem_responses(400, 401, 403, 404, 409, 413, 422),
        },
    )
    def sar_pack(
        request: Request, who: CallerDep, case_id: str, body: SarPackRequest
    ) -> dict[str, Any] | Response:
        """Build the final pack (refused while a flagged item is undecided): released by the
        gate as an audited subject access export; JSON, or the PDF."""
        from hub.reports.subject_access_pack import render_pdf

        try:
            pack = hub.subject_access.pack(who.subject, case_id)
        except PackRefusedError as refused:  # not yet: identity unconfirmed, items undecided
            return problem(request, 409, str(refused))
        if body.format == "pdf":
            disposition = 'attachment; filename="subject-access-pack.pdf"'
            return Response(
                render_pdf(pack),
                media_type="application/pdf",
                headers={"Content-Disposition": disposition},
            )
        return pack.document

    notices: list[Any] = []  # the Operation Encompass consumer's state, opened on first use

    def encompass() -> Any:
        from consumers.encompass import EncompassConsumer

        if not notices:
            runner = hub.consumer_runner("encompass")
            assert isinstance(runner.consumer, EncompassConsumer)
            notices.append(runner)
        return notices[0]

    @app.get(
        "/api/v1/notices",
        operation_id="list_notices",
        tags=["notices"],
        response_model=out.Notices,
        responses=problem_responses(401, 403),
    )
    def my_notices(who: CallerDep) -> dict[str, Any]:
        """The Operation Encompass notices delivered to the caller (disclosed and audited at
        delivery), newest first."""
        hub.gate.practitioner(who.subject)
        runner = encompass()
        return {"notices": runner.consumer.inbox(runner.documents(), who.subject)}

    @app.post(
        "/api/v1/notices/{notice_id}/ack",
        operation_id="acknowledge_notice",
        tags=["notices"],
        response_model=out.NoticeAcknowledged,
        responses=problem_responses(401, 403, 404, 422),
    )
    def acknowledge_notice(who: CallerDep, notice_id: str) -> dict[str, Any]:
        """Acknowledge a notice delivered to the caller, which stops its escalation."""
        from datetime import UTC, datetime

        hub.gate.practitioner(who.subject)
        runner = encompass()
        documents = runner.documents()
        ack: dict[str, Any] = runner.consumer.acknowledge(
            documents, notice_id, who.subject, datetime.now(UTC)
        )
        runner.state.commit(documents.changed, None)
        return {"notice": notice_id, "acknowledged": ack}

    @app.get(
        "/api/v1/inbox",
        operation_id="read_inbox",
        tags=["inbox"],
        response_model=out.Inbox,
        responses=problem_responses(401, 403, 422),
    )
    def my_inbox(who: CallerDep, include_done: bool = False) -> dict[str, Any]:
        """What waits for the caller (docs/inbox.md): Operation Encompass notices, statutory
        clock alerts grouped by child, and notifications newest first (`include_done=true`
        also lists those marked done). Each is released again by the gate under the audit
        entry of its delivery: listing audits nothing new."""
        return hub.inbox.inbox(who.subject, datetime.now(UTC), include_done=include_done).as_dict()

    @app.get(
        "/api/v1/inbox/counts",
        operation_id="count_inbox",
        tags=["inbox"],
        response_model=out.InboxCounts,
        responses=problem_responses(401, 403),
    )
    def my_inbox_counts(who: CallerDep) -> dict[str, int]:
        """How many notices, alerts and notifications wait for the caller (counted from the
        consumers' own documents: nothing disclosed, nothing audited)."""
        return hub.inbox.counts(who.subject, datetime.now(UTC)).as_dict()

    def mark_item(practitioner_id: str, item_id: str, what: str) -> dict[str, Any]:
        try:  # the full id first: `mark` stores the item under the id it is given
            full_id = hub.inbox.resolve_item(practitioner_id, item_id)
            return hub.inbox.mark(practitioner_id, full_id, what, datetime.now(UTC))
        except UnknownItemError:
            raise HTTPException(404, "item: no such item in your inbox") from None

    @app.post(
        "/api/v1/inbox/items/{item_id}/done",
        operation_id="mark_inbox_item_done",
        tags=["inbox"],
        response_model=out.InboxItemMarked,
        responses=problem_responses(401, 403, 404, 422),
    )
    def inbox_item_done(who: CallerDep, item_id: str) -> dict[str, Any]:
        """Mark one of the caller's notifications done (by its id, or its first 12
        characters); nothing is disclosed or audited."""
        return mark_item(who.subject, item_id, "done")

    @app.post(
        "/api/v1/inbox/items/{item_id}/not-done",
        operation_id="mark_inbox_item_not_done",
        tags=["inbox"],
        response_model=out.InboxItemMarked,
        responses=problem_responses(401, 403, 404, 422),
    )
    def inbox_item_not_done(who: CallerDep, item_id: str) -> dict[str, Any]:
        """Bring back a notification the caller marked done."""
        return mark_item(who.subject, item_id, "not-done")

    @app.post(
        "/api/v1/inbox/notices/{notice_id}/acknowledge",
        operation_id="acknowledge_inbox_notice",
        tags=["notices"],
        response_model=out.NoticeAcknowledged,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    def inbox_acknowledge(
        who: CallerDep, notice_id: str, body: AcknowledgeRequest
    ) -> dict[str, Any]:
        """Acknowledge an Operation Encompass notice delivered to the caller, with the action
        taken (which stops its escalation). Acknowledging again changes nothing and returns
        the first acknowledgement."""
        try:
            ack = hub.inbox.acknowledge(
                who.subject, notice_id, body.action_taken, datetime.now(UTC)
            )
        except UnknownNoticeError:
            raise HTTPException(404, "notice: no such notice delivered to you") from None
        return {"notice": notice_id, "acknowledged": ack}

    register_pages(app, hub, verifier)
    return app
