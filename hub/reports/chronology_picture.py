"""A picture of a child's history: one lane per agency over time, drawn on the server.

The geometry of an SVG chart (lanes, a marker per entry shaped by what kind of thing it was,
child protection plan and looked-after periods as bands across every lane, pattern windows
shaded) and the same picture in words, so it is readable without scripts and without sight:
the template draws the SVG with `role="img"`, a title and a description, and lists the text
alternative beside it. Everything comes from the entries and flags the gate released to the
viewer (the picture is of the view, never of the record), after the viewer's filters.
Colours are classes the stylesheet gives (the pages' Content-Security-Policy allows no inline
style); every marker has its shape as well as its lane, so colour is never the only cue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hub.disclosure_release import ShownEntry
from hub.domain.chronology import PatternFlag
from hub.domain.markers import RETRACTED, WITHHELD
from hub.domain.uk_time import uk_date, uk_datetime_text
from hub.reports.rendering import kind_text, readable_label

WIDTH = 960
LABEL_WIDTH = 200
LANE_HEIGHT = 38
TOP = 34  # room for the bands' and windows' labels
AXIS = 26
RIGHT_PAD = 14
STATUS_KINDS = frozenset(
    {
        "la.cp-plan-started",
        "la.cp-plan-reviewed",
        "la.cp-plan-ended",
        "la.looked-after",
        "la.ceased-looked-after",
        "la.child-in-need-plan",
        "la.initial-cp-conference",
        "la.review-cp-conference",
        "la.placement-started",
        "la.placement-moved",
        "la.placement-ended",
    }
)
# A period in care ends when the child leaves care (a care leaver) or stops being looked after.
LOOKED_AFTER_ENDS = frozenset({"la.care-leaver-status", "la.ceased-looked-after"})
SHAPES = {
    "status": "a square: a plan, conference, placement or looked-after event",
    "concern": "a triangle: an entry with a harm category",
    "other": "a circle: any other entry",
}


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    shape: str  # status, concern or other
    agency_type: str
    title: str
    anchor_ref: str
    flagged: bool


@dataclass(frozen=True)
class Span:
    x: float
    width: float
    label: str
    kind: str  # plan, looked-after or pattern
    start: date
    end: date | None  # None: still running


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    agency_type: str
    count: int
    first: date
    last: date


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class Picture:
    width: int
    height: int
    plot_top: float
    plot_bottom: float
    lanes: list[Lane] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    bands: list[Span] = field(default_factory=list)
    windows: list[Span] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    start: date | None = None
    end: date | None = None

    @property
    def empty(self) -> bool:
        return not self.markers

    @property
    def description(self) -> str:
        if self.empty or self.start is None or self.end is None:
            return "No entries to draw."
        return (
            f"{len(self.markers)} entries from {len(self.lanes)} agencies between "
            f"{_day(self.start)} and {_day(self.end)}, one row per agency; "
            f"{len(self.bands)} plan or looked-after periods and "
            f"{len(self.windows)} pattern windows shaded. The same in words follows."
        )


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _shape(entry: ShownEntry) -> str:
    if entry.kind in STATUS_KINDS:
        return "status"
    return "concern" if entry.categories else "other"


def _periods(
    entries: Sequence[ShownEntry], starts: str, ends: frozenset[str], label: str
) -> list[tuple[datetime, datetime | None, str]]:
    found: list[tuple[datetime, datetime | None, str]] = []
    ordered = sorted(entries, key=lambda e: e.occurred_at)
    open_at: datetime | None = None
    for entry in ordered:
        if entry.kind == starts and open_at is None:
            open_at = entry.occurred_at
        elif entry.kind in ends and open_at is not None:
            found.append((open_at, entry.occurred_at, label))
            open_at = None
    if open_at is not None:
        found.append((open_at, None, label))
    return found


def picture(
    entries: Sequence[ShownEntry],
    patterns: Sequence[PatternFlag],
    agency_names: Mapping[str, str],
    today: date,
) -> Picture:
    """The chart of these (released, filtered) entries, with the flags' windows."""
    drawn = [e for e in entries if e.kind not in (RETRACTED, WITHHELD)]
    lanes_of: dict[str, list[ShownEntry]] = {}
    for entry in sorted(drawn, key=lambda e: (e.agency_type, e.publisher)):
        lanes_of.setdefault(entry.publisher, []).append(entry)  # a partner's agency apart
    height = int(TOP + LANE_HEIGHT * max(len(lanes_of), 1) + AXIS)
    shown = Picture(WIDTH, height, TOP, TOP + LANE_HEIGHT * max(len(lanes_of), 1))
    if not drawn:
        return shown
    current = [e for e in drawn if e.status == "current"]
    first = min(e.occurred_at for e in drawn)
    last = max(e.occurred_at for e in drawn)
    periods = _periods(
        current, "la.cp-plan-started", frozenset({"la.cp-plan-ended"}), "Child protection plan"
    ) + _periods(current, "la.looked-after", LOOKED_AFTER_ENDS, "Looked after")
    windows = [(p.window_start, p.window_end, readable_label(p.code)) for p in patterns]
    moments = [first, last, *(w for _, w, _ in windows), *(s for s, _, _ in windows)]
    start = min(moments)
    end = max(moments)
    if any(e is None for _, e, _ in periods):
        end = max(end, datetime.combine(today, datetime.min.time(), tzinfo=end.tzinfo))
    span = max((end - start).total_seconds(), 86400.0)
    pad = span * 0.02
    origin = start - timedelta(seconds=pad)
    plot_width = WIDTH - LABEL_WIDTH - RIGHT_PAD
    scale = plot_width / (span + 2 * pad)

    def x(moment: datetime) -> float:
        return round(LABEL_WIDTH + (moment - origin).total_seconds() * scale, 1)

    flagged = {ref for p in patterns for ref in p.refs}
    for index, lane_entries in enumerate(lanes_of.values()):
        y = TOP + LANE_HEIGHT * index
        agency_type = lane_entries[0].agency_type
        shown.lanes.append(
            Lane(
                y,
                lane_entries[0].agency_name(agency_names),
                agency_type,
                len(lane_entries),
                uk_date(min(e.occurred_at for e in lane_entries)),
                uk_date(max(e.occurred_at for e in lane_entries)),
            )
        )
        for entry in lane_entries:
            shown.markers.append(
                Marker(
                    x(entry.occurred_at),
                    y + LANE_HEIGHT / 2,
                    _shape(entry),
                    agency_type,
                    f"{uk_datetime_text(entry.occurred_at)}: {kind_text(entry.kind)}",
                    entry.ref,
                    entry.ref in flagged,
                )
            )
    right = x(end + timedelta(seconds=pad))
    for begin, finish, label in periods:
        left = x(begin)
        shown.bands.append(
            Span(
                left,
                max((x(finish) if finish else right) - left, 2.0),
                label,
                "looked-after" if label == "Looked after" else "plan",
                uk_date(begin),
                uk_date(finish) if finish else None,
            )
        )
    for begin, finish, label in windows:
        left = x(begin)
        shown.windows.append(
            Span(
                left, max(x(finish) - left, 2.0), label, "pattern", uk_date(begin), uk_date(finish)
            )
        )
    shown.start, shown.end = uk_date(first), uk_date(last)
    for year in range(uk_date(start).year, uk_date(end).year + 2):
        moment = datetime(year, 1, 1, tzinfo=first.tzinfo)
        if origin <= moment <= end + timedelta(seconds=pad) and x(moment) < WIDTH - 40:
            shown.ticks.append(Tick(x(moment), str(year)))
    return shown
