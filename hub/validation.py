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
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return Rejection(
            "malformed-json",
            f"message is not JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        )
    if not isinstance(document, dict):
        return Rejection(
            "not-an-object", f"message is a JSON {type(document).__name__}, not an object"
        )
    try:
        event = CanonicalEvent.model_validate(document)
    except ValidationError as error:
        return Rejection("invalid-event", describe_validation_error(error))
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
