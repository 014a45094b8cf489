"""The subject access rules without a hub: the ICO's one-month clock (corresponding calendar
date; the month's last day when there is none; the next working day after a weekend or an
English bank holiday), the extension, the flags and the decisions' checks."""

from __future__ import annotations

from datetime import date

import pytest

from hub.domain.subject_access import (
    CHILD_ABUSE_DATA,
    CRIME,
    SERIOUS_HARM_EDUCATION,
    Decision,
    DecisionType,
    Flag,
    ItemFacts,
    RequesterBasis,
    SubjectAccessError,
    check_decision,
    flags,
)
from hub.domain.subject_access_clock import (
    Extension,
    check_extension,
    clock,
    months_after,
    one_month_after,
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),  # no 31 February: the month's last day (Friday)
        (date(2024, 1, 31), date(2024, 2, 29)),  # a leap year (Thursday)
        (date(2026, 3, 31), date(2026, 4, 30)),  # no 31 April (Thursday)
        (date(2026, 3, 3), date(2026, 4, 7)),  # 3 April 2026 is Good Friday, 6 April Easter Monday
        (date(2026, 4, 25), date(2026, 5, 26)),  # 25 May 2026 is the spring bank holiday
        (date(2026, 5, 6), date(2026, 6, 8)),  # 6 June 2026 is a Saturday
        (date(2026, 11, 25), date(2026, 12, 29)),  # Christmas, and Boxing Day's substitute (28th)
        (date(2026, 5, 13), date(2026, 6, 15)),  # 13 June 2026 is a Saturday
        (date(2026, 7, 1), date(2026, 8, 3)),  # 1 August 2026 is a Saturday
        (date(2026, 2, 10), date(2026, 3, 10)),  # a Tuesday: the corresponding date itself
    ],
)
def test_one_month_is_the_corresponding_date_or_the_next_working_day(
    received: date, due: date
) -> None:
    assert one_month_after(received) == due


def test_received_on_a_weekend_still_counts_from_that_day() -> None:
    # Saturday 7 March 2026: the time runs from that day, to Tuesday 7 April (after Easter).
    assert one_month_after(date(2026, 3, 7)) == date(2026, 4, 7)


def test_the_clock_states_and_an_extension() -> None:
    received = date(2026, 1, 31)  # 28 February 2026 is a Saturday: due Monday 2 March
    assert months_after(received, 3) == date(2026, 4, 30)
    running = clock(received, date(2026, 2, 20))
    assert (running.due, running.days_left, running.overdue) == (date(2026, 3, 2), 10, False)
    assert running.status.value == "open" and "10 days left" in running.text
    late = clock(received, date(2026, 3, 5))
    assert late.overdue and late.days_left == -3 and "overdue by 3 days" in late.text
    extended = clock(received, date(2026, 3, 5), extension_months=2)
    assert extended.status.value == "extended" and extended.due == date(2026, 4, 30)
    assert not extended.overdue and extended.first_due == date(2026, 3, 2)
    done = clock(received, date(2026, 3, 20), completed_on=date(2026, 2, 26))
    assert done.status.value == "completed" and done.on_time and not done.overdue
    # Identity confirmed later: the clock runs from then.
    confirmed = clock(received, date(2026, 2, 1), identity_confirmed_on=date(2026, 2, 10))
    assert confirmed.due == date(2026, 3, 10)


def test_an_extension_must_be_told_within_the_first_month() -> None:
    received = date(2026, 1, 31)
    ok = Extension(2, "four agencies' records", date(2026, 3, 2))
    check_extension(received, received, ok, already=False, today=date(2026, 3, 5))
    late = Extension(2, "four agencies' records", date(2026, 3, 3))
    with pytest.raises(SubjectAccessError, match="within the first month"):
        check_extension(received, received, late, already=False, today=date(2026, 3, 5))
    with pytest.raises(SubjectAccessError, match=r"^months:"):
        check_extension(
            received, received, Extension(3, "x", received), already=False, today=received
        )
    with pytest.raises(SubjectAccessError, match=r"^reason:"):
        check_extension(
            received, received, Extension(1, " ", received), already=False, today=received
        )


