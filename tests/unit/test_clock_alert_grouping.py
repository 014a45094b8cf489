"""A practitioner's alerts as people read them: grouped by child, current first, and breaches
older than the horizon summarised rather than listed (`consumers.clock_alerts.shown`)."""

from __future__ import annotations

from datetime import date

import pytest

from consumers.clock_alerts import AlertListing, ClockSettings, ShownAlert, group_alerts
from hub.domain.access import Practitioner, Role
from hub.domain.taxonomy import AgencyType

TODAY = date(2026, 12, 7)


def alert(
    child: str, clock: str, working_days_left: int, due: date, status: str = ""
) -> ShownAlert:
    if not status:
        status = "open" if working_days_left >= 0 else "breached-open"
    return ShownAlert(
        child=child,
        child_stream=f"stream-{child}",
        source=f"shire-county-council/{child}-{clock}",
        team="macpt:shire-county-council",
        clock=clock,
        authority="shire-county-council",
        started_on=date(2024, 1, 1),
        due=due,
        working_days_left=working_days_left,
        status=status,
        raised_at="2024-01-01T00:00:00+00:00",
        relationship="macpt-member via shire-county-council/SD-1",
    )


# Child A: one breach long ago and one due in 4 days. Child B: due tomorrow. Child C: overdue
# by 3 days and by 15 days. Child D: only breaches long ago (63 and 120 working days).
ALERTS = [
    alert("D", "assessment", -120, date(2026, 6, 15)),
    alert("A", "cp-review", -63, date(2026, 9, 14)),
    alert("D", "cp-review", -63, date(2026, 9, 14)),
    alert("C", "assessment", -15, date(2026, 11, 13)),
    alert("C", "initial-conference", -3, date(2026, 12, 2)),
    alert("B", "assessment", 1, date(2026, 12, 8)),
    alert("A", "assessment", 4, date(2026, 12, 11)),
]


def test_groups_per_child_most_urgent_first_and_old_breaches_summarised() -> None:
    groups, older = group_alerts(ALERTS, 20)
    assert [(g.child, [(a.clock, a.working_days_left) for a in g.alerts]) for g in groups] == [
        ("B", [("assessment", 1)]),
        ("A", [("assessment", 4)]),
        ("C", [("initial-conference", -3), ("assessment", -15)]),
    ]
    assert older.count == 3
    assert older.by_clock == {"assessment": 1, "cp-review": 2}
    assert older.oldest_due == date(2026, 6, 15)
    assert older.counts_text() == "2 reviews, 1 assessment"


def test_the_horizon_decides_which_breaches_are_listed() -> None:
    groups, older = group_alerts(ALERTS, 63)  # overdue by exactly the horizon: still listed
    assert [g.child for g in groups] == ["B", "A", "C", "D"]
    assert [a.working_days_left for a in groups[1].alerts] == [4, -63]
    assert [a.working_days_left for a in groups[3].alerts] == [-63]
    assert (older.count, older.by_clock, older.oldest_due) == (
        1,
        {"assessment": 1},
        date(2026, 6, 15),
    )

    groups, older = group_alerts(ALERTS, None)  # every breach listed
    assert sum(len(g.alerts) for g in groups) == len(ALERTS)
    assert (older.count, older.oldest_due) == (0, None)


def test_stopped_clocks_come_after_running_ones_and_old_stopped_breaches_are_summarised() -> None:
    alerts = [
        alert("A", "assessment", -2, date(2026, 12, 3), status="breached-closed"),
        alert("A", "cp-review", 10, date(2026, 12, 21), status="met"),
        alert("A", "initial-conference", -1, date(2026, 12, 4)),
        alert("A", "rapid-review", -40, date(2026, 10, 12), status="breached-closed"),
    ]
    (group,), older = group_alerts(alerts, 20)
    assert [a.clock for a in group.alerts] == ["initial-conference", "cp-review", "assessment"]
    assert older.by_clock == {"rapid-review": 1}


def test_as_dict_keeps_every_alert_and_adds_groups_and_older_breaches() -> None:
    lead = Practitioner(
        "lcpp-0001",
        "Morag Ellison",
        "shire-county-council",
        AgencyType.LOCAL_AUTHORITY,
        Role.LEAD_CHILD_PROTECTION_PRACTITIONER,
        frozenset({"macpt:shire-county-council"}),
    )
    listing = AlertListing(lead, sorted(ALERTS, key=lambda a: a.due), ["ref@1"], 0)
    document = listing.as_dict()
    assert [a["due"] for a in document["alerts"]] == sorted(a.due.isoformat() for a in ALERTS)
    assert [g["child"] for g in document["groups"]] == ["B", "A", "C"]
    assert document["groups"][2]["alerts"][0]["clock"] == "initial-conference"
    assert document["older_breaches"] == {
        "count": 3,
        "by_clock": {"assessment": 1, "cp-review": 2},
        "oldest_due": "2026-06-15",
        "horizon_working_days": 20,
    }


def test_the_breach_horizon_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClockSettings().breach_horizon_working_days == 20
    monkeypatch.setenv("HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS", "40")
    assert ClockSettings().breach_horizon_working_days == 40
    monkeypatch.setenv("HUB_CLOCKS_BREACH_HORIZON_WORKING_DAYS", "-1")
    with pytest.raises(ValueError, match="breach_horizon_working_days"):
        ClockSettings()
