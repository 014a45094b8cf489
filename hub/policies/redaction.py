"""What of an event may leave the hub: shielding, withholding and redaction, in one place.

Three kinds of restriction, and who sets them:

- **shielded** fields (`shielded_fields`): the publisher's, from everyone (a refuge address, an
  adoption link); replaced by `[shielded]` for people, left out for systems;
- **withheld** items (`withheld_from`): the publisher's, from some roles or agency types,
  because sharing would be more detrimental to the child; the policy's `withheld` guard refuses
  them, and a subject access export does not include them;
- **redacted** fields: the information sharing agreement's (a rule's `redact`, the subject
  access list) and the surface's own (a notice carries only its few fields); `[redacted]`.

A record's restrictions are the ones its publisher last stated, added to each revision's own:
a shield or a withholding added in a later revision hides the same content in every earlier
revision, and one dropped later still covers the revision that had it (what a revision said is
not made visible by a later revision that no longer says it). A retracted record shows that it
was retracted, and nothing of what it said, to anyone outside the publishing organisation.

This module only shapes: deciding is the decision point's, auditing and releasing the
disclosure gate's (`hub/disclosure_gate.py`), which is the only caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from hub.domain.canonical_event import CanonicalEvent, Withholding
from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.identity import InvalidIdentifierError, validate_nhs_number
from hub.domain.markers import MARKERS, REDACTED, SHIELDED

SUMMARY = "summary"
DETAILS = "details."
# What a retracted record's stand-in withholds: everything it said.
RETRACTED_FIELDS = ("kind", "categories", "occurred_at", "recorded_at", "summary", "details")

# NHS numbers as people write them (943 476 5919, 943-476-5919) and provisional ids.
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
_PROVISIONAL_LIKE = re.compile(r"PRV-[0-9A-Z]{10}[0-9A-Z*~$=]", re.IGNORECASE)


def record_key(event: CanonicalEvent) -> tuple[str, str]:
    """A record across its revisions: the publisher and its own record id."""
    return (event.agency.id, event.event_id)


@dataclass(frozen=True)
class Restrictions:
    """What governs one revision of a record: its own restrictions and its record's latest."""

    shielded: frozenset[str]
    withholdings: tuple[Withholding, ...]
    retracted_by: str | None  # "event_id@revision" of the retraction, if retracted
    # When each withholding was first stated (the recorded time of the earliest revision
    # held that states it), in the order of `withholdings`.
    withheld_on: tuple[datetime, ...] = ()

    @property
    def withheld_roles(self) -> frozenset[str]:
        return frozenset(w.role.value for w in self.withholdings if w.role is not None)

    @property
    def withheld_agency_types(self) -> frozenset[str]:
        return frozenset(
            w.agency_type.value for w in self.withholdings if w.agency_type is not None
        )


_UNRESTRICTED = Restrictions(frozenset(), (), None, ())


def restrictions(entries: Iterable[ChronologyEntry]) -> dict[int, Restrictions]:
    """Each entry's restrictions (by `id(entry)`), from every revision of its record that the
    entries hold: its own shields and withholdings with its record's latest revision's, and the
    retraction if its record was retracted."""
    items = list(entries)
    latest: dict[tuple[str, str], CanonicalEvent] = {}
    first_stated: dict[tuple[tuple[str, str], Withholding], datetime] = {}
    for entry in items:
        key = record_key(entry.event)
        held = latest.get(key)
        if held is None or entry.event.revision > held.revision:
            latest[key] = entry.event
        for withholding in entry.event.withheld_from:
            stated = first_stated.get((key, withholding))
            if stated is None or entry.event.recorded_at < stated:
                first_stated[(key, withholding)] = entry.event.recorded_at
    found: dict[int, Restrictions] = {}
    for entry in items:
        event, newest = entry.event, latest[record_key(entry.event)]
        if (
            newest is event
            and not event.shielded_fields
            and not event.withheld_from
            and entry.status is not EntryStatus.RETRACTED
        ):
            found[id(entry)] = _UNRESTRICTED  # (most entries: one shared, immutable object)
            continue
        shielded = frozenset(event.shielded_fields)
        withholdings = tuple(event.withheld_from)
        if newest is not event:
            shielded |= frozenset(path for path in newest.shielded_fields if _held(event, path))
            withholdings += tuple(w for w in newest.withheld_from if w not in withholdings)
        retracted = entry.replaced_by if entry.status is EntryStatus.RETRACTED else None
        key = record_key(event)
        found[id(entry)] = Restrictions(
            shielded, withholdings, retracted, tuple(first_stated[(key, w)] for w in withholdings)
        )
    return found


def _held(event: CanonicalEvent, path: str) -> bool:
    return path == SUMMARY or (path.startswith(DETAILS) and path[len(DETAILS) :] in event.details)


