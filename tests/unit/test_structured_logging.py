from __future__ import annotations

import io
import json

import structlog

from hub.adapters.structured_logging import configure_logging


def test_log_lines_are_json_without_nhs_numbers_or_free_text() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    structlog.get_logger("t").info(
        "ingested",
        note="child 943 476 5919 seen",
        nested={"nhs": "9434765919", "summary": "disclosed abuse"},
        summary="disclosed abuse",
        count=3,
    )
    line = json.loads(stream.getvalue())
    assert line["event"] == "ingested"
    assert line["count"] == 3
    assert line["note"] == "child [redacted] seen"
    assert line["nested"] == {"nhs": "[redacted]", "summary": "[redacted]"}
    assert line["summary"] == "[redacted]"
    assert "9434765919" not in stream.getvalue() and "943 476 5919" not in stream.getvalue()
