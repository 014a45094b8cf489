"""Where the hub keeps what is not the event log, chosen once: SQLite files in the data
directory (the embedded default) or tables in one PostgreSQL schema. The composition root asks
this for each store, so no service and no other property decides SQLite or PostgreSQL again.
(The event log and audit ledger are `eventsourcing` applications, whose persistence module is
chosen by their environment, from the same setting.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hub.adapters import postgres_pipeline
from hub.adapters.agency_registries import (
    AgencyRegistry,
    PostgresAgencyRegistry,
    SqliteAgencyRegistry,
)
from hub.adapters.chronology_views import (
    ChronologyViewStore,
    PostgresChronologyViewStore,
    SqliteChronologyViewStore,
)
from hub.adapters.key_stores import DataKeyStore, PostgresDataKeyStore, SqliteDataKeyStore
from hub.adapters.merkle_index import (
    MerkleIndexStore,
    PostgresMerkleIndexStore,
    SqliteMerkleIndexStore,
)
from hub.adapters.session_stores import PostgresSessionRows, SessionRows, SqliteSessionRows

_SCHEMA_LOCK = 0x6875625F736368  # "hub_sch": one advisory lock id for eventsourcing's DDL


class Persistence(Protocol):
    def creating_event_logs(self) -> AbstractContextManager[None]:
        """Held while an `eventsourcing` application opens its log (and creates its tables
        when the store is new)."""
        ...

    def holds_hub(self) -> bool:
        """Whether a hub lives here already (its data key store exists), without creating it."""
        ...

    def key_store(self) -> DataKeyStore: ...

    def agency_registry(self) -> AgencyRegistry: ...

    def chronology_views(self) -> ChronologyViewStore: ...

    def consumer_views(self, name: str) -> ChronologyViewStore:
        """A consumer's own documents, apart from every other consumer's."""
        ...

    def merkle_index(self) -> MerkleIndexStore: ...

    def session_rows(self) -> SessionRows:
        """The web pages' sessions, shared by every API replica."""
        ...


@dataclass(frozen=True)
class SqlitePersistence:
    data_dir: Path

    def creating_event_logs(self) -> AbstractContextManager[None]:
        return nullcontext()

    def holds_hub(self) -> bool:
        return (self.data_dir / "keys.sqlite").is_file()

    def key_store(self) -> DataKeyStore:
        return SqliteDataKeyStore(self.data_dir / "keys.sqlite")

    def agency_registry(self) -> AgencyRegistry:
        return SqliteAgencyRegistry(self.data_dir / "agencies.sqlite")

    def chronology_views(self) -> ChronologyViewStore:
        return SqliteChronologyViewStore(self.data_dir / "chronology.sqlite")

    def consumer_views(self, name: str) -> ChronologyViewStore:
        directory = self.data_dir / "consumers"
        directory.mkdir(exist_ok=True, mode=0o700)
        return SqliteChronologyViewStore(directory / f"{name}.sqlite", "documents")

    def merkle_index(self) -> MerkleIndexStore:
        return SqliteMerkleIndexStore(self.data_dir / "integrity.sqlite")

    def session_rows(self) -> SessionRows:
        return SqliteSessionRows(self.data_dir / "sessions.sqlite")


@dataclass(frozen=True)
class PostgresPersistence:
    conninfo: str
    schema: str

    @contextmanager
    def creating_event_logs(self) -> Iterator[None]:
        """A session advisory lock while eventsourcing creates (or re-creates) its tables, type
        and insert function (its `CREATE OR REPLACE FUNCTION` runs at every start): two
        processes starting together (two ingest workers, the API and a consumer) otherwise
        fail with "tuple concurrently updated" or a duplicate pg_type key. The hub's own tables
        take their own lock (`PostgresSchema.create`). And psycopg's pipeline is fixed first
        (`postgres_pipeline`): else a large batch can hang the recorder's inserts."""
        import psycopg  # the optional postgres extra

        postgres_pipeline.install()
        with psycopg.connect(self.conninfo, autocommit=True) as db:
            db.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                yield
            finally:
                db.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    def holds_hub(self) -> bool:
        import psycopg  # the optional postgres extra

        with psycopg.connect(self.conninfo, autocommit=True) as db:
            found = db.execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = 'hub_data_keys'",
                (self.schema,),
            ).fetchone()
        return found is not None

    def key_store(self) -> DataKeyStore:
        return PostgresDataKeyStore(self.conninfo, self.schema)

    def agency_registry(self) -> AgencyRegistry:
        return PostgresAgencyRegistry(self.conninfo, self.schema)

    def chronology_views(self) -> ChronologyViewStore:
        return PostgresChronologyViewStore(self.conninfo, self.schema)

    def consumer_views(self, name: str) -> ChronologyViewStore:
        table = "consumer_" + name.replace("-", "_")
        return PostgresChronologyViewStore(self.conninfo, self.schema, table)

    def merkle_index(self) -> MerkleIndexStore:
        return PostgresMerkleIndexStore(self.conninfo, self.schema)

    def session_rows(self) -> SessionRows:
        return PostgresSessionRows(self.conninfo, self.schema)
