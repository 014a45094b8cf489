"""What every rendered document shares, pages included: the template environment (autoescaped,
and strict about undefined names, so a missing value is an error in the tests rather than a
silently blank field on a safeguarding record) and the filters people read times and labels
through."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import jinja2

from hub.domain.taxonomy import KINDS
from hub.domain.uk_time import uk_datetime_text


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


def template_environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when_text, label=readable_label, day=day_text, kind=kind_text)
    return env


# What the PDF core fonts (Latin-1 only) cannot show, written as they can: dashes, curly
# quotes, ellipsis, bullet, arrow.
_LATIN1 = str.maketrans(
    {
        "\u2014": "-",
        "\u2013": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u2022": "-",
        "\u2192": "->",
    }
)


def latin1(text: object) -> str:
    """Text a PDF's core fonts can show: common punctuation mapped, anything else replaced."""
    return str(text).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")
