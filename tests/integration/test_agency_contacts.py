"""The agency register holds each agency's name and contact, and an older store gains them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.adapters.agency_registries import SqliteAgencyRegistry
from hub.domain.agency_records import OnboardingError
from hub.onboarding import new_agency

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_name_and_contact_are_stored_and_changed_by_registering_again(tmp_path: Path) -> None:
    registry = SqliteAgencyRegistry(tmp_path / "agencies.sqlite")
    police = new_agency(
        "shire-police", "police", "police-json", NOW, name="Shire  Police", contact="PPU, 01632"
    )
    assert registry.register(police)
    assert not registry.register(police)
    [held] = registry.all()
    assert (held.name, held.contact, held.display_name) == ("Shire Police", "PPU, 01632", held.name)
    moved = new_agency("shire-police", "police", "police-json", NOW, contact="PPU, 01632 960002")
    assert registry.register(moved)
    [held] = registry.all()
    assert (held.name, held.contact, held.display_name) == (
        None,
        "PPU, 01632 960002",
        "shire-police",
    )


def test_a_register_made_before_names_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "agencies.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE agencies (agency_id TEXT PRIMARY KEY, agency_type TEXT, "
            "adapter TEXT, topic TEXT, principal TEXT, registered_at TEXT)"
        )
        db.execute(
            "INSERT INTO agencies VALUES ('oak-primary', 'education', 'school-csv', "
            "'hub.events.oak-primary', 'agency-oak-primary', '2026-01-01T00:00:00+00:00')"
        )
    registry = SqliteAgencyRegistry(path)
    [old] = registry.all()
    assert (old.agency_id, old.name, old.contact) == ("oak-primary", None, None)
    registry.register(
        new_agency("oak-primary", "education", "school-csv", NOW, name="Oak Primary", contact="DSL")
    )
    assert [(r.name, r.contact) for r in SqliteAgencyRegistry(path).all()] == [
        ("Oak Primary", "DSL")
    ]


@pytest.mark.parametrize("field", ["name", "contact"])
def test_a_bad_name_or_contact_is_refused_by_field(field: str) -> None:
    secret = "line one\x07" + "x" * 300
    with pytest.raises(OnboardingError) as refused:
        new_agency("oak-primary", "education", "school-csv", NOW, **{field: secret})
    assert f"--{field}" in str(refused.value)
    assert "line one" not in str(refused.value)
