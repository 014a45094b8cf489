"""The web sessions' store (`hub.adapters.session_stores`) on SQLite and PostgreSQL, and the
pages' `SessionStore` over it: what two replicas sharing one hub see of each other's sessions,
and what a reader of the database finds (digests and sealed bytes, never a usable session id or
anything the session holds)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from hub.adapters.session_stores import SealedSessionStore, digest
from hub.api.chronology_views import Held, Sibling
from hub.api.sessions import SessionStore
from hub.bootstrap import Hub, bootstrap
from hub.disclosure_release import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.chronology import PatternFlag
from hub.domain.records import BreakGlassGranted
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action
from hub.settings import HubSettings

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
IDLE = timedelta(minutes=30)
SESSION_ID = "a-random-session-id-the-cookie-carries"
CHILD_NAME = "Ellie-Mae Tesscombe"


def contents(name: str = "Sam Worker") -> dict[str, str]:
    return {"name": name, "csrf": "the-csrf-token"}


def test_a_session_is_found_by_its_id_until_it_is_deleted(hub: Hub) -> None:
    store = hub.session_store
    store.create(SESSION_ID, "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)

    found = store.get(SESSION_ID, NOW + timedelta(minutes=5))

    assert found is not None
    assert found.contents == contents()
    assert found.expires_at == NOW + timedelta(hours=8)
    assert found.idle_until == NOW + IDLE
    assert found.version == 1
    assert store.get("another-id", NOW) is None
    store.delete(SESSION_ID)
    assert store.get(SESSION_ID, NOW) is None


def test_a_session_ends_at_its_expiry_and_after_idling_unless_touched(hub: Hub) -> None:
    store = hub.session_store
    store.create("expiring", "sw-0001", contents(), NOW + timedelta(hours=1), NOW + IDLE)
    store.create("idling", "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)
    store.create("busy", "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)

    store.touch("busy", NOW + timedelta(minutes=25) + IDLE)
    store.touch("expiring", NOW + timedelta(hours=2))  # never beyond its expiry

    later = NOW + timedelta(minutes=31)
    assert store.get("idling", later) is None
    assert store.get("busy", later) is not None
    assert store.get("expiring", later) is not None
    assert store.get("expiring", NOW + timedelta(hours=1)) is None
    assert store.get("idling", NOW) is None  # deleted when found past its deadline


def test_new_contents_get_a_new_version_and_an_ended_session_stays_ended(hub: Hub) -> None:
    store = hub.session_store
    store.create(SESSION_ID, "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)

    assert store.replace(SESSION_ID, contents("Sam Changed"), NOW + 2 * IDLE) == 2
    assert store.version(SESSION_ID, NOW + IDLE + timedelta(minutes=1)) == (2, NOW + 2 * IDLE)
    found = store.get(SESSION_ID, NOW)
    assert found is not None and found.contents == contents("Sam Changed")

    store.delete(SESSION_ID)
    assert store.replace(SESSION_ID, contents(), NOW + IDLE) is None
    assert store.get(SESSION_ID, NOW) is None


def test_sessions_end_by_practitioner_or_by_provider_session(hub: Hub) -> None:
    store = hub.session_store
    expires = NOW + timedelta(hours=8)
    store.create("a1", "sw-0001", contents(), expires, NOW + IDLE, provider_sid="sid-1")
    store.create("a2", "sw-0001", contents(), expires, NOW + IDLE, provider_sid="sid-2")
    store.create("b1", "dsl-100001", contents(), expires, NOW + IDLE, provider_sid="sid-3")
    store.create("b2", "dsl-100001", contents(), expires, NOW + IDLE)

    assert store.end_sessions_for(provider_sid="sid-3") == 1
    assert [store.get(s, NOW) is not None for s in ("a1", "a2", "b1", "b2")] == [
        True,
        True,
        False,
        True,
    ]
    assert store.end_sessions_for(practitioner_id="sw-0001") == 2
    assert [store.get(s, NOW) is not None for s in ("a1", "a2", "b2")] == [False, False, True]
    assert store.end_sessions_for(practitioner_id="nobody", provider_sid="sid-none") == 0
    with pytest.raises(ValueError, match="practitioner_id or provider_sid"):
        store.end_sessions_for()


def test_purging_deletes_only_sessions_past_a_deadline(hub: Hub) -> None:
    store = hub.session_store
    store.create("old", "sw-0001", contents(), NOW + timedelta(hours=1), NOW + IDLE)
    store.create("idle", "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)
    store.create("live", "sw-0001", contents(), NOW + timedelta(hours=8), NOW + 3 * IDLE)

    assert store.purge_expired(NOW + timedelta(hours=1)) == 2
    assert store.get("live", NOW + timedelta(hours=1)) is not None


def test_a_row_moved_under_another_sessions_digest_does_not_open(
    sqlite_settings: HubSettings,
) -> None:
    hub = bootstrap(sqlite_settings)
    try:
        store = hub.session_store
        store.create("victim", "sw-0001", contents(), NOW + timedelta(hours=8), NOW + IDLE)
        store.create("attacker", "po-0002", contents(), NOW + timedelta(hours=8), NOW + IDLE)
        with sqlite3.connect(sqlite_settings.data_dir / "sessions.sqlite") as db:
            db.execute(
                "UPDATE sessions SET sealed = (SELECT sealed FROM sessions WHERE id_digest = ?) "
                "WHERE id_digest = ?",
                (digest("victim"), digest("attacker")),
            )
        assert store.get("attacker", NOW) is None  # refused, and deleted rather than trusted
        assert store.get("victim", NOW) is not None
    finally:
        hub.close()


def released_view(practitioner: Practitioner) -> ChronologyView:
    entry = ShownEntry(
        ref="shire-constabulary/N-1@1",
        agency="shire-constabulary",
        agency_type="police",
        kind="domestic-abuse-incident",
        categories=["domestic-abuse"],
        occurred_at=NOW - timedelta(days=3),
        recorded_at=NOW - timedelta(days=3),
        received_at=NOW - timedelta(days=2),
        summary=f"Officers attended; {CHILD_NAME} was present",
        details={"officers": 2, "nested": {"list": [1, "two", None]}},
        sensitivity="sensitive",
        status="current",
        replaced_by=None,
        household_ref="H-1",
        redacted=[],
        shielded=["details.victim_address"],
        withheld_from=None,
        lawful_basis="legal-obligation",
    )
    return ChronologyView(
        child="9999939082",
        practitioner=practitioner,
        purpose=Purpose.CHILD_PROTECTION_ENQUIRY,
        action=Action.VIEW,
        agreement_version="shire-safeguarding-partnership@2025.1",
        outcome="disclosed",
        relationship=None,
        break_glass=BreakGlassGranted(
            originator_id=uuid4(),
            originator_version=1,
            timestamp=NOW,
            practitioner_id=practitioner.id,
            child_stream=uuid4().hex,
            reason="Child missing overnight",
            expires_at=NOW + timedelta(hours=4),
        ),
        entries=[entry],
        patterns=[PatternFlag("repeat-incidents", "Two incidents", ("a", "b"), NOW, NOW + IDLE)],
        households={"shire-constabulary/H-1": {"siblings": [{"child": "9999939090"}]}},
        sibling_streams={"s1", "s2"},
        audit_ref="0" * 32 + "@1",
    )


def test_two_replicas_share_a_session_with_its_held_views_and_logout(hub: Hub) -> None:
    """Two `SessionStore`s over one database stand for two API replicas."""
    practitioner = Practitioner(
        "po-0002",
        "Pat Officer",
        "shire-constabulary",
        AgencyType.POLICE,
        Role.POLICE_OFFICER,
        frozenset({"team-a"}),
    )
    clock = [datetime.now(UTC)]
    one = SessionStore(hub.session_store, IDLE, clock=lambda: clock[0])
    two = SessionStore(SealedSessionStore(hub.persistence.session_rows(), hub.keyring), IDLE)
    session = one.create(
        practitioner_id=practitioner.id,
        name=practitioner.name,
        role=practitioner.role.value,
        organisation=practitioner.organisation,
        purpose=Purpose.CHILD_PROTECTION_ENQUIRY,
        expires_at=clock[0] + timedelta(hours=8),
    )
    view = released_view(practitioner)
    session.disclosed = {"k": Held([view], NOW, [Sibling("s", "9999939090", ["police"])], 1)}
    session.flash.append("Done.")
    one.save(session)

    seen = two.get(session.id)

    assert seen is not None and seen is not session
    assert seen == session
    assert seen.disclosed["k"].views[0].break_glass == view.break_glass
    assert seen.purpose is Purpose.CHILD_PROTECTION_ENQUIRY
    assert seen.take_flash() == ["Done."]
    two.save(seen)
    again = one.get(session.id)
    assert again is not None and again.flash == []  # one's kept copy was stale: opened anew

    two.end(session.id)
    assert one.get(session.id) is None
    assert two.get(session.id) is None


def test_the_database_holds_no_session_id_and_nothing_the_session_holds(hub: Hub) -> None:
    store = SessionStore(hub.session_store, IDLE)
    session = store.create(
        practitioner_id="po-0002",
        name="Pat Officer",
        role="police-officer",
        organisation="shire-constabulary",
        purpose=Purpose.CHILD_PROTECTION_ENQUIRY,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        provider_sid="provider-session-1",
    )
    practitioner = Practitioner(
        "po-0002", "Pat Officer", "shire-constabulary", AgencyType.POLICE, Role.POLICE_OFFICER
    )
    session.disclosed = {"k": Held([released_view(practitioner)], NOW)}
    store.save(session)

    if hub.settings.store == "postgres":
        import psycopg

        from tests.conftest import POSTGRES_DSN

        with psycopg.connect(POSTGRES_DSN) as db:
            rows = db.execute(
                f'SELECT * FROM "{hub.settings.postgres_schema}".hub_sessions'
            ).fetchall()
    else:
        with sqlite3.connect(hub.settings.data_dir / "sessions.sqlite") as db:
            rows = db.execute("SELECT * FROM sessions").fetchall()
    stored = repr(rows).encode() + b"".join(v for row in rows for v in row if isinstance(v, bytes))
    for secret in (session.id, session.csrf, "po-0002", "Pat Officer", "provider-session-1"):
        assert secret.encode() not in stored
    assert CHILD_NAME.encode() not in stored and b"9999939082" not in stored
    assert digest(session.id).encode() in stored
