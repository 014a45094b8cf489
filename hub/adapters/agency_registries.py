"""Where the agency register is kept: a SQLite file (embedded default) or a table in the hub's
PostgreSQL schema. Registering an agency again with the same details changes nothing;
re-registering it with other details replaces its record. The name and contact were added later:
a store made before them gains the two (nullable) columns when it is opened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hub.adapters.sql import PostgresSchema, SqliteFile
from hub.domain.agency_records import AgencyRecord, OnboardingError


class AgencyRegistry(Protocol):
    def register(self, record: AgencyRecord) -> bool:
        """Record the agency; False if it was already registered with these details."""
        ...

    def all(self) -> list[AgencyRecord]: ...


_COLUMNS = "agency_id, agency_type, adapter, topic, principal, registered_at, name, contact"
_ADDED = ("name", "contact")  # columns later than the first table: added to an older store


class SqliteAgencyRegistry:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        self._file.db().execute(
            "CREATE TABLE IF NOT EXISTS agencies (agency_id TEXT PRIMARY KEY, agency_type TEXT, "
            "adapter TEXT, topic TEXT, principal TEXT, registered_at TEXT, name TEXT, "
            "contact TEXT)"
        )
        with self._file.transaction() as db:
            held = {row[1] for row in db.execute("PRAGMA table_info(agencies)")}
            for column in _ADDED:
                if column not in held:
                    db.execute(f"ALTER TABLE agencies ADD COLUMN {column} TEXT")

    def register(self, record: AgencyRecord) -> bool:
        with self._file.transaction() as db:
            existing = db.execute(
                f"SELECT {_COLUMNS} FROM agencies WHERE agency_id = ?",  # noqa: S608
                (record.agency_id,),
            ).fetchone()
            return _upsert(existing, record, lambda: _sqlite_write(db, record))

    def all(self) -> list[AgencyRecord]:
        rows = self._file.db().execute(f"SELECT {_COLUMNS} FROM agencies ORDER BY agency_id")  # noqa: S608
        return [AgencyRecord(*row) for row in rows]


def _sqlite_write(db: Any, record: AgencyRecord) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO agencies ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        tuple(vars(record).values()),
    )


def _upsert(existing: Any, record: AgencyRecord, write: Any) -> bool:
    if existing is not None:
        held = AgencyRecord(*existing)
        if (held.agency_type, held.adapter, held.name, held.contact) == (
            record.agency_type,
            record.adapter,
            record.name,
            record.contact,
        ):
            return False  # registering again re-provisions Kafka; the record stands
        if held.agency_type != record.agency_type:
            raise OnboardingError(
                f"agency {record.agency_id} is registered as {held.agency_type}, "
                f"not {record.agency_type}"
            )
    write()  # new, or a change of adapter, name or contact
    return True


class PostgresAgencyRegistry:
    def __init__(self, conninfo: str, schema: str) -> None:
        self._schema = PostgresSchema(conninfo, schema)
        self._schema.create(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_agencies (agency_id text PRIMARY KEY, '
                    "agency_type text, adapter text, topic text, principal text, "
                    "registered_at text, name text, contact text)",
                    (),
                ),
                *(
                    (
                        f'ALTER TABLE "{{s}}".hub_agencies ADD COLUMN IF NOT EXISTS {column} text',
                        (),
                    )
                    for column in _ADDED
                ),
            ]
        )

    def register(self, record: AgencyRecord) -> bool:
        with self._schema.transaction() as cursor:
            cursor.execute(
                self._schema.sql(
                    f'SELECT {_COLUMNS} FROM "{{s}}".hub_agencies WHERE agency_id = %s FOR UPDATE'  # noqa: S608
                ),
                (record.agency_id,),
            )
            existing = cursor.fetchone()

            def write() -> None:
                cursor.execute(
                    self._schema.sql(
                        f'INSERT INTO "{{s}}".hub_agencies ({_COLUMNS}) '  # noqa: S608
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (agency_id) DO UPDATE SET adapter = excluded.adapter, "
                        "name = excluded.name, contact = excluded.contact"
                    ),
                    tuple(vars(record).values()),
                )

            return _upsert(existing, record, write)

    def all(self) -> list[AgencyRecord]:
        rows = self._schema.run(
            [(f'SELECT {_COLUMNS} FROM "{{s}}".hub_agencies ORDER BY agency_id', ())]  # noqa: S608
        )
        return [AgencyRecord(*row) for row in rows]


class CachedAgencyRegistry:
    """The register as the API, pages and consumers read it on every chronology, notice and
    header: read at most once per `ttl` (it changes only when an operator registers an agency),
    so a busy API neither queries it per request nor holds a database connection for it in
    every worker thread. A registration made through this object is seen at once; one made by
    another process within `ttl`. Ingest reads the register itself, never through a cache."""

    def __init__(
        self,
        inner: AgencyRegistry,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._records: list[AgencyRecord] = []
        self._expires = float("-inf")

    def register(self, record: AgencyRecord) -> bool:
        changed = self._inner.register(record)
        with self._lock:
            self._expires = float("-inf")
        return changed

    def all(self) -> list[AgencyRecord]:
        with self._lock:
            if self._clock() >= self._expires:
                self._records = self._inner.all()
                self._expires = self._clock() + self._ttl
            return list(self._records)
