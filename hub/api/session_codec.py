"""What a web session holds, as JSON to be sealed in the session store, and back.

A session holds plain values and, for the pages that render them again, what the gate released
(`hub.api.chronology_views.Held`) and the latest search's answer. Those are dataclasses and
enums; each is written with a tag naming its class, and only the classes listed here are read
back, so a stored session can never make the hub build anything else. The pages' own classes
join the list where they are defined (`session_value`), as this module sits below them.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from hub.child_search import FoundChild, SearchTerms
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.chronology import Origin, PatternFlag
from hub.domain.records import BreakGlassGranted
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action

_DATACLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ChronologyView,
        ShownEntry,
        Origin,
        PatternFlag,
        Practitioner,
        BreakGlassGranted,
        SearchTerms,
        FoundChild,
    )
}
_ENUMS: dict[str, type[Enum]] = {cls.__name__: cls for cls in (Purpose, Role, AgencyType, Action)}
_TAG = "~"
_Class = TypeVar("_Class", bound=type[Any])


def session_value(cls: _Class) -> _Class:
    """Let a session hold (and read back) instances of this dataclass."""
    _DATACLASSES[cls.__name__] = cls
    return cls


class SessionCodecError(TypeError):
    """A value a session cannot hold (its class is not one the codec reads back)."""


def encode(value: Any) -> Any:
    """`value` as JSON-ready data: plain values as they are, the rest tagged."""
    if isinstance(value, Enum):  # before str: the hub's enums are str enums
        name = type(value).__name__
        if _ENUMS.get(name) is not type(value):
            raise SessionCodecError(f"a session cannot hold a {name}")
        return {_TAG: "enum", "c": name, "v": value.value}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, UUID):
        return {_TAG: "uuid", "v": value.hex}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple | set | frozenset):
        kind = {tuple: "tuple", set: "set", frozenset: "frozenset"}[type(value)]
        items = sorted(value, key=repr) if kind != "tuple" else value
        return {_TAG: kind, "v": [encode(v) for v in items]}
    if isinstance(value, dict):
        return {_TAG: "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _DATACLASSES.get(name) is not type(value):
            raise SessionCodecError(f"a session cannot hold a {name}")
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_TAG: "object", "c": name, "v": fields}
    raise SessionCodecError(f"a session cannot hold a {type(value).__name__}")


def decode(data: Any) -> Any:
    """The value `encode` wrote; SessionCodecError for a class it does not read back."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    tag, value = data.get(_TAG), data["v"]
    if tag == "datetime":
        return datetime.fromisoformat(value)
    if tag == "date":
        return date.fromisoformat(value)
    if tag == "uuid":
        return UUID(hex=value)
    if tag in ("tuple", "set", "frozenset"):
        items = [decode(v) for v in value]
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in value}
    if tag == "enum" and data.get("c") in _ENUMS:
        return _ENUMS[data["c"]](value)
    if tag == "object" and data.get("c") in _DATACLASSES:
        cls = _DATACLASSES[data["c"]]
        fields = {name: decode(v) for name, v in value.items()}
        made = object.__new__(cls)
        # As `ShownEntry._assemble` does: every field as written, without re-running __init__
        # (frozen classes, and eventsourcing's event classes, whose __init__ adds fields).
        made.__dict__.update(fields)
        return made
    raise SessionCodecError(f"a stored session holds an unreadable value ({tag!r})")
