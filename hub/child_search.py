"""Finding a child by family name and date of birth (given name optional), through the blind
index, for the CLI (`hub find`), the API and the `/find` page.

1. The terms are checked; a problem names the field, never the value.
2. The blind index is read: the family name and date of birth are turned into tokens
   (`hub.domain.name_matching`: the normalised name and its phonetic codes) and each token into
   its keyed hash (`Pseudonymiser.blind_stream`), whose stream holds one entry per child
   indexed under it: one indexed equality query per token. An entry's given-name tags and
   record are sealed with the child's own key, so an erased child's entries open to nothing
   and are skipped. A given name narrows the candidates to those sharing a given-name tag.
3. The disclosure gate decides, for each candidate, what this practitioner may be shown to
   pick the right child by, and audits it first with the search terms (`DisclosureGate.
   search`): a front-door or MACPT member searching for child protection sees any
   candidate's names, date of birth and sex; anyone else only children they are related to.
4. What was released is ranked: an exact normalised family name first, then a matching given
   name, then how alike the names are.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson

from hub.adapters.data_keys import DataKeyMissingError
from hub.adapters.envelope import SealedRowError, open_sealed
from hub.adapters.event_store import HubStore
from hub.adapters.pseudonyms import Pseudonymiser
from hub.disclosure_gate import SEARCH_FIELDS, DisclosureGate
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Purpose
from hub.domain.canonical_event import CanonicalEvent
from hub.domain.markers import REDACTED, SHIELDED
from hub.domain.name_matching import (
    Match,
    given_tokens,
    index_tokens,
    normalise_name,
    search_family_tokens,
    similarity,
)
from hub.domain.records import BlindIndexed, blind_index_context, blind_index_scope
from hub.domain.taxonomy import CHILD_DETAILS_KINDS
from hub.domain.uk_time import uk_date

MAX_NAME_LENGTH = 100


class SearchTermError(ValueError):
    """A search term is missing or malformed: `field` names it; the message never repeats it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.problem = message


@dataclass(frozen=True)
class SearchTerms:
    family_name: str
    date_of_birth: date
    given_name: str | None = None

    def for_audit(self) -> dict[str, str]:
        terms = {"family_name": self.family_name, "date_of_birth": self.date_of_birth.isoformat()}
        if self.given_name:
            terms["given_name"] = self.given_name
        return terms


def _name(field_name: str, value: str | None, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise SearchTermError(field_name, "enter the child's name")
        return None
    if len(text) > MAX_NAME_LENGTH:
        raise SearchTermError(field_name, f"must be at most {MAX_NAME_LENGTH} characters")
    if not normalise_name(text):
        raise SearchTermError(field_name, "must contain letters")
    return text


def search_terms(
    family_name: str | None,
    date_of_birth: str | date | None,
    given_name: str | None = None,
    *,
    today: date | None = None,
) -> SearchTerms:
    """The terms checked: a family name with letters, a real date of birth (YYYY-MM-DD) that is
    not in the future, and optionally a given name. Errors name the field, never the value."""
    family = _name("family_name", family_name, required=True)
    assert family is not None
    if isinstance(date_of_birth, date):
        born = date_of_birth
    else:
        text = (date_of_birth or "").strip()
        if not text:
            raise SearchTermError("date_of_birth", "enter the child's date of birth")
        try:
            born = date.fromisoformat(text)
        except ValueError:
            raise SearchTermError(
                "date_of_birth", "must be a real date written as YYYY-MM-DD"
            ) from None
    if born > (today or uk_date(datetime.now(UTC))):
        raise SearchTermError("date_of_birth", "is in the future")
    return SearchTerms(family, born, _name("given_name", given_name, required=False))


def age_words(born: date, today: date) -> str:
    """`6 years`, `8 months`, `3 weeks`: a child's age as people say it."""
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    if months >= 24:
        years = months // 12
        return f"{years} years"
    if months >= 1:
        return f"{months} month" + ("s" if months > 1 else "")
    weeks = (today - born).days // 7
    return f"{weeks} week" + ("s" if weeks != 1 else "")


@dataclass(frozen=True)
class FoundChild:
    """One child a search found, as the searcher may see them: what their released details
    say (None where not released to them; `shielded` names fields a publisher shielded)."""

    identifier: str
    given_names: list[str]
    family_name: str | None
    known_as: str | None
    date_of_birth: date | None
    age: str | None
    sex: str | None
    match: str  # "exact" | "similar"
    given_name_matched: bool | None  # None: no given name was searched for
    published_by: list[str]
    shielded: list[str]
    audit_ref: str

    @property
    def name(self) -> str:
        names = " ".join([*self.given_names, self.family_name or ""]).strip()
        return names or "Name not shown to you"

    def as_dict(self) -> dict[str, Any]:
        return {
            "child": self.identifier,
            "name": self.name,
            "given_names": self.given_names,
            "family_name": self.family_name,
            "known_as": self.known_as,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "age": self.age,
            "sex": self.sex,
            "match": self.match,
            "given_name_matched": self.given_name_matched,
            "published_by": self.published_by,
            "shielded": self.shielded,
            "audit_ref": self.audit_ref,
        }


@dataclass
class SearchAnswer:
    terms: SearchTerms
    results: list[FoundChild] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict() for r in self.results], "count": len(self.results)}


def _released(value: Any) -> Any:
    """A released value, or None where a marker stands in for it."""
    if value in (SHIELDED, REDACTED):
        return None
    if isinstance(value, list):
        kept = [v for v in value if v not in (SHIELDED, REDACTED)]
        return kept if kept else None
    return value


