"""Discovery, the pure part: partner holdings and the per-practitioner question limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.discovery import (
    DIGEST_LENGTH,
    DiscoveryDataError,
    Holdings,
    QuestionLimit,
)

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


def holdings(*digests: bytes, key_id: str = "voprf-r255:aaaa") -> Holdings:
    return Holdings(hub_id="hub-b", key_id=key_id, as_of=NOW, digests=frozenset(digests))


def test_holdings_hold_exactly_their_digests() -> None:
    held = bytes(range(16))
    published = holdings(held)
    assert published.holds(held)
    assert not published.holds(bytes(16))
    assert not holdings().holds(held)


def test_holdings_say_which_key_computed_them() -> None:
    published = holdings(key_id="voprf-r255:aaaa")
    assert published.computed_with("voprf-r255:aaaa")
    assert not published.computed_with("voprf-r255:bbbb")


@pytest.mark.parametrize("length", [0, DIGEST_LENGTH - 1, DIGEST_LENGTH + 1, 64])
def test_holdings_refuse_digests_of_the_wrong_length(length: int) -> None:
    with pytest.raises(DiscoveryDataError, match=f"must each be {DIGEST_LENGTH} bytes; 1 are"):
        holdings(bytes(16), b"\x01" * length)


def test_holdings_need_an_aware_time_a_hub_and_a_key() -> None:
    with pytest.raises(DiscoveryDataError, match="as_of"):
        Holdings(hub_id="hub-b", key_id="k", as_of=datetime(2026, 12, 7, 14, 0))
    with pytest.raises(DiscoveryDataError, match="hub_id"):
        Holdings(hub_id="", key_id="k", as_of=NOW)
    with pytest.raises(DiscoveryDataError, match="key_id"):
        Holdings(hub_id="hub-b", key_id="", as_of=NOW)


def test_the_default_limit_is_20_an_hour_and_100_a_day() -> None:
    assert QuestionLimit() == QuestionLimit(per_hour=20, per_day=100)


def test_a_first_question_is_allowed() -> None:
    decision = QuestionLimit().decide([], NOW)
    assert decision.allowed and decision.next_allowed_at is None


def test_one_below_the_hourly_limit_is_allowed_and_at_it_refused() -> None:
    limit = QuestionLimit(per_hour=3, per_day=10)
    asked = [NOW - timedelta(minutes=minutes) for minutes in (50, 30)]
    assert limit.decide(asked, NOW).allowed
    asked.append(NOW - timedelta(minutes=10))
    decision = limit.decide(asked, NOW)
    assert not decision.allowed
    # The oldest of the three leaves the hour at 14:10.
    assert decision.next_allowed_at == NOW - timedelta(minutes=50) + HOUR
    assert "3 questions in the last hour (the limit is 3)" in decision.reason
    assert "7 Dec 2026, 14:10 GMT" in decision.reason


def test_a_question_exactly_an_hour_old_no_longer_counts() -> None:
    limit = QuestionLimit(per_hour=2, per_day=10)
    assert limit.decide([NOW - HOUR, NOW - timedelta(minutes=5)], NOW).allowed
    refused = limit.decide([NOW - HOUR + timedelta(seconds=1), NOW - timedelta(minutes=5)], NOW)
    assert not refused.allowed
    assert refused.next_allowed_at == NOW + timedelta(seconds=1)


def test_asking_again_at_the_time_given_is_allowed() -> None:
    limit = QuestionLimit(per_hour=2, per_day=10)
    asked = [NOW - timedelta(minutes=40), NOW - timedelta(minutes=20), NOW - timedelta(minutes=1)]
    decision = limit.decide(asked, NOW)
    assert decision.next_allowed_at is not None
    assert limit.decide(asked, decision.next_allowed_at).allowed
    assert not limit.decide(asked, decision.next_allowed_at - timedelta(microseconds=1)).allowed


def test_the_daily_limit_counts_the_last_24_hours() -> None:
    limit = QuestionLimit(per_hour=5, per_day=6)
    # Six questions spread over the day, none in the last hour.
    asked = [NOW - timedelta(hours=hours) for hours in (23, 20, 15, 10, 5, 2)]
    decision = limit.decide(asked, NOW)
    assert not decision.allowed
    assert decision.next_allowed_at == NOW - timedelta(hours=23) + DAY
    assert "6 questions in the last 24 hours (the limit is 6)" in decision.reason
    assert limit.decide(asked[1:], NOW).allowed
    assert limit.decide(asked, NOW + timedelta(hours=1)).allowed


def test_both_limits_reached_waits_for_the_later() -> None:
    limit = QuestionLimit(per_hour=2, per_day=3)
    asked = [NOW - timedelta(hours=3), NOW - timedelta(minutes=30), NOW - timedelta(minutes=10)]
    decision = limit.decide(asked, NOW)
    assert not decision.allowed
    assert decision.next_allowed_at == NOW - timedelta(hours=3) + DAY
    assert "in the last hour" in decision.reason and "in the last 24 hours" in decision.reason


def test_prior_questions_may_come_in_any_order() -> None:
    limit = QuestionLimit(per_hour=2, per_day=10)
    asked = [NOW - timedelta(minutes=5), NOW - timedelta(minutes=45)]
    assert limit.decide(asked, NOW).next_allowed_at == NOW - timedelta(minutes=45) + HOUR


@pytest.mark.parametrize(("per_hour", "per_day"), [(0, 10), (5, 4)])
def test_a_limit_that_cannot_work_is_refused(per_hour: int, per_day: int) -> None:
    with pytest.raises(DiscoveryDataError):
        QuestionLimit(per_hour=per_hour, per_day=per_day)
