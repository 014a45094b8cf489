"""Turning the bytes a transport delivers into a canonical event, or a precise rejection.

Every rejection has a stable code (for counting and dashboards) and a reason an integrator can
act on. Reasons never quote the message's content: they name fields and positions only,
because they are shown to operators and may reach logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from hub.domain.canonical_event import CanonicalEvent, describe_validation_error


@dataclass(frozen=True)
class Rejection:
    code: str
    reason: str


def parse_message(
    value: bytes,
    *,
    owner_agency: str,
    received_at: datetime,
    max_bytes: int,
    clock_skew: timedelta,
) -> CanonicalEvent | Rejection:
    if len(value) > max_bytes:
        return Rejection("oversize", f"message is {len(value):,} bytes; the limit is {max_bytes:,}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection("invalid-utf8", f"message is not UTF-8 (bad byte at offset {error.start})")
    try:
        # Fast path: pydantic parses and validates the JSON in one pass (no dict in between).
        # Only its success is trusted; anything it rejects takes the slow path below, which
        # gives the precise rejection (malformed JSON, not an object, which field is wrong).
        event = CanonicalEvent.model_validate_json(text)
    except ValidationError as error:
        return _parse_slowly(text, error)
    return _check_channel_and_dates(event, owner_agency, received_at, clock_skew)


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


def _check_channel_and_dates(
    event: CanonicalEvent, owner_agency: str, received_at: datetime, clock_skew: timedelta
) -> CanonicalEvent | Rejection:
    if event.agency.id != owner_agency:
        return Rejection(
            "wrong-agency",
            f"message claims agency {event.agency.id!r} "
            f"but arrived on the channel of {owner_agency!r}",
        )
    latest_allowed = received_at + clock_skew
    for name, moment in (("recorded_at", event.recorded_at), ("occurred_at", event.occurred_at)):
        if moment > latest_allowed:
            return Rejection("future-date", f"{name} is in the future (after the hub received it)")
    return event
