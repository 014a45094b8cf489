"""The chronology header is read from what the gate released, and from nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub.chronology_header import age_words, child_header
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.agency_records import AgencyRecord
from hub.domain.markers import REDACTED
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action

LA, POLICE = "shire-county-council", "shire-constabulary"
VIEWER = Practitioner(
    "lcpp-0001",
    "Morag Ellison",
    LA,
    AgencyType.LOCAL_AUTHORITY,
    Role.LEAD_CHILD_PROTECTION_PRACTITIONER,
)
WORKER = Practitioner(
    "sw-0001",
    "Tomasz Brennan",
    LA,
    AgencyType.LOCAL_AUTHORITY,
    Role.SOCIAL_WORKER,
    teams=frozenset({f"macpt:{LA}"}),
)
REGISTER = {
    LA: AgencyRecord(LA, "local-authority", "la-csv", "t", "p", "now", "Shire Council", "MASH 1"),
    POLICE: AgencyRecord(POLICE, "police", "police-json", "t", "p", "now", None, "PPU 2"),
}


def entry(kind: str, when: datetime, agency: str = LA, **details: Any) -> ShownEntry:
    return ShownEntry(
        ref=f"{agency}/{kind}@1",
        agency=agency,
        agency_type="police" if agency == POLICE else "local-authority",
        kind=kind,
        categories=[],
        occurred_at=when,
        recorded_at=when,
        received_at=when,
        summary="s",
        details=details,
        sensitivity="standard",
        status="current",
        replaced_by=None,
        household_ref=None,
        redacted=[],
        shielded=[],
        withheld_from=None,
        lawful_basis=None,
    )


def view(*entries: ShownEntry, unshared: list[str] | None = None) -> ChronologyView:
    return ChronologyView(
        child="9999939082",
        practitioner=VIEWER,
        purpose=Purpose.CHILD_PROTECTION_PLANNING,
        action=Action.VIEW,
        agreement_version="a",
        outcome="partially-disclosed" if unshared else "disclosed",
        relationship=None,
        break_glass=None,
        entries=list(entries),
        unshared_agencies=unshared or [],
    )


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def directory(practitioner_id: str) -> Practitioner | None:
    return WORKER if practitioner_id == WORKER.id else None


def test_the_header_says_who_the_child_is_and_their_status_from_released_entries() -> None:
    header = child_header(
        view(
            entry(
                "la.child-details",
                at(2021, 11, 22),
                given_names=["Madison", "Rose"],
                family_name="Greenhalgh",
                date_of_birth="2020-06-02",
                sex="female",
                legal_status="interim-care-order",
            ),
            entry(
                "la.worker-allocated",
                at(2023, 6, 15),
                practitioner_id="sw-0001",
                role="social-worker",
            ),
            entry("la.child-in-need-plan", at(2022, 12, 7)),
            entry("la.cp-plan-started", at(2025, 7, 9), category="neglect"),
            entry("la.looked-after", at(2025, 7, 18), legal_status="interim-care-order"),
            entry("police.home-visit", at(2024, 3, 7), POLICE),
            unshared=[POLICE],
        ),
        REGISTER,
        directory,
        date(2026, 12, 6),
    )
    assert header.name == "Madison Rose Greenhalgh"
    assert (header.date_of_birth, header.age, header.sex) == ("2 June 2020", "6 years", "Female")
    assert header.statuses == [
        "On a child protection plan since 9 July 2025, category: neglect",
        "Looked after since 18 July 2025",
    ]
    assert header.legal_status == "Interim care order"
    assert header.worker == "Tomasz Brennan (social worker), allocated 15 June 2023"
    assert header.team == "multi-agency child protection team, Shire Council"
    assert [(a.name, a.contact) for a in header.agencies] == [
        ("Shire Council", "MASH 1"),
        (POLICE, "PPU 2"),
    ]
    assert [(a.agency, a.contact) for a in header.not_shared_by] == [(POLICE, "PPU 2")]


def test_what_was_not_released_is_not_in_the_header() -> None:
    header = child_header(
        view(
            entry(
                "la.child-details",
                at(2021, 11, 22),
                given_names=["Madison"],
                family_name="Greenhalgh",
                date_of_birth="2020-06-02",
                sex="female",
                legal_status=REDACTED,
            ),
            entry("la.cp-plan-started", at(2025, 7, 9), category="neglect"),
        ),
        REGISTER,
        directory,
        date(2026, 12, 6),
    )
    assert header.legal_status == REDACTED
    assert header.worker is None and header.team is None  # no allocation released
    assert header.not_shared_by == []
    blank = child_header(view(), REGISTER, directory, date(2026, 12, 6))
    assert (blank.name, blank.date_of_birth, blank.statuses) == (None, None, [])


def test_an_unborn_child_and_ended_plans() -> None:
    header = child_header(
        view(
            entry(
                "health.child-details",
                at(2026, 10, 1),
                family_name="Greenhalgh",
                expected_delivery_date="2027-03-03",
                sex="unknown",
            ),
            entry("la.cp-plan-started", at(2026, 10, 5), category="neglect"),
            entry("la.cp-plan-ended", at(2026, 11, 5)),
        ),
        REGISTER,
        directory,
        date(2026, 12, 6),
    )
    assert header.age == "unborn, due 3 March 2027" and header.date_of_birth is None
    assert header.statuses == ["Child protection plan ended on 5 November 2026"]


def test_a_child_who_stopped_being_looked_after_is_not_shown_in_care() -> None:
    header = child_header(
        view(
            entry("la.looked-after", at(2025, 7, 18), legal_status="s20"),
            entry("la.ceased-looked-after", at(2026, 2, 2), reason="E4A", ceased_on="2026-02-02"),
        ),
        REGISTER,
        directory,
        date(2026, 12, 6),
    )
    assert header.statuses == ["Stopped being looked after on 2 February 2026"]
    assert header.legal_status is None


def test_the_picture_ends_the_period_in_care_when_the_child_stops_being_looked_after() -> None:
    from hub.reports.chronology_picture import LOOKED_AFTER_ENDS, _periods

    start, end = at(2025, 7, 18), at(2026, 2, 2)
    entries = [
        entry("la.looked-after", start, legal_status="s20"),
        entry("la.ceased-looked-after", end, reason="E4A", ceased_on="2026-02-02"),
    ]
    periods = _periods(entries, "la.looked-after", LOOKED_AFTER_ENDS, "Looked after")
    assert periods == [(start, end, "Looked after")]


def test_ages_as_people_say_them() -> None:
    born = date(2024, 1, 31)
    assert age_words(born, date(2024, 2, 3)) == "3 days"
    assert age_words(born, date(2024, 2, 28)) == "4 weeks"
    assert age_words(born, date(2025, 12, 31)) == "23 months"
    assert age_words(born, date(2027, 3, 1)) == "3 years 1 month"
    assert age_words(born, date(2031, 2, 1)) == "7 years"
