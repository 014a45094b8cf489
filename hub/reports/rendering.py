"""What every rendered document shares, pages included: the template environment (autoescaped,
and strict about undefined names, so a missing value is an error in the tests rather than a
silently blank field on a safeguarding record) and the filters people read times and labels
through."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from hub.domain.uk_time import uk_datetime_text


def when_text(moment: datetime | str | None) -> str:
    """A time in England with the zone (`7 Mar 2024, 07:40 GMT`); blank for none."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return uk_datetime_text(moment)


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
    env.filters.update(when=when_text, label=readable_label)
    return env
