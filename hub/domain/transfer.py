"""When a child's record is offered to another partnership's hub (issue 24, docs/federation.md,
"Transfer: sending").

A transfer is due when a local authority publishes that the family moved out of its area
(`la.moved-out-of-area`) naming, by its DfE number (`receiving_la_code`), a local authority a
partner hub's partnership covers; the partner is active on the day of the move; and on that
day the child had an open child protection plan, an open child in need plan, or was looked
after. All three are worked out from the child's own current chronology entries:

- a **child protection plan** is open from `la.cp-plan-started` until the next
  `la.cp-plan-ended`;
- a child is **looked after** from `la.looked-after` until `la.ceased-looked-after` (its
  `ceased_on`, else the day it happened) or, failing that, a `la.care-leaver-status` record
  (a care leaver is no longer looked after);
- a **child in need plan** has no end in the taxonomy (`la.child-in-need-plan` is "started or
  reviewed"; the CIN census's closure is not a kind), so a plan started or reviewed in the 12
  months up to the move is taken as open. CIN plans are reviewed at least every six months,
  so a plan with nothing for a year is almost certainly closed; this errs on the side of
  telling the receiving area.

Only current entries count: a superseded revision or a retracted record says nothing, and
entries received from another partnership's hub (which carry an origin) are not this
partnership's to send on.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hub.domain.chronology import ChronologyEntry, EntryStatus
from hub.domain.federation import PartnerHub, PartnerRegister
from hub.domain.uk_time import uk_date

MOVED_OUT = "la.moved-out-of-area"
CIN_PLAN_OPEN_FOR = timedelta(days=365)
"""A child in need plan started or reviewed this recently before the move is taken as open."""


def _day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _current(entries: Sequence[ChronologyEntry]) -> list[ChronologyEntry]:
    return [
        e
        for e in entries
        if e.status is EntryStatus.CURRENT
        and not e.event.kind.startswith(("record.", "identity."))
        and getattr(e, "origin", None) is None
    ]


def _happened_on(entry: ChronologyEntry, field: str | None = None) -> date:
    """The day in England it happened, or the day its details give in `field`."""
    if field is not None:
        value = entry.event.details.get(field)
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    return uk_date(entry.event.occurred_at)


def _open_on(
    day: date,
    entries: Sequence[ChronologyEntry],
    starts: str,
    ends: dict[str, str | None],
) -> date | None:
    """The day the latest period that `starts` began on or before `day` began, if no entry of
    a kind in `ends` (kind -> the details field giving its day) ended it by `day`."""
    started: date | None = None
    ordered = sorted(
        (
            (_happened_on(e, ends.get(e.event.kind)), e.event.kind)
            for e in entries
            if e.event.kind == starts or e.event.kind in ends
        ),
        key=lambda pair: (pair[0], pair[1] != starts),  # a start and an end the same day: ended
    )
    for happened, kind in ordered:
        if happened > day:
            break
        started = happened if kind == starts else None
    return started


@dataclass(frozen=True)
class Move:
    """A published move out of the area: its reference, the day and where to."""

    ref: str
    moved_on: date
    receiving_la_code: str | None
    receiving_authority: str | None


def move_of(entry: ChronologyEntry) -> Move | None:
    """The move a `la.moved-out-of-area` entry publishes (None for any other kind)."""
    if entry.event.kind != MOVED_OUT:
        return None
    details = entry.event.details
    code = details.get("receiving_la_code")
    authority = details.get("receiving_authority")
    return Move(
        ref=entry.ref,
        moved_on=_happened_on(entry, "moved_on"),
        receiving_la_code=code if isinstance(code, str) else None,
        receiving_authority=authority if isinstance(authority, str) else None,
    )


def open_involvement(entries: Sequence[ChronologyEntry], on: date) -> list[str]:
    """What the local authority had open for the child on `on`, in words (empty: nothing)."""
    current = _current(entries)
    found = []
    plan = _open_on(on, current, "la.cp-plan-started", {"la.cp-plan-ended": None})
    if plan is not None:
        found.append(f"a child protection plan (from {_day_text(plan)})")
    looked_after = _open_on(
        on,
        current,
        "la.looked-after",
        {"la.ceased-looked-after": "ceased_on", "la.care-leaver-status": None},
    )
    if looked_after is not None:
        found.append(f"being looked after (from {_day_text(looked_after)})")
    cin_days = [_happened_on(e) for e in current if e.event.kind == "la.child-in-need-plan"]
    cin = [day for day in cin_days if on - CIN_PLAN_OPEN_FOR < day <= on]
    if cin:
        found.append(f"a child in need plan (last started or reviewed {_day_text(max(cin))})")
    return found


@dataclass(frozen=True)
class TransferDecision:
    """Whether a move makes a transfer due, to whom, and why (or why not) in words."""

    due: bool
    reason: str
    move: Move | None = None
    partner: PartnerHub | None = None


def transfer_due(
    move_entry: ChronologyEntry,
    entries: Sequence[ChronologyEntry],
    register: PartnerRegister,
) -> TransferDecision:
    """Whether the move `move_entry` publishes makes a transfer of the child's record due,
    given the child's chronology `entries` and this hub's partner register."""
    move = move_of(move_entry)
    if move is None:
        return TransferDecision(False, "it is not a move out of the area")
    if move_entry.status is not EntryStatus.CURRENT:
        return TransferDecision(False, "the move was corrected or retracted", move)
    if move.receiving_la_code is None:
        return TransferDecision(
            False, "the move does not give the receiving local authority's DfE number", move
        )
    partner = register.covering(move.receiving_la_code)
    if partner is None:
        return TransferDecision(
            False,
            f"no partner hub covers local authority {move.receiving_la_code}",
            move,
        )
    if not partner.active_on(move.moved_on):
        return TransferDecision(
            False,
            f"{partner.name} was not an active partner on {_day_text(move.moved_on)}",
            move,
            partner,
        )
    involvement = open_involvement(entries, move.moved_on)
    if not involvement:
        return TransferDecision(
            False,
            "on the day of the move the child had no child protection plan or child in need "
            "plan open and was not looked after",
            move,
            partner,
        )
    where = move.receiving_authority or f"local authority {move.receiving_la_code}"
    return TransferDecision(
        True,
        f"moved on {_day_text(move.moved_on)} to {where}, which {partner.name} covers, "
        f"with {' and '.join(involvement)}",
        move,
        partner,
    )
