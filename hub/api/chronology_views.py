"""What the chronology pages hold and render, without I/O: the viewer's filters, a release held
in the session (so a page is rendered again without asking the gate), the household as one
across agencies, and everything the template renders for a held view. The routes are
`hub.api.chronology_pages`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from hub.api.session_codec import session_value
from hub.api.sessions import Session
from hub.chronology_header import ChildHeader
from hub.disclosure_gate import ChronologyView, ShownEntry
from hub.domain.taxonomy import HarmCategory
from hub.domain.uk_time import uk_date
from hub.reports.chronology_picture import SHAPES, picture
from hub.reports.key_facts import details_words, key_facts

HOLD_FOR = timedelta(minutes=30)  # how long a view stays to be re-rendered without the gate
HOLD_MAX = 6  # views held per session (a few tabs); the oldest goes first
MAX_TOGETHER = 6  # children in one merged view


@dataclass(frozen=True)
class Filters:
    """What the viewer asked to narrow the rendered timeline to; never an access decision."""

    agency: str = ""  # "type:<agency type>" or "id:<agency id>"
    category: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def parse(
        cls, agency: str, category: str, date_from: str, date_to: str
    ) -> tuple[Filters, list[str]]:
        errors: list[str] = []
        agency, category = agency.strip(), category.strip()
        kind, _, value = agency.partition(":")
        if agency and (kind not in ("type", "id") or not value):
            errors.append("Choose an agency from the list.")
            agency = ""
        if category and category not in {c.value for c in HarmCategory}:
            errors.append("Choose a harm category from the list.")
            category = ""
        dates: list[date | None] = []
        for label, text in (("From", date_from), ("To", date_to)):
            try:
                dates.append(date.fromisoformat(text.strip()) if text.strip() else None)
            except ValueError:
                errors.append(f"{label} date: enter a date as YYYY-MM-DD.")
                dates.append(None)
        start, end = dates
        if start and end and start > end:
            errors.append("The From date is after the To date.")
        return cls(agency, category, start, end), errors

    @property
    def active(self) -> bool:
        return bool(self.agency or self.category or self.date_from or self.date_to)

    def query(self) -> str:
        """The filters as a query string (no child identifier: agency ids, a category, dates)."""
        pairs = {
            "agency": self.agency,
            "category": self.category,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        kept = {k: v for k, v in pairs.items() if v}
        return f"?{urlencode(kept)}" if kept else ""

    def keeps(self, entry: ShownEntry) -> bool:
        kind, _, value = self.agency.partition(":")
        if kind == "type" and entry.agency_type != value:
            return False
        if kind == "id" and entry.agency != value:
            return False
        if self.category and self.category not in entry.categories:
            return False
        occurred = uk_date(entry.occurred_at)
        if self.date_from and occurred < self.date_from:
            return False
        return not (self.date_to and occurred > self.date_to)


@session_value
@dataclass
class Sibling:
    """A child who shares a household reference with the one viewed, as the view may say."""

    key: str  # random, for forms; never the identifier
    identifier: str | None  # None: the viewer has no relationship with them
    via: list[str] = field(default_factory=list)  # the agencies whose references link them


@session_value
@dataclass
class PartnerQuestionAsked:
    """What asking the partner hubs "Is anyone else involved?" came to, in words, held with
    the view it was asked from (so the page shows it again without asking again)."""

    lines: list[str]
    refused: bool
    asked_at: datetime


@session_value
@dataclass
class Held:
    """What the gate released for one request (one child, or siblings together), held in the
    session so the page can be rendered again without a new disclosure."""

    views: list[ChronologyView]
    held_at: datetime
    siblings: list[Sibling] = field(default_factory=list)
    unidentified: int = 0  # at least this many other children the viewer may not know of
    partner_question: PartnerQuestionAsked | None = None  # the latest asked from this view


def family(view: ChronologyView) -> tuple[list[Sibling], int]:
    """The children linked to this one through any agency's household reference, as one
    household (not one per agency): siblings the viewer may know of, once each, with the
    agencies that link them; and how many others at least (a group's unnamed siblings cannot
    be matched across agencies without naming them, so the largest count is a floor)."""
    named: dict[str, Sibling] = {}
    unnamed = 0
    for key, group in view.households.items():
        agency = key.partition("/")[0]
        anonymous = 0
        for sibling in group["siblings"]:
            identifier = sibling.get("child")
            if identifier:
                found = named.setdefault(identifier, Sibling(secrets.token_urlsafe(12), identifier))
                if agency not in found.via:
                    found.via.append(agency)
            else:
                anonymous += 1
        unnamed = max(unnamed, anonymous)
    return sorted(named.values(), key=lambda s: s.identifier or ""), unnamed


def utc_now() -> datetime:
    return datetime.now(UTC)


def hold(session: Session, views: list[ChronologyView]) -> str:
    """Keep what was released in the session under a new random key; drop the expired and the
    oldest beyond `HOLD_MAX`."""
    now = utc_now()
    held: dict[str, Any] = {
        k: v
        for k, v in session.disclosed.items()
        if isinstance(v, Held) and now - v.held_at < HOLD_FOR
    }
    while len(held) >= HOLD_MAX:
        held.pop(next(iter(held)))
    siblings, unidentified = family(views[0]) if len(views) == 1 else ([], 0)
    key = secrets.token_urlsafe(18)
    held[key] = Held(views, now, siblings, unidentified)
    session.disclosed = held
    return key


def held_view(session: Session, key: str) -> Held | None:
    found = session.disclosed.get(key)
    if isinstance(found, Held) and utc_now() - found.held_at < HOLD_FOR:
        return found
    return None


RELATIONSHIPS = {
    "allocated-worker": "You are the child's allocated worker",
    "macpt-member": "You are in the multi-agency child protection team working with the child",
    "school-dsl": "You are the designated safeguarding lead at the child's school",
    "review-commission": "You are commissioned to review the child's case",
}


def relationship_words(relationship: str | None, agency_names: Mapping[str, str]) -> str:
    """The relationship the gate used (`macpt-member via shire-county-council/LCS-1`) in words,
    with the agency whose record establishes it."""
    if not relationship:
        return "None"
    basis, _, source = relationship.partition(" via ")
    agency = source.partition("/")[0]
    words = RELATIONSHIPS.get(basis, basis.replace("-", " ").capitalize())
    if not source:
        return words
    return f"{words} (from {agency_names.get(agency, agency)}'s record {source.partition('/')[2]})"


def view_context(
    held: Held,
    headers: Sequence[ChildHeader],
    filters: Filters,
    agency_names: Mapping[str, str],
    person_name: Callable[[str], str | None],
    today: date,
) -> dict[str, Any]:
    """What the chronology template renders for a held view (no I/O): the headers, the
    merged and filtered timeline with each entry's key facts and child, the pattern flags
    linked both ways with the entries, and the picture."""
    views = held.views
    labels = {v.child: (h.name or v.child) for v, h in zip(views, headers, strict=True)}
    every = sorted(((e, v) for v in views for e in v.entries), key=lambda pair: pair[0].occurred_at)
    shown = [(e, v) for e, v in every if filters.keeps(e)]
    flags = [
        (f"flag-{n}", v, flag)
        for n, (v, flag) in enumerate(((v, f) for v in views for f in v.patterns), start=1)
    ]
    flags_by_ref: dict[str, list[tuple[str, Any]]] = {}
    for flag_id, _, flag in flags:
        for ref in flag.refs:
            flags_by_ref.setdefault(ref, []).append((flag_id, flag))
    return {
        "view": views[0],
        "views": views,
        "headers": headers,
        "child_labels": labels,
        "together": len(views) > 1,
        "held": held,
        "child": views[0].child,
        "filters": filters,
        "shown": [e for e, _ in shown],
        "shown_with_child": shown,
        "total": len(every),
        "agencies": sorted({(e.agency_type, e.agency) for e, _ in every}),
        "agency_names": agency_names,
        "flags": flags,
        "flags_by_ref": flags_by_ref,
        "entries_by_ref": {e.ref: e for e, _ in shown},
        "facts": {e.ref: key_facts(e.kind, e.details, person_name) for e, _ in shown},
        "detail_words": {e.ref: details_words(e.kind, e.details, person_name) for e, _ in shown},
        "relationships": {v.child: relationship_words(v.relationship, agency_names) for v in views},
        "picture": picture([e for e, _ in shown], [f for _, _, f in flags], agency_names, today),
        "shapes": SHAPES,
    }