def paths(event: CanonicalEvent) -> frozenset[str]:
    """Every field of an event that shaping can withhold: the summary and each detail."""
    return frozenset({SUMMARY, *(DETAILS + name for name in event.details)})


def outside(event: CanonicalEvent, fields: frozenset[str]) -> frozenset[str]:
    """The event's fields a surface does not carry: those not in `fields` (where
    `details.*` stands for every detail)."""
    every_detail = DETAILS + "*" in fields
    return frozenset(
        path
        for path in paths(event)
        if path not in fields and not (every_detail and path.startswith(DETAILS))
    )


class Shaped(NamedTuple):
    """An event's content as one viewer may receive it (a tuple: a chronology shapes a
    thousand per request)."""

    summary: str | None  # None: left out (a system recipient, or a shielded summary)
    details: dict[str, Any]
    redacted: tuple[str, ...]  # paths marked [redacted], in the event's order
    shielded: tuple[str, ...]  # paths shielded by the publisher, sorted


def copied(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details with nothing withheld, copied: a release never shares the stored event's
    containers (it is cached and handed to every viewer)."""
    return {
        name: deepcopy(value) if isinstance(value, dict | list) else value
        for name, value in details.items()
    }


def shape(
    event: CanonicalEvent,
    *,
    shielded: frozenset[str],
    redact: frozenset[str],
    omit: frozenset[str] = frozenset(),
    for_system: bool = False,
) -> Shaped:
    """The event's summary and details with shielded fields, redactions (`redact`: the
    agreement's) and the surface's own limits (`omit`: what a notice or a feed does not carry)
    applied.

    For a person, shielded fields read `[shielded]` and everything else withheld `[redacted]`
    (they are told something is there). For a system (the outbound feed), shielded fields,
    fields outside its limits and any value that carries a child identifier are left out
    altogether, because a system cannot be told to ignore a marker: their existence is not
    disclosed either; the agreement's redactions are marked."""
    if not (shielded or redact or omit or for_system):
        return Shaped(event.summary, copied(event.details), (), ())
    if not for_system:
        redact, omit = redact | omit, frozenset()
    summary: str | None
    if SUMMARY in shielded:
        summary = None if for_system else SHIELDED
    elif SUMMARY in omit or (for_system and _carries_identifier(event.summary)):
        summary = None
    else:
        summary = REDACTED if SUMMARY in redact else event.summary
    redacted = [SUMMARY] if summary == REDACTED else []
    details: dict[str, Any] = {}
    for name, value in event.details.items():
        path = DETAILS + name
        if path in shielded:
            if not for_system:
                details[name] = SHIELDED
        elif path in omit or (for_system and (name == "nhs_number" or _carries_identifier(value))):
            continue
        elif path in redact:
            details[name] = REDACTED
            redacted.append(path)
        else:
            details[name] = deepcopy(value) if isinstance(value, dict | list) else value
    held = sorted(p for p in shielded if _held(event, p))
    return Shaped(summary, details, tuple(redacted), tuple(held))


def released_copy(
    entry: ChronologyEntry, summary: str | None, details: dict[str, Any]
) -> ChronologyEntry:
    """The entry as released, for what is derived from it (pattern flags): markers in place
    of what was withheld, so nothing derived can restate it. Its event is not validated
    (markers are not the detail types) and is never stored or sent."""
    event = entry.event.model_copy(update={"summary": summary or SHIELDED, "details": details})
    return ChronologyEntry(event, entry.received_at, entry.stream, entry.version, entry.status)


def subject_access_withheld(restricted: Restrictions) -> bool:
    """Whether a subject access export must leave the item out: its publisher withheld it from
    someone, which is a judgment that sharing it would be more detrimental to the child, so a
    data protection officer decides (DPA 2018 Schedule 3 serious harm test) before it is
    released to the child or a parent."""
    return bool(restricted.withholdings)


def withholding_summary(withholdings: Iterable[Withholding]) -> list[dict[str, Any]]:
    """Withholdings as a data protection officer reads them (reason, decider, review date)."""
    return [w.model_dump(mode="json", exclude_none=True) for w in withholdings]


def _carries_identifier(value: Any) -> bool:
    """True if the value mentions anything that could be an NHS number or a provisional id."""
    text = value if isinstance(value, str) else json.dumps(value)
    if _PROVISIONAL_LIKE.search(text):
        return True
    for candidate in _NHS_LIKE.findall(text):
        try:
            validate_nhs_number(candidate)
        except InvalidIdentifierError:
            continue
        return True
    return False


def is_marker(value: object) -> bool:
    return isinstance(value, str) and value in MARKERS


def bounded(value: Any, bound: Any) -> Any:
    """`value`, unless the bound (what a wider view released of the same field) withheld it."""
    return bound if is_marker(bound) else value


def bounded_details(details: Mapping[str, Any], bound: Mapping[str, Any]) -> dict[str, Any]:
    return {name: bounded(value, bound.get(name, REDACTED)) for name, value in details.items()}
