"""RFC 9457 problem details: every error the API answers, in one shape.

An error is `application/problem+json` with `type`, `title`, `status`, `detail` and `instance`
(`urn:uuid:...`, this occurrence, also in the access log line of the request as `problem`: it
names nothing the caller sent, where the path could repeat an id or whatever was typed). A request
that is not valid also lists each problem under `errors`, by where it is (`loc`) and what is
wrong (`msg`), never the value given: it may hold personal data, or values (NaN, lone
surrogates) that cannot be rendered as JSON. The handlers here cover the hub's own errors,
FastAPI's validation errors and Starlette's own 404 and 405 for unknown routes and methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, MutableMapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.adapters.tokens import InvalidTokenError
from hub.disclosure_gate import UnknownPractitionerError
from hub.domain.subject_access import SubjectAccessError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPES = "https://schemas.safeguarding-hub.example/problems/"
INVALID_REQUEST = PROBLEM_TYPES + "invalid-request"
INTERNAL_FAILURE_DETAIL = "the hub could not complete this request; nothing was disclosed"


class FieldProblem(BaseModel):
    """One thing wrong with a request: where, and what is expected (never the value given)."""

    loc: list[str | int] = Field(description="where: body, header, path or query, then the field")
    msg: str = Field(description="what is wrong, in plain English")
    type: str = Field(description="the kind of problem (pydantic's error type)")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(
        default="about:blank",
        description="a URI naming the kind of problem; `about:blank` when the status says it all",
    )
    title: str = Field(description="the kind of problem, the same for every occurrence")
    status: int = Field(description="the HTTP status code", ge=400, le=599)
    detail: str = Field(description="this occurrence, in plain English; names fields, not values")
    instance: str = Field(
        description="this occurrence (`urn:uuid:...`), logged with the request; names nothing sent"
    )
    errors: list[FieldProblem] | None = Field(
        default=None, description="for a request that is not valid: each field's problem"
    )


def new_instance(scope: MutableMapping[str, Any]) -> str:
    """A new occurrence id, kept in the request's state for its access log line."""
    instance = f"urn:uuid:{uuid.uuid4()}"
    scope.setdefault("state", {})["problem"] = instance
    return instance


def problem_body(
    status: int,
    detail: str,
    instance: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, new_instance(request.scope), type_=type_, errors=errors),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def field_name(loc: Iterable[str | int]) -> str:
    """`body.child`, `header.x-hub-purpose`: where a problem is, as a person reads it."""
    return ".".join(str(part) for part in loc)


def invalid_request(request: Request, problems: list[dict[str, Any]]) -> JSONResponse:
    """422 naming each field that is wrong, never its value."""
    errors = [
        {
            "loc": list(p.get("loc", ())),
            "msg": str(p.get("msg", "")),
            "type": str(p.get("type", "value_error")),
        }
        for p in problems
    ]
    fields = list(dict.fromkeys(field_name(e["loc"]) for e in errors))
    detail = (
        "the request is not valid: " + ", ".join(fields) if fields else "the request is not valid"
    )
    return problem(request, 422, detail, type_=INVALID_REQUEST, errors=errors)


def install_problem_details(app: FastAPI) -> None:
    """Every error the app answers as problem details (the 500 is the access middleware's)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = (
            error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
        )
        headers = dict(error.headers) if error.headers else None
        return problem(request, error.status_code, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def not_valid(request: Request, error: RequestValidationError) -> JSONResponse:
        return invalid_request(request, list(error.errors()))

    @app.exception_handler(InvalidTokenError)
    async def refused(request: Request, error: InvalidTokenError) -> JSONResponse:
        return problem(request, 401, str(error), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, error: PermissionError) -> JSONResponse:
        return problem(request, 403, str(error))

    @app.exception_handler(UnknownPractitionerError)
    async def unknown(request: Request, error: UnknownPractitionerError) -> JSONResponse:
        return problem(request, 403, str(error))

    @app.exception_handler(LookupError)
    async def not_found(request: Request, error: LookupError) -> JSONResponse:
        return problem(request, 404, str(error))

    @app.exception_handler(SubjectAccessError)
    async def subject_access_refused(request: Request, error: SubjectAccessError) -> JSONResponse:
        return problem(request, 422, str(error))


_DESCRIPTIONS = {
    400: "the request body is not JSON",
    401: "no bearer token, or one that is expired, tampered with or wrongly signed",
    403: "authenticated, but not allowed (an unknown practitioner, or the wrong role)",
    404: "no such thing for this caller",
    409: "the request conflicts with the state of what it acts on",
    413: "the request body is larger than the hub accepts (HUB_MAX_REQUEST_BYTES)",
    422: "the request is not valid: `errors` names each field, never the value",
    429: "too many requests of this kind lately: `detail` says when to try again (UK time), "
    "and `Retry-After` in how many seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route, each `application/problem+json`."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
