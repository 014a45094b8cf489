"""The subject access pack as files: JSON (the machine form) and PDF (what the requester reads).

Both are written from the one pack document `SubjectAccessService.pack` released through the
disclosure gate (audited), so they hold exactly what was decided for release. The PDF is
printed from an HTML rendering of the same document, tagged (PDF/UA-1: headings, lists and the
reading order in a structure tree, the language en-GB, the title shown as the window title)
for assistive technology and navigation; times are UK time with the zone, dates in words.
File names are left to the caller: nothing here puts personal data in one.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2

from hub.reports.rendering import readable_label as label
from hub.reports.rendering import tagged_pdf, template_environment
from hub.subject_access_cases import Pack

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TITLE = "Response to a subject access request"


def render_json(pack: Pack) -> str:
    return json.dumps(pack.document, indent=2, ensure_ascii=False, default=str) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else str(value)


def _fields(record: dict[str, Any], which: str) -> str:
    """The record's redacted or shielded fields, in words."""
    return ", ".join(label(f.removeprefix("details.")) for f in record.get(which) or [])


@functools.cache  # compiled once per process, not per pack
def _environment() -> jinja2.Environment:
    env = template_environment(TEMPLATES_DIR)
    env.filters.update(value=_value, fields=_fields)
    return env


def render_html(pack: Pack) -> str:
    """The response as a standalone HTML document, which the PDF is printed from."""
    doc = pack.document
    return (
        _environment()
        .get_template("subject_access_pack.html")
        .render(doc=doc, title=TITLE, subject=f"Subject access request {doc['case']}")
    )


def render_pdf(pack: Pack) -> bytes:
    """The response as the requester reads it: who asked and when, each record released (with
    what was redacted or shielded and why), what was not included and why, and to whom the
    child's information was disclosed; a tagged PDF (PDF/UA-1) a screen reader can follow."""
    return tagged_pdf(render_html(pack))
