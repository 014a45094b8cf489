from __future__ import annotations

import io
import json

import pytest
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


def test_logging_follows_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI configures logging once; a stream replaced afterwards (by an embedding program,
    or a test's capture that then closes) must not break every later log line."""
    import io
    import sys

    import structlog

    from hub.adapters.structured_logging import configure_logging

    saved = structlog.get_config()
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    try:
        configure_logging("info")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        structlog.get_logger("t").info("still_written")
        assert "still_written" in second.getvalue()
    finally:
        structlog.configure(**saved)
