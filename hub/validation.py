"""Turning the bytes a transport delivers into a canonical event, or a precise rejection.

Every rejection has a stable code (for counting and dashboards) and a reason an integrator can
act on. Reasons never quote the message's content: they name fields and positions only,
because they are shown to operators and may reach logs.

No publisher speaks for another: the channel (Kafka topic, inbox directory, HTTPS token) says
which agency sent a message, the agency register says what type of agency that is, and the
event must agree with both. A worker allocation, which gives a practitioner access to the
child, may only name the publishing authority's own staff or members of its teams.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from hub.domain.access import Practitioner, works_for
from hub.domain.canonical_event import CanonicalEvent, describe_validation_error
from hub.domain.taxonomy import AgencyType

ALLOCATION = "la.worker-allocated"
FindPractitioner = Callable[[str], Practitioner | None]


@dataclass(frozen=True)
class Rejection:
    code: str
    reason: str


def parse_message(
    value: bytes,
    *,
    owner_agency: str,
    owner_type: AgencyType | None,
    find_practitioner: FindPractitioner,
    received_at: datetime,
    max_bytes: int,
    clock_skew: timedelta,
) -> CanonicalEvent | Rejection:
    """`owner_type` is the channel owner's registered agency type (None: not registered)."""
    if owner_type is None:
        return Rejection(
            "unregistered-agency",
            f"agency {owner_agency!r} is not in this hub's agency register; register it "
            "(hub agency register) and publish again",
        )
    if len(value) > max_bytes:
        return Rejection("oversize", f"message is {len(value):,} bytes; the limit is {max_bytes:,}")
    try:
        # Fast path: pydantic parses and validates the JSON, UTF-8 included, in one pass from
        # the bytes (no str, no dict in between). Only its success is trusted; anything it
        # rejects takes the slow path below, which gives the precise rejection (not UTF-8,
        # malformed JSON, not an object, which field is wrong).
        event = CanonicalEvent.model_validate_json(value)
    except ValidationError as error:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejection(
                "invalid-utf8", f"message is not UTF-8 (bad byte at offset {bad.start})"
            )
        return _parse_slowly(text, error)
    return _check_publisher(event, owner_agency, owner_type, find_practitioner) or _check_dates(
        event, received_at, clock_skew
    )


def _parse_slowly(text: str, fast_error: ValidationError) -> Rejection:
    """The precise rejection for a message the fast path could not validate."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return Rejection(
            "malformed-json",
            f"message is not JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        )
    except (RecursionError, ValueError):
        # Nested deeper than the json module recurses, or an integer with more digits than
        # Python converts: JSON in form, but not JSON anything here can hold.
        return _unreadable(fast_error)
    if not isinstance(document, dict):
        return Rejection(
            "not-an-object", f"message is a JSON {type(document).__name__}, not an object"
        )
    try:
        CanonicalEvent.model_validate(document)
    except ValidationError as error:
        return Rejection("invalid-event", describe_validation_error(error))
    # pydantic's JSON parser is stricter than the json module (e.g. nesting deeper than 200).
    return _unreadable(fast_error)


def _unreadable(fast_error: ValidationError) -> Rejection:
    """pydantic's reason, which names a position, never content."""
    problems = "; ".join(
        str(item["msg"]) for item in fast_error.errors(include_url=False, include_input=False)
    )
    return Rejection("malformed-json", f"message is not JSON the hub can read: {problems}")


def _check_publisher(
    event: CanonicalEvent,
    owner_agency: str,
    owner_type: AgencyType,
    find_practitioner: FindPractitioner,
) -> Rejection | None:
    if event.agency.id != owner_agency:
        return Rejection(
            "wrong-agency",
            f"agency.id is not {owner_agency!r}, the agency whose channel the message arrived on",
        )
    if event.agency.type is not owner_type:
        return Rejection(
            "wrong-agency-type",
            f"agency.type is {event.agency.type}, but {owner_agency!r} is registered as "
            f"{owner_type}",
        )
    if event.kind == ALLOCATION:
        practitioner = find_practitioner(str(event.details.get("practitioner_id", "")))
        if practitioner is None or not works_for(practitioner, owner_agency):
            return Rejection(
                "allocation-outside-authority",
                "details.practitioner_id is not, in the practitioner directory, a member of "
                f"staff of {owner_agency!r} or of one of its teams",
            )
    return None


def _check_dates(
    event: CanonicalEvent, received_at: datetime, clock_skew: timedelta
) -> CanonicalEvent | Rejection:
    latest_allowed = received_at + clock_skew
    for name, moment in (("recorded_at", event.recorded_at), ("occurred_at", event.occurred_at)):
        if moment > latest_allowed:
            return Rejection("future-date", f"{name} is in the future (after the hub received it)")
    return event
