"""Agency onboarding: an agency's topic, its Kafka principal, and the hub's record of the agency
(its credential and ACLs are made on the broker by `hub.transports.kafka_provisioning`).

Two guards keep an agency to its own topic:
- on the broker, ACLs: principal `User:agency-<id>` may WRITE and DESCRIBE the literal topic
  `hub.events.<id>` only (the broker runs with `allow.everyone.if.no.acl.found=false`);
- in the hub, ingest takes the publishing agency from the topic a message arrived on and
  quarantines an event that claims another agency (`wrong-agency`), so even a broker
  without an authorizer cannot be used to publish as someone else.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hub.adapters.sql import PostgresSchema, SqliteFile
from hub.domain.taxonomy import AgencyType

TOPIC_PREFIX = "hub.events."  # an agency's channel on Kafka: hub.events.<agency id>
AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")  # as the canonical event's agency.id
CANONICAL_ADAPTER = "canonical"  # the agency publishes canonical events itself


class OnboardingError(ValueError):
    """The registration is not valid; the message says what to change."""


@dataclass(frozen=True)
class AgencyRecord:
    agency_id: str
    agency_type: str
    adapter: str
    topic: str
    principal: str
    registered_at: str


def agency_topic(agency_id: str) -> str:
    return f"{TOPIC_PREFIX}{agency_id}"


def principal_name(agency_id: str) -> str:
    return f"agency-{agency_id}"


def new_agency(agency_id: str, agency_type: str, adapter: str, at: datetime) -> AgencyRecord:
    """Check a registration and build its record (no I/O)."""
    from hub.adapters.agencies.registry import ADAPTERS

    if not AGENCY_ID.match(agency_id):
        raise OnboardingError(
            f"agency id {agency_id!r} must be 2-63 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    types = [t.value for t in AgencyType]
    if agency_type not in types:
        raise OnboardingError(f"agency type {agency_type!r} is not one of {', '.join(types)}")
    if adapter != CANONICAL_ADAPTER:
        if adapter not in ADAPTERS:
            known = ", ".join([*sorted(ADAPTERS), CANONICAL_ADAPTER])
            raise OnboardingError(f"unknown adapter {adapter!r}; valid adapters are: {known}")
        if ADAPTERS[adapter].agency_type != agency_type:
            raise OnboardingError(
                f"adapter {adapter!r} reads {ADAPTERS[adapter].agency_type} exports, "
                f"not {agency_type}"
            )
    return AgencyRecord(
        agency_id=agency_id,
        agency_type=agency_type,
        adapter=adapter,
        topic=agency_topic(agency_id),
        principal=principal_name(agency_id),
        registered_at=at.astimezone(UTC).isoformat(),
    )


class AgencyRegistry(Protocol):
    def register(self, record: AgencyRecord) -> bool:
        """Record the agency; False if it was already registered with these details."""
        ...

    def all(self) -> list[AgencyRecord]: ...


class RegisteredAgencies:
    """The agency register as ingest reads it, on every transport and in every mode: which
    type each agency is registered as. Read once and kept; read again when an agency is not
    found (one registered since), so a registration takes effect at once. Registrations are
    never removed or retyped (`register` refuses a change of type), so a kept entry stays true.
    """

    def __init__(self, registry: AgencyRegistry) -> None:
        self._registry = registry
        self._types: dict[str, AgencyType] = {}
        self._lock = threading.Lock()

    def registered_type(self, agency_id: str) -> AgencyType | None:
        found = self._types.get(agency_id)
        if found is None:
            with self._lock:
                self._types = {
                    record.agency_id: AgencyType(record.agency_type)
                    for record in self._registry.all()
                }
            found = self._types.get(agency_id)
        return found


_COLUMNS = "agency_id, agency_type, adapter, topic, principal, registered_at"


class SqliteAgencyRegistry:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        self._file.db().execute(
            "CREATE TABLE IF NOT EXISTS agencies (agency_id TEXT PRIMARY KEY, agency_type TEXT, "
            "adapter TEXT, topic TEXT, principal TEXT, registered_at TEXT)"
        )

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
        "INSERT OR REPLACE INTO agencies VALUES (?, ?, ?, ?, ?, ?)",
        tuple(vars(record).values()),
    )


def _upsert(existing: Any, record: AgencyRecord, write: Any) -> bool:
    if existing is not None:
        held = AgencyRecord(*existing)
        if (held.agency_type, held.adapter) == (record.agency_type, record.adapter):
            return False  # registering again re-provisions Kafka; the record stands
        if held.agency_type != record.agency_type:
            raise OnboardingError(
                f"agency {record.agency_id} is registered as {held.agency_type}, "
                f"not {record.agency_type}"
            )
    write()  # new, or a change of adapter
    return True


class PostgresAgencyRegistry:
    def __init__(self, conninfo: str, schema: str) -> None:
        self._schema = PostgresSchema(conninfo, schema)
        self._schema.create(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_agencies (agency_id text PRIMARY KEY, '
                    "agency_type text, adapter text, topic text, principal text, "
                    "registered_at text)",
                    (),
                )
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
                        'INSERT INTO "{s}".hub_agencies VALUES (%s, %s, %s, %s, %s, %s) '
                        "ON CONFLICT (agency_id) DO UPDATE SET adapter = excluded.adapter"
                    ),
                    tuple(vars(record).values()),
                )

            return _upsert(existing, record, write)

    def all(self) -> list[AgencyRecord]:
        rows = self._schema.run(
            [(f'SELECT {_COLUMNS} FROM "{{s}}".hub_agencies ORDER BY agency_id', ())]  # noqa: S608
        )
        return [AgencyRecord(*row) for row in rows]