def facts(**overrides: object) -> ItemFacts:
    values: dict[str, object] = {
        "ref": "school-100001/E-1@1",
        "agency": "school-100001",
        "agency_type": "education",
        "kind": "education.enrolled",
        "categories": (),
        "sensitivity": "standard",
        "fields": frozenset({"summary", "details.school_urn"}),
    }
    return ItemFacts(**(values | overrides))  # type: ignore[arg-type]


def test_flags() -> None:
    assert flags(facts(), []).flags == ()
    listed = flags(
        facts(fields=frozenset({"summary", "details.police_reference"})),
        ["details.police_reference"],
    )
    assert listed.flags == (Flag.THIRD_PARTY,)
    assert listed.third_party_fields == ("details.police_reference",)
    police = flags(facts(agency_type="police", kind="police.missing-episode"), [])
    assert Flag.CRIME_EXEMPTION_POSSIBLE in police.flags
    offence = flags(facts(categories=("sexual-abuse",)), [])  # criminal offence data by category
    assert {Flag.CRIME_EXEMPTION_POSSIBLE, Flag.SERIOUS_HARM_POSSIBLE} <= set(offence.flags)
    parent = flags(
        facts(
            agency_type="health",
            kind="health.parental-mental-health-crisis",
            categories=("parental-mental-health",),
        ),
        [],
    )
    assert {Flag.THIRD_PARTY, Flag.SERIOUS_HARM_POSSIBLE} <= set(parent.flags)
    sensitive = flags(facts(sensitivity="sensitive"), [])
    assert sensitive.flags == (Flag.SERIOUS_HARM_POSSIBLE,)
    shielded = flags(facts(shielded=frozenset({"details.school_urn"})), [])
    assert shielded.flags == (Flag.SHIELDED,) and shielded.shielded_fields == (
        "details.school_urn",
    )
    withholding = {"reason": "r", "decided_by": "d", "review_by": "2026-01-01"}
    withheld = flags(facts(withheld_from=(withholding,)), [])
    assert Flag.WITHHELD in withheld.flags and withheld.withholdings == (withholding,)


def test_decision_checks() -> None:
    item = facts()
    check_decision(item, Decision(DecisionType.RELEASE, "fine"), RequesterBasis.DATA_SUBJECT)
    check_decision(
        item,
        Decision(DecisionType.WITHHOLD, "harm", SERIOUS_HARM_EDUCATION),
        RequesterBasis.DATA_SUBJECT,
    )
    with pytest.raises(SubjectAccessError, match=r"^exemption: child-abuse-data"):
        check_decision(
            item,
            Decision(DecisionType.WITHHOLD, "x", CHILD_ABUSE_DATA),
            RequesterBasis.DATA_SUBJECT,
        )
    check_decision(
        item,
        Decision(DecisionType.WITHHOLD, "x", CHILD_ABUSE_DATA),
        RequesterBasis.PARENTAL_RESPONSIBILITY,
    )
    with pytest.raises(SubjectAccessError, match=r"^exemption: must be one of"):
        check_decision(
            item, Decision(DecisionType.WITHHOLD, "x", "nope"), RequesterBasis.DATA_SUBJECT
        )
    with pytest.raises(SubjectAccessError, match=r"^exemption:"):
        check_decision(item, Decision(DecisionType.WITHHOLD, "x"), RequesterBasis.DATA_SUBJECT)
    with pytest.raises(SubjectAccessError, match=r"^fields:"):
        check_decision(
            item,
            Decision(DecisionType.RELEASE_REDACTED, "x", CRIME),
            RequesterBasis.DATA_SUBJECT,
        )
    with pytest.raises(SubjectAccessError, match=r"^reason:"):
        check_decision(item, Decision(DecisionType.RELEASE, " "), RequesterBasis.DATA_SUBJECT)
