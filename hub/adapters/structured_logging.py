"""Structured JSON logs that never carry a child's identity or an event's content.

`redact_personal_data` runs on every log line: it drops fields that hold free text or raw
payloads, and masks anything that looks like an NHS number wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from hub.domain.markers import REDACTED

_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
FREE_TEXT_KEYS = frozenset(
    {
        "summary",
        "details",
        "narrative",
        "raw",
        "body",
        "child_voice",
        "reason_text",
        "value",
        "notes",
    }
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _NHS_LIKE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: (REDACTED if k in FREE_TEXT_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = REDACTED if key in FREE_TEXT_KEYS else _scrub(event_dict[key])
    return event_dict


class _StandardError:
    """`sys.stderr` as it is when a line is written, not when logging was configured: a
    program (or a test) that replaces it later must not leave the logger writing to a closed
    stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or _StandardError()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
