"""Tamper evidence on a real SQLite file and a real PostgreSQL table: a changed byte, a deleted
row, an inserted row and reordered rows are each detected and named."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from hub.bootstrap import Hub, bootstrap
from hub.domain.merkle import verify_inclusion
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.conftest import POSTGRES_DSN
from tests.factories import event_bytes, nhs_number, register_agencies

OWNER = "shire-county-council"


@pytest.fixture
def checkpointed(settings: HubSettings) -> Iterator[Hub]:
    hub = bootstrap(settings)
    register_agencies(hub)
    hub.ingest.ingest(
        [
            InboundMessage(
                f"inbox:{OWNER}/t",
                i + 1,
                event_bytes(event_id=f"T-{i}", child={"nhs_number": nhs_number(i % 3)}),
                OWNER,
            )
            for i in range(6)
        ]
    )
    hub.integrity.checkpoint()
    yield hub
    hub.close()


class Tamper:
    """SQL against the event table behind the application's back."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        settings = hub.settings
        if settings.store == "sqlite":
            self.table, self.id_column, self.mark = "stored_events", "rowid", "?"
        else:
            self.table = f'"{settings.postgres_schema}".hub_events'
            self.id_column, self.mark = "notification_id", "%s"

    def run(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        statement = (
            statement.replace("{t}", self.table)
            .replace("{id}", self.id_column)
            .replace("?", self.mark)
        )
        if self.hub.settings.store == "sqlite":
            with sqlite3.connect(self.hub.settings.sqlite_path) as db:
                return list(db.execute(statement, params).fetchall())
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
            cursor = db.execute(statement.encode(), params or None)
            return list(cursor.fetchall()) if cursor.description else []

    def row(self, row_id: int) -> tuple[Any, ...]:
        return self.run(
            "SELECT originator_id, originator_version, topic, state FROM {t} WHERE {id} = ?", row_id
        )[0]


def findings(hub: Hub) -> list[tuple[str, str, list[int]]]:
    return [(f.log, f.kind, f.rows) for f in hub.integrity.verify().findings]


def test_an_untouched_store_verifies(checkpointed: Hub) -> None:
    report = checkpointed.integrity.verify()
    assert report.ok
    events = next(r for r in report.logs if r.log == "events")
    assert (events.checkpoint_size, events.rows, events.pending) == (events.rows, events.rows, 0)


def test_a_changed_byte_is_named(checkpointed: Hub) -> None:
    tamper = Tamper(checkpointed)
    state = bytearray(tamper.row(3)[3])
    state[40] ^= 0x01
    tamper.run("UPDATE {t} SET state = ? WHERE {id} = ?", bytes(state), 3)
    assert findings(checkpointed) == [("events", "changed", [3])]


def test_a_deleted_row_is_named(checkpointed: Hub) -> None:
    Tamper(checkpointed).run("DELETE FROM {t} WHERE {id} = ?", 4)
    assert findings(checkpointed) == [("events", "deleted", [4])]


def test_reordered_rows_are_named(checkpointed: Hub) -> None:
    tamper = Tamper(checkpointed)
    two, five = tamper.row(2), tamper.row(5)
    columns = "originator_id = ?, originator_version = ?, topic = ?, state = ?"
    tamper.run("UPDATE {t} SET originator_version = -1 WHERE {id} = ?", 2)
    tamper.run(f"UPDATE {{t}} SET {columns} WHERE {{id}} = ?", *two, 5)
    tamper.run(f"UPDATE {{t}} SET {columns} WHERE {{id}} = ?", *five, 2)
    assert findings(checkpointed) == [("events", "reordered", [2, 5])]


def test_an_inserted_row_is_named(checkpointed: Hub) -> None:
    """A copy of a genuine sealed row under another stream version fails authentication."""
    tamper = Tamper(checkpointed)
    stream, version, topic, state = tamper.row(1)
    tamper.run(
        "INSERT INTO {t} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
        stream,
        version + 100,
        topic,
        state,
    )
    (inserted,) = findings(checkpointed)
    assert inserted[:2] == ("events", "inserted")


def test_the_leaf_index_itself_is_checked_against_the_signed_root(checkpointed: Hub) -> None:
    index = checkpointed.integrity._index
    leaves = index.leaves("events")
    if checkpointed.settings.store == "sqlite":
        with sqlite3.connect(checkpointed.settings.data_dir / "integrity.sqlite") as db:
            db.execute(
                "UPDATE merkle_leaves SET leaf = ? WHERE log = 'events' AND idx = 0", (b"\0" * 32,)
            )
    else:
        schema = checkpointed.settings.postgres_schema
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
            table = f'"{schema}".hub_merkle_leaves'
            db.execute(
                f"UPDATE {table} SET leaf = %s WHERE log = 'events' AND idx = 0".encode(),
                (b"\0" * 32,),
            )
    kinds = {kind for _, kind, _ in findings(checkpointed)}
    assert {"index-mismatch", "changed"} <= kinds
    assert leaves  # sanity: there was an index to alter


def test_audit_entries_are_leaves_too(checkpointed: Hub) -> None:
    from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
    from hub.domain.access import Purpose
    from hub.domain.canonical_event import ChildRef

    hub = bootstrap(checkpointed.settings.model_copy(update={"directory": SAMPLE_DIRECTORY_PATH}))

    register_agencies(hub)
    hub.gate.view(ChildRef(nhs_number=nhs_number(0)), "lcpp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    witness = hub.integrity.checkpoint()
    audit = next(c for c in witness["checkpoints"] if c["log"] == "audit")
    assert audit["size"] == 2  # the disclosure entry and its practitioner pointer
    assert hub.integrity.verify(witness).ok
    hub.close()


def test_consistency_with_a_partners_witness_and_inclusion_proofs(checkpointed: Hub) -> None:
    witness = checkpointed.integrity.checkpoint()
    checkpointed.ingest.ingest(
        [InboundMessage(f"inbox:{OWNER}/t2", 1, event_bytes(event_id="LATER"), OWNER)]
    )
    checkpointed.integrity.checkpoint()
    report = checkpointed.integrity.verify(witness)
    assert report.ok
    assert [r.consistent_with_witness for r in report.logs if r.log == "events"] == [True]

    forged: dict[str, Any] = {
        **witness,
        "checkpoints": [{**witness["checkpoints"][0], "root": "00" * 32}],
    }
    bad = checkpointed.integrity.verify(forged)
    assert {f.kind for f in bad.findings} >= {"bad-signature", "index-mismatch"}

    from hub.cli.integrity import _resolve

    log, stream, version = _resolve(checkpointed, f"{OWNER}/T-2@1")
    proof = checkpointed.integrity.inclusion(log, stream, version)
    assert proof["verified"] is True
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )
    verify: Callable[..., bool] = verify_inclusion
    assert not verify(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"] + 1,
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(proof["root"]),
    )