def _current_details(view: ChronologyView) -> ShownEntry | None:
    """The child's details as released: the latest current child-details entry (the
    local authority's before health's when both were recorded at the same time)."""
    current = [e for e in view.entries if e.status == "current" and not e.retracted]
    if not current:
        return None
    return max(current, key=lambda e: (e.recorded_at, e.agency_type == "local-authority"))


class ChildSearch:
    def __init__(
        self,
        store: HubStore,
        pseudonyms: Pseudonymiser,
        gate: DisclosureGate,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._pseudonyms = pseudonyms
        self._gate = gate
        self._clock = clock

    def find(
        self,
        practitioner_id: str,
        family_name: str | None,
        date_of_birth: str | date | None,
        given_name: str | None = None,
        purpose: Purpose | None = None,
    ) -> SearchAnswer:
        """The children matching these terms that this practitioner may see, best first. A
        search is a disclosure: audited (with its terms) before anything is returned."""
        today = uk_date(self._clock())
        terms = search_terms(family_name, date_of_birth, given_name, today=today)
        self._gate.practitioner(practitioner_id)  # an unknown person searches nothing
        candidates = self.candidates(terms)
        views = self._gate.search(practitioner_id, purpose, terms.for_audit(), list(candidates))
        answer = SearchAnswer(terms)
        for stream, view in views:
            found = self._found(view, candidates[stream], today)
            if found is not None:
                answer.results.append(found)
        answer.results.sort(key=lambda r: self._rank(r, terms))
        return answer

    def candidates(self, terms: SearchTerms) -> dict[str, tuple[Match, bool | None]]:
        """Child stream -> how its family name matched (exact beats similar) and whether a
        given name matched (None when none was searched for), from the blind index alone.
        Nothing here is disclosed: the gate decides what of each may be shown."""
        wanted = (
            {self._pseudonyms.blind_tag(t) for t in given_tokens([terms.given_name])}
            if terms.given_name
            else None
        )
        found: dict[str, tuple[Match, bool | None]] = {}
        for match, token in search_family_tokens(terms.family_name, terms.date_of_birth):
            stream = self._pseudonyms.blind_stream(token)
            for record in self._store.stream(stream):
                if not isinstance(record, BlindIndexed):
                    continue
                opened = self._open(record)
                if opened is None:
                    continue  # the child was erased: the entry opens to nothing
                child, given = opened
                matched = None if wanted is None else bool(wanted & given)
                if matched is False:
                    continue
                exact = match is Match.EXACT and record.match == Match.EXACT.value
                best = Match.EXACT if exact else Match.SIMILAR
                earlier = found.get(child)
                if earlier is None or (best is Match.EXACT and earlier[0] is not Match.EXACT):
                    found[child] = (best, matched)
        return found

    def _open(self, record: BlindIndexed) -> tuple[str, set[str]] | None:
        """The child an entry indexes and its given-name tags; None once it was erased."""
        try:
            opened = open_sealed(
                self._store.keyring,
                blind_index_scope(record.originator_id, record.originator_version),
                base64.b64decode(record.sealed),
                blind_index_context(record.originator_id, record.originator_version),
            )
        except (DataKeyMissingError, SealedRowError):
            return None
        payload = orjson.loads(opened)
        return str(payload["child"]), {str(t) for t in payload.get("given", [])}

    def forget(self, child_stream: str, events: Iterable[CanonicalEvent]) -> int:
        """Erase the data keys of every blind index entry of this child (found from the
        tokens of their own child-details events, which are still readable), so nothing links
        any token to them any more; the erasure service calls this before it shreds the
        child's own key. Returns how many entries were forgotten."""
        streams: set[UUID] = set()
        for event in events:
            tokens = (
                index_tokens(event.details, event.shielded_fields)
                if event.kind in CHILD_DETAILS_KINDS
                else None
            )
            if tokens is not None:
                streams |= {self._pseudonyms.blind_stream(t) for _, t in tokens.family}
        forgotten = 0
        for stream in streams:
            for record in self._store.stream(stream):
                if not isinstance(record, BlindIndexed):
                    continue
                opened = self._open(record)
                if opened is not None and opened[0] == child_stream:
                    scope = blind_index_scope(record.originator_id, record.originator_version)
                    forgotten += self._store.keyring.erase(scope)
        return forgotten

    @staticmethod
    def _found(
        view: ChronologyView, matched: tuple[Match, bool | None], today: date
    ) -> FoundChild | None:
        if view.outcome not in ("disclosed", "partially-disclosed"):
            return None
        shown = _current_details(view)
        if shown is None:
            return None
        details = shown.details
        match, given_matched = matched
        born_text = _released(details.get("date_of_birth"))
        born = date.fromisoformat(born_text) if isinstance(born_text, str) else None
        given = _released(details.get("given_names")) or []
        return FoundChild(
            identifier=view.child,
            given_names=[str(g) for g in given],
            family_name=_released(details.get("family_name")),
            known_as=_released(details.get("known_as")),
            date_of_birth=born,
            age=age_words(born, today) if born else None,
            sex=_released(details.get("sex")),
            match=match.value,
            given_name_matched=given_matched,
            published_by=sorted({e.agency for e in view.entries}),
            # Only what a result would show: that another field (an address) is shielded is
            # itself nothing a search may tell.
            shielded=sorted({p for e in view.entries for p in e.shielded if p in SEARCH_FIELDS}),
            audit_ref=view.audit_ref,
        )

    @staticmethod
    def _rank(found: FoundChild, terms: SearchTerms) -> tuple[int, int, float, str]:
        alike = similarity(terms.family_name, found.family_name or "")
        if terms.given_name and found.given_names:
            alike += max(similarity(terms.given_name, g) for g in found.given_names)
        return (
            0 if found.match == Match.EXACT else 1,
            0 if found.given_name_matched else 1,
            -alike,
            found.identifier,
        )
