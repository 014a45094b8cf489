"""Names as the blind index matches them: normalised (accents, case, hyphens, apostrophes and
spaces do not matter), tolerant of minor spelling differences through phonetic codes, and
never indexed from a shielded field."""

from __future__ import annotations

from datetime import date

import pytest

from hub.adapters.pseudonyms import Pseudonymiser
from hub.child_search import SearchTermError, age_words, search_terms
from hub.domain.name_matching import (
    Match,
    family_tokens,
    given_tokens,
    index_tokens,
    normalise_name,
    phonetic_codes,
    search_family_tokens,
    similarity,
)

BORN = date(2020, 6, 2)


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("Zoë", "zoe"),
        ("  ZOE ", "zoe"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("Smith-Jones", "smithjones"),
        ("Smith Jones", "smithjones"),
        ("Nuñez", "nunez"),
        ("Strauß", "strauss"),
        ("Łukasz", "łukasz".replace("ł", "")),  # no decomposition: the letter is dropped
    ],
)
def test_normalisation(written: str, normalised: str) -> None:
    assert normalise_name(written) == normalised


@pytest.mark.parametrize(
    ("one", "other"),
    [("Smith", "Smyth"), ("Jayden", "Jaden"), ("Jayden", "Jaiden"), ("Madison", "Maddison"),
     ("Thornbury", "Thornberry"), ("MacDonald", "McDonald"), ("Kestrel", "Kestrell")],
)  # fmt: skip
def test_minor_spelling_differences_share_a_phonetic_code(one: str, other: str) -> None:
    assert set(phonetic_codes(one)) & set(phonetic_codes(other))


def test_different_names_share_no_code() -> None:
    assert not set(phonetic_codes("Smith")) & set(phonetic_codes("Brown"))
    assert phonetic_codes("'-") == ()


def test_family_tokens_are_bound_to_the_date_of_birth() -> None:
    tokens = family_tokens("Smith", BORN)
    assert tokens[0] == (Match.EXACT, "family-dob\x1f2020-06-02\x1fsmith")
    assert all(t.startswith("family-dob\x1f2020-06-02\x1f") for _, t in tokens)
    assert {t for _, t in family_tokens("Smith", date(2020, 6, 3))}.isdisjoint(
        {t for _, t in tokens}
    )
    # Misspelt, accented or punctuated: the same phonetic token.
    for variant in ("Smyth", "SMITH", "Sm'ith"):
        assert {t for _, t in family_tokens(variant, BORN)} & {t for _, t in tokens}


def test_a_hyphenated_family_name_is_found_by_either_part() -> None:
    child = {t for _, t in family_tokens("Smith-Jones", BORN)}
    assert {t for _, t in search_family_tokens("Jones", BORN)} & child
    assert {t for _, t in search_family_tokens("Smyth", BORN)} & child
    assert {t for _, t in search_family_tokens("Smith Jones", BORN)} & child


def test_given_name_tokens_tolerate_spelling() -> None:
    assert set(given_tokens(["Jayden", "Lee"])) & set(given_tokens(["Jaden"]))
    assert set(given_tokens(["Mary-Jane"])) & set(given_tokens(["Jane"]))
    assert not set(given_tokens(["Jayden"])) & set(given_tokens(["Amber"]))


def test_shielded_fields_are_never_indexed() -> None:
    details = {
        "given_names": ["Jayden"],
        "family_name": "Smith",
        "known_as": "JJ",
        "date_of_birth": "2020-06-02",
    }
    whole = index_tokens(details, [])
    assert whole is not None and whole.family and whole.given
    assert index_tokens(details, ["details.family_name"]) is None
    assert index_tokens(details, ["details.date_of_birth"]) is None
    no_given = index_tokens(details, ["details.given_names", "details.known_as"])
    assert no_given is not None and no_given.given == []
    known = index_tokens(details, ["details.given_names"])
    assert known is not None and set(known.given) == set(given_tokens(["JJ"]))
    unborn = {"family_name": "Smith", "expected_delivery_date": "2026-12-30"}
    assert index_tokens(unborn, []) is None


def test_the_index_stores_keyed_hashes_only() -> None:
    one, other = Pseudonymiser(b"k" * 32), Pseudonymiser(b"j" * 32)
    token = family_tokens("Smith", BORN)[0][1]
    assert one.blind_stream(token) == one.blind_stream(token)
    assert one.blind_stream(token) != other.blind_stream(token)  # keyed
    assert "smith" not in one.blind_tag("given\x1fsmith")
    # The blind index's key is not the pseudonym key: no stream pseudonym matches a token.
    assert one.blind_stream("x") != one.source_stream("blind-index", "x")


def test_similarity_ranks_closer_spellings_higher() -> None:
    assert similarity("Smith", "Smith") == 1.0
    assert (
        similarity("Smith", "Smyth") > similarity("Smith", "Smart") > similarity("Smith", "Brown")
    )


def test_search_terms_name_the_field_never_the_value() -> None:
    terms = search_terms(" Smith ", "2020-06-02", " ", today=date(2026, 12, 6))
    assert (terms.family_name, terms.date_of_birth, terms.given_name) == ("Smith", BORN, None)
    for family, born, given, field in (
        (None, "2020-06-02", None, "family_name"),
        ("1234", "2020-06-02", None, "family_name"),
        ("x" * 101, "2020-06-02", None, "family_name"),
        ("Smith", "", None, "date_of_birth"),
        ("Smith", "02/06/2020", None, "date_of_birth"),
        ("Smith", "2027-01-01", None, "date_of_birth"),
        ("Smith", "2020-06-02", "99", "given_name"),
    ):
        with pytest.raises(SearchTermError) as error:
            search_terms(family, born, given, today=date(2026, 12, 6))
        assert error.value.field == field
        for value in (family, born, given):
            if value:
                assert value not in error.value.problem


def test_ages_in_words() -> None:
    today = date(2026, 12, 6)
    assert age_words(date(2020, 6, 2), today) == "6 years"
    assert age_words(date(2020, 12, 7), today) == "5 years"
    assert age_words(date(2025, 6, 6), today) == "18 months"
    assert age_words(date(2026, 11, 6), today) == "1 month"
    assert age_words(date(2026, 11, 29), today) == "1 week"
