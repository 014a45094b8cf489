"""What every rendered document shares, pages included: the template environment (autoescaped,
and strict about undefined names, so a missing value is an error in the tests rather than a
silently blank field on a safeguarding record) and the filters people read times and labels
through."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2

from hub.domain.taxonomy import KINDS
from hub.domain.uk_time import uk_datetime_text
from hub.reports.key_facts import details_words


def when_text(moment: datetime | str | None) -> str:
    """A time in England with the zone (`7 Mar 2024, 07:40 GMT`); blank for none."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return uk_datetime_text(moment)


def day_text(day: date | str | None) -> str:
    """A date as people in England write it (`27 September 2022`); blank for none."""
    if not day:
        return ""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return f"{day.day} {day:%B %Y}"


def kind_text(kind: str | None) -> str:
    """An event kind in plain words: the taxonomy's description (`police.exploitation-concern`
    is "Exploitation concern (county lines, CSE, CCE)"), or the kind made readable."""
    spec = KINDS.get(kind or "")
    return spec.description if spec else readable_label(kind)


def readable_label(value: str | None) -> str:
    """`looked-after` or `looked_after` as `Looked after`."""
    return (value or "").replace("-", " ").replace("_", " ").capitalize()


def details_text(details: Mapping[str, Any] | None, kind: str | None) -> dict[str, Any]:
    """An entry's released details in words (`key_facts.details_words`: codes as words, dates
    as written in England), for a template: `e.details | in_words(e.kind)`."""
    return details_words(kind or "", details or {})


def template_environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when_text, label=readable_label, day=day_text, kind=kind_text, in_words=details_text
    )
    return env


def tagged_pdf(html: str) -> bytes:
    """A standalone HTML document printed to an accessible PDF: PDF/UA-1 (a structure tree of
    its headings, lists and tables, marked content, `MarkInfo /Marked true`), in the document's
    language (`<html lang>`), titled from its `<title>`, shown by viewers as its title. Fonts
    are embedded, so every character prints (no Latin-1 fallback). The document is read from
    the string only: nothing is fetched."""
    from weasyprint import HTML  # imported here: it loads Pango, which most commands never need

    def refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
        raise ValueError("a report fetches nothing")

    document: bytes = HTML(string=html, url_fetcher=refuse).write_pdf(pdf_variant="pdf/ua-1")
    return document
