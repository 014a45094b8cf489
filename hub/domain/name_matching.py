"""How a child's names are matched when a practitioner looks a child up by name and date of
birth: normalised forms, phonetic codes, and the tokens the blind index is keyed by.

A name is normalised before anything else: accents taken off (`Zoë` is `zoe`), case folded,
and everything but letters dropped, so hyphens, apostrophes and spaces do not matter
(`O'Brien-Smith` is `obriensmith`). Minor spelling differences are tolerated through two
phonetic codes from `jellyfish` (maintained, and in this hub's dependencies): Metaphone
(`Smith` and `Smyth` are both `SM0`) and NYSIIS (`Jaden` and `Jaiden` are both `JADAN`). A
family name of several parts (`Smith-Jones`) is indexed whole and by each part.

The tokens are plain strings here; the blind index stores only their keyed hashes
(`hub.adapters.pseudonyms.Pseudonymiser.blind_stream` and `blind_tag`), never the names. No I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import jellyfish

_NOT_LETTERS = re.compile(r"[^a-z]+")
_PARTS = re.compile(r"[\s\-]+")
# A part of a family name shorter than this is not indexed on its own (`de`, `le`).
_SHORTEST_PART = 3


class Match(StrEnum):
    """How a candidate's family name matched the one searched for (best first)."""

    EXACT = "exact"  # the same normalised family name
    SIMILAR = "similar"  # the same phonetic code, or a part of a hyphenated name


def normalise_name(value: str) -> str:
    """Letters only, lower case, accents off: `  Zoë O'Brien-Smith ` is `zoeobriensmith`."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LETTERS.sub("", plain)


def phonetic_codes(value: str) -> tuple[str, ...]:
    """The name's Metaphone and NYSIIS codes (labelled, so the two never collide)."""
    plain = normalise_name(value)
    if not plain:
        return ()
    return (f"metaphone:{jellyfish.metaphone(plain)}", f"nysiis:{jellyfish.nysiis(plain)}")


def name_parts(value: str) -> tuple[str, ...]:
    """The parts of a name of several (`Smith-Jones`, `de la Cruz`), normalised; the long
    enough ones only, and none for a name of one part."""
    parts = [normalise_name(p) for p in _PARTS.split(value.casefold())]
    parts = [p for p in parts if len(p) >= _SHORTEST_PART]
    return tuple(dict.fromkeys(parts)) if len(parts) > 1 else ()


def family_tokens(family_name: str, born: date) -> list[tuple[Match, str]]:
    """What the blind index keys a child's entries by (and a search looks up): the date of
    birth with the normalised family name, with each of its phonetic codes, and with each part
    of a family name of several parts."""
    plain = normalise_name(family_name)
    if not plain:
        return []
    day = born.isoformat()
    tokens = [(Match.EXACT, f"family-dob\x1f{day}\x1f{plain}")]
    tokens += [(Match.SIMILAR, f"family-dob\x1f{day}\x1f{c}") for c in phonetic_codes(plain)]
    for part in name_parts(family_name):
        tokens.append((Match.SIMILAR, f"family-dob\x1f{day}\x1fpart:{part}"))
        tokens += [
            (Match.SIMILAR, f"family-dob\x1f{day}\x1fpart:{c}") for c in phonetic_codes(part)
        ]
    return list(dict.fromkeys(tokens))


def search_family_tokens(family_name: str, born: date) -> list[tuple[Match, str]]:
    """The tokens a search by this family name looks up: the child's own tokens, and the
    searched name as one part of a child's name of several parts (`Smith` finds
    `Smith-Jones`)."""
    tokens = family_tokens(family_name, born)
    plain = normalise_name(family_name)
    if len(plain) >= _SHORTEST_PART:
        day = born.isoformat()
        tokens.append((Match.SIMILAR, f"family-dob\x1f{day}\x1fpart:{plain}"))
        tokens += [
            (Match.SIMILAR, f"family-dob\x1f{day}\x1fpart:{c}") for c in phonetic_codes(plain)
        ]
    return list(dict.fromkeys(tokens))


def given_tokens(names: Iterable[str]) -> list[str]:
    """Tokens of given names (and a name known by): each normalised, and its phonetic codes.
    A search's given name narrows the candidates to those sharing one of these."""
    tokens: list[str] = []
    for name in names:
        for part in [name, *_PARTS.split(name)]:
            plain = normalise_name(part)
            if plain:
                tokens.append(f"given\x1f{plain}")
                tokens += [f"given\x1f{c}" for c in phonetic_codes(plain)]
    return list(dict.fromkeys(tokens))


@dataclass(frozen=True)
class IndexTokens:
    """What one child-details event puts in the blind index: the family-name tokens (with how
    each matches) and the given-name tokens, from the fields its publisher did not shield."""

    family: list[tuple[Match, str]]
    given: list[str]


def index_tokens(details: Mapping[str, Any], shielded: Sequence[str]) -> IndexTokens | None:
    """The blind index tokens of a child's details, or None when there is nothing to index by:
    no date of birth (an unborn child), or a family name or date of birth the publisher
    shielded (a shielded field is never indexed). Given names shielded are left out."""
    family, born = details.get("family_name"), details.get("date_of_birth")
    if (
        not isinstance(family, str)
        or not isinstance(born, str)
        or "details.family_name" in shielded
        or "details.date_of_birth" in shielded
    ):
        return None
    try:
        day = date.fromisoformat(born)
    except ValueError:
        return None
    names: list[str] = []
    given = details.get("given_names")
    if isinstance(given, list) and "details.given_names" not in shielded:
        names += [g for g in given if isinstance(g, str)]
    known_as = details.get("known_as")
    if isinstance(known_as, str) and "details.known_as" not in shielded:
        names.append(known_as)
    return IndexTokens(family_tokens(family, day), given_tokens(names))


def similarity(searched: str, found: str) -> float:
    """How alike two names are, 0 to 1 (Jaro-Winkler of the normalised forms): ranks
    candidates of the same kind of match."""
    return float(jellyfish.jaro_winkler_similarity(normalise_name(searched), normalise_name(found)))
