"""The pure parts of "Is anyone else involved?" over the federation link: holdings split into
parts small enough for one Kafka message and read back, the latest complete publication found
however its parts arrive, and the answer in words for the practitioner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.discovery import (
    DIGEST_LENGTH,
    HOLDINGS_PART_DIGESTS,
    DiscoveryDataError,
    DiscoveryResult,
    HoldingsPart,
    PartnerAnswer,
    answers_topic,
    complete_holdings,
    digests_from_hex,
    holdings_parts,
)

AS_OF = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def digest(n: int) -> bytes:
    return n.to_bytes(DIGEST_LENGTH, "big")


def test_holdings_are_split_into_parts_that_fit_a_kafka_message_and_read_back() -> None:
    digests = {digest(n) for n in range(HOLDINGS_PART_DIGESTS * 2 + 5)}
    parts = holdings_parts(digests)
    assert len(parts) == 3
    assert all(len(part) <= HOLDINGS_PART_DIGESTS * DIGEST_LENGTH * 2 for part in parts)
    assert max(len(part) for part in parts) < 700_000  # with its envelope, under 1 MB
    assert frozenset().union(*(digests_from_hex(part) for part in parts)) == digests
    assert holdings_parts([]) == [""]  # a hub that holds nobody still says so
    assert digests_from_hex("") == frozenset()


def test_digests_that_are_not_whole_or_not_hex_are_refused_by_name() -> None:
    with pytest.raises(DiscoveryDataError, match=r"^digests: must be a whole number"):
        digests_from_hex("ab" * 17)
    with pytest.raises(DiscoveryDataError, match=r"^digests: is not hexadecimal"):
        digests_from_hex("zz" * 16)


def part(holdings_id: str, n: int, of: int, *digests: int, hours: int = 0) -> HoldingsPart:
    return HoldingsPart(
        holdings_id,
        n,
        of,
        "voprf-r255:abc",
        AS_OF + timedelta(hours=hours),
        frozenset(digest(d) for d in digests),
    )


def test_the_latest_complete_publication_answers_and_one_still_arriving_hides_nothing() -> None:
    old = [part("a", 1, 2, 1), part("a", 2, 2, 2)]
    arriving = [part("b", 2, 2, 3, hours=24)]  # part 1 of the newer one not yet here
    found = complete_holdings("wessex", [*arriving, *old, old[0]])  # a repeat changes nothing
    assert found is not None
    assert (found.hub_id, found.as_of, found.digests) == ("wessex", AS_OF, {digest(1), digest(2)})
    newer = complete_holdings("wessex", [*arriving, part("b", 1, 2, 4, hours=24), *old])
    assert newer is not None and newer.digests == {digest(3), digest(4)}
    assert complete_holdings("wessex", arriving) is None
    assert complete_holdings("wessex", []) is None


def test_the_answers_topic_is_the_hub_s_inbound_topic_with_answers_after_it() -> None:
    assert answers_topic("hub.federation.shire") == "hub.federation.shire.answers"


WESSEX = ("Wessex Safeguarding Children Partnership", "Wessex MASH, 01234 567890")
MERCIA = ("Mercia Safeguarding Children Partnership", "Mercia front door")


def test_the_answer_in_words_names_each_holder_and_its_contact() -> None:
    result = DiscoveryResult(
        (PartnerAnswer(*WESSEX, "holds"), PartnerAnswer(*MERCIA, "does-not-hold"))
    )
    assert result.lines() == [
        "Wessex Safeguarding Children Partnership holds records about this child; contact "
        "Wessex MASH, 01234 567890"
    ]
    assert [a.name for a in result.holders] == [WESSEX[0]]


def test_no_holder_is_said_plainly_and_a_partner_that_did_not_answer_is_named() -> None:
    nobody = DiscoveryResult((PartnerAnswer(*WESSEX, "does-not-hold"),))
    assert nobody.lines() == ["No partner hub holds records about this child."]
    partly = DiscoveryResult(
        (
            PartnerAnswer(*WESSEX, "does-not-hold"),
            PartnerAnswer(*MERCIA, "did-not-answer"),
        )
    )
    assert partly.lines() == [
        "No partner hub that answered holds records about this child.",
        "Mercia Safeguarding Children Partnership did not answer in time: ask again later, or "
        "call Mercia front door",
    ]
    missing = DiscoveryResult((PartnerAnswer(*MERCIA, "no-holdings"),)).lines()
    assert "has not published its holdings" in missing[1]
    refused = DiscoveryResult((PartnerAnswer(*MERCIA, "refused", "You have asked 20"),))
    assert refused.lines()[1] == (
        "Mercia Safeguarding Children Partnership refused the question: You have asked 20"
    )
    assert (
        "did not verify" in DiscoveryResult((PartnerAnswer(*MERCIA, "did-not-verify"),)).lines()[1]
    )


def test_a_refusal_by_this_hub_is_the_whole_answer() -> None:
    assert DiscoveryResult(refused="You have asked 20 questions").lines() == [
        "You have asked 20 questions"
    ]
    assert "no partner hubs to ask" in DiscoveryResult().lines()[0]
